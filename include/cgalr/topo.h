/* Topology layer: functional connectomes, graph-filtration barcodes and TOP, Vietoris-Rips
 * persistence, and distances between persistence diagrams (METHOD.md sections 2 and 3).
 * Depends on libc, libm and BLAS only: link it into any training framework and feed it
 * activations. All functions return CGALR_OK or a negative status with cgalr_last_error() set. */
#ifndef CGALR_TOPO_H
#define CGALR_TOPO_H

#include <stddef.h>
#include <stdint.h>

#include "cgalr/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Connectome: M_ij = |Pearson(a_i, a_j)|, M_ii = 0, in double ------------------------- */

/* act: n x p row-major (row = sample, column = signal). out: p x p row-major, caller-allocated.
 * A zero-variance signal has correlation 0 with every other. NaN/Inf in act is CGALR_ENONFINITE
 * naming the row and column (rows and columns count from 0); so are finite activations so large
 * (beyond about 1e150) that their sums of squares overflow. An exactly constant signal is dead
 * whatever its magnitude. Needs n >= 2, p >= 1. Uses BLAS
 * (dsyrk) with whatever thread count BLAS is set to. */
CGALR_API cgalr_status_t cgalr_topo_connectome_d(const double *act, size_t n, size_t p, double *out);
CGALR_API cgalr_status_t cgalr_topo_connectome_f(const float *act, size_t n, size_t p, double *out);

/* Streaming form: rows arrive in batches; the activation matrix is never held whole. It keeps the
 * sufficient statistics in double: the row count, per-signal means and the P x P centred
 * cross-products, each batch (in chunks of at most 256 rows) centred on its own means and merged
 * with Chan, Golub and LeVeque's pairwise update, so long streams of large-mean data lose no
 * precision. The dense functions above are this accumulator fed all rows at once. */
typedef struct cgalr_connectome_acc cgalr_connectome_acc_t;
CGALR_API cgalr_status_t cgalr_topo_acc_create(size_t p, cgalr_connectome_acc_t **out);
/* rows: nrows x p row-major. Row numbers in error messages count from the first row added. */
CGALR_API cgalr_status_t cgalr_topo_acc_add_d(cgalr_connectome_acc_t *acc, const double *rows, size_t nrows);
CGALR_API cgalr_status_t cgalr_topo_acc_add_f(cgalr_connectome_acc_t *acc, const float *rows, size_t nrows);
/* Writes the p x p connectome of all rows added so far (needs >= 2 rows); the accumulator
 * can keep accepting rows or be reset. */
CGALR_API cgalr_status_t cgalr_topo_acc_finish(const cgalr_connectome_acc_t *acc, double *out);
/* Sliding-set form: the accumulator summarises a set of rows the caller keeps, and one of them
 * changes. Replaces `old` (a row it holds) by `row` at a fixed count (needs >= 2 rows): Welford's
 * rank-1 downdate of the centred cross-products by old, then the update by row, O(p^2). A
 * downdate subtracts, so precision is kept by rebuilding (reset, then add the caller's rows)
 * whenever cgalr_topo_acc_stale says so. Rejects non-finite rows like add, changing nothing. */
CGALR_API cgalr_status_t cgalr_topo_acc_replace_f(cgalr_connectome_acc_t *acc, const float *old, const float *row);
/* 1 when the connectome of a replaced set can no longer be trusted to 1e-12 and must be rebuilt:
 * as many replacements since the reset as rows (their rounding adds up), or a signal whose centred
 * sum of squares fell below 1e-4 of its largest since the reset (its correlations would then be
 * mostly rounding; a signal that became constant this way is dead only after a rebuild). 0 for an
 * accumulator only ever added to. */
CGALR_API int cgalr_topo_acc_stale(const cgalr_connectome_acc_t *acc);
CGALR_API void cgalr_topo_acc_reset(cgalr_connectome_acc_t *acc);
CGALR_API size_t cgalr_topo_acc_rows(const cgalr_connectome_acc_t *acc);
/* The number of signals p it was created for (0 for NULL). */
CGALR_API size_t cgalr_topo_acc_width(const cgalr_connectome_acc_t *acc);
CGALR_API void cgalr_topo_acc_free(cgalr_connectome_acc_t *acc);
/* Its state as bytes (for checkpoints): with buf = NULL, *size receives the bytes needed; a later
 * load into an accumulator of the same p continues bit-identically. load validates everything it
 * reads (magic, version, p: CGALR_ESTATE when it differs, size, finiteness) and changes nothing on
 * failure. */
CGALR_API cgalr_status_t cgalr_topo_acc_save(const cgalr_connectome_acc_t *acc, void *buf, size_t *size);
CGALR_API cgalr_status_t cgalr_topo_acc_load(cgalr_connectome_acc_t *acc, const void *buf, size_t size);

/* ---- Graph filtration barcode and TOP ---------------------------------------------------- */

/* births: the p-1 maximum-spanning-tree weights, ascending. deaths: the (p-1)(p-2)/2 other
 * off-diagonal weights, ascending. Owned by the struct; free with cgalr_barcode_free. */
typedef struct cgalr_barcode {
    size_t p;
    size_t n_births; /* p - 1 */
    size_t n_deaths; /* (p - 1)(p - 2) / 2 */
    double *births;
    double *deaths;
} cgalr_barcode_t;

/* m: p x p symmetric connectome (values in [0, 1], diagonal ignored). p >= 2. Entries that differ
 * from their mirror by at most 1e-9 (text round trips) are accepted and the upper triangle is used;
 * more is CGALR_EINVAL. On failure *out is left empty (safe to free). */
CGALR_API cgalr_status_t cgalr_topo_barcode(const double *m, size_t p, cgalr_barcode_t *out);
CGALR_API void cgalr_barcode_free(cgalr_barcode_t *b);
/* TOP(a, b) = sum (b_k - b'_k)^2 + sum (d_k - d'_k)^2. Different p is CGALR_EINVAL. */
CGALR_API cgalr_status_t cgalr_topo_top(const cgalr_barcode_t *a, const cgalr_barcode_t *b, double *out);

/* ---- Persistence diagrams and Vietoris-Rips ---------------------------------------------- */

typedef struct cgalr_pair {
    double birth;
    double death; /* INFINITY for an essential class */
} cgalr_pair_t;

/* Owned by the struct; free with cgalr_diagram_free. n = 0 with pairs = NULL is the empty
 * diagram. */
typedef struct cgalr_diagram {
    size_t n;
    cgalr_pair_t *pairs;
} cgalr_diagram_t;

CGALR_API void cgalr_diagram_free(cgalr_diagram_t *d);
/* Sorts pairs by (birth, death) ascending. */
CGALR_API void cgalr_diagram_sort(cgalr_diagram_t *d);

/* Vietoris-Rips persistence of a symmetric p x p distance matrix (diagonal ignored, entries
 * >= 0 and finite), Z/2 coefficients, dimensions 0..maxdim (maxdim 0 or 1). threshold: edges
 * longer than it are left out (INFINITY = none: exact full persistence). Pairs with
 * death == birth are dropped. dgm1 may be NULL when maxdim = 0. Diagrams come back sorted. */
CGALR_API cgalr_status_t cgalr_topo_rips(const double *dist, size_t p, int maxdim, double threshold,
                               cgalr_diagram_t *dgm0, cgalr_diagram_t *dgm1);

/* ---- Distances between diagrams ---------------------------------------------------------- */

/* Exact 1-Wasserstein distance between two diagrams: the minimum, over matchings in which every
 * point goes to a point of the other diagram or to the diagonal, of the summed Euclidean
 * distances, a point's diagonal cost being (death - birth) / sqrt(2) (= GUDHI's
 * wasserstein_distance(order=1, internal_p=2)). Solved exactly in double (shortest augmenting
 * paths; O((n_a + n_b)^3) worst case, far less typically; memory O(n_a n_b)). Points with
 * infinite death: both diagrams must have the same number, matched by sorted birth (|b - b'|);
 * otherwise *out = INFINITY. Empty diagrams (n = 0, pairs may be NULL), points on the diagonal and
 * duplicates are valid. Errors: NULL diagram/out or pairs = NULL with n > 0 (CGALR_EINVAL), NaN
 * or infinite birth, NaN death (CGALR_ENONFINITE), birth > death or a finite coordinate beyond
 * 1e100 in magnitude (CGALR_EINVAL); the message names the diagram (a or b) and the point. */
CGALR_API cgalr_status_t cgalr_topo_wasserstein1(const cgalr_diagram_t *a, const cgalr_diagram_t *b, double *out);

/* Sliced Wasserstein distance (Carriere, Cuturi, Oudot 2017), finite points only:
 *   SW = (1/M) sum_{k=0}^{M-1} || sort(<A u pi(B), e_k>) - sort(<B u pi(A), e_k>) ||_1,
 * M = n_dirs, e_k = (cos t_k, sin t_k), t_k = -pi/2 + k pi/M, pi(b, d) = ((b+d)/2, (b+d)/2)
 * the diagonal projection. This is the paper's (1/pi) * integral over [-pi/2, pi/2) of the 1-D
 * Wasserstein distance, by the rectangle rule with step pi/M (their Algorithm 1), and equals
 * GUDHI's representations.metrics._sliced_wasserstein_distance(A, B, M). n_dirs in 1..1000000.
 * Errors as for W1 (including the 1e100 bound), and an essential point (death = inf) is
 * CGALR_EINVAL. */
CGALR_API cgalr_status_t cgalr_topo_sliced_wasserstein(const cgalr_diagram_t *a, const cgalr_diagram_t *b,
                                             int n_dirs, double *out);
/* exp(-sw / (2 sigma^2)); NaN when sigma is not a positive finite number or sw is NaN. */
CGALR_API double cgalr_topo_swk_kernel(double sw, double sigma);

/* ---- The distances of METHOD.md between two connectomes ---------------------------------- */

typedef enum cgalr_distance_kind {
    CGALR_DIST_TOP = 0,
    CGALR_DIST_WD = 1,
    CGALR_DIST_SWK = 2
} cgalr_distance_kind_t;

/* Parses "top" / "wd" / "swk"; returns -1 if unknown. */
CGALR_API int cgalr_topo_distance_parse(const char *name);
CGALR_API const char *cgalr_topo_distance_name(cgalr_distance_kind_t kind);

typedef struct cgalr_topo_config {
    cgalr_distance_kind_t kind;
    size_t p_ph;      /* WD/SWK: signals used (default 128); all when the connectome is smaller */
    uint64_t seed;    /* draws the P_ph subset (stream CGALR_STREAM_SUBSET) */
    int sw_directions;/* SWK: number of directions (default 50) */
} cgalr_topo_config_t;

/* Fills the documented defaults for `kind`. */
CGALR_API void cgalr_topo_config_default(cgalr_topo_config_t *cfg, cgalr_distance_kind_t kind);

/* The summary a controller keeps of a connectome: the barcode (TOP) or the H1 diagram of
 * D = sqrt(1 - M) on the P_ph subset (WD, SWK). */
typedef struct cgalr_topo_summary {
    cgalr_distance_kind_t kind;
    size_t p;                 /* size of the connectome it came from */
    cgalr_barcode_t barcode;  /* TOP */
    cgalr_diagram_t diagram;  /* WD, SWK */
} cgalr_topo_summary_t;

/* The P_ph subset for a p-signal connectome: sorted distinct indices, drawn by cfg->seed;
 * writes min(p, p_ph) indices to out (caller-allocated, p_ph entries) and their count. */
CGALR_API cgalr_status_t cgalr_topo_subset(const cgalr_topo_config_t *cfg, size_t p, size_t *out, size_t *count);

/* D_ij = sqrt(1 - M_ij) restricted to idx[0..k) (or all p when idx is NULL, k = p); out k x k. */
CGALR_API cgalr_status_t cgalr_topo_correlation_distance(const double *m, size_t p, const size_t *idx, size_t k,
                                               double *out);

/* Summarises a connectome (p x p) for the configured distance. */
CGALR_API cgalr_status_t cgalr_topo_summarize(const cgalr_topo_config_t *cfg, const double *m, size_t p,
                                    cgalr_topo_summary_t *out);
/* The configured distance between two summaries of the same kind and p: TOP, W1, or for SWK the
 * sliced Wasserstein distance SW itself (cgalr_topo_swk_kernel turns it into the kernel value). */
CGALR_API cgalr_status_t cgalr_topo_summary_distance(const cgalr_topo_config_t *cfg, const cgalr_topo_summary_t *a,
                                           const cgalr_topo_summary_t *b, double *out);
CGALR_API void cgalr_topo_summary_free(cgalr_topo_summary_t *s);

/* Serialise a summary into a caller buffer (for checkpoints). With buf = NULL, *size receives the
 * bytes needed. load validates everything it reads (sizes, finiteness, sortedness). */
CGALR_API cgalr_status_t cgalr_topo_summary_save(const cgalr_topo_summary_t *s, void *buf, size_t *size);
CGALR_API cgalr_status_t cgalr_topo_summary_load(const void *buf, size_t size, cgalr_topo_summary_t *out);

#ifdef __cplusplus
}
#endif
#endif
