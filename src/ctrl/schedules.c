/* The torch-style schedules: CosineAnnealingLR, StepLR and ExponentialLR through PyTorch's
 * chainable recursion (cached at one epoch), and ReduceLROnPlateau stepped at the end of epochs
 * (METHOD.md section 5). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ctrl/sched_internal.h"

#define CTRL_PI 3.14159265358979323846

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

double ctrl_epoch_rate(cgalr_sched_t *s, long e)
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

