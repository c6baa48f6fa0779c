/* Functional connectome (METHOD.md section 2): |Pearson| between the columns of an N x P activation
 * matrix. One formula: the streaming accumulator (count, means, centred cross-products in double,
 * per-chunk centring merged with Chan's update); the dense form streams the whole matrix into it. */
#include <cblas.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cgalr/topo.h"

/* Rows centred and multiplied per BLAS call in the streaming form: bounds its scratch memory to
 * CHUNK x p doubles whatever the batch size (the dense form takes all its rows as one chunk). */
#define CHUNK 256
/* Tile edge for the cache-friendly mirror of the upper triangle. */
#define TILE 64

static int mul_overflows(size_t a, size_t b)
{
    return a != 0 && b > SIZE_MAX / a;
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
    if (p > INT32_MAX / 2)
        return cgalr_fail(CGALR_EINVAL, "connectome: n = %zu, p = %zu are beyond BLAS's int sizes", n, p);
    return CGALR_OK;
}

static cgalr_status_t acc_create(size_t p, size_t chunk, cgalr_connectome_acc_t **out);

/* The whole matrix is one stream of rows through the accumulator below: one formula for the
 * connectome whichever way its rows arrive (one owner, METHOD.md section 2). */
static cgalr_status_t connectome_all(const double *ad, const float *af, size_t n, size_t p, double *out)
{
    cgalr_connectome_acc_t *acc = NULL;
    cgalr_status_t st = check_args(ad ? (const void *)ad : (const void *)af, n, p, out);
    if (st == CGALR_OK)
        st = acc_create(p, n, &acc); /* one chunk: centred on the exact means, one syrk */
    if (st == CGALR_OK)
        st = ad ? cgalr_topo_acc_add_d(acc, ad, n) : cgalr_topo_acc_add_f(acc, af, n);
    if (st == CGALR_OK)
        st = cgalr_topo_acc_finish(acc, out);
    cgalr_topo_acc_free(acc);
    return st;
}

cgalr_status_t cgalr_topo_connectome_d(const double *act, size_t n, size_t p, double *out)
{
    return act ? connectome_all(act, NULL, n, p, out) : check_args(NULL, n, p, out);
}

cgalr_status_t cgalr_topo_connectome_f(const float *act, size_t n, size_t p, double *out)
{
    return act ? connectome_all(NULL, act, n, p, out) : check_args(NULL, n, p, out);
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
    double *buf;   /* chunk x p scratch */
    size_t chunk;  /* rows centred per syrk: CHUNK, or all rows for the dense form */
    unsigned char *dead; /* p: still equal to `first` in every row */
    /* sliding-set form (cgalr_topo_acc_replace_f) */
    size_t replaced; /* replacements since the reset */
    double *dmax;    /* p: the largest centred sum of squares seen by a replacement since the reset */
};

static cgalr_status_t acc_create(size_t p, size_t chunk, cgalr_connectome_acc_t **out)
{
    if (!out)
        return cgalr_fail(CGALR_EINVAL, "connectome accumulator: NULL output pointer");
    *out = NULL;
    if (p == 0)
        return cgalr_fail(CGALR_EINVAL, "connectome accumulator: p = 0 signals; expected at least 1");
    if (p > INT32_MAX / 2 || mul_overflows(p, p) || mul_overflows(p * p, sizeof(double)) ||
        mul_overflows(p, chunk) || mul_overflows(p * chunk, sizeof(double)))
        return cgalr_fail(CGALR_EINVAL, "connectome accumulator: p = %zu is too large", p);
    cgalr_connectome_acc_t *a = calloc(1, sizeof *a);
    if (!a)
        return cgalr_fail(CGALR_ENOMEM, "connectome accumulator: out of memory");
    a->p = p;
    a->mean = malloc(p * sizeof(double));
    a->first = malloc(p * sizeof(double));
    a->cross = malloc(p * p * sizeof(double));
    a->bmean = malloc(p * sizeof(double));
    a->chunk = chunk;
    a->buf = malloc(chunk * p * sizeof(double));
    a->dead = malloc(p);
    a->dmax = malloc(p * sizeof(double));
    if (!a->mean || !a->first || !a->cross || !a->bmean || !a->buf || !a->dead || !a->dmax) {
        cgalr_topo_acc_free(a);
        return cgalr_fail(CGALR_ENOMEM, "connectome accumulator: out of memory for p = %zu", p);
    }
    cgalr_topo_acc_reset(a);
    *out = a;
    return CGALR_OK;
}

cgalr_status_t cgalr_topo_acc_create(size_t p, cgalr_connectome_acc_t **out)
{
    return acc_create(p, CHUNK, out);
}

void cgalr_topo_acc_reset(cgalr_connectome_acc_t *a)
{
    if (!a)
        return;
    a->rows = 0;
    memset(a->mean, 0, a->p * sizeof(double));
    memset(a->cross, 0, a->p * a->p * sizeof(double));
    memset(a->dead, 1, a->p);
    a->replaced = 0;
    memset(a->dmax, 0, a->p * sizeof(double));
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
    free(a->dmax);
    free(a);
}

/* Every entry finite, and so is its difference from the shift (the first row ever added, or row 0
 * of this batch for the first batch): checked before anything is taken, so a rejected batch
 * leaves the accumulator as it was. Rows count from the first row ever added. */
#define SCAN_BODY(T)                                                                                 \
    /* a branch-free pass first (|v - s| <= DBL_MAX fails for NaN, Inf and an overflowed           \
     * difference alike); the slow pass that names the culprit runs only when it fails */          \
    int bad = 0;                                                                                   \
    const double *sh = a->rows ? a->first : NULL;                                                  \
    for (size_t i = 0; i < nrows; i++)                                                             \
        for (size_t j = 0; j < p; j++)                                                             \
            bad |= !(fabs((double)r##T[i * p + j] - (sh ? sh[j] : (double)r##T[j])) <= DBL_MAX);   \
    if (!bad)                                                                                      \
        return CGALR_OK;                                                                           \
    for (size_t i = 0; i < nrows; i++)                                                             \
        for (size_t j = 0; j < p; j++) {                                                           \
            double v = (double)r##T[i * p + j];                                                    \
            double s = sh ? sh[j] : (double)r##T[j];                                               \
            if (!isfinite(v))                                                                      \
                return cgalr_fail(CGALR_ENONFINITE,                                                \
                                  "activations: row %zu, column %zu (counting from 0) is %g; "     \
                                  "expected finite numbers", a->rows + i, j, v);                   \
            if (!isfinite(v - s))                                                                  \
                return cgalr_fail(CGALR_ENONFINITE,                                                \
                                  "connectome: column %zu: row %zu (%g) differs from row 0 (%g) "  \
                                  "by more than a double holds; expected activations below about " \
                                  "1e150", j, a->rows + i, v, s);                                  \
        }                                                                                          \
    return cgalr_fail(CGALR_EINTERNAL, "connectome: scan flagged a row it cannot find");

static cgalr_status_t scan_d(const cgalr_connectome_acc_t *a, const double *rd, size_t nrows)
{
    size_t p = a->p;
    SCAN_BODY(d)
}

static cgalr_status_t scan_f(const cgalr_connectome_acc_t *a, const float *rf, size_t nrows)
{
    size_t p = a->p;
    SCAN_BODY(f)
}
#undef SCAN_BODY

/* One chunk of at most CHUNK rows: centred on its own means, its cross-products added with one
 * syrk, then merged with the running state by Chan's update (see above). */
static void acc_chunk(cgalr_connectome_acc_t *a, const double *rd, const float *rf, size_t nr)
{
    size_t p = a->p;
    double *restrict bm = a->bmean;
    const double *restrict first = a->first;
    unsigned char *restrict dead = a->dead;
    memset(bm, 0, p * sizeof *bm);
    /* shifted copy and chunk sums; the element type is hoisted out of the loops so they vectorise */
    for (size_t i = 0; i < nr; i++) {
        double *restrict b = a->buf + i * p;
        if (rd)
            for (size_t j = 0; j < p; j++)
                b[j] = rd[i * p + j] - first[j];
        else
            for (size_t j = 0; j < p; j++)
                b[j] = (double)rf[i * p + j] - first[j];
        for (size_t j = 0; j < p; j++) {
            dead[j] &= (unsigned char)(b[j] == 0.0); /* exact: v - first == 0 iff v == first */
            bm[j] += b[j];
        }
    }
    for (size_t j = 0; j < p; j++)
        bm[j] /= (double)nr;
    for (size_t i = 0; i < nr; i++) {
        double *restrict b = a->buf + i * p;
        for (size_t j = 0; j < p; j++)
            b[j] -= bm[j];
    }
    cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, (int)p, (int)nr, 1.0, a->buf, (int)p, 1.0, a->cross,
                (int)p);
    double na = (double)a->rows, nb = (double)nr, n = na + nb;
    for (size_t j = 0; j < p; j++)
        bm[j] -= a->mean[j]; /* now delta = m_b - m_a */
    if (a->rows > 0)
        cblas_dsyr(CblasRowMajor, CblasUpper, (int)p, na * nb / n, bm, 1, a->cross, (int)p);
    for (size_t j = 0; j < p; j++)
        a->mean[j] += bm[j] * (nb / n);
    a->rows += nr;
}

static void acc_add(cgalr_connectome_acc_t *a, const double *rd, const float *rf, size_t nrows)
{
    size_t p = a->p;
    if (a->rows == 0)
        for (size_t j = 0; j < p; j++)
            a->first[j] = rd ? rd[j] : (double)rf[j];
    for (size_t r0 = 0; r0 < nrows; r0 += a->chunk) {
        size_t nr = nrows - r0 < a->chunk ? nrows - r0 : a->chunk;
        acc_chunk(a, rd ? rd + r0 * p : NULL, rf ? rf + r0 * p : NULL, nr);
    }
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
        st = scan_d(a, rows, nrows);
    if (st == CGALR_OK && nrows > 0)
        acc_add(a, rows, NULL, nrows);
    return st;
}

cgalr_status_t cgalr_topo_acc_add_f(cgalr_connectome_acc_t *a, const float *rows, size_t nrows)
{
    cgalr_status_t st = acc_check(a, rows, nrows);
    if (st == CGALR_OK && nrows > 0)
        st = scan_f(a, rows, nrows);
    if (st == CGALR_OK && nrows > 0)
        acc_add(a, NULL, rows, nrows);
    return st;
}

/* Welford at a fixed count n: removing x moves the mean to m' = m - (x - m)/(n - 1) and takes
 * n/(n - 1) (x - m)(x - m)^T from the cross-products; adding y back gives m'' = m' + (y - m')/n and
 * adds (n - 1)/n (y - m')(y - m')^T. Rows are shifted by `first` as everywhere above. */
cgalr_status_t cgalr_topo_acc_replace_f(cgalr_connectome_acc_t *a, const float *old, const float *row)
{
    cgalr_status_t st = acc_check(a, old, 1);
    if (st == CGALR_OK)
        st = acc_check(a, row, 1);
    if (st == CGALR_OK && a->rows < 2)
        st = cgalr_fail(CGALR_ESTATE, "connectome accumulator: replace needs a set of >= 2 rows, it holds %zu",
                        a->rows);
    if (st == CGALR_OK)
        st = scan_f(a, old, 1);
    if (st == CGALR_OK)
        st = scan_f(a, row, 1);
    if (st != CGALR_OK)
        return st;
    size_t p = a->p;
    double n = (double)a->rows;
    double *restrict d = a->bmean, *restrict m = a->mean, *restrict dmax = a->dmax;
    const double *restrict first = a->first;
    for (size_t j = 0; j < p; j++) {
        double c = a->cross[j * p + j];
        dmax[j] = c > dmax[j] ? c : dmax[j];
    }
    for (size_t j = 0; j < p; j++)
        d[j] = ((double)old[j] - first[j]) - m[j];
    cblas_dsyr(CblasRowMajor, CblasUpper, (int)p, -n / (n - 1.0), d, 1, a->cross, (int)p);
    for (size_t j = 0; j < p; j++)
        m[j] -= d[j] / (n - 1.0);
    for (size_t j = 0; j < p; j++) {
        double y = (double)row[j] - first[j];
        a->dead[j] &= (unsigned char)(y == 0.0);
        d[j] = y - m[j];
    }
    cblas_dsyr(CblasRowMajor, CblasUpper, (int)p, (n - 1.0) / n, d, 1, a->cross, (int)p);
    for (size_t j = 0; j < p; j++)
        m[j] += d[j] / n;
    for (size_t j = 0; j < p; j++) {
        double c = a->cross[j * p + j];
        dmax[j] = c > dmax[j] ? c : dmax[j];
    }
    a->replaced++;
    return CGALR_OK;
}

int cgalr_topo_acc_stale(const cgalr_connectome_acc_t *a)
{
    if (!a || a->replaced == 0)
        return 0;
    if (a->replaced >= a->rows)
        return 1;
    for (size_t j = 0; j < a->p; j++)
        if (!a->dead[j] && !(a->cross[j * a->p + j] >= 1e-4 * a->dmax[j]))
            return 1;
    return 0;
}

size_t cgalr_topo_acc_width(const cgalr_connectome_acc_t *a)
{
    return a ? a->p : 0;
}

/* ---- Saved state: magic, version, p, rows, then mean, first (p doubles each), the upper
 * triangle of cross row by row (p (p + 1) / 2 doubles) and dead (p bytes); version 2 adds the
 * sliding-set state: replaced (uint64) and dmax (p doubles). Native byte order (the checkpoints
 * that hold it are native too). Version 1 (written before replace existed) still loads. */
#define ACC_MAGIC 0x43414743u /* "CGAC" */
#define ACC_VERSION 2u

static size_t acc_bytes_v(size_t p, uint32_t version)
{
    size_t v1 = 2 * sizeof(uint32_t) + 2 * sizeof(uint64_t) + (2 * p + p * (p + 1) / 2) * sizeof(double) + p;
    return version >= 2 ? v1 + sizeof(uint64_t) + p * sizeof(double) : v1;
}

static size_t acc_bytes(size_t p)
{
    return acc_bytes_v(p, ACC_VERSION);
}

cgalr_status_t cgalr_topo_acc_save(const cgalr_connectome_acc_t *a, void *buf, size_t *size)
{
    if (!a || !size)
        return cgalr_fail(CGALR_EINVAL, "connectome accumulator save: NULL %s", !a ? "accumulator" : "size");
    size_t need = acc_bytes(a->p);
    if (!buf) {
        *size = need;
        return CGALR_OK;
    }
    if (*size < need)
        return cgalr_fail(CGALR_EINVAL, "connectome accumulator save: buffer of %zu bytes, needs %zu", *size, need);
    unsigned char *o = buf;
    uint32_t hdr[2] = {ACC_MAGIC, ACC_VERSION};
    uint64_t dims[2] = {a->p, a->rows};
    size_t p = a->p;
    memcpy(o, hdr, sizeof hdr);
    o += sizeof hdr;
    memcpy(o, dims, sizeof dims);
    o += sizeof dims;
    memcpy(o, a->mean, p * sizeof(double));
    o += p * sizeof(double);
    memcpy(o, a->first, p * sizeof(double));
    o += p * sizeof(double);
    for (size_t i = 0; i < p; i++) {
        memcpy(o, a->cross + i * p + i, (p - i) * sizeof(double));
        o += (p - i) * sizeof(double);
    }
    memcpy(o, a->dead, p);
    o += p;
    uint64_t rep = a->replaced;
    memcpy(o, &rep, sizeof rep);
    o += sizeof rep;
    memcpy(o, a->dmax, p * sizeof(double));
    *size = need;
    return CGALR_OK;
}

cgalr_status_t cgalr_topo_acc_load(cgalr_connectome_acc_t *a, const void *buf, size_t size)
{
    if (!a || !buf)
        return cgalr_fail(CGALR_EINVAL, "connectome accumulator load: NULL %s", !a ? "accumulator" : "buffer");
    const unsigned char *in = buf;
    uint32_t hdr[2];
    uint64_t dims[2];
    if (size < sizeof hdr + sizeof dims)
        return cgalr_fail(CGALR_EFORMAT, "connectome accumulator state: %zu bytes, too short for its header", size);
    memcpy(hdr, in, sizeof hdr);
    memcpy(dims, in + sizeof hdr, sizeof dims);
    if (hdr[0] != ACC_MAGIC || hdr[1] < 1 || hdr[1] > ACC_VERSION)
        return cgalr_fail(CGALR_EFORMAT, "connectome accumulator state: bad magic or version %u", (unsigned)hdr[1]);
    if (dims[0] != a->p)
        return cgalr_fail(CGALR_ESTATE, "connectome accumulator state: %llu signals, the accumulator has %zu",
                          (unsigned long long)dims[0], a->p);
    size_t p = a->p;
    if (size != acc_bytes_v(p, hdr[1]))
        return cgalr_fail(CGALR_EFORMAT, "connectome accumulator state: %zu bytes, expected %zu for p = %zu", size,
                          acc_bytes_v(p, hdr[1]), p);
    const unsigned char *q = in + sizeof hdr + sizeof dims;
    size_t nvals = 2 * p + p * (p + 1) / 2;
    for (size_t k = 0; k < nvals; k++) {
        double v;
        memcpy(&v, q + k * sizeof v, sizeof v);
        if (!isfinite(v))
            return cgalr_fail(CGALR_EFORMAT, "connectome accumulator state: value %zu is %g", k, v);
    }
    const unsigned char *dead = q + nvals * sizeof(double);
    for (size_t j = 0; j < p; j++)
        if (dead[j] > 1)
            return cgalr_fail(CGALR_EFORMAT, "connectome accumulator state: dead flag %zu is %u", j, dead[j]);
    uint64_t rep = 0;
    const unsigned char *dm = NULL;
    if (hdr[1] >= 2) {
        memcpy(&rep, dead + p, sizeof rep);
        dm = dead + p + sizeof rep;
        for (size_t j = 0; j < p; j++) {
            double v;
            memcpy(&v, dm + j * sizeof v, sizeof v);
            if (!(v >= 0 && isfinite(v)))
                return cgalr_fail(CGALR_EFORMAT, "connectome accumulator state: dmax %zu is %g", j, v);
        }
        if (rep > (uint64_t)1 << 62)
            return cgalr_fail(CGALR_EFORMAT, "connectome accumulator state: %llu replacements",
                              (unsigned long long)rep);
    }
    /* validated: now take it */
    a->rows = (size_t)dims[1];
    memcpy(a->mean, q, p * sizeof(double));
    q += p * sizeof(double);
    memcpy(a->first, q, p * sizeof(double));
    q += p * sizeof(double);
    memset(a->cross, 0, p * p * sizeof(double));
    for (size_t i = 0; i < p; i++) {
        memcpy(a->cross + i * p + i, q, (p - i) * sizeof(double));
        q += (p - i) * sizeof(double);
    }
    memcpy(a->dead, dead, p);
    a->replaced = (size_t)rep;
    if (dm)
        memcpy(a->dmax, dm, p * sizeof(double));
    else
        memset(a->dmax, 0, p * sizeof(double));
    return CGALR_OK;
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
