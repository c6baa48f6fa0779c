/* The scheduler: per-iteration rates of every method (PyTorch lr_scheduler semantics for the
 * baselines), the CG-ALR controller step and Robbins-Monro envelope, the guard, and DoG. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ctrl/sched_internal.h"

#define CTRL_PI 3.14159265358979323846
/* Epoch indices beyond this are clamped: the chainable recursions walk epoch by epoch. */
#define MAX_EPOCH 100000000L

static void trace_reset(cgalr_sched_trace_t *r)
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
    if (c->s0 <= 0)
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
    trace_reset(&s->last);
    s->cache_epoch = 0;
    s->cache_lr = c->eta0;
    s->plat_lr = c->eta0;
    s->plat_best = INFINITY;
    s->last_epoch = -1;
    s->dog_avg_t = 1;
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

double cgalr_sched_envelope(const cgalr_sched_t *s, double progress)
{
    if (!s || isnan(progress))
        return NAN;
    if (!cgalr_method_is_cgalr(s->cfg.method))
        return s->cfg.eta0;
    if (progress < 0)
        progress = 0;
    return s->cfg.eta0 * pow(1.0 + progress / s->cfg.s0, -s->cfg.alpha);
}

/* One step of PyTorch's chainable get_lr(), from the rate of epoch e - 1 to epoch e (e >= 1). */
static double chain_next(const cgalr_sched_t *s, long e, double lr)
{
    const cgalr_sched_config_t *c = &s->cfg;
    switch (c->method) {
    case CGALR_METHOD_STEP:
        return e % c->step_size != 0 ? lr : lr * c->step_gamma;
    case CGALR_METHOD_EXP:
        return lr * c->exp_gamma;
    default: {
        /* CosineAnnealingLR: the recursion (not the closed form), so past t_max the rate climbs
         * back exactly as PyTorch's does, including its restart step at t_max + 1 (mod 2 t_max). */
        long T = c->t_max;
        double base = c->eta0, emin = c->eta_min;
        if ((e - 1 - T) % (2 * T) == 0)
            return lr + (base - emin) * (1 - cos(CTRL_PI / (double)T)) / 2;
        return (1 + cos(CTRL_PI * (double)e / (double)T)) / (1 + cos(CTRL_PI * (double)(e - 1) / (double)T)) *
                   (lr - emin) +
               emin;
    }
    }
}

static double epoch_rate(cgalr_sched_t *s, long e)
{
    if (e < s->cache_epoch) {
        s->cache_epoch = 0;
        s->cache_lr = s->cfg.eta0;
    }
    while (s->cache_epoch < e) {
        s->cache_epoch++;
        s->cache_lr = chain_next(s, s->cache_epoch, s->cache_lr);
    }
    return s->cache_lr;
}

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
        return s->dog_eta; /* no warm-up: DoG's first steps are tiny by construction */
    case CGALR_METHOD_CGALR_TOP:
    case CGALR_METHOD_CGALR_WD:
    case CGALR_METHOD_CGALR_SWK:
        lr = cgalr_sched_envelope(s, progress) * s->rho;
        break;
    default: {
        /* A tiny tolerance so that e + 0/n computed as a quotient never lands at e - 1ulp. */
        double ef = floor(progress + 1e-9);
        long e = ef > (double)MAX_EPOCH ? MAX_EPOCH : (long)ef;
        lr = epoch_rate(s, e);
        break;
    }
    }
    if (c->warmup_iters > 0 && iteration >= 0 && iteration < c->warmup_iters)
        lr *= (double)(iteration + 1) / (double)c->warmup_iters;
    return lr;
}

/* ---- epochs and plateau ------------------------------------------------------------------ */

cgalr_status_t cgalr_sched_epoch_end(cgalr_sched_t *s, long epoch, double train_loss, double val_loss)
{
    if (!s)
        return cgalr_fail(CGALR_EINVAL, "scheduler epoch_end: NULL scheduler");
    if (epoch < 0)
        return cgalr_fail(CGALR_EINVAL, "scheduler epoch_end: epoch %ld, expected >= 0", epoch);
    if (!isfinite(train_loss) || !isfinite(val_loss))
        return cgalr_fail(CGALR_ENONFINITE,
                          "epoch %ld: training loss %g, validation loss %g: not finite (run the guard)", epoch,
                          train_loss, val_loss);
    const cgalr_sched_config_t *c = &s->cfg;
    if (c->method == CGALR_METHOD_PLATEAU) {
        /* ReduceLROnPlateau(mode='min', threshold_mode='rel', cooldown=0). */
        if (val_loss < s->plat_best * (1.0 - c->plateau_threshold)) {
            s->plat_best = val_loss;
            s->plat_bad = 0;
        } else {
            s->plat_bad++;
        }
        if (s->plat_bad > c->plateau_patience) {
            double old = s->plat_lr;
            double nl = old * c->plateau_factor;
            if (nl < c->plateau_min_lr)
                nl = c->plateau_min_lr;
            if (old - nl > c->plateau_eps)
                s->plat_lr = nl;
            s->plat_bad = 0;
        }
    }
    s->last_epoch = epoch;
    return CGALR_OK;
}

/* ---- controller -------------------------------------------------------------------------- */

static double score_value(const cgalr_sched_t *s, double d)
{
    if (s->cfg.score == CGALR_SCORE_LOG)
        return log(d > 1e-300 ? d : 1e-300);
    return d;
}

cgalr_status_t cgalr_sched_observe_distance(cgalr_sched_t *s, double d, double progress, cgalr_sched_trace_t *rec)
{
    if (!s)
        return cgalr_fail(CGALR_EINVAL, "scheduler observe: NULL scheduler");
    const cgalr_sched_config_t *c = &s->cfg;
    if (!cgalr_method_is_cgalr(c->method))
        return cgalr_fail(CGALR_ESTATE, "scheduler observe: method %s has no controller (use cgalr-top/wd/swk)",
                          cgalr_method_name(c->method));
    if (isnan(progress))
        return cgalr_fail(CGALR_EINVAL, "scheduler observe: progress is NaN");
    cgalr_sched_trace_t r;
    trace_reset(&r);
    s->t++;
    r.t = s->t;
    r.progress = progress;
    r.d = d;
    r.history = s->hist_n;
    cgalr_status_t st = CGALR_OK;
    if (!isfinite(d)) {
        /* Never enters the history; gate and rho wait for the guard. */
        r.flags |= CGALR_TRACE_NONFINITE;
        if (s->hist_n > 0)
            cgalr_robust_score(s->hist, s->hist_n, 0, &r.median, &r.mad, NULL);
        st = cgalr_fail(CGALR_ENONFINITE, "controller step %ld: distance d = %g is not finite (run the guard)", s->t, d);
    } else {
        double x = score_value(s, d);
        if (s->hist_n > 0)
            cgalr_robust_score(s->hist, s->hist_n, x, &r.median, &r.mad, &r.z);
        if (s->hist_n < 3) {
            r.flags |= CGALR_TRACE_WARMUP;
        } else {
            s->gate = cgalr_gate_next(s->gate, r.z, c->tau_enter, c->tau_exit);
            if (s->gate == CGALR_GATE_DECEL)
                s->rho = fmax(s->rho * c->gamma_dec, c->rho_min);
            else if (s->gate == CGALR_GATE_ACCEL)
                s->rho = fmin(s->rho * c->gamma_inc, c->rho_max);
        }
        if (s->hist_n == (size_t)c->window) {
            memmove(s->hist, s->hist + 1, (s->hist_n - 1) * sizeof *s->hist);
            s->hist_n--;
        }
        s->hist[s->hist_n++] = x;
    }
    r.state = s->gate;
    r.rho = s->rho;
    r.eta = cgalr_sched_envelope(s, progress) * s->rho;
    s->last = r;
    if (rec)
        *rec = r;
    return st;
}

const cgalr_sched_trace_t *cgalr_sched_last_trace(const cgalr_sched_t *s)
{
    return s ? &s->last : NULL;
}

cgalr_gate_t cgalr_sched_gate(const cgalr_sched_t *s)
{
    return s ? s->gate : CGALR_GATE_HOLD;
}

double cgalr_sched_rho(const cgalr_sched_t *s)
{
    return s ? s->rho : NAN;
}

int cgalr_sched_retries(const cgalr_sched_t *s)
{
    return s ? s->retries : 0;
}

cgalr_status_t cgalr_sched_on_nonfinite(cgalr_sched_t *s, double progress, cgalr_sched_trace_t *rec)
{
    if (!s)
        return cgalr_fail(CGALR_EINVAL, "scheduler guard: NULL scheduler");
    const cgalr_sched_config_t *c = &s->cfg;
    s->retries++;
    int cg = cgalr_method_is_cgalr(c->method);
    if (cg) {
        s->rho = c->rho_min;
        s->gate = CGALR_GATE_DECEL;
    }
    cgalr_sched_trace_t r;
    trace_reset(&r);
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

/* ---- DoG --------------------------------------------------------------------------------- */

static cgalr_status_t dog_check(const cgalr_sched_t *s, const float *params, size_t n, const char *what)
{
    if (!s || !params || n == 0)
        return cgalr_fail(CGALR_EINVAL, "dog %s: NULL scheduler or parameters, or n = 0", what);
    if (s->cfg.method != CGALR_METHOD_DOG)
        return cgalr_fail(CGALR_ESTATE, "dog %s: the scheduler's method is %s", what, cgalr_method_name(s->cfg.method));
    if (s->dog_n && n != s->dog_n)
        return cgalr_fail(CGALR_EINVAL, "dog %s: n = %zu parameters, the run started with %zu", what, n, s->dog_n);
    return CGALR_OK;
}

cgalr_status_t cgalr_sched_dog_step(cgalr_sched_t *s, const float *params, const float *grads, size_t n,
                                    double *eta)
{
    cgalr_status_t st = dog_check(s, params, n, "step");
    if (st != CGALR_OK)
        return st;
    if (!grads)
        return cgalr_fail(CGALR_EINVAL, "dog step: NULL gradients");
    const double wd = s->cfg.weight_decay;
    const int first = s->dog_n == 0;
    double g2 = 0, dx2 = 0, x2 = 0;
    for (size_t i = 0; i < n; i++) {
        double x = params[i], g = grads[i];
        if (!isfinite(x))
            return cgalr_fail(CGALR_ENONFINITE, "dog step %ld: parameter %zu = %g is not finite", s->dog_steps, i, x);
        if (!isfinite(g))
            return cgalr_fail(CGALR_ENONFINITE, "dog step %ld: gradient %zu = %g is not finite", s->dog_steps, i, g);
        double gp = g + wd * x;
        g2 += gp * gp;
        if (first) {
            x2 += x * x;
        } else {
            double dx = x - (double)s->dog_x0[i];
            dx2 += dx * dx;
        }
    }
    if (!isfinite(g2))
        return cgalr_fail(CGALR_ENONFINITE, "dog step %ld: squared gradient norm overflows", s->dog_steps);
    if (first) {
        float *x0 = malloc(n * sizeof *x0), *avg = malloc(n * sizeof *avg);
        if (!x0 || !avg) {
            free(x0);
            free(avg);
            return cgalr_fail(CGALR_ENOMEM, "dog step: out of memory for %zu parameters", n);
        }
        memcpy(x0, params, n * sizeof *x0);
        memcpy(avg, params, n * sizeof *avg);
        s->dog_x0 = x0;
        s->dog_avg = avg;
        s->dog_n = n;
        s->dog_avg_t = 1;
        s->dog_r = s->cfg.dog_reps_rel * (1.0 + sqrt(x2));
        s->dog_G = g2 + s->cfg.dog_eps;
    } else {
        s->dog_r = fmax(s->dog_r, sqrt(dx2));
        s->dog_G += g2;
    }
    s->dog_eta = s->dog_r / sqrt(s->dog_G);
    s->dog_steps++;
    if (eta)
        *eta = s->dog_eta;
    return CGALR_OK;
}

cgalr_status_t cgalr_sched_dog_average(cgalr_sched_t *s, const float *params, size_t n)
{
    cgalr_status_t st = dog_check(s, params, n, "average");
    if (st != CGALR_OK)
        return st;
    if (!s->dog_n)
        return cgalr_fail(CGALR_ESTATE, "dog average: call cgalr_sched_dog_step first (x_0 is not known yet)");
    for (size_t i = 0; i < n; i++)
        if (!isfinite(params[i]))
            return cgalr_fail(CGALR_ENONFINITE, "dog average: parameter %zu = %g is not finite", i, (double)params[i]);
    const double gamma = s->cfg.dog_avg_gamma;
    double w = (gamma + 1.0) / (gamma + (double)s->dog_avg_t);
    for (size_t i = 0; i < n; i++)
        s->dog_avg[i] = (float)((double)s->dog_avg[i] * (1.0 - w) + (double)params[i] * w);
    s->dog_avg_t++;
    return CGALR_OK;
}

const float *cgalr_sched_dog_averaged(const cgalr_sched_t *s, size_t *n)
{
    if (n)
        *n = s ? s->dog_n : 0;
    return s ? s->dog_avg : NULL;
}
