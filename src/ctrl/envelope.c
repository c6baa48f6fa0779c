/* The Robbins-Monro envelope a(s) = eta0 (1 + s / s0)^(-alpha) of the CG-ALR methods (METHOD.md
 * section 4 step 5): rho_min a(s) <= eta <= rho_max a(s) keeps sum eta = inf, sum eta^2 < inf.
 *
 * Extension (calm_clock = c < 1, docs/ABLATION.md): s is a clock that runs at speed 1 in warm-up
 * and in DECEL and at speed c otherwise, so the envelope decays while the organisation is being
 * reconfigured and waits while it is calm. The guarantee stays: c t <= s(t) <= t, so
 * a(s(t)) >= a(t) (the sum of rates still diverges) and a(s(t)) <= a(c t), whose squares still sum
 * for alpha > 1/2. c = 1 is METHOD.md's envelope exactly (s = progress). */
#include <math.h>

#include "ctrl/sched_internal.h"

/* 1 until the gate has decided once (the history holds fewer than 3 distances, or the last step
 * was a warm-up step) and in DECEL; c otherwise */
static double clock_speed(const cgalr_sched_t *s)
{
    if (s->hist_n < 3 || (s->last.flags & CGALR_TRACE_WARMUP) || s->gate == CGALR_GATE_DECEL)
        return 1.0;
    return s->cfg.calm_clock;
}

double ctrl_clock(const cgalr_sched_t *s, double progress)
{
    if (progress < 0)
        progress = 0;
    if (s->cfg.calm_clock >= 1.0)
        return progress;
    double ahead = progress - s->clock_at;
    return s->clock + (ahead > 0 ? ahead : 0) * clock_speed(s);
}

void ctrl_clock_advance(cgalr_sched_t *s, double progress)
{
    s->clock = ctrl_clock(s, progress);
    s->clock_at = progress < 0 ? 0 : progress;
}

double cgalr_sched_envelope(const cgalr_sched_t *s, double progress)
{
    if (!s || isnan(progress))
        return NAN;
    if (!cgalr_method_is_cgalr(s->cfg.method))
        return s->cfg.eta0;
    return s->cfg.eta0 * pow(1.0 + ctrl_clock(s, progress) / s->cfg.s0, -s->cfg.alpha);
}
