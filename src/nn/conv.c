/* Convolution through im2col and GEMM, and the chunked driver of every convolution: nn_conv_plan
 * picks Winograd (wino.c), the direct kernels (conv_direct.c) or im2col + OpenBLAS per layer once
 * per batch shape; the forward and backward of OP_CONV follow it and split the batch into chunks
 * over the pool threads. */
#include <cblas.h>
#include <stdlib.h>
#include <string.h>

#include "nn/nn_internal.h"
#include "nn/nn_ops.h"

size_t nn_conv_out(size_t in, int k, int stride, int pad)
{
    long v = ((long)in + 2L * pad - k) / stride + 1;
    return v > 0 ? (size_t)v : 0;
}

/* Rows of a convolution's im2col matrix: in_channels * k * k. */
static size_t m_kk(const struct cgalr_model *m, const nn_node_t *n)
{
    return m->nodes[n->in0].c * (size_t)n->k * (size_t)n->k;
}

/* im2col of a stride-1 "same" convolution (oh = h, ow = w): the row of kernel offset (di, dj) is
 * the plane shifted by di*w + dj, so each row is one block copy of the valid output rows, then the
 * dj columns that fell off the left or right edge and the di rows off the top or bottom are zeroed. */
#if defined(__GNUC__) && !defined(__clang__)
/* keep GCC from turning the short zeroing loops back into memset calls */
#define NN_NO_LIBCALLS __attribute__((optimize("O3", "no-tree-loop-distribute-patterns")))
#else
#define NN_NO_LIBCALLS
#endif

NN_NO_LIBCALLS static void im2col_same(const float *x, size_t c, size_t h, size_t w, int k, int p, float *col, size_t ld)
{
    size_t hw = h * w;
    for (size_t ch = 0; ch < c; ch++) {
        const float *xc = x + ch * hw;
        for (int ki = 0; ki < k; ki++) {
            long di = ki - p;
            size_t i0 = di < 0 ? (size_t)(-di) : 0, i1 = di > 0 ? h - (size_t)di : h;
            for (int kj = 0; kj < k; kj++) {
                long dj = kj - p;
                float *restrict row = col + ((ch * (size_t)k + (size_t)ki) * (size_t)k + (size_t)kj) * ld;
                /* inline loops: the rows are short (64..1024 floats), library calls cost more */
                long q0 = (long)(i0 * w), q1 = (long)(i1 * w), off = di * (long)w + dj;
                if (q0 + off < 0)
                    q0 = -off;
                if (q1 + off > (long)hw)
                    q1 = (long)hw - off;
                if (q1 < q0)
                    q1 = q0 = 0;
                for (long q = 0; q < q0; q++)
                    row[q] = 0.0f;
                for (long q = q0; q < q1; q++)
                    row[q] = xc[q + off];
                for (long q = q1; q < (long)hw; q++)
                    row[q] = 0.0f;
                if (i0 >= i1)
                    continue;
                if (dj < 0)
                    for (size_t i = i0; i < i1; i++)
                        for (long j = 0; j < -dj && j < (long)w; j++)
                            row[i * w + (size_t)j] = 0.0f;
                else if (dj > 0)
                    for (size_t i = i0; i < i1; i++)
                        for (long j = (long)w - dj < 0 ? 0 : (long)w - dj; j < (long)w; j++)
                            row[i * w + (size_t)j] = 0.0f;
            }
        }
    }
}

/* col: (c*k*k) x (oh*ow) for one sample x: c x h x w. */
/* Row r of col starts at col + r * ld (ld >= oh*ow lets several samples share one matrix). */
static void im2col(const float *x, size_t c, size_t h, size_t w, int k, int s, int p, size_t oh, size_t ow,
                   float *col, size_t ld)
{
    if (s == 1 && oh == h && ow == w) {
        im2col_same(x, c, h, w, k, p, col, ld);
        return;
    }
    for (size_t ch = 0; ch < c; ch++) {
        const float *xc = x + ch * h * w;
        for (int ki = 0; ki < k; ki++) {
            for (int kj = 0; kj < k; kj++) {
                float *row = col + ((ch * (size_t)k + (size_t)ki) * (size_t)k + (size_t)kj) * ld;
                for (size_t i = 0; i < oh; i++) {
                    long ih = (long)i * s - p + ki;
                    float *dst = row + i * ow;
                    if (ih < 0 || ih >= (long)h) {
                        memset(dst, 0, ow * sizeof(float));
                        continue;
                    }
                    const float *src = xc + (size_t)ih * w;
                    if (s == 1) {
                        /* contiguous run: the valid ow range is [j0, j1) */
                        long j0 = p - kj > 0 ? p - kj : 0;
                        long j1 = (long)w + p - kj;
                        if (j1 > (long)ow)
                            j1 = (long)ow;
                        for (long j = 0; j < j0 && j < (long)ow; j++)
                            dst[j] = 0.0f;
                        if (j1 > j0)
                            memcpy(dst + j0, src + (j0 - p + kj), (size_t)(j1 - j0) * sizeof(float));
                        for (long j = (j1 > j0 ? j1 : j0); j < (long)ow; j++)
                            dst[j] = 0.0f;
                    } else {
                        /* valid columns j: 0 <= j*s - p + kj < w, one range [j0, j1) */
                        long j0 = p - kj > 0 ? (p - kj + s - 1) / s : 0;
                        long j1 = (long)w - 1 + p - kj >= 0 ? ((long)w - 1 + p - kj) / s + 1 : 0;
                        if (j1 > (long)ow)
                            j1 = (long)ow;
                        if (j0 > j1)
                            j0 = j1;
                        for (long j = 0; j < j0; j++)
                            dst[j] = 0.0f;
                        const float *sp = src - p + kj;
                        if (s == 2)
                            for (long j = j0; j < j1; j++)
                                dst[j] = sp[2 * j];
                        else
                            for (long j = j0; j < j1; j++)
                                dst[j] = sp[j * s];
                        for (long j = j1; j < (long)ow; j++)
                            dst[j] = 0.0f;
                    }
                }
            }
        }
    }
}

/* The 3x3 stride-2 pad-1 case over an even width (w = 2*ow), the three taps of a kernel row at
 * once: column 2j gets the centre tap of output j, column 2j+1 the right tap of j and the left
 * tap of j+1, so each input row is one interleaved pass instead of three strided ones. */
static void col2im_s2k3(const float *col, size_t c, size_t h, size_t w, size_t oh, size_t ow, float *dx, size_t ld)
{
    for (size_t ch = 0; ch < c; ch++) {
        float *xc = dx + ch * h * w;
        for (size_t ki = 0; ki < 3; ki++) {
            const float *r0 = col + (ch * 3 + ki) * 3 * ld, *r1 = r0 + ld, *r2 = r1 + ld;
            for (size_t i = 0; i < oh; i++) {
                long ih = 2 * (long)i - 1 + (long)ki;
                if (ih < 0 || ih >= (long)h)
                    continue;
                float *restrict d = xc + (size_t)ih * w;
                const float *restrict a = r0 + i * ow, *restrict b = r1 + i * ow, *restrict e = r2 + i * ow;
                for (size_t j = 0; j + 1 < ow; j++) {
                    d[2 * j] += b[j];
                    d[2 * j + 1] += e[j] + a[j + 1];
                }
                d[2 * ow - 2] += b[ow - 1];
                d[2 * ow - 1] += e[ow - 1];
            }
        }
    }
}

static void col2im_add(const float *col, size_t c, size_t h, size_t w, int k, int s, int p, size_t oh, size_t ow,
                       float *dx, size_t ld)
{
    if (k == 3 && s == 2 && p == 1 && w == 2 * ow && ow > 0) {
        col2im_s2k3(col, c, h, w, oh, ow, dx, ld);
        return;
    }
    for (size_t ch = 0; ch < c; ch++) {
        float *xc = dx + ch * h * w;
        for (int ki = 0; ki < k; ki++) {
            for (int kj = 0; kj < k; kj++) {
                const float *row = col + ((ch * (size_t)k + (size_t)ki) * (size_t)k + (size_t)kj) * ld;
                for (size_t i = 0; i < oh; i++) {
                    long ih = (long)i * s - p + ki;
                    if (ih < 0 || ih >= (long)h)
                        continue;
                    float *restrict dst = xc + (size_t)ih * w;
                    const float *restrict src = row + i * ow;
                    /* the valid output columns j form one range [j0, j1) */
                    long j0 = 0, j1 = (long)ow;
                    while (j0 < j1 && (long)j0 * s - p + kj < 0)
                        j0++;
                    while (j1 > j0 && (long)(j1 - 1) * s - p + kj >= (long)w)
                        j1--;
                    if (s == 1) {
                        float *restrict d = dst + (j0 - p + kj);
                        for (long j = j0; j < j1; j++)
                            d[j - j0] += src[j];
                    } else {
                        for (long j = j0; j < j1; j++)
                            dst[j * s - p + kj] += src[j];
                    }
                }
            }
        }
    }
}

/* Convolution works on chunks of S samples at once: col (kk x S*ohw) holds the chunk's patches,
 * so each GEMM has S*ohw columns instead of ohw (small feature maps made per-sample GEMMs
 * inefficient). Work layout: col | yc (oc x S*ohw) | dcol (kk x S*ohw, training only). */
static size_t conv_chunk(size_t kk, size_t ohw, size_t oc, size_t rows, int threads)
{
    /* floats of col + output per chunk: about half of the 1 MiB L2 measured best here; the
     * environment variable CGALR_NN_CHUNK overrides it for tuning on other machines */
    static size_t budget = 0;
    if (!budget) {
        const char *e = getenv("CGALR_NN_CHUNK");
        budget = e ? (size_t)atol(e) : ((size_t)1 << 17);
        if (!budget)
            budget = 1;
    }
    size_t per = kk * ohw + oc * ohw;
    size_t S = per ? budget / per : 1;
    size_t share = (rows + (size_t)threads - 1) / (size_t)threads; /* every thread gets a chunk */
    if (S > share)
        S = share;
    if (S < 1)
        S = 1;
    return S;
}

/* Stride-1 "same" convolutions (2*pad = k-1, so the input and output maps have one size) get their
 * input gradient as a convolution of the output gradient with the flipped, transposed kernel: one
 * im2col gather and a GEMM with oc*k*k-long inner products, written straight into dx, instead of
 * a GEMM with oc-long inner products into a column matrix and a col2im scatter-add. */
static int conv_tconv(int k, int stride, int pad)
{
    return stride == 1 && 2 * pad == k - 1;
}

size_t nn_conv_work(size_t kk, int k, size_t ohw, size_t oc, size_t S, int training, int tconv)
{
    /* col (kk) | dyc (oc) | training: dcol (kk), or with tconv the output gradient's columns
     * (oc*k*k) then the chunk's input gradient (ic <= kk); each row S*ohw floats */
    size_t back = !training ? 0 : tconv ? oc * (size_t)k * (size_t)k + kk : kk;
    return S * ohw * (kk + oc + back);
}

/* The one place a convolution's kernels are chosen. Each test reads the layer's geometry, its
 * input's map size, the ISA and the CGALR_NN_* switches only, all fixed for a batch shape, so
 * choosing here (at arena preparation) rather than in every chunk changes no result. The input
 * gradient's choice is made even when the input needs none: the scratch sizes follow it as before. */
void nn_conv_plan(const struct cgalr_model *m, nn_node_t *n, int threads)
{
    const nn_node_t *in = &m->nodes[n->in0];
    size_t ic = in->c, oc = n->c, ohw = n->h * n->w;
    int k = n->k, s = n->stride, p = n->pad;
    nn_conv_plan_t *pl = &n->conv;
    if (nn_conv_wino(oc, ic, k, s, p))
        pl->fwd = CONV_FWD_WINO;
    else if (nn_conv_s2(oc, k, s, p, in->h, in->w))
        pl->fwd = CONV_FWD_S2;
    else if (nn_conv_direct(oc, k, s, p))
        pl->fwd = CONV_FWD_DIRECT;
    else
        pl->fwd = CONV_FWD_GEMM;
    /* the direct weight gradient pays only on large maps (DW_MIN_HW, nn_ops.h) */
    if (pl->fwd == CONV_FWD_WINO)
        pl->dw = CONV_DW_WINO;
    else if (pl->fwd == CONV_FWD_DIRECT && ohw >= DW_MIN_HW)
        pl->dw = CONV_DW_DIRECT;
    else if (pl->fwd == CONV_FWD_S2)
        pl->dw = CONV_DW_S2;
    else
        pl->dw = CONV_DW_GEMM;
    /* the input gradient is a convolution of dy with the flipped kernel, ic outputs from oc */
    if (nn_conv_wino(ic, oc, k, s, p))
        pl->dx = CONV_DX_WINO;
    else if (nn_conv_direct(ic, k, s, p))
        pl->dx = CONV_DX_DIRECT;
    else if (conv_tconv(k, s, p))
        pl->dx = CONV_DX_TCONV;
    else
        pl->dx = CONV_DX_COL2IM;
    /* Winograd layers run their groups (see wino.c), the others conv_chunk */
    if (pl->fwd == CONV_FWD_WINO || pl->dx == CONV_DX_WINO)
        pl->samples = nn_wino_group(n->h, n->w, n->rows, threads);
    else
        pl->samples = conv_chunk(ic * (size_t)k * (size_t)k, ohw, oc, n->rows, threads);
}

/* A chunk's GEMM: inside a pool job the raw sgemm (BLAS was set to one thread before the
 * parallel region), else nn_gemm's thread policy. */
static void chunk_gemm(const struct cgalr_model *m, int threaded, CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, size_t M,
                       size_t N, size_t K, const float *A, size_t lda, const float *B, size_t ldb, float beta, float *C,
                       size_t ldc)
{
    if (threaded)
        cblas_sgemm(CblasRowMajor, ta, tb, (int)M, (int)N, (int)K, 1.0f, A, (int)lda, B, (int)ldb, beta, C,
                    (int)ldc);
    else
        nn_gemm(m, ta, tb, M, N, K, A, lda, B, ldb, beta, C, ldc);
}

typedef struct conv_job {
    struct cgalr_model *m;
    nn_node_t *n;
    size_t S, nchunks;
    int T;
} conv_job_t;

static void conv_forward_chunk(struct cgalr_model *m, nn_node_t *n, size_t s0, size_t cs, float *work, float *dws,
                               int threaded)
{
    const nn_node_t *in = &m->nodes[n->in0];
    size_t ic = in->c, ih = in->h, iw = in->w, oc = n->c, oh = n->h, ow = n->w;
    size_t kk = ic * (size_t)n->k * (size_t)n->k, ohw = oh * ow, isz = ic * ih * iw, ld = cs * ohw;
    const float *W = m->params + n->w_off;
    const float *b = n->b_off != NN_NONE ? m->params + n->b_off : NULL;
    switch (n->conv.fwd) {
    case CONV_FWD_WINO:
        nn_wino_conv(m->apack, oc, in->y + s0 * isz, cs, ic, ih, iw, n->y + s0 * oc * ohw, b, 0, dws);
        return;
    case CONV_FWD_S2:
        for (size_t j = 0; j < cs; j++)
            nn_s2_conv(m->apack, oc, in->y + (s0 + j) * isz, ic, ih, iw, n->y + (s0 + j) * oc * ohw, b, dws);
        return;
    case CONV_FWD_DIRECT:
        for (size_t j = 0; j < cs; j++)
            nn_direct_conv(m->apack, oc, in->y + (s0 + j) * isz, ic, ih, iw, n->k, n->pad, n->y + (s0 + j) * oc * ohw, b, 0,
                        dws);
        return;
    case CONV_FWD_GEMM:
        break;
    }
    /* one sample: its NCHW output already has the chunk layout, so the GEMM writes it directly */
    float *col = work, *yc = cs == 1 ? n->y + s0 * oc * ohw : work + kk * ld;
    for (size_t j = 0; j < cs; j++)
        im2col(in->y + (s0 + j) * isz, ic, ih, iw, n->k, n->stride, n->pad, oh, ow, col + j * ohw, ld);
    /* yc (oc x ld) = W (oc x kk) * col (kk x ld) */
    chunk_gemm(m, threaded, CblasNoTrans, CblasNoTrans, oc, ld, kk, W, kk, col, ld, 0.0f, yc, ld);
    if (cs == 1) {
        for (size_t o = 0; b && o < oc; o++)
            for (size_t q = 0; q < ohw; q++)
                yc[o * ohw + q] += b[o];
        return;
    }
    for (size_t j = 0; j < cs; j++)
        for (size_t o = 0; o < oc; o++) {
            float *restrict y = n->y + ((s0 + j) * oc + o) * ohw;
            const float *restrict src = yc + o * ld + j * ohw;
            float bias = b ? b[o] : 0.0f;
            for (size_t q = 0; q < ohw; q++)
                y[q] = src[q] + bias;
        }
}

/* The output gradient of samples s0 .. s0+cs-1 in chunk layout (oc x cs*ohw): one sample's NCHW
 * block already is (returned in place); several are gathered into buf. */
static float *chunk_dy(const nn_node_t *n, size_t s0, size_t cs, float *buf)
{
    size_t oc = n->c, ohw = n->h * n->w, ld = cs * ohw;
    if (cs == 1)
        return n->dy + s0 * oc * ohw;
    for (size_t j = 0; j < cs; j++)
        for (size_t o = 0; o < oc; o++)
            memcpy(buf + o * ld + j * ohw, n->dy + ((s0 + j) * oc + o) * ohw, ohw * sizeof(float));
    return buf;
}

/* Accumulates the chunk's weight (and bias) gradient into dW (db). Returns the chunk's output
 * gradient in chunk layout (oc x cs*ohw) where this gathered it, else NULL: the column scatter of
 * the input gradient reads it, and only follows the S2 and GEMM weight gradients (the others are
 * stride-1 "same" layers, whose input gradient never scatters). */
static const float *conv_dw_chunk(struct cgalr_model *m, nn_node_t *n, size_t s0, size_t cs, float *work,
                                  float *dws, float *dW, float *db, int threaded)
{
    const nn_node_t *in = &m->nodes[n->in0];
    size_t ic = in->c, ih = in->h, iw = in->w, oc = n->c, oh = n->h, ow = n->w;
    size_t kk = ic * (size_t)n->k * (size_t)n->k, ohw = oh * ow, isz = ic * ih * iw, ld = cs * ohw;
    float *col = work, *dyc = work + kk * ld;
    switch (n->conv.dw) {
    case CONV_DW_WINO:
        /* dW points at the transformed accumulator dU (16 x oc x ic), see nn_conv_backward */
        nn_wino_dw(n->dy + s0 * oc * ohw, oc, in->y + s0 * isz, cs, ic, ih, iw, dW, dws);
        break;
    case CONV_DW_DIRECT:
        for (size_t j = 0; j < cs; j++)
            nn_direct_conv_dw(n->dy + (s0 + j) * oc * ohw, oc, in->y + (s0 + j) * isz, ic, ih, iw, n->k, n->pad, dW,
                              dws);
        break;
    case CONV_DW_S2:
        for (size_t j = 0; j < cs; j++)
            nn_s2_conv_dw(n->dy + (s0 + j) * oc * ohw, oc, in->y + (s0 + j) * isz, ic, ih, iw, dW, dws);
        break;
    case CONV_DW_GEMM:
        dyc = chunk_dy(n, s0, cs, dyc);
        for (size_t j = 0; j < cs; j++)
            im2col(in->y + (s0 + j) * isz, ic, ih, iw, n->k, n->stride, n->pad, oh, ow, col + j * ohw, ld);
        /* dW (oc x kk) += dyc (oc x ld) * col^T */
        chunk_gemm(m, threaded, CblasNoTrans, CblasTrans, oc, kk, ld, dyc, ld, col, ld, 1.0f, dW, kk);
        if (db)
            for (size_t o = 0; o < oc; o++)
                db[o] += (float)nn_sum8(dyc + o * ld, ld);
        return dyc;
    }
    /* the per-sample kernels: the bias gradient sample by sample */
    for (size_t j = 0; j < cs; j++) {
        const float *dy = n->dy + (s0 + j) * oc * ohw;
        for (size_t o = 0; db && o < oc; o++)
            db[o] += (float)nn_sum8(dy + o * ohw, ohw);
    }
    return n->conv.dw == CONV_DW_S2 ? chunk_dy(n, s0, cs, dyc) : NULL;
}

/* Accumulates (or, where m->ow0 says so, stores) the chunk's input gradient into the input's dy;
 * dyc is conv_dw_chunk's output gradient in chunk layout. */
static void conv_dx_chunk(struct cgalr_model *m, nn_node_t *n, size_t s0, size_t cs, float *work, float *dws,
                          const float *dyc, int threaded)
{
    nn_node_t *in = &m->nodes[n->in0];
    size_t ic = in->c, ih = in->h, iw = in->w, oc = n->c, oh = n->h, ow = n->w;
    size_t kk = ic * (size_t)n->k * (size_t)n->k, ohw = oh * ow, isz = ic * ih * iw, ld = cs * ohw;
    float *dcol = work + kk * ld + oc * ld;
    switch (n->conv.dx) {
    case CONV_DX_WINO:
        nn_wino_conv(m->apack, ic, n->dy + s0 * oc * ohw, cs, oc, oh, ow, in->dy + s0 * isz, NULL, !m->ow0, dws);
        break;
    case CONV_DX_DIRECT:
        /* dx += conv(dy, flipped W^T), directly */
        for (size_t j = 0; j < cs; j++)
            nn_direct_conv(m->apack, ic, n->dy + (s0 + j) * oc * ohw, oc, oh, ow, n->k, n->k - 1 - n->pad,
                           in->dy + (s0 + j) * isz, NULL, !m->ow0, dws);
        break;
    case CONV_DX_TCONV: {
        /* dx = conv(dy, flipped W^T): tcol (oc*k*k x ld) gathers dy's patches (same padding), and
         * (ic x ld) = wt (ic x oc*k*k) * tcol; one sample's NCHW gradient has the chunk layout */
        size_t tk = oc * (size_t)n->k * (size_t)n->k;
        float *tcol = dcol, *dxc = tcol + tk * ld;
        for (size_t j = 0; j < cs; j++)
            im2col(n->dy + (s0 + j) * oc * ohw, oc, oh, ow, n->k, 1, n->k - 1 - n->pad, ih, iw, tcol + j * ohw, ld);
        float *out = cs == 1 ? in->dy + s0 * isz : dxc;
        float beta = cs == 1 && !m->ow0 ? 1.0f : 0.0f;
        chunk_gemm(m, threaded, CblasNoTrans, CblasNoTrans, ic, ld, tk, m->wt, tk, tcol, ld, beta, out, ld);
        if (cs > 1)
            for (size_t j = 0; j < cs; j++)
                for (size_t c = 0; c < ic; c++) {
                    float *restrict dx = in->dy + (s0 + j) * isz + c * ohw;
                    const float *restrict src = dxc + c * ld + j * ohw;
                    if (m->ow0)
                        memcpy(dx, src, ohw * sizeof(float));
                    else
                        for (size_t q = 0; q < ohw; q++)
                            dx[q] += src[q];
                }
        break;
    }
    case CONV_DX_COL2IM:
        /* dcol (kk x ld) = W^T dyc */
        chunk_gemm(m, threaded, CblasTrans, CblasNoTrans, kk, ld, oc, m->params + n->w_off, kk, dyc, ld, 0.0f, dcol,
                   ld);
        for (size_t j = 0; j < cs; j++)
            col2im_add(dcol + j * ohw, ic, ih, iw, n->k, n->stride, n->pad, oh, ow, in->dy + (s0 + j) * isz, ld);
        break;
    }
}

/* The chunk's weight (and bias) gradient into dW (db) and its input gradient into the input's dy
 * (samples are disjoint between chunks). */
static void conv_backward_chunk(struct cgalr_model *m, nn_node_t *n, size_t s0, size_t cs, float *work, float *dws,
                                float *dW, float *db, int threaded)
{
    const float *dyc = conv_dw_chunk(m, n, s0, cs, work, dws, dW, db, threaded);
    if (m->nodes[n->in0].needs_grad)
        conv_dx_chunk(m, n, s0, cs, work, dws, dyc, threaded);
}

/* Floats of one weight-gradient accumulator: the kernel's, or 16 x oc x ic transformed ones. */
static size_t conv_dw_floats(const struct cgalr_model *m, const nn_node_t *n)
{
    size_t ic = m->nodes[n->in0].c;
    return n->conv.dw == CONV_DW_WINO ? nn_wino_ksize(n->c, ic) : n->c * m_kk(m, n);
}

static void conv_forward_job(void *ctx, int tid)
{
    conv_job_t *j = ctx;
    for (size_t c = (size_t)tid; c < j->nchunks; c += (size_t)j->T) {
        size_t s0 = c * j->S, cs = j->n->rows - s0 < j->S ? j->n->rows - s0 : j->S;
        conv_forward_chunk(j->m, j->n, s0, cs, j->m->work + (size_t)tid * j->m->work_stride,
                           j->m->dwork + (size_t)tid * j->m->dwork_stride, 1);
    }
}

/* Each thread sums its chunks' weight gradients into its own zeroed scratch; the caller adds the
 * scratches in thread order, so a given thread count always gives the same bits. */
static void conv_backward_job(void *ctx, int tid)
{
    conv_job_t *j = ctx;
    const nn_node_t *n = j->n;
    size_t nw = conv_dw_floats(j->m, n), nb = n->b_off != NN_NONE ? n->c : 0;
    float *g = j->m->gscratch + (size_t)tid * j->m->gscratch_stride;
    memset(g, 0, (nw + nb) * sizeof(float));
    for (size_t c = (size_t)tid; c < j->nchunks; c += (size_t)j->T) {
        size_t s0 = c * j->S, cs = n->rows - s0 < j->S ? n->rows - s0 : j->S;
        conv_backward_chunk(j->m, j->n, s0, cs, j->m->work + (size_t)tid * j->m->work_stride,
                            j->m->dwork + (size_t)tid * j->m->dwork_stride, g, nb ? g + nw : NULL, 1);
    }
}

void nn_conv_forward(struct cgalr_model *m, nn_node_t *n)
{
    const nn_node_t *in = &m->nodes[n->in0];
    int T = nn_pool_threads(m->pool);
    size_t S = n->conv.samples;
    size_t nchunks = (n->rows + S - 1) / S;
    if (n->conv.fwd == CONV_FWD_WINO)
        nn_wino_pack(m->params + n->w_off, n->c, in->c, m->apack);
    else if (n->conv.fwd == CONV_FWD_DIRECT || n->conv.fwd == CONV_FWD_S2)
        nn_pack_rows16(m->params + n->w_off, n->c, m_kk(m, n), m->apack);
    if (T > 1 && nchunks > 1) {
        conv_job_t j = {m, n, S, nchunks, T};
        nn_blas_threads(1);
        nn_pool_run(m->pool, conv_forward_job, &j);
        return;
    }
    for (size_t s0 = 0; s0 < n->rows; s0 += S)
        conv_forward_chunk(m, n, s0, n->rows - s0 < S ? n->rows - s0 : S, m->work, m->dwork, 0);
}

/* wt[c][(o*k + a)*k + b] = W[o][c][k-1-a][k-1-b] */
static void flip_kernel(const float *W, size_t oc, size_t ic, int k, float *wt)
{
    size_t k2 = (size_t)k * (size_t)k;
    for (size_t c = 0; c < ic; c++)
        for (size_t o = 0; o < oc; o++)
            for (size_t q = 0; q < k2; q++)
                wt[(c * oc + o) * k2 + q] = W[(o * ic + c) * k2 + (k2 - 1 - q)];
}

void nn_conv_backward(struct cgalr_model *m, nn_node_t *n)
{
    const nn_node_t *in = &m->nodes[n->in0];
    size_t ic = in->c;
    /* every input gradient but the column scatter convolves with the flipped kernel */
    if (in->needs_grad && n->conv.dx != CONV_DX_COL2IM)
        flip_kernel(m->params + n->w_off, n->c, ic, n->k, m->wt);
    int wdw = n->conv.dw == CONV_DW_WINO;
    if (in->needs_grad && n->conv.dx == CONV_DX_WINO)
        nn_wino_pack(m->wt, ic, n->c, m->apack);
    else if (in->needs_grad && n->conv.dx == CONV_DX_DIRECT)
        nn_pack_rows16(m->wt, ic, n->c * (size_t)n->k * (size_t)n->k, m->apack);
    int T = nn_pool_threads(m->pool);
    size_t S = n->conv.samples;
    size_t nchunks = (n->rows + S - 1) / S;
    float *dW = m->grads + n->w_off, *db = n->b_off != NN_NONE ? m->grads + n->b_off : NULL;
    if (T > 1 && nchunks > 1) {
        conv_job_t j = {m, n, S, nchunks, T};
        nn_blas_threads(1);
        nn_pool_run(m->pool, conv_backward_job, &j);
        size_t nw = conv_dw_floats(m, n);
        for (int t = 0; t < T; t++) {
            const float *g = m->gscratch + (size_t)t * m->gscratch_stride;
            if (wdw)
                nn_wino_dw_finish(g, n->c, ic, dW);
            else
                for (size_t i = 0; i < nw; i++)
                    dW[i] += g[i];
            for (size_t i = 0; db && i < n->c; i++)
                db[i] += g[nw + i];
        }
        return;
    }
    if (wdw) {
        /* one accumulator of transformed gradients, brought back to the kernel at the end */
        float *g = m->gscratch;
        memset(g, 0, nn_wino_ksize(n->c, ic) * sizeof(float));
        for (size_t s0 = 0; s0 < n->rows; s0 += S)
            conv_backward_chunk(m, n, s0, n->rows - s0 < S ? n->rows - s0 : S, m->work, m->dwork, g, db, 0);
        nn_wino_dw_finish(g, n->c, ic, dW);
        return;
    }
    for (size_t s0 = 0; s0 < n->rows; s0 += S)
        conv_backward_chunk(m, n, s0, n->rows - s0 < S ? n->rows - s0 : S, m->work, m->dwork, dW, db, 0);
}
