/* AVX2 helpers shared by the nn kernels (conv_direct.c, batchnorm.c, wino.c); only where the compiler
 * targets x86-64. */
#ifndef CGALR_NN_SIMD_H
#define CGALR_NN_SIMD_H

#if defined(__GNUC__) && defined(__x86_64__)
#include <immintrin.h>

/* Transposes the 8 x 8 block held in r[0..7] (row i = r[i]) in registers: afterwards r[j] holds
 * what was column j. */
__attribute__((target("avx2"))) static inline void nn_transpose8(__m256 r[8])
{
    __m256 u0 = _mm256_unpacklo_ps(r[0], r[1]), u1 = _mm256_unpackhi_ps(r[0], r[1]);
    __m256 u2 = _mm256_unpacklo_ps(r[2], r[3]), u3 = _mm256_unpackhi_ps(r[2], r[3]);
    __m256 u4 = _mm256_unpacklo_ps(r[4], r[5]), u5 = _mm256_unpackhi_ps(r[4], r[5]);
    __m256 u6 = _mm256_unpacklo_ps(r[6], r[7]), u7 = _mm256_unpackhi_ps(r[6], r[7]);
    __m256 v0 = _mm256_shuffle_ps(u0, u2, 0x44), v1 = _mm256_shuffle_ps(u0, u2, 0xEE);
    __m256 v2 = _mm256_shuffle_ps(u1, u3, 0x44), v3 = _mm256_shuffle_ps(u1, u3, 0xEE);
    __m256 v4 = _mm256_shuffle_ps(u4, u6, 0x44), v5 = _mm256_shuffle_ps(u4, u6, 0xEE);
    __m256 v6 = _mm256_shuffle_ps(u5, u7, 0x44), v7 = _mm256_shuffle_ps(u5, u7, 0xEE);
    r[0] = _mm256_permute2f128_ps(v0, v4, 0x20);
    r[1] = _mm256_permute2f128_ps(v1, v5, 0x20);
    r[2] = _mm256_permute2f128_ps(v2, v6, 0x20);
    r[3] = _mm256_permute2f128_ps(v3, v7, 0x20);
    r[4] = _mm256_permute2f128_ps(v0, v4, 0x31);
    r[5] = _mm256_permute2f128_ps(v1, v5, 0x31);
    r[6] = _mm256_permute2f128_ps(v2, v6, 0x31);
    r[7] = _mm256_permute2f128_ps(v3, v7, 0x31);
}
#endif

#endif
