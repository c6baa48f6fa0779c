/* Optimisers over the flat parameter block with torch.optim semantics: SGD (momentum, dampening 0,
 * Nesterov, coupled weight decay), Adam (coupled weight decay) and AdamW (decoupled). The learning
 * rate arrives with every step so that schedules and the controller stay outside the engine. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nn/nn_internal.h"

static const char *const optim_names[] = {"sgd", "adam", "adamw"};

int cgalr_optim_kind_parse(const char *name)
{
    if (!name)
        return -1;
    for (int i = 0; i < 3; i++)
        if (strcmp(name, optim_names[i]) == 0)
            return i;
    return -1;
}

const char *cgalr_optim_kind_name(cgalr_optim_kind_t kind)
{
    return (unsigned)kind < 3 ? optim_names[kind] : "?";
}

void cgalr_optim_config_default(cgalr_optim_config_t *cfg, cgalr_optim_kind_t kind)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->kind = kind;
    cfg->momentum = kind == CGALR_OPTIM_SGD ? 0.9 : 0.0;
    cfg->nesterov = 0;
    cfg->weight_decay = kind == CGALR_OPTIM_ADAMW ? 0.01 : 0.0;
    cfg->beta1 = 0.9;
    cfg->beta2 = 0.999;
    cfg->eps = 1e-8;
}

cgalr_status_t cgalr_optim_create(const cgalr_optim_config_t *cfg, cgalr_model_t *m, cgalr_optim_t **out)
{
    if (!out)
        return cgalr_fail(CGALR_EINVAL, "cgalr_optim_create: out is NULL");
    *out = NULL;
    if (!cfg || !m)
        return cgalr_fail(CGALR_EINVAL, "cgalr_optim_create: cfg or model is NULL");
    if ((unsigned)cfg->kind > CGALR_OPTIM_ADAMW)
        return cgalr_fail(CGALR_EINVAL, "optimiser kind %d: expected sgd, adam or adamw", (int)cfg->kind);
    if (!(cfg->momentum >= 0.0 && cfg->momentum < 1.0))
        return cgalr_fail(CGALR_EINVAL, "optimiser: momentum = %g, expected [0, 1)", cfg->momentum);
    if (cfg->nesterov && !(cfg->momentum > 0.0))
        return cgalr_fail(CGALR_EINVAL, "optimiser: nesterov needs momentum > 0");
    if (!(cfg->weight_decay >= 0.0 && isfinite(cfg->weight_decay)))
        return cgalr_fail(CGALR_EINVAL, "optimiser: weight_decay = %g, expected >= 0", cfg->weight_decay);
    if (cfg->kind != CGALR_OPTIM_SGD &&
        (!(cfg->beta1 >= 0.0 && cfg->beta1 < 1.0) || !(cfg->beta2 >= 0.0 && cfg->beta2 < 1.0) || !(cfg->eps > 0.0)))
        return cgalr_fail(CGALR_EINVAL, "optimiser %s: betas (%g, %g) must be in [0, 1) and eps = %g > 0",
                          optim_names[cfg->kind], cfg->beta1, cfg->beta2, cfg->eps);
    cgalr_optim_t *o = calloc(1, sizeof *o);
    if (!o)
        return cgalr_fail(CGALR_ENOMEM, "cgalr_optim_create: out of memory");
    o->cfg = *cfg;
    o->model = m;
    o->n_state = cfg->kind == CGALR_OPTIM_SGD ? (cfg->momentum > 0.0 ? m->n_params : 0) : 2 * m->n_params;
    o->state = calloc(o->n_state ? o->n_state : 1, sizeof(float));
    if (!o->state) {
        size_t n = o->n_state;
        free(o);
        return cgalr_fail(CGALR_ENOMEM, "cgalr_optim_create: out of memory for %zu state values", n);
    }
    *out = o;
    return CGALR_OK;
}

void cgalr_optim_free(cgalr_optim_t *o)
{
    if (!o)
        return;
    free(o->state);
    free(o);
}

uint64_t cgalr_optim_steps(const cgalr_optim_t *o)
{
    return o ? o->steps : 0;
}

const cgalr_optim_config_t *cgalr_optim_get_config(const cgalr_optim_t *o)
{
    return o ? &o->cfg : NULL;
}

/* Branches are hoisted out of the loops so that each loop vectorises (restrict: the parameter,
 * gradient and state blocks never overlap). */
static void sgd_step(cgalr_optim_t *o, float lr)
{
    const cgalr_optim_config_t *c = &o->cfg;
    float *restrict p = o->model->params;
    const float *restrict g = o->model->grads;
    float *restrict buf = o->state;
    float wd = (float)c->weight_decay, mu = (float)c->momentum;
    size_t n = o->model->n_params;
    if (mu == 0.0f) {
        for (size_t i = 0; i < n; i++)
            p[i] -= lr * (g[i] + wd * p[i]);
        return;
    }
    /* torch: the first step initialises the buffer with the gradient itself; one pass updates the
     * buffer and the parameter */
    int first = o->steps == 0;
    if (c->nesterov)
        for (size_t i = 0; i < n; i++) {
            float d = g[i] + wd * p[i], b = first ? d : mu * buf[i] + d;
            buf[i] = b;
            p[i] -= lr * (d + mu * b);
        }
    else
        for (size_t i = 0; i < n; i++) {
            float d = g[i] + wd * p[i], b = first ? d : mu * buf[i] + d;
            buf[i] = b;
            p[i] -= lr * b;
        }
}

static void adam_step(cgalr_optim_t *o, float lr)
{
    const cgalr_optim_config_t *c = &o->cfg;
    float *restrict p = o->model->params;
    const float *restrict g = o->model->grads;
    size_t n = o->model->n_params;
    float *restrict mt = o->state, *restrict vt = o->state + n;
    float b1 = (float)c->beta1, b2 = (float)c->beta2, wd = (float)c->weight_decay, eps = (float)c->eps;
    double t = (double)(o->steps + 1);
    float bc1 = (float)(1.0 - pow(c->beta1, t));
    float bc2_sqrt = (float)sqrt(1.0 - pow(c->beta2, t));
    float step_size = lr / bc1;
    int decoupled = c->kind == CGALR_OPTIM_ADAMW;
    float shrink = decoupled ? 1.0f - lr * wd : 1.0f, coupled = decoupled ? 0.0f : wd;
    for (size_t i = 0; i < n; i++) {
        float d = g[i] + coupled * p[i];
        float pi = p[i] * shrink;
        mt[i] = mt[i] * b1 + (1.0f - b1) * d;
        vt[i] = vt[i] * b2 + (1.0f - b2) * d * d;
        float denom = sqrtf(vt[i]) / bc2_sqrt + eps;
        p[i] = pi - step_size * mt[i] / denom;
    }
}

cgalr_status_t cgalr_optim_step(cgalr_optim_t *o, double lr)
{
    if (!o)
        return cgalr_fail(CGALR_EINVAL, "cgalr_optim_step: optimiser is NULL");
    if (!(lr >= 0.0) || !isfinite(lr))
        return cgalr_fail(CGALR_EINVAL, "optimiser step %llu: learning rate %g, expected a finite value >= 0",
                          (unsigned long long)o->steps, lr);
    if (o->cfg.kind == CGALR_OPTIM_SGD)
        sgd_step(o, (float)lr);
    else
        adam_step(o, (float)lr);
    o->steps++;
    return CGALR_OK;
}
