/* Control layer unit tests: robust score on known vectors, the gate's transition table, the
 * Robbins-Monro envelope under random and adversarial distance sequences, the guard, warm-ups,
 * DoG's first steps, options and their error messages, and save/restore continuing exactly. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cgalr/ctrl.h"
#include "cgalr/rng.h"
#include "cgalr/status.h"

/* Field by field: struct padding is not part of the value. */
static void assert_trace_equal(const cgalr_sched_trace_t *a, const cgalr_sched_trace_t *b)
{
    const double da[] = {a->progress, a->d, a->median, a->mad, a->z, a->rho, a->eta};
    const double db[] = {b->progress, b->d, b->median, b->mad, b->z, b->rho, b->eta};
    assert_memory_equal(da, db, sizeof da); /* bitwise: NaN fields compare equal */
    assert_true(a->t == b->t && a->state == b->state && a->history == b->history && a->flags == b->flags);
}

static cgalr_sched_t *make(cgalr_method_t m, const char *opts, long epochs)
{
    cgalr_sched_config_t cfg;
    cgalr_sched_config_default(&cfg, m);
    cfg.epochs = epochs;
    assert_int_equal(cgalr_sched_config_set_list(&cfg, opts), CGALR_OK);
    cgalr_sched_t *s = NULL;
    assert_int_equal(cgalr_sched_create(&cfg, &s), CGALR_OK);
    assert_non_null(s);
    return s;
}

/* ---- robust score ---------------------------------------------------------------------- */

static void median_mad_known(void **state)
{
    (void)state;
    const double a[] = {4, 1, 100, 3, 2}; /* sorted 1 2 3 4 100 */
    double m, mad, z;
    cgalr_robust_score(a, 5, 10, &m, &mad, &z);
    assert_true(m == 3);
    assert_true(mad == 1); /* |dev| = 2 1 0 1 97 -> 1 */
    assert_true(fabs(z - 7 / (1.4826 + 1e-12 + 3e-9)) < 1e-12);
    const double b[] = {4, 2, 1, 3}; /* even: mean of the middle two */
    cgalr_robust_score(b, 4, 2.5, &m, &mad, &z);
    assert_true(m == 2.5);
    assert_true(mad == 1); /* 1.5 .5 .5 1.5 -> 1 */
    assert_true(z == 0);
    assert_true(cgalr_median((const double[]){7}, 1) == 7);
    assert_true(cgalr_median((const double[]){-1, -3}, 2) == -2);
    assert_true(isnan(cgalr_median(NULL, 3)));
    /* 100 values: the heap path of the median */
    double big[100];
    for (int i = 0; i < 100; i++)
        big[i] = (double)((i * 37) % 100);
    assert_true(cgalr_median(big, 100) == 49.5);
}

static void z_finite_when_mad_zero(void **state)
{
    (void)state;
    const double c[] = {5, 5, 5, 5};
    double m, mad, z;
    cgalr_robust_score(c, 4, 5, &m, &mad, &z);
    assert_true(mad == 0 && z == 0);
    cgalr_robust_score(c, 4, 6, &m, &mad, &z);
    assert_true(isfinite(z) && z > 1e6);
    cgalr_robust_score(c, 4, 4, NULL, NULL, &z);
    assert_true(isfinite(z) && z < -1e6);
    const double zero[] = {0, 0, 0};
    cgalr_robust_score(zero, 3, 1e-3, &m, &mad, &z);
    assert_true(isfinite(z) && z > 0);
    /* exploding: a finite x far beyond the history stays finite (clamped) */
    cgalr_robust_score(zero, 3, 1e308, NULL, NULL, &z);
    assert_true(isfinite(z) && z > 0);
    cgalr_robust_score(zero, 3, -1e308, NULL, NULL, &z);
    assert_true(isfinite(z) && z < 0);
    cgalr_robust_score(NULL, 0, 1, &m, &mad, &z);
    assert_true(isnan(m) && isnan(mad) && isnan(z));
}

/* ---- gate ------------------------------------------------------------------------------ */

static void gate_table(void **state)
{
    (void)state;
    const cgalr_gate_t H = CGALR_GATE_HOLD, D = CGALR_GATE_DECEL, A = CGALR_GATE_ACCEL;
    struct {
        cgalr_gate_t from;
        double z;
        cgalr_gate_t to;
    } rows[] = {
        /* from HOLD: only |z| >= tau_enter moves */
        {H, 0.0, H}, {H, 0.99, H}, {H, 1.0, D}, {H, 5.0, D}, {H, -0.99, H}, {H, -1.0, A}, {H, -7.0, A},
        {H, 0.3, H}, {H, -0.3, H},
        /* from DECEL: the hysteresis band [tau_exit, tau_enter) keeps DECEL */
        {D, 1.0, D}, {D, 0.99, D}, {D, 0.5, D}, {D, 0.25, D}, {D, 0.2499, H}, {D, 0.0, H}, {D, -0.5, H},
        {D, -1.0, A}, {D, -3.0, A},
        /* from ACCEL: mirror image */
        {A, -1.0, A}, {A, -0.99, A}, {A, -0.5, A}, {A, -0.25, A}, {A, -0.2499, H}, {A, 0.0, H}, {A, 0.5, H},
        {A, 1.0, D}, {A, 2.0, D},
        /* NaN never moves the gate */
        {H, NAN, H}, {D, NAN, D}, {A, NAN, A},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        cgalr_gate_t got = cgalr_gate_next(rows[i].from, rows[i].z, 1.0, 0.25);
        if (got != rows[i].to)
            fail_msg("row %zu: %s with z = %g -> %s, expected %s", i, cgalr_gate_name(rows[i].from), rows[i].z,
                     cgalr_gate_name(got), cgalr_gate_name(rows[i].to));
    }
    assert_string_equal(cgalr_gate_name(D), "DECEL");
}

/* Constructed distance sequences through the scheduler: warm-up, DECEL, band, HOLD, ACCEL, and
 * the multiplier's clamps. History [1 2 3] has m = 2, MAD = 1, so d = 2 + 1.4826 k gives z ~ k. */
static void controller_sequence(void **state)
{
    (void)state;
    cgalr_sched_t *s = make(CGALR_METHOD_CGALR_TOP, "K=3,gamma_dec=0.5,gamma_inc=2,rho_min=0.25,rho_max=2", 0);
    cgalr_sched_trace_t r;
    const double u = 1.4826;
    /* warm-up: three distances, no gating even for wild values */
    assert_int_equal(cgalr_sched_observe_distance(s, 1, 0.1, &r), CGALR_OK);
    assert_true(r.flags & CGALR_TRACE_WARMUP);
    assert_true(isnan(r.z) && r.t == 1 && r.history == 0);
    assert_int_equal(cgalr_sched_observe_distance(s, 3, 0.2, &r), CGALR_OK);
    assert_int_equal(cgalr_sched_observe_distance(s, 2, 0.3, &r), CGALR_OK);
    assert_true((r.flags & CGALR_TRACE_WARMUP) && r.rho == 1 && r.state == CGALR_GATE_HOLD);
    /* H = [1 3 2]: z = 2 -> DECEL, rho 0.5 */
    assert_int_equal(cgalr_sched_observe_distance(s, 2 + 2 * u, 1, &r), CGALR_OK);
    assert_true(!(r.flags & CGALR_TRACE_WARMUP));
    assert_true(r.median == 2 && r.mad == 1 && fabs(r.z - 2 * u / (u + 1e-12 + 2e-9)) < 1e-9);
    assert_int_equal(r.state, CGALR_GATE_DECEL);
    assert_true(r.rho == 0.5);
    /* H = [3 2 4.9652]: m = 3, MAD = 1 -> d = 3 + 0.5u is z ~ 0.5: in the band, stays DECEL,
     * rho keeps falling and clamps at rho_min */
    assert_int_equal(cgalr_sched_observe_distance(s, 3 + 0.5 * u, 2, &r), CGALR_OK);
    assert_int_equal(r.state, CGALR_GATE_DECEL);
    assert_true(r.rho == 0.25);
    /* H = [2 4.9652 3.7413]: m = 3.7413, MAD = 1.2239; z ~ -0.3 < tau_exit -> HOLD, rho kept */
    assert_int_equal(cgalr_sched_observe_distance(s, 3.7413 - 0.3 * u * 1.2239, 3, &r), CGALR_OK);
    assert_int_equal(r.state, CGALR_GATE_HOLD);
    assert_true(r.rho == 0.25);
    /* a far smaller distance: ACCEL, rho doubles, then again, then clamps at rho_max */
    assert_int_equal(cgalr_sched_observe_distance(s, 1e-6, 4, &r), CGALR_OK);
    assert_int_equal(r.state, CGALR_GATE_ACCEL);
    assert_true(r.rho == 0.5);
    assert_int_equal(cgalr_sched_observe_distance(s, 1e-9, 5, &r), CGALR_OK);
    assert_int_equal(cgalr_sched_observe_distance(s, 1e-12, 6, &r), CGALR_OK);
    assert_int_equal(cgalr_sched_observe_distance(s, 1e-15, 7, &r), CGALR_OK);
    assert_int_equal(r.state, CGALR_GATE_ACCEL);
    assert_true(r.rho == 2);
    /* eta recorded = a(s) rho with the default s0 = 1 (docs/ABLATION.md), alpha = 1 */
    assert_true(fabs(r.eta - 0.1 / (1 + 7.0 / 1) * 2) < 1e-15);
    assert_true(fabs(cgalr_sched_lr(s, 100, 7) - r.eta) < 1e-15);
    assert_int_equal(r.t, 10);
    assert_trace_equal(&r, cgalr_sched_last_trace(s));
    cgalr_sched_free(s);
}

/* ---- envelope -------------------------------------------------------------------------- */

static void check_envelope(cgalr_sched_t *s, double progress, long it)
{
    const cgalr_sched_config_t *c = cgalr_sched_config(s);
    double a = cgalr_sched_envelope(s, progress);
    double lr = cgalr_sched_lr(s, it, progress);
    assert_true(isfinite(lr) && isfinite(a) && a > 0);
    if (!(lr >= c->rho_min * a * (1 - 1e-12) && lr <= c->rho_max * a * (1 + 1e-12)))
        fail_msg("progress %g: rate %g outside [%g, %g]", progress, lr, c->rho_min * a, c->rho_max * a);
}

static void envelope_adversarial(void **state)
{
    (void)state;
    const char *optsets[] = {"-", "score=log", "K=3,gamma_dec=0.3,gamma_inc=1.9,rho_min=0.05,rho_max=5",
                             "alpha=0.51,s0=2,tau_enter=0.5,tau_exit=0", "K=16,gamma_inc=1.5,score=log"};
    cgalr_rng_t rng = cgalr_rng_init(17, CGALR_STREAM_TEST);
    for (size_t o = 0; o < sizeof optsets / sizeof optsets[0]; o++) {
        for (int kind = 0; kind < 6; kind++) {
            cgalr_sched_t *s = make(CGALR_METHOD_CGALR_WD, strcmp(optsets[o], "-") ? optsets[o] : "", 50);
            long it = 0;
            for (int t = 0; t < 300; t++) {
                double d;
                switch (kind) {
                case 0: d = 0.5; break;                                   /* constant */
                case 1: d = t % 2 ? 1e-3 : 1e3; break;                    /* alternating */
                case 2: d = pow(10, t < 300 ? t : 300); break;            /* exploding (to Inf) */
                case 3: d = exp(3 * cgalr_rng_normal(&rng)); break;       /* heavy right skew */
                case 4: d = t % 7 == 3 ? NAN : t % 11 == 5 ? INFINITY : cgalr_rng_uniform(&rng); break;
                default: d = t < 150 ? 1.0 / (t + 1) : 0.0; break;      /* shrinking to exactly 0 */
                }
                size_t before = cgalr_sched_last_trace(s)->history;
                (void)before;
                cgalr_sched_trace_t r;
                cgalr_status_t st = cgalr_sched_observe_distance(s, d, t * 0.25, &r);
                if (!isfinite(d)) {
                    assert_int_equal(st, CGALR_ENONFINITE);
                    assert_true(r.flags & CGALR_TRACE_NONFINITE);
                } else {
                    assert_int_equal(st, CGALR_OK);
                    assert_true(isnan(r.z) || isfinite(r.z));
                }
                assert_true(isfinite(r.rho) && isfinite(r.eta));
                if (t % 37 == 36) {
                    cgalr_status_t g = cgalr_sched_on_nonfinite(s, t * 0.25, &r);
                    (void)g;
                    assert_true(r.rho == cgalr_sched_config(s)->rho_min);
                }
                for (int i = 0; i < 4; i++, it++)
                    check_envelope(s, t * 0.25 + i * 0.0625, it);
            }
            cgalr_sched_free(s);
        }
    }
}

static void nonfinite_never_in_history(void **state)
{
    (void)state;
    cgalr_sched_t *s = make(CGALR_METHOD_CGALR_TOP, "", 0);
    cgalr_sched_trace_t r;
    for (int i = 0; i < 5; i++)
        assert_int_equal(cgalr_sched_observe_distance(s, 1.0 + i, i, &r), CGALR_OK);
    double rho = cgalr_sched_rho(s);
    cgalr_gate_t g = cgalr_sched_gate(s);
    assert_int_equal(cgalr_sched_observe_distance(s, NAN, 5, &r), CGALR_ENONFINITE);
    assert_non_null(strstr(cgalr_last_error(), "not finite"));
    assert_true(r.history == 5 && isnan(r.z) && r.rho == rho && r.state == g);
    assert_int_equal(cgalr_sched_observe_distance(s, -INFINITY, 6, &r), CGALR_ENONFINITE);
    assert_int_equal(cgalr_sched_observe_distance(s, 3.0, 7, &r), CGALR_OK);
    assert_int_equal(r.history, 5); /* the two non-finite ones never entered */
    assert_int_equal(r.t, 8);
    cgalr_sched_free(s);
}

/* ---- guard ----------------------------------------------------------------------------- */

static void guard_retries(void **state)
{
    (void)state;
    cgalr_sched_t *s = make(CGALR_METHOD_CGALR_SWK, "", 20);
    cgalr_sched_trace_t r;
    size_t sz = 0;
    assert_int_equal(cgalr_sched_save(s, NULL, &sz), CGALR_OK);
    void *good = malloc(sz);
    assert_int_equal(cgalr_sched_save(s, good, &sz), CGALR_OK);
    for (int k = 1; k <= 3; k++) {
        /* the loop's order: restore the last good state, then the guard */
        assert_int_equal(cgalr_sched_load(s, good, sz), CGALR_OK);
        assert_int_equal(cgalr_sched_retries(s), k - 1);
        assert_int_equal(cgalr_sched_on_nonfinite(s, 2.0, &r), CGALR_OK);
        assert_int_equal(cgalr_sched_retries(s), k);
        assert_true(r.flags & CGALR_TRACE_GUARD);
        assert_false(r.flags & CGALR_TRACE_DIVERGED);
        assert_int_equal(cgalr_sched_gate(s), CGALR_GATE_DECEL);
        assert_true(cgalr_sched_rho(s) == 0.1);
        assert_true(fabs(cgalr_sched_lr(s, 0, 2.0) - 0.1 * cgalr_sched_envelope(s, 2.0)) < 1e-18);
    }
    assert_int_equal(cgalr_sched_load(s, good, sz), CGALR_OK);
    assert_int_equal(cgalr_sched_on_nonfinite(s, 2.0, &r), CGALR_ENONFINITE);
    assert_true(r.flags & CGALR_TRACE_DIVERGED);
    assert_non_null(strstr(cgalr_last_error(), "diverged"));
    assert_non_null(strstr(cgalr_last_error(), "rho_min"));
    free(good);
    cgalr_sched_free(s);
    /* a baseline only counts; its rate is untouched */
    s = make(CGALR_METHOD_COSINE, "max_retries=0", 10);
    double lr = cgalr_sched_lr(s, 0, 3);
    assert_int_equal(cgalr_sched_on_nonfinite(s, 3, NULL), CGALR_ENONFINITE);
    assert_true(cgalr_sched_lr(s, 0, 3) == lr);
    cgalr_sched_free(s);
}

static void epoch_end_nonfinite(void **state)
{
    (void)state;
    cgalr_sched_t *s = make(CGALR_METHOD_PLATEAU, "plateau_patience=0", 10);
    assert_int_equal(cgalr_sched_epoch_end(s, 0, 1.0, 1.0), CGALR_OK);
    assert_int_equal(cgalr_sched_epoch_end(s, 1, NAN, 1.0), CGALR_ENONFINITE);
    assert_non_null(strstr(cgalr_last_error(), "epoch 1"));
    assert_int_equal(cgalr_sched_epoch_end(s, 1, 1.0, INFINITY), CGALR_ENONFINITE);
    /* no plateau step happened for the non-finite epochs: patience 0 cuts on the first bad one */
    assert_true(cgalr_sched_lr(s, 0, 1) == 0.1);
    assert_int_equal(cgalr_sched_epoch_end(s, 1, 1.0, 1.0), CGALR_OK);
    assert_true(fabs(cgalr_sched_lr(s, 0, 2) - 0.01) < 1e-17);
    assert_int_equal(cgalr_sched_epoch_end(s, -1, 1.0, 1.0), CGALR_EINVAL);
    assert_int_equal(cgalr_sched_epoch_end(NULL, 0, 1.0, 1.0), CGALR_EINVAL);
    cgalr_sched_free(s);
}

/* ---- rates ----------------------------------------------------------------------------- */

static void warmup_and_epochs(void **state)
{
    (void)state;
    cgalr_sched_t *s = make(CGALR_METHOD_CONSTANT, "lr=0.4,warmup=4", 0);
    assert_true(cgalr_sched_lr(s, 0, 0) == 0.1);
    assert_true(cgalr_sched_lr(s, 1, 0.1) == 0.2);
    assert_true(cgalr_sched_lr(s, 3, 0.3) == 0.4);
    assert_true(cgalr_sched_lr(s, 4, 0.4) == 0.4);
    cgalr_sched_free(s);
    /* epoch-based: the rate holds for a whole epoch and changes at its start */
    s = make(CGALR_METHOD_STEP, "lr=1", 9); /* step 3 */
    assert_true(cgalr_sched_lr(s, 0, 2.999) == 1);
    assert_true(fabs(cgalr_sched_lr(s, 0, 3.0) - 0.1) < 1e-16);
    assert_true(fabs(cgalr_sched_lr(s, 0, 0.5) - 1) < 1e-16); /* going back recomputes */
    assert_true(fabs(cgalr_sched_lr(s, 0, 7.5) - 0.01) < 1e-17);
    assert_true(cgalr_sched_optimizer(s) == CGALR_SCHED_OPTIM_SGD_MOMENTUM);
    cgalr_sched_free(s);
    /* CG-ALR: the envelope moves inside an epoch; s0 = 0 is METHOD.md's first SPEC, T/10 */
    s = make(CGALR_METHOD_CGALR_TOP, "lr=0.1,s0=0", 100);
    assert_true(fabs(cgalr_sched_lr(s, 0, 0) - 0.1) < 1e-17);
    assert_true(fabs(cgalr_sched_lr(s, 5, 0.5) - 0.1 / 1.05) < 1e-16);
    assert_true(fabs(cgalr_sched_lr(s, 0, 10) - 0.05) < 1e-16);
    cgalr_sched_free(s);
    /* the default s0 = 1 epoch, whatever T */
    s = make(CGALR_METHOD_CGALR_TOP, "lr=0.1", 100);
    assert_true(fabs(cgalr_sched_lr(s, 0, 1) - 0.05) < 1e-16);
    assert_true(fabs(cgalr_sched_lr(s, 0, 9) - 0.01) < 1e-16);
    assert_true(isnan(cgalr_sched_lr(s, 0, NAN)));
    assert_true(isnan(cgalr_sched_lr(NULL, 0, 1)));
    cgalr_sched_free(s);
    assert_int_equal(cgalr_method_optimizer(CGALR_METHOD_DOG), CGALR_SCHED_OPTIM_SGD);
    assert_int_equal(cgalr_method_optimizer(CGALR_METHOD_ADAM_COSINE), CGALR_SCHED_OPTIM_ADAM);
    assert_int_equal(cgalr_method_optimizer(CGALR_METHOD_ADAMW_COSINE), CGALR_SCHED_OPTIM_ADAMW);
    assert_string_equal(cgalr_sched_optim_name(CGALR_SCHED_OPTIM_ADAMW), "adamw");
    for (int m = 0; m < CGALR_METHOD_COUNT; m++)
        assert_int_equal(cgalr_method_parse(cgalr_method_name((cgalr_method_t)m)), m);
    assert_int_equal(cgalr_method_parse("sgd"), -1);
    assert_int_equal(cgalr_method_parse(NULL), -1);
}

/* ---- DoG ------------------------------------------------------------------------------- */

static void dog_first_steps(void **state)
{
    (void)state;
    cgalr_sched_t *s = make(CGALR_METHOD_DOG, "dog_reps_rel=1e-4", 0);
    float x[3] = {3, 0, 4}, g[3] = {1, 2, 2};
    double eta;
    assert_true(cgalr_sched_lr(s, 0, 0) == 0);
    assert_int_equal(cgalr_sched_dog_average(s, x, 3), CGALR_ESTATE);
    assert_int_equal(cgalr_sched_dog_step(s, x, g, 3, &eta), CGALR_OK);
    /* r0 = 1e-4 (1 + 5), G0 = 9 + 1e-8 */
    assert_true(fabs(eta - 6e-4 / sqrt(9 + 1e-8)) < 1e-18);
    assert_true(cgalr_sched_lr(s, 0, 0) == eta);
    size_t n;
    const float *avg = cgalr_sched_dog_averaged(s, &n);
    assert_int_equal(n, 3);
    assert_true(avg[0] == 3 && avg[2] == 4);
    /* the step x <- x - eta g moves little; next: r = max(r0, |x1 - x0|) = r0 */
    for (int i = 0; i < 3; i++)
        x[i] -= (float)(eta * g[i]);
    assert_int_equal(cgalr_sched_dog_average(s, x, 3), CGALR_OK);
    avg = cgalr_sched_dog_averaged(s, &n);
    assert_true(avg[0] == x[0]); /* t = 1: weight 1 */
    float x2[3] = {3, 10, 4};
    assert_int_equal(cgalr_sched_dog_step(s, x2, g, 3, &eta), CGALR_OK);
    assert_true(fabs(eta - 10 / sqrt(18 + 1e-8)) < 1e-12);
    /* bad input */
    float bad[3] = {1, NAN, 1};
    assert_int_equal(cgalr_sched_dog_step(s, bad, g, 3, &eta), CGALR_ENONFINITE);
    assert_non_null(strstr(cgalr_last_error(), "parameter 1"));
    assert_int_equal(cgalr_sched_dog_step(s, x, bad, 3, &eta), CGALR_ENONFINITE);
    assert_int_equal(cgalr_sched_dog_step(s, x, g, 2, &eta), CGALR_EINVAL);
    assert_int_equal(cgalr_sched_dog_step(s, NULL, g, 3, &eta), CGALR_EINVAL);
    assert_int_equal(cgalr_sched_dog_step(s, x, NULL, 3, &eta), CGALR_EINVAL);
    assert_true(fabs(cgalr_sched_lr(s, 0, 0) - 10 / sqrt(18 + 1e-8)) < 1e-12); /* unchanged */
    cgalr_sched_free(s);
    s = make(CGALR_METHOD_COSINE, "", 5);
    assert_int_equal(cgalr_sched_dog_step(s, x, g, 3, &eta), CGALR_ESTATE);
    assert_int_equal(cgalr_sched_observe_distance(s, 1.0, 0, NULL), CGALR_ESTATE);
    cgalr_sched_free(s);
}

/* ---- options --------------------------------------------------------------------------- */

static void expect_bad(const char *opt, const char *must_contain)
{
    cgalr_sched_config_t cfg, before;
    cgalr_sched_config_default(&cfg, CGALR_METHOD_CGALR_TOP);
    before = cfg;
    cgalr_status_t st = cgalr_sched_config_set(&cfg, opt);
    if (st != CGALR_EINVAL)
        fail_msg("option '%s' accepted", opt);
    if (!strstr(cgalr_last_error(), must_contain))
        fail_msg("option '%s': message '%s' lacks '%s'", opt, cgalr_last_error(), must_contain);
    assert_memory_equal(&cfg, &before, sizeof cfg);
}

static void options_parse(void **state)
{
    (void)state;
    cgalr_sched_config_t cfg;
    cgalr_sched_config_default(&cfg, CGALR_METHOD_CGALR_TOP);
    assert_true(cfg.window == 8 && cfg.tau_enter == 1.0 && cfg.tau_exit == 0.25 && cfg.gamma_dec == 0.7 &&
                cfg.gamma_inc == 1.1 && cfg.rho_min == 0.1 && cfg.rho_max == 2.0 && cfg.alpha == 1 &&
                cfg.max_retries == 3 && cfg.dog_avg_gamma == 8 && cfg.plateau_factor == 0.1 &&
                cfg.topo.p_ph == 128 && cfg.topo.sw_directions == 50 && cfg.momentum == 0.9);
    assert_int_equal(cgalr_sched_config_set(&cfg, "tau_enter=1.5"), CGALR_OK);
    assert_true(cfg.tau_enter == 1.5);
    assert_int_equal(cgalr_sched_config_set(&cfg, "score=log"), CGALR_OK);
    assert_int_equal(cfg.score, CGALR_SCORE_LOG);
    assert_int_equal(cgalr_sched_config_set(&cfg, "K=3"), CGALR_OK);
    assert_int_equal(cgalr_sched_config_set(&cfg, "topo_seed=18446744073709551615"), CGALR_OK);
    assert_true(cfg.topo.seed == UINT64_MAX);
    assert_int_equal(cgalr_sched_config_set(&cfg, "method=cgalr-swk"), CGALR_OK);
    assert_int_equal(cfg.topo.kind, CGALR_DIST_SWK);
    assert_int_equal(cgalr_sched_config_set_list(&cfg, "alpha=0.75,rho_max=3,p_ph=64"), CGALR_OK);
    assert_true(cfg.alpha == 0.75 && cfg.rho_max == 3 && cfg.topo.p_ph == 64);
    assert_int_equal(cgalr_sched_config_validate(&cfg), CGALR_OK);
    /* a bad item leaves the whole list unapplied */
    cgalr_sched_config_t before = cfg;
    assert_int_equal(cgalr_sched_config_set_list(&cfg, "alpha=0.9,K=2"), CGALR_EINVAL);
    assert_memory_equal(&cfg, &before, sizeof cfg);

    expect_bad("nosuch=1", "unknown");
    expect_bad("tau_enter", "name=value");
    expect_bad("lr=-0.1", "lr");
    expect_bad("lr=0", "(0, 1e6]");
    expect_bad("lr=nan", "lr");
    expect_bad("lr=1e400", "lr");
    expect_bad("lr=0.1x", "not a number");
    expect_bad("lr=", "empty");
    expect_bad("alpha=0.5", "(0.5, 1]");
    expect_bad("alpha=1.01", "alpha");
    expect_bad("K=2", "[3, 4096]");
    expect_bad("K=1.5", "integer");
    expect_bad("gamma_dec=1.2", "gamma_dec");
    expect_bad("gamma_inc=0.9", "gamma_inc");
    expect_bad("rho_min=0", "rho_min");
    expect_bad("rho_max=0.5", "rho_max");
    expect_bad("score=median", "plain or log");
    expect_bad("method=adagrad", "unknown");
    expect_bad("topo_seed=-1", "topo_seed");
    expect_bad("plateau_factor=1", "plateau_factor");
    expect_bad("max_retries=-1", "max_retries");
    expect_bad("distance=bottleneck", "top|wd|swk");
    {
        cgalr_sched_config_t d;
        cgalr_sched_config_default(&d, CGALR_METHOD_CGALR_TOP);
        assert_int_equal(cgalr_sched_config_set(&d, "distance=wd"), CGALR_OK);
        assert_true(d.method == CGALR_METHOD_CGALR_WD && d.topo.kind == CGALR_DIST_WD);
        cgalr_sched_config_default(&d, CGALR_METHOD_COSINE);
        assert_int_equal(cgalr_sched_config_set(&d, "distance=wd"), CGALR_EINVAL);
        assert_non_null(strstr(cgalr_last_error(), "cgalr"));
    }
    assert_int_equal(cgalr_sched_config_set(NULL, "K=3"), CGALR_EINVAL);
    assert_int_equal(cgalr_sched_config_set(&cfg, NULL), CGALR_EINVAL);
    assert_non_null(strstr(cgalr_sched_options_help(), "tau_enter"));
}

static void options_cross_checks(void **state)
{
    (void)state;
    cgalr_sched_config_t cfg;
    cgalr_sched_t *s = (cgalr_sched_t *)&cfg; /* must be reset to NULL on failure */
    cgalr_sched_config_default(&cfg, CGALR_METHOD_CGALR_TOP);
    cfg.tau_exit = 1.0;
    assert_int_equal(cgalr_sched_create(&cfg, &s), CGALR_EINVAL);
    assert_null(s);
    assert_non_null(strstr(cgalr_last_error(), "tau_exit"));
    cgalr_sched_config_default(&cfg, CGALR_METHOD_CGALR_TOP);
    cfg.rho_min = 0.5;
    cfg.rho_max = 0.4; /* out of its own range too */
    assert_int_equal(cgalr_sched_create(&cfg, &s), CGALR_EINVAL);
    cgalr_sched_config_default(&cfg, CGALR_METHOD_CGALR_TOP);
    cfg.alpha = 0.3;
    assert_int_equal(cgalr_sched_create(&cfg, &s), CGALR_EINVAL);
    assert_non_null(strstr(cgalr_last_error(), "(0.5, 1]"));
    cgalr_sched_config_default(&cfg, CGALR_METHOD_CGALR_TOP);
    cfg.window = 2;
    assert_int_equal(cgalr_sched_create(&cfg, &s), CGALR_EINVAL);
    cgalr_sched_config_default(&cfg, CGALR_METHOD_CGALR_TOP);
    cfg.eta0 = NAN;
    assert_int_equal(cgalr_sched_create(&cfg, &s), CGALR_EINVAL);
    cgalr_sched_config_default(&cfg, CGALR_METHOD_COSINE); /* no run length */
    assert_int_equal(cgalr_sched_create(&cfg, &s), CGALR_EINVAL);
    assert_non_null(strstr(cgalr_last_error(), "epochs"));
    cgalr_sched_config_default(&cfg, CGALR_METHOD_STEP);
    assert_int_equal(cgalr_sched_create(&cfg, &s), CGALR_EINVAL);
    cgalr_sched_config_default(&cfg, CGALR_METHOD_EXP);
    assert_int_equal(cgalr_sched_create(&cfg, &s), CGALR_EINVAL);
    cgalr_sched_config_default(&cfg, CGALR_METHOD_CGALR_WD);
    cfg.topo.kind = CGALR_DIST_TOP;
    assert_int_equal(cgalr_sched_create(&cfg, &s), CGALR_EINVAL);
    cgalr_sched_config_default(&cfg, CGALR_METHOD_CONSTANT);
    cfg.method = (cgalr_method_t)42;
    assert_int_equal(cgalr_sched_create(&cfg, &s), CGALR_EINVAL);
    assert_int_equal(cgalr_sched_create(NULL, &s), CGALR_EINVAL);
    assert_int_equal(cgalr_sched_create(&cfg, NULL), CGALR_EINVAL);
    cgalr_sched_free(NULL);
    /* resolved auto values */
    cgalr_sched_config_default(&cfg, CGALR_METHOD_PLATEAU);
    cfg.epochs = 35;
    cfg.s0 = 0;
    assert_int_equal(cgalr_sched_create(&cfg, &s), CGALR_OK);
    assert_int_equal(cgalr_sched_config(s)->plateau_patience, 3);
    assert_true(cgalr_sched_config(s)->s0 == 3.5);
    assert_int_equal(cgalr_sched_config(s)->step_size, 11);
    cgalr_sched_free(s);
    cfg.epochs = 500;
    assert_int_equal(cgalr_sched_create(&cfg, &s), CGALR_OK);
    assert_int_equal(cgalr_sched_config(s)->plateau_patience, 10);
    cgalr_sched_free(s);
}

/* ---- save / restore -------------------------------------------------------------------- */

static void *save(const cgalr_sched_t *s, size_t *sz)
{
    assert_int_equal(cgalr_sched_save(s, NULL, sz), CGALR_OK);
    void *buf = malloc(*sz);
    assert_non_null(buf);
    assert_int_equal(cgalr_sched_save(s, buf, sz), CGALR_OK);
    return buf;
}

/* Drives a scheduler for epochs [from, to): distances, losses, DoG steps; returns a digest of
 * every rate so two runs compare exactly. */
static void drive(cgalr_sched_t *s, int from, int to, float *x, double *rates)
{
    const cgalr_sched_config_t *c = cgalr_sched_config(s);
    for (int e = from; e < to; e++) {
        for (int i = 0; i < 4; i++) {
            long it = e * 4 + i;
            if (c->method == CGALR_METHOD_DOG) {
                float g[6];
                for (int k = 0; k < 6; k++)
                    g[k] = (float)(x[k] - k + 0.1 * sin(it + k));
                double eta;
                assert_int_equal(cgalr_sched_dog_step(s, x, g, 6, &eta), CGALR_OK);
                for (int k = 0; k < 6; k++)
                    x[k] -= (float)(eta * g[k]);
                assert_int_equal(cgalr_sched_dog_average(s, x, 6), CGALR_OK);
            }
            rates[it] = cgalr_sched_lr(s, it, e + i / 4.0);
        }
        double loss = 2.0 / (1 + e % 5) + 0.01 * e;
        assert_int_equal(cgalr_sched_epoch_end(s, e, loss, loss), CGALR_OK);
        if (cgalr_method_is_cgalr(c->method)) {
            double d = exp(sin(1.7 * e) * 2);
            cgalr_sched_observe_distance(s, e == 13 ? NAN : d, e + 1.0, NULL);
        }
    }
}

static void save_restore_continues(void **state)
{
    (void)state;
    const cgalr_method_t methods[] = {CGALR_METHOD_CGALR_TOP, CGALR_METHOD_PLATEAU, CGALR_METHOD_DOG,
                                      CGALR_METHOD_COSINE, CGALR_METHOD_CGALR_SWK};
    enum { E = 30, MID = 17 };
    for (size_t k = 0; k < sizeof methods / sizeof methods[0]; k++) {
        const char *opts = methods[k] == CGALR_METHOD_CGALR_SWK ? "score=log,K=4" : "";
        cgalr_sched_t *a = make(methods[k], opts, 10);
        float xa[6] = {1, 2, 3, 4, 5, 6}, xb[6];
        double ra[E * 4], rb[E * 4];
        drive(a, 0, MID, xa, ra);
        size_t sz;
        void *buf = save(a, &sz);
        memcpy(xb, xa, sizeof xb);
        cgalr_sched_t *b = make(methods[k], opts, 10);
        assert_int_equal(cgalr_sched_load(b, buf, sz), CGALR_OK);
        memcpy(rb, ra, sizeof rb);
        drive(a, MID, E, xa, ra);
        drive(b, MID, E, xb, rb);
        for (int i = MID * 4; i < E * 4; i++)
            if (ra[i] != rb[i])
                fail_msg("%s: rate %d differs after restore: %.17g vs %.17g", cgalr_method_name(methods[k]), i, ra[i],
                         rb[i]);
        assert_memory_equal(xa, xb, sizeof xa);
        assert_trace_equal(cgalr_sched_last_trace(a), cgalr_sched_last_trace(b));
        if (methods[k] == CGALR_METHOD_DOG) {
            size_t na, nb;
            const float *va = cgalr_sched_dog_averaged(a, &na), *vb = cgalr_sched_dog_averaged(b, &nb);
            assert_int_equal(na, nb);
            assert_memory_equal(va, vb, na * sizeof *va);
        }
        /* the saved bytes of both are identical at the end, too */
        size_t s1, s2;
        void *b1 = save(a, &s1), *b2 = save(b, &s2);
        assert_int_equal(s1, s2);
        assert_memory_equal(b1, b2, s1);
        free(b1);
        free(b2);
        free(buf);
        cgalr_sched_free(a);
        cgalr_sched_free(b);
    }
}

static void load_rejects_bad_states(void **state)
{
    (void)state;
    cgalr_sched_t *a = make(CGALR_METHOD_CGALR_TOP, "", 10);
    float x[6] = {0};
    double rates[40 * 4];
    drive(a, 0, 10, x, rates);
    size_t sz;
    unsigned char *buf = save(a, &sz);
    cgalr_sched_t *b = make(CGALR_METHOD_CGALR_TOP, "", 10);
    double rho_before = cgalr_sched_rho(b);
    /* every truncation is rejected, b unchanged */
    for (size_t cut = 0; cut < sz; cut += 7) {
        cgalr_status_t st = cgalr_sched_load(b, buf, cut);
        assert_int_equal(st, CGALR_EFORMAT);
    }
    /* every single-byte corruption is rejected */
    for (size_t i = 0; i < sz; i++) {
        buf[i] ^= 0x5a;
        cgalr_status_t st = cgalr_sched_load(b, buf, sz);
        buf[i] ^= 0x5a;
        if (st == CGALR_OK)
            fail_msg("corrupt byte %zu accepted", i);
    }
    assert_true(cgalr_sched_rho(b) == rho_before);
    assert_int_equal(cgalr_sched_last_trace(b)->t, 0);
    /* a different method or configuration */
    cgalr_sched_t *c = make(CGALR_METHOD_CGALR_WD, "", 10);
    assert_int_equal(cgalr_sched_load(c, buf, sz), CGALR_ESTATE);
    assert_non_null(strstr(cgalr_last_error(), "cgalr-top"));
    cgalr_sched_free(c);
    c = make(CGALR_METHOD_CGALR_TOP, "K=5", 10);
    assert_int_equal(cgalr_sched_load(c, buf, sz), CGALR_ESTATE);
    cgalr_sched_free(c);
    assert_int_equal(cgalr_sched_load(b, NULL, sz), CGALR_EINVAL);
    assert_int_equal(cgalr_sched_load(NULL, buf, sz), CGALR_EINVAL);
    /* a too small caller buffer */
    size_t small = sz - 1;
    assert_int_equal(cgalr_sched_save(a, buf, &small), CGALR_EINVAL);
    assert_int_equal(cgalr_sched_load(b, buf, sz), CGALR_OK);
    assert_true(cgalr_sched_rho(b) == cgalr_sched_rho(a));
    free(buf);
    cgalr_sched_free(a);
    cgalr_sched_free(b);
}

/* Mutations that keep the checksum valid must still be caught by the field checks, or load
 * into a state that is safe to use (ASan/UBSan watch this). */
static uint64_t fnv1a(const unsigned char *p, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 1099511628211ull;
    return h;
}

static void load_survives_mutations(void **state)
{
    (void)state;
    const cgalr_method_t methods[] = {CGALR_METHOD_CGALR_TOP, CGALR_METHOD_DOG, CGALR_METHOD_PLATEAU};
    cgalr_rng_t rng = cgalr_rng_init(23, CGALR_STREAM_TEST);
    for (int k = 0; k < 3; k++) {
        cgalr_sched_t *a = make(methods[k], "", 10);
        float x[6] = {1, 2, 3, 4, 5, 6};
        double rates[12 * 4];
        drive(a, 0, 12, x, rates);
        size_t sz;
        unsigned char *good = save(a, &sz);
        unsigned char *buf = malloc(sz);
        int accepted = 0;
        for (int trial = 0; trial < 1500; trial++) {
            memcpy(buf, good, sz);
            int flips = 1 + (int)cgalr_rng_below(&rng, 3);
            for (int f = 0; f < flips; f++) {
                size_t at = 8 + cgalr_rng_below(&rng, sz - 16); /* past magic/version, before the sum */
                buf[at] = (unsigned char)cgalr_rng_below(&rng, 256);
            }
            uint64_t sum = fnv1a(buf, sz - 8);
            memcpy(buf + sz - 8, &sum, 8);
            cgalr_sched_t *b = make(methods[k], "", 10);
            if (cgalr_sched_load(b, buf, sz) == CGALR_OK) {
                accepted++;
                const cgalr_sched_config_t *c = cgalr_sched_config(b);
                assert_true(cgalr_sched_rho(b) >= c->rho_min && cgalr_sched_rho(b) <= c->rho_max);
                float xb[6];
                memcpy(xb, x, sizeof xb);
                double rb[16 * 4];
                (void)cgalr_sched_lr(b, 0, 12.5);
                if (methods[k] != CGALR_METHOD_DOG)
                    drive(b, 12, 14, xb, rb);
            }
            cgalr_sched_free(b);
        }
        (void)accepted;
        free(buf);
        free(good);
        cgalr_sched_free(a);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(median_mad_known),
        cmocka_unit_test(z_finite_when_mad_zero),
        cmocka_unit_test(gate_table),
        cmocka_unit_test(controller_sequence),
        cmocka_unit_test(envelope_adversarial),
        cmocka_unit_test(nonfinite_never_in_history),
        cmocka_unit_test(guard_retries),
        cmocka_unit_test(epoch_end_nonfinite),
        cmocka_unit_test(warmup_and_epochs),
        cmocka_unit_test(dog_first_steps),
        cmocka_unit_test(options_parse),
        cmocka_unit_test(options_cross_checks),
        cmocka_unit_test(save_restore_continues),
        cmocka_unit_test(load_rejects_bad_states),
        cmocka_unit_test(load_survives_mutations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
