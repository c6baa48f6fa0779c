/* Data-parallel training's pieces that every rank runs in step through cgalr_train_comm_t
 * (docs/CLUSTER.md): the sums after each batch, the gathered probe rows, rank 0's batch-norm
 * statistics for inference. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cgalr/lock.h"
#include "cgalr/rng.h"
#include "cgalr/topo.h"
#include "core/clock.h"
#include "core/files.h"
#include "train/run.h"
#include "train/runfiles.h"
#include "train/sched_config.h"

/* --sync-bn: the batch-norm layers' sums over the ranks (cgalr_model_set_batch_sum) */
static cgalr_status_t dp_bn_sum(void *user, double *buf, size_t n)
{
    const ctx *c = user;
    return c->comm->sum_d(c->comm->user, buf, n);
}

cgalr_status_t train_dp_sync_bn_check(const ctx *c, int ranks)
{
    size_t ntrain = cgalr_loader_size(c->ld_train), B = c->cfg->batch, R = (size_t)ranks;
    size_t last = ntrain - (c->nb - 1) * B;
    if (B < R || last < R)
        return cgalr_fail(CGALR_EINVAL,
                          "--sync-bn on %zu ranks: every batch must give each rank a sample, but %s has %zu "
                          "(the %zu training samples in batches of %zu); choose --batch so that both are at least %zu",
                          R, B < R ? "a batch" : "the last batch", B < R ? B : last, ntrain, B, R);
    return CGALR_OK;
}

void train_dp_sync_bn(ctx *c)
{
    cgalr_model_set_batch_sum(c->model, dp_bn_sum, c);
}

/* The doubles reduced with each batch's gradients. */
enum { DP_LOSS, DP_CORRECT, DP_N, DP_BAD_PROBE, DP_STOP, DP_COUNT };

/* Batch-norm running statistics come from each rank's own part of the batches; like PyTorch's
 * DDP (broadcast_buffers), every inference forward uses rank 0's, which its checkpoint holds. */
cgalr_status_t train_dp_sync_buffers(ctx *c)
{
    size_t nb = cgalr_model_num_buffers(c->model);
    if (!c->comm || nb == 0)
        return CGALR_OK;
    return c->comm->bcast(c->comm->user, cgalr_model_buffers(c->model), nb * sizeof(float));
}

/* After this rank's forward and backward of its part (r: its mean loss over r->n samples, or
 * nothing when its part is empty): the gradient of the whole batch's mean loss, the batch's
 * loss, count and hits, and the flags, the same on every rank. n_batch: the whole batch's size. */
cgalr_status_t train_dp_reduce_batch(ctx *c, size_t n_batch, cgalr_step_result_t *r, int *bad_probe, int *stop)
{
    size_t np = cgalr_model_num_params(c->model);
    float *g = cgalr_model_grads(c->model);
    if (r->n == 0) {
        memset(g, 0, np * sizeof *g);
    } else {
        float w = (float)((double)r->n / (double)n_batch);
        for (size_t i = 0; i < np; i++)
            g[i] *= w;
    }
    double v[DP_COUNT] = {r->n ? r->loss * (double)r->n : 0.0, (double)r->correct, (double)r->n, (double)*bad_probe,
                          (double)*stop};
    cgalr_status_t st = c->comm->sum_f(c->comm->user, g, np);
    if (st == CGALR_OK)
        st = c->comm->sum_d(c->comm->user, v, DP_COUNT);
    if (st != CGALR_OK)
        return st;
    r->n = (size_t)v[DP_N];
    r->correct = (size_t)v[DP_CORRECT];
    r->loss = r->n ? v[DP_LOSS] / v[DP_N] : NAN;
    *bad_probe = v[DP_BAD_PROBE] > 0;
    *stop = v[DP_STOP] > 0;
    return CGALR_OK;
}

/* inline and stream: every rank's probe rows of the batch, taken by every rank in rank order (the
 * order of the samples in the batch), so all hold the rows (inline) or the statistics (stream)
 * one process would. */
cgalr_status_t train_dp_gather_rows(ctx *c)
{
    double t0 = core_now();
    const size_t *pos;
    const float *rows;
    size_t k = tprobe_pending(c->tp, &pos, &rows), p = c->probe_p;
    size_t tag = c->probe_mode == TPROBE_STREAM ? 0 : sizeof(uint64_t); /* inline: the probe position */
    size_t rec = tag + p * sizeof(float);
    if (k * rec > c->rows_cap) {
        void *nb = realloc(c->rows_buf, k * rec);
        if (!nb)
            return cgalr_fail(CGALR_ENOMEM, "probe rows: out of memory for %zu rows", k);
        c->rows_buf = nb;
        c->rows_cap = k * rec;
    }
    unsigned char *o = c->rows_buf;
    for (size_t i = 0; i < k; i++, o += rec) {
        uint64_t q = tag ? pos[i] : 0;
        memcpy(o, &q, tag);
        memcpy(o + tag, rows + i * p, p * sizeof(float));
    }
    void *all = NULL;
    size_t total = 0;
    cgalr_status_t st = c->comm->gather(c->comm->user, c->rows_buf, k * rec, &all, &total);
    if (st == CGALR_OK && total % rec != 0)
        st = cgalr_fail(CGALR_EINTERNAL, "probe rows: gathered %zu bytes, not a whole number of %zu-byte rows", total,
                        rec);
    size_t n = st == CGALR_OK ? total / rec : 0;
    size_t *gp = n ? malloc(n * sizeof *gp) : NULL;
    float *gr = n ? malloc(n * p * sizeof *gr) : NULL;
    if (n && (!gp || !gr) && st == CGALR_OK)
        st = cgalr_fail(CGALR_ENOMEM, "probe rows: out of memory for %zu gathered rows", n);
    for (size_t i = 0; st == CGALR_OK && i < n; i++) {
        const unsigned char *in = (const unsigned char *)all + i * rec;
        uint64_t q = 0;
        memcpy(&q, in, tag);
        gp[i] = (size_t)q;
        memcpy(gr + i * p, in + tag, p * sizeof(float));
    }
    if (st == CGALR_OK)
        st = tprobe_apply(c->tp, tag ? gp : NULL, gr, n);
    free(gp);
    free(gr);
    free(all);
    c->ctrl_seconds += core_now() - t0;
    return st;
}

