/* Train options into a scheduler configuration (see sched_config.h). */
#include "train/sched_config.h"

int train_method(const char *name)
{
    return name ? cgalr_method_parse(name) : -1;
}

int train_method_is_cgalr(const char *name)
{
    int m = train_method(name);
    return m >= 0 && cgalr_method_is_cgalr((cgalr_method_t)m);
}

int train_method_has_lr(const char *name)
{
    int m = train_method(name);
    return m >= 0 && (cgalr_method_facts((cgalr_method_t)m) & CGALR_MF_HAS_LR);
}

cgalr_status_t train_sched_config(const cgalr_train_config_t *c, long iters_per_epoch, int batch_norm,
                                  cgalr_sched_config_t *cfg)
{
    int m = train_method(c->sched);
    if (m < 0)
        return cgalr_fail(CGALR_EINVAL, "unknown method '%s'; valid methods: %s", c->sched ? c->sched : "(none)",
                          cgalr_method_list());
    cgalr_sched_config_default(cfg, (cgalr_method_t)m);
    if (cgalr_method_facts((cgalr_method_t)m) & CGALR_MF_HAS_LR)
        cfg->eta0 = c->lr;
    /* METHOD.md 5: DoG's r_0 uses reps_rel = 1e-4 for models with batch norm (1e-6 otherwise);
     * set before the options so an explicit dog_reps_rel=... still wins */
    if (m == CGALR_METHOD_DOG && batch_norm)
        cfg->dog_reps_rel = 1e-4;
    cfg->epochs = c->epochs;
    cfg->iters_per_epoch = iters_per_epoch;
    cfg->ctrl_every = c->ctrl_every;
    cfg->weight_decay = c->weight_decay;
    cfg->topo.seed = c->seed;
    cgalr_status_t st = cgalr_sched_config_set_list(cfg, c->sched_opts);
    if (st != CGALR_OK)
        return st;
    return cgalr_sched_config_validate(cfg);
}
