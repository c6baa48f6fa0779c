/* Forward and backward kernels of every op of the engine (float32, NCHW rows). Backward passes
 * accumulate (+=) into input gradients and parameter gradients so that nodes feeding several
 * consumers (residual branches, GIN readouts) need no special handling. */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nn/nn_internal.h"

#include "nn/nn_simd.h"

/* OpenBLAS's thread count is process-wide; remember what was set to skip redundant calls. */
static int blas_threads_now = -1;

void nn_blas_threads(int t)
{
    if (t != blas_threads_now) {
        openblas_set_num_threads(t);
        blas_threads_now = t;
    }
}

/* Row-major sgemm. Measured here: OpenBLAS's threads slow small products down (the GIN epoch
 * took 2.4x longer at 2 threads), so products under 2^24 multiply-adds run on one thread. */
static void gemm(const struct cgalr_model *m, CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, size_t M, size_t N, size_t K,
                 const float *A, size_t lda, const float *B, size_t ldb, float beta, float *C, size_t ldc)
{
    int t = m->cfg.threads;
    if (t > 1 && (double)M * (double)N * (double)K < 16777216.0)
        t = 1;
    nn_blas_threads(t);
    cblas_sgemm(CblasRowMajor, ta, tb, (int)M, (int)N, (int)K, 1.0f, A, (int)lda, B, (int)ldb, beta, C, (int)ldc);
}

size_t nn_conv_out(size_t in, int k, int stride, int pad)
{
    long v = ((long)in + 2L * pad - k) / stride + 1;
    return v > 0 ? (size_t)v : 0;
}

static size_t rowsize(const nn_node_t *n)
{
    return n->c * n->h * n->w;
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

/* Reductions with 8 independent partial sums: vectorisable without -ffast-math, and a little
 * more accurate than one running sum. */
static double sum8(const float *restrict x, size_t n)
{
    float acc[8] = {0};
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; k++)
            acc[k] += x[i + k];
    double s = 0.0;
    for (; i < n; i++)
        s += x[i];
    for (int k = 0; k < 8; k++)
        s += acc[k];
    return s;
}

/* sum (x - mu)^2 */
static double sqdev8(const float *restrict x, size_t n, float mu)
{
    float acc[8] = {0};
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; k++) {
            float d = x[i + k] - mu;
            acc[k] += d * d;
        }
    double s = 0.0;
    for (; i < n; i++)
        s += (double)(x[i] - mu) * (x[i] - mu);
    for (int k = 0; k < 8; k++)
        s += acc[k];
    return s;
}

/* sum dy * (x - mu) */
static double dotdev8(const float *restrict dy, const float *restrict x, size_t n, float mu)
{
    float acc[8] = {0};
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; k++)
            acc[k] += dy[i + k] * (x[i + k] - mu);
    double s = 0.0;
    for (; i < n; i++)
        s += (double)dy[i] * (x[i] - mu);
    for (int k = 0; k < 8; k++)
        s += acc[k];
    return s;
}

/* BatchNorm2d's affine map x * a + b; the backward recomputes the fused ReLU's mask with it, so
 * both passes must round alike (one function; no contraction under -std=c11). */
static inline float bn_pre(float x, float a, float b)
{
    return x * a + b;
}

/* With d = dy where x * a + b > 0 (else 0): sum d and sum d * (x - mu), with the partial sums of
 * sum8 and dotdev8 (the same bits as masking dy first and calling them). */
#if defined(__GNUC__) && defined(__x86_64__)
/* The 8 lanes of a1, a2 over the blocks of 8 of [0, n) in AVX2 registers; returns where it
 * stopped. Mul then add (no fused multiply-add), as in the portable loop, so both give one result. */
__attribute__((target("avx2,fma"))) static size_t masked_lanes_avx2(const float *restrict dy,
                                                                    const float *restrict x, size_t n, float a,
                                                                    float b, float mu, float *a1, float *a2)
{
    size_t i = 0;
    __m256 va = _mm256_set1_ps(a), vb = _mm256_set1_ps(b), vm = _mm256_set1_ps(mu), z = _mm256_setzero_ps();
    __m256 s1v = z, s2v = z;
    for (; i + 8 <= n; i += 8) {
        __m256 xv = _mm256_loadu_ps(x + i);
        __m256 v = _mm256_add_ps(_mm256_mul_ps(xv, va), vb);
        __m256 d = _mm256_and_ps(_mm256_cmp_ps(v, z, _CMP_GT_OQ), _mm256_loadu_ps(dy + i));
        s1v = _mm256_add_ps(s1v, d);
        s2v = _mm256_add_ps(s2v, _mm256_mul_ps(d, _mm256_sub_ps(xv, vm)));
    }
    _mm256_storeu_ps(a1, s1v);
    _mm256_storeu_ps(a2, s2v);
    return i;
}
#endif

static void masked_sums8(const float *restrict dy, const float *restrict x, size_t n, float a, float b, float mu,
                         double *sdy, double *sdyx)
{
    float a1[8] = {0}, a2[8] = {0};
    size_t i = 0;
#if defined(__GNUC__) && defined(__x86_64__)
    if (nn_isa() >= NN_ISA_AVX2)
        i = masked_lanes_avx2(dy, x, n, a, b, mu, a1, a2);
#endif
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; k++) {
            float d = bn_pre(x[i + k], a, b) > 0.0f ? dy[i + k] : 0.0f;
            a1[k] += d;
            a2[k] += d * (x[i + k] - mu);
        }
    double s1 = 0.0, s2 = 0.0;
    for (; i < n; i++) {
        float d = bn_pre(x[i], a, b) > 0.0f ? dy[i] : 0.0f;
        s1 += d;
        s2 += (double)d * (x[i] - mu);
    }
    for (int k = 0; k < 8; k++) {
        s1 += a1[k];
        s2 += a2[k];
    }
    *sdy = s1;
    *sdyx = s2;
}

/* Convolution works on chunks of S samples at once: col (kk x S*ohw) holds the chunk's patches,
 * so each GEMM has S*ohw columns instead of ohw (small feature maps made per-sample GEMMs
 * inefficient). Work layout: col | yc (oc x S*ohw) | dcol (kk x S*ohw, training only). */
size_t nn_conv_chunk(size_t kk, size_t ohw, size_t oc, size_t rows, int threads)
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
int nn_conv_tconv(int k, int stride, int pad)
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

/* Samples per chunk of a convolution over ic input channels: Winograd layers run their groups
 * (see wino.c), the others nn_conv_chunk. */
size_t nn_conv_samples(size_t ic, const nn_node_t *n, int threads)
{
    if (nn_conv_wino(n->c, ic, n->k, n->stride, n->pad) || nn_conv_wino(ic, n->c, n->k, n->stride, n->pad))
        return nn_wino_group(n->h, n->w, n->rows, threads);
    return nn_conv_chunk(ic * (size_t)n->k * (size_t)n->k, n->h * n->w, n->c, n->rows, threads);
}

/* ---- direct convolution ------------------------------------------------------------------- *
 * Stride-1 "same" convolutions with a multiple of 16 output rows (channels) run as a direct
 * convolution of one sample, without im2col: the input is copied once into a zero-padded plane
 * of width pw = w + 2p, so output position P = i*pw + j (padded-width numbering; the columns
 * j >= w are computed and dropped) reads tap (c, a, b) at xpad[c*ph*pw + a*pw + b + P]. An AVX2
 * register tile of 6 positions x 16 channels accumulates the k*k*c taps in order (one fused
 * multiply-add chain per output, so the result does not depend on the thread count). Used for the
 * forward pass (rows = output channels, A = W) and for the input gradient (rows = input channels,
 * A = the flipped transposed kernel, x = dy). */
#if defined(__GNUC__) && defined(__x86_64__)
#include <immintrin.h>
#define NN_DIRECT 1
#endif

enum { DR_NR = 6, DR_MR = 16 };

static int direct_enabled(void)
{
#ifdef NN_DIRECT
    static int on = -1;
    if (on < 0) {
        const char *e = getenv("CGALR_NN_DIRECT"); /* "0" turns it off (tuning, comparisons) */
        on = nn_isa() >= NN_ISA_AVX2 && !(e && e[0] == '0');
    }
    return on;
#else
    return 0;
#endif
}

int nn_conv_direct(size_t rows, int k, int stride, int pad)
{
    return rows % DR_MR == 0 && stride == 1 && 2 * pad == k - 1 && direct_enabled();
}

/* Padded input: c planes of (h+2p) x (w+2p) and a zeroed slack of 80 floats for the over-read of
 * the last tile (at most 5 positions + the 2p*pw + 2p reach of the taps, p <= 30). */
static size_t direct_xsz(size_t c, size_t h, size_t w, int p)
{
    return c * (h + 2 * (size_t)p) * (w + 2 * (size_t)p) + 80;
}

/* Floats of scratch for a direct convolution over c input planes of h x w (kernel k, pad p):
 * padded input (+ slack for the last tile's over-read), tap offsets, packed A block, output tile. */
size_t nn_direct_work(size_t c, size_t h, size_t w, int k, int p)
{
    size_t pw = w + 2 * (size_t)p, ph = h + 2 * (size_t)p, np = h * pw;
    size_t npr = (np + DR_NR - 1) / DR_NR * DR_NR, K = c * (size_t)k * (size_t)k;
    (void)ph;
    /* the weight gradient puts np*16 floats where the (unused) packed block and tile would be */
    return direct_xsz(c, h, w, p) + K + K * DR_MR + npr * DR_MR + 64;
}

#ifdef NN_DIRECT
__attribute__((target("avx2,fma"))) static void direct_tiles_avx2(const float *xpad, const int32_t *off, size_t K,
                                                                   const float *wb, size_t npr, float *tile)
{
    for (size_t P = 0; P < npr; P += DR_NR) {
        __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00,
               c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
        const float *xb = xpad + P;
        const float *wp = wb;
        for (size_t q = 0; q < K; q++, wp += DR_MR) {
            __m256 w0 = _mm256_loadu_ps(wp), w1 = _mm256_loadu_ps(wp + 8), b;
            const float *xs = xb + off[q];
            b = _mm256_broadcast_ss(xs);
            c00 = _mm256_fmadd_ps(b, w0, c00);
            c01 = _mm256_fmadd_ps(b, w1, c01);
            b = _mm256_broadcast_ss(xs + 1);
            c10 = _mm256_fmadd_ps(b, w0, c10);
            c11 = _mm256_fmadd_ps(b, w1, c11);
            b = _mm256_broadcast_ss(xs + 2);
            c20 = _mm256_fmadd_ps(b, w0, c20);
            c21 = _mm256_fmadd_ps(b, w1, c21);
            b = _mm256_broadcast_ss(xs + 3);
            c30 = _mm256_fmadd_ps(b, w0, c30);
            c31 = _mm256_fmadd_ps(b, w1, c31);
            b = _mm256_broadcast_ss(xs + 4);
            c40 = _mm256_fmadd_ps(b, w0, c40);
            c41 = _mm256_fmadd_ps(b, w1, c41);
            b = _mm256_broadcast_ss(xs + 5);
            c50 = _mm256_fmadd_ps(b, w0, c50);
            c51 = _mm256_fmadd_ps(b, w1, c51);
        }
        float *t = tile + P * DR_MR;
        _mm256_storeu_ps(t, c00);
        _mm256_storeu_ps(t + 8, c01);
        _mm256_storeu_ps(t + 16, c10);
        _mm256_storeu_ps(t + 24, c11);
        _mm256_storeu_ps(t + 32, c20);
        _mm256_storeu_ps(t + 40, c21);
        _mm256_storeu_ps(t + 48, c30);
        _mm256_storeu_ps(t + 56, c31);
        _mm256_storeu_ps(t + 64, c40);
        _mm256_storeu_ps(t + 72, c41);
        _mm256_storeu_ps(t + 80, c50);
        _mm256_storeu_ps(t + 88, c51);
    }
}

/* The same tiles with AVX-512: the 16 channels of a position fill one register, so a block of 12
 * positions (6 where fewer are left; npr is a multiple of 6) takes 12 accumulators and one weight
 * load a tap. Every output is the same fused multiply-add chain over q as above: the same bits. */
__attribute__((target("avx512f,avx2,fma"))) static void direct_tiles_avx512(const float *xpad, const int32_t *off,
                                                                             size_t K, const float *wb, size_t npr,
                                                                             float *tile)
{
    size_t P = 0;
    for (; P + 2 * DR_NR <= npr; P += 2 * DR_NR) {
        __m512 c[2 * DR_NR];
        for (int j = 0; j < 2 * DR_NR; j++)
            c[j] = _mm512_setzero_ps();
        const float *xb = xpad + P, *wp = wb;
        for (size_t q = 0; q < K; q++, wp += DR_MR) {
            __m512 wv = _mm512_loadu_ps(wp);
            const float *xs = xb + off[q];
            for (int j = 0; j < 2 * DR_NR; j++)
                c[j] = _mm512_fmadd_ps(_mm512_set1_ps(xs[j]), wv, c[j]);
        }
        for (int j = 0; j < 2 * DR_NR; j++)
            _mm512_storeu_ps(tile + (P + (size_t)j) * DR_MR, c[j]);
    }
    for (; P < npr; P += DR_NR) {
        __m512 c[DR_NR];
        for (int j = 0; j < DR_NR; j++)
            c[j] = _mm512_setzero_ps();
        const float *xb = xpad + P, *wp = wb;
        for (size_t q = 0; q < K; q++, wp += DR_MR) {
            __m512 wv = _mm512_loadu_ps(wp);
            const float *xs = xb + off[q];
            for (int j = 0; j < DR_NR; j++)
                c[j] = _mm512_fmadd_ps(_mm512_set1_ps(xs[j]), wv, c[j]);
        }
        for (int j = 0; j < DR_NR; j++)
            _mm512_storeu_ps(tile + (P + (size_t)j) * DR_MR, c[j]);
    }
}

void nn_direct_tiles(const float *xpad, const int32_t *off, size_t K, const float *wb, size_t npr, float *tile)
{
    if (nn_isa() >= NN_ISA_AVX512)
        direct_tiles_avx512(xpad, off, K, wb, npr, tile);
    else
        direct_tiles_avx2(xpad, off, K, wb, npr, tile);
}
#endif

#ifdef NN_DIRECT
/* Copies x (c x h x w) into zero-padded planes of width pw = w + 2p (plus the zeroed slack) and
 * fills the tap offsets off[(ch*k + a)*k + b] = ch*plane + a*pw + b after them; returns off. */
static int32_t *direct_pad(const float *x, size_t c, size_t h, size_t w, int k, int p, float *xpad)
{
    size_t pw = w + 2 * (size_t)p, ph = h + 2 * (size_t)p, hw = h * w, plane = ph * pw;
    size_t xsz = direct_xsz(c, h, w, p);
    int32_t *off = (int32_t *)(void *)(xpad + xsz);
    for (size_t ch = 0; ch < c; ch++) {
        float *dst = xpad + ch * plane;
        const float *src = x + ch * hw;
        memset(dst, 0, (size_t)p * pw * sizeof(float));
        for (size_t i = 0; i < h; i++) {
            float *row = dst + (i + (size_t)p) * pw;
            for (int q = 0; q < p; q++)
                row[q] = row[(size_t)q + (size_t)p + w] = 0.0f;
            memcpy(row + p, src + i * w, w * sizeof(float));
        }
        memset(dst + (h + (size_t)p) * pw, 0, (size_t)p * pw * sizeof(float));
    }
    memset(xpad + c * plane, 0, (xsz - c * plane) * sizeof(float));
    for (size_t ch = 0; ch < c; ch++)
        for (int a = 0; a < k; a++)
            for (int b = 0; b < k; b++)
                off[(ch * (size_t)k + (size_t)a) * (size_t)k + (size_t)b] =
                    (int32_t)(ch * plane + (size_t)a * pw + (size_t)b);
    return off;
}

/* Weight gradient of one sample as an outer-product GEMM: dW[o][q] += sum_P dyT[P][o] * x_q[P],
 * where x_q[P] = xpad[off[q] + P] (tap q of padded-width position P) and dyT is dy transposed to
 * position-major 16-channel rows with zeros at the dropped columns. Register tile: 6 taps x 16
 * channels, the same shape as the forward tile, accumulated over all positions. */
/* The last 1-4 taps of the weight gradient: a 4 x 16 tile (the 6-wide one would compute up to 5
 * duplicates of the last tap). */
__attribute__((target("avx2,fma"))) static void direct_dw4(const float *dyT, size_t np, const float *xpad,
                                                            const int32_t *off, size_t q, size_t K, float *dW,
                                                            size_t ldw)
{
    const float *x0 = xpad + off[q], *x1 = xpad + off[q + 1 < K ? q + 1 : K - 1];
    const float *x2 = xpad + off[q + 2 < K ? q + 2 : K - 1], *x3 = xpad + off[q + 3 < K ? q + 3 : K - 1];
    __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00, c31 = c00;
    const float *dp = dyT;
    for (size_t P = 0; P < np; P++, dp += 16) {
        __m256 w0 = _mm256_loadu_ps(dp), w1 = _mm256_loadu_ps(dp + 8), b;
        b = _mm256_broadcast_ss(x0 + P);
        c00 = _mm256_fmadd_ps(b, w0, c00);
        c01 = _mm256_fmadd_ps(b, w1, c01);
        b = _mm256_broadcast_ss(x1 + P);
        c10 = _mm256_fmadd_ps(b, w0, c10);
        c11 = _mm256_fmadd_ps(b, w1, c11);
        b = _mm256_broadcast_ss(x2 + P);
        c20 = _mm256_fmadd_ps(b, w0, c20);
        c21 = _mm256_fmadd_ps(b, w1, c21);
        b = _mm256_broadcast_ss(x3 + P);
        c30 = _mm256_fmadd_ps(b, w0, c30);
        c31 = _mm256_fmadd_ps(b, w1, c31);
    }
    float t[4][16];
    _mm256_storeu_ps(t[0], c00);
    _mm256_storeu_ps(t[0] + 8, c01);
    _mm256_storeu_ps(t[1], c10);
    _mm256_storeu_ps(t[1] + 8, c11);
    _mm256_storeu_ps(t[2], c20);
    _mm256_storeu_ps(t[2] + 8, c21);
    _mm256_storeu_ps(t[3], c30);
    _mm256_storeu_ps(t[3] + 8, c31);
    for (size_t r = 0; r < 4 && q + r < K; r++)
        for (size_t o = 0; o < 16; o++)
            dW[o * ldw + q + r] += t[r][o];
}

__attribute__((target("avx2,fma"))) static void direct_dw6_avx2(const float *dyT, size_t np, const float *xpad,
                                                                 const int32_t *off, size_t K, float *dW, size_t ldw)
{
    for (size_t q = 0; q < K; q += 6) {
        if (K - q <= 4) {
            direct_dw4(dyT, np, xpad, off, q, K, dW, ldw);
            break;
        }
        const float *x[6];
        for (int r = 0; r < 6; r++)
            x[r] = xpad + off[q + (size_t)r < K ? q + (size_t)r : K - 1];
        const float *x0 = x[0], *x1 = x[1], *x2 = x[2], *x3 = x[3], *x4 = x[4], *x5 = x[5];
        __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00,
               c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
        const float *dp = dyT;
        for (size_t P = 0; P < np; P++, dp += 16) {
            __m256 w0 = _mm256_loadu_ps(dp), w1 = _mm256_loadu_ps(dp + 8), b;
            b = _mm256_broadcast_ss(x0 + P);
            c00 = _mm256_fmadd_ps(b, w0, c00);
            c01 = _mm256_fmadd_ps(b, w1, c01);
            b = _mm256_broadcast_ss(x1 + P);
            c10 = _mm256_fmadd_ps(b, w0, c10);
            c11 = _mm256_fmadd_ps(b, w1, c11);
            b = _mm256_broadcast_ss(x2 + P);
            c20 = _mm256_fmadd_ps(b, w0, c20);
            c21 = _mm256_fmadd_ps(b, w1, c21);
            b = _mm256_broadcast_ss(x3 + P);
            c30 = _mm256_fmadd_ps(b, w0, c30);
            c31 = _mm256_fmadd_ps(b, w1, c31);
            b = _mm256_broadcast_ss(x4 + P);
            c40 = _mm256_fmadd_ps(b, w0, c40);
            c41 = _mm256_fmadd_ps(b, w1, c41);
            b = _mm256_broadcast_ss(x5 + P);
            c50 = _mm256_fmadd_ps(b, w0, c50);
            c51 = _mm256_fmadd_ps(b, w1, c51);
        }
        float t[6][16];
        _mm256_storeu_ps(t[0], c00);
        _mm256_storeu_ps(t[0] + 8, c01);
        _mm256_storeu_ps(t[1], c10);
        _mm256_storeu_ps(t[1] + 8, c11);
        _mm256_storeu_ps(t[2], c20);
        _mm256_storeu_ps(t[2] + 8, c21);
        _mm256_storeu_ps(t[3], c30);
        _mm256_storeu_ps(t[3] + 8, c31);
        _mm256_storeu_ps(t[4], c40);
        _mm256_storeu_ps(t[4] + 8, c41);
        _mm256_storeu_ps(t[5], c50);
        _mm256_storeu_ps(t[5] + 8, c51);
        for (size_t r = 0; r < 6 && q + r < K; r++)
            for (size_t o = 0; o < 16; o++)
                dW[o * ldw + q + r] += t[r][o];
    }
}

/* N taps (q .. q+N-1, clamped to the last) of the weight gradient with AVX-512: the 16 channels of
 * a position are one register, N accumulators. Each dW entry is the same fused multiply-add chain
 * over P as in the AVX2 kernels: the same bits. */
#define DW_AVX512(N)                                                                                            \
    __attribute__((target("avx512f,avx2,fma"))) static void direct_dw##N##_avx512(                             \
        const float *dyT, size_t np, const float *xpad, const int32_t *off, size_t q, size_t K, float *dW,       \
        size_t ldw)                                                                                             \
    {                                                                                                           \
        const float *x[N];                                                                                      \
        __m512 c[N];                                                                                            \
        for (int r = 0; r < N; r++) {                                                                           \
            x[r] = xpad + off[q + (size_t)r < K ? q + (size_t)r : K - 1];                                       \
            c[r] = _mm512_setzero_ps();                                                                         \
        }                                                                                                       \
        const float *dp = dyT;                                                                                  \
        for (size_t P = 0; P < np; P++, dp += 16) {                                                             \
            __m512 wv = _mm512_loadu_ps(dp);                                                                    \
            for (int r = 0; r < N; r++)                                                                         \
                c[r] = _mm512_fmadd_ps(_mm512_set1_ps(x[r][P]), wv, c[r]);                                      \
        }                                                                                                       \
        float t[N][16];                                                                                         \
        for (int r = 0; r < N; r++)                                                                             \
            _mm512_storeu_ps(t[r], c[r]);                                                                       \
        for (size_t r = 0; r < N && q + r < K; r++)                                                             \
            for (size_t o = 0; o < 16; o++)                                                                     \
                dW[o * ldw + q + r] += t[r][o];                                                                 \
    }
DW_AVX512(12)
DW_AVX512(6)
#undef DW_AVX512

void nn_direct_dw6(const float *dyT, size_t np, const float *xpad, const int32_t *off, size_t K, float *dW, size_t ldw)
{
    if (nn_isa() < NN_ISA_AVX512) {
        direct_dw6_avx2(dyT, np, xpad, off, K, dW, ldw);
        return;
    }
    /* blocks of 12 taps; a last block of at most 6 takes the 6-wide tile */
    for (size_t q = 0; q < K; q += 12) {
        if (K - q <= 6) {
            direct_dw6_avx512(dyT, np, xpad, off, q, K, dW, ldw);
            break;
        }
        direct_dw12_avx512(dyT, np, xpad, off, q, K, dW, ldw);
    }
}

#endif

/* Weight gradient of one sample directly: dW (M x c*k*k) += dy (M x h*w) correlated with x
 * (c x h x w); M a multiple of 16. Measured against im2col + OpenBLAS on single layers here:
 * 1.4x faster with 16 channels and 1.15x with 32 on 32x32 maps, even at 16x16, slower at 8x8
 * (too few positions per tile), hence only maps of at least DW_MIN_HW positions. */
enum { DW_MIN_HW = 1024 };

static void conv_direct_dw(const float *dy, size_t M, const float *x, size_t c, size_t h, size_t w, int k, int p,
                            float *dW, float *scratch)
{
#ifdef NN_DIRECT
    size_t pw = w + 2 * (size_t)p, np = h * pw, K = c * (size_t)k * (size_t)k, hw = h * w;
    float *xpad = scratch;
    int32_t *off = direct_pad(x, c, h, w, k, p, xpad);
    float *dyT = (float *)(void *)(off + K);
    for (size_t m0 = 0; m0 < M; m0 += 16) {
        for (size_t i = 0; i < h; i++) {
            for (size_t j = 0; j < w; j++) {
                float *d = dyT + (i * pw + j) * 16;
                for (size_t o = 0; o < 16; o++)
                    d[o] = dy[(m0 + o) * hw + i * w + j];
            }
            for (size_t j = w; j < pw; j++)
                memset(dyT + (i * pw + j) * 16, 0, 16 * sizeof(float));
        }
        nn_direct_dw6(dyT, np, xpad, off, K, dW + m0 * K, K);
    }
#else
    (void)dy, (void)M, (void)x, (void)c, (void)h, (void)w, (void)k, (void)p, (void)dW, (void)scratch;
#endif
}

#ifdef NN_DIRECT
/* Tile (position-major, 16 channels a row) to 16 NCHW planes, 8 positions x 8 channels at a time
 * through an in-register transpose (w a multiple of 8, so 8 positions never straddle a row). */
__attribute__((target("avx2,fma"))) static void direct_store8(const float *tile, size_t h, size_t w, size_t pw,
                                                               float *y, const float *bias, int accum)
{
    size_t hw = h * w;
    for (size_t i = 0; i < h; i++)
        for (size_t j = 0; j < w; j += 8) {
            const float *t = tile + (i * pw + j) * DR_MR;
            for (size_t half = 0; half < 2; half++) {
                const float *tb = t + half * 8;
                __m256 o[8];
                for (int r = 0; r < 8; r++)
                    o[r] = _mm256_loadu_ps(tb + 16 * r);
                nn_transpose8(o);
                for (size_t c = 0; c < 8; c++) {
                    float *dst = y + (half * 8 + c) * hw + i * w + j;
                    if (accum)
                        _mm256_storeu_ps(dst, _mm256_add_ps(_mm256_loadu_ps(dst), o[c]));
                    else if (bias)
                        _mm256_storeu_ps(dst, _mm256_add_ps(o[c], _mm256_set1_ps(bias[half * 8 + c])));
                    else
                        _mm256_storeu_ps(dst, o[c]);
                }
            }
        }
}
#endif

/* Tile (position-major rows of 16 channels, row stride pw positions) to 16 NCHW planes of h x w
 * [+ bias], or added to them with accum. */
#ifndef NN_DIRECT
/* never reached: nn_conv_direct is false without the AVX2 kernels */
void nn_direct_tiles(const float *xpad, const int32_t *off, size_t K, const float *wb, size_t npr, float *tile)
{
    (void)xpad, (void)off, (void)K, (void)wb, (void)npr, (void)tile;
    abort();
}
void nn_direct_dw6(const float *dyT, size_t np, const float *xpad, const int32_t *off, size_t K, float *dW, size_t ldw)
{
    (void)dyT, (void)np, (void)xpad, (void)off, (void)K, (void)dW, (void)ldw;
    abort();
}
#endif

void nn_direct_store(const float *tile, size_t h, size_t w, size_t pw, float *y, const float *bias, int accum)
{
    size_t hw = h * w;
#ifdef NN_DIRECT
    if (w % 8 == 0) {
        direct_store8(tile, h, w, pw, y, bias, accum);
        return;
    }
#endif
    for (size_t o = 0; o < DR_MR; o++) {
        float *yo = y + o * hw;
        float bo = bias ? bias[o] : 0.0f;
        for (size_t i = 0; i < h; i++) {
            const float *t = tile + i * pw * DR_MR + o;
            float *yr = yo + i * w;
            if (accum)
                for (size_t j = 0; j < w; j++)
                    yr[j] += t[j * DR_MR];
            else
                for (size_t j = 0; j < w; j++)
                    yr[j] = t[j * DR_MR] + bo;
        }
    }
}

/* ap = A (M x K) in blocks of 16 rows, each stored tap-major: ap[m0*K + q*16 + o] = A[m0+o][q].
 * Done once per layer and pass (not per sample), shared read-only by the threads. */
static void pack_rows16(const float *A, size_t M, size_t K, float *ap)
{
    for (size_t m0 = 0; m0 < M; m0 += DR_MR)
        for (size_t o = 0; o < DR_MR; o++)
            for (size_t q = 0; q < K; q++)
                ap[m0 * K + q * DR_MR + o] = A[(m0 + o) * K + q];
}

/* y (M x h*w, NCHW planes) = A (M x c*k*k, packed by pack_rows16 into ap) conv x (c x h x w)
 * [+ bias], or += with accum. */
static void conv_direct(const float *ap, size_t M, const float *x, size_t c, size_t h, size_t w, int k, int p,
                        float *y, const float *bias, int accum, float *scratch)
{
#ifdef NN_DIRECT
    size_t pw = w + 2 * (size_t)p, np = h * pw, hw = h * w;
    size_t npr = (np + DR_NR - 1) / DR_NR * DR_NR, K = c * (size_t)k * (size_t)k;
    float *xpad = scratch;
    int32_t *off = direct_pad(x, c, h, w, k, p, xpad);
    float *tile = (float *)(void *)(off + K) + K * DR_MR;
    for (size_t m0 = 0; m0 < M; m0 += DR_MR) {
        nn_direct_tiles(xpad, off, K, ap + m0 * K, npr, tile);
        nn_direct_store(tile, h, w, pw, y + m0 * hw, bias ? bias + m0 : NULL, accum);
    }
#else
    (void)ap, (void)M, (void)x, (void)c, (void)h, (void)w, (void)k, (void)p, (void)y, (void)bias, (void)accum,
        (void)scratch;
#endif
}

/* ---- 3x3 stride-2 pad-1 convolutions on even maps, directly ---------------------------------- *
 * The input splits into its four phase planes x_pq[c][u][v] = x[c][2u+p][2v+q] (oh x ow each),
 * stored with one zero row above and one zero column to the left (width pw = ow + 1). Tap (a, b)
 * of output (i, j) reads x[2i+a-1][2j+b-1]: phase p = (a != 1), padded row i + (a != 0), and the
 * same for columns, so with output positions P = i*pw + j every tap is one offset into the phase
 * planes and the direct convolution's register tiles apply unchanged (forward and weight
 * gradient). */
int nn_conv_s2(size_t rows, int k, int stride, int pad, size_t ih, size_t iw)
{
    return k == 3 && stride == 2 && pad == 1 && ih % 2 == 0 && iw % 2 == 0 && ih > 0 && iw > 0 && rows % DR_MR == 0 &&
           direct_enabled();
}

static size_t s2_xsz(size_t c, size_t oh, size_t ow)
{
    return 4 * c * (oh + 1) * (ow + 1) + 80;
}

/* padded phase planes | tap offsets | (forward) packed-block gap and output tile, or (weight
 * gradient) the position-major output gradient */
size_t nn_s2_work(size_t c, size_t oh, size_t ow)
{
    size_t pw = ow + 1, np = oh * pw, npr = (np + DR_NR - 1) / DR_NR * DR_NR, K = 9 * c;
    return s2_xsz(c, oh, ow) + K + K * DR_MR + npr * DR_MR + 64;
}

static int32_t *s2_pad(const float *x, size_t c, size_t h, size_t w, float *xp)
{
    size_t oh = h / 2, ow = w / 2, pw = ow + 1, plane = (oh + 1) * pw, xsz = s2_xsz(c, oh, ow);
    memset(xp, 0, xsz * sizeof(float));
    for (size_t ch = 0; ch < c; ch++)
        for (size_t p = 0; p < 2; p++)
            for (size_t q = 0; q < 2; q++) {
                float *dst = xp + ((ch * 2 + p) * 2 + q) * plane;
                for (size_t u = 0; u < oh; u++) {
                    const float *src = x + (ch * h + 2 * u + p) * w + q;
                    float *d = dst + (u + 1) * pw + 1;
                    for (size_t v = 0; v < ow; v++)
                        d[v] = src[2 * v];
                }
            }
    int32_t *off = (int32_t *)(void *)(xp + xsz);
    for (size_t ch = 0; ch < c; ch++)
        for (size_t a = 0; a < 3; a++)
            for (size_t b = 0; b < 3; b++) {
                size_t p = a != 1, q = b != 1;
                off[(ch * 3 + a) * 3 + b] =
                    (int32_t)(((ch * 2 + p) * 2 + q) * plane + (size_t)(a != 0) * pw + (size_t)(b != 0));
            }
    return off;
}

/* y (M x oh x ow) = W (packed in ap, M x 9c) * x (c x h x w), stride 2 [+ bias] */
static void conv_s2(const float *ap, size_t M, const float *x, size_t c, size_t h, size_t w, float *y,
                    const float *bias, float *scratch)
{
    size_t oh = h / 2, ow = w / 2, pw = ow + 1, np = oh * pw, ohw = oh * ow, K = 9 * c;
    size_t npr = (np + DR_NR - 1) / DR_NR * DR_NR;
    int32_t *off = s2_pad(x, c, h, w, scratch);
    float *tile = (float *)(void *)(off + K) + K * DR_MR;
    for (size_t m0 = 0; m0 < M; m0 += DR_MR) {
        nn_direct_tiles(scratch, off, K, ap + m0 * K, npr, tile);
        nn_direct_store(tile, oh, ow, pw, y + m0 * ohw, bias ? bias + m0 : NULL, 0);
    }
}

/* dW (M x 9c) += dy (M x oh x ow) correlated with the phase planes of x */
static void conv_s2_dw(const float *dy, size_t M, const float *x, size_t c, size_t h, size_t w, float *dW,
                       float *scratch)
{
    size_t oh = h / 2, ow = w / 2, pw = ow + 1, np = oh * pw, ohw = oh * ow, K = 9 * c;
    int32_t *off = s2_pad(x, c, h, w, scratch);
    float *dyT = (float *)(void *)(off + K);
    for (size_t m0 = 0; m0 < M; m0 += DR_MR) {
        for (size_t i = 0; i < oh; i++) {
            for (size_t j = 0; j < ow; j++) {
                float *d = dyT + (i * pw + j) * DR_MR;
                for (size_t o = 0; o < DR_MR; o++)
                    d[o] = dy[(m0 + o) * ohw + i * ow + j];
            }
            memset(dyT + (i * pw + ow) * DR_MR, 0, DR_MR * sizeof(float));
        }
        nn_direct_dw6(dyT, np, scratch, off, K, dW + m0 * K, K);
    }
}

/* Raw GEMM for pool threads: the thread count was set to 1 before the parallel region. */
static void gemm1(CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, size_t M, size_t N, size_t K, const float *A, size_t lda,
                  const float *B, size_t ldb, float beta, float *C, size_t ldc)
{
    cblas_sgemm(CblasRowMajor, ta, tb, (int)M, (int)N, (int)K, 1.0f, A, (int)lda, B, (int)ldb, beta, C, (int)ldc);
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
    if (nn_conv_wino(oc, ic, n->k, n->stride, n->pad)) {
        const float *b = n->b_off != NN_NONE ? m->params + n->b_off : NULL;
        nn_wino_conv(m->apack, oc, in->y + s0 * isz, cs, ic, ih, iw, n->y + s0 * oc * ohw, b, 0, dws);
        return;
    }
    if (nn_conv_s2(oc, n->k, n->stride, n->pad, ih, iw)) {
        const float *b = n->b_off != NN_NONE ? m->params + n->b_off : NULL;
        for (size_t j = 0; j < cs; j++)
            conv_s2(m->apack, oc, in->y + (s0 + j) * isz, ic, ih, iw, n->y + (s0 + j) * oc * ohw, b, dws);
        return;
    }
    if (nn_conv_direct(oc, n->k, n->stride, n->pad)) {
        const float *b = n->b_off != NN_NONE ? m->params + n->b_off : NULL;
        for (size_t j = 0; j < cs; j++)
            conv_direct(m->apack, oc, in->y + (s0 + j) * isz, ic, ih, iw, n->k, n->pad, n->y + (s0 + j) * oc * ohw, b, 0,
                        dws);
        return;
    }
    /* one sample: its NCHW output already has the chunk layout, so the GEMM writes it directly */
    float *col = work, *yc = cs == 1 ? n->y + s0 * oc * ohw : work + kk * ld;
    for (size_t j = 0; j < cs; j++)
        im2col(in->y + (s0 + j) * isz, ic, ih, iw, n->k, n->stride, n->pad, oh, ow, col + j * ohw, ld);
    /* yc (oc x ld) = W (oc x kk) * col (kk x ld) */
    if (threaded)
        gemm1(CblasNoTrans, CblasNoTrans, oc, ld, kk, W, kk, col, ld, 0.0f, yc, ld);
    else
        gemm(m, CblasNoTrans, CblasNoTrans, oc, ld, kk, W, kk, col, ld, 0.0f, yc, ld);
    const float *b = n->b_off != NN_NONE ? m->params + n->b_off : NULL;
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

/* Accumulates the chunk's weight (and bias) gradient into dW (db) and its input gradient into
 * the input's dy (samples are disjoint between chunks). */
static void conv_backward_chunk(struct cgalr_model *m, nn_node_t *n, size_t s0, size_t cs, float *work, float *dws,
                                float *dW, float *db, int threaded)
{
    nn_node_t *in = &m->nodes[n->in0];
    size_t ic = in->c, ih = in->h, iw = in->w, oc = n->c, oh = n->h, ow = n->w;
    size_t kk = ic * (size_t)n->k * (size_t)n->k, ohw = oh * ow, isz = ic * ih * iw, ld = cs * ohw;
    const float *W = m->params + n->w_off;
    float *col = work, *dyc = work + kk * ld, *dcol = dyc + oc * ld;
    if (nn_conv_wino(oc, ic, n->k, n->stride, n->pad)) {
        /* Winograd: dW points at the transformed accumulator dU (16 x oc x ic), see conv_backward */
        nn_wino_dw(n->dy + s0 * oc * ohw, oc, in->y + s0 * isz, cs, ic, ih, iw, dW, dws);
        for (size_t j = 0; j < cs; j++) {
            const float *dy = n->dy + (s0 + j) * oc * ohw;
            for (size_t o = 0; db && o < oc; o++)
                db[o] += (float)sum8(dy + o * ohw, ohw);
        }
        goto input_grad;
    }
    if (nn_conv_direct(oc, n->k, n->stride, n->pad) && ohw >= DW_MIN_HW) {
        /* weight (and bias) gradient directly, sample by sample */
        for (size_t j = 0; j < cs; j++) {
            const float *dy = n->dy + (s0 + j) * oc * ohw;
            conv_direct_dw(dy, oc, in->y + (s0 + j) * isz, ic, ih, iw, n->k, n->pad, dW, dws);
            for (size_t o = 0; db && o < oc; o++)
                db[o] += (float)sum8(dy + o * ohw, ohw);
        }
        goto input_grad;
    }
    if (nn_conv_s2(oc, n->k, n->stride, n->pad, ih, iw)) {
        for (size_t j = 0; j < cs; j++) {
            const float *dy = n->dy + (s0 + j) * oc * ohw;
            conv_s2_dw(dy, oc, in->y + (s0 + j) * isz, ic, ih, iw, dW, dws);
            for (size_t o = 0; db && o < oc; o++)
                db[o] += (float)sum8(dy + o * ohw, ohw);
        }
        /* the input gradient below (column scatter) takes the output gradient in chunk layout */
        dyc = chunk_dy(n, s0, cs, dyc);
        goto input_grad;
    }
    dyc = chunk_dy(n, s0, cs, dyc);
    for (size_t j = 0; j < cs; j++)
        im2col(in->y + (s0 + j) * isz, ic, ih, iw, n->k, n->stride, n->pad, oh, ow, col + j * ohw, ld);
    /* dW (oc x kk) += dyc (oc x ld) * col^T */
    if (threaded)
        gemm1(CblasNoTrans, CblasTrans, oc, kk, ld, dyc, ld, col, ld, 1.0f, dW, kk);
    else
        gemm(m, CblasNoTrans, CblasTrans, oc, kk, ld, dyc, ld, col, ld, 1.0f, dW, kk);
    if (db)
        for (size_t o = 0; o < oc; o++)
            db[o] += (float)sum8(dyc + o * ld, ld);
input_grad:
    if (in->needs_grad && nn_conv_wino(ic, oc, n->k, n->stride, n->pad)) {
        nn_wino_conv(m->apack, ic, n->dy + s0 * oc * ohw, cs, oc, oh, ow, in->dy + s0 * isz, NULL, !m->ow0, dws);
    } else if (in->needs_grad && nn_conv_direct(ic, n->k, n->stride, n->pad)) {
        /* dx += conv(dy, flipped W^T), directly */
        for (size_t j = 0; j < cs; j++)
            conv_direct(m->apack, ic, n->dy + (s0 + j) * oc * ohw, oc, oh, ow, n->k, n->k - 1 - n->pad,
                        in->dy + (s0 + j) * isz, NULL, !m->ow0, dws);
    } else if (in->needs_grad && nn_conv_tconv(n->k, n->stride, n->pad)) {
        /* dx = conv(dy, flipped W^T): tcol (oc*k*k x ld) gathers dy's patches (same padding), and
         * (ic x ld) = wt (ic x oc*k*k) * tcol; one sample's NCHW gradient has the chunk layout */
        size_t tk = oc * (size_t)n->k * (size_t)n->k;
        float *tcol = dcol, *dxc = tcol + tk * ld;
        for (size_t j = 0; j < cs; j++)
            im2col(n->dy + (s0 + j) * oc * ohw, oc, oh, ow, n->k, 1, n->k - 1 - n->pad, ih, iw, tcol + j * ohw, ld);
        float *out = cs == 1 ? in->dy + s0 * isz : dxc;
        float beta = cs == 1 && !m->ow0 ? 1.0f : 0.0f;
        if (threaded)
            gemm1(CblasNoTrans, CblasNoTrans, ic, ld, tk, m->wt, tk, tcol, ld, beta, out, ld);
        else
            gemm(m, CblasNoTrans, CblasNoTrans, ic, ld, tk, m->wt, tk, tcol, ld, beta, out, ld);
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
    } else if (in->needs_grad) {
        /* dcol (kk x ld) = W^T dyc */
        if (threaded)
            gemm1(CblasTrans, CblasNoTrans, kk, ld, oc, W, kk, dyc, ld, 0.0f, dcol, ld);
        else
            gemm(m, CblasTrans, CblasNoTrans, kk, ld, oc, W, kk, dyc, ld, 0.0f, dcol, ld);
        for (size_t j = 0; j < cs; j++)
            col2im_add(dcol + j * ohw, ic, ih, iw, n->k, n->stride, n->pad, oh, ow, in->dy + (s0 + j) * isz, ld);
    }
}

/* Floats of one weight-gradient accumulator: the kernel's, or 16 x oc x ic transformed ones. */
static size_t conv_dw_floats(const struct cgalr_model *m, const nn_node_t *n)
{
    size_t ic = m->nodes[n->in0].c;
    return nn_conv_wino(n->c, ic, n->k, n->stride, n->pad) ? nn_wino_ksize(n->c, ic) : n->c * m_kk(m, n);
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

static void conv_forward(struct cgalr_model *m, nn_node_t *n)
{
    const nn_node_t *in = &m->nodes[n->in0];
    size_t kk = m_kk(m, n), ohw = n->h * n->w;
    int T = nn_pool_threads(m->pool);
    size_t S = nn_conv_samples(in->c, n, T);
    size_t nchunks = (n->rows + S - 1) / S;
    (void)kk, (void)ohw;
    if (nn_conv_wino(n->c, in->c, n->k, n->stride, n->pad))
        nn_wino_pack(m->params + n->w_off, n->c, in->c, m->apack);
    else if (nn_conv_direct(n->c, n->k, n->stride, n->pad) || nn_conv_s2(n->c, n->k, n->stride, n->pad, in->h, in->w))
        pack_rows16(m->params + n->w_off, n->c, kk, m->apack);
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

static void conv_backward(struct cgalr_model *m, nn_node_t *n)
{
    if (m->nodes[n->in0].needs_grad && nn_conv_tconv(n->k, n->stride, n->pad))
        flip_kernel(m->params + n->w_off, n->c, m->nodes[n->in0].c, n->k, m->wt);
    size_t ic = m->nodes[n->in0].c;
    int wdw = nn_conv_wino(n->c, ic, n->k, n->stride, n->pad);
    if (m->nodes[n->in0].needs_grad && nn_conv_wino(ic, n->c, n->k, n->stride, n->pad))
        nn_wino_pack(m->wt, ic, n->c, m->apack);
    else if (m->nodes[n->in0].needs_grad && nn_conv_direct(m->nodes[n->in0].c, n->k, n->stride, n->pad))
        pack_rows16(m->wt, m->nodes[n->in0].c, n->c * (size_t)n->k * (size_t)n->k, m->apack);
    int T = nn_pool_threads(m->pool);
    size_t S = nn_conv_samples(ic, n, T);
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

static void linear_forward(struct cgalr_model *m, nn_node_t *n)
{
    const nn_node_t *in = &m->nodes[n->in0];
    size_t k = rowsize(in), o = n->c, r = n->rows;
    const float *W = m->params + n->w_off;
    /* y (r x o) = x (r x k) W^T */
    gemm(m, CblasNoTrans, CblasTrans, r, o, k, in->y, k, W, k, 0.0f, n->y, o);
    if (n->b_off != NN_NONE) {
        const float *b = m->params + n->b_off;
        for (size_t i = 0; i < r; i++)
            for (size_t j = 0; j < o; j++)
                n->y[i * o + j] += b[j];
    }
}

static void linear_backward(struct cgalr_model *m, nn_node_t *n)
{
    nn_node_t *in = &m->nodes[n->in0];
    size_t k = rowsize(in), o = n->c, r = n->rows;
    const float *W = m->params + n->w_off;
    float *dW = m->grads + n->w_off;
    if (r == 0)
        return;
    gemm(m, CblasTrans, CblasNoTrans, o, k, r, n->dy, o, in->y, k, 1.0f, dW, k);
    if (n->b_off != NN_NONE) {
        float *db = m->grads + n->b_off;
        for (size_t i = 0; i < r; i++)
            for (size_t j = 0; j < o; j++)
                db[j] += n->dy[i * o + j];
    }
    if (in->needs_grad)
        gemm(m, CblasNoTrans, CblasNoTrans, r, k, o, n->dy, o, W, k, m->ow0 ? 0.0f : 1.0f, in->dy, k);
}

/* A BatchNorm2d that feeds an in-place ReLU applies the ReLU in its own output pass, and its
 * backward masks the gradient by that output; the ReLU node then does nothing. (Only when the
 * ReLU is part of the forward pass being run, so a forward stopped at the BN is unchanged.) */
static int bn_fused(const struct cgalr_model *m, const nn_node_t *bn)
{
    if (bn->fuse_relu <= 0 || bn->fuse_relu > m->fwd_upto)
        return 0;
    return (bn->op == OP_BN && bn->h * bn->w > 1) || bn->op == OP_ADD; /* an ADD fuses the same way */
}

/* Elementwise work split into contiguous ranges over the pool threads (each element's arithmetic
 * is the same at any thread count); small tensors run inline. */
typedef void (*nn_range_fn)(void *ctx, size_t lo, size_t hi);
typedef struct par_job {
    nn_range_fn fn;
    void *ctx;
    size_t n;
    int T;
} par_job_t;

static void par_job(void *ctx, int tid)
{
    par_job_t *j = ctx;
    j->fn(j->ctx, j->n * (size_t)tid / (size_t)j->T, j->n * (size_t)(tid + 1) / (size_t)j->T);
}

void nn_par_for(struct cgalr_model *m, size_t n, size_t grain, nn_range_fn fn, void *ctx)
{
    int T = nn_pool_threads(m->pool);
    if (T > 1 && n * grain >= ((size_t)1 << 16)) {
        par_job_t j = {fn, ctx, n, T};
        nn_pool_run(m->pool, par_job, &j);
    } else {
        fn(ctx, 0, n);
    }
}

typedef struct ew_ctx {
    const float *a, *b, *y;
    float *out, *out2;
    int store, store2; /* ADD backward: store into out / out2 instead of adding */
} ew_ctx_t;

static void relu_range(void *ctx, size_t lo, size_t hi)
{
    ew_ctx_t *c = ctx;
    const float *x = c->a;
    float *y = c->out;
    /* x > 0 ? x : 0, except that NaN passes through like torch.relu (x and y may be one buffer) */
    for (size_t q = lo; q < hi; q++)
        y[q] = (x[q] > 0.0f || x[q] != x[q]) ? x[q] : 0.0f;
}

static void relu_back_range(void *ctx, size_t lo, size_t hi)
{
    ew_ctx_t *c = ctx;
    const float *y = c->y, *dy = c->a;
    float *dx = c->out;
    if (dx == dy) /* in place: dy is also the input's gradient, written by nobody else */
        for (size_t q = lo; q < hi; q++)
            dx[q] = y[q] > 0.0f ? dy[q] : 0.0f;
    else
        for (size_t q = lo; q < hi; q++)
            dx[q] += y[q] > 0.0f ? dy[q] : 0.0f;
}

static void add_range(void *ctx, size_t lo, size_t hi)
{
    ew_ctx_t *c = ctx;
    const float *restrict a = c->a, *restrict b = c->b;
    float *restrict y = c->out;
    if (c->y) /* fused ReLU */
        for (size_t q = lo; q < hi; q++) {
            float v = a[q] + b[q];
            y[q] = (v > 0.0f || v != v) ? v : 0.0f;
        }
    else
        for (size_t q = lo; q < hi; q++)
            y[q] = a[q] + b[q];
}

/* dx_a += g, dx_b += g with g = dy, or with a fused ReLU g = y > 0 ? dy : 0 (y the ReLU output) */
static void add_back_range(void *ctx, size_t lo, size_t hi)
{
    ew_ctx_t *c = ctx;
    const float *dy = c->a, *y = c->y;
    float *da = c->out, *db = c->out2; /* may be one buffer (an ADD of a node to itself) */
    int sa = c->store, sb = c->store2;
    for (size_t q = lo; q < hi; q++) {
        float g = y ? (y[q] > 0.0f ? dy[q] : 0.0f) : dy[q];
        if (da)
            da[q] = sa ? g : da[q] + g;
        if (db)
            db[q] = sb ? g : db[q] + g;
    }
}

#define BN_EPS 1e-5
#define BN_MOMENTUM 0.1

/* BatchNorm1d (one value per channel and row): channels are contiguous, so every pass runs along
 * a row over all channels at once instead of striding down a column per channel. */
static cgalr_status_t bn1d_forward(struct cgalr_model *m, nn_node_t *n)
{
    const nn_node_t *in = &m->nodes[n->in0];
    size_t C = n->c, r = n->rows;
    const float *g = m->params + n->w_off, *b = m->params + n->b_off;
    float *rm = m->buffers + n->buf_off, *rv = rm + C;
    float *a = n->aux, *bb = n->aux + C; /* training: mean and invstd; reused below as scale/shift */
    /* aux holds 8C floats: mean, invstd | scale, shift | 2C doubles of sums */
    float *scale = n->aux + 2 * C, *shift = n->aux + 3 * C;
    double *acc = (double *)(void *)(n->aux + 4 * C);
    memset(acc, 0, 2 * C * sizeof(double));
    if (m->training) {
        double *s = acc, *ss = acc + C;
        for (size_t i = 0; i < r; i++) {
            const float *restrict x = in->y + i * C;
            for (size_t c = 0; c < C; c++)
                s[c] += x[c];
        }
        for (size_t c = 0; c < C; c++)
            a[c] = (float)(s[c] / (double)r);
        for (size_t i = 0; i < r; i++) {
            const float *restrict x = in->y + i * C;
            for (size_t c = 0; c < C; c++) {
                float d = x[c] - a[c];
                ss[c] += (double)(d * d);
            }
        }
        for (size_t c = 0; c < C; c++) {
            double var = ss[c] / (double)r;
            bb[c] = (float)(1.0 / sqrt(var + BN_EPS));
            rm[c] = (float)((1.0 - BN_MOMENTUM) * rm[c] + BN_MOMENTUM * (s[c] / (double)r));
            rv[c] = (float)((1.0 - BN_MOMENTUM) * rv[c] + BN_MOMENTUM * ss[c] / (double)(r - 1));
            scale[c] = g[c] * bb[c];
            shift[c] = b[c] - a[c] * scale[c];
        }
    } else {
        for (size_t c = 0; c < C; c++) {
            float invstd = (float)(1.0 / sqrt((double)rv[c] + BN_EPS));
            scale[c] = g[c] * invstd;
            shift[c] = b[c] - rm[c] * scale[c];
        }
    }
    for (size_t i = 0; i < r; i++) {
        const float *restrict x = in->y + i * C;
        float *restrict y = n->y + i * C;
        for (size_t c = 0; c < C; c++)
            y[c] = x[c] * scale[c] + shift[c];
    }
    return CGALR_OK;
}

static void bn1d_backward(struct cgalr_model *m, nn_node_t *n)
{
    nn_node_t *in = &m->nodes[n->in0];
    size_t C = n->c, r = n->rows;
    const float *g = m->params + n->w_off;
    float *dg = m->grads + n->w_off, *db = m->grads + n->b_off;
    const float *mean = n->aux, *invstd = n->aux + C;
    float *buf = n->aux + 2 * C; /* scratch: 5C of the 8C aux floats */
    memset(buf, 0, 2 * C * sizeof(float));
    float *sdy = buf, *sdyx = buf + C, *k = buf + 2 * C, *mdy = buf + 3 * C, *mdyx = buf + 4 * C;
    for (size_t i = 0; i < r; i++) {
        const float *restrict x = in->y + i * C, *restrict dy = n->dy + i * C;
        for (size_t c = 0; c < C; c++) {
            sdy[c] += dy[c];
            sdyx[c] += dy[c] * (x[c] - mean[c]);
        }
    }
    for (size_t c = 0; c < C; c++) {
        sdyx[c] *= invstd[c];
        dg[c] += sdyx[c];
        db[c] += sdy[c];
        k[c] = g[c] * invstd[c];
        mdy[c] = sdy[c] / (float)r;
        mdyx[c] = sdyx[c] / (float)r;
    }
    if (in->needs_grad)
        for (size_t i = 0; i < r; i++) {
            const float *restrict x = in->y + i * C, *restrict dy = n->dy + i * C;
            float *restrict dx = in->dy + i * C;
            for (size_t c = 0; c < C; c++) {
                float xh = (x[c] - mean[c]) * invstd[c];
                dx[c] += k[c] * (dy[c] - mdy[c] - xh * mdyx[c]);
            }
        }
}

/* BatchNorm2d over channels [c0, c1): every channel's statistics and outputs depend on that
 * channel alone, so splitting channels between threads gives the same bits as one thread. */
static void bn_forward_range(struct cgalr_model *m, nn_node_t *n, size_t c0, size_t c1)
{
    const nn_node_t *in = &m->nodes[n->in0];
    size_t C = n->c, hw = n->h * n->w, r = n->rows, M = r * hw;
    const float *g = m->params + n->w_off, *b = m->params + n->b_off;
    float *rm = m->buffers + n->buf_off, *rv = rm + C;
    int relu = bn_fused(m, n);
    for (size_t c = c0; c < c1; c++) {
        float mean, invstd;
        if (m->training) {
            double s = 0.0, ss = 0.0;
            for (size_t i = 0; i < r; i++)
                s += sum8(in->y + (i * C + c) * hw, hw);
            double mu = s / (double)M;
            /* two passes: the centred sum of squares does not cancel */
            for (size_t i = 0; i < r; i++)
                ss += sqdev8(in->y + (i * C + c) * hw, hw, (float)mu);
            double var = ss / (double)M;
            mean = (float)mu;
            invstd = (float)(1.0 / sqrt(var + BN_EPS));
            rm[c] = (float)((1.0 - BN_MOMENTUM) * rm[c] + BN_MOMENTUM * mu);
            rv[c] = (float)((1.0 - BN_MOMENTUM) * rv[c] + BN_MOMENTUM * ss / (double)(M - 1));
            n->aux[c] = mean;
            n->aux[C + c] = invstd;
        } else {
            mean = rm[c];
            invstd = (float)(1.0 / sqrt((double)rv[c] + BN_EPS));
        }
        float a = g[c] * invstd, bb = b[c] - mean * a;
        for (size_t i = 0; i < r; i++) {
            const float *restrict x = in->y + (i * C + c) * hw;
            float *restrict y = n->y + (i * C + c) * hw;
            if (relu)
                for (size_t j = 0; j < hw; j++) {
                    float v = bn_pre(x[j], a, bb);
                    y[j] = (v > 0.0f || v != v) ? v : 0.0f; /* NaN passes like torch.relu */
                }
            else
                for (size_t j = 0; j < hw; j++)
                    y[j] = bn_pre(x[j], a, bb);
        }
    }
}

static void bn_backward_range(struct cgalr_model *m, nn_node_t *n, size_t c0, size_t c1)
{
    nn_node_t *in = &m->nodes[n->in0];
    size_t C = n->c, hw = n->h * n->w, r = n->rows, M = r * hw;
    const float *g = m->params + n->w_off;
    float *dg = m->grads + n->w_off, *db = m->grads + n->b_off;
    const float *bias = m->params + n->b_off;
    int relu = bn_fused(m, n);
    for (size_t c = c0; c < c1; c++) {
        float mean = n->aux[c], invstd = n->aux[C + c];
        /* the fused ReLU's backward masks dy where the output was clipped; the mask is recomputed
         * from the input with the forward's arithmetic (bn_pre), so the output is not read and the
         * masked gradient is never stored */
        float a = g[c] * invstd, bb = bias[c] - mean * a;
        double sdy = 0.0, sdyx = 0.0;
        for (size_t i = 0; i < r; i++) {
            const float *dy = n->dy + (i * C + c) * hw, *x = in->y + (i * C + c) * hw;
            if (relu) {
                double s1, s2;
                masked_sums8(dy, x, hw, a, bb, mean, &s1, &s2);
                sdy += s1;
                sdyx += s2;
            } else {
                sdy += sum8(dy, hw);
                sdyx += dotdev8(dy, x, hw, mean);
            }
        }
        sdyx *= invstd;
        dg[c] += (float)sdyx;
        db[c] += (float)sdy;
        if (!in->needs_grad)
            continue;
        float k = g[c] * invstd;
        float mdy = (float)(sdy / (double)M), mdyx = (float)(sdyx / (double)M);
        for (size_t i = 0; i < r; i++) {
            const float *restrict x = in->y + (i * C + c) * hw;
            const float *restrict dy = n->dy + (i * C + c) * hw;
            float *restrict dx = in->dy + (i * C + c) * hw;
            if (relu && m->ow0)
                for (size_t j = 0; j < hw; j++) {
                    float xh = (x[j] - mean) * invstd, d = bn_pre(x[j], a, bb) > 0.0f ? dy[j] : 0.0f;
                    dx[j] = k * (d - mdy - xh * mdyx);
                }
            else if (relu)
                for (size_t j = 0; j < hw; j++) {
                    float xh = (x[j] - mean) * invstd, d = bn_pre(x[j], a, bb) > 0.0f ? dy[j] : 0.0f;
                    dx[j] += k * (d - mdy - xh * mdyx);
                }
            else if (m->ow0)
                for (size_t j = 0; j < hw; j++) {
                    float xh = (x[j] - mean) * invstd;
                    dx[j] = k * (dy[j] - mdy - xh * mdyx);
                }
            else
                for (size_t j = 0; j < hw; j++) {
                    float xh = (x[j] - mean) * invstd;
                    dx[j] += k * (dy[j] - mdy - xh * mdyx);
                }
        }
    }
}

typedef struct bn_job {
    struct cgalr_model *m;
    nn_node_t *n;
    int T, backward;
} bn_job_t;

static void bn_job(void *ctx, int tid)
{
    bn_job_t *j = ctx;
    size_t C = j->n->c, c0 = C * (size_t)tid / (size_t)j->T, c1 = C * (size_t)(tid + 1) / (size_t)j->T;
    if (j->backward)
        bn_backward_range(j->m, j->n, c0, c1);
    else
        bn_forward_range(j->m, j->n, c0, c1);
}

static void bn_run(struct cgalr_model *m, nn_node_t *n, int backward)
{
    int T = nn_pool_threads(m->pool);
    if (T > 1 && n->c > 1) {
        bn_job_t j = {m, n, T, backward};
        nn_pool_run(m->pool, bn_job, &j);
    } else if (backward) {
        bn_backward_range(m, n, 0, n->c);
    } else {
        bn_forward_range(m, n, 0, n->c);
    }
}

static cgalr_status_t bn_forward(struct cgalr_model *m, nn_node_t *n)
{
    size_t hw = n->h * n->w, M = n->rows * hw;
    if (m->training && M < 2)
        return cgalr_fail(CGALR_EINVAL, "batch norm '%s': %zu value(s) per channel in training mode, need at least 2",
                          n->name, M);
    if (hw == 1)
        return bn1d_forward(m, n);
    bn_run(m, n, 0);
    return CGALR_OK;
}

static void bn_backward(struct cgalr_model *m, nn_node_t *n)
{
    if (n->h * n->w == 1) {
        bn1d_backward(m, n);
        return;
    }
    bn_run(m, n, 1);
}

/* 2x2 stride-2 max pooling without per-element calls or loops: the four candidates in PyTorch's
 * order (first maximum wins, a NaN is taken) as selects. */
static void maxpool22_forward(const float *x, size_t planes, size_t ih, size_t iw, size_t oh, size_t ow, float *y,
                              int32_t *idx)
{
    for (size_t pl = 0; pl < planes; pl++) {
        const float *xp = x + pl * ih * iw;
        float *yp = y + pl * oh * ow;
        int32_t *ip = idx + pl * oh * ow;
        for (size_t i = 0; i < oh; i++) {
            const float *r0 = xp + 2 * i * iw, *r1 = r0 + iw;
            int32_t q0 = (int32_t)(2 * i * iw);
            for (size_t j = 0; j < ow; j++) {
                float bv = r0[2 * j], v;
                int32_t best = q0 + (int32_t)(2 * j);
                v = r0[2 * j + 1];
                if (v > bv || v != v) {
                    bv = v;
                    best = q0 + (int32_t)(2 * j + 1);
                }
                v = r1[2 * j];
                if (v > bv || v != v) {
                    bv = v;
                    best = q0 + (int32_t)(iw + 2 * j);
                }
                v = r1[2 * j + 1];
                if (v > bv || v != v) {
                    bv = v;
                    best = q0 + (int32_t)(iw + 2 * j + 1);
                }
                yp[i * ow + j] = bv;
                ip[i * ow + j] = best;
            }
        }
    }
}

/* Pooling over planes [pl0, pl1) (planes are independent: split over the pool threads). */
static void pool_forward_range(struct cgalr_model *m, nn_node_t *n, int is_max, size_t pl0, size_t pl1)
{
    const nn_node_t *in = &m->nodes[n->in0];
    size_t ih = in->h, iw = in->w, oh = n->h, ow = n->w;
    int k = n->k, s = n->stride;
    float inv = 1.0f / (float)(k * k);
    if (is_max && k == 2 && s == 2) {
        maxpool22_forward(in->y + pl0 * ih * iw, pl1 - pl0, ih, iw, oh, ow, n->y + pl0 * oh * ow,
                          n->idx + pl0 * oh * ow);
        return;
    }
    for (size_t pl = pl0; pl < pl1; pl++) {
        const float *x = in->y + pl * ih * iw;
        float *y = n->y + pl * oh * ow;
        int32_t *idx = is_max ? n->idx + pl * oh * ow : NULL;
        for (size_t i = 0; i < oh; i++) {
            for (size_t j = 0; j < ow; j++) {
                size_t i0 = i * (size_t)s, j0 = j * (size_t)s;
                if (is_max) {
                    size_t best = i0 * iw + j0;
                    float bv = x[best];
                    for (int a = 0; a < k; a++)
                        for (int b = 0; b < k; b++) {
                            size_t q = (i0 + (size_t)a) * iw + j0 + (size_t)b;
                            /* like PyTorch: first maximum wins, NaN propagates */
                            if (x[q] > bv || isnan(x[q])) {
                                bv = x[q];
                                best = q;
                            }
                        }
                    y[i * ow + j] = bv;
                    idx[i * ow + j] = (int32_t)best;
                } else {
                    float acc = 0.0f;
                    for (int a = 0; a < k; a++)
                        for (int b = 0; b < k; b++)
                            acc += x[(i0 + (size_t)a) * iw + j0 + (size_t)b];
                    y[i * ow + j] = acc * inv;
                }
            }
        }
    }
}

static void pool_backward_range(struct cgalr_model *m, nn_node_t *n, int is_max, size_t pl0, size_t pl1)
{
    nn_node_t *in = &m->nodes[n->in0];
    size_t ih = in->h, iw = in->w, oh = n->h, ow = n->w;
    int k = n->k, s = n->stride;
    float inv = 1.0f / (float)(k * k);
    for (size_t pl = pl0; pl < pl1; pl++) {
        float *dx = in->dy + pl * ih * iw;
        const float *dy = n->dy + pl * oh * ow;
        if (is_max) {
            const int32_t *idx = n->idx + pl * oh * ow;
            for (size_t q = 0; q < oh * ow; q++)
                dx[idx[q]] += dy[q];
        } else {
            for (size_t i = 0; i < oh; i++)
                for (size_t j = 0; j < ow; j++) {
                    float g = dy[i * ow + j] * inv;
                    for (int a = 0; a < k; a++)
                        for (int b = 0; b < k; b++)
                            dx[(i * (size_t)s + (size_t)a) * iw + j * (size_t)s + (size_t)b] += g;
                }
        }
    }
}

typedef struct pool_ctx {
    struct cgalr_model *m;
    nn_node_t *n;
    int is_max, backward;
} pool_ctx_t;

static void pool_range(void *ctx, size_t lo, size_t hi)
{
    pool_ctx_t *c = ctx;
    if (c->backward)
        pool_backward_range(c->m, c->n, c->is_max, lo, hi);
    else
        pool_forward_range(c->m, c->n, c->is_max, lo, hi);
}

static void pool_forward(struct cgalr_model *m, nn_node_t *n, int is_max)
{
    const nn_node_t *in = &m->nodes[n->in0];
    pool_ctx_t c = {m, n, is_max, 0};
    nn_par_for(m, n->rows * n->c, in->h * in->w, pool_range, &c);
}

static void pool_backward(struct cgalr_model *m, nn_node_t *n, int is_max)
{
    nn_node_t *in = &m->nodes[n->in0];
    if (!in->needs_grad)
        return;
    pool_ctx_t c = {m, n, is_max, 1};
    nn_par_for(m, n->rows * n->c, in->h * in->w, pool_range, &c);
}

static void gin_agg_forward(struct cgalr_model *m, nn_node_t *n)
{
    const nn_node_t *in = &m->nodes[n->in0];
    const cgalr_graph_batch_t *gb = m->gb;
    size_t d = n->c;
    float eps = n->w_off != NN_NONE ? m->params[n->w_off] : n->eps;
    float a = 1.0f + eps;
    for (size_t v = 0; v < n->rows; v++) {
        const float *xv = in->y + v * d;
        float *y = n->y + v * d;
        for (size_t j = 0; j < d; j++)
            y[j] = a * xv[j];
        for (int32_t e = gb->row_ptr[v]; e < gb->row_ptr[v + 1]; e++) {
            const float *xu = in->y + (size_t)gb->col[e] * d;
            for (size_t j = 0; j < d; j++)
                y[j] += xu[j];
        }
    }
}

static void gin_agg_backward(struct cgalr_model *m, nn_node_t *n)
{
    nn_node_t *in = &m->nodes[n->in0];
    const cgalr_graph_batch_t *gb = m->gb;
    size_t d = n->c;
    float eps = n->w_off != NN_NONE ? m->params[n->w_off] : n->eps;
    float a = 1.0f + eps;
    if (n->w_off != NN_NONE) {
        double acc = 0.0;
        for (size_t q = 0; q < n->rows * d; q++)
            acc += (double)n->dy[q] * in->y[q];
        m->grads[n->w_off] += (float)acc;
    }
    if (!in->needs_grad)
        return;
    /* the adjacency is symmetric, so the transpose of the sum is the same sum */
    for (size_t v = 0; v < n->rows; v++) {
        float *dx = in->dy + v * d;
        const float *dyv = n->dy + v * d;
        for (size_t j = 0; j < d; j++)
            dx[j] += a * dyv[j];
        for (int32_t e = gb->row_ptr[v]; e < gb->row_ptr[v + 1]; e++) {
            const float *dyu = n->dy + (size_t)gb->col[e] * d;
            for (size_t j = 0; j < d; j++)
                dx[j] += dyu[j];
        }
    }
}

cgalr_status_t nn_forward_node(struct cgalr_model *m, nn_node_t *n)
{
    const nn_node_t *in = n->in0 >= 0 ? &m->nodes[n->in0] : NULL;
    size_t total = n->rows * rowsize(n);
    switch (n->op) {
    case OP_INPUT:
    case OP_FLATTEN:
        break;
    case OP_LINEAR:
        linear_forward(m, n);
        break;
    case OP_CONV:
        conv_forward(m, n);
        break;
    case OP_BN:
        return bn_forward(m, n);
    case OP_RELU: {
        if (n->inplace && bn_fused(m, in))
            break; /* applied by the BN */
        ew_ctx_t c = {in->y, NULL, NULL, n->y, NULL, 0, 0};
        nn_par_for(m, total, 1, relu_range, &c);
        break;
    }
    case OP_LRELU: {
        const float *restrict x = in->y;
        float *restrict y = n->y;
        float slope = n->slope;
        for (size_t q = 0; q < total; q++)
            y[q] = x[q] > 0.0f ? x[q] : x[q] * slope;
        break;
    }
    case OP_MAXPOOL:
        pool_forward(m, n, 1);
        break;
    case OP_AVGPOOL:
        pool_forward(m, n, 0);
        break;
    case OP_GAP: {
        size_t hw = in->h * in->w;
        for (size_t q = 0; q < total; q++) {
            const float *x = in->y + q * hw;
            float acc = 0.0f;
            for (size_t j = 0; j < hw; j++)
                acc += x[j];
            n->y[q] = acc / (float)hw;
        }
        break;
    }
    case OP_DROPOUT:
        if (m->training && n->p > 0.0f) {
            float keep = 1.0f / (1.0f - n->p);
            for (size_t q = 0; q < total; q++) {
                n->aux[q] = cgalr_rng_uniformf(&m->drop_rng) < n->p ? 0.0f : keep;
                n->y[q] = in->y[q] * n->aux[q];
            }
        } else {
            memcpy(n->y, in->y, total * sizeof(float));
        }
        break;
    case OP_ADD: {
        /* with a fused ReLU, y (the ADD's and the ReLU's buffer) gets relu(a + b) */
        ew_ctx_t c = {in->y, m->nodes[n->in1].y, bn_fused(m, n) ? n->y : NULL, n->y, NULL, 0, 0};
        nn_par_for(m, total, 1, add_range, &c);
        break;
    }
    case OP_SHORTCUT_A: {
        size_t ic = in->c, ih = in->h, iw = in->w;
        memset(n->y, 0, total * sizeof(float));
        for (size_t s = 0; s < n->rows; s++)
            for (size_t c = 0; c < ic; c++) {
                const float *x = in->y + (s * ic + c) * ih * iw;
                float *y = n->y + (s * n->c + c + (size_t)n->pad_c) * n->h * n->w;
                for (size_t i = 0; i < n->h; i++)
                    for (size_t j = 0; j < n->w; j++)
                        y[i * n->w + j] = x[(2 * i) * iw + 2 * j];
            }
        break;
    }
    case OP_GIN_AGG:
        gin_agg_forward(m, n);
        break;
    case OP_GRAPH_SUM: {
        size_t d = n->c;
        memset(n->y, 0, total * sizeof(float));
        for (size_t v = 0; v < in->rows; v++) {
            float *y = n->y + (size_t)m->gb->graph_of_node[v] * d;
            const float *x = in->y + v * d;
            for (size_t j = 0; j < d; j++)
                y[j] += x[j];
        }
        break;
    }
    }
    return CGALR_OK;
}

nn_node_t *nn_dy_owner(const struct cgalr_model *m, const nn_node_t *n)
{
    int i = (int)(n - m->nodes);
    while (m->nodes[i].op == OP_FLATTEN || m->nodes[i].inplace)
        i = m->nodes[i].in0;
    return &m->nodes[i];
}

static void zero_range(void *ctx, size_t lo, size_t hi)
{
    memset((float *)ctx + lo, 0, (hi - lo) * sizeof(float));
}

/* Readies the gradient buffer of x for a writer: returns 1 when the writer may store (the buffer
 * holds nothing of this step yet and the writer can store), else zeroes a fresh buffer and
 * returns 0 (add into it). */
static int dy_take(struct cgalr_model *m, nn_node_t *x, int can_store)
{
    nn_node_t *o = nn_dy_owner(m, x);
    if (!o->dy_fresh)
        return 0;
    o->dy_fresh = 0;
    if (can_store)
        return 1;
    nn_par_for(m, o->rows * rowsize(o), 1, zero_range, o->dy);
    return 0;
}

/* Ops whose backward can store into the gradient of input 0 (1) and input 1 (2): the whole
 * buffer, every element written once. */
static int stores_dx(struct cgalr_model *m, const nn_node_t *n)
{
    const nn_node_t *in = &m->nodes[n->in0];
    switch (n->op) {
    case OP_LINEAR:
        return 1;
    case OP_CONV:
        /* Winograd or direct input gradient (whole planes), or the transposed convolution
         * through im2col; not the col2im scatter */
        return nn_conv_wino(in->c, n->c, n->k, n->stride, n->pad) || nn_conv_direct(in->c, n->k, n->stride, n->pad) ||
               nn_conv_tconv(n->k, n->stride, n->pad);
    case OP_BN:
        return n->h * n->w > 1; /* BatchNorm2d */
    case OP_ADD:
        return 3;
    default:
        return 0;
    }
}

void nn_backward_node(struct cgalr_model *m, nn_node_t *n)
{
    nn_node_t *in = n->in0 >= 0 ? &m->nodes[n->in0] : NULL;
    size_t total = n->rows * rowsize(n);
    nn_node_t *own = nn_dy_owner(m, n);
    if (own->dy_fresh) { /* no consumer wrote this node's gradient: it is zero */
        own->dy_fresh = 0;
        nn_par_for(m, own->rows * rowsize(own), 1, zero_range, own->dy);
    }
    int st = stores_dx(m, n);
    m->ow0 = in && in->needs_grad && in->dy ? dy_take(m, in, st & 1) : 0;
    m->ow1 = n->in1 >= 0 && m->nodes[n->in1].needs_grad && m->nodes[n->in1].dy ? dy_take(m, &m->nodes[n->in1], (st & 2) != 0) : 0;
    switch (n->op) {
    case OP_INPUT:
    case OP_FLATTEN: /* aliases its input's buffers */
        break;
    case OP_LINEAR:
        linear_backward(m, n);
        break;
    case OP_CONV:
        conv_backward(m, n);
        break;
    case OP_BN:
        bn_backward(m, n);
        break;
    case OP_RELU:
        if (n->inplace && bn_fused(m, in))
            break; /* masked by the BN's (or ADD's) backward */
        if (in->needs_grad) {
            ew_ctx_t c = {n->dy, NULL, n->y, in->dy, NULL, 0, 0};
            nn_par_for(m, total, 1, relu_back_range, &c);
        }
        break;
    case OP_LRELU:
        if (in->needs_grad) {
            const float *restrict x = in->y, *restrict dy = n->dy;
            float *restrict dx = in->dy;
            float slope = n->slope;
            for (size_t q = 0; q < total; q++)
                dx[q] += x[q] > 0.0f ? dy[q] : dy[q] * slope;
        }
        break;
    case OP_MAXPOOL:
        pool_backward(m, n, 1);
        break;
    case OP_AVGPOOL:
        pool_backward(m, n, 0);
        break;
    case OP_GAP:
        if (in->needs_grad) {
            size_t hw = in->h * in->w;
            for (size_t q = 0; q < total; q++) {
                float g = n->dy[q] / (float)hw;
                float *dx = in->dy + q * hw;
                for (size_t j = 0; j < hw; j++)
                    dx[j] += g;
            }
        }
        break;
    case OP_DROPOUT:
        if (in->needs_grad) {
            if (n->p > 0.0f)
                for (size_t q = 0; q < total; q++)
                    in->dy[q] += n->dy[q] * n->aux[q];
            else
                for (size_t q = 0; q < total; q++)
                    in->dy[q] += n->dy[q];
        }
        break;
    case OP_ADD: {
        nn_node_t *b = &m->nodes[n->in1];
        ew_ctx_t c = {n->dy, NULL, bn_fused(m, n) ? n->y : NULL, in->needs_grad ? in->dy : NULL,
                      b->needs_grad ? b->dy : NULL, m->ow0, m->ow1};
        if (c.out || c.out2)
            nn_par_for(m, total, 1, add_back_range, &c);
        break;
    }
    case OP_SHORTCUT_A:
        if (in->needs_grad) {
            size_t ic = in->c, ih = in->h, iw = in->w;
            for (size_t s = 0; s < n->rows; s++)
                for (size_t c = 0; c < ic; c++) {
                    float *dx = in->dy + (s * ic + c) * ih * iw;
                    const float *dy = n->dy + (s * n->c + c + (size_t)n->pad_c) * n->h * n->w;
                    for (size_t i = 0; i < n->h; i++)
                        for (size_t j = 0; j < n->w; j++)
                            dx[(2 * i) * iw + 2 * j] += dy[i * n->w + j];
                }
        }
        break;
    case OP_GIN_AGG:
        gin_agg_backward(m, n);
        break;
    case OP_GRAPH_SUM:
        if (in->needs_grad) {
            size_t d = n->c;
            for (size_t v = 0; v < in->rows; v++) {
                const float *dy = n->dy + (size_t)m->gb->graph_of_node[v] * d;
                float *dx = in->dy + v * d;
                for (size_t j = 0; j < d; j++)
                    dx[j] += dy[j];
            }
        }
        break;
    }
}
