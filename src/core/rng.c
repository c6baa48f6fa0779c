/* Counter-based generator: word i of a stream is mix64(key + (i+1) * golden), i.e. SplitMix64
 * indexed by the counter, so any word can be recomputed from (key, counter) alone. */
#include "cgalr/rng.h"

#include <math.h>

#define GOLDEN 0x9e3779b97f4a7c15ULL

uint64_t cgalr_mix64(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return x;
}

cgalr_rng_t cgalr_rng_init(uint64_t seed, uint64_t stream)
{
    cgalr_rng_t r;
    r.key = cgalr_mix64(cgalr_mix64(seed ^ 0x6367616c72ULL) + stream * GOLDEN);
    r.counter = 0;
    return r;
}

cgalr_rng_t cgalr_rng_derive(const cgalr_rng_t *parent, uint64_t sub)
{
    cgalr_rng_t r;
    r.key = cgalr_mix64(parent->key ^ cgalr_mix64(sub + 0x5bd1e995ULL));
    r.counter = 0;
    return r;
}

uint64_t cgalr_rng_u64(cgalr_rng_t *r)
{
    r->counter++;
    return cgalr_mix64(r->key + r->counter * GOLDEN);
}

double cgalr_rng_uniform(cgalr_rng_t *r)
{
    return (double)(cgalr_rng_u64(r) >> 11) * 0x1.0p-53;
}

float cgalr_rng_uniformf(cgalr_rng_t *r)
{
    return (float)(cgalr_rng_u64(r) >> 40) * 0x1.0p-24f;
}

uint64_t cgalr_rng_below(cgalr_rng_t *r, uint64_t n)
{
    /* Rejection on the top of the range keeps every residue equally likely. */
    uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t x;
    do {
        x = cgalr_rng_u64(r);
    } while (x >= limit);
    return x % n;
}

double cgalr_rng_normal(cgalr_rng_t *r)
{
    double u1 = 1.0 - cgalr_rng_uniform(r); /* (0, 1]: log is finite */
    double u2 = cgalr_rng_uniform(r);
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

void cgalr_rng_shuffle(cgalr_rng_t *r, size_t *idx, size_t n)
{
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)cgalr_rng_below(r, i);
        size_t t = idx[i - 1];
        idx[i - 1] = idx[j];
        idx[j] = t;
    }
}
