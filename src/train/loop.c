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
#include <unistd.h>

#include "cgalr/lock.h"
#include "core/clock.h"
#include "core/files.h"
#include "train/run.h"
#include "train/runfiles.h"
#include "train/sched_config.h"



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
    if (c->comm && cfg->sync_bn)
        train_dp_sync_bn(c);
    int have_ckpt = cfg->resume && !cfg->restart && train_exists(c->path_ckpt);
    if (c->comm && (st = c->comm->bcast(c->comm->user, &have_ckpt, sizeof have_ckpt)) != CGALR_OK)
        return st; /* rank 0's view of the directory decides */
    if (have_ckpt && c->rank != 0 && !train_exists(c->path_ckpt))
        return cgalr_fail(CGALR_EIO, "%s: rank %d does not see the checkpoint rank 0 resumes from: data-parallel "
                                     "training needs --out on a file system every rank shares",
                          cfg->out, c->rank);
    if (have_ckpt && (st = train_load_checkpoint(c, ls)) != CGALR_OK)
        return st;
    if ((st = train_open_metrics(c, ls)) != CGALR_OK)
        return st;

    memset(ss, 0, sizeof *ss);
    ss->t_session = core_now();
    ss->seconds0 = ls->seconds;
    ss->ctrl0 = ls->ctrl_seconds;
    c->ctrl_seconds = 0;
    if (c->cgalr && !have_ckpt && !c->tp) {
        /* M_0: before the first training step (inline and stream have no rows before it: their
         * first connectome is the reference, docs/PROBE_MODES.md) */
        if ((st = train_controller_step(c, 0.0)) != CGALR_OK)
            return st;
    }
    /* a checkpoint from the start, so that "logged epochs but no checkpoint" is never the
     * trace of a kill and can be refused (cgalr_train_run) instead of silently restarted */
    if (!have_ckpt && (st = train_save_checkpoint(c, ls)) != CGALR_OK)
        return st;
    if ((st = cgalr_nn_snapshot_take(c->model, c->opt, &c->good)) != CGALR_OK)
        return st;
    if ((st = train_sched_state(c, &c->good_sched, &c->good_sched_size)) != CGALR_OK)
        return st;
    if (c->tp && (st = train_save_probe_timed(c, &c->good_probe, &c->good_probe_size)) != CGALR_OK)
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
    if (c->comm && c->cfg->sync_bn) {
        size_t left = cgalr_loader_size(c->ld_train) - b * c->cfg->batch;
        cgalr_model_set_batch_share(c->model, (double)batch.n / (double)(left < c->cfg->batch ? left : c->cfg->batch));
    }
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
    if ((st = train_dp_reduce_batch(c, left < c->cfg->batch ? left : c->cfg->batch, r, bad_probe, &stop_flag)) != CGALR_OK)
        return st;
    ss->dp_stop = stop_flag;
    return *bad_probe || !c->tp ? CGALR_OK : train_dp_gather_rows(c);
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
    double t = core_now();
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
    er->t_epoch = core_now();
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
            st = train_controller_step(c, (double)epoch + (double)(b + 1) / (double)c->nb);
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
    if ((st = train_evaluate_at_x(c, epoch, &er->ev, &er->et)) != CGALR_OK)
        return st;
    if (c->dog && (st = train_evaluate_dog_average(c, &er->avg_val, &er->avg_test)) != CGALR_OK)
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
        st = train_controller_step(c, (double)(epoch + 1));
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
    st = train_append_line(c, line, &ls->metrics_off);
    free(line);
    if (st != CGALR_OK)
        return st;
    ls->seconds = ss->seconds0 + (core_now() - ss->t_session);
    ls->ctrl_seconds = ss->ctrl0 + c->ctrl_seconds;
    sum->diverged = 1;
    sum->finished = 1;
    train_fill_summary(sum, ls, c);
    return train_write_run_summary(c, sum);
}

/* A good epoch: its metrics line and checkpoint, then it becomes the last good state. */
static cgalr_status_t record_epoch(ctx *c, loop_state_t *ls, long epoch, int retries, const epoch_run_t *er,
                                   const session_t *ss)
{
    const cgalr_train_hooks_t *hk = c->hooks;
    cgalr_status_t st;
    train_take_capture_seconds(c);
    double ep_secs = core_now() - er->t_epoch;
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
    st = train_append_line(c, line, &ls->metrics_off);
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
    ls->seconds = ss->seconds0 + (core_now() - ss->t_session);
    ls->ctrl_seconds = ss->ctrl0 + c->ctrl_seconds;
    if ((st = train_save_checkpoint(c, ls)) != CGALR_OK) {
        /* keep metrics.jsonl consistent with the checkpoint still on disk */
        if (ftruncate(c->metrics_fd, (off_t)off_before) != 0) {
        }
        return st;
    }
    if ((st = cgalr_nn_snapshot_update(c->good, c->model, c->opt)) != CGALR_OK)
        return st;
    free(c->good_sched);
    c->good_sched = NULL;
    if ((st = train_sched_state(c, &c->good_sched, &c->good_sched_size)) != CGALR_OK)
        return st;
    free(c->good_probe);
    c->good_probe = NULL;
    if (c->tp && (st = train_save_probe_timed(c, &c->good_probe, &c->good_probe_size)) != CGALR_OK)
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
                train_fill_summary(sum, &ls, c);
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
    train_fill_summary(sum, &ls, c);
    return train_write_run_summary(c, sum);
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
    cgalr_status_t st = train_prepare(&c, cfg, &json, &sum, &done);
    free(json);
    train_ctx_free(&c);
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
        st = train_prepare(&c, cfg, &json, summary, &done);
        if (st == CGALR_OK && !done && cfg->sync_bn)
            st = train_dp_sync_bn_check(&c, comm->size);
        if (st == CGALR_OK && !done)
            st = train_claim_dir(&c, json, summary, &done);
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
        train_ctx_free(&c);
        return cst;
    }
    if (comm->rank != 0) {
        if (v.status != CGALR_OK)
            return cgalr_fail((cgalr_status_t)v.status, "%s", v.why);
        if (v.done) {
            summary->already_finished = 1;
            return CGALR_OK;
        }
        st = train_prepare_peer(&c, cfg);
    }
    free(json);
    c.hooks = hooks;
    c.comm = comm;
    c.rank = comm->rank;
    if (st == CGALR_OK && !v.done)
        st = run_loop(&c, summary);
    train_ctx_free(&c);
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
    cgalr_status_t st = train_prepare(&c, cfg, &json, summary, &done);
    c.hooks = hooks;
    if (st == CGALR_OK && !done)
        st = train_claim_dir(&c, json, summary, &done);
    free(json);
    if (st == CGALR_OK && !done)
        st = run_loop(&c, summary);
    train_ctx_free(&c);
    return st;
}
