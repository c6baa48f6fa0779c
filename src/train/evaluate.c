/* Each epoch's evaluation (validation and test, at the point the method evaluates) and the
 * controller step of CG-ALR (the probe pass, or the connectome of the training-forward capture). */
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

/* Training batches run at x to recompute the batch-norm running statistics there (the
 * Schedule-Free authors' prescription; with momentum 0.1, 16 batches weigh the old statistics
 * by 0.9^16 = 0.19). */
#define SF_BN_BATCHES 16

static cgalr_status_t evaluate(ctx *c, cgalr_loader_t *ld, eval_out *out)
{
    out->loss = out->acc = NAN;
    size_t nb = cgalr_loader_n_batches(ld), n = 0, correct = 0, bad = 0;
    double sum = 0;
    cgalr_status_t sst = train_dp_sync_buffers(c);
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
cgalr_status_t train_evaluate_dog_average(ctx *c, eval_out *val, eval_out *test)
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

/* Schedule-Free evaluates (and keeps) the x sequence, not the y it trains at: x goes into the
 * model for the evaluation, with batch-norm statistics recomputed at x over a few training
 * batches, and the training state (y, its statistics, the dropout stream) comes back after. */
cgalr_status_t train_evaluate_at_x(ctx *c, long epoch, eval_out *val, eval_out *test)
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
void train_take_capture_seconds(ctx *c)
{
    if (c->tp)
        c->ctrl_seconds += tprobe_take_seconds(c->tp);
}

/* The capture state as bytes (checkpoint, the guard's good state): a cost the controller adds. */
cgalr_status_t train_save_probe_timed(ctx *c, void **buf, size_t *size)
{
    double t0 = core_now();
    cgalr_status_t st = tprobe_save(c->tp, buf, size);
    c->ctrl_seconds += core_now() - t0;
    return st;
}

/* Probe forward (pass) or the training forward's rows (inline, stream), connectome and controller
 * step; timed as the controller's share. Without a connectome yet (inline before every probe sample
 * has been through a training forward, stream before 2 rows) the step waits for the next one. */
cgalr_status_t train_controller_step(ctx *c, double progress)
{
    double t0 = core_now();
    cgalr_sched_trace_t rec; /* also the scheduler's last trace, which the epoch record reads */
    train_take_capture_seconds(c);
    if (c->tp && tprobe_unchanged(c->tp)) {
        /* the same connectome as at the last step: d = 0 exactly, what the full step computes */
        cgalr_status_t st = cgalr_sched_observe_distance(c->sched, 0.0, progress, &rec);
        c->ctrl_seconds += core_now() - t0;
        return st;
    }
    if (c->tp) {
        int ready = 0;
        cgalr_status_t st = tprobe_connectome(c->tp, c->conn, &ready);
        if (st == CGALR_OK && ready)
            st = cgalr_sched_observe_connectome(c->sched, c->conn, c->probe_p, progress, &rec);
        c->ctrl_seconds += core_now() - t0;
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
    cgalr_status_t st = train_dp_sync_buffers(c);
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
    c->ctrl_seconds += core_now() - t0;
    return st;
}
