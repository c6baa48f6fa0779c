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

cgalr_status_t cgalr_sched_dog_step(cgalr_sched_t *s, const float *params, const float *grads, size_t n,
                                    double *eta)
{
    cgalr_status_t st = dog_check(s, params, n, "step");
    if (st != CGALR_OK)
        return st;
    if (!grads)
        return cgalr_fail(CGALR_EINVAL, "dog step: NULL gradients");
    const double wd = s->cfg.weight_decay;
    const int first = s->dog_n == 0;
    double g2 = 0, dx2 = 0, x2 = 0;
    for (size_t i = 0; i < n; i++) {
        double x = params[i], g = grads[i];
        if (!isfinite(x))
            return cgalr_fail(CGALR_ENONFINITE, "dog step %ld: parameter %zu = %g is not finite", s->dog_steps, i, x);
        if (!isfinite(g))
            return cgalr_fail(CGALR_ENONFINITE, "dog step %ld: gradient %zu = %g is not finite", s->dog_steps, i, g);
        double gp = g + wd * x;
        g2 += gp * gp;
        if (first) {
            x2 += x * x;
        } else {
            double dx = x - (double)s->dog_x0[i];
            dx2 += dx * dx;
        }
    }
    if (!isfinite(g2))
        return cgalr_fail(CGALR_ENONFINITE, "dog step %ld: squared gradient norm overflows", s->dog_steps);
    if (first) {
        float *x0 = malloc(n * sizeof *x0), *avg = malloc(n * sizeof *avg);
        if (!x0 || !avg) {
            free(x0);
            free(avg);
            return cgalr_fail(CGALR_ENOMEM, "dog step: out of memory for %zu parameters", n);
        }
        memcpy(x0, params, n * sizeof *x0);
        memcpy(avg, params, n * sizeof *avg);
        s->dog_x0 = x0;
        s->dog_avg = avg;
        s->dog_n = n;
        s->dog_avg_t = 1;
        s->dog_r = s->cfg.dog_reps_rel * (1.0 + sqrt(x2));
        s->dog_G = g2 + s->cfg.dog_eps;
    } else {
        s->dog_r = fmax(s->dog_r, sqrt(dx2));
        s->dog_G += g2;
    }
    s->dog_eta = s->dog_r / sqrt(s->dog_G);
    s->dog_steps++;
    if (eta)
        *eta = s->dog_eta;
    return CGALR_OK;
}

cgalr_status_t cgalr_sched_dog_average(cgalr_sched_t *s, const float *params, size_t n)
{
    cgalr_status_t st = dog_check(s, params, n, "average");
    if (st != CGALR_OK)
        return st;
    if (!s->dog_n)
        return cgalr_fail(CGALR_ESTATE, "dog average: call cgalr_sched_dog_step first (x_0 is not known yet)");
    for (size_t i = 0; i < n; i++)
        if (!isfinite(params[i]))
            return cgalr_fail(CGALR_ENONFINITE, "dog average: parameter %zu = %g is not finite", i, (double)params[i]);
    const double gamma = s->cfg.dog_avg_gamma;
    double w = (gamma + 1.0) / (gamma + (double)s->dog_avg_t);
    for (size_t i = 0; i < n; i++)
        s->dog_avg[i] = (float)((double)s->dog_avg[i] * (1.0 - w) + (double)params[i] * w);
    s->dog_avg_t++;
    return CGALR_OK;
}

const float *cgalr_sched_dog_averaged(const cgalr_sched_t *s, size_t *n)
{
    if (n)
        *n = s ? s->dog_n : 0;
    return s ? s->dog_avg : NULL;
}
