/* The connectome's sources (METHOD.md section 2, docs/PROBE_MODES.md): `pass` (a separate inference
 * forward over the fixed probe set, in loop.c), `inline` (the probe set's rows as they pass through
 * the training forward) and `stream` (every training row of the controller period). This file owns
 * the two training-forward sources: the capture hook, their state, and its checkpoint bytes. */
#ifndef CGALR_TRAIN_PROBE_H
#define CGALR_TRAIN_PROBE_H

#include <stddef.h>

#include "cgalr/nn.h"
#include "cgalr/status.h"

typedef enum { TPROBE_PASS = 0, TPROBE_INLINE = 1, TPROBE_STREAM = 2 } tprobe_mode_t;

/* "pass" / "inline" / "stream" (NULL or "" = inline, the default: docs/ABLATION.md) -> mode; -1 if
 * unknown. */
int tprobe_mode_parse(const char *name);
const char *tprobe_mode_name(int mode);
#define TPROBE_MODES "pass, inline, stream"

typedef struct tprobe tprobe_t;

/* mode inline or stream; p signals of `spec`; for inline the n probe positions idx[0..n) in the
 * training split of ntrain samples. Installs the hook on m (which must outlive it). sliding
 * (inline under --ctrl-every, where a controller step sees only a few new probe rows): the
 * connectome's sufficient statistics follow the stored rows one replacement at a time (O(p^2)
 * each) instead of being recomputed from all n rows (O(n p^2)) at every step; without it the
 * connectome is the dense form over the stored rows, the same function as `pass`. */
cgalr_status_t tprobe_create(int mode, cgalr_model_t *m, const char *spec, size_t p, const size_t *idx, size_t n,
                             size_t ntrain, int sliding, tprobe_t **out);
void tprobe_free(tprobe_t *t);
/* The next training forward's batch: its sample indices (positions in the training split). The
 * hook takes rows only between arm and disarm, so the extra training forwards of other code
 * (Schedule-Free's batch-norm refresh) never feed it. */
void tprobe_arm(tprobe_t *t, const size_t *index, size_t n);
void tprobe_disarm(tprobe_t *t);
/* Seconds spent in the hook (pooling, copying, accumulating) since the last call; resets. */
double tprobe_take_seconds(tprobe_t *t);
/* The connectome of the period into out (p x p). *ready = 0 (and nothing written) when the period
 * cannot make one yet: inline before every probe sample has passed once, stream before 2 rows; the
 * rows then carry over to the next controller step. stream starts a new period after a connectome. */
cgalr_status_t tprobe_connectome(tprobe_t *t, double *out, int *ready);
/* 1 when the connectome tprobe_connectome would give is, bit for bit, the one it gave last: inline,
 * and no probe row has passed through a training forward since (under --ctrl-every 1 with
 * N = 1,024 of 54,000 training samples, about half of the batches of 32 hold none). Its distance to
 * itself is exactly 0 for TOP, WD and SWK, so the step needs neither a connectome nor a barcode.
 * 0 after a load (checkpoint or guard): the next step recomputes, with the same result. */
int tprobe_unchanged(const tprobe_t *t);
/* Data parallel: from tprobe_defer on, a training forward's rows are kept, not used;
 * tprobe_pending hands them out (k rows k x p, valid until the next forward; inline: their probe
 * positions pos[0..k), stream: pos = NULL) and tprobe_apply takes rows, every rank's in rank
 * order, so that every rank holds the rows, or the statistics, one process would. */
void tprobe_defer(tprobe_t *t);
size_t tprobe_pending(tprobe_t *t, const size_t **pos, const float **rows);
cgalr_status_t tprobe_apply(tprobe_t *t, const size_t *pos, const float *rows, size_t k);
/* State as a malloc'd blob / restored from one (checkpoints, and the guard's last good state). */
cgalr_status_t tprobe_save(const tprobe_t *t, void **buf, size_t *size);
cgalr_status_t tprobe_load(tprobe_t *t, const void *buf, size_t size);

#endif
