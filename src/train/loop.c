/* The training loop: shuffled mini-batches, evaluation each epoch, the probe set and controller
 * steps of CG-ALR, the non-finite guard of METHOD.md section 4, and end-of-epoch checkpoints from
 * which --resume restarts the next epoch bit-identically (batches are pure functions of
 * (seed, epoch, batch), and every piece of state is in the checkpoint). */
#include "cgalr/train.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cgalr/data.h"
#include "cgalr/lock.h"
#include "cgalr/nn.h"
#include "cgalr/rng.h"
#include "cgalr/topo.h"
#include "train/probe.h"
#include "train/runfiles.h"
#include "core/files.h"
#include "train/sched_config.h"

/* ---- run state ---------------------------------------------------------------------------- */

#define LOOP_MAGIC 0x52544743u /* "CGTR" */
#define LOOP_VERSION 2u /* 2: the probe-capture state follows the scheduler blob (inline, stream) */

/* What the loop adds to the nn checkpoint (followed by the scheduler blob). */
typedef struct loop_state {
    uint32_t magic, version;
    int64_t epochs_done;
    int64_t iteration;
    int64_t metrics_off;
    double best_val_acc, final_test_acc, final_val_loss;
    double seconds, ctrl_seconds, epoch_seconds_sum;
    int32_t guard_events;
    int32_t pad;
    uint64_t sched_size;
} loop_state_t;

typedef struct ctx {
    const cgalr_train_config_t *cfg;
    const cgalr_train_hooks_t *hooks;
    cgalr_dataset_t *ds;
    const cgalr_data_info_t *info;
    int graphs;
    cgalr_model_t *model;
    cgalr_optim_t *opt;
    cgalr_sched_t *sched;
    cgalr_method_t method;
    cgalr_loader_t *ld_train, *ld_val, *ld_test, *ld_probe;
    size_t nb;           /* training batches per epoch */
    int cgalr;           /* controller in use */
    int dog;
    int adapt;           /* prodigy, dadapt-*, sf-*: the scheduler takes the step */
    size_t probe_n, probe_p;
    size_t *probe_idx;
    float *act;
    double *conn;
    float *swap;         /* DoG: the last iterate while the averaged one is evaluated */
    cgalr_nn_snapshot_t *at_y; /* Schedule-Free: the training state while x is evaluated */
    double ctrl_seconds;
    int probe_mode;      /* TPROBE_*: where the connectome's rows come from */
    tprobe_t *tp;        /* inline, stream: the training-forward capture */
    cgalr_nn_snapshot_t *good;
    void *good_sched;
    size_t good_sched_size;
    void *good_probe;    /* the capture state of the last good epoch (the guard restores it) */
    size_t good_probe_size;
    int metrics_fd;
    int lock_fd;         /* DIR/.lock, held from before the first write to the end */
    /* data-parallel (hooks->comm, size > 1): this rank's part of every batch; rank 0 alone writes */
    const cgalr_train_comm_t *comm;
    int rank;
    size_t n_reduce;     /* doubles reduced with the gradients: see DP_* */
    void *rows_buf;      /* this rank's probe rows of a batch, packed for the gather */
    size_t rows_cap;
    char path_metrics[4096], path_ckpt[4096], path_config[4096], path_summary[4096];
} ctx;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void ctx_free(ctx *c)
{
    cgalr_loader_free(c->ld_train);
    cgalr_loader_free(c->ld_val);
    cgalr_loader_free(c->ld_test);
    cgalr_loader_free(c->ld_probe);
    cgalr_sched_free(c->sched);
    cgalr_optim_free(c->opt);
    tprobe_free(c->tp); /* before the model: it removes its hook from it */
    cgalr_model_free(c->model);
    cgalr_dataset_free(c->ds);
    cgalr_nn_snapshot_free(c->good);
    cgalr_nn_snapshot_free(c->at_y);
    free(c->good_sched);
    free(c->good_probe);
    free(c->probe_idx);
    free(c->act);
    free(c->conn);
    free(c->swap);
    free(c->rows_buf);
    if (c->metrics_fd >= 0)
        close(c->metrics_fd);
    cgalr_lock_release(c->lock_fd);
}

/* ---- evaluation and the controller -------------------------------------------------------- */

typedef struct {
    double loss, acc;
} eval_out;

/* ---- data parallel: the pieces every rank runs in step (cgalr_train_comm_t) ---------------- */

/* Batch-norm running statistics come from each rank's own part of the batches; like PyTorch's
 * DDP (broadcast_buffers), every inference forward uses rank 0's, which its checkpoint holds. */
static cgalr_status_t dp_sync_buffers(ctx *c)
{
    size_t nb = cgalr_model_num_buffers(c->model);
    if (!c->comm || nb == 0)
        return CGALR_OK;
    return c->comm->bcast(c->comm->user, cgalr_model_buffers(c->model), nb * sizeof(float));
}

/* The doubles reduced with each batch's gradients. */
enum { DP_LOSS, DP_CORRECT, DP_N, DP_BAD_PROBE, DP_STOP, DP_COUNT };

/* After this rank's forward and backward of its part (r: its mean loss over r->n samples, or
 * nothing when its part is empty): the gradient of the whole batch's mean loss, the batch's
 * loss, count and hits, and the flags, the same on every rank. n_batch: the whole batch's size. */
static cgalr_status_t dp_reduce_batch(ctx *c, size_t n_batch, cgalr_step_result_t *r, int *bad_probe, int *stop)
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
static cgalr_status_t dp_gather_rows(ctx *c)
{
    double t0 = now_s();
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
    c->ctrl_seconds += now_s() - t0;
    return st;
}

static cgalr_status_t evaluate(ctx *c, cgalr_loader_t *ld, eval_out *out)
{
    out->loss = out->acc = NAN;
    size_t nb = cgalr_loader_n_batches(ld), n = 0, correct = 0, bad = 0;
    double sum = 0;
    cgalr_status_t sst = dp_sync_buffers(c);
    if (sst != CGALR_OK)
        return sst;
    for (size_t b = 0; b < nb; b++) {
        if (c->comm && b % (size_t)c->comm->size != (size_t)c->rank)
            continue; /* data parallel: rank r evaluates batches r, r + R, ... */
        cgalr_batch_t batch;
        cgalr_step_result_t r;
        cgalr_status_t st = cgalr_loader_batch(ld, 0, b, &batch);
        if (st != CGALR_OK)
            return st;
        st = c->graphs ? cgalr_model_eval_graphs(c->model, &batch.graph, &r)
                       : cgalr_model_eval_images(c->model, &batch.image, &r);
        if (st != CGALR_OK)
            return st;
        sum += r.loss;
        n += r.n;
        correct += r.correct;
        bad += r.nonfinite;
    }
    if (c->comm) {
        double v[4] = {sum, (double)n, (double)correct, (double)bad};
        if ((sst = c->comm->sum_d(c->comm->user, v, 4)) != CGALR_OK)
            return sst;
        sum = v[0];
        n = (size_t)v[1];
        correct = (size_t)v[2];
        bad = (size_t)v[3];
    }
    if (n == 0)
        return CGALR_OK;
    out->acc = (double)correct / (double)n;
    out->loss = bad ? NAN : sum / (double)n;
    return CGALR_OK;
}

/* DoG's polynomial-decay averaged iterate, evaluated alongside the last one (METHOD.md 5): its
 * parameters are swapped in for the evaluation only, so training is untouched. */
static cgalr_status_t evaluate_dog_average(ctx *c, eval_out *val, eval_out *test)
{
    size_t n = 0, np = cgalr_model_num_params(c->model);
    const float *avg = cgalr_sched_dog_averaged(c->sched, &n);
    if (!avg || n != np)
        return CGALR_OK;
    if (!c->swap && !(c->swap = malloc(np * sizeof *c->swap)))
        return cgalr_fail(CGALR_ENOMEM, "DoG averaged iterate: out of memory");
    float *p = cgalr_model_params(c->model);
    memcpy(c->swap, p, np * sizeof *p);
    memcpy(p, avg, np * sizeof *p);
    cgalr_status_t st = evaluate(c, c->ld_val, val);
    if (st == CGALR_OK)
        st = evaluate(c, c->ld_test, test);
    memcpy(p, c->swap, np * sizeof *p);
    return st;
}

/* Training batches run at x to recompute the batch-norm running statistics there (the
 * Schedule-Free authors' prescription; with momentum 0.1, 16 batches weigh the old statistics
 * by 0.9^16 = 0.19). */
#define SF_BN_BATCHES 16

/* Schedule-Free evaluates (and keeps) the x sequence, not the y it trains at: x goes into the
 * model for the evaluation, with batch-norm statistics recomputed at x over a few training
 * batches, and the training state (y, its statistics, the dropout stream) comes back after. */
static cgalr_status_t evaluate_at_x(ctx *c, long epoch, eval_out *val, eval_out *test)
{
    size_t n = 0, np = cgalr_model_num_params(c->model);
    const float *x = cgalr_sched_eval_params(c->sched, &n);
    if (!x || n != np) {
        cgalr_status_t st = evaluate(c, c->ld_val, val);
        return st == CGALR_OK ? evaluate(c, c->ld_test, test) : st;
    }
    cgalr_status_t st = c->at_y ? cgalr_nn_snapshot_update(c->at_y, c->model, NULL)
                                : cgalr_nn_snapshot_take(c->model, NULL, &c->at_y);
    if (st != CGALR_OK)
        return st;
    memcpy(cgalr_model_params(c->model), x, np * sizeof *x);
    for (size_t b = 0; cgalr_model_num_buffers(c->model) > 0 && b < c->nb && b < SF_BN_BATCHES && st == CGALR_OK;
         b++) {
        cgalr_batch_t batch;
        cgalr_step_result_t r;
        st = cgalr_loader_batch(c->ld_train, (uint64_t)epoch, b, &batch);
        if (st == CGALR_OK)
            st = c->graphs ? cgalr_model_train_graphs(c->model, &batch.graph, &r)
                           : cgalr_model_train_images(c->model, &batch.image, &r);
    }
    if (st == CGALR_OK)
        st = evaluate(c, c->ld_val, val);
    if (st == CGALR_OK)
        st = evaluate(c, c->ld_test, test);
    cgalr_status_t rs = cgalr_nn_snapshot_restore(c->at_y, c->model, NULL);
    return st != CGALR_OK ? st : rs;
}

/* The capture's time in the training forwards since the last call, into the controller's share. */
static void take_capture_seconds(ctx *c)
{
    if (c->tp)
        c->ctrl_seconds += tprobe_take_seconds(c->tp);
}

/* The capture state as bytes (checkpoint, the guard's good state): a cost the controller adds. */
static cgalr_status_t save_probe_timed(ctx *c, void **buf, size_t *size)
{
    double t0 = now_s();
    cgalr_status_t st = tprobe_save(c->tp, buf, size);
    c->ctrl_seconds += now_s() - t0;
    return st;
}

/* Probe forward (pass) or the training forward's rows (inline, stream), connectome and controller
 * step; timed as the controller's share. Without a connectome yet (inline before every probe sample
 * has been through a training forward, stream before 2 rows) the step waits for the next one. */
static cgalr_status_t controller_step(ctx *c, double progress)
{
    double t0 = now_s();
    cgalr_sched_trace_t rec; /* also the scheduler's last trace, which the epoch record reads */
    take_capture_seconds(c);
    if (c->tp && tprobe_unchanged(c->tp)) {
        /* the same connectome as at the last step: d = 0 exactly, what the full step computes */
        cgalr_status_t st = cgalr_sched_observe_distance(c->sched, 0.0, progress, &rec);
        c->ctrl_seconds += now_s() - t0;
        return st;
    }
    if (c->tp) {
        int ready = 0;
        cgalr_status_t st = tprobe_connectome(c->tp, c->conn, &ready);
        if (st == CGALR_OK && ready)
            st = cgalr_sched_observe_connectome(c->sched, c->conn, c->probe_p, progress, &rec);
        c->ctrl_seconds += now_s() - t0;
        return st;
    }
    const size_t chunk = 256;
    /* data parallel: rank r captures rows [n r / R, n (r + 1) / R) with rank 0's batch-norm
     * statistics, and the ranks' rows are gathered in rank order */
    size_t lo = 0, hi = c->probe_n;
    if (c->comm) {
        lo = c->probe_n * (size_t)c->rank / (size_t)c->comm->size;
        hi = c->probe_n * (size_t)(c->rank + 1) / (size_t)c->comm->size;
    }
    cgalr_status_t st = dp_sync_buffers(c);
    for (size_t k = lo; k < hi && st == CGALR_OK; k += chunk) {
        size_t m = hi - k < chunk ? hi - k : chunk;
        cgalr_batch_t batch;
        st = cgalr_loader_gather(c->ld_probe, c->probe_idx + k, m, &batch);
        if (st == CGALR_OK)
            st = c->graphs ? cgalr_model_capture_graphs(c->model, c->cfg->probe_layer, &batch.graph,
                                                        c->act + k * c->probe_p)
                           : cgalr_model_capture_images(c->model, c->cfg->probe_layer, &batch.image,
                                                        c->act + k * c->probe_p);
    }
    if (c->comm && st == CGALR_OK) {
        /* (a capture error above skips the gather: it ends the job, cgalr_train_comm_t) */
        void *all = NULL;
        size_t total = 0, bytes = c->probe_n * c->probe_p * sizeof *c->act;
        st = c->comm->gather(c->comm->user, c->act + lo * c->probe_p, (hi - lo) * c->probe_p * sizeof *c->act, &all,
                             &total);
        if (st == CGALR_OK && total != bytes)
            st = cgalr_fail(CGALR_EINTERNAL, "probe pass: gathered %zu bytes of rows, expected %zu", total, bytes);
        if (st == CGALR_OK)
            memcpy(c->act, all, bytes);
        free(all);
    }
    if (st == CGALR_OK) {
        st = cgalr_topo_connectome_f(c->act, c->probe_n, c->probe_p, c->conn);
        if (st == CGALR_OK)
            st = cgalr_sched_observe_connectome(c->sched, c->conn, c->probe_p, progress, &rec);
    }
    c->ctrl_seconds += now_s() - t0;
    return st;
}

static cgalr_status_t setup_probe(ctx *c)
{
    size_t ntrain = cgalr_loader_size(c->ld_train);
    size_t n = c->cfg->probe_n ? c->cfg->probe_n : 1024;
    if (n > ntrain)
        n = ntrain;
    if (n < 2)
        return cgalr_fail(CGALR_EINVAL, "probe set: the training split has %zu samples, the connectome needs >= 2",
                          ntrain);
    cgalr_status_t st = cgalr_model_probe_width(c->model, c->cfg->probe_layer, &c->probe_p);
    if (st != CGALR_OK)
        return st;
    if (c->probe_p < 3 || c->probe_p > 8192)
        return cgalr_fail(CGALR_EINVAL, "probe '%s': %zu signals, expected 3 .. 8192",
                          c->cfg->probe_layer ? c->cfg->probe_layer : cgalr_model_default_probe(c->model),
                          c->probe_p);
    size_t *all = malloc(ntrain * sizeof *all);
    c->probe_idx = malloc(n * sizeof *c->probe_idx);
    c->act = malloc(n * c->probe_p * sizeof *c->act);
    c->conn = malloc(c->probe_p * c->probe_p * sizeof *c->conn);
    if (!all || !c->probe_idx || !c->act || !c->conn) {
        free(all);
        return cgalr_fail(CGALR_ENOMEM, "probe set of %zu x %zu: out of memory", n, c->probe_p);
    }
    /* drawn once by the seed, in a fixed order (METHOD.md section 2) */
    for (size_t i = 0; i < ntrain; i++)
        all[i] = i;
    cgalr_rng_t rng = cgalr_rng_init(c->cfg->seed, CGALR_STREAM_PROBE);
    cgalr_rng_shuffle(&rng, all, ntrain);
    memcpy(c->probe_idx, all, n * sizeof *all);
    free(all);
    c->probe_n = n;
    c->probe_mode = tprobe_mode_parse(c->cfg->probe_mode);
    if (c->probe_mode != TPROBE_PASS)
        return tprobe_create(c->probe_mode, c->model, c->cfg->probe_layer, c->probe_p, c->probe_idx, n, ntrain,
                             c->cfg->ctrl_every > 0, &c->tp);
    return CGALR_OK;
}

/* ---- files -------------------------------------------------------------------------------- */

static cgalr_status_t append_line(ctx *c, const char *line, int64_t *off)
{
    size_t n = strlen(line);
    if (c->rank != 0) { /* data parallel: rank 0 writes the run's files */
        *off += (int64_t)(n + 1);
        return CGALR_OK;
    }
    char *buf = malloc(n + 1);
    if (!buf)
        return cgalr_fail(CGALR_ENOMEM, "metrics: out of memory");
    memcpy(buf, line, n);
    buf[n] = '\n';
    size_t done = 0;
    while (done < n + 1) {
        ssize_t w = write(c->metrics_fd, buf + done, n + 1 - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            int e = errno;
            free(buf);
            /* leave the file as it was: the checkpoint still points before this line */
            if (ftruncate(c->metrics_fd, (off_t)*off) != 0) {
            }
            return cgalr_fail(CGALR_EIO, "%s: write failed: %s", c->path_metrics, strerror(w < 0 ? e : ENOSPC));
        }
        done += (size_t)w;
    }
    free(buf);
    *off += (int64_t)(n + 1);
    return CGALR_OK;
}

/* The scheduler's state as a malloc'd blob (checkpoints, and the guard's last good state). */
static cgalr_status_t sched_state(const ctx *c, void **buf, size_t *size)
{
    *buf = NULL;
    *size = 0;
    size_t need = 0;
    cgalr_status_t st = cgalr_sched_save(c->sched, NULL, &need);
    if (st != CGALR_OK)
        return st;
    void *b = malloc(need ? need : 1);
    if (!b)
        return cgalr_fail(CGALR_ENOMEM, "scheduler state: out of memory");
    if ((st = cgalr_sched_save(c->sched, b, &need)) != CGALR_OK) {
        free(b);
        return st;
    }
    *buf = b;
    *size = need;
    return CGALR_OK;
}

static cgalr_status_t save_checkpoint(ctx *c, const loop_state_t *ls_in)
{
    if (c->rank != 0)
        return CGALR_OK;
    void *sb = NULL;
    size_t ss = 0;
    cgalr_status_t st = sched_state(c, &sb, &ss);
    if (st != CGALR_OK)
        return st;
    void *pb = NULL;
    size_t ps = 0;
    if (c->tp && (st = save_probe_timed(c, &pb, &ps)) != CGALR_OK) {
        free(sb);
        return st;
    }
    loop_state_t ls = *ls_in;
    ls.sched_size = ss;
    unsigned char *blob = malloc(sizeof ls + ss + ps);
    if (!blob) {
        free(sb);
        free(pb);
        return cgalr_fail(CGALR_ENOMEM, "checkpoint: out of memory");
    }
    memcpy(blob, &ls, sizeof ls);
    memcpy(blob + sizeof ls, sb, ss);
    if (ps)
        memcpy(blob + sizeof ls + ss, pb, ps);
    free(sb);
    free(pb);
    /* Schedule-Free: the checkpoint's model is x, the point evaluated and kept; y comes back
     * from the scheduler state on load (cgalr_sched_train_params) */
    size_t np = cgalr_model_num_params(c->model), nx = 0;
    const float *x = cgalr_sched_eval_params(c->sched, &nx);
    float *p = cgalr_model_params(c->model);
    if (x && nx == np) {
        if (!c->swap && !(c->swap = malloc(np * sizeof *c->swap))) {
            free(blob);
            return cgalr_fail(CGALR_ENOMEM, "checkpoint: out of memory");
        }
        memcpy(c->swap, p, np * sizeof *p);
        memcpy(p, x, np * sizeof *p);
    }
    st = cgalr_nn_save(c->path_ckpt, c->model, c->opt, blob, sizeof ls + ss + ps);
    if (x && nx == np)
        memcpy(p, c->swap, np * sizeof *p);
    free(blob);
    return st;
}

static cgalr_status_t load_checkpoint(ctx *c, loop_state_t *ls)
{
    void *extra = NULL;
    size_t size = 0;
    cgalr_status_t st = cgalr_nn_load(c->path_ckpt, c->model, c->opt, &extra, &size);
    if (st != CGALR_OK)
        return st;
    if (!extra || size < sizeof *ls) {
        free(extra);
        return cgalr_fail(CGALR_EFORMAT, "%s: no training-loop state in the checkpoint", c->path_ckpt);
    }
    memcpy(ls, extra, sizeof *ls);
    /* version 1 (before the probe modes) is a version 2 without capture state */
    size_t rest = size - sizeof *ls;
    if (ls->magic != LOOP_MAGIC || (ls->version != LOOP_VERSION && ls->version != 1u) || ls->sched_size > rest ||
        (ls->version == 1u && ls->sched_size != rest) || ls->epochs_done < 0 || ls->epochs_done > c->cfg->epochs ||
        ls->metrics_off < 0 || ls->iteration < 0) {
        free(extra);
        return cgalr_fail(CGALR_EFORMAT, "%s: training-loop state is corrupt or from another version", c->path_ckpt);
    }
    size_t probe_size = rest - (size_t)ls->sched_size;
    if (!c->tp != !probe_size) {
        free(extra);
        return cgalr_fail(CGALR_ESTATE, "%s: the checkpoint %s probe-capture state, but this run's --probe-mode is %s",
                          c->path_ckpt, probe_size ? "holds" : "has no", tprobe_mode_name(c->probe_mode));
    }
    st = cgalr_sched_load(c->sched, (unsigned char *)extra + sizeof *ls, (size_t)ls->sched_size);
    if (st == CGALR_OK && c->tp)
        st = tprobe_load(c->tp, (unsigned char *)extra + sizeof *ls + ls->sched_size, probe_size);
    free(extra);
    if (st == CGALR_OK) /* Schedule-Free saved x as the model: train on from y */
        st = cgalr_sched_train_params(c->sched, cgalr_model_params(c->model), cgalr_model_num_params(c->model));
    return st;
}

static int exists(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0;
}

static cgalr_status_t mkdirs(const char *path)
{
    if (core_mkdirs(path) != CGALR_OK) {
        char why[1024];
        snprintf(why, sizeof why, "%s", cgalr_last_error());
        return cgalr_fail(CGALR_EIO, "--out %s: %s", path, why);
    }
    if (access(path, W_OK) != 0)
        return cgalr_fail(CGALR_EIO, "--out %s: not writable: %s", path, strerror(errno));
    return CGALR_OK;
}

/* ---- setup -------------------------------------------------------------------------------- */

static cgalr_status_t setup(ctx *c)
{
    const cgalr_train_config_t *cfg = c->cfg;
    cgalr_data_config_t dc;
    cgalr_data_config_default(&dc);
    dc.name = cfg->data;
    dc.data_dir = cfg->data_dir;
    dc.val_fraction = cfg->val_fraction;
    dc.split_seed = cfg->split_seed;
    dc.limit = cfg->limit;
    dc.train_subset = cfg->train_subset;
    dc.node_attr = cfg->node_attr;
    dc.cache_dir = cfg->cache_dir;
    dc.folds = cfg->folds;
    dc.fold = cfg->folds >= 2 ? cfg->fold : 0;
    dc.degree_features = cfg->degree_features;
    dc.normalize = cfg->normalize;
    dc.augment_crop = cfg->augment_crop;
    dc.augment_flip = cfg->augment_flip;
    dc.cifar100_coarse = cfg->cifar100_coarse;
    dc.resize = cfg->resize;
    cgalr_status_t st = cgalr_dataset_open(&dc, &c->ds);
    if (st != CGALR_OK)
        return st;
    c->info = cgalr_dataset_info(c->ds);
    c->graphs = c->info->kind == CGALR_DATA_GRAPH;
    int kind = cgalr_model_kind_parse(cfg->model);
    if (c->graphs != (kind == CGALR_MODEL_GIN))
        return cgalr_fail(CGALR_EINVAL, "model %s does not fit dataset %s (%s): %s", cfg->model, cfg->data,
                          c->graphs ? "graphs" : "images",
                          c->graphs ? "graph datasets need --model gin" : "image datasets need mlp, cnn, resnet20 or resnet18");
    if (c->info->samples[CGALR_SPLIT_TRAIN] == 0)
        return cgalr_fail(CGALR_EINVAL, "dataset %s: the training split is empty", cfg->data);

    cgalr_model_config_t mc;
    cgalr_model_config_default(&mc, (cgalr_model_kind_t)kind);
    if (c->graphs) {
        mc.node_features = c->info->feat_dim;
    } else {
        mc.in_c = c->info->c;
        mc.in_h = c->info->h;
        mc.in_w = c->info->w;
    }
    mc.n_classes = c->info->classes;
    mc.seed = cfg->seed;
    mc.threads = cfg->threads;
    if ((st = cgalr_model_create(&mc, &c->model)) != CGALR_OK)
        return st;

    cgalr_loader_config_t lc;
    cgalr_loader_config_default(&lc, CGALR_SPLIT_TRAIN);
    lc.batch_size = cfg->batch;
    lc.seed = cfg->seed;
    lc.augment = 1; /* the only augmented loader: crop/flip as the dataset was opened with */
    if ((st = cgalr_loader_create(c->ds, &lc, &c->ld_train)) != CGALR_OK)
        return st;
    c->nb = cgalr_loader_n_batches(c->ld_train);
    for (int s = 1; s <= 2; s++) {
        cgalr_loader_config_default(&lc, (cgalr_split_t)s);
        lc.batch_size = 256;
        lc.seed = cfg->seed;
        lc.shuffle = 0;
        lc.augment = 0;
        if ((st = cgalr_loader_create(c->ds, &lc, s == 1 ? &c->ld_val : &c->ld_test)) != CGALR_OK)
            return st;
    }

    cgalr_sched_config_t sc;
    if ((st = train_sched_config(cfg, (long)c->nb, cgalr_model_num_buffers(c->model) > 0, &sc)) != CGALR_OK ||
        (st = cgalr_sched_create(&sc, &c->sched)) != CGALR_OK)
        return st;
    c->method = sc.method;
    c->cgalr = cgalr_method_is_cgalr(c->method);
    c->dog = c->method == CGALR_METHOD_DOG;
    c->adapt = cgalr_adapt_arrays(c->method) > 0; /* prodigy, dadapt-*, sf-*: the scheduler steps */

    cgalr_optim_config_t oc;
    switch (cgalr_sched_optimizer(c->sched)) {
    case CGALR_SCHED_OPTIM_ADAM:
        cgalr_optim_config_default(&oc, CGALR_OPTIM_ADAM);
        oc.weight_decay = cfg->weight_decay;
        break;
    case CGALR_SCHED_OPTIM_ADAMW:
        cgalr_optim_config_default(&oc, CGALR_OPTIM_ADAMW);
        if (cfg->weight_decay > 0)
            oc.weight_decay = cfg->weight_decay;
        break;
    case CGALR_SCHED_OPTIM_SGD:
        cgalr_optim_config_default(&oc, CGALR_OPTIM_SGD);
        oc.momentum = 0;
        oc.weight_decay = cfg->weight_decay;
        break;
    default:
        cgalr_optim_config_default(&oc, CGALR_OPTIM_SGD);
        oc.momentum = cgalr_sched_config(c->sched)->momentum;
        oc.weight_decay = cfg->weight_decay;
        break;
    }
    if ((st = cgalr_optim_create(&oc, c->model, &c->opt)) != CGALR_OK)
        return st;

    if (c->cgalr) {
        cgalr_loader_config_default(&lc, CGALR_SPLIT_TRAIN);
        lc.shuffle = 0;
        lc.augment = 0;
        lc.batch_size = 256;
        lc.seed = cfg->seed;
        if ((st = cgalr_loader_create(c->ds, &lc, &c->ld_probe)) != CGALR_OK)
            return st;
        if ((st = setup_probe(c)) != CGALR_OK)
            return st;
    } else if (cfg->probe_layer && *cfg->probe_layer) {
        size_t p;
        if ((st = cgalr_model_probe_width(c->model, cfg->probe_layer, &p)) != CGALR_OK)
            return st;
    }
    return CGALR_OK;
}

/* ---- the loop ----------------------------------------------------------------------------- */

static void fill_summary(cgalr_train_summary_t *s, const loop_state_t *ls, const ctx *c)
{
    s->epochs_done = ls->epochs_done;
    s->best_val_acc = ls->best_val_acc;
    s->final_test_acc = ls->final_test_acc;
    s->final_val_loss = ls->final_val_loss;
    s->seconds = ls->seconds;
    s->ctrl_seconds = ls->ctrl_seconds;
    s->ctrl_share = ls->seconds > 0 ? ls->ctrl_seconds / ls->seconds : 0;
    s->epoch_seconds = ls->epochs_done > 0 ? ls->epoch_seconds_sum / (double)ls->epochs_done : NAN;
    s->params = c->model ? cgalr_model_num_params(c->model) : 0;
    s->probe_n = c->probe_n;
    if (c->probe_mode == TPROBE_STREAM && c->ld_train) {
        size_t rows = cgalr_loader_size(c->ld_train);
        if (c->cfg->ctrl_every > 0 && (double)c->cfg->ctrl_every * (double)c->cfg->batch < (double)rows)
            rows = (size_t)c->cfg->ctrl_every * c->cfg->batch;
        s->probe_n = rows;
    }
    s->probe_p = c->probe_p;
    for (int k = 0; k < 3 && c->info; k++)
        s->samples[k] = c->info->samples[k];
    s->guard_events = ls->guard_events;
}

/* metrics.jsonl for appending, cut back to what the checkpoint (ls) says was logged: whatever
 * a killed run wrote after its last checkpoint goes; a file shorter than the checkpoint says is
 * not this run's (extending it would write zeros into it). Data parallel: rank 0's alone. */
static cgalr_status_t open_metrics(ctx *c, const loop_state_t *ls)
{
    if (c->rank != 0)
        return CGALR_OK;
    c->metrics_fd = open(c->path_metrics, O_WRONLY | O_CREAT, 0644);
    if (c->metrics_fd < 0)
        return cgalr_fail(CGALR_EIO, "%s: cannot open: %s", c->path_metrics, strerror(errno));
    struct stat mst;
    if (fstat(c->metrics_fd, &mst) != 0 || (int64_t)mst.st_size < ls->metrics_off)
        return cgalr_fail(CGALR_ESTATE, "%s: %lld bytes, but the checkpoint was taken after %lld: the metrics file was "
                                        "changed; remove the run directory and start again",
                          c->path_metrics, (long long)mst.st_size, (long long)ls->metrics_off);
    if (ftruncate(c->metrics_fd, (off_t)ls->metrics_off) != 0 || lseek(c->metrics_fd, 0, SEEK_END) < 0)
        return cgalr_fail(CGALR_EIO, "%s: cannot truncate: %s", c->path_metrics, strerror(errno));
    return CGALR_OK;
}

static cgalr_status_t write_summary(const ctx *c, const cgalr_train_summary_t *sum)
{
    return c->rank == 0 ? train_write_summary(c->path_summary, sum) : CGALR_OK;
}

/* What the epochs of one cgalr_train_run share. */
typedef struct session {
    double t_session, seconds0, ctrl0; /* this session's start; the earlier sessions' totals */
    double last_progress;
    long iters_session;
    int dp_stop;                       /* data parallel: the stop every rank agreed on */
} session_t;

/* One pass over an epoch's training batches, then its evaluation. */
typedef struct epoch_run {
    double t_epoch, ctrl_at_start;
    int64_t iter;
    double loss_sum, lr_used, train_loss;
    size_t seen, correct;
    int nonfinite;                     /* the guard's case; why says what */
    int stopped;                       /* *hooks->stop: the partial epoch is redone on resume */
    char why[200];
    eval_out ev, et, avg_val, avg_test;
} epoch_run_t;

/* The head of a run: its checkpoint (on resume) or M_0 and a first checkpoint, the metrics file,
 * and the last good state the guard returns to. */
static cgalr_status_t start_run(ctx *c, loop_state_t *ls, session_t *ss)
{
    const cgalr_train_config_t *cfg = c->cfg;
    cgalr_status_t st;
    memset(ls, 0, sizeof *ls);
    ls->magic = LOOP_MAGIC;
    ls->version = LOOP_VERSION;
    ls->best_val_acc = ls->final_test_acc = ls->final_val_loss = NAN;
    if (c->comm && c->tp)
        tprobe_defer(c->tp);
    int have_ckpt = cfg->resume && !cfg->restart && exists(c->path_ckpt);
    if (c->comm && (st = c->comm->bcast(c->comm->user, &have_ckpt, sizeof have_ckpt)) != CGALR_OK)
        return st; /* rank 0's view of the directory decides */
    if (have_ckpt && c->rank != 0 && !exists(c->path_ckpt))
        return cgalr_fail(CGALR_EIO, "%s: rank %d does not see the checkpoint rank 0 resumes from: data-parallel "
                                     "training needs --out on a file system every rank shares",
                          cfg->out, c->rank);
    if (have_ckpt && (st = load_checkpoint(c, ls)) != CGALR_OK)
        return st;
    if ((st = open_metrics(c, ls)) != CGALR_OK)
        return st;

    memset(ss, 0, sizeof *ss);
    ss->t_session = now_s();
    ss->seconds0 = ls->seconds;
    ss->ctrl0 = ls->ctrl_seconds;
    c->ctrl_seconds = 0;
    if (c->cgalr && !have_ckpt && !c->tp) {
        /* M_0: before the first training step (inline and stream have no rows before it: their
         * first connectome is the reference, docs/PROBE_MODES.md) */
        if ((st = controller_step(c, 0.0)) != CGALR_OK)
            return st;
    }
    /* a checkpoint from the start, so that "logged epochs but no checkpoint" is never the
     * trace of a kill and can be refused (cgalr_train_run) instead of silently restarted */
    if (!have_ckpt && (st = save_checkpoint(c, ls)) != CGALR_OK)
        return st;
    if ((st = cgalr_nn_snapshot_take(c->model, c->opt, &c->good)) != CGALR_OK)
        return st;
    if ((st = sched_state(c, &c->good_sched, &c->good_sched_size)) != CGALR_OK)
        return st;
    if (c->tp && (st = save_probe_timed(c, &c->good_probe, &c->good_probe_size)) != CGALR_OK)
        return st;
    return CGALR_OK;
}

/* Forward and backward of batch b (data parallel: this rank's part of it, then the sums, so r
 * describes the whole batch on every rank). *bad_probe: the captured rows were not finite. */
static cgalr_status_t train_batch(ctx *c, long epoch, size_t b, session_t *ss, cgalr_step_result_t *r, int *bad_probe)
{
    const cgalr_train_hooks_t *hk = c->hooks;
    cgalr_batch_t batch;
    memset(r, 0, sizeof *r);
    *bad_probe = 0;
    cgalr_status_t st = c->comm ? cgalr_loader_batch_part(c->ld_train, (uint64_t)epoch, b, (size_t)c->rank,
                                                          (size_t)c->comm->size, &batch)
                                : cgalr_loader_batch(c->ld_train, (uint64_t)epoch, b, &batch);
    if (st != CGALR_OK)
        return st;
    if (batch.n > 0) { /* a rank's part is empty when the batch has fewer samples than ranks */
        if (c->tp)
            tprobe_arm(c->tp, batch.index, batch.n);
        st = c->graphs ? cgalr_model_train_graphs(c->model, &batch.graph, r)
                       : cgalr_model_train_images(c->model, &batch.image, r);
        if (c->tp)
            tprobe_disarm(c->tp);
    }
    *bad_probe = st == CGALR_ENONFINITE && c->tp;
    if (st != CGALR_OK && !*bad_probe)
        return st;
    if (!c->comm)
        return CGALR_OK;
    int stop_flag = hk && hk->stop && *hk->stop;
    size_t left = cgalr_loader_size(c->ld_train) - b * c->cfg->batch;
    if ((st = dp_reduce_batch(c, left < c->cfg->batch ? left : c->cfg->batch, r, bad_probe, &stop_flag)) != CGALR_OK)
        return st;
    ss->dp_stop = stop_flag;
    return *bad_probe || !c->tp ? CGALR_OK : dp_gather_rows(c);
}

/* The optimiser step after batch b of the epoch, at the scheduler's rate (DoG and the adaptive
 * methods take it themselves from the gradient); *lr: the rate used. CGALR_ENONFINITE: the
 * gradient was not finite (the guard's case). */
static cgalr_status_t step_batch(ctx *c, long epoch, size_t b, int64_t iter, double *lr)
{
    size_t np = cgalr_model_num_params(c->model);
    cgalr_status_t st;
    if (c->dog || c->adapt) {
        float *p = cgalr_model_params(c->model);
        const float *g = cgalr_model_grads(c->model);
        st = c->dog ? cgalr_sched_dog_step(c->sched, p, g, np, lr) : cgalr_sched_update(c->sched, p, g, np, lr);
        if (st != CGALR_OK)
            return st;
    } else {
        *lr = cgalr_sched_lr(c->sched, (long)iter, (double)epoch + (double)b / (double)c->nb);
    }
    if (!isfinite(*lr) || *lr < 0)
        return cgalr_fail(CGALR_EINTERNAL, "scheduler gave rate %g at iteration %lld", *lr, (long long)iter);
    if (!c->adapt && (st = cgalr_optim_step(c->opt, *lr)) != CGALR_OK)
        return st;
    if (c->dog && (st = cgalr_sched_dog_average(c->sched, cgalr_model_params(c->model), np)) != CGALR_OK &&
        st != CGALR_ENONFINITE)
        return st;
    return CGALR_OK;
}

static void report_progress(ctx *c, long epoch, size_t b, double lr, session_t *ss, const epoch_run_t *er)
{
    const cgalr_train_hooks_t *hk = c->hooks;
    if (!hk || !hk->progress)
        return;
    double t = now_s();
    if (t - ss->last_progress < 0.2 && b + 1 != c->nb)
        return;
    ss->last_progress = t;
    double el = t - ss->t_session;
    double left = (double)(c->cfg->epochs - epoch) * (double)c->nb - (double)(b + 1);
    cgalr_train_progress_t p = {epoch, c->cfg->epochs, b + 1, c->nb, er->loss_sum / (double)er->seen, lr,
                                el > 0 ? (double)er->seen / (t - er->t_epoch) : 0,
                                ss->iters_session ? el / (double)ss->iters_session * left : 0};
    hk->progress(hk->user, &p);
}

/* The epoch's training batches, from iteration iter0; stops early at a non-finite value (the
 * guard's case) or when asked to stop. */
static cgalr_status_t train_epoch(ctx *c, long epoch, int64_t iter0, session_t *ss, epoch_run_t *er)
{
    const cgalr_train_hooks_t *hk = c->hooks;
    memset(er, 0, sizeof *er);
    er->t_epoch = now_s();
    er->ctrl_at_start = c->ctrl_seconds;
    er->iter = iter0;
    er->lr_used = NAN;
    er->ev = er->et = er->avg_val = er->avg_test = (eval_out){NAN, NAN};
    cgalr_status_t st;
    for (size_t b = 0; b < c->nb; b++) {
        if (c->comm ? ss->dp_stop : hk && hk->stop && *hk->stop) {
            er->stopped = 1;
            return CGALR_OK;
        }
        cgalr_step_result_t r;
        int bad_probe;
        if ((st = train_batch(c, epoch, b, ss, &r, &bad_probe)) != CGALR_OK)
            return st;
        if (bad_probe) {
            /* the captured rows are not finite: the guard's case, like a non-finite loss */
            er->nonfinite = 1;
            snprintf(er->why, sizeof er->why, "non-finite probe activations at epoch %ld batch %zu", epoch + 1, b);
            return CGALR_OK;
        }
        if (!isfinite(r.loss)) {
            er->nonfinite = 1;
            snprintf(er->why, sizeof er->why, "non-finite training loss at epoch %ld batch %zu", epoch + 1, b);
            return CGALR_OK;
        }
        double lr = NAN;
        st = step_batch(c, epoch, b, er->iter, &lr);
        if (st == CGALR_ENONFINITE) {
            er->nonfinite = 1;
            snprintf(er->why, sizeof er->why, "non-finite gradient at epoch %ld batch %zu", epoch + 1, b);
            return CGALR_OK;
        }
        if (st != CGALR_OK)
            return st;
        er->lr_used = lr;
        er->loss_sum += r.loss * (double)r.n;
        er->seen += r.n;
        er->correct += r.correct;
        er->iter++;
        ss->iters_session++;
        if (c->cgalr && c->cfg->ctrl_every > 0 && er->iter % c->cfg->ctrl_every == 0) {
            st = controller_step(c, (double)epoch + (double)(b + 1) / (double)c->nb);
            if (st == CGALR_ENONFINITE) {
                er->nonfinite = 1;
                snprintf(er->why, sizeof er->why, "non-finite connectome distance at epoch %ld batch %zu", epoch + 1,
                         b);
                return CGALR_OK;
            }
            if (st != CGALR_OK)
                return st;
        }
        report_progress(c, epoch, b, lr, ss, er);
    }
    return CGALR_OK;
}

/* After the training batches: the parameters' finiteness, the evaluation, the scheduler's end of
 * epoch and, at the epoch cadence, the controller step; a non-finite value sets er->nonfinite. */
static cgalr_status_t evaluate_epoch(ctx *c, long epoch, epoch_run_t *er)
{
    cgalr_status_t st;
    er->train_loss = er->seen ? er->loss_sum / (double)er->seen : NAN;
    if (cgalr_model_check_finite(c->model) != CGALR_OK) {
        er->nonfinite = 1;
        snprintf(er->why, sizeof er->why, "non-finite parameter after epoch %ld", epoch + 1);
        return CGALR_OK;
    }
    if ((st = evaluate_at_x(c, epoch, &er->ev, &er->et)) != CGALR_OK)
        return st;
    if (c->dog && (st = evaluate_dog_average(c, &er->avg_val, &er->avg_test)) != CGALR_OK)
        return st;
    double vl = cgalr_loader_size(c->ld_val) ? er->ev.loss : er->train_loss;
    if (!isfinite(er->train_loss) || !isfinite(vl)) {
        er->nonfinite = 1;
        snprintf(er->why, sizeof er->why, "non-finite %s loss at epoch %ld",
                 isfinite(er->train_loss) ? "validation" : "training", epoch + 1);
        return CGALR_OK;
    }
    st = cgalr_sched_epoch_end(c->sched, epoch, er->train_loss, vl);
    if (st == CGALR_ENONFINITE) {
        er->nonfinite = 1;
        return CGALR_OK;
    }
    if (st != CGALR_OK)
        return st;
    if (c->cgalr && c->cfg->ctrl_every == 0) {
        st = controller_step(c, (double)(epoch + 1));
        if (st == CGALR_ENONFINITE) {
            er->nonfinite = 1;
            snprintf(er->why, sizeof er->why, "non-finite connectome distance after epoch %ld", epoch + 1);
        } else if (st != CGALR_OK) {
            return st;
        }
    }
    return CGALR_OK;
}

/* The guard (METHOD.md 4): back to the last good state, then the scheduler reacts. *again: redo
 * the epoch; otherwise the run diverged, which is marked in the metrics and the summary. */
static cgalr_status_t guard_rollback(ctx *c, loop_state_t *ls, long epoch, const epoch_run_t *er,
                                     const session_t *ss, cgalr_train_summary_t *sum, int *again)
{
    cgalr_status_t st;
    *again = 0;
    ls->guard_events++;
    if ((st = cgalr_nn_snapshot_restore(c->good, c->model, c->opt)) != CGALR_OK)
        return st;
    if ((st = cgalr_sched_load(c->sched, c->good_sched, c->good_sched_size)) != CGALR_OK)
        return st;
    if (c->tp && (st = tprobe_load(c->tp, c->good_probe, c->good_probe_size)) != CGALR_OK)
        return st;
    st = cgalr_sched_on_nonfinite(c->sched, (double)epoch, NULL);
    if (st == CGALR_OK) {
        *again = 1;
        return CGALR_OK;
    }
    if (st != CGALR_ENONFINITE)
        return st;
    snprintf(sum->message, sizeof sum->message, "%s; %s", er->why, cgalr_last_error());
    char *line = NULL;
    if ((st = cgalr_metrics_format_diverged((int)epoch + 1, sum->message, &line)) != CGALR_OK)
        return st;
    st = append_line(c, line, &ls->metrics_off);
    free(line);
    if (st != CGALR_OK)
        return st;
    ls->seconds = ss->seconds0 + (now_s() - ss->t_session);
    ls->ctrl_seconds = ss->ctrl0 + c->ctrl_seconds;
    sum->diverged = 1;
    sum->finished = 1;
    fill_summary(sum, ls, c);
    return write_summary(c, sum);
}

/* A good epoch: its metrics line and checkpoint, then it becomes the last good state. */
static cgalr_status_t record_epoch(ctx *c, loop_state_t *ls, long epoch, int retries, const epoch_run_t *er,
                                   const session_t *ss)
{
    const cgalr_train_hooks_t *hk = c->hooks;
    cgalr_status_t st;
    take_capture_seconds(c);
    double ep_secs = now_s() - er->t_epoch;
    cgalr_epoch_record_t rec;
    cgalr_epoch_record_init(&rec);
    rec.epoch = (int)epoch + 1;
    rec.lr = er->lr_used;
    rec.train_loss = er->train_loss;
    rec.train_acc = er->seen ? (double)er->correct / (double)er->seen : NAN;
    rec.val_loss = er->ev.loss;
    rec.val_acc = er->ev.acc;
    rec.test_acc = er->et.acc;
    rec.seconds = ep_secs;
    rec.guard_retries = retries;
    if (c->dog) {
        rec.avg_val_loss = er->avg_val.loss;
        rec.avg_val_acc = er->avg_val.acc;
        rec.avg_test_acc = er->avg_test.acc;
    }
    rec.d = cgalr_sched_d(c->sched); /* prodigy / D-Adaptation (NAN otherwise; CG-ALR's d below) */
    if (c->cgalr) {
        const cgalr_sched_trace_t *tr = cgalr_sched_last_trace(c->sched);
        rec.has_ctrl = 1;
        rec.d = tr->d;
        rec.median = tr->median;
        rec.mad = tr->mad;
        /* METHOD.md section 4: z is not defined while |H| < 3 (warm-up). The controller still
         * computes it for its own trace, but from one or two distances (MAD 0 gives |z| ~ 1e9),
         * so the run's log says null (NaN) rather than a number nobody should read. */
        rec.z = (tr->flags & CGALR_TRACE_WARMUP) ? NAN : tr->z;
        rec.rho = cgalr_sched_rho(c->sched);
        cgalr_gate_t g = cgalr_sched_gate(c->sched);
        snprintf(rec.state, sizeof rec.state, "%s",
                 g == CGALR_GATE_DECEL ? "decel" : g == CGALR_GATE_ACCEL ? "accel" : "hold");
        rec.ctrl_seconds = c->ctrl_seconds - er->ctrl_at_start;
    }
    char *line = NULL;
    if ((st = cgalr_metrics_format(&rec, &line)) != CGALR_OK)
        return st;
    int64_t off_before = ls->metrics_off;
    st = append_line(c, line, &ls->metrics_off);
    free(line);
    if (st != CGALR_OK)
        return st;
    ls->epochs_done = epoch + 1;
    ls->iteration = er->iter;
    if (!isnan(er->ev.acc) && (isnan(ls->best_val_acc) || er->ev.acc > ls->best_val_acc))
        ls->best_val_acc = er->ev.acc;
    ls->final_test_acc = er->et.acc;
    ls->final_val_loss = er->ev.loss;
    ls->epoch_seconds_sum += ep_secs;
    ls->seconds = ss->seconds0 + (now_s() - ss->t_session);
    ls->ctrl_seconds = ss->ctrl0 + c->ctrl_seconds;
    if ((st = save_checkpoint(c, ls)) != CGALR_OK) {
        /* keep metrics.jsonl consistent with the checkpoint still on disk */
        if (ftruncate(c->metrics_fd, (off_t)off_before) != 0) {
        }
        return st;
    }
    if ((st = cgalr_nn_snapshot_update(c->good, c->model, c->opt)) != CGALR_OK)
        return st;
    free(c->good_sched);
    c->good_sched = NULL;
    if ((st = sched_state(c, &c->good_sched, &c->good_sched_size)) != CGALR_OK)
        return st;
    free(c->good_probe);
    c->good_probe = NULL;
    if (c->tp && (st = save_probe_timed(c, &c->good_probe, &c->good_probe_size)) != CGALR_OK)
        return st;
    if (hk && hk->epoch)
        hk->epoch(hk->user, &rec);
    return CGALR_OK;
}

/* The run: epochs of training, evaluation and control, each either recorded or rolled back by
 * the guard and tried again. */
static cgalr_status_t run_loop(ctx *c, cgalr_train_summary_t *sum)
{
    loop_state_t ls;
    session_t ss;
    cgalr_status_t st = start_run(c, &ls, &ss);
    if (st != CGALR_OK)
        return st;
    for (long epoch = ls.epochs_done; epoch < c->cfg->epochs; epoch++) {
        for (int retries = 0;; retries++) {
            epoch_run_t er;
            if ((st = train_epoch(c, epoch, ls.iteration, &ss, &er)) != CGALR_OK)
                return st;
            if (er.stopped) {
                sum->interrupted = 1;
                ls.seconds = ss.seconds0; /* the partial epoch is redone on resume */
                fill_summary(sum, &ls, c);
                return CGALR_OK;
            }
            if (!er.nonfinite && (st = evaluate_epoch(c, epoch, &er)) != CGALR_OK)
                return st;
            if (!er.nonfinite) {
                if ((st = record_epoch(c, &ls, epoch, retries, &er, &ss)) != CGALR_OK)
                    return st;
                break;
            }
            int again;
            if ((st = guard_rollback(c, &ls, epoch, &er, &ss, sum, &again)) != CGALR_OK || !again)
                return st;
        }
    }
    sum->finished = 1;
    fill_summary(sum, &ls, c);
    return write_summary(c, sum);
}

/* What the run directory allows before anything is written: refused (an error status), nothing
 * to do (*done = 1, summary filled), or go on. The one definition of a run's state is
 * cgalr_run_status; under our own lock the directory cannot change behind us. */
static cgalr_status_t dir_allows(ctx *c, const char *json, cgalr_train_summary_t *summary, int *done)
{
    const cgalr_train_config_t *cfg = c->cfg;
    *done = 0;
    cgalr_run_status_t rs;
    cgalr_run_status(cfg->out, &rs);
    if (rs.state == CGALR_RUN_BUSY && rs.holder != (long)getpid())
        return cgalr_fail(CGALR_ESTATE, "%s is %s: one writer per run directory", cfg->out, rs.why);
    if (!exists(c->path_config)) {
        if (exists(c->path_metrics) || exists(c->path_ckpt))
            return cgalr_fail(CGALR_ESTATE, "%s holds metrics or a checkpoint but no config.json: not a run this tool "
                                            "can continue; choose another --out",
                              cfg->out);
        return CGALR_OK;
    }
    if (!cfg->resume)
        return cgalr_fail(CGALR_ESTATE, "%s already holds a run: pass --resume to continue it, or choose another --out",
                          cfg->out);
    cgalr_status_t st = train_config_matches(c->path_config, json);
    if (st != CGALR_OK)
        return st;
    if (cfg->restart)
        return CGALR_OK;
    if (rs.state == CGALR_RUN_DAMAGED)
        return cgalr_fail(CGALR_ESTATE, "%s is damaged (%s): pass --restart to discard its epochs and train again "
                                        "from epoch 1, or remove it",
                          cfg->out, rs.why);
    if (rs.state == CGALR_RUN_FINISHED && train_summary_finished(c->path_summary, summary)) {
        summary->already_finished = 1;
        *done = 1;
        return CGALR_OK;
    }
    if (!exists(c->path_ckpt) && rs.epochs_logged > 0)
        return cgalr_fail(CGALR_ESTATE, "%s: checkpoint.bin is missing but metrics.jsonl holds %ld logged epoch%s: "
                                        "resuming would replace them; pass --restart to discard them and train again "
                                        "from epoch 1",
                          cfg->out, rs.epochs_logged, rs.epochs_logged == 1 ? "" : "s");
    return CGALR_OK;
}

/* Validation, the directory's state, and setup (data, model, probe) with nothing written:
 * what cgalr_train_check stops after and cgalr_train_run starts from. */
static cgalr_status_t prepare(ctx *c, const cgalr_train_config_t *cfg, char **json, cgalr_train_summary_t *summary,
                              int *done)
{
    memset(c, 0, sizeof *c);
    c->cfg = cfg;
    c->metrics_fd = -1;
    c->lock_fd = -1;
    *json = NULL;
    *done = 0;
    cgalr_status_t st = cgalr_train_config_validate(cfg);
    if (st != CGALR_OK)
        return st;
    if ((size_t)snprintf(c->path_metrics, sizeof c->path_metrics, "%s/metrics.jsonl", cfg->out) >= sizeof c->path_metrics)
        return cgalr_fail(CGALR_EINVAL, "--out: path too long");
    snprintf(c->path_ckpt, sizeof c->path_ckpt, "%s/checkpoint.bin", cfg->out);
    snprintf(c->path_config, sizeof c->path_config, "%s/config.json", cfg->out);
    snprintf(c->path_summary, sizeof c->path_summary, "%s/summary.json", cfg->out);
    if (!(*json = train_config_json(cfg, train_method_has_lr(cfg->sched))))
        return cgalr_fail(CGALR_ENOMEM, "config: out of memory");
    /* the run directory's state decides what may happen before any data is read */
    if ((st = dir_allows(c, *json, summary, done)) != CGALR_OK || *done)
        return st;
    return setup(c);
}

/* Data parallel, rank > 0: what prepare does without the run directory (rank 0's business). */
static cgalr_status_t prepare_peer(ctx *c, const cgalr_train_config_t *cfg)
{
    memset(c, 0, sizeof *c);
    c->cfg = cfg;
    c->metrics_fd = -1;
    c->lock_fd = -1;
    cgalr_status_t st = cgalr_train_config_validate(cfg);
    if (st != CGALR_OK)
        return st;
    if ((size_t)snprintf(c->path_metrics, sizeof c->path_metrics, "%s/metrics.jsonl", cfg->out) >= sizeof c->path_metrics)
        return cgalr_fail(CGALR_EINVAL, "--out: path too long");
    snprintf(c->path_ckpt, sizeof c->path_ckpt, "%s/checkpoint.bin", cfg->out);
    snprintf(c->path_config, sizeof c->path_config, "%s/config.json", cfg->out);
    snprintf(c->path_summary, sizeof c->path_summary, "%s/summary.json", cfg->out);
    return setup(c);
}

static void summary_init(cgalr_train_summary_t *summary)
{
    memset(summary, 0, sizeof *summary);
    summary->best_val_acc = summary->final_test_acc = summary->final_val_loss = NAN;
}

cgalr_status_t cgalr_train_config_compare(const cgalr_train_config_t *cfg, const char *dir)
{
    cgalr_status_t st = cgalr_train_config_validate(cfg);
    if (st != CGALR_OK)
        return st;
    char path[4200];
    if ((size_t)snprintf(path, sizeof path, "%s/config.json", dir) >= sizeof path)
        return cgalr_fail(CGALR_EINVAL, "%s: path too long", dir);
    char *json = train_config_json(cfg, train_method_has_lr(cfg->sched));
    if (!json)
        return cgalr_fail(CGALR_ENOMEM, "config: out of memory");
    st = train_config_matches(path, json);
    free(json);
    return st;
}

cgalr_status_t cgalr_train_check(const cgalr_train_config_t *cfg)
{
    cgalr_train_summary_t sum;
    summary_init(&sum);
    ctx c;
    char *json;
    int done;
    cgalr_status_t st = prepare(&c, cfg, &json, &sum, &done);
    free(json);
    ctx_free(&c);
    return st;
}

/* Data parallel: rank 0 prepares the run directory as one process would and tells the others
 * what it found (an error, already finished, or go), then every rank sets itself up. */
static cgalr_status_t train_run_dp(const cgalr_train_config_t *cfg, const cgalr_train_hooks_t *hooks,
                                   cgalr_train_summary_t *summary)
{
    const cgalr_train_comm_t *comm = hooks->comm;
    ctx c;
    char *json = NULL;
    int done = 0;
    cgalr_status_t st = CGALR_OK;
    /* verdict: rank 0's status, whether there is nothing to do, and its message */
    struct {
        int32_t status, done;
        char why[480];
    } v;
    memset(&v, 0, sizeof v);
    if (comm->rank == 0) {
        st = prepare(&c, cfg, &json, summary, &done);
        if (st == CGALR_OK && !done)
            st = mkdirs(cfg->out);
        if (st == CGALR_OK && !done)
            st = cgalr_lock_take(cfg->out, CGALR_RUN_LOCK, &c.lock_fd);
        if (st == CGALR_OK && !done)
            st = dir_allows(&c, json, summary, &done);
        if (st == CGALR_OK && !done && cfg->restart)
            remove(c.path_summary);
        if (st == CGALR_OK && !done && !exists(c.path_config))
            st = core_write_atomic(c.path_config, json, strlen(json), 1);
        v.status = (int32_t)st;
        v.done = done;
        if (st != CGALR_OK)
            snprintf(v.why, sizeof v.why, "%s", cgalr_last_error());
    } else {
        memset(&c, 0, sizeof c);
        c.metrics_fd = c.lock_fd = -1;
    }
    cgalr_status_t cst = comm->bcast(comm->user, &v, sizeof v);
    summary->error_shared = cst == CGALR_OK && v.status != CGALR_OK;
    if (cst != CGALR_OK) {
        free(json);
        ctx_free(&c);
        return cst;
    }
    if (comm->rank != 0) {
        if (v.status != CGALR_OK)
            return cgalr_fail((cgalr_status_t)v.status, "%s", v.why);
        if (v.done) {
            summary->already_finished = 1;
            return CGALR_OK;
        }
        st = prepare_peer(&c, cfg);
    }
    free(json);
    c.hooks = hooks;
    c.comm = comm;
    c.rank = comm->rank;
    if (st == CGALR_OK && !v.done)
        st = run_loop(&c, summary);
    ctx_free(&c);
    return st;
}

cgalr_status_t cgalr_train_run(const cgalr_train_config_t *cfg, const cgalr_train_hooks_t *hooks,
                               cgalr_train_summary_t *summary)
{
    cgalr_train_summary_t local;
    if (!summary)
        summary = &local;
    summary_init(summary);
    if (hooks && hooks->comm && hooks->comm->size > 1)
        return train_run_dp(cfg, hooks, summary);
    ctx c;
    char *json;
    int done;
    cgalr_status_t st = prepare(&c, cfg, &json, summary, &done);
    c.hooks = hooks;
    if (st == CGALR_OK && !done)
        st = mkdirs(cfg->out);
    if (st == CGALR_OK && !done)
        st = cgalr_lock_take(cfg->out, CGALR_RUN_LOCK, &c.lock_fd);
    /* another writer may have come and gone between the first look and the lock */
    if (st == CGALR_OK && !done)
        st = dir_allows(&c, json, summary, &done);
    if (st == CGALR_OK && !done && cfg->restart)
        remove(c.path_summary); /* the run is unfinished again from here on */
    if (st == CGALR_OK && !done && !exists(c.path_config))
        st = core_write_atomic(c.path_config, json, strlen(json), 1);
    free(json);
    if (st == CGALR_OK && !done)
        st = run_loop(&c, summary);
    ctx_free(&c);
    return st;
}
