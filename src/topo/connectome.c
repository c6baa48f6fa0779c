/* Functional connectome (METHOD.md section 2): |Pearson| between the columns of an N x P activation
 * matrix, dense (centre, one BLAS syrk) or streaming (shifted sums and cross-products per batch). */
#include <cblas.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cgalr/topo.h"

/* Rows centred and multiplied per BLAS call in the streaming form: bounds its scratch memory to
 * CHUNK x p doubles whatever the batch size. */
#define CHUNK 256
/* Tile edge for the cache-friendly mirror of the upper triangle. */
#define TILE 64

static int mul_overflows(size_t a, size_t b)
{
    return a != 0 && b > SIZE_MAX / a;
}

/* Finds the first non-finite entry (row-major order) so the message can name it. */
static cgalr_status_t check_finite_d(const double *a, size_t n, size_t p, size_t row0)
{
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < p; j++)
            if (!isfinite(a[i * p + j]))
                return cgalr_fail(CGALR_ENONFINITE,
                                  "activations: row %zu, column %zu (counting from 0) is %g; "
                                  "expected finite numbers", row0 + i, j, a[i * p + j]);
    return CGALR_OK;
}

static cgalr_status_t check_finite_f(const float *a, size_t n, size_t p, size_t row0)
{
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < p; j++)
            if (!isfinite(a[i * p + j]))
                return cgalr_fail(CGALR_ENONFINITE,
                                  "activations: row %zu, column %zu (counting from 0) is %g; "
                                  "expected finite numbers", row0 + i, j, (double)a[i * p + j]);
    return CGALR_OK;
}

/* c: p x p with the centred cross-products in its upper triangle (diagonal = sums of squares).
 * Rewrites it as |corr| in both triangles with a zero diagonal. A dead signal (constant, or zero
 * centred variance) gets correlation 0: dividing by its ~0 deviation would only amplify rounding. */
static cgalr_status_t finish_corr(double *c, size_t p, const unsigned char *dead)
{
    double *inv = malloc(p * sizeof *inv);
    if (!inv)
        return cgalr_fail(CGALR_ENOMEM, "connectome: out of memory for %zu deviations", p);
    for (size_t i = 0; i < p; i++) {
        double d = c[i * p + i];
        if (!dead[i] && !isfinite(d)) { /* finite inputs near 1e154 can still overflow a square */
            free(inv);
            return cgalr_fail(CGALR_ENONFINITE, "connectome: column %zu: its sum of squared deviations "
                              "overflows a double; expected activations below about 1e150", i);
        }
        inv[i] = (dead[i] || !(d > 0.0)) ? 0.0 : 1.0 / sqrt(d);
    }
    for (size_t i = 0; i < p; i++) {
        double *row = c + i * p;
        double si = inv[i];
        row[i] = 0.0;
        for (size_t j = i + 1; j < p; j++) {
            double v = fabs(row[j]) * si * inv[j];
            row[j] = v > 1.0 ? 1.0 : v;
        }
    }
    /* Mirror tile by tile so both the read and the write stay in cache. */
    for (size_t bi = 0; bi < p; bi += TILE)
        for (size_t bj = bi; bj < p; bj += TILE) {
            size_t ie = bi + TILE < p ? bi + TILE : p;
            size_t je = bj + TILE < p ? bj + TILE : p;
            for (size_t i = bi; i < ie; i++)
                for (size_t j = (bj > i + 1 ? bj : i + 1); j < je; j++)
                    c[j * p + i] = c[i * p + j];
        }
    free(inv);
    return CGALR_OK;
}

static cgalr_status_t check_args(const void *act, size_t n, size_t p, const double *out)
{
    if (!act || !out)
        return cgalr_fail(CGALR_EINVAL, "connectome: NULL %s", !act ? "activations" : "output");
    if (p == 0)
        return cgalr_fail(CGALR_EINVAL, "connectome: p = 0 signals; expected at least 1");
    if (n < 2)
        return cgalr_fail(CGALR_EINVAL, "connectome: n = %zu samples; expected at least 2", n);
    if (mul_overflows(n, p) || mul_overflows(p, p) || mul_overflows(n * p, sizeof(double)) ||
        mul_overflows(p * p, sizeof(double)))
        return cgalr_fail(CGALR_EINVAL, "connectome: n = %zu, p = %zu overflow the address space", n, p);
    return CGALR_OK;
}

/* Dense form, shared by both element types (one of ad, af is set). */
static cgalr_status_t connectome_dense(const double *ad, const float *af, size_t n, size_t p,
                                       double *out)
{
    double *x = malloc(n * p * sizeof *x);
    double *mean = calloc(p, sizeof *mean);
    unsigned char *dead = malloc(p);
    if (!x || !mean || !dead) {
        free(x);
        free(mean);
        free(dead);
        return cgalr_fail(CGALR_ENOMEM, "connectome: out of memory for %zu x %zu activations", n, p);
    }
    /* Means and the exact constant-signal test straight from the input, then one pass that writes
     * the centred copy: the input is read twice and the copy written once. */
    memset(dead, 1, p);
    for (size_t i = 0; i < n; i++) {
        if (ad) {
            const double *row = ad + i * p;
            for (size_t j = 0; j < p; j++) {
                mean[j] += row[j];
                dead[j] &= (unsigned char)(row[j] == ad[j]);
            }
        } else {
            const float *row = af + i * p;
            for (size_t j = 0; j < p; j++) {
                mean[j] += (double)row[j];
                dead[j] &= (unsigned char)(row[j] == af[j]);
            }
        }
    }
    /* NaN and Inf reach the sums, so the input is scanned for the culprit only when a sum is not
     * finite (saving a pass over the data in the normal case). */
    for (size_t j = 0; j < p; j++) {
        if (!isfinite(mean[j])) {
            cgalr_status_t st = ad ? check_finite_d(ad, n, p, 0) : check_finite_f(af, n, p, 0);
            if (st == CGALR_OK)
                st = cgalr_fail(CGALR_ENONFINITE, "connectome: column %zu: the sum of its activations "
                                "overflows a double; expected activations below about 1e150", j);
            free(x);
            free(mean);
            free(dead);
            return st;
        }
        mean[j] /= (double)n;
    }
    for (size_t i = 0; i < n; i++) {
        double *row = x + i * p;
        if (ad)
            for (size_t j = 0; j < p; j++)
                row[j] = ad[i * p + j] - mean[j];
        else
            for (size_t j = 0; j < p; j++)
                row[j] = (double)af[i * p + j] - mean[j];
    }
    cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, (int)p, (int)n, 1.0, x, (int)p, 0.0, out,
                (int)p);
    cgalr_status_t st = finish_corr(out, p, dead);
    free(x);
    free(mean);
    free(dead);
    return st;
}

cgalr_status_t cgalr_topo_connectome_d(const double *act, size_t n, size_t p, double *out)
{
    cgalr_status_t st = check_args(act, n, p, out);
    if (st == CGALR_OK && (p > INT32_MAX / 2 || n > INT32_MAX))
        st = cgalr_fail(CGALR_EINVAL, "connectome: n = %zu, p = %zu are beyond BLAS's int sizes", n, p);
    if (st == CGALR_OK)
        st = connectome_dense(act, NULL, n, p, out);
    return st;
}

cgalr_status_t cgalr_topo_connectome_f(const float *act, size_t n, size_t p, double *out)
{
    cgalr_status_t st = check_args(act, n, p, out);
    if (st == CGALR_OK && (p > INT32_MAX / 2 || n > INT32_MAX))
        st = cgalr_fail(CGALR_EINVAL, "connectome: n = %zu, p = %zu are beyond BLAS's int sizes", n, p);
    if (st == CGALR_OK)
        st = connectome_dense(NULL, act, n, p, out);
    return st;
}

/* ---- Streaming accumulator ----------------------------------------------------------------
 * Each chunk of rows is centred on its own means and its cross-products accumulated with syrk;
 * chunks are merged with the pairwise update of Chan, Golub and LeVeque:
 *   C = C_a + C_b + (n_a n_b / n) (m_b - m_a)(m_b - m_a)^T,  m = m_a + (n_b / n)(m_b - m_a).
 * Nothing is ever subtracted from a large sum of squares, so a mean that drifts between batches
 * costs no accuracy, unlike sums of raw or once-shifted values. The rows are first shifted by the
 * first row (exactly representable, the same for every batch): the chunk means are then small
 * numbers known to full relative precision, where means of values near 1e7 would carry absolute
 * errors of ~1e-9 into the merge term at first order. */
struct cgalr_connectome_acc {
    size_t p;
    size_t rows;
    double *mean;  /* p: means of (row - first) so far */
    double *first; /* p: the first row: the shift, and the exact test for constant signals */
    double *cross; /* p x p, upper triangle: centred cross-products of the rows so far */
    double *bmean; /* p: means of the chunk being added */
    double *buf;   /* CHUNK x p scratch */
    unsigned char *dead; /* p: still equal to `first` in every row */
};

cgalr_status_t cgalr_topo_acc_create(size_t p, cgalr_connectome_acc_t **out)
{
    if (!out)
        return cgalr_fail(CGALR_EINVAL, "connectome accumulator: NULL output pointer");
    *out = NULL;
    if (p == 0)
        return cgalr_fail(CGALR_EINVAL, "connectome accumulator: p = 0 signals; expected at least 1");
    if (p > INT32_MAX / 2 || mul_overflows(p, p) || mul_overflows(p * p, sizeof(double)) ||
        mul_overflows(p, CHUNK * sizeof(double)))
        return cgalr_fail(CGALR_EINVAL, "connectome accumulator: p = %zu is too large", p);
    cgalr_connectome_acc_t *a = calloc(1, sizeof *a);
    if (!a)
        return cgalr_fail(CGALR_ENOMEM, "connectome accumulator: out of memory");
    a->p = p;
    a->mean = malloc(p * sizeof(double));
    a->first = malloc(p * sizeof(double));
    a->cross = malloc(p * p * sizeof(double));
    a->bmean = malloc(p * sizeof(double));
    a->buf = malloc((size_t)CHUNK * p * sizeof(double));
    a->dead = malloc(p);
    if (!a->mean || !a->first || !a->cross || !a->bmean || !a->buf || !a->dead) {
        cgalr_topo_acc_free(a);
        return cgalr_fail(CGALR_ENOMEM, "connectome accumulator: out of memory for p = %zu", p);
    }
    cgalr_topo_acc_reset(a);
    *out = a;
    return CGALR_OK;
}

void cgalr_topo_acc_reset(cgalr_connectome_acc_t *a)
{
    if (!a)
        return;
    a->rows = 0;
    memset(a->mean, 0, a->p * sizeof(double));
    memset(a->cross, 0, a->p * a->p * sizeof(double));
    memset(a->dead, 1, a->p);
}

size_t cgalr_topo_acc_rows(const cgalr_connectome_acc_t *a)
{
    return a ? a->rows : 0;
}

void cgalr_topo_acc_free(cgalr_connectome_acc_t *a)
{
    if (!a)
        return;
    free(a->mean);
    free(a->first);
    free(a->cross);
    free(a->bmean);
    free(a->buf);
    free(a->dead);
    free(a);
}

static cgalr_status_t acc_add(cgalr_connectome_acc_t *a, const double *rd, const float *rf,
                              size_t nrows)
{
    size_t p = a->p;
    if (a->rows == 0)
        for (size_t j = 0; j < p; j++)
            a->first[j] = rd ? rd[j] : (double)rf[j];
    for (size_t r0 = 0; r0 < nrows; r0 += CHUNK) {
        size_t nr = nrows - r0 < CHUNK ? nrows - r0 : CHUNK;
        double *bm = a->bmean;
        memset(bm, 0, p * sizeof *bm);
        for (size_t i = 0; i < nr; i++) {
            double *b = a->buf + i * p;
            for (size_t j = 0; j < p; j++) {
                double v = rd ? rd[(r0 + i) * p + j] : (double)rf[(r0 + i) * p + j];
                a->dead[j] &= (unsigned char)(v == a->first[j]);
                b[j] = v - a->first[j];
                bm[j] += b[j];
            }
        }
        for (size_t j = 0; j < p; j++)
            bm[j] /= (double)nr;
        for (size_t i = 0; i < nr; i++) {
            double *b = a->buf + i * p;
            for (size_t j = 0; j < p; j++)
                b[j] -= bm[j];
        }
        cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, (int)p, (int)nr, 1.0, a->buf, (int)p,
                    1.0, a->cross, (int)p);
        double na = (double)a->rows, nb = (double)nr, n = na + nb;
        for (size_t j = 0; j < p; j++)
            bm[j] -= a->mean[j]; /* now delta = m_b - m_a */
        if (a->rows > 0)
            cblas_dsyr(CblasRowMajor, CblasUpper, (int)p, na * nb / n, bm, 1, a->cross, (int)p);
        for (size_t j = 0; j < p; j++)
            a->mean[j] += bm[j] * (nb / n);
        a->rows += nr;
    }
    return CGALR_OK;
}

static cgalr_status_t acc_check(const cgalr_connectome_acc_t *a, const void *rows, size_t nrows)
{
    if (!a)
        return cgalr_fail(CGALR_EINVAL, "connectome accumulator: NULL accumulator");
    if (nrows > 0 && !rows)
        return cgalr_fail(CGALR_EINVAL, "connectome accumulator: NULL rows for %zu rows", nrows);
    if (mul_overflows(nrows, a->p))
        return cgalr_fail(CGALR_EINVAL, "connectome accumulator: %zu rows of %zu overflow", nrows, a->p);
    return CGALR_OK;
}

cgalr_status_t cgalr_topo_acc_add_d(cgalr_connectome_acc_t *a, const double *rows, size_t nrows)
{
    cgalr_status_t st = acc_check(a, rows, nrows);
    if (st == CGALR_OK && nrows > 0)
        st = check_finite_d(rows, nrows, a->p, a->rows);
    if (st == CGALR_OK && nrows > 0)
        st = acc_add(a, rows, NULL, nrows);
    return st;
}

cgalr_status_t cgalr_topo_acc_add_f(cgalr_connectome_acc_t *a, const float *rows, size_t nrows)
{
    cgalr_status_t st = acc_check(a, rows, nrows);
    if (st == CGALR_OK && nrows > 0)
        st = check_finite_f(rows, nrows, a->p, a->rows);
    if (st == CGALR_OK && nrows > 0)
        st = acc_add(a, NULL, rows, nrows);
    return st;
}

cgalr_status_t cgalr_topo_acc_finish(const cgalr_connectome_acc_t *a, double *out)
{
    if (!a || !out)
        return cgalr_fail(CGALR_EINVAL, "connectome accumulator: NULL %s", !a ? "accumulator" : "output");
    if (a->rows < 2)
        return cgalr_fail(CGALR_ESTATE, "connectome accumulator: %zu rows added; expected at least 2",
                          a->rows);
    size_t p = a->p;
    for (size_t i = 0; i < p; i++)
        memcpy(out + i * p + i, a->cross + i * p + i, (p - i) * sizeof *out);
    return finish_corr(out, p, a->dead);
}
