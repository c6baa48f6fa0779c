/* Graph-filtration barcode of a connectome (births = maximum-spanning-tree weights, deaths = every
 * other edge weight, both ascending) and TOP between two barcodes (METHOD.md section 3). */
#include <assert.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cgalr/topo.h"

/* A connectome read back from text or built elsewhere may carry rounding asymmetry; beyond this it
 * is not a connectome. Within it, the upper triangle is what counts. */
#define SYM_TOL 1e-9
#define TILE 64
#define RADIX_BITS 11
#define RADIX_SIZE (1u << RADIX_BITS)
#define RADIX_PASSES 6 /* 6 * 11 >= 64 */

static int cmp_double(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

/* LSD radix sort of non-negative doubles (no -0.0, no NaN): their IEEE bit patterns order like the
 * unsigned integers, so six 11-bit passes sort n values in O(n); a pass whose digit is the same for
 * every key is skipped (the top bits of values in [0, 1] mostly agree). tmp holds n doubles. */
static void radix_sort_nonneg(double *a, double *tmp, size_t n)
{
    if (n < 64) {
        for (size_t i = 1; i < n; i++) { /* insertion sort: cheaper than six histograms */
            double v = a[i];
            size_t j = i;
            while (j > 0 && a[j - 1] > v) {
                a[j] = a[j - 1];
                j--;
            }
            a[j] = v;
        }
        return;
    }
    static_assert(sizeof(double) == sizeof(uint64_t), "IEEE binary64 expected");
    size_t (*hist)[RADIX_SIZE] = calloc(RADIX_PASSES, sizeof *hist);
    if (!hist) { /* out of memory for 96 KiB: fall back to the library sort */
        qsort(a, n, sizeof *a, cmp_double);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        uint64_t k;
        memcpy(&k, &a[i], sizeof k);
        for (int d = 0; d < RADIX_PASSES; d++)
            hist[d][(k >> (d * RADIX_BITS)) & (RADIX_SIZE - 1)]++;
    }
    double *src = a, *dst = tmp;
    for (int d = 0; d < RADIX_PASSES; d++) {
        size_t *h = hist[d];
        int trivial = 0;
        for (size_t b = 0; b < RADIX_SIZE; b++)
            if (h[b] == n) {
                trivial = 1;
                break;
            }
        if (trivial)
            continue;
        size_t off = 0;
        for (size_t b = 0; b < RADIX_SIZE; b++) {
            size_t c = h[b];
            h[b] = off;
            off += c;
        }
        int shift = d * RADIX_BITS;
        for (size_t i = 0; i < n; i++) {
            uint64_t k;
            memcpy(&k, &src[i], sizeof k);
            dst[h[(k >> shift) & (RADIX_SIZE - 1)]++] = src[i];
        }
        double *t = src;
        src = dst;
        dst = t;
    }
    if (src != a)
        memcpy(a, src, n * sizeof *a);
    free(hist);
}

void cgalr_barcode_free(cgalr_barcode_t *b)
{
    if (!b)
        return;
    free(b->births);
    free(b->deaths);
    memset(b, 0, sizeof *b);
}

/* Checks a connectome: finite, in [0, 1], symmetric within SYM_TOL. Tile by tile so the transposed
 * read stays in cache. *exact is cleared when some pair differs (within tolerance). */
static cgalr_status_t validate(const double *m, size_t p, int *exact)
{
    *exact = 1;
    for (size_t bi = 0; bi < p; bi += TILE)
        for (size_t bj = bi; bj < p; bj += TILE) {
            size_t ie = bi + TILE < p ? bi + TILE : p;
            size_t je = bj + TILE < p ? bj + TILE : p;
            for (size_t i = bi; i < ie; i++)
                for (size_t j = (bj > i + 1 ? bj : i + 1); j < je; j++) {
                    double a = m[i * p + j], b = m[j * p + i];
                    /* written so that NaN fails every test */
                    if (!(a >= 0.0 && a <= 1.0))
                        return cgalr_fail(isfinite(a) ? CGALR_EINVAL : CGALR_ENONFINITE,
                                          "connectome: entry (%zu, %zu) = %.17g; expected a "
                                          "finite value in [0, 1]", i, j, a);
                    if (!(b >= 0.0 && b <= 1.0))
                        return cgalr_fail(isfinite(b) ? CGALR_EINVAL : CGALR_ENONFINITE,
                                          "connectome: entry (%zu, %zu) = %.17g; expected a "
                                          "finite value in [0, 1]", j, i, b);
                    if (a != b) {
                        if (fabs(a - b) > SYM_TOL)
                            return cgalr_fail(CGALR_EINVAL,
                                              "connectome: not symmetric: (%zu, %zu) = %.17g but "
                                              "(%zu, %zu) = %.17g", i, j, a, j, i, b);
                        *exact = 0;
                    }
                }
        }
    return CGALR_OK;
}

cgalr_status_t cgalr_topo_barcode(const double *m, size_t p, cgalr_barcode_t *out)
{
    if (!out)
        return cgalr_fail(CGALR_EINVAL, "barcode: NULL output");
    memset(out, 0, sizeof *out);
    if (!m)
        return cgalr_fail(CGALR_EINVAL, "barcode: NULL connectome");
    if (p < 2)
        return cgalr_fail(CGALR_EINVAL, "barcode: p = %zu signals; expected at least 2", p);
    if (p > ((size_t)1 << 31) || p * p > SIZE_MAX / sizeof(double))
        return cgalr_fail(CGALR_EINVAL, "barcode: p = %zu is too large", p);
    int exact;
    cgalr_status_t st = validate(m, p, &exact);
    if (st != CGALR_OK)
        return st;

    size_t nb = p - 1, nd = (p - 1) * (p - 2) / 2;
    double *sym = NULL;
    double *births = malloc(nb * sizeof *births);
    double *deaths = malloc((nd ? nd : 1) * sizeof *deaths);
    double *key = malloc(p * sizeof *key);
    size_t *parent = malloc(p * sizeof *parent);
    size_t *rest = malloc(p * sizeof *rest);
    double *tmp = malloc((nd > p ? nd : p) * sizeof *tmp);
    if (!exact)
        sym = malloc(p * p * sizeof *sym);
    if (!births || !deaths || !key || !parent || !rest || !tmp || (!exact && !sym)) {
        st = cgalr_fail(CGALR_ENOMEM, "barcode: out of memory for p = %zu", p);
        goto done;
    }
    const double *w = m;
    if (!exact) { /* near-symmetric input: work on its upper triangle mirrored */
        for (size_t i = 0; i < p; i++)
            for (size_t j = i; j < p; j++)
                sym[i * p + j] = sym[j * p + i] = m[i * p + j];
        w = sym;
    }

    /* Prim for the MAXIMUM spanning tree on the dense graph: `rest` lists the vertices not yet in
     * the tree (swap-removed), key[v] is v's heaviest edge into the tree, parent[v] its end. */
    for (size_t v = 0; v < p; v++) {
        rest[v] = v;
        key[v] = w[v]; /* row 0 */
        parent[v] = 0;
    }
    parent[0] = SIZE_MAX;
    size_t nrest = p - 1;
    rest[0] = rest[p - 1];
    for (size_t k = 0; k < nb; k++) {
        size_t best = 0;
        double bk = key[rest[0]];
        for (size_t r = 1; r < nrest; r++)
            if (key[rest[r]] > bk) {
                bk = key[rest[r]];
                best = r;
            }
        size_t u = rest[best];
        births[k] = bk + 0.0; /* + 0.0 turns -0.0 into +0.0 for the radix sort */
        rest[best] = rest[--nrest];
        const double *row = w + u * p;
        for (size_t r = 0; r < nrest; r++) {
            size_t v = rest[r];
            if (row[v] > key[v]) {
                key[v] = row[v];
                parent[v] = u;
            }
        }
    }

    /* Deaths: every upper-triangle edge that is not (v, parent[v]). */
    size_t c = 0;
    for (size_t i = 0; i < p; i++) {
        const double *row = w + i * p;
        size_t pi = parent[i];
        for (size_t j = i + 1; j < p; j++)
            if (parent[j] != i && pi != j)
                deaths[c++] = row[j] + 0.0;
    }
    if (c != nd) {
        st = cgalr_fail(CGALR_EINTERNAL, "barcode: %zu non-tree edges, expected %zu", c, nd);
        goto done;
    }
    radix_sort_nonneg(births, tmp, nb);
    radix_sort_nonneg(deaths, tmp, nd);
    out->p = p;
    out->n_births = nb;
    out->n_deaths = nd;
    out->births = births;
    out->deaths = deaths;
    births = deaths = NULL;
done:
    free(births);
    free(deaths);
    free(key);
    free(parent);
    free(rest);
    free(tmp);
    free(sym);
    return st;
}

/* Sum of squared differences with four partial sums: order-independent enough for 1e-9 relative,
 * and it lets the compiler keep several additions in flight. */
static double sq_diff(const double *a, const double *b, size_t n)
{
    double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        double d0 = a[i] - b[i], d1 = a[i + 1] - b[i + 1];
        double d2 = a[i + 2] - b[i + 2], d3 = a[i + 3] - b[i + 3];
        s0 += d0 * d0;
        s1 += d1 * d1;
        s2 += d2 * d2;
        s3 += d3 * d3;
    }
    for (; i < n; i++) {
        double d = a[i] - b[i];
        s0 += d * d;
    }
    return (s0 + s1) + (s2 + s3);
}

static cgalr_status_t check_barcode(const cgalr_barcode_t *b, const char *name)
{
    if (!b)
        return cgalr_fail(CGALR_EINVAL, "TOP: NULL barcode %s", name);
    if (b->p < 2 || b->n_births != b->p - 1 || b->n_deaths != (b->p - 1) * (b->p - 2) / 2 ||
        !b->births || (b->n_deaths > 0 && !b->deaths))
        return cgalr_fail(CGALR_EINVAL,
                          "TOP: barcode %s is empty or inconsistent (p = %zu, %zu births, %zu "
                          "deaths); expected p >= 2, p - 1 births, (p - 1)(p - 2)/2 deaths",
                          name, b->p, b->n_births, b->n_deaths);
    return CGALR_OK;
}

cgalr_status_t cgalr_topo_top(const cgalr_barcode_t *a, const cgalr_barcode_t *b, double *out)
{
    if (!out)
        return cgalr_fail(CGALR_EINVAL, "TOP: NULL output");
    cgalr_status_t st = check_barcode(a, "a");
    if (st == CGALR_OK)
        st = check_barcode(b, "b");
    if (st != CGALR_OK)
        return st;
    if (a->p != b->p)
        return cgalr_fail(CGALR_EINVAL, "TOP: barcodes of p = %zu and p = %zu; expected the same p",
                          a->p, b->p);
    *out = sq_diff(a->births, b->births, a->n_births) + sq_diff(a->deaths, b->deaths, a->n_deaths);
    return CGALR_OK;
}
