/* The library as a C user embeds it: only <cgalr.h> (every public header at once, so a name
 * clash between layers fails this build), a model from src/nn, a CG-ALR scheduler from src/ctrl
 * driven by connectomes of captured probe activations, in the user's own loop.
 * Checks: the optimiser kinds of nn and ctrl are distinct names with the expected values; every
 * rate lies inside the Robbins-Monro envelope band; the scheduler's distance d_t equals TOP
 * computed directly from the two connectomes; training on a separable problem reaches an
 * accuracy far above chance. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cgalr.h>

enum { NS = 256, F = 16, B = 32, NPROBE = 64, EPOCHS = 8 };

static void make_data(float *x, int32_t *y)
{
    cgalr_rng_t r = cgalr_rng_init(7, CGALR_STREAM_TEST);
    for (size_t i = 0; i < NS; i++) {
        y[i] = (int32_t)(i % 2);
        for (size_t j = 0; j < F; j++) {
            double shift = (j < 4) ? (y[i] ? 1.0 : -1.0) : 0.0;
            x[i * F + j] = (float)(cgalr_rng_normal(&r) + shift);
        }
    }
}

static double accuracy(cgalr_model_t *m, const float *x, const int32_t *y)
{
    cgalr_image_batch_t b = {.n = NS, .c = F, .h = 1, .w = 1, .x = x, .labels = y};
    cgalr_step_result_t res;
    assert_int_equal(cgalr_model_eval_images(m, &b, &res), CGALR_OK);
    assert_int_equal(res.n, NS);
    return (double)res.correct / (double)res.n;
}

static void test_optim_names(void **state)
{
    (void)state;
    assert_string_equal(cgalr_optim_kind_name(CGALR_OPTIM_SGD), "sgd");
    assert_string_equal(cgalr_optim_kind_name(CGALR_OPTIM_ADAMW), "adamw");
    assert_string_equal(cgalr_sched_optim_name(CGALR_SCHED_OPTIM_SGD_MOMENTUM), "sgd-momentum");
    assert_string_equal(cgalr_sched_optim_name(CGALR_SCHED_OPTIM_SGD), "sgd");
    assert_int_equal(cgalr_method_optimizer(CGALR_METHOD_CGALR_TOP), CGALR_SCHED_OPTIM_SGD_MOMENTUM);
    assert_int_equal(cgalr_optim_kind_parse("adam"), CGALR_OPTIM_ADAM);
}

static void test_user_loop(void **state)
{
    (void)state;
    float *x = malloc(NS * F * sizeof *x);
    int32_t *y = malloc(NS * sizeof *y);
    assert_non_null(x);
    assert_non_null(y);
    make_data(x, y);

    cgalr_model_config_t mc;
    cgalr_model_config_default(&mc, CGALR_MODEL_MLP);
    mc.in_c = F;
    mc.in_h = mc.in_w = 1;
    mc.n_classes = 2;
    mc.mlp_n_hidden = 2;
    mc.mlp_hidden[0] = 32;
    mc.mlp_hidden[1] = 16;
    mc.seed = 3;
    cgalr_model_t *model = NULL;
    assert_int_equal(cgalr_model_create(&mc, &model), CGALR_OK);
    double acc0 = accuracy(model, x, y);

    cgalr_optim_config_t oc;
    cgalr_optim_config_default(&oc, CGALR_OPTIM_SGD);
    cgalr_optim_t *opt = NULL;
    assert_int_equal(cgalr_optim_create(&oc, model, &opt), CGALR_OK);

    cgalr_sched_config_t sc;
    cgalr_sched_config_default(&sc, CGALR_METHOD_CGALR_TOP);
    sc.eta0 = 0.05;
    sc.epochs = EPOCHS;
    assert_int_equal(cgalr_sched_config_set(&sc, "K=3"), CGALR_OK);
    cgalr_sched_t *sched = NULL;
    assert_int_equal(cgalr_sched_create(&sc, &sched), CGALR_OK);
    const cgalr_sched_config_t *rc = cgalr_sched_config(sched);

    size_t p = 0;
    assert_int_equal(cgalr_model_probe_width(model, NULL, &p), CGALR_OK);
    assert_int_equal(p, 16);
    float *act = malloc(NPROBE * p * sizeof *act);
    double *conn = malloc(p * p * sizeof *conn);
    double *prev = malloc(p * p * sizeof *prev);
    assert_non_null(act);
    assert_non_null(conn);
    assert_non_null(prev);
    cgalr_image_batch_t probe = {.n = NPROBE, .c = F, .h = 1, .w = 1, .x = x, .labels = y};

    const long ipe = NS / B;
    long it = 0;
    int have_prev = 0, steps = 0;
    for (long e = 0; e < EPOCHS; e++) {
        double loss_sum = 0;
        for (long bi = 0; bi < ipe; bi++, it++) {
            double progress = (double)e + (double)bi / (double)ipe;
            double lr = cgalr_sched_lr(sched, it, progress);
            double a = cgalr_sched_envelope(sched, progress);
            assert_true(lr >= rc->rho_min * a * (1 - 1e-12));
            assert_true(lr <= rc->rho_max * a * (1 + 1e-12));
            cgalr_image_batch_t b = {.n = B, .c = F, .h = 1, .w = 1, .x = x + bi * B * F, .labels = y + bi * B};
            cgalr_step_result_t res;
            assert_int_equal(cgalr_model_train_images(model, &b, &res), CGALR_OK);
            assert_int_equal(cgalr_optim_step(opt, lr), CGALR_OK);
            loss_sum += res.loss;
        }
        assert_int_equal(cgalr_sched_epoch_end(sched, e, loss_sum / ipe, loss_sum / ipe), CGALR_OK);

        assert_int_equal(cgalr_model_capture_images(model, NULL, &probe, act), CGALR_OK);
        assert_int_equal(cgalr_topo_connectome_f(act, NPROBE, p, conn), CGALR_OK);
        cgalr_sched_trace_t rec;
        assert_int_equal(cgalr_sched_observe_connectome(sched, conn, p, (double)(e + 1), &rec), CGALR_OK);
        if (have_prev) {
            cgalr_barcode_t ba = {0}, bb = {0};
            double top = NAN;
            assert_int_equal(cgalr_topo_barcode(prev, p, &ba), CGALR_OK);
            assert_int_equal(cgalr_topo_barcode(conn, p, &bb), CGALR_OK);
            assert_int_equal(cgalr_topo_top(&ba, &bb, &top), CGALR_OK);
            assert_true(fabs(rec.d - top) <= 1e-12 * (1 + top));
            assert_int_equal(rec.t, ++steps);
            cgalr_barcode_free(&ba);
            cgalr_barcode_free(&bb);
        } else {
            assert_true(rec.flags & CGALR_TRACE_FIRST);
        }
        assert_true(rec.rho >= rc->rho_min && rec.rho <= rc->rho_max);
        memcpy(prev, conn, p * p * sizeof *conn);
        have_prev = 1;
    }
    double acc1 = accuracy(model, x, y);
    print_message("accuracy %.3f -> %.3f after %d controller steps, rho %.3f\n", acc0, acc1, steps, cgalr_sched_rho(sched));
    /* The classes differ by 2 in the mean of 4 of 16 features: a linear rule is right about 98%
     * of the time; an untrained network is near chance. */
    assert_true(acc1 >= 0.9);
    assert_true(acc1 > acc0);

    free(act);
    free(conn);
    free(prev);
    cgalr_sched_free(sched);
    cgalr_optim_free(opt);
    cgalr_model_free(model);
    free(x);
    free(y);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_optim_names),
        cmocka_unit_test(test_user_loop),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
