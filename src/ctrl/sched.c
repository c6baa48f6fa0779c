/* The scheduler interface: creation, the per-iteration rate of every method (each family's
 * arithmetic lives in its own file: schedules.c, envelope.c, controller.c, dog.c, prodigy.c,
 * dadapt.c, schedule_free.c), and the guard. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ctrl/sched_internal.h"

/* Epoch indices beyond this are clamped: the chainable recursions walk epoch by epoch. */
#define MAX_EPOCH 100000000L

void ctrl_trace_reset(cgalr_sched_trace_t *r)
{
    memset(r, 0, sizeof *r);
    r->d = r->median = r->mad = r->z = NAN;
    r->progress = 0;
    r->rho = 1;
    r->eta = NAN;
}

cgalr_status_t cgalr_sched_create(const cgalr_sched_config_t *cfg, cgalr_sched_t **out)
{
    if (!out)
        return cgalr_fail(CGALR_EINVAL, "scheduler create: NULL output pointer");
    *out = NULL;
    cgalr_status_t st = cgalr_sched_config_validate(cfg);
    if (st != CGALR_OK)
        return st;
    cgalr_sched_t *s = calloc(1, sizeof *s);
    if (!s)
        return cgalr_fail(CGALR_ENOMEM, "scheduler create: out of memory");
    s->cfg = *cfg;
    cgalr_sched_config_t *c = &s->cfg;
    long T = c->epochs;
    if (c->s0 <= 0) /* METHOD.md's first SPEC, reachable as s0=0 */
        c->s0 = T > 0 ? (double)T / 10.0 : 10.0;
    if (c->t_max <= 0)
        c->t_max = T;
    if (c->step_size <= 0)
        c->step_size = T / 3 > 1 ? T / 3 : 1;
    if (c->exp_gamma <= 0 && T > 0)
        c->exp_gamma = pow(0.01, 1.0 / (double)T);
    if (c->plateau_patience < 0) {
        long p = T > 0 ? T / 10 : 10;
        c->plateau_patience = p < 1 ? 1 : p > 10 ? 10 : p;
    }
    s->hist = calloc((size_t)c->window, sizeof *s->hist);
    if (!s->hist) {
        free(s);
        return cgalr_fail(CGALR_ENOMEM, "scheduler create: out of memory for a window of %d", cfg->window);
    }
    s->gate = CGALR_GATE_HOLD;
    s->rho = 1.0;
    ctrl_trace_reset(&s->last);
    s->cache_epoch = 0;
    s->cache_lr = c->eta0;
    s->plat_lr = c->eta0;
    s->plat_best = INFINITY;
    s->last_epoch = -1;
    s->dog.avg_t = 1;
    if ((st = ctrl_adapt_create(s)) != CGALR_OK) {
        cgalr_sched_free(s);
        return st;
    }
    *out = s;
    return CGALR_OK;
}

void cgalr_sched_free(cgalr_sched_t *s)
{
    if (!s)
        return;
    ctrl_prev_clear(s);
    free(s->hist);
    free(s->dog_x0);
    free(s->dog_avg);
    free(s->ad_arr);
    free(s);
}

const cgalr_sched_config_t *cgalr_sched_config(const cgalr_sched_t *s)
{
    return s ? &s->cfg : NULL;
}

cgalr_sched_optim_t cgalr_sched_optimizer(const cgalr_sched_t *s)
{
    return s ? cgalr_method_optimizer(s->cfg.method) : CGALR_SCHED_OPTIM_SGD_MOMENTUM;
}

/* ---- rates ------------------------------------------------------------------------------- */

double cgalr_sched_lr(cgalr_sched_t *s, long iteration, double progress)
{
    if (!s || isnan(progress))
        return NAN;
    if (progress < 0)
        progress = 0;
    const cgalr_sched_config_t *c = &s->cfg;
    double lr;
    switch (c->method) {
    case CGALR_METHOD_CONSTANT:
        lr = c->eta0;
        break;
    case CGALR_METHOD_PLATEAU:
        lr = s->plat_lr;
        break;
    case CGALR_METHOD_DOG:
        return s->dog.eta; /* no warm-up: DoG's first steps are tiny by construction */
    case CGALR_METHOD_PRODIGY:
    case CGALR_METHOD_DADAPT_SGD:
    case CGALR_METHOD_DADAPT_ADAM:
    case CGALR_METHOD_SF_SGD:
    case CGALR_METHOD_SF_ADAMW:
        return ctrl_adapt_lr(s); /* their own rates (and Schedule-Free its own warm-up) */
    case CGALR_METHOD_CGALR_TOP:
    case CGALR_METHOD_CGALR_WD:
    case CGALR_METHOD_CGALR_SWK:
        lr = cgalr_sched_envelope(s, progress) * s->rho;
        break;
    default: {
        /* A tiny tolerance so that e + 0/n computed as a quotient never lands at e - 1ulp. */
        double ef = floor(progress + 1e-9);
        long e = ef > (double)MAX_EPOCH ? MAX_EPOCH : (long)ef;
        lr = ctrl_epoch_rate(s, e);
        break;
    }
    }
    if (c->warmup_iters > 0 && iteration >= 0 && iteration < c->warmup_iters)
        lr *= (double)(iteration + 1) / (double)c->warmup_iters;
    return lr;
}

/* ---- the guard --------------------------------------------------------------------------- */

cgalr_status_t cgalr_sched_on_nonfinite(cgalr_sched_t *s, double progress, cgalr_sched_trace_t *rec)
{
    if (!s)
        return cgalr_fail(CGALR_EINVAL, "scheduler guard: NULL scheduler");
    const cgalr_sched_config_t *c = &s->cfg;
    s->retries++;
    int cg = cgalr_method_is_cgalr(c->method);
    if (cg) {
        ctrl_clock_advance(s, isnan(progress) ? 0 : progress);
        s->rho = c->rho_min;
        s->gate = CGALR_GATE_DECEL;
    }
    cgalr_sched_trace_t r;
    ctrl_trace_reset(&r);
    r.t = s->t;
    r.progress = isnan(progress) ? 0 : progress;
    r.history = s->hist_n;
    r.state = s->gate;
    r.rho = s->rho;
    r.eta = cg ? cgalr_sched_envelope(s, r.progress) * s->rho : cgalr_sched_lr(s, -1, r.progress);
    r.flags = CGALR_TRACE_GUARD;
    cgalr_status_t st = CGALR_OK;
    if (s->retries > c->max_retries) {
        r.flags |= CGALR_TRACE_DIVERGED;
        if (cg)
            st = cgalr_fail(CGALR_ENONFINITE,
                            "run diverged: non-finite values %d times (max_retries = %d), the last at rho = "
                            "rho_min = %g, the smallest rate the envelope allows (eta = %g)",
                            s->retries, c->max_retries, c->rho_min, r.eta);
        else
            st = cgalr_fail(CGALR_ENONFINITE, "run diverged: non-finite values %d times (max_retries = %d) under %s",
                            s->retries, c->max_retries, cgalr_method_name(c->method));
    }
    s->last = r;
    if (rec)
        *rec = r;
    return st;
}

