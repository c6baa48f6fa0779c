/* Small statistics for the report: Student t quantiles through the regularised incomplete beta
 * function (continued fraction evaluated with the modified Lentz method), then bisection; sample
 * quantiles for the figures. */
#include "cgalr/report.h"

#include <math.h>
#include <stdlib.h>

#include "core/sort.h"
#include "report/report_internal.h"

double report_quantile(double *v, size_t n, double p)
{
    if (n == 0)
        return NAN;
    qsort(v, n, sizeof *v, core_cmp_f64);
    double h = (double)(n - 1) * p;
    size_t lo = (size_t)h;
    if (lo + 1 >= n)
        return v[n - 1];
    return v[lo] + (h - (double)lo) * (v[lo + 1] - v[lo]);
}

#define LENTZ_TINY 1e-300 /* keeps a denominator of the recurrence off zero */

/* One term num of the continued fraction through the modified Lentz recurrence on (c, d): the
 * factor it multiplies the running value by. */
static double lentz_step(double num, double *c, double *d)
{
    *d = 1.0 + num * *d;
    if (fabs(*d) < LENTZ_TINY)
        *d = LENTZ_TINY;
    *c = 1.0 + num / *c;
    if (fabs(*c) < LENTZ_TINY)
        *c = LENTZ_TINY;
    *d = 1.0 / *d;
    return *d * *c;
}

/* Continued fraction of I_x(a, b) (valid and fast for x < (a + 1) / (a + b + 2)). */
static double beta_cf(double a, double b, double x)
{
    double c = 1.0, d = 1.0 - (a + b) * x / (a + 1.0);
    if (fabs(d) < LENTZ_TINY)
        d = LENTZ_TINY;
    d = 1.0 / d;
    double h = d;
    for (int m = 1; m <= 300; m++) {
        double m2 = 2.0 * m;
        double num = m * (b - m) * x / ((a + m2 - 1.0) * (a + m2));
        h *= lentz_step(num, &c, &d);
        num = -(a + m) * (a + b + m) * x / ((a + m2) * (a + m2 + 1.0));
        double del = lentz_step(num, &c, &d);
        h *= del;
        if (fabs(del - 1.0) < 1e-15)
            break;
    }
    return h;
}

/* Regularised incomplete beta I_x(a, b). */
static double inc_beta(double a, double b, double x)
{
    if (x <= 0.0)
        return 0.0;
    if (x >= 1.0)
        return 1.0;
    double lbt = lgamma(a + b) - lgamma(a) - lgamma(b) + a * log(x) + b * log1p(-x);
    if (x < (a + 1.0) / (a + b + 2.0))
        return exp(lbt) * beta_cf(a, b, x) / a;
    return 1.0 - exp(lbt) * beta_cf(b, a, 1.0 - x) / b;
}

/* P(T <= t) for Student's t with df degrees of freedom. */
static double t_cdf(double t, double df)
{
    double tail = 0.5 * inc_beta(df / 2.0, 0.5, df / (df + t * t));
    return t >= 0 ? 1.0 - tail : tail;
}

double cgalr_report_t_quantile(double p, double df)
{
    if (!(p > 0.0 && p < 1.0) || !(df >= 1.0))
        return NAN;
    if (p == 0.5)
        return 0.0;
    double lo = -1.0, hi = 1.0;
    while (t_cdf(lo, df) > p)
        lo *= 2.0;
    while (t_cdf(hi, df) < p)
        hi *= 2.0;
    for (int i = 0; i < 200 && hi - lo > 1e-13 * (1.0 + fabs(lo)); i++) {
        double mid = 0.5 * (lo + hi);
        if (t_cdf(mid, df) < p)
            lo = mid;
        else
            hi = mid;
    }
    return 0.5 * (lo + hi);
}
