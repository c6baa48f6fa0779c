/* DoG (Ivgi, Hinder, Carmon, ICML 2023): r_t = max(r_{t-1}, ||x_t - x_0||), G_t = sum ||g||^2,
 * eta_t = r_t / sqrt(G_t), and the polynomial-decay averaged iterate (METHOD.md section 5). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ctrl/sched_internal.h"

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

void cgalr_dog_init(cgalr_dog_state_t *st)
{
    if (!st)
        return;
    memset(st, 0, sizeof *st);
    st->avg_t = 1;
}

cgalr_status_t cgalr_dog_step(const cgalr_sched_config_t *cfg, cgalr_dog_state_t *st, const float *x, const float *g,
                              float *x0, float *avg, size_t n, double *eta)
{
    if (!cfg || !st || !x || !g || !x0 || !avg || n == 0)
        return cgalr_fail(CGALR_EINVAL, "dog step: NULL argument or n = 0");
    const double wd = cfg->weight_decay;
    const int first = st->steps == 0;
    double g2 = 0, dx2 = 0, x2 = 0;
    for (size_t i = 0; i < n; i++) {
        double xi = x[i], gi = g[i];
        if (!isfinite(xi))
            return cgalr_fail(CGALR_ENONFINITE, "dog step %ld: parameter %zu = %g is not finite", st->steps, i, xi);
        if (!isfinite(gi))
            return cgalr_fail(CGALR_ENONFINITE, "dog step %ld: gradient %zu = %g is not finite", st->steps, i, gi);
        double gp = gi + wd * xi;
        g2 += gp * gp;
        if (first) {
            x2 += xi * xi;
        } else {
            double dx = xi - (double)x0[i];
            dx2 += dx * dx;
        }
    }
    if (!isfinite(g2))
        return cgalr_fail(CGALR_ENONFINITE, "dog step %ld: squared gradient norm overflows", st->steps);
    if (first) {
        memcpy(x0, x, n * sizeof *x0);
        memcpy(avg, x, n * sizeof *avg);
        st->avg_t = 1;
        st->r = cfg->dog_reps_rel * (1.0 + sqrt(x2));
        st->G = g2 + cfg->dog_eps;
    } else {
        st->r = fmax(st->r, sqrt(dx2));
        st->G += g2;
    }
    st->eta = st->r / sqrt(st->G);
    st->steps++;
    if (eta)
        *eta = st->eta;
    return CGALR_OK;
}

cgalr_status_t cgalr_dog_average(const cgalr_sched_config_t *cfg, cgalr_dog_state_t *st, const float *x, float *avg,
                                 size_t n)
{
    if (!cfg || !st || !x || !avg || n == 0)
        return cgalr_fail(CGALR_EINVAL, "dog average: NULL argument or n = 0");
    if (st->steps == 0)
        return cgalr_fail(CGALR_ESTATE, "dog average: call the dog step first (x_0 is not known yet)");
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i]))
            return cgalr_fail(CGALR_ENONFINITE, "dog average: parameter %zu = %g is not finite", i, (double)x[i]);
    const double gamma = cfg->dog_avg_gamma;
    double w = (gamma + 1.0) / (gamma + (double)st->avg_t);
    for (size_t i = 0; i < n; i++)
        avg[i] = (float)((double)avg[i] * (1.0 - w) + (double)x[i] * w);
    st->avg_t++;
    return CGALR_OK;
}

/* ---- through the scheduler, which owns x0 and avg ------------------------------------------ */

cgalr_status_t cgalr_sched_dog_step(cgalr_sched_t *s, const float *params, const float *grads, size_t n,
                                    double *eta)
{
    cgalr_status_t st = dog_check(s, params, n, "step");
    if (st != CGALR_OK)
        return st;
    if (!grads)
        return cgalr_fail(CGALR_EINVAL, "dog step: NULL gradients");
    if (!s->dog_n) {
        float *x0 = malloc(n * sizeof *x0), *avg = malloc(n * sizeof *avg);
        if (!x0 || !avg) {
            free(x0);
            free(avg);
            return cgalr_fail(CGALR_ENOMEM, "dog step: out of memory for %zu parameters", n);
        }
        st = cgalr_dog_step(&s->cfg, &s->dog, params, grads, x0, avg, n, eta);
        if (st != CGALR_OK) {
            free(x0);
            free(avg);
            return st;
        }
        s->dog_x0 = x0;
        s->dog_avg = avg;
        s->dog_n = n;
        return CGALR_OK;
    }
    return cgalr_dog_step(&s->cfg, &s->dog, params, grads, s->dog_x0, s->dog_avg, n, eta);
}

cgalr_status_t cgalr_sched_dog_average(cgalr_sched_t *s, const float *params, size_t n)
{
    cgalr_status_t st = dog_check(s, params, n, "average");
    if (st != CGALR_OK)
        return st;
    if (!s->dog_n)
        return cgalr_fail(CGALR_ESTATE, "dog average: call cgalr_sched_dog_step first (x_0 is not known yet)");
    return cgalr_dog_average(&s->cfg, &s->dog, params, s->dog_avg, n);
}

const float *cgalr_sched_dog_averaged(const cgalr_sched_t *s, size_t *n)
{
    if (n)
        *n = s ? s->dog_n : 0;
    return s ? s->dog_avg : NULL;
}
