/* D-Adaptation (Defazio and Mishchenko, ICML 2023) over flat arrays, the SGD form with momentum
 * and the Adam form, growth unbounded unless growth_rate is set (the published defaults).
 * SGD:  lambda_k = lr d_k / ||g_0||,  r <- r + lambda_k <g, s>,  s <- s + lambda_k g,
 *       d_{k+1} = max(d_k, 2 r / ||s||_2),  z = x0 - s,  x <- beta x + (1 - beta) z
 *       (weight decay added to the gradient).
 * Adam: r <- sqrt(b2) r + (1 - sqrt(b2)) lr d_k <g, s / (sqrt(v_k) + eps)>,
 *       m <- b1 m + (1 - b1) lr d_k g,  v <- b2 v + (1 - b2) g^2,
 *       s <- sqrt(b2) s + (1 - sqrt(b2)) lr d_k g,
 *       d_{k+1} = max(d_k, r / ((1 - sqrt(b2)) ||s||_1)),  x <- x - lr d_k wd x - m / (sqrt(v) + eps)
 *       (decoupled weight decay, no bias correction). */
#include <math.h>

#include "ctrl/sched_internal.h"

static void raise_d(const cgalr_sched_config_t *c, cgalr_adapt_state_t *st, double dhat)
{
    if (c->growth_rate > 0 && dhat > st->d * c->growth_rate)
        dhat = st->d * c->growth_rate;
    if (dhat > st->d)
        st->d = dhat;
}

void ctrl_dadapt_sgd_step(const cgalr_sched_config_t *c, cgalr_adapt_state_t *st, float *x, const float *g,
                          float *arr, size_t n, double lr)
{
    float *x0 = arr, *s = arr + n;
    const double wd = c->weight_decay, beta = c->momentum;
    if (st->k == 0) {
        double g2 = 0;
        for (size_t i = 0; i < n; i++) {
            double gi = (double)g[i] + wd * (double)x[i];
            g2 += gi * gi;
            x0[i] = x[i];
            s[i] = 0;
        }
        st->g0_norm = sqrt(g2);
    }
    if (!(st->g0_norm > 0)) {
        /* lambda = lr d / ||g_0|| is undefined at a zero first gradient: the point is stationary */
        st->last_lr = 0;
        return;
    }
    const double lam = lr * st->d / st->g0_norm;
    /* the reductions in loops of their own, so that the element updates (double arithmetic,
     * float storage) vectorise */
    double num = 0, s2 = 0;
    CTRL_SUM(num, n, ((double)g[i] + wd * (double)x[i]) * (double)s[i]);
    for (size_t i = 0; i < n; i++) {
        double xi = x[i];
        s[i] = (float)((double)s[i] + lam * ((double)g[i] + wd * xi));
        x[i] = (float)(beta * xi + (1 - beta) * ((double)x0[i] - (double)s[i]));
    }
    CTRL_SUM(s2, n, (double)s[i] * (double)s[i]);
    st->r += lam * num;
    if (s2 > 0)
        raise_d(c, st, 2 * st->r / sqrt(s2));
    st->last_lr = lam;
}

void ctrl_dadapt_adam_step(const cgalr_sched_config_t *c, cgalr_adapt_state_t *st, float *x, const float *g,
                           float *arr, size_t n, double lr)
{
    float *s = arr, *m = arr + n, *v = arr + 2 * n;
    if (st->k == 0)
        for (size_t i = 0; i < n; i++)
            s[i] = m[i] = v[i] = 0;
    const double sb2 = sqrt(c->beta2), dl = lr * st->d;
    const double b1 = c->beta1, b2 = c->beta2, eps = c->adam_eps, dwd = dl * c->weight_decay;
    /* the reductions (the numerator at the old v, ||s||_1 at the new s) in loops of their own, so
     * that the element updates (double arithmetic, float storage) vectorise */
    double num = 0, s_l1 = 0;
    CTRL_SUM(num, n, (double)g[i] * (double)s[i] / (sqrt((double)v[i]) + eps));
    for (size_t i = 0; i < n; i++) {
        double gi = g[i], xi = x[i];
        m[i] = (float)(b1 * m[i] + (1 - b1) * dl * gi);
        v[i] = (float)(b2 * v[i] + (1 - b2) * gi * gi);
        s[i] = (float)(sb2 * s[i] + (1 - sb2) * dl * gi);
        x[i] = (float)(xi - dwd * xi - (double)m[i] / (sqrt((double)v[i]) + eps));
    }
    CTRL_SUM(s_l1, n, fabs((double)s[i]));
    st->r = sb2 * st->r + (1 - sb2) * dl * num;
    if (s_l1 > 0)
        raise_d(c, st, st->r / ((1 - sb2) * s_l1));
    st->last_lr = dl;
}
