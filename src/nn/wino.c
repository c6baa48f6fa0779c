/* Winograd F(2x2, 3x3) for the stride-1, pad-1 3x3 convolutions of the CIFAR models (Lavin and
 * Gray 2016). Each 2x2 output tile is A^T [(G g G^T) . (B^T d B)] A, where d is the 4x4 input
 * patch of the tile and g the 3x3 kernel of one (output, input) channel pair: 16 multiplications
 * per tile and channel pair instead of 36. With the 16 transformed positions xi = (i, k) as
 * separate products, one sample's convolution is 16 GEMMs Y_xi (M x T) = U_xi (M x C) V_xi (C x T)
 * over its T tiles, run with the direct convolution's 6 x 16 register tile (conv_direct.c).
 *
 * The weight gradient follows from the same factorisation: dL/dU_xi = sum over tiles of
 * (A dy_t A^T)_xi V_xi,t, 16 GEMMs with the tiles as the inner dimension, and dL/dg = G^T dU G
 * once per pass. The transforms use only 0.5, 1 and -1, so the products differ from the direct
 * convolution by rounding alone (checked against PyTorch in tests/test_nn_oracle.py). */
#include <stdlib.h>
#include <string.h>

#include "nn/nn_internal.h"

#include "nn/nn_simd.h"
#if defined(__GNUC__) && defined(__x86_64__)
#define WG_AVX2 1
#endif

enum { WG_NR = 6, WG_MR = 16, WG_XI = 16 };

static size_t tiles_pad(size_t T)
{
    return (T + WG_NR - 1) / WG_NR * WG_NR;
}

/* Samples transformed and multiplied together: small maps have few tiles, and the products over
 * them (the weight gradient's inner dimension) would be too short for the register tile. */
size_t nn_wino_group(size_t h, size_t w, size_t rows, int threads)
{
    size_t T1 = ((h + 1) / 2) * ((w + 1) / 2), G = 128 / (T1 ? T1 : 1);
    size_t share = (rows + (size_t)threads - 1) / (size_t)threads;
    if (G > share)
        G = share;
    return G ? G : 1;
}

static int wino_avx2(void)
{
#ifdef WG_AVX2
    static int on = -1;
    if (on < 0) {
        on = nn_isa() >= NN_ISA_AVX2;
    }
    return on;
#else
    return 0;
#endif
}

int nn_conv_wino(size_t rows, size_t c, int k, int stride, int pad)
{
    static int on = -1;
    if (on < 0) {
        const char *e = getenv("CGALR_NN_WINO"); /* "0" turns it off (comparisons) */
        on = !(e && e[0] == '0');
    }
    /* a handful of input channels leaves the products too short to pay for the transforms */
    return on && k == 3 && pad == 1 && c >= 8 && nn_conv_direct(rows, k, stride, pad);
}

size_t nn_wino_ksize(size_t M, size_t C)
{
    return WG_XI * M * C;
}

/* For G samples of T tiles (Tp = G*T rounded up to the register tile): V (16 x C x Tp) | tap
 * offsets (C ints) | products (16 x Tp x 16) | staged output (h*w x 16) | padded plane
 * ((2*TH + 2) x (2*TW + 2)) | column transforms (4 x (2*TW + 2)) | slack */
size_t nn_wino_work(size_t C, size_t h, size_t w, size_t G)
{
    size_t TH = (h + 1) / 2, TW = (w + 1) / 2, Tp = tiles_pad(G * TH * TW);
    return WG_XI * C * Tp + C + WG_XI * Tp * WG_MR + h * w * WG_MR + (2 * TH + 6) * (2 * TW + 2) + 64;
}

/* U[xi][m0 block][c][16] = (G g G^T)_xi for g = W[m][c] (M x C x 3 x 3), M a multiple of 16. */
void nn_wino_pack(const float *W, size_t M, size_t C, float *U)
{
    for (size_t m = 0; m < M; m++)
        for (size_t c = 0; c < C; c++) {
            const float *g = W + (m * C + c) * 9;
            float t[4][3], u[4][4];
            for (int b = 0; b < 3; b++) {
                t[0][b] = g[b];
                t[1][b] = 0.5f * (g[b] + g[3 + b] + g[6 + b]);
                t[2][b] = 0.5f * (g[b] - g[3 + b] + g[6 + b]);
                t[3][b] = g[6 + b];
            }
            for (int i = 0; i < 4; i++) {
                u[i][0] = t[i][0];
                u[i][1] = 0.5f * (t[i][0] + t[i][1] + t[i][2]);
                u[i][2] = 0.5f * (t[i][0] - t[i][1] + t[i][2]);
                u[i][3] = t[i][2];
            }
            size_t m0 = m / WG_MR * WG_MR;
            for (int xi = 0; xi < WG_XI; xi++)
                U[((size_t)xi * M + m0) * C + c * WG_MR + (m - m0)] = u[xi / 4][xi % 4];
        }
}

/* u = B^T applied down the four rows d0..d3 (n floats each) */
static void cols4(const float *restrict d0, const float *restrict d1, const float *restrict d2,
                  const float *restrict d3, float *restrict u0, float *restrict u1, float *restrict u2,
                  float *restrict u3, size_t n)
{
    for (size_t j = 0; j < n; j++) {
        u0[j] = d0[j] - d2[j];
        u1[j] = d1[j] + d2[j];
        u2[j] = d2[j] - d1[j];
        u3[j] = d1[j] - d3[j];
    }
}

/* B applied along the row q at the TW tile columns (the tile at j covers q[2j .. 2j+3]) */
static void rows4(const float *restrict q, float *restrict v0, float *restrict v1, float *restrict v2,
                  float *restrict v3, size_t TW)
{
    for (size_t j = 0; j < TW; j++) {
        v0[j] = q[2 * j] - q[2 * j + 2];
        v1[j] = q[2 * j + 1] + q[2 * j + 2];
        v2[j] = q[2 * j + 2] - q[2 * j + 1];
        v3[j] = q[2 * j + 1] - q[2 * j + 3];
    }
}

#ifdef WG_AVX2
/* even and odd elements of q[0..15], in order */
__attribute__((target("avx2,fma"))) static inline void deint(const float *q, __m256 *e, __m256 *o)
{
    __m256 lo = _mm256_loadu_ps(q), hi = _mm256_loadu_ps(q + 8);
    __m256i perm = _mm256_setr_epi32(0, 1, 4, 5, 2, 3, 6, 7);
    *e = _mm256_castsi256_ps(_mm256_permutevar8x32_epi32(_mm256_castps_si256(_mm256_shuffle_ps(lo, hi, 0x88)), perm));
    *o = _mm256_castsi256_ps(_mm256_permutevar8x32_epi32(_mm256_castps_si256(_mm256_shuffle_ps(lo, hi, 0xDD)), perm));
}

/* B^T d B for 8 consecutive tiles of one tile row: d0 is the first of its 4 padded rows (stride
 * PW), starting at the first tile's column; the 16 results go to v[xi * step], 8 floats each. */
__attribute__((target("avx2,fma"))) static void tiles8(const float *d0, size_t PW, float *v, size_t step)
{
    __m256 hk[4][4]; /* [row a][k] */
    for (int a = 0; a < 4; a++) {
        const float *q = d0 + (size_t)a * PW;
        __m256 e, o, e1, o1;
        deint(q, &e, &o);
        deint(q + 2, &e1, &o1);
        hk[a][0] = _mm256_sub_ps(e, e1);
        hk[a][1] = _mm256_add_ps(o, e1);
        hk[a][2] = _mm256_sub_ps(e1, o);
        hk[a][3] = _mm256_sub_ps(o, o1);
    }
    for (int k = 0; k < 4; k++) {
        _mm256_storeu_ps(v + (size_t)(0 * 4 + k) * step, _mm256_sub_ps(hk[0][k], hk[2][k]));
        _mm256_storeu_ps(v + (size_t)(1 * 4 + k) * step, _mm256_add_ps(hk[1][k], hk[2][k]));
        _mm256_storeu_ps(v + (size_t)(2 * 4 + k) * step, _mm256_sub_ps(hk[2][k], hk[1][k]));
        _mm256_storeu_ps(v + (size_t)(3 * 4 + k) * step, _mm256_sub_ps(hk[1][k], hk[3][k]));
    }
}
#endif

/* V[xi][c][t0 + t] = (B^T d_t B)_xi for the tiles t of x (C x h x w, zero padding 1),
 * t = ti*TW + tj, V's rows Tp long. pad: the padded plane, (2*TH + 2) x (2*TW + 2) floats, whose
 * border stays zero across calls; u: 4 x (2*TW + 2) floats. */
static void input_transform(const float *x, size_t C, size_t h, size_t w, size_t Tp, size_t t0, float *V,
                            float *pad, float *u)
{
    size_t TH = (h + 1) / 2, TW = (w + 1) / 2, PW = 2 * TW + 2;
    float *u0 = u, *u1 = u + PW, *u2 = u1 + PW, *u3 = u2 + PW;
    for (size_t c = 0; c < C; c++) {
        const float *xc = x + c * h * w;
        for (size_t i = 0; i < h; i++)
            memcpy(pad + (i + 1) * PW + 1, xc + i * w, w * sizeof(float));
        size_t j8 = 0;
#ifdef WG_AVX2
        if (TW >= 8 && wino_avx2()) {
            j8 = TW / 8 * 8;
            for (size_t ti = 0; ti < TH; ti++)
                for (size_t j = 0; j < j8; j += 8)
                    tiles8(pad + 2 * ti * PW + 2 * j, PW, V + (size_t)c * Tp + t0 + ti * TW + j, C * Tp);
            if (j8 == TW)
                continue;
        }
#endif
        for (size_t ti = 0; ti < TH && j8 == 0; ti++) {
            const float *d0 = pad + 2 * ti * PW;
            cols4(d0, d0 + PW, d0 + 2 * PW, d0 + 3 * PW, u0, u1, u2, u3, PW);
            const float *ui[4] = {u0, u1, u2, u3};
            for (int i = 0; i < 4; i++) {
                float *v = V + ((size_t)(i * 4) * C + c) * Tp + t0 + ti * TW;
                size_t step = C * Tp; /* xi -> xi + 1 */
                rows4(ui[i], v, v + step, v + 2 * step, v + 3 * step, TW);
            }
        }
        for (size_t ti = 0; ti < TH && j8 > 0; ti++) /* tiles past the last block of 8 */
            for (size_t j = j8; j < TW; j++) {
                const float *d0 = pad + 2 * ti * PW + 2 * j;
                float u4[4][4];
                cols4(d0, d0 + PW, d0 + 2 * PW, d0 + 3 * PW, u4[0], u4[1], u4[2], u4[3], 4);
                for (int i = 0; i < 4; i++) {
                    float *v = V + ((size_t)(i * 4) * C + c) * Tp + t0 + ti * TW + j;
                    size_t step = C * Tp;
                    rows4(u4[i], v, v + step, v + 2 * step, v + 3 * step, 1);
                }
            }
    }
}

/* input_transform of G samples (C x h x w each) into consecutive tile columns of V; pad: the padded
 * plane and column-transform scratch of nn_wino_work's layout. */
static void transform_group(const float *x, size_t G, size_t C, size_t h, size_t w, size_t Tp, float *V, float *pad)
{
    size_t TH = (h + 1) / 2, TW = (w + 1) / 2, plane = (2 * TH + 2) * (2 * TW + 2);
    memset(pad, 0, plane * sizeof(float));
    for (size_t g = 0; g < G; g++)
        input_transform(x + g * C * h * w, C, h, w, Tp, g * TH * TW, V, pad, pad + plane);
}

/* Zeroes V's columns [T, Tp) (the register tile's over-run). */
static void zero_tail(float *V, size_t C, size_t T, size_t Tp)
{
    for (size_t r = 0; r < WG_XI * C; r++)
        for (size_t t = T; t < Tp; t++)
            V[r * Tp + t] = 0.0f;
}

static int32_t *tap_offsets(float *at, size_t C, size_t Tp)
{
    int32_t *off = (int32_t *)(void *)at;
    for (size_t c = 0; c < C; c++)
        off[c] = (int32_t)(c * Tp);
    return off;
}

/* The 2x2 output tile (16 channels a position) of the products m[xi] (16 rows of 16, stride
 * ld): A^T m A with A^T = [1 1 1 0; 0 1 -1 -1]. */
#ifdef WG_AVX2
__attribute__((target("avx2,fma")))
#endif
static void out_tile(const float *m, size_t ld, float *p00, float *p01, float *p10, float *p11)
{
#ifdef WG_AVX2
    for (int h = 0; h < WG_MR; h += 8) {
        __m256 s0[4], s1[4];
        for (int k = 0; k < 4; k++) {
            __m256 a = _mm256_loadu_ps(m + (size_t)(0 * 4 + k) * ld + h),
                   b = _mm256_loadu_ps(m + (size_t)(1 * 4 + k) * ld + h),
                   c = _mm256_loadu_ps(m + (size_t)(2 * 4 + k) * ld + h),
                   d = _mm256_loadu_ps(m + (size_t)(3 * 4 + k) * ld + h);
            s0[k] = _mm256_add_ps(_mm256_add_ps(a, b), c);
            s1[k] = _mm256_sub_ps(_mm256_sub_ps(b, c), d);
        }
        _mm256_storeu_ps(p00 + h, _mm256_add_ps(_mm256_add_ps(s0[0], s0[1]), s0[2]));
        _mm256_storeu_ps(p01 + h, _mm256_sub_ps(_mm256_sub_ps(s0[1], s0[2]), s0[3]));
        _mm256_storeu_ps(p10 + h, _mm256_add_ps(_mm256_add_ps(s1[0], s1[1]), s1[2]));
        _mm256_storeu_ps(p11 + h, _mm256_sub_ps(_mm256_sub_ps(s1[1], s1[2]), s1[3]));
    }
#else
    for (int o = 0; o < WG_MR; o++) {
        float s0[4], s1[4];
        for (int k = 0; k < 4; k++) {
            float a = m[(size_t)(0 * 4 + k) * ld + o], b = m[(size_t)(1 * 4 + k) * ld + o];
            float c = m[(size_t)(2 * 4 + k) * ld + o], d = m[(size_t)(3 * 4 + k) * ld + o];
            s0[k] = a + b + c;
            s1[k] = b - c - d;
        }
        p00[o] = s0[0] + s0[1] + s0[2];
        p01[o] = s0[1] - s0[2] - s0[3];
        p10[o] = s1[0] + s1[1] + s1[2];
        p11[o] = s1[1] - s1[2] - s1[3];
    }
#endif
}

/* A dy A^T of one 2x2 output-gradient tile (16 channels a position) into q[xi * ld], 16 floats
 * each, A = [1 0; 1 1; 1 -1; 0 -1]. */
#ifdef WG_AVX2
__attribute__((target("avx2,fma")))
#endif
static void grad_tile(const float *d00, const float *d01, const float *d10, const float *d11, float *q, size_t ld)
{
#ifdef WG_AVX2
    __m256 z = _mm256_setzero_ps();
    for (int h = 0; h < WG_MR; h += 8) {
        __m256 a = _mm256_loadu_ps(d00 + h), b = _mm256_loadu_ps(d01 + h), c = _mm256_loadu_ps(d10 + h),
               d = _mm256_loadu_ps(d11 + h);
        __m256 r[4][2] = {{a, b},
                          {_mm256_add_ps(a, c), _mm256_add_ps(b, d)},
                          {_mm256_sub_ps(a, c), _mm256_sub_ps(b, d)},
                          {_mm256_sub_ps(z, c), _mm256_sub_ps(z, d)}};
        for (int i = 0; i < 4; i++) {
            _mm256_storeu_ps(q + (size_t)(i * 4 + 0) * ld + h, r[i][0]);
            _mm256_storeu_ps(q + (size_t)(i * 4 + 1) * ld + h, _mm256_add_ps(r[i][0], r[i][1]));
            _mm256_storeu_ps(q + (size_t)(i * 4 + 2) * ld + h, _mm256_sub_ps(r[i][0], r[i][1]));
            _mm256_storeu_ps(q + (size_t)(i * 4 + 3) * ld + h, _mm256_sub_ps(z, r[i][1]));
        }
    }
#else
    for (int o = 0; o < WG_MR; o++) {
        float r[4][2] = {{d00[o], d01[o]},
                         {d00[o] + d10[o], d01[o] + d11[o]},
                         {d00[o] - d10[o], d01[o] - d11[o]},
                         {-d10[o], -d11[o]}};
        for (int i = 0; i < 4; i++) {
            q[(size_t)(i * 4 + 0) * ld + o] = r[i][0];
            q[(size_t)(i * 4 + 1) * ld + o] = r[i][0] + r[i][1];
            q[(size_t)(i * 4 + 2) * ld + o] = r[i][0] - r[i][1];
            q[(size_t)(i * 4 + 3) * ld + o] = -r[i][1];
        }
    }
#endif
}

#ifdef WG_AVX2
/* 8 positions x 8 planes (plane stride ld) to 8 rows of 8 (row stride 16), in registers */
__attribute__((target("avx2,fma"))) static void transpose8(const float *src, size_t ld, float *dst)
{
    __m256 r[8];
    for (int i = 0; i < 8; i++)
        r[i] = _mm256_loadu_ps(src + (size_t)i * ld);
    nn_transpose8(r);
    for (int i = 0; i < 8; i++)
        _mm256_storeu_ps(dst + 16 * i, r[i]);
}
#endif

/* dyT[p][o] = src[o * hw + p] for 16 planes of hw positions */
static void planes_to_rows16(const float *src, size_t hw, float *dyT)
{
    size_t p0 = 0;
#ifdef WG_AVX2
    if (wino_avx2())
        for (; p0 + 8 <= hw; p0 += 8) {
            transpose8(src + p0, hw, dyT + p0 * WG_MR);
            transpose8(src + 8 * hw + p0, hw, dyT + p0 * WG_MR + 8);
        }
#endif
    for (size_t p = p0; p < hw; p++)
        for (size_t o = 0; o < WG_MR; o++)
            dyT[p * WG_MR + o] = src[o * hw + p];
}

void nn_wino_conv(const float *U, size_t M, const float *x, size_t G, size_t C, size_t h, size_t w, float *y,
                  const float *bias, int accum, float *scratch)
{
    size_t TH = (h + 1) / 2, TW = (w + 1) / 2, T1 = TH * TW, Tp = tiles_pad(G * T1), hw = h * w;
    float *V = scratch;
    int32_t *off = tap_offsets(V + WG_XI * C * Tp, C, Tp);
    float *prod = V + WG_XI * C * Tp + C, *stage = prod + WG_XI * Tp * WG_MR, *pad = stage + hw * WG_MR;
    float spill[WG_MR]; /* outputs of tiles that overhang the map */
    transform_group(x, G, C, h, w, Tp, V, pad);
    zero_tail(V, C, G * T1, Tp);
    for (size_t m0 = 0; m0 < M; m0 += WG_MR) {
        for (int xi = 0; xi < WG_XI; xi++)
            nn_direct_tiles(V + (size_t)xi * C * Tp, off, C, U + ((size_t)xi * M + m0) * C, Tp,
                            prod + (size_t)xi * Tp * WG_MR);
        /* output transform A^T m A of every tile, 16 channels at a time, into position-major rows */
        for (size_t g = 0; g < G; g++) {
            for (size_t ti = 0; ti < TH; ti++)
                for (size_t tj = 0; tj < TW; tj++) {
                    size_t i0 = 2 * ti, j0 = 2 * tj;
                    float *p00 = stage + (i0 * w + j0) * WG_MR;
                    int right = j0 + 1 < w, down = i0 + 1 < h;
                    float *p01 = right ? p00 + WG_MR : spill, *p10 = down ? p00 + w * WG_MR : spill;
                    float *p11 = right && down ? p00 + (w + 1) * WG_MR : spill;
                    out_tile(prod + (g * T1 + ti * TW + tj) * WG_MR, Tp * WG_MR, p00, p01, p10, p11);
                }
            nn_direct_store(stage, h, w, w, y + (g * M + m0) * hw, bias ? bias + m0 : NULL, accum);
        }
    }
}

/* dU[xi][m][c] += sum over the G samples' tiles t of (A dy_t A^T)_xi V[xi][c][t]. */
void nn_wino_dw(const float *dy, size_t M, const float *x, size_t G, size_t C, size_t h, size_t w, float *dU,
                float *scratch)
{
    size_t TH = (h + 1) / 2, TW = (w + 1) / 2, T1 = TH * TW, Tp = tiles_pad(G * T1), hw = h * w;
    float *V = scratch;
    int32_t *off = tap_offsets(V + WG_XI * C * Tp, C, Tp);
    float *yh = V + WG_XI * C * Tp + C, *dyT = yh + WG_XI * Tp * WG_MR, *pad = dyT + hw * WG_MR;
    static const float zero[WG_MR];
    transform_group(x, G, C, h, w, Tp, V, pad);
    for (size_t m0 = 0; m0 < M; m0 += WG_MR) {
        /* yh[xi][t][o] = (A dy_t A^T)_xi, A = [1 0; 1 1; 1 -1; 0 -1], dy_t zero outside the map:
         * the block's 16 planes first go position-major (dyT[p][o]), then every tile is vector work */
        for (size_t g = 0; g < G; g++) {
            planes_to_rows16(dy + (g * M + m0) * hw, hw, dyT);
            for (size_t ti = 0; ti < TH; ti++)
                for (size_t tj = 0; tj < TW; tj++) {
                    size_t i0 = 2 * ti, j0 = 2 * tj, t = g * T1 + ti * TW + tj;
                    int right = j0 + 1 < w, down = i0 + 1 < h;
                    const float *p = dyT + (i0 * w + j0) * WG_MR;
                    const float *d00 = p, *d01 = right ? p + WG_MR : zero, *d10 = down ? p + w * WG_MR : zero,
                                *d11 = right && down ? p + (w + 1) * WG_MR : zero;
                    grad_tile(d00, d01, d10, d11, yh + t * WG_MR, Tp * WG_MR);
                }
        }
        for (int xi = 0; xi < WG_XI; xi++)
            nn_direct_dw6(yh + (size_t)xi * Tp * WG_MR, G * T1, V + (size_t)xi * C * Tp, off, C,
                          dU + ((size_t)xi * M + m0) * C, C);
    }
}

/* dW[m][c] (3 x 3) += G^T dU[.][m][c] G */
void nn_wino_dw_finish(const float *dU, size_t M, size_t C, float *dW)
{
    size_t MC = M * C;
    for (size_t mc = 0; mc < MC; mc++) {
        float u[4][4], t[3][4];
        for (int xi = 0; xi < WG_XI; xi++)
            u[xi / 4][xi % 4] = dU[(size_t)xi * MC + mc];
        /* G^T = [1 .5 .5 0; 0 .5 -.5 0; 0 .5 .5 1] */
        for (int k = 0; k < 4; k++) {
            t[0][k] = u[0][k] + 0.5f * (u[1][k] + u[2][k]);
            t[1][k] = 0.5f * (u[1][k] - u[2][k]);
            t[2][k] = 0.5f * (u[1][k] + u[2][k]) + u[3][k];
        }
        float *g = dW + mc * 9;
        for (int a = 0; a < 3; a++) {
            g[a * 3 + 0] += t[a][0] + 0.5f * (t[a][1] + t[a][2]);
            g[a * 3 + 1] += 0.5f * (t[a][1] - t[a][2]);
            g[a * 3 + 2] += 0.5f * (t[a][1] + t[a][2]) + t[a][3];
        }
    }
}
