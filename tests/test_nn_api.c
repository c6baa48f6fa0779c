/* The nn engine's contracts: configuration and batch validation, non-finite detection,
 * determinism, checkpoints (round trip, truncated, corrupted, mismatched), snapshots, and
 * activation capture checked against a hand computation. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "cgalr/nn.h"
#include "cgalr/rng.h"
#include "nn/nn_internal.h"

#define N 6
#define D 20
#define K 4

static float X[N * D];
static int32_t Y[N] = {0, 1, 2, 3, 1, 2};

static void fill(void)
{
    cgalr_rng_t r = cgalr_rng_init(9, CGALR_STREAM_TEST);
    for (int i = 0; i < N * D; i++)
        X[i] = (float)cgalr_rng_normal(&r);
}

static cgalr_image_batch_t batch(void)
{
    cgalr_image_batch_t b = {N, D, 1, 1, X, Y};
    return b;
}

static cgalr_model_t *small_mlp(uint64_t seed, size_t h1)
{
    cgalr_model_config_t c;
    cgalr_model_config_default(&c, CGALR_MODEL_MLP);
    c.in_c = D;
    c.in_h = c.in_w = 1;
    c.n_classes = K;
    c.mlp_hidden[0] = h1;
    c.mlp_hidden[1] = 7;
    c.seed = seed;
    cgalr_model_t *m = NULL;
    assert_int_equal(cgalr_model_create(&c, &m), CGALR_OK);
    return m;
}

/* A gin on 2 node features and 2 classes, and a batch of two graphs: 0-1 joined by an edge, and 2
 * alone. The arrays live in the struct so a test can damage one and restore it. */
typedef struct two_graphs {
    float x[6];
    int32_t row_ptr[4], col[2], node_ptr[3], graph_of_node[3], y[2];
    cgalr_graph_batch_t g;
} two_graphs_t;

static cgalr_model_t *tiny_gin(two_graphs_t *t)
{
    const two_graphs_t init = {{1, 0, 0, 1, 1, 1}, {0, 1, 2, 2}, {1, 0}, {0, 2, 3}, {0, 0, 1}, {0, 1}, {0}};
    *t = init;
    cgalr_graph_batch_t g = {2, 3, 2, t->x, t->row_ptr, t->col, t->node_ptr, t->graph_of_node, t->y};
    t->g = g;
    cgalr_model_config_t c;
    cgalr_model_config_default(&c, CGALR_MODEL_GIN);
    c.node_features = 2;
    c.n_classes = 2;
    cgalr_model_t *m = NULL;
    assert_int_equal(cgalr_model_create(&c, &m), CGALR_OK);
    return m;
}

static void test_config_errors(void **s)
{
    (void)s;
    cgalr_model_config_t c;
    cgalr_model_t *m = (cgalr_model_t *)1;
    assert_int_equal(cgalr_model_create(NULL, &m), CGALR_EINVAL);
    assert_null(m);
    cgalr_model_config_default(&c, CGALR_MODEL_MLP);
    c.n_classes = 1;
    assert_int_equal(cgalr_model_create(&c, &m), CGALR_EINVAL);
    assert_non_null(strstr(cgalr_last_error(), "classes"));
    cgalr_model_config_default(&c, CGALR_MODEL_MLP);
    c.threads = 0;
    assert_int_equal(cgalr_model_create(&c, &m), CGALR_EINVAL);
    cgalr_model_config_default(&c, CGALR_MODEL_MLP);
    c.mlp_n_hidden = 99;
    assert_int_equal(cgalr_model_create(&c, &m), CGALR_EINVAL);
    cgalr_model_config_default(&c, CGALR_MODEL_MLP);
    c.mlp_hidden[0] = 0;
    assert_int_equal(cgalr_model_create(&c, &m), CGALR_EINVAL);
    cgalr_model_config_default(&c, CGALR_MODEL_CNN);
    c.in_h = c.in_w = 4;
    assert_int_equal(cgalr_model_create(&c, &m), CGALR_EINVAL);
    assert_non_null(strstr(cgalr_last_error(), "too small"));
    cgalr_model_config_default(&c, CGALR_MODEL_GIN);
    c.gin_layers = 0;
    assert_int_equal(cgalr_model_create(&c, &m), CGALR_EINVAL);
    cgalr_model_config_default(&c, CGALR_MODEL_GIN);
    c.dropout = 1.0f;
    assert_int_equal(cgalr_model_create(&c, &m), CGALR_EINVAL);
    cgalr_model_config_default(&c, CGALR_MODEL_GIN);
    c.gin_eps = NAN;
    assert_int_equal(cgalr_model_create(&c, &m), CGALR_EINVAL);
    cgalr_model_config_default(&c, CGALR_MODEL_MLP);
    c.kind = (cgalr_model_kind_t)17;
    assert_int_equal(cgalr_model_create(&c, &m), CGALR_EINVAL);
    assert_int_equal(cgalr_model_kind_parse("resnet20"), CGALR_MODEL_RESNET20);
    assert_int_equal(cgalr_model_kind_parse("vgg"), -1);
    assert_int_equal(cgalr_model_kind_parse(NULL), -1);
    assert_string_equal(cgalr_model_kind_name(CGALR_MODEL_GIN), "gin");
    assert_int_equal(cgalr_optim_kind_parse("adamw"), CGALR_OPTIM_ADAMW);
    assert_int_equal(cgalr_optim_kind_parse("lion"), -1);
    cgalr_model_free(NULL);
    cgalr_optim_free(NULL);
    cgalr_nn_snapshot_free(NULL);
}

static void test_default_models(void **s)
{
    (void)s;
    /* parameter counts of the reference PyTorch definitions (torch sum of numel) */
    struct {
        cgalr_model_kind_t kind;
        size_t c, h, w, classes, params;
    } cases[] = {
        {CGALR_MODEL_MLP, 1, 28, 28, 10, 784 * 256 + 256 + 256 * 128 + 128 + 128 * 10 + 10},
        {CGALR_MODEL_RESNET20, 3, 32, 32, 10, 269722},
        {CGALR_MODEL_RESNET18, 3, 32, 32, 10, 11173962},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cgalr_model_config_t c;
        cgalr_model_config_default(&c, cases[i].kind);
        c.in_c = cases[i].c;
        c.in_h = cases[i].h;
        c.in_w = cases[i].w;
        c.n_classes = cases[i].classes;
        cgalr_model_t *m = NULL;
        assert_int_equal(cgalr_model_create(&c, &m), CGALR_OK);
        assert_int_equal(cgalr_model_num_params(m), cases[i].params);
        assert_int_equal(cgalr_model_check_finite(m), CGALR_OK);
        cgalr_model_free(m);
    }
    cgalr_model_config_t c;
    cgalr_model_config_default(&c, CGALR_MODEL_GIN);
    c.node_features = 7;
    c.n_classes = 2;
    cgalr_model_t *m = NULL;
    assert_int_equal(cgalr_model_create(&c, &m), CGALR_OK);
    assert_string_equal(cgalr_model_default_probe(m), "gin5");
    assert_int_equal(cgalr_model_num_probes(m), 6);
    const char *name;
    size_t p;
    assert_int_equal(cgalr_model_probe_info(m, 0, &name, &p), CGALR_OK);
    assert_string_equal(name, "input");
    assert_int_equal(p, 7);
    assert_int_equal(cgalr_model_probe_info(m, 6, &name, &p), CGALR_EINVAL);
    cgalr_model_free(m);
}

static void test_init_distribution(void **s)
{
    (void)s;
    /* PyTorch default: weights and biases U(-1/sqrt(fan_in), 1/sqrt(fan_in)); fan_in = 20 */
    cgalr_model_t *m = small_mlp(1, 500);
    cgalr_tensor_info_t ti;
    assert_int_equal(cgalr_model_tensor_info(m, 0, &ti), CGALR_OK);
    assert_string_equal(ti.name, "fc1.weight");
    assert_int_equal(ti.shape[0], 500);
    assert_int_equal(ti.shape[1], D);
    const float *p = cgalr_model_params(m) + ti.offset;
    double bound = 1.0 / sqrt((double)D), mx = 0.0, var = 0.0;
    for (size_t i = 0; i < ti.numel; i++) {
        mx = fmax(mx, fabs(p[i]));
        var += (double)p[i] * p[i];
    }
    var /= (double)ti.numel;
    assert_true(mx <= bound);
    assert_true(mx > 0.99 * bound);
    /* variance of U(-b, b) is b^2 / 3; 10000 draws: within 5% */
    assert_true(fabs(var / (bound * bound / 3.0) - 1.0) < 0.05);
    cgalr_model_free(m);
}

static void test_batch_errors(void **s)
{
    (void)s;
    fill();
    cgalr_model_t *m = small_mlp(1, 8);
    cgalr_step_result_t r;
    cgalr_image_batch_t b = batch();
    assert_int_equal(cgalr_model_train_images(m, NULL, &r), CGALR_EINVAL);
    assert_int_equal(cgalr_model_train_images(NULL, &b, &r), CGALR_EINVAL);
    b.n = 0;
    assert_int_equal(cgalr_model_train_images(m, &b, &r), CGALR_EINVAL);
    b = batch();
    b.c = D + 1;
    assert_int_equal(cgalr_model_train_images(m, &b, &r), CGALR_EINVAL);
    assert_non_null(strstr(cgalr_last_error(), "expects"));
    b = batch();
    b.labels = NULL;
    assert_int_equal(cgalr_model_train_images(m, &b, &r), CGALR_EINVAL);
    assert_int_equal(cgalr_model_eval_images(m, &b, &r), CGALR_OK); /* labels optional */
    int32_t bad[N] = {0, 1, 2, 3, 4, 0};
    b = batch();
    b.labels = bad;
    assert_int_equal(cgalr_model_train_images(m, &b, &r), CGALR_EINVAL);
    assert_non_null(strstr(cgalr_last_error(), "label of sample 4"));
    cgalr_graph_batch_t gb;
    memset(&gb, 0, sizeof gb);
    assert_int_equal(cgalr_model_train_graphs(m, &gb, &r), CGALR_EINVAL);
    cgalr_model_free(m);

    two_graphs_t t;
    m = tiny_gin(&t);
    cgalr_graph_batch_t g = t.g;
    assert_int_equal(cgalr_model_train_graphs(m, &g, &r), CGALR_OK);
    assert_int_equal(r.n, 2);
    assert_int_equal(cgalr_model_train_images(m, &b, &r), CGALR_EINVAL);
    t.col[1] = 7;
    assert_int_equal(cgalr_model_train_graphs(m, &g, &r), CGALR_EINVAL);
    assert_non_null(strstr(cgalr_last_error(), "edge 1"));
    t.col[1] = 0;
    t.graph_of_node[2] = 5;
    assert_int_equal(cgalr_model_eval_graphs(m, &g, &r), CGALR_EINVAL);
    t.graph_of_node[2] = 1;
    g.feat_dim = 3;
    assert_int_equal(cgalr_model_eval_graphs(m, &g, &r), CGALR_EINVAL);
    g.feat_dim = 2;
    g.row_ptr = NULL;
    assert_int_equal(cgalr_model_eval_graphs(m, &g, &r), CGALR_EINVAL);
    cgalr_model_free(m);
}

static void test_nonfinite(void **s)
{
    (void)s;
    fill();
    cgalr_model_t *m = small_mlp(2, 8);
    cgalr_step_result_t r;
    cgalr_image_batch_t b = batch();
    float saved = X[D * 2 + 3];
    X[D * 2 + 3] = NAN; /* sample 2 */
    assert_int_equal(cgalr_model_eval_images(m, &b, &r), CGALR_OK);
    assert_int_equal(r.nonfinite, 1);
    assert_true(isfinite(r.loss));
    assert_true(r.correct <= N - 1);
    assert_int_equal(cgalr_model_train_images(m, &b, &r), CGALR_OK);
    assert_false(isfinite(r.loss));
    assert_int_equal(r.nonfinite, 1);
    cgalr_optim_config_t oc;
    cgalr_optim_config_default(&oc, CGALR_OPTIM_SGD);
    cgalr_optim_t *o = NULL;
    assert_int_equal(cgalr_optim_create(&oc, m, &o), CGALR_OK);
    assert_int_equal(cgalr_optim_step(o, -1.0), CGALR_EINVAL);
    assert_int_equal(cgalr_optim_step(o, NAN), CGALR_EINVAL);
    assert_int_equal(cgalr_optim_step(o, 0.1), CGALR_OK);
    assert_int_equal(cgalr_model_check_finite(m), CGALR_ENONFINITE);
    assert_non_null(strstr(cgalr_last_error(), "fc1.weight"));
    X[D * 2 + 3] = saved;
    cgalr_optim_free(o);
    oc.nesterov = 1;
    oc.momentum = 0.0;
    assert_int_equal(cgalr_optim_create(&oc, m, &o), CGALR_EINVAL);
    assert_null(o);
    cgalr_model_free(m);
}

/* Train `steps` SGD steps and return a copy of the parameters. */
static float *train_copy(cgalr_model_t *m, cgalr_optim_t *o, int steps)
{
    cgalr_image_batch_t b = batch();
    cgalr_step_result_t r;
    for (int i = 0; i < steps; i++) {
        assert_int_equal(cgalr_model_train_images(m, &b, &r), CGALR_OK);
        assert_int_equal(cgalr_optim_step(o, 0.05), CGALR_OK);
    }
    float *p = malloc(cgalr_model_num_params(m) * sizeof(float));
    memcpy(p, cgalr_model_params(m), cgalr_model_num_params(m) * sizeof(float));
    return p;
}

static void test_determinism_and_snapshot(void **s)
{
    (void)s;
    fill();
    cgalr_optim_config_t oc;
    cgalr_optim_config_default(&oc, CGALR_OPTIM_ADAMW);
    cgalr_model_t *a = small_mlp(3, 9), *b = small_mlp(3, 9), *c = small_mlp(4, 9);
    size_t np = cgalr_model_num_params(a);
    assert_memory_equal(cgalr_model_params(a), cgalr_model_params(b), np * sizeof(float));
    assert_memory_not_equal(cgalr_model_params(a), cgalr_model_params(c), np * sizeof(float));
    cgalr_optim_t *oa, *ob;
    assert_int_equal(cgalr_optim_create(&oc, a, &oa), CGALR_OK);
    assert_int_equal(cgalr_optim_create(&oc, b, &ob), CGALR_OK);
    float *pa = train_copy(a, oa, 3), *pb = train_copy(b, ob, 3);
    assert_memory_equal(pa, pb, np * sizeof(float));
    /* snapshot, diverge, restore: continuing gives the same bits as the undisturbed twin */
    cgalr_nn_snapshot_t *snap = NULL;
    assert_int_equal(cgalr_nn_snapshot_take(a, oa, &snap), CGALR_OK);
    free(train_copy(a, oa, 2));
    cgalr_model_params(a)[0] = NAN;
    assert_int_equal(cgalr_nn_snapshot_restore(snap, a, oa), CGALR_OK);
    assert_int_equal(cgalr_optim_steps(oa), 3);
    float *pa2 = train_copy(a, oa, 2), *pb2 = train_copy(b, ob, 2);
    assert_memory_equal(pa2, pb2, np * sizeof(float));
    assert_int_equal(cgalr_nn_snapshot_update(snap, a, oa), CGALR_OK);
    assert_int_equal(cgalr_nn_snapshot_restore(snap, c, NULL), CGALR_OK); /* same layout, other seed */
    assert_memory_equal(cgalr_model_params(c), pa2, np * sizeof(float));
    cgalr_model_t *d = small_mlp(3, 10);
    assert_int_equal(cgalr_nn_snapshot_restore(snap, d, NULL), CGALR_ESTATE);
    cgalr_model_free(d);
    cgalr_nn_snapshot_free(snap);
    free(pa);
    free(pb);
    free(pa2);
    free(pb2);
    cgalr_optim_free(oa);
    cgalr_optim_free(ob);
    cgalr_model_free(a);
    cgalr_model_free(b);
    cgalr_model_free(c);
}

static char *tmp_path(const char *name)
{
    static char buf[4][512];
    static int k;
    const char *dir = getenv("CGALR_TMP");
    char *p = buf[k++ % 4];
    snprintf(p, 512, "%s/nn_api_%ld_%s", dir && *dir ? dir : "/tmp", (long)getpid(), name);
    return p;
}

static void test_checkpoint(void **s)
{
    (void)s;
    fill();
    cgalr_optim_config_t oc;
    cgalr_optim_config_default(&oc, CGALR_OPTIM_SGD);
    cgalr_model_t *a = small_mlp(5, 9), *b = small_mlp(6, 9);
    cgalr_optim_t *oa, *ob;
    assert_int_equal(cgalr_optim_create(&oc, a, &oa), CGALR_OK);
    assert_int_equal(cgalr_optim_create(&oc, b, &ob), CGALR_OK);
    free(train_copy(a, oa, 3));
    const char *path = tmp_path("ckpt.bin");
    const char extra[] = "scheduler state";
    assert_int_equal(cgalr_nn_save(path, a, oa, extra, sizeof extra), CGALR_OK);
    void *blob = NULL;
    size_t bs = 0;
    assert_int_equal(cgalr_nn_load(path, b, ob, &blob, &bs), CGALR_OK);
    assert_int_equal(bs, sizeof extra);
    assert_memory_equal(blob, extra, sizeof extra);
    free(blob);
    size_t np = cgalr_model_num_params(a);
    float *pa = train_copy(a, oa, 2), *pb = train_copy(b, ob, 2);
    assert_memory_equal(pa, pb, np * sizeof(float)); /* momentum buffers came back too */

    /* read the file, then write damaged copies */
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *data = malloc((size_t)len);
    assert_int_equal(fread(data, 1, (size_t)len, f), (size_t)len);
    fclose(f);
    const char *bad = tmp_path("bad.bin");
    float *before = malloc(np * sizeof(float));
    memcpy(before, cgalr_model_params(b), np * sizeof(float));
    long cuts[3] = {len - 1, 40, 0};
    for (int i = 0; i < 3; i++) {
        f = fopen(bad, "wb");
        fwrite(data, 1, (size_t)cuts[i], f);
        fclose(f);
        assert_int_equal(cgalr_nn_load(bad, b, ob, NULL, NULL), CGALR_EFORMAT);
    }
    data[len / 2] ^= 0x10;
    f = fopen(bad, "wb");
    fwrite(data, 1, (size_t)len, f);
    fclose(f);
    assert_int_equal(cgalr_nn_load(bad, b, ob, NULL, NULL), CGALR_EFORMAT);
    assert_non_null(strstr(cgalr_last_error(), "checksum"));
    data[len / 2] ^= 0x10;
    data[0] = 'X';
    f = fopen(bad, "wb");
    fwrite(data, 1, (size_t)len, f);
    fclose(f);
    assert_int_equal(cgalr_nn_load(bad, b, ob, NULL, NULL), CGALR_EFORMAT);
    assert_memory_equal(before, cgalr_model_params(b), np * sizeof(float)); /* untouched */
    assert_int_equal(cgalr_nn_load(tmp_path("missing.bin"), b, ob, NULL, NULL), CGALR_EIO);

    /* other architecture, other optimiser */
    cgalr_model_t *c = small_mlp(5, 10);
    assert_int_equal(cgalr_nn_load(path, c, NULL, NULL, NULL), CGALR_ESTATE);
    cgalr_optim_config_t ac;
    cgalr_optim_config_default(&ac, CGALR_OPTIM_ADAM);
    cgalr_optim_t *oc2;
    assert_int_equal(cgalr_optim_create(&ac, b, &oc2), CGALR_OK);
    assert_int_equal(cgalr_nn_load(path, b, oc2, NULL, NULL), CGALR_ESTATE);
    assert_int_equal(cgalr_nn_load(path, b, NULL, NULL, NULL), CGALR_OK); /* model only */
    assert_int_equal(cgalr_nn_save(path, b, oc2, NULL, 5), CGALR_EINVAL);
    cgalr_optim_free(oc2);
    remove(path);
    remove(bad);
    free(data);
    free(before);
    free(pa);
    free(pb);
    cgalr_optim_free(oa);
    cgalr_optim_free(ob);
    cgalr_model_free(a);
    cgalr_model_free(b);
    cgalr_model_free(c);
}

static void test_capture(void **s)
{
    (void)s;
    fill();
    cgalr_model_t *m = small_mlp(7, 9);
    size_t p;
    assert_int_equal(cgalr_model_probe_width(m, NULL, &p), CGALR_OK);
    assert_int_equal(p, 7);
    assert_string_equal(cgalr_model_default_probe(m), "fc2");
    assert_int_equal(cgalr_model_probe_width(m, "fc1,fc2", &p), CGALR_OK);
    assert_int_equal(p, 16);
    assert_int_equal(cgalr_model_probe_width(m, "fc9", &p), CGALR_EINVAL);
    assert_non_null(strstr(cgalr_last_error(), "fc1, fc2"));
    float out[N * 16];
    cgalr_image_batch_t b = batch();
    assert_int_equal(cgalr_model_capture_images(m, "fc1,fc2", &b, out), CGALR_OK);
    /* hand computation of fc1 = relu(W1 x + b1) */
    const float *W = cgalr_model_params(m), *bias = W + 9 * D;
    for (int i = 0; i < N; i++)
        for (int j = 0; j < 9; j++) {
            double z = bias[j];
            for (int k = 0; k < D; k++)
                z += (double)W[j * D + k] * X[i * D + k];
            assert_float_equal(out[i * 16 + j], z > 0 ? z : 0.0, 1e-5);
        }
    /* fc2 columns equal the default capture */
    float out2[N * 7];
    assert_int_equal(cgalr_model_capture_images(m, "", &b, out2), CGALR_OK);
    for (int i = 0; i < N; i++)
        for (int j = 0; j < 7; j++)
            assert_float_equal(out[i * 16 + 9 + j], out2[i * 7 + j], 0.0);
    assert_int_equal(cgalr_model_capture_images(m, NULL, &b, NULL), CGALR_EINVAL);
    cgalr_model_free(m);

    /* gin: capture runs in inference mode and leaves the dropout stream and statistics alone */
    two_graphs_t t;
    m = tiny_gin(&t);
    cgalr_graph_batch_t g = t.g;
    cgalr_rng_t before = m->drop_rng;
    float *bufs = malloc(cgalr_model_num_buffers(m) * sizeof(float));
    memcpy(bufs, cgalr_model_buffers(m), cgalr_model_num_buffers(m) * sizeof(float));
    float emb[2 * 64], inp[2 * 2];
    assert_int_equal(cgalr_model_capture_graphs(m, NULL, &g, emb), CGALR_OK);
    assert_int_equal(cgalr_model_capture_graphs(m, "input", &g, inp), CGALR_OK);
    /* the input probe is the sum of each graph's node features */
    assert_float_equal(inp[0], 1.0, 0.0);
    assert_float_equal(inp[1], 1.0, 0.0);
    assert_float_equal(inp[2], 1.0, 0.0);
    assert_float_equal(inp[3], 1.0, 0.0);
    assert_memory_equal(&before, &m->drop_rng, sizeof before);
    assert_memory_equal(bufs, cgalr_model_buffers(m), cgalr_model_num_buffers(m) * sizeof(float));
    free(bufs);
    cgalr_model_free(m);
}

static void test_eval_matches_train_loss(void **s)
{
    (void)s;
    fill();
    cgalr_model_t *m = small_mlp(8, 9);
    cgalr_image_batch_t b = batch();
    cgalr_step_result_t tr, ev;
    assert_int_equal(cgalr_model_train_images(m, &b, &tr), CGALR_OK);
    assert_int_equal(cgalr_model_eval_images(m, &b, &ev), CGALR_OK);
    /* no batch norm, no dropout: the eval sum is n times the training mean */
    assert_float_equal(ev.loss, tr.loss * N, 1e-9 * N);
    assert_int_equal(ev.correct, tr.correct);
    assert_int_equal(ev.nonfinite, 0);
    size_t n;
    const float *lg = cgalr_model_logits(m, &n);
    assert_non_null(lg);
    assert_int_equal(n, N);
    size_t correct = 0;
    for (int i = 0; i < N; i++) {
        int arg = 0;
        for (int j = 1; j < K; j++)
            if (lg[i * K + j] > lg[i * K + arg])
                arg = j;
        correct += arg == Y[i];
    }
    assert_int_equal(correct, ev.correct);
    cgalr_model_free(m);
}

/* Two engine threads split the convolution chunks: two runs give the same bits, and the result
 * matches one thread up to summation order. */
static void test_threads(void **s)
{
    (void)s;
    cgalr_model_config_t c;
    cgalr_model_config_default(&c, CGALR_MODEL_MLP);
    c.in_c = 3;
    c.in_h = c.in_w = 12;
    c.n_classes = 5;
    c.seed = 3;
    enum { NB = 9 };
    float x[NB * 3 * 12 * 12];
    int32_t y[NB];
    cgalr_rng_t r = cgalr_rng_init(6, CGALR_STREAM_TEST);
    for (size_t i = 0; i < sizeof x / sizeof x[0]; i++)
        x[i] = (float)cgalr_rng_normal(&r);
    for (int i = 0; i < NB; i++)
        y[i] = i % 5;
    cgalr_image_batch_t b = {NB, 3, 12, 12, x, y};
    /* im2col (8 channels), direct (3 -> 16) and Winograd (16 -> 16 on 12x12 maps: groups of 3
     * samples, so the threads take whole groups) convolutions */
    const char *spec = "conv:16:3:1:1:b,bn,relu,conv:16:3:1:1,relu,conv:8:3:2:1,relu,maxpool:2:2";
    float *grads[3];
    double loss[3];
    size_t np = 0;
    for (int run = 0; run < 3; run++) {
        c.threads = run == 0 ? 1 : 2;
        cgalr_model_t *m = NULL;
        assert_int_equal(nn_model_create_seq(&c, spec, &m), CGALR_OK);
        cgalr_step_result_t res;
        assert_int_equal(cgalr_model_train_images(m, &b, &res), CGALR_OK);
        loss[run] = res.loss;
        np = cgalr_model_num_params(m);
        grads[run] = malloc(np * sizeof(float));
        memcpy(grads[run], cgalr_model_grads(m), np * sizeof(float));
        cgalr_model_free(m);
    }
    assert_memory_equal(grads[1], grads[2], np * sizeof(float));
    assert_true(loss[1] == loss[2]);
    assert_float_equal(loss[0], loss[1], 1e-6);
    double mx = 0.0, err = 0.0;
    for (size_t i = 0; i < np; i++) {
        mx = fmax(mx, fabs(grads[0][i]));
        err = fmax(err, fabs(grads[0][i] - grads[1][i]));
    }
    assert_true(err <= 1e-5 * mx);
    for (int run = 0; run < 3; run++)
        free(grads[run]);
    cgalr_model_t *m = small_mlp(1, 8);
    assert_int_equal(cgalr_model_set_threads(m, 2), CGALR_OK);
    assert_int_equal(cgalr_model_set_threads(m, 1), CGALR_OK);
    assert_int_equal(cgalr_model_set_threads(m, 0), CGALR_EINVAL);
    cgalr_model_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_errors),     cmocka_unit_test(test_default_models),
        cmocka_unit_test(test_init_distribution), cmocka_unit_test(test_batch_errors),
        cmocka_unit_test(test_nonfinite),         cmocka_unit_test(test_determinism_and_snapshot),
        cmocka_unit_test(test_checkpoint),        cmocka_unit_test(test_capture),
        cmocka_unit_test(test_eval_matches_train_loss), cmocka_unit_test(test_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
