/* Graph-filtration barcode of a connectome (births = maximum-spanning-tree weights, deaths = every
 * other edge weight, both ascending) and TOP between two barcodes (METHOD.md section 3). */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cgalr/topo.h"
#include "core/sort.h"

/* A connectome read back from text or built elsewhere may carry rounding asymmetry; beyond this it
 * is not a connectome. Within it, the upper triangle is what counts. */
#define SYM_TOL 1e-9
#define TILE 64

static uint64_t key_of(double v)
{
    uint64_t k;
    memcpy(&k, &v, sizeof k);
    return k;
}

#define DIGIT_BITS 11
#define DIGITS 3
#define DIGIT_MASK ((1u << DIGIT_BITS) - 1)
#define LOW_BITS (64 - DIGIT_BITS * DIGITS) /* low bits left to the final insertion pass */

/* Sorts non-negative doubles (no -0.0, no NaN), whose IEEE bit patterns order like unsigned
 * integers. LSD radix on the top 33 bits (three 11-bit passes; a pass whose digit every key shares
 * is skipped) leaves only keys that agree in sign, exponent and 21 mantissa bits out of order, so
 * one insertion pass finishes the job in about linear time. Half the passes of a full 64-bit radix:
 * measured about 1.6x faster on 130k correlation weights. Inputs crowded within a relative 2^-21
 * would make the insertion pass quadratic, so it gives up after a budget of moves and qsort
 * (linearithmic on any input) takes over. tmp holds n doubles. */
static void sort_nonneg(double *a, double *tmp, size_t n)
{
    if (n >= 64) {
        size_t hist[DIGITS][1u << DIGIT_BITS];
        memset(hist, 0, sizeof hist);
        for (size_t i = 0; i < n; i++) {
            uint64_t k = key_of(a[i]) >> LOW_BITS;
            for (int d = 0; d < DIGITS; d++)
                hist[d][(k >> (d * DIGIT_BITS)) & DIGIT_MASK]++;
        }
        double *src = a, *dst = tmp;
        for (int d = 0; d < DIGITS; d++) {
            size_t *h = hist[d], off = 0;
            int shift = LOW_BITS + d * DIGIT_BITS, trivial = 0;
            for (size_t b = 0; b < (1u << DIGIT_BITS); b++) {
                size_t c = h[b];
                trivial |= c == n;
                h[b] = off;
                off += c;
            }
            if (trivial)
                continue;
            for (size_t i = 0; i < n; i++)
                dst[h[(key_of(src[i]) >> shift) & DIGIT_MASK]++] = src[i];
            double *t = src;
            src = dst;
            dst = t;
        }
        if (src != a)
            memcpy(a, src, n * sizeof *a);
    }
    core_sort_f64(a, n);
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
    double *deaths = malloc((nd + nb) * sizeof *deaths); /* every upper-triangle edge */
    double *rk = malloc(p * sizeof *rk);
    size_t *parent = malloc(p * sizeof *parent);
    size_t *rv = malloc(p * sizeof *rv), *rp = malloc(p * sizeof *rp);
    double *tmp = malloc((nd + nb) * sizeof *tmp);
    if (!exact)
        sym = malloc(p * p * sizeof *sym);
    if (!births || !deaths || !rk || !parent || !rv || !rp || !tmp || (!exact && !sym)) {
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

    /* Prim for the MAXIMUM spanning tree on the dense graph. The vertices not yet in the tree are
     * kept compact (swap-removed) with their heaviest edge into the tree (rk) and its other end
     * (rp), so the argmax scans contiguous keys. */
    size_t nrest = p - 1;
    for (size_t r = 0; r < nrest; r++) {
        rv[r] = r + 1;
        rk[r] = w[r + 1]; /* row 0 */
        rp[r] = 0;
    }
    parent[0] = SIZE_MAX;
    for (size_t k = 0; k < nb; k++) {
        size_t best = 0;
        double bk = rk[0];
        for (size_t r = 1; r < nrest; r++)
            if (rk[r] > bk) {
                bk = rk[r];
                best = r;
            }
        size_t u = rv[best];
        parent[u] = rp[best];
        births[k] = bk + 0.0; /* + 0.0 turns -0.0 into +0.0 for the bit-pattern sort */
        nrest--;
        rv[best] = rv[nrest];
        rk[best] = rk[nrest];
        rp[best] = rp[nrest];
        const double *row = w + u * p;
        for (size_t r = 0; r < nrest; r++) {
            double x = row[rv[r]];
            if (x > rk[r]) {
                rk[r] = x;
                rp[r] = u;
            }
        }
    }

    /* Deaths: the whole upper triangle copied row by row (a straight copy vectorises), the p - 1
     * tree edges overwritten with 2.0, which sorts after every weight in [0, 1]; after the sort
     * the first nd values are the deaths. */
    size_t c = 0;
    for (size_t i = 0; i < p; i++) {
        const double *row = w + i * p;
        for (size_t j = i + 1; j < p; j++)
            deaths[c++] = row[j] + 0.0;
    }
    for (size_t v = 1; v < p; v++) {
        size_t i = v < parent[v] ? v : parent[v], j = v < parent[v] ? parent[v] : v;
        /* packed index of (i, j), i < j: rows 0..i-1 hold (p-1) + ... + (p-i) entries */
        deaths[i * (2 * p - i - 1) / 2 + (j - i - 1)] = 2.0;
    }
    sort_nonneg(deaths, tmp, nd + nb);
    if (deaths[nd] != 2.0) { /* fewer than p - 1 marks: two tree edges coincided */
        st = cgalr_fail(CGALR_EINTERNAL, "barcode: the %zu tree edges were not all distinct", nb);
        goto done;
    }
    if (nd > 0) { /* give back the tail that held the tree edges */
        double *shrunk = realloc(deaths, nd * sizeof *deaths);
        if (shrunk)
            deaths = shrunk;
    }
    sort_nonneg(births, tmp, nb);
    out->p = p;
    out->n_births = nb;
    out->n_deaths = nd;
    out->births = births;
    out->deaths = deaths;
    births = deaths = NULL;
done:
    free(births);
    free(deaths);
    free(rk);
    free(parent);
    free(rv);
    free(rp);
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
