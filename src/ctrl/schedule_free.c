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

/* y = beta x + (1 - beta) z from the stored floats: the step and ctrl_sf_y share it, so a y rebuilt
 * from a checkpoint's x and z is the y the step wrote, bit for bit. */
static inline float sf_y(double beta, float x, float z)
{
    return (float)(beta * (double)x + (1 - beta) * (double)z);
}

static double sf_beta(const cgalr_sched_config_t *c)
{
    return c->method == CGALR_METHOD_SF_SGD ? c->momentum : c->beta1;
}

void ctrl_sf_y(const cgalr_sched_config_t *c, const float *arr, size_t n, float *y)
{
    const float *z = arr, *x = arr + n;
    const double beta = sf_beta(c);
    for (size_t i = 0; i < n; i++)
        y[i] = sf_y(beta, x[i], z[i]);
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
    const double beta = sf_beta(c), wd = c->weight_decay;
    for (size_t i = 0; i < n; i++) {
        double yi = y[i];
        z[i] = (float)((double)z[i] - lk * ((double)g[i] + wd * yi));
        x[i] = (float)((1 - ck) * (double)x[i] + ck * (double)z[i]);
        y[i] = sf_y(beta, x[i], z[i]);
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
    const double b1 = sf_beta(c), eps = c->adam_eps, wd = c->weight_decay;
    for (size_t i = 0; i < n; i++) {
        double yi = y[i], gi = g[i];
        v[i] = (float)(b2 * (double)v[i] + (1 - b2) * gi * gi);
        z[i] = (float)((double)z[i] - lk * wd * yi - lk * gi / (sqrt((double)v[i]) + eps));
        x[i] = (float)((1 - ck) * (double)x[i] + ck * (double)z[i]);
        y[i] = sf_y(b1, x[i], z[i]);
    }
}
