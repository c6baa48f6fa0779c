/* Finite-difference checks of the backward pass of every layer of the nn engine: small sequential
 * models (one per layer kind, through the test hook nn_model_create_seq) and the GIN model, each
 * compared entry by entry with central differences of the training loss. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cgalr/nn.h"
#include "cgalr/rng.h"
#include "nn/nn_internal.h"

/* Central differences of the batch loss for up to `per_tensor` entries of every tensor. */
static void fd_check(cgalr_model_t *m, const cgalr_image_batch_t *ib, const cgalr_graph_batch_t *gb,
                     size_t per_tensor, const char *what)
{
    cgalr_step_result_t r;
    cgalr_rng_t drop = m->drop_rng;
    assert_int_equal(ib ? cgalr_model_train_images(m, ib, &r) : cgalr_model_train_graphs(m, gb, &r), CGALR_OK);
    assert_true(isfinite(r.loss));
    size_t np = cgalr_model_num_params(m);
    float *an = malloc(np * sizeof(float));
    memcpy(an, cgalr_model_grads(m), np * sizeof(float));
    float *p = cgalr_model_params(m);
    float *bufs = malloc((cgalr_model_num_buffers(m) + 1) * sizeof(float));
    memcpy(bufs, cgalr_model_buffers(m), cgalr_model_num_buffers(m) * sizeof(float));
    cgalr_rng_t pick = cgalr_rng_init(1, CGALR_STREAM_TEST);
    double worst = 0.0, global = 0.0;
    for (size_t i = 0; i < np; i++)
        global = fmax(global, fabs(an[i]));
    /* floor: a gradient that is zero in exact arithmetic (bias before batch norm) compares noise */
    double floor_ = fmax(1e-3, 1e-2 * global);
    for (size_t t = 0; t < cgalr_model_num_tensors(m); t++) {
        cgalr_tensor_info_t ti;
        assert_int_equal(cgalr_model_tensor_info(m, t, &ti), CGALR_OK);
        double scale = 0.0;
        for (size_t i = 0; i < ti.numel; i++)
            scale = fmax(scale, fabs(an[ti.offset + i]));
        size_t k = ti.numel < per_tensor ? ti.numel : per_tensor;
        for (size_t q = 0; q < k; q++) {
            size_t i = ti.offset + (ti.numel <= per_tensor ? q : (size_t)cgalr_rng_below(&pick, ti.numel));
            float keep = p[i];
            const float h = 1e-3f;
            double l[2];
            for (int s = 0; s < 2; s++) {
                p[i] = keep + (s ? -h : h);
                m->drop_rng = drop; /* the same dropout masks on every evaluation */
                assert_int_equal(ib ? cgalr_model_train_images(m, ib, &r) : cgalr_model_train_graphs(m, gb, &r),
                                 CGALR_OK);
                l[s] = r.loss;
            }
            p[i] = keep;
            double fd = (l[0] - l[1]) / (double)((keep + h) - (keep - h));
            double err = fabs(fd - an[i]) / fmax(scale, floor_);
            if (err > worst)
                worst = err;
            if (err > 2e-2)
                fail_msg("%s: %s[%zu]: analytic %.6g, finite difference %.6g (scale %.3g)", what, ti.name,
                         i - ti.offset, (double)an[i], fd, scale);
        }
    }
    memcpy(cgalr_model_buffers(m), bufs, cgalr_model_num_buffers(m) * sizeof(float));
    print_message("  %-40s worst relative error %.2e\n", what, worst);
    free(an);
    free(bufs);
}

static void check_seq(const char *spec)
{
    cgalr_model_config_t c;
    cgalr_model_config_default(&c, CGALR_MODEL_MLP);
    c.in_c = 2;
    c.in_h = c.in_w = 6;
    c.n_classes = 3;
    c.seed = 5;
    cgalr_model_t *m = NULL;
    assert_int_equal(nn_model_create_seq(&c, spec, &m), CGALR_OK);
    size_t n = 4, d = c.in_c * c.in_h * c.in_w;
    float *x = malloc(n * d * sizeof(float));
    int32_t y[4] = {0, 2, 1, 2};
    cgalr_rng_t r = cgalr_rng_init(2, CGALR_STREAM_TEST);
    for (size_t i = 0; i < n * d; i++)
        x[i] = (float)cgalr_rng_normal(&r);
    cgalr_image_batch_t b = {n, c.in_c, c.in_h, c.in_w, x, y};
    fd_check(m, &b, NULL, 24, spec);
    free(x);
    cgalr_model_free(m);
}

static void test_linear_relu(void **s) { (void)s; check_seq("fc:6,relu"); }
static void test_conv_bias_lrelu(void **s) { (void)s; check_seq("conv:3:3:1:1:b,lrelu"); }
static void test_conv_stride_bn2d_maxpool(void **s) { (void)s; check_seq("conv:4:3:2:1,bn,relu,maxpool:2:2"); }
static void test_conv1x1_stride_avgpool(void **s) { (void)s; check_seq("conv:4:1:2:0:b,avgpool:3:3"); }
static void test_pointwise_gap(void **s) { (void)s; check_seq("conv:4:1:1:0:b,relu,gap"); }
static void test_residual_add(void **s) { (void)s; check_seq("conv:2:3:1:1:b,mark,conv:2:3:1:1,bn,add,relu"); }
static void test_shortcut_a(void **s) { (void)s; check_seq("conv:2:3:1:1:b,shortcut_a,lrelu"); }
static void test_bn1d_dropout(void **s) { (void)s; check_seq("fc:8,bn,relu,dropout:0.3,fc:5,lrelu"); }

static void test_gin(void **s)
{
    (void)s;
    cgalr_model_config_t c;
    cgalr_model_config_default(&c, CGALR_MODEL_GIN);
    c.node_features = 3;
    c.n_classes = 2;
    c.gin_hidden = 6;
    c.gin_layers = 2;
    c.gin_learn_eps = 1;
    c.gin_eps = 0.2f;
    c.dropout = 0.25f;
    c.seed = 3;
    cgalr_model_t *m = NULL;
    assert_int_equal(cgalr_model_create(&c, &m), CGALR_OK);
    /* two graphs: a triangle with a tail (0-1-2-0, 2-3) and a path 4-5-6 plus isolated node 7 */
    int32_t rp[9] = {0, 2, 4, 7, 8, 9, 11, 12, 12};
    int32_t col[12] = {1, 2, 0, 2, 0, 1, 3, 2, 5, 4, 6, 5};
    int32_t nptr[3] = {0, 4, 8};
    int32_t gon[8] = {0, 0, 0, 0, 1, 1, 1, 1};
    int32_t y[2] = {1, 0};
    float x[24];
    cgalr_rng_t r = cgalr_rng_init(4, CGALR_STREAM_TEST);
    for (int i = 0; i < 24; i++)
        x[i] = (float)cgalr_rng_normal(&r);
    cgalr_graph_batch_t b = {2, 8, 3, x, rp, col, nptr, gon, y};
    fd_check(m, NULL, &b, 24, "gin (learnable eps, dropout)");
    cgalr_model_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_linear_relu),          cmocka_unit_test(test_conv_bias_lrelu),
        cmocka_unit_test(test_conv_stride_bn2d_maxpool), cmocka_unit_test(test_conv1x1_stride_avgpool),
        cmocka_unit_test(test_pointwise_gap),        cmocka_unit_test(test_residual_add),
        cmocka_unit_test(test_shortcut_a),           cmocka_unit_test(test_bn1d_dropout),
        cmocka_unit_test(test_gin),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
