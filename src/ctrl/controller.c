/* The CG-ALR controller step (METHOD.md section 4 steps 2-4 and 6): robust score over the
 * distance history, the hysteresis gate, the multiplier rho, and the trace. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ctrl/sched_internal.h"

static double score_value(const cgalr_sched_t *s, double d)
{
    if (s->cfg.score == CGALR_SCORE_LOG)
        return log(d > 1e-300 ? d : 1e-300);
    return d;
}

cgalr_status_t cgalr_sched_observe_distance(cgalr_sched_t *s, double d, double progress, cgalr_sched_trace_t *rec)
{
    if (!s)
        return cgalr_fail(CGALR_EINVAL, "scheduler observe: NULL scheduler");
    const cgalr_sched_config_t *c = &s->cfg;
    if (!cgalr_method_is_cgalr(c->method))
        return cgalr_fail(CGALR_ESTATE, "scheduler observe: method %s has no controller (use cgalr-top/wd/swk)",
                          cgalr_method_name(c->method));
    if (isnan(progress))
        return cgalr_fail(CGALR_EINVAL, "scheduler observe: progress is NaN");
    ctrl_clock_advance(s, progress); /* at the speed of the state up to this step */
    cgalr_sched_trace_t r;
    ctrl_trace_reset(&r);
    s->t++;
    r.t = s->t;
    r.progress = progress;
    r.d = d;
    r.history = s->hist_n;
    cgalr_status_t st = CGALR_OK;
    if (!isfinite(d)) {
        /* Never enters the history; gate and rho wait for the guard. */
        r.flags |= CGALR_TRACE_NONFINITE;
        if (s->hist_n > 0)
            cgalr_robust_score(s->hist, s->hist_n, 0, &r.median, &r.mad, NULL);
        st = cgalr_fail(CGALR_ENONFINITE, "controller step %ld: distance d = %g is not finite (run the guard)", s->t, d);
    } else {
        double x = score_value(s, d);
        if (s->hist_n > 0)
            cgalr_robust_score(s->hist, s->hist_n, x, &r.median, &r.mad, &r.z);
        if (s->hist_n < 3) {
            r.flags |= CGALR_TRACE_WARMUP;
        } else {
            s->gate = cgalr_gate_next(s->gate, r.z, c->tau_enter, c->tau_exit);
            if (s->gate == CGALR_GATE_DECEL)
                s->rho = fmax(s->rho * c->gamma_dec, c->rho_min);
            else if (s->gate == CGALR_GATE_ACCEL)
                s->rho = fmin(s->rho * c->gamma_inc, c->rho_max);
        }
        if (s->hist_n == (size_t)c->window) {
            memmove(s->hist, s->hist + 1, (s->hist_n - 1) * sizeof *s->hist);
            s->hist_n--;
        }
        s->hist[s->hist_n++] = x;
    }
    r.state = s->gate;
    r.rho = s->rho;
    r.eta = cgalr_sched_envelope(s, progress) * s->rho;
    s->last = r;
    if (rec)
        *rec = r;
    return st;
}

const cgalr_sched_trace_t *cgalr_sched_last_trace(const cgalr_sched_t *s)
{
    return s ? &s->last : NULL;
}

cgalr_gate_t cgalr_sched_gate(const cgalr_sched_t *s)
{
    return s ? s->gate : CGALR_GATE_HOLD;
}

double cgalr_sched_rho(const cgalr_sched_t *s)
{
    return s ? s->rho : NAN;
}

int cgalr_sched_retries(const cgalr_sched_t *s)
{
    return s ? s->retries : 0;
}

