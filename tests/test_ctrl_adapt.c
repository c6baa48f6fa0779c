/* The methods that own the update (prodigy, dadapt-sgd, dadapt-adam, sf-sgd, sf-adamw): the method
 * list's facts, save/restore mid-run continuing bit-identically (Schedule-Free's y rebuilt from
 * its state), the guard's contract (a
 * non-finite input changes nothing), and bad option values rejected with a message naming them.
 * Agreement with the published algorithms is tests/test_ctrl_adapt_oracle.py. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cgalr/ctrl.h"
#include "cgalr/status.h"

static const cgalr_method_t adaptive[] = {CGALR_METHOD_PRODIGY, CGALR_METHOD_DADAPT_SGD, CGALR_METHOD_DADAPT_ADAM,
                                          CGALR_METHOD_SF_SGD, CGALR_METHOD_SF_ADAMW};
#define N_ADAPTIVE (sizeof adaptive / sizeof adaptive[0])
#define NP 37

static cgalr_sched_t *make(cgalr_method_t m)
{
    cgalr_sched_config_t cfg;
    cgalr_sched_config_default(&cfg, m);
    cfg.epochs = 4;
    cfg.iters_per_epoch = 10; /* Schedule-Free: 2 warm-up iterations */
    if (cgalr_method_facts(m) & CGALR_MF_HAS_LR)
        cfg.eta0 = 0.05;
    cgalr_sched_t *s = NULL;
    assert_int_equal(cgalr_sched_create(&cfg, &s), CGALR_OK);
    return s;
}

/* The gradient of a quadratic with a step-dependent wobble, at x. */
static void grad_at(const float *x, long k, float *g)
{
    for (int i = 0; i < NP; i++)
        g[i] = (float)((0.2 + 0.05 * i) * (x[i] - 1.0 - 0.1 * i) + 0.01 * sin(0.7 * (double)k + i));
}

static void facts(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_ADAPTIVE; i++) {
        unsigned f = cgalr_method_facts(adaptive[i]);
        assert_true(f & CGALR_MF_OWNS_UPDATE);
        assert_int_equal(cgalr_adapt_arrays(adaptive[i]) > 0, 1);
        assert_int_equal(cgalr_method_parse(cgalr_method_name(adaptive[i])), (int)adaptive[i]);
        /* parameter-free exactly when there is no learning rate to grid over */
        assert_int_equal(!!(f & CGALR_MF_PARAM_FREE), !(f & CGALR_MF_HAS_LR));
        assert_false(cgalr_method_is_cgalr(adaptive[i]));
    }
    assert_true(cgalr_method_facts(CGALR_METHOD_PRODIGY) & CGALR_MF_PARAM_FREE);
    assert_true(cgalr_method_facts(CGALR_METHOD_SF_SGD) & CGALR_MF_HAS_LR);
    assert_true(cgalr_method_facts(CGALR_METHOD_SF_ADAMW) & CGALR_MF_EVAL_X);
    assert_true(cgalr_method_facts(CGALR_METHOD_DOG) & CGALR_MF_PARAM_FREE);
    assert_true(cgalr_method_is_cgalr(CGALR_METHOD_CGALR_SWK));
    assert_int_equal(cgalr_adapt_arrays(CGALR_METHOD_COSINE), 0);
    assert_int_equal(cgalr_method_facts((cgalr_method_t)CGALR_METHOD_COUNT), 0);
    /* every name is in the list --help prints */
    for (int m = 0; m < CGALR_METHOD_COUNT; m++)
        assert_non_null(strstr(cgalr_method_list(), cgalr_method_name((cgalr_method_t)m)));
    /* the parameter-free methods' rate multiplier defaults to 1 */
    cgalr_sched_config_t cfg;
    cgalr_sched_config_default(&cfg, CGALR_METHOD_DADAPT_ADAM);
    assert_true(cfg.eta0 == 1 && cfg.d0 == 1e-6 && cfg.growth_rate == 0);
}

/* 40 steps straight against 17 steps, save, a fresh scheduler loading the state, 23 more. */
static void save_restore_continues(void **state)
{
    (void)state;
    for (size_t mi = 0; mi < N_ADAPTIVE; mi++) {
        cgalr_method_t m = adaptive[mi];
        float xa[NP], xb[NP], g[NP];
        for (int i = 0; i < NP; i++)
            xa[i] = xb[i] = (float)(0.3 * cos(i));
        cgalr_sched_t *a = make(m), *b = make(m);
        double lra = 0, lrb = 0;
        for (long k = 0; k < 40; k++) {
            grad_at(xa, k, g);
            assert_int_equal(cgalr_sched_update(a, xa, g, NP, &lra), CGALR_OK);
        }
        for (long k = 0; k < 17; k++) {
            grad_at(xb, k, g);
            assert_int_equal(cgalr_sched_update(b, xb, g, NP, &lrb), CGALR_OK);
        }
        size_t size = 0;
        assert_int_equal(cgalr_sched_save(b, NULL, &size), CGALR_OK);
        void *buf = malloc(size);
        assert_non_null(buf);
        assert_int_equal(cgalr_sched_save(b, buf, &size), CGALR_OK);
        cgalr_sched_free(b);
        b = make(m);
        assert_int_equal(cgalr_sched_load(b, buf, size), CGALR_OK);
        /* a corrupt byte in the arrays is caught by the checksum */
        ((unsigned char *)buf)[size / 2] ^= 0x40;
        cgalr_sched_t *c = make(m);
        assert_int_not_equal(cgalr_sched_load(c, buf, size), CGALR_OK);
        cgalr_sched_free(c);
        free(buf);
        for (long k = 17; k < 40; k++) {
            grad_at(xb, k, g);
            assert_int_equal(cgalr_sched_update(b, xb, g, NP, &lrb), CGALR_OK);
        }
        assert_memory_equal(xa, xb, sizeof xa);
        assert_memory_equal(&lra, &lrb, sizeof lra);
        double da = cgalr_sched_d(a), db = cgalr_sched_d(b);
        assert_memory_equal(&da, &db, sizeof da);
        size_t na = 0, nb = 0;
        const float *ea = cgalr_sched_eval_params(a, &na), *eb = cgalr_sched_eval_params(b, &nb);
        assert_int_equal(na, nb);
        if (cgalr_method_facts(m) & CGALR_MF_EVAL_X) {
            assert_int_equal(na, NP);
            assert_memory_equal(ea, eb, NP * sizeof *ea);
            assert_memory_not_equal(ea, xa, NP * sizeof *ea); /* x is not y */
            /* y rebuilt from the state (what a checkpoint holding x needs) is the step's y */
            float y[NP];
            assert_int_equal(cgalr_sched_train_params(b, y, NP), CGALR_OK);
            assert_memory_equal(y, xb, sizeof y);
            assert_int_equal(cgalr_sched_train_params(b, y, NP - 1), CGALR_EINVAL);
        } else {
            assert_null(ea);
        }
        if (cgalr_method_facts(m) & CGALR_MF_D)
            assert_true(da > 1e-6); /* d moved from d0 */
        else
            assert_true(isnan(da));
        /* a state from another method is refused with a message */
        size = 0;
        assert_int_equal(cgalr_sched_save(a, NULL, &size), CGALR_OK);
        buf = malloc(size);
        assert_int_equal(cgalr_sched_save(a, buf, &size), CGALR_OK);
        cgalr_sched_t *other = make(adaptive[(mi + 1) % N_ADAPTIVE]);
        assert_int_equal(cgalr_sched_load(other, buf, size), CGALR_ESTATE);
        assert_non_null(strstr(cgalr_last_error(), cgalr_method_name(m)));
        cgalr_sched_free(other);
        free(buf);
        cgalr_sched_free(a);
        cgalr_sched_free(b);
    }
}

static void nonfinite_changes_nothing(void **state)
{
    (void)state;
    for (size_t mi = 0; mi < N_ADAPTIVE; mi++) {
        cgalr_sched_t *s = make(adaptive[mi]);
        float x[NP], g[NP];
        for (int i = 0; i < NP; i++)
            x[i] = (float)i;
        for (long k = 0; k < 3; k++) {
            grad_at(x, k, g);
            assert_int_equal(cgalr_sched_update(s, x, g, NP, NULL), CGALR_OK);
        }
        size_t s0 = 0;
        cgalr_sched_save(s, NULL, &s0);
        unsigned char *before = malloc(s0), *after = malloc(s0);
        cgalr_sched_save(s, before, &s0);
        float x0[NP];
        memcpy(x0, x, sizeof x);
        g[5] = NAN;
        assert_int_equal(cgalr_sched_update(s, x, g, NP, NULL), CGALR_ENONFINITE);
        assert_non_null(strstr(cgalr_last_error(), "gradient 5"));
        assert_memory_equal(x, x0, sizeof x);
        cgalr_sched_save(s, after, &s0);
        assert_memory_equal(before, after, s0);
        /* a different parameter count is refused */
        grad_at(x, 3, g);
        assert_int_equal(cgalr_sched_update(s, x, g, NP - 1, NULL), CGALR_EINVAL);
        free(before);
        free(after);
        cgalr_sched_free(s);
    }
    /* a method that does not own the update */
    cgalr_sched_t *s = make(CGALR_METHOD_COSINE);
    float x[NP] = {0}, g[NP] = {0};
    assert_int_equal(cgalr_sched_update(s, x, g, NP, NULL), CGALR_ESTATE);
    assert_non_null(strstr(cgalr_last_error(), "cosine"));
    cgalr_sched_free(s);
}

static void bad_options(void **state)
{
    (void)state;
    static const char *const bad[] = {"d0=0", "d0=-1", "beta2=1", "beta1=-0.1", "eps=0", "d_coef=0",
                                      "sf_warmup=1.5", "sf_weight_power=-1", "beta3=1", "growth_rate=-2",
                                      "d0=abc", "sf_warmup="};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cgalr_sched_config_t cfg;
        cgalr_sched_config_default(&cfg, CGALR_METHOD_PRODIGY);
        cgalr_sched_config_t keep = cfg;
        assert_int_equal(cgalr_sched_config_set(&cfg, bad[i]), CGALR_EINVAL);
        char name[32];
        size_t n = strcspn(bad[i], "=");
        memcpy(name, bad[i], n);
        name[n] = '\0';
        assert_non_null(strstr(cgalr_last_error(), name));
        assert_memory_equal(&cfg, &keep, sizeof cfg);
    }
    /* cross-option rules at validation */
    cgalr_sched_config_t cfg;
    cgalr_sched_config_default(&cfg, CGALR_METHOD_DADAPT_SGD);
    assert_int_equal(cgalr_sched_config_set(&cfg, "growth_rate=0.5"), CGALR_OK);
    assert_int_equal(cgalr_sched_config_validate(&cfg), CGALR_EINVAL);
    assert_non_null(strstr(cgalr_last_error(), "growth_rate"));
    cgalr_sched_config_default(&cfg, CGALR_METHOD_SF_SGD);
    assert_int_equal(cgalr_sched_config_set(&cfg, "momentum=0"), CGALR_OK);
    cgalr_sched_t *s = NULL;
    assert_int_equal(cgalr_sched_create(&cfg, &s), CGALR_EINVAL);
    assert_null(s);
    assert_non_null(strstr(cgalr_last_error(), "momentum"));
    /* the generic rate warm-up does not apply to the methods that take their own steps */
    cgalr_sched_config_default(&cfg, CGALR_METHOD_SF_ADAMW);
    assert_int_equal(cgalr_sched_config_set(&cfg, "warmup=10"), CGALR_OK);
    assert_int_equal(cgalr_sched_config_validate(&cfg), CGALR_EINVAL);
    assert_non_null(strstr(cgalr_last_error(), "sf_warmup"));
    cgalr_sched_config_default(&cfg, CGALR_METHOD_DOG);
    assert_int_equal(cgalr_sched_config_set(&cfg, "warmup=10"), CGALR_OK);
    assert_int_equal(cgalr_sched_config_validate(&cfg), CGALR_EINVAL);
    /* the free function checks its own arguments */
    cgalr_adapt_state_t st;
    cgalr_sched_config_default(&cfg, CGALR_METHOD_PRODIGY);
    cgalr_adapt_init(&cfg, &st);
    float x[4] = {0}, g[4] = {0}, arr[16] = {0};
    assert_int_equal(cgalr_adapt_step(&cfg, &st, x, g, arr, 4, -1, 0), CGALR_EINVAL);
    assert_int_equal(cgalr_adapt_step(&cfg, &st, x, g, arr, 4, 1, -5), CGALR_EINVAL);
    assert_int_equal(cgalr_adapt_step(&cfg, &st, NULL, g, arr, 4, 1, 0), CGALR_EINVAL);
    assert_int_equal(st.k, 0);
}

/* growth_rate bounds each step's growth of d; d never falls. */
static void growth_bounded(void **state)
{
    (void)state;
    const cgalr_method_t ms[] = {CGALR_METHOD_PRODIGY, CGALR_METHOD_DADAPT_SGD, CGALR_METHOD_DADAPT_ADAM};
    for (size_t mi = 0; mi < 3; mi++) {
        cgalr_sched_config_t cfg;
        cgalr_sched_config_default(&cfg, ms[mi]);
        assert_int_equal(cgalr_sched_config_set(&cfg, "growth_rate=1.02"), CGALR_OK);
        cgalr_sched_t *s = NULL;
        assert_int_equal(cgalr_sched_create(&cfg, &s), CGALR_OK);
        float x[NP], g[NP];
        for (int i = 0; i < NP; i++)
            x[i] = 0;
        double d = cgalr_sched_d(s);
        int grew = 0;
        for (long k = 0; k < 60; k++) {
            grad_at(x, k, g);
            assert_int_equal(cgalr_sched_update(s, x, g, NP, NULL), CGALR_OK);
            double dn = cgalr_sched_d(s);
            assert_true(dn >= d && dn <= d * 1.02 * (1 + 1e-12));
            grew += dn > d;
            d = dn;
        }
        assert_true(grew > 10);
        cgalr_sched_free(s);
    }
}

/* DoG's free functions over caller arrays and the scheduler's DoG are one computation. */
static void dog_free_functions(void **state)
{
    (void)state;
    cgalr_sched_config_t cfg;
    cgalr_sched_config_default(&cfg, CGALR_METHOD_DOG);
    cgalr_sched_t *s = NULL;
    assert_int_equal(cgalr_sched_create(&cfg, &s), CGALR_OK);
    cgalr_dog_state_t st;
    cgalr_dog_init(&st);
    float xa[NP], xb[NP], g[NP], x0[NP], avg[NP];
    for (int i = 0; i < NP; i++)
        xa[i] = xb[i] = (float)sin(i);
    assert_int_equal(cgalr_dog_average(&cfg, &st, xb, avg, NP), CGALR_ESTATE); /* x_0 not known yet */
    for (long k = 0; k < 30; k++) {
        double ea = 0, eb = 0;
        grad_at(xa, k, g);
        assert_int_equal(cgalr_sched_dog_step(s, xa, g, NP, &ea), CGALR_OK);
        assert_int_equal(cgalr_dog_step(&cfg, &st, xb, g, x0, avg, NP, &eb), CGALR_OK);
        assert_memory_equal(&ea, &eb, sizeof ea);
        for (int i = 0; i < NP; i++) {
            xa[i] -= (float)ea * g[i];
            xb[i] -= (float)eb * g[i];
        }
        assert_int_equal(cgalr_sched_dog_average(s, xa, NP), CGALR_OK);
        assert_int_equal(cgalr_dog_average(&cfg, &st, xb, avg, NP), CGALR_OK);
    }
    size_t n = 0;
    assert_memory_equal(cgalr_sched_dog_averaged(s, &n), avg, sizeof avg);
    assert_int_equal(n, NP);
    assert_int_equal(cgalr_dog_step(&cfg, &st, xb, NULL, x0, avg, NP, NULL), CGALR_EINVAL);
    cgalr_sched_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(facts),
        cmocka_unit_test(save_restore_continues),
        cmocka_unit_test(nonfinite_changes_nothing),
        cmocka_unit_test(bad_options),
        cmocka_unit_test(growth_bounded),
        cmocka_unit_test(dog_free_functions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
