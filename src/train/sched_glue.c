/* Wrappers over the control layer for the training loop (see sched_glue.h for why they exist). */
#include "train/sched_glue.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cgalr/ctrl.h"

struct tsched {
    cgalr_sched_t *s;
    cgalr_method_t method;
};

int tsched_method_known(const char *name) { return name ? cgalr_method_parse(name) : -1; }

const char *tsched_method_list(void) { return cgalr_method_list(); }

int tsched_is_cgalr(const char *method)
{
    int m = tsched_method_known(method);
    return m >= 0 && cgalr_method_is_cgalr((cgalr_method_t)m);
}

int tsched_has_lr(const char *method)
{
    int m = tsched_method_known(method);
    return m >= 0 && (cgalr_method_facts((cgalr_method_t)m) & CGALR_MF_HAS_LR);
}

static cgalr_status_t build(const tsched_params_t *p, cgalr_sched_config_t *cfg)
{
    int m = tsched_method_known(p->method);
    if (m < 0)
        return cgalr_fail(CGALR_EINVAL, "unknown method '%s'; valid methods: %s", p->method ? p->method : "(none)",
                          tsched_method_list());
    cgalr_sched_config_default(cfg, (cgalr_method_t)m);
    if (cgalr_method_facts((cgalr_method_t)m) & CGALR_MF_HAS_LR)
        cfg->eta0 = p->lr;
    /* METHOD.md 5: DoG's r_0 uses reps_rel = 1e-4 for models with batch norm (1e-6 otherwise);
     * set before the options so an explicit dog_reps_rel=... still wins */
    if (m == CGALR_METHOD_DOG && p->batch_norm)
        cfg->dog_reps_rel = 1e-4;
    cfg->epochs = p->epochs;
    cfg->iters_per_epoch = p->iters_per_epoch;
    cfg->ctrl_every = p->ctrl_every;
    cfg->weight_decay = p->weight_decay;
    cfg->topo.seed = p->seed;
    cgalr_status_t st = cgalr_sched_config_set_list(cfg, p->opts);
    if (st != CGALR_OK)
        return st;
    return cgalr_sched_config_validate(cfg);
}

cgalr_status_t tsched_check(const tsched_params_t *p)
{
    cgalr_sched_config_t cfg;
    return build(p, &cfg);
}

cgalr_status_t tsched_create(const tsched_params_t *p, tsched_t **out)
{
    *out = NULL;
    cgalr_sched_config_t cfg;
    cgalr_status_t st = build(p, &cfg);
    if (st != CGALR_OK)
        return st;
    tsched_t *t = calloc(1, sizeof *t);
    if (!t)
        return cgalr_fail(CGALR_ENOMEM, "scheduler: out of memory");
    t->method = cfg.method;
    st = cgalr_sched_create(&cfg, &t->s);
    if (st != CGALR_OK) {
        free(t);
        return st;
    }
    *out = t;
    return CGALR_OK;
}

void tsched_free(tsched_t *s)
{
    if (!s)
        return;
    cgalr_sched_free(s->s);
    free(s);
}

int tsched_optimizer(const tsched_t *s)
{
    switch (cgalr_sched_optimizer(s->s)) {
    case CGALR_SCHED_OPTIM_SGD_MOMENTUM: return TS_OPT_SGD_MOMENTUM;
    case CGALR_SCHED_OPTIM_SGD: return TS_OPT_SGD;
    case CGALR_SCHED_OPTIM_ADAM: return TS_OPT_ADAM;
    case CGALR_SCHED_OPTIM_ADAMW: return TS_OPT_ADAMW;
    }
    return TS_OPT_SGD_MOMENTUM;
}

double tsched_momentum(const tsched_t *s) { return cgalr_sched_config(s->s)->momentum; }
int tsched_is_dog(const tsched_t *s) { return s->method == CGALR_METHOD_DOG; }
int tsched_cgalr(const tsched_t *s) { return cgalr_method_is_cgalr(s->method); }
int tsched_owns_update(const tsched_t *s) { return cgalr_adapt_arrays(s->method) > 0; }

cgalr_status_t tsched_update(tsched_t *s, float *params, const float *grads, size_t n, double *lr)
{
    return cgalr_sched_update(s->s, params, grads, n, lr);
}

const float *tsched_eval_params(const tsched_t *s, size_t *n) { return cgalr_sched_eval_params(s->s, n); }
cgalr_status_t tsched_train_params(const tsched_t *s, float *params, size_t n)
{
    return cgalr_sched_train_params(s->s, params, n);
}
double tsched_d(const tsched_t *s) { return cgalr_sched_d(s->s); }

double tsched_lr(tsched_t *s, long iteration, double progress) { return cgalr_sched_lr(s->s, iteration, progress); }

cgalr_status_t tsched_epoch_end(tsched_t *s, long epoch, double train_loss, double val_loss)
{
    return cgalr_sched_epoch_end(s->s, epoch, train_loss, val_loss);
}

static const char *state_name(cgalr_gate_t g)
{
    switch (g) {
    case CGALR_GATE_DECEL: return "decel";
    case CGALR_GATE_ACCEL: return "accel";
    default: return "hold";
    }
}

static void fill(const cgalr_sched_trace_t *r, tsched_trace_t *tr)
{
    tr->d = r->d;
    tr->median = r->median;
    tr->mad = r->mad;
    /* METHOD.md section 4: z is not defined while |H| < 3 (warm-up). The controller still
     * computes it for its own trace, but from one or two distances (MAD 0 gives |z| ~ 1e9),
     * so the run's log says null (NaN) rather than a number nobody should read. */
    tr->z = (r->flags & CGALR_TRACE_WARMUP) ? NAN : r->z;
    tr->rho = r->rho;
    tr->state = state_name(r->state);
    tr->flags = ((r->flags & CGALR_TRACE_FIRST) ? TS_FLAG_FIRST : 0) |
                ((r->flags & CGALR_TRACE_NONFINITE) ? TS_FLAG_NONFINITE : 0) |
                ((r->flags & CGALR_TRACE_GUARD) ? TS_FLAG_GUARD : 0);
}

cgalr_status_t tsched_observe(tsched_t *s, const double *m, size_t p, double progress, tsched_trace_t *tr)
{
    cgalr_sched_trace_t rec;
    memset(&rec, 0, sizeof rec);
    cgalr_status_t st = cgalr_sched_observe_connectome(s->s, m, p, progress, &rec);
    if (tr)
        fill(&rec, tr);
    return st;
}

void tsched_current(const tsched_t *s, tsched_trace_t *tr)
{
    const cgalr_sched_trace_t *r = cgalr_sched_last_trace(s->s);
    fill(r, tr);
    tr->rho = cgalr_sched_rho(s->s);
    tr->state = state_name(cgalr_sched_gate(s->s));
}

cgalr_status_t tsched_on_nonfinite(tsched_t *s, double progress)
{
    return cgalr_sched_on_nonfinite(s->s, progress, NULL);
}

cgalr_status_t tsched_dog_step(tsched_t *s, const float *params, const float *grads, size_t n, double *eta)
{
    return cgalr_sched_dog_step(s->s, params, grads, n, eta);
}

cgalr_status_t tsched_dog_average(tsched_t *s, const float *params, size_t n)
{
    return cgalr_sched_dog_average(s->s, params, n);
}

const float *tsched_dog_averaged(const tsched_t *s, size_t *n) { return cgalr_sched_dog_averaged(s->s, n); }

cgalr_status_t tsched_save(const tsched_t *s, void **buf, size_t *size)
{
    *buf = NULL;
    *size = 0;
    size_t need = 0;
    cgalr_status_t st = cgalr_sched_save(s->s, NULL, &need);
    if (st != CGALR_OK)
        return st;
    void *b = malloc(need ? need : 1);
    if (!b)
        return cgalr_fail(CGALR_ENOMEM, "scheduler state: out of memory");
    st = cgalr_sched_save(s->s, b, &need);
    if (st != CGALR_OK) {
        free(b);
        return st;
    }
    *buf = b;
    *size = need;
    return CGALR_OK;
}

cgalr_status_t tsched_load(tsched_t *s, const void *buf, size_t size) { return cgalr_sched_load(s->s, buf, size); }
