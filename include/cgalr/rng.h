/* Counter-based random numbers: every draw is a pure function of (key, counter), so a stream's
 * whole state is two integers, streams derived for different purposes never overlap, and a
 * checkpoint restores randomness exactly. */
#ifndef CGALR_RNG_H
#define CGALR_RNG_H

#include "cgalr/api.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cgalr_rng {
    uint64_t key;     /* derived from the seed and the stream's purpose */
    uint64_t counter; /* number of 64-bit words drawn so far */
} cgalr_rng_t;

/* Stable stream identifiers, so the same seed never feeds two purposes the same numbers. */
enum {
    CGALR_STREAM_INIT = 1,      /* parameter initialisation */
    CGALR_STREAM_SHUFFLE = 2,   /* mini-batch order (mix in the epoch with cgalr_rng_derive) */
    CGALR_STREAM_AUGMENT = 3,   /* crops and flips */
    CGALR_STREAM_DROPOUT = 4,   /* dropout masks */
    CGALR_STREAM_PROBE = 5,     /* the probe set of the connectome */
    CGALR_STREAM_SUBSET = 6,    /* the P_ph signal subset of WD/SWK */
    CGALR_STREAM_SPLIT = 7,     /* train/validation/test splits */
    CGALR_STREAM_TEST = 99      /* tests */
};

/* A 64-bit mixing function (bijective): the building block of everything below. */
CGALR_API uint64_t cgalr_mix64(uint64_t x);

/* A generator for (seed, stream). */
CGALR_API cgalr_rng_t cgalr_rng_init(uint64_t seed, uint64_t stream);
/* A child generator: same key family, distinguished by `sub` (e.g. the epoch). */
CGALR_API cgalr_rng_t cgalr_rng_derive(const cgalr_rng_t *parent, uint64_t sub);

CGALR_API uint64_t cgalr_rng_u64(cgalr_rng_t *r);
/* Uniform in [0, 1) with 53 random bits. */
CGALR_API double cgalr_rng_uniform(cgalr_rng_t *r);
/* Uniform in [0, 1) with 24 random bits. */
CGALR_API float cgalr_rng_uniformf(cgalr_rng_t *r);
/* Uniform integer in [0, n), unbiased; n > 0. */
CGALR_API uint64_t cgalr_rng_below(cgalr_rng_t *r, uint64_t n);
/* Standard normal (Box-Muller, consumes two words). */
CGALR_API double cgalr_rng_normal(cgalr_rng_t *r);
/* Fisher-Yates shuffle of idx[0..n). */
CGALR_API void cgalr_rng_shuffle(cgalr_rng_t *r, size_t *idx, size_t n);

#ifdef __cplusplus
}
#endif
#endif
