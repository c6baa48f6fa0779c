/* The robust score (median, MAD, z) and the hysteresis gate of METHOD.md section 4, steps 2-3.
 * Windows are small (K = 8 by default), so a sorted copy on the stack is the cheapest median. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cgalr/ctrl.h"
#include "core/sort.h"

static double median_sorted(const double *x, size_t n)
{
    if (n % 2)
        return x[n / 2];
    /* Averaging as a/2 + b/2 cannot overflow for huge finite distances. */
    return 0.5 * x[n / 2 - 1] + 0.5 * x[n / 2];
}

enum { STACK_N = 64 };
#define Z_CLAMP 1e300

double cgalr_median(const double *x, size_t n)
{
    if (!x || n == 0)
        return NAN;
    double buf[STACK_N];
    double *tmp = n <= STACK_N ? buf : malloc(n * sizeof *tmp);
    if (!tmp)
        return NAN;
    memcpy(tmp, x, n * sizeof *tmp);
    core_sort_f64(tmp, n);
    double m = median_sorted(tmp, n);
    if (tmp != buf)
        free(tmp);
    return m;
}

void cgalr_robust_score(const double *h, size_t n, double x, double *median, double *mad, double *z)
{
    double m = NAN, d = NAN, zz = NAN;
    if (h && n > 0) {
        m = cgalr_median(h, n);
        double buf[STACK_N];
        double *dev = n <= STACK_N ? buf : malloc(n * sizeof *dev);
        if (dev) {
            for (size_t i = 0; i < n; i++)
                dev[i] = fabs(h[i] - m);
            d = cgalr_median(dev, n);
            if (dev != buf)
                free(dev);
            /* eps keeps z finite when MAD = 0 (a constant history) and scales with |m| so the
             * score stays unit-free for any distance magnitude. */
            double eps = 1e-12 + 1e-9 * fabs(m);
            zz = (x - m) / (1.4826 * d + eps);
            /* Exploding distances would overflow to Inf; a clamp keeps the trace finite
             * without changing any gate decision (thresholds are far below). */
            if (zz > Z_CLAMP || (isinf(zz) && zz > 0))
                zz = Z_CLAMP;
            else if (zz < -Z_CLAMP)
                zz = -Z_CLAMP;
        }
    }
    if (median)
        *median = m;
    if (mad)
        *mad = d;
    if (z)
        *z = zz;
}

cgalr_gate_t cgalr_gate_next(cgalr_gate_t state, double z, double tau_enter, double tau_exit)
{
    if (isnan(z))
        return state;
    if (z >= tau_enter)
        return CGALR_GATE_DECEL;
    if (z <= -tau_enter)
        return CGALR_GATE_ACCEL;
    if (state == CGALR_GATE_DECEL && z < tau_exit)
        return CGALR_GATE_HOLD;
    if (state == CGALR_GATE_ACCEL && z > -tau_exit)
        return CGALR_GATE_HOLD;
    return state;
}

const char *cgalr_gate_name(cgalr_gate_t g)
{
    switch (g) {
    case CGALR_GATE_HOLD: return "HOLD";
    case CGALR_GATE_DECEL: return "DECEL";
    case CGALR_GATE_ACCEL: return "ACCEL";
    }
    return "unknown";
}
