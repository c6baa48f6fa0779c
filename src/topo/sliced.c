/* Sliced Wasserstein distance between persistence diagrams and its kernel (Carriere, Cuturi,
 * Oudot, ICML 2017; METHOD.md section 3): project both diagonal-augmented diagrams onto M evenly
 * spaced lines, sort, take the L1 distance, average over the lines. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cgalr/topo.h"
#include "topo/topo_internal.h"

#define FN "cgalr_topo_sliced_wasserstein"
#define MAX_DIRS 1000000

/* A projected value and the point it came from. */
typedef struct proj {
    double v;
    size_t i;
} proj_t;

static void swap_proj(proj_t *x, size_t i, size_t j)
{
    proj_t t = x[i];
    x[i] = x[j];
    x[j] = t;
}

/* Insertion sort by v, giving up (0) once more than budget elements have moved in all; 1 when
 * sorted. Linear in n plus the moves, so it is the sort for short or nearly sorted runs. */
static int insertion_sort(proj_t *x, size_t n, size_t budget)
{
    for (size_t i = 1; i < n; i++) {
        proj_t t = x[i];
        size_t j = i;
        while (j > 0 && x[j - 1].v > t.v) {
            x[j] = x[j - 1];
            j--;
        }
        x[j] = t;
        if (i - j > budget)
            return 0;
        budget -= i - j;
    }
    return 1;
}

/* In-place ascending sort by v (no NaN here): quicksort with median-of-three pivots and
 * insertion sort for short runs; recursion only on the smaller side, so the stack stays O(log n). */
static void sort_proj(proj_t *x, size_t n)
{
    while (n > 24) {
        size_t mid = n / 2, last = n - 1;
        if (x[mid].v < x[0].v)
            swap_proj(x, mid, 0);
        if (x[last].v < x[0].v)
            swap_proj(x, last, 0);
        if (x[last].v < x[mid].v)
            swap_proj(x, last, mid);
        double pivot = x[mid].v;
        size_t i = 0, j = last;
        for (;;) {
            while (x[i].v < pivot)
                i++;
            while (pivot < x[j].v)
                j--;
            if (i >= j)
                break;
            swap_proj(x, i, j);
            i++;
            j--;
        }
        /* [0, j] <= pivot <= [j + 1, n) */
        size_t left = j + 1, right = n - left;
        if (left < right) {
            sort_proj(x, left);
            x += left;
            n = right;
        } else {
            sort_proj(x + left, right);
            n = left;
        }
    }
    insertion_sort(x, n, SIZE_MAX);
}

/* Re-sorts x after its values moved a little: insertion sort is linear in n plus the number of
 * order changes, which are few between neighbouring directions; past a budget of moves (large
 * angle steps) it hands over to the quicksort. */
static void resort(proj_t *x, size_t n)
{
    if (!insertion_sort(x, n, 4 * n + 64))
        sort_proj(x, n);
}

/* out = the merge of x (ascending, nx values) with mid[k] * g for the ascending mid[0..nm):
 * ascending when g >= 0, read backwards when g < 0. */
static void merge_scaled(const proj_t *x, size_t nx, const proj_t *mid, size_t nm, double g, double *out)
{
    size_t i = 0, k = 0, o = 0;
    if (g >= 0) {
        while (i < nx && k < nm) {
            double y = mid[k].v * g;
            if (x[i].v <= y)
                out[o++] = x[i++].v;
            else {
                out[o++] = y;
                k++;
            }
        }
        while (k < nm)
            out[o++] = mid[k++].v * g;
    } else {
        while (i < nx && k < nm) {
            double y = mid[nm - 1 - k].v * g;
            if (x[i].v <= y)
                out[o++] = x[i++].v;
            else {
                out[o++] = y;
                k++;
            }
        }
        while (k < nm) {
            out[o++] = mid[nm - 1 - k].v * g;
            k++;
        }
    }
    while (i < nx)
        out[o++] = x[i++].v;
}

static void project(const cgalr_diagram_t *d, double c, double s, proj_t *ord)
{
    for (size_t t = 0; t < d->n; t++) {
        const cgalr_pair_t *p = &d->pairs[ord[t].i];
        ord[t].v = p->birth * c + p->death * s;
    }
    resort(ord, d->n);
}

cgalr_status_t cgalr_topo_sliced_wasserstein(const cgalr_diagram_t *a, const cgalr_diagram_t *b, int n_dirs,
                                             double *out)
{
    if (!out)
        return cgalr_fail(CGALR_EINVAL, FN ": out is NULL");
    cgalr_status_t st = topo_diagram_check(a, FN, "a", NULL);
    if (st != CGALR_OK)
        return st;
    st = topo_diagram_check(b, FN, "b", NULL);
    if (st != CGALR_OK)
        return st;
    if (n_dirs < 1 || n_dirs > MAX_DIRS)
        return cgalr_fail(CGALR_EINVAL, FN ": n_dirs = %d, expected 1..%d", n_dirs, MAX_DIRS);
    size_t len = a->n + b->n;
    if (len == 0) {
        *out = 0.0;
        return CGALR_OK;
    }
    /* The diagonal projections pi(p) project to mid(p) (cos t + sin t): their order is that of
     * the midpoints (reversed when cos t + sin t < 0), so they are sorted once; each direction
     * re-sorts only the diagrams' own points, starting from the previous direction's order, and
     * merges. */
    size_t na = a->n, nb = b->n;
    proj_t *pr = malloc(2 * len * sizeof *pr);
    double *aug = malloc(2 * len * sizeof *aug);
    if (!pr || !aug) {
        free(pr);
        free(aug);
        return cgalr_fail(CGALR_ENOMEM, FN ": out of memory for %zu projections", 4 * len);
    }
    proj_t *mid_a = pr, *mid_b = pr + na, *ord_a = pr + len, *ord_b = pr + len + na;
    double *aug_a = aug, *aug_b = aug + len;
    for (size_t i = 0; i < na; i++) {
        mid_a[i].v = 0.5 * (a->pairs[i].birth + a->pairs[i].death);
        mid_a[i].i = ord_a[i].i = i;
    }
    for (size_t i = 0; i < nb; i++) {
        mid_b[i].v = 0.5 * (b->pairs[i].birth + b->pairs[i].death);
        mid_b[i].i = ord_b[i].i = i;
    }
    sort_proj(mid_a, na);
    sort_proj(mid_b, nb);
    const double pi = 3.14159265358979323846;
    double total = 0.0;
    for (int k = 0; k < n_dirs; k++) {
        double theta = -pi / 2 + k * (pi / n_dirs);
        double c = cos(theta), s = sin(theta), g = c + s;
        project(a, c, s, ord_a);
        project(b, c, s, ord_b);
        merge_scaled(ord_a, na, mid_b, nb, g, aug_a);
        merge_scaled(ord_b, nb, mid_a, na, g, aug_b);
        double l1 = 0.0;
        for (size_t i = 0; i < len; i++)
            l1 += fabs(aug_a[i] - aug_b[i]);
        total += l1;
    }
    free(pr);
    free(aug);
    *out = total / n_dirs;
    return CGALR_OK;
}

double cgalr_topo_swk_kernel(double sw, double sigma)
{
    if (!(sigma > 0.0) || !isfinite(sigma) || isnan(sw))
        return NAN;
    return exp(-sw / (2.0 * sigma * sigma));
}
