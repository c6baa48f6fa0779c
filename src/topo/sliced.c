/* Sliced Wasserstein distance between persistence diagrams and its kernel (Carriere, Cuturi,
 * Oudot, ICML 2017; METHOD.md section 3): project both diagonal-augmented diagrams onto M evenly
 * spaced lines, sort, take the L1 distance, average over the lines. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cgalr/topo.h"

#define FN "cgalr_topo_sliced_wasserstein"
#define MAX_DIRS 1000000

static cgalr_status_t check_diagram(const cgalr_diagram_t *d, const char *name)
{
    if (!d)
        return cgalr_fail(CGALR_EINVAL, FN ": diagram %s is NULL", name);
    if (d->n > 0 && !d->pairs)
        return cgalr_fail(CGALR_EINVAL, FN ": diagram %s has n = %zu but pairs = NULL", name, d->n);
    for (size_t i = 0; i < d->n; i++) {
        double b = d->pairs[i].birth, e = d->pairs[i].death;
        if (!isfinite(b))
            return cgalr_fail(CGALR_ENONFINITE, FN ": diagram %s, point %zu: birth = %g, expected a finite number",
                              name, i, b);
        if (isnan(e))
            return cgalr_fail(CGALR_ENONFINITE, FN ": diagram %s, point %zu: death is NaN", name, i);
        if (b > e)
            return cgalr_fail(CGALR_EINVAL, FN ": diagram %s, point %zu: birth %.17g > death %.17g, expected birth <= death",
                              name, i, b, e);
        if (isinf(e))
            return cgalr_fail(CGALR_EINVAL, FN ": diagram %s, point %zu: death = inf; essential points are not supported",
                              name, i);
    }
    return CGALR_OK;
}

/* In-place ascending sort of doubles (no NaN here): quicksort with median-of-three pivots and
 * insertion sort for short runs; recursion only on the smaller side, so the stack stays O(log n). */
static void sort_doubles(double *x, size_t n)
{
    while (n > 24) {
        size_t mid = n / 2, last = n - 1;
        if (x[mid] < x[0]) { double t = x[mid]; x[mid] = x[0]; x[0] = t; }
        if (x[last] < x[0]) { double t = x[last]; x[last] = x[0]; x[0] = t; }
        if (x[last] < x[mid]) { double t = x[last]; x[last] = x[mid]; x[mid] = t; }
        double pivot = x[mid];
        size_t i = 0, j = last;
        for (;;) {
            while (x[i] < pivot)
                i++;
            while (pivot < x[j])
                j--;
            if (i >= j)
                break;
            double t = x[i];
            x[i] = x[j];
            x[j] = t;
            i++;
            j--;
        }
        /* [0, j] <= pivot <= [j + 1, n) */
        size_t left = j + 1, right = n - left;
        if (left < right) {
            sort_doubles(x, left);
            x += left;
            n = right;
        } else {
            sort_doubles(x + left, right);
            n = left;
        }
    }
    for (size_t i = 1; i < n; i++) {
        double t = x[i];
        size_t j = i;
        while (j > 0 && x[j - 1] > t) {
            x[j] = x[j - 1];
            j--;
        }
        x[j] = t;
    }
}

/* Fills p[0..na+nb): a's points projected on (c, s), then b's points' diagonal projections. */
static void project(const cgalr_diagram_t *a, const cgalr_diagram_t *b, double c, double s, double *p)
{
    for (size_t i = 0; i < a->n; i++)
        p[i] = a->pairs[i].birth * c + a->pairs[i].death * s;
    for (size_t i = 0; i < b->n; i++) {
        double m = 0.5 * (b->pairs[i].birth + b->pairs[i].death);
        p[a->n + i] = m * c + m * s;
    }
}

cgalr_status_t cgalr_topo_sliced_wasserstein(const cgalr_diagram_t *a, const cgalr_diagram_t *b, int n_dirs,
                                             double *out)
{
    if (!out)
        return cgalr_fail(CGALR_EINVAL, FN ": out is NULL");
    cgalr_status_t st = check_diagram(a, "a");
    if (st != CGALR_OK)
        return st;
    st = check_diagram(b, "b");
    if (st != CGALR_OK)
        return st;
    if (n_dirs < 1 || n_dirs > MAX_DIRS)
        return cgalr_fail(CGALR_EINVAL, FN ": n_dirs = %d, expected 1..%d", n_dirs, MAX_DIRS);
    size_t len = a->n + b->n;
    if (len == 0) {
        *out = 0.0;
        return CGALR_OK;
    }
    double *pa = malloc(2 * len * sizeof *pa);
    if (!pa)
        return cgalr_fail(CGALR_ENOMEM, FN ": out of memory for %zu projections", 2 * len);
    double *pb = pa + len;
    const double pi = 3.14159265358979323846;
    double total = 0.0;
    for (int k = 0; k < n_dirs; k++) {
        double theta = -pi / 2 + k * (pi / n_dirs);
        double c = cos(theta), s = sin(theta);
        project(a, b, c, s, pa);
        project(b, a, c, s, pb);
        sort_doubles(pa, len);
        sort_doubles(pb, len);
        double l1 = 0.0;
        for (size_t i = 0; i < len; i++)
            l1 += fabs(pa[i] - pb[i]);
        total += l1;
    }
    free(pa);
    *out = total / n_dirs;
    return CGALR_OK;
}

double cgalr_topo_swk_kernel(double sw, double sigma)
{
    if (!(sigma > 0.0) || !isfinite(sigma) || isnan(sw))
        return NAN;
    return exp(-sw / (2.0 * sigma * sigma));
}
