/* Direct convolution kernels (AVX2 / AVX-512 register tiles, no im2col): stride-1 "same"
 * convolutions with a multiple of 16 output channels, 3x3 stride-2 pad-1 ones over phase planes,
 * and their weight gradients; the tiles are shared with the Winograd products (wino.c). */
#include <stdlib.h>
#include <string.h>

#include "nn/nn_internal.h"
#include "nn/nn_ops.h"

#include "nn/nn_simd.h"

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
 * (too few positions per tile), hence only maps of at least DW_MIN_HW positions (nn_ops.h). */
void nn_direct_conv_dw(const float *dy, size_t M, const float *x, size_t c, size_t h, size_t w, int k, int p,
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
void nn_pack_rows16(const float *A, size_t M, size_t K, float *ap)
{
    for (size_t m0 = 0; m0 < M; m0 += DR_MR)
        for (size_t o = 0; o < DR_MR; o++)
            for (size_t q = 0; q < K; q++)
                ap[m0 * K + q * DR_MR + o] = A[(m0 + o) * K + q];
}

/* y (M x h*w, NCHW planes) = A (M x c*k*k, packed by nn_pack_rows16 into ap) conv x (c x h x w)
 * [+ bias], or += with accum. */
void nn_direct_conv(const float *ap, size_t M, const float *x, size_t c, size_t h, size_t w, int k, int p,
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
void nn_s2_conv(const float *ap, size_t M, const float *x, size_t c, size_t h, size_t w, float *y,
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
void nn_s2_conv_dw(const float *dy, size_t M, const float *x, size_t c, size_t h, size_t w, float *dW,
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
