/* The one entry to the methods that own the parameter update (Prodigy, D-Adaptation,
 * Schedule-Free): input checks, dispatch to their files, and the scheduler's arrays for them. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ctrl/sched_internal.h"

size_t cgalr_adapt_arrays(cgalr_method_t m)
{
    switch (m) {
    case CGALR_METHOD_PRODIGY: return 4;
    case CGALR_METHOD_DADAPT_SGD: return 2;
    case CGALR_METHOD_DADAPT_ADAM: return 3;
    case CGALR_METHOD_SF_SGD: return 2;
    case CGALR_METHOD_SF_ADAMW: return 3;
    default: return 0;
    }
}

void cgalr_adapt_init(const cgalr_sched_config_t *cfg, cgalr_adapt_state_t *st)
{
    if (!st)
        return;
    memset(st, 0, sizeof *st);
    st->d = cfg ? cfg->d0 : 1e-6;
    st->lr_max = -1;
    st->last_lr = 0;
}

cgalr_status_t cgalr_adapt_step(const cgalr_sched_config_t *cfg, cgalr_adapt_state_t *st, float *x, const float *g,
                                float *arr, size_t n, double lr, long warmup)
{
    if (!cfg || !st || !x || !g || !arr || n == 0)
        return cgalr_fail(CGALR_EINVAL, "adaptive step: NULL argument or n = 0");
    const char *name = cgalr_method_name(cfg->method);
    if (cgalr_adapt_arrays(cfg->method) == 0)
        return cgalr_fail(CGALR_ESTATE, "adaptive step: method %s does not own the update", name);
    if (!(lr >= 0) || !isfinite(lr))
        return cgalr_fail(CGALR_EINVAL, "%s step %ld: learning rate %g, expected a finite value >= 0", name, st->k, lr);
    if (warmup < 0)
        return cgalr_fail(CGALR_EINVAL, "%s step %ld: warm-up of %ld iterations, expected >= 0", name, st->k, warmup);
    /* checked before anything moves, so the guard can roll back from a clean state; the exponent
     * bits of the floats all set (Inf, NaN) OR-ed over the block: a pass that vectorises, and the
     * slow search for the index only when there is something to name */
    const uint32_t *xb = (const uint32_t *)(const void *)x, *gb = (const uint32_t *)(const void *)g;
    uint32_t bad = 0;
    for (size_t i = 0; i < n; i++)
        bad |= ((xb[i] & 0x7f800000u) == 0x7f800000u) | ((gb[i] & 0x7f800000u) == 0x7f800000u);
    if (bad)
        for (size_t i = 0; i < n; i++) {
            if (!isfinite(x[i]))
                return cgalr_fail(CGALR_ENONFINITE, "%s step %ld: parameter %zu = %g is not finite", name, st->k, i,
                                  (double)x[i]);
            if (!isfinite(g[i]))
                return cgalr_fail(CGALR_ENONFINITE, "%s step %ld: gradient %zu = %g is not finite", name, st->k, i,
                                  (double)g[i]);
        }
    switch (cfg->method) {
    case CGALR_METHOD_PRODIGY: ctrl_prodigy_step(cfg, st, x, g, arr, n, lr); break;
    case CGALR_METHOD_DADAPT_SGD: ctrl_dadapt_sgd_step(cfg, st, x, g, arr, n, lr); break;
    case CGALR_METHOD_DADAPT_ADAM: ctrl_dadapt_adam_step(cfg, st, x, g, arr, n, lr); break;
    case CGALR_METHOD_SF_SGD: ctrl_sf_sgd_step(cfg, st, x, g, arr, n, lr, warmup); break;
    default: ctrl_sf_adamw_step(cfg, st, x, g, arr, n, lr, warmup); break;
    }
    st->k++;
    return CGALR_OK;
}

const float *cgalr_adapt_eval_point(cgalr_method_t m, const float *arr, size_t n)
{
    if (!arr || !(cgalr_method_facts(m) & CGALR_MF_EVAL_X))
        return NULL;
    return arr + n; /* array 1: x */
}

/* ---- through the scheduler ----------------------------------------------------------------- */

cgalr_status_t ctrl_adapt_create(cgalr_sched_t *s)
{
    cgalr_adapt_init(&s->cfg, &s->ad);
    s->ad_warmup = 0;
    if (cgalr_method_facts(s->cfg.method) & CGALR_MF_EVAL_X) {
        double total = (double)s->cfg.epochs * (double)s->cfg.iters_per_epoch;
        s->ad_warmup = (long)llround(s->cfg.sf_warmup * total);
    }
    return CGALR_OK;
}

double ctrl_adapt_lr(const cgalr_sched_t *s)
{
    if (s->ad.k > 0)
        return s->ad.last_lr;
    /* before the first step: the rate that step will use */
    switch (s->cfg.method) {
    case CGALR_METHOD_SF_SGD:
    case CGALR_METHOD_SF_ADAMW:
        return s->cfg.eta0 * (s->ad_warmup > 0 ? 1.0 / (double)s->ad_warmup : 1.0);
    default:
        return s->cfg.eta0 * s->ad.d;
    }
}

cgalr_status_t cgalr_sched_update(cgalr_sched_t *s, float *params, const float *grads, size_t n, double *lr_used)
{
    if (!s || !params || !grads || n == 0)
        return cgalr_fail(CGALR_EINVAL, "scheduler update: NULL scheduler, parameters or gradients, or n = 0");
    size_t k = cgalr_adapt_arrays(s->cfg.method);
    if (k == 0)
        return cgalr_fail(CGALR_ESTATE, "scheduler update: method %s does not own the update (use an optimiser)",
                          cgalr_method_name(s->cfg.method));
    if (s->ad_n && n != s->ad_n)
        return cgalr_fail(CGALR_EINVAL, "scheduler update: n = %zu parameters, the run started with %zu", n, s->ad_n);
    if (!s->ad_n) {
        if (n > SIZE_MAX / sizeof(float) / k)
            return cgalr_fail(CGALR_EINVAL, "scheduler update: %zu parameters is too many", n);
        float *arr = calloc(k * n, sizeof *arr);
        if (!arr)
            return cgalr_fail(CGALR_ENOMEM, "%s: out of memory for %zu x %zu state values",
                              cgalr_method_name(s->cfg.method), k, n);
        free(s->ad_arr);
        s->ad_arr = arr;
    }
    cgalr_status_t st = cgalr_adapt_step(&s->cfg, &s->ad, params, grads, s->ad_arr, n, s->cfg.eta0, s->ad_warmup);
    if (st != CGALR_OK) {
        if (!s->ad_n) {
            free(s->ad_arr);
            s->ad_arr = NULL;
        }
        return st;
    }
    s->ad_n = n;
    if (lr_used)
        *lr_used = s->ad.last_lr;
    return CGALR_OK;
}

const float *cgalr_sched_eval_params(const cgalr_sched_t *s, size_t *n)
{
    const float *p = s && s->ad_n ? cgalr_adapt_eval_point(s->cfg.method, s->ad_arr, s->ad_n) : NULL;
    if (n)
        *n = p ? s->ad_n : 0;
    return p;
}

cgalr_status_t cgalr_sched_train_params(const cgalr_sched_t *s, float *params, size_t n)
{
    if (!s || !params)
        return cgalr_fail(CGALR_EINVAL, "scheduler train_params: NULL scheduler or parameters");
    if (!s->ad_n || !(cgalr_method_facts(s->cfg.method) & CGALR_MF_EVAL_X))
        return CGALR_OK;
    if (n != s->ad_n)
        return cgalr_fail(CGALR_EINVAL, "scheduler train_params: n = %zu parameters, the run has %zu", n, s->ad_n);
    ctrl_sf_y(&s->cfg, s->ad_arr, n, params);
    return CGALR_OK;
}

double cgalr_sched_d(const cgalr_sched_t *s)
{
    return s && (cgalr_method_facts(s->cfg.method) & CGALR_MF_D) ? s->ad.d : NAN;
}
