/* Prodigy (Mishchenko and Defazio, ICML 2024), the Adam form of its algorithm, over flat arrays:
 *   m <- b1 m + (1 - b1) d_k g,   v <- b2 v + (1 - b2) d_k^2 g^2,
 *   r <- b3 r + (1 - b3) lr d_k^2 <g, x0 - x>,   s <- b3 s + (1 - b3) lr d_k^2 g,
 *   d_{k+1} = max(d_k, d_coef r / ||s||_1),   x <- x - lr d_k (m / (sqrt(v) + d_k eps) + wd x)
 * (weight decay decoupled, no bias correction, no safeguard warm-up: the published defaults). */
#include <math.h>

#include "ctrl/sched_internal.h"

void ctrl_prodigy_step(const cgalr_sched_config_t *c, cgalr_adapt_state_t *st, float *x, const float *g,
                       float *arr, size_t n, double lr)
{
    float *x0 = arr, *s = arr + n, *m = arr + 2 * n, *v = arr + 3 * n;
    if (st->k == 0)
        for (size_t i = 0; i < n; i++) {
            x0[i] = x[i];
            s[i] = m[i] = v[i] = 0;
        }
    const double d = st->d, b3 = c->beta3 > 0 ? c->beta3 : sqrt(c->beta2);
    const double dl = lr * d, sw = (1 - b3) * lr * d * d;
    /* the reductions over the old iterate and the new s in loops of their own, so that the
     * element updates (double arithmetic, float storage) vectorise */
    double dot = 0, s_l1 = 0;
    CTRL_SUM(dot, n, (double)g[i] * ((double)x0[i] - (double)x[i]));
    const double b1 = c->beta1, b2 = c->beta2, deps = d * c->adam_eps, dwd = dl * c->weight_decay;
    for (size_t i = 0; i < n; i++) {
        double gi = g[i], xi = x[i];
        double mi = b1 * m[i] + (1 - b1) * d * gi, vi = b2 * v[i] + (1 - b2) * d * d * gi * gi;
        s[i] = (float)(b3 * s[i] + sw * gi);
        m[i] = (float)mi;
        v[i] = (float)vi;
        x[i] = (float)(xi - dwd * xi - dl * (double)m[i] / (sqrt((double)v[i]) + deps));
    }
    CTRL_SUM(s_l1, n, fabs((double)s[i]));
    st->r = b3 * st->r + sw * dot;
    if (s_l1 > 0) {
        double dhat = c->d_coef * st->r / s_l1;
        if (c->growth_rate > 0 && dhat > d * c->growth_rate)
            dhat = d * c->growth_rate;
        if (dhat > d)
            st->d = dhat;
    }
    st->last_lr = dl;
}
