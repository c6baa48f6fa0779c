/* The Robbins-Monro envelope a(s) = eta0 (1 + s / s0)^(-alpha) of the CG-ALR methods (METHOD.md
 * section 4 step 5): rho_min a(s) <= eta <= rho_max a(s) keeps sum eta = inf, sum eta^2 < inf. */
#include <math.h>

#include "ctrl/sched_internal.h"

double cgalr_sched_envelope(const cgalr_sched_t *s, double progress)
{
    if (!s || isnan(progress))
        return NAN;
    if (!cgalr_method_is_cgalr(s->cfg.method))
        return s->cfg.eta0;
    if (progress < 0)
        progress = 0;
    return s->cfg.eta0 * pow(1.0 + progress / s->cfg.s0, -s->cfg.alpha);
}

