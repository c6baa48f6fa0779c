/* Schedule-Free SGD and AdamW (Defazio et al., NeurIPS 2024) over flat arrays. The gradient is
 * taken at y (the parameters the engine trains); z is the base sequence, x the weighted average
 * that is evaluated and kept:
 *   lr_k = lr min(1, (k + 1) / warmup)  (AdamW: times sqrt(1 - b2^(k+1)), the bias correction),
 *   c_{k+1} = lr_max^p / sum_{i<=k} lr_max,i^p  (p = 2: the rate-squared weighting),
 *   SGD:   z <- z - lr_k (g + wd y)
 *   AdamW: v <- b2 v + (1 - b2) g^2,  z <- z - lr_k wd y - lr_k g / (sqrt(v) + eps)
 *   x <- (1 - c) x + c z,   y <- beta x + (1 - beta) z. */
#include <math.h>

#include "ctrl/sched_internal.h"

/* The warmed-up rate and the averaging weight of step k; returns c_{k+1}. */
static double sf_weight(const cgalr_sched_config_t *c, cgalr_adapt_state_t *st, double lr_k)
{
    if (lr_k > st->lr_max)
        st->lr_max = lr_k;
    double w = pow(st->lr_max, c->sf_weight_power);
    st->weight_sum += w;
    st->last_lr = lr_k;
    return st->weight_sum > 0 ? w / st->weight_sum : 0;
}

static double warm(const cgalr_adapt_state_t *st, long warmup)
{
    return warmup > 0 && st->k < warmup ? (double)(st->k + 1) / (double)warmup : 1.0;
}

void ctrl_sf_sgd_step(const cgalr_sched_config_t *c, cgalr_adapt_state_t *st, float *y, const float *g, float *arr,
                      size_t n, double lr, long warmup)
{
    float *z = arr, *x = arr + n;
    if (st->k == 0)
        for (size_t i = 0; i < n; i++)
            z[i] = x[i] = y[i];
    const double lk = lr * warm(st, warmup), ck = sf_weight(c, st, lk);
    const double beta = c->momentum, wd = c->weight_decay;
    for (size_t i = 0; i < n; i++) {
        double yi = y[i];
        z[i] = (float)((double)z[i] - lk * ((double)g[i] + wd * yi));
        x[i] = (float)((1 - ck) * (double)x[i] + ck * (double)z[i]);
        y[i] = (float)(beta * (double)x[i] + (1 - beta) * (double)z[i]);
    }
}

void ctrl_sf_adamw_step(const cgalr_sched_config_t *c, cgalr_adapt_state_t *st, float *y, const float *g,
                        float *arr, size_t n, double lr, long warmup)
{
    float *z = arr, *x = arr + n, *v = arr + 2 * n;
    if (st->k == 0)
        for (size_t i = 0; i < n; i++) {
            z[i] = x[i] = y[i];
            v[i] = 0;
        }
    const double b2 = c->beta2;
    const double lk = lr * warm(st, warmup) * sqrt(1 - pow(b2, (double)(st->k + 1))), ck = sf_weight(c, st, lk);
    const double b1 = c->beta1, eps = c->adam_eps, wd = c->weight_decay;
    for (size_t i = 0; i < n; i++) {
        double yi = y[i], gi = g[i];
        v[i] = (float)(b2 * (double)v[i] + (1 - b2) * gi * gi);
        z[i] = (float)((double)z[i] - lk * wd * yi - lk * gi / (sqrt((double)v[i]) + eps));
        x[i] = (float)((1 - ck) * (double)x[i] + ck * (double)z[i]);
        y[i] = (float)(b1 * (double)x[i] + (1 - b1) * (double)z[i]);
    }
}
