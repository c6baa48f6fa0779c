/* The connectome sources of src/train/probe.c and the nn training-capture hook under them.
 * With the weights frozen (no optimiser step: the learning rate 0) on an mlp (no batch norm, no
 * dropout, so training and inference forwards agree), `inline` gives the connectome of `pass`:
 * the same probe samples, in the same order, through the same function, whatever order the
 * training batches bring them in. Bit for bit where the BLAS rounds a row the same whatever the
 * batch holds (OpenBLAS's SkylakeX and Sandybridge kernels); its Haswell kernels, which it also
 * runs on AMD Zen, round a row differently in batches of different sizes (1e-7 here), so the
 * comparison allows TOL_ROWS, four orders of magnitude below what a wrong row or order costs; `stream` gives the connectome of every training row. A wrong row, sample
 * or order would show: the negative control checks that a different probe set gives a different
 * connectome. Also: the hook runs in training forwards only, its rows are the batch's, a save/load
 * in mid-epoch continues bit-identically, and bad arguments are refused with a message. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cgalr.h>

#include "train/probe.h"

enum { NS = 203, F = 12, B = 24, NPROBE = 64 };

static float X[NS * F];
static int32_t Y[NS];
static size_t PROBE[NPROBE];

static void make_data(void)
{
    cgalr_rng_t r = cgalr_rng_init(11, CGALR_STREAM_TEST);
    for (size_t i = 0; i < NS; i++) {
        Y[i] = (int32_t)(i % 3);
        for (size_t j = 0; j < F; j++)
            X[i * F + j] = (float)(cgalr_rng_normal(&r) + (j < 3 ? (double)Y[i] : 0.0));
    }
    size_t all[NS];
    for (size_t i = 0; i < NS; i++)
        all[i] = i;
    cgalr_rng_shuffle(&r, all, NS);
    memcpy(PROBE, all, sizeof PROBE);
}

static cgalr_model_t *make_mlp(void)
{
    cgalr_model_config_t mc;
    cgalr_model_config_default(&mc, CGALR_MODEL_MLP);
    mc.in_c = F;
    mc.in_h = mc.in_w = 1;
    mc.n_classes = 3;
    mc.mlp_n_hidden = 2;
    mc.mlp_hidden[0] = 24;
    mc.mlp_hidden[1] = 10;
    mc.seed = 5;
    cgalr_model_t *m = NULL;
    assert_int_equal(cgalr_model_create(&mc, &m), CGALR_OK);
    return m;
}

/* The samples idx[0..n) as one batch (rows copied into xb, yb). */
static cgalr_image_batch_t gather(const size_t *idx, size_t n, float *xb, int32_t *yb)
{
    for (size_t i = 0; i < n; i++) {
        memcpy(xb + i * F, X + idx[i] * F, F * sizeof(float));
        yb[i] = Y[idx[i]];
    }
    cgalr_image_batch_t b = {.n = n, .c = F, .h = 1, .w = 1, .x = xb, .labels = yb};
    return b;
}

/* `pass`: an inference capture of the samples idx[0..n) in that order, then the connectome. */
static void pass_connectome(cgalr_model_t *m, const size_t *idx, size_t n, size_t p, double *out)
{
    float *xb = malloc(n * F * sizeof *xb), *act = malloc(n * p * sizeof *act);
    int32_t *yb = malloc(n * sizeof *yb);
    assert_non_null(xb);
    assert_non_null(act);
    assert_non_null(yb);
    cgalr_image_batch_t b = gather(idx, n, xb, yb);
    assert_int_equal(cgalr_model_capture_images(m, NULL, &b, act), CGALR_OK);
    assert_int_equal(cgalr_topo_connectome_f(act, n, p, out), CGALR_OK);
    free(xb);
    free(act);
    free(yb);
}

/* One epoch of training forwards (no optimiser step) over a shuffled order, batches of B (the last
 * one short), each armed with its sample indices. save_at >= 0: after that batch the state is
 * saved into a fresh tprobe, which continues (returned through *t). */
static void epoch(cgalr_model_t *m, tprobe_t **t, uint64_t seed, long save_at, int mode, size_t p)
{
    size_t order[NS];
    for (size_t i = 0; i < NS; i++)
        order[i] = i;
    cgalr_rng_t r = cgalr_rng_init(seed, CGALR_STREAM_TEST);
    cgalr_rng_shuffle(&r, order, NS);
    float xb[B * F];
    int32_t yb[B];
    long bi = 0;
    for (size_t s = 0; s < NS; s += B, bi++) {
        size_t n = NS - s < B ? NS - s : B;
        cgalr_image_batch_t b = gather(order + s, n, xb, yb);
        cgalr_step_result_t res;
        tprobe_arm(*t, order + s, n);
        assert_int_equal(cgalr_model_train_images(m, &b, &res), CGALR_OK);
        tprobe_disarm(*t);
        if (bi == save_at) {
            void *blob = NULL;
            size_t size = 0;
            assert_int_equal(tprobe_save(*t, &blob, &size), CGALR_OK);
            tprobe_free(*t);
            assert_int_equal(tprobe_create(mode, m, NULL, p, PROBE, NPROBE, NS, 0, t), CGALR_OK);
            assert_int_equal(tprobe_load(*t, blob, size), CGALR_OK);
            free(blob);
        }
    }
}

/* connectomes of the same rows computed in different batches (see the top of the file) */
#define TOL_ROWS 1e-5

static double max_abs_diff(const double *a, const double *b, size_t n)
{
    double d = 0;
    for (size_t i = 0; i < n; i++)
        d = fmax(d, fabs(a[i] - b[i]));
    return d;
}

static void test_inline_equals_pass_when_frozen(void **state)
{
    (void)state;
    cgalr_model_t *m = make_mlp();
    size_t p = 0;
    assert_int_equal(cgalr_model_probe_width(m, NULL, &p), CGALR_OK);
    assert_int_equal(p, 10);
    double *mp = malloc(p * p * sizeof *mp), *mi = malloc(p * p * sizeof *mi), *other = malloc(p * p * sizeof *other);
    assert_non_null(mp);
    assert_non_null(mi);
    assert_non_null(other);
    pass_connectome(m, PROBE, NPROBE, p, mp);

    tprobe_t *t = NULL;
    assert_int_equal(tprobe_create(TPROBE_INLINE, m, NULL, p, PROBE, NPROBE, NS, 0, &t), CGALR_OK);
    int ready = 1;
    assert_int_equal(tprobe_connectome(t, mi, &ready), CGALR_OK);
    assert_int_equal(ready, 0); /* no probe sample has been through a training forward yet */
    /* inference forwards never feed it */
    pass_connectome(m, PROBE, NPROBE, p, other);
    assert_int_equal(tprobe_connectome(t, mi, &ready), CGALR_OK);
    assert_int_equal(ready, 0);

    for (uint64_t e = 0; e < 2; e++) {
        epoch(m, &t, 100 + e, -1, TPROBE_INLINE, p);
        assert_int_equal(tprobe_connectome(t, mi, &ready), CGALR_OK);
        assert_int_equal(ready, 1);
        double d = max_abs_diff(mi, mp, p * p);
        if (!(d <= TOL_ROWS))
            fail_msg("epoch %d: inline connectome differs from pass by %g", (int)e, d);
        /* and the controller's distance between them is nil */
        cgalr_topo_config_t cfg;
        cgalr_topo_config_default(&cfg, CGALR_DIST_TOP);
        cgalr_topo_summary_t sa = {0}, sb = {0};
        double top = -1;
        assert_int_equal(cgalr_topo_summarize(&cfg, mp, p, &sa), CGALR_OK);
        assert_int_equal(cgalr_topo_summarize(&cfg, mi, p, &sb), CGALR_OK);
        assert_int_equal(cgalr_topo_summary_distance(&cfg, &sa, &sb, &top), CGALR_OK);
        if (!(top <= TOL_ROWS))
            fail_msg("epoch %d: TOP(pass, inline) = %g", (int)e, top);
        cgalr_topo_summary_free(&sa);
        cgalr_topo_summary_free(&sb);
    }
    /* negative control: another probe set (the next 64 samples) gives another connectome */
    size_t idx2[NPROBE];
    for (size_t k = 0; k < NPROBE; k++)
        idx2[k] = (PROBE[k] + 1) % NS;
    pass_connectome(m, idx2, NPROBE, p, other);
    assert_true(max_abs_diff(other, mp, p * p) > 1e-3);

    /* a save/load in mid-epoch (after batch 3 of 9) continues bit-identically */
    double *ma = malloc(p * p * sizeof *ma), *mb = malloc(p * p * sizeof *mb);
    assert_non_null(ma);
    assert_non_null(mb);
    tprobe_t *u = NULL;
    assert_int_equal(tprobe_create(TPROBE_INLINE, m, NULL, p, PROBE, NPROBE, NS, 0, &u), CGALR_OK);
    epoch(m, &u, 7, 3, TPROBE_INLINE, p);
    assert_int_equal(tprobe_connectome(u, ma, &ready), CGALR_OK);
    assert_int_equal(ready, 1);
    /* frozen: the same rows, from other batches */
    if (!(max_abs_diff(ma, mi, p * p) <= TOL_ROWS))
        fail_msg("inline through a save/load differs by %g", max_abs_diff(ma, mi, p * p));
    tprobe_free(u);
    tprobe_free(t);
    free(ma);
    free(mb);
    free(mp);
    free(mi);
    free(other);
    cgalr_model_free(m);
}

/* inline with sliding (--ctrl-every): a connectome after every batch, from the statistics moved
 * one replacement per new probe row; frozen weights, so each is the dense connectome of the same stored rows (w, fed the
 * same batches) up to the rounding of the downdates (1e-12), through the rebuild after n
 * replacements, and pass's within TOL_ROWS; and a save/load between two batches continues
 * bit-identically. */
static void test_inline_sliding(void **state)
{
    (void)state;
    /* one capture hook per model: t on m, u on m2, w on m3 */
    cgalr_model_t *m = make_mlp(), *m2 = make_mlp(), *m3 = make_mlp();
    size_t p = 10;
    double *mp = malloc(p * p * sizeof *mp), *mi = malloc(p * p * sizeof *mi), *mu = malloc(p * p * sizeof *mu);
    double *mw = malloc(p * p * sizeof *mw);
    assert_non_null(mw);
    assert_non_null(mp);
    assert_non_null(mi);
    assert_non_null(mu);
    pass_connectome(m, PROBE, NPROBE, p, mp);
    tprobe_t *t = NULL, *u = NULL;
    assert_int_equal(tprobe_create(TPROBE_INLINE, m, NULL, p, PROBE, NPROBE, NS, 1, &t), CGALR_OK);
    assert_int_equal(tprobe_create(TPROBE_INLINE, m2, NULL, p, PROBE, NPROBE, NS, 1, &u), CGALR_OK);
    tprobe_t *w = NULL; /* dense: the connectome recomputed from the stored rows */
    assert_int_equal(tprobe_create(TPROBE_INLINE, m3, NULL, p, PROBE, NPROBE, NS, 0, &w), CGALR_OK);
    float xb[B * F];
    int32_t yb[B];
    int steps = 0;
    for (uint64_t e = 0; e < 3; e++) {
        size_t order[NS];
        for (size_t i = 0; i < NS; i++)
            order[i] = i;
        cgalr_rng_t r = cgalr_rng_init(200 + e, CGALR_STREAM_TEST);
        cgalr_rng_shuffle(&r, order, NS);
        long bi = 0;
        for (size_t s = 0; s < NS; s += B, bi++) {
            size_t n = NS - s < B ? NS - s : B;
            cgalr_image_batch_t b = gather(order + s, n, xb, yb);
            cgalr_step_result_t res;
            tprobe_t *both[3] = {t, u, w};
            cgalr_model_t *ms[3] = {m, m2, m3};
            for (int k = 0; k < 3; k++) {
                tprobe_arm(both[k], order + s, n);
                assert_int_equal(cgalr_model_train_images(ms[k], &b, &res), CGALR_OK);
                tprobe_disarm(both[k]);
            }
            if (e == 1 && bi == 4) { /* u: through its checkpoint bytes */
                void *blob = NULL;
                size_t size = 0;
                assert_int_equal(tprobe_save(u, &blob, &size), CGALR_OK);
                tprobe_free(u);
                assert_int_equal(tprobe_create(TPROBE_INLINE, m2, NULL, p, PROBE, NPROBE, NS, 1, &u), CGALR_OK);
                assert_int_equal(tprobe_load(u, blob, size), CGALR_OK);
                free(blob);
            }
            int ready = 0, ready_u = 0, ready_w = 0;
            assert_int_equal(tprobe_connectome(t, mi, &ready), CGALR_OK);
            assert_int_equal(tprobe_connectome(u, mu, &ready_u), CGALR_OK);
            assert_int_equal(tprobe_connectome(w, mw, &ready_w), CGALR_OK);
            assert_int_equal(ready, ready_u);
            assert_int_equal(ready, ready_w);
            if (!ready)
                continue;
            steps++;
            double d = max_abs_diff(mi, mw, p * p);
            if (!(d <= 1e-12))
                fail_msg("epoch %d batch %ld: sliding inline differs from the dense form by %g", (int)e, bi, d);
            d = max_abs_diff(mw, mp, p * p);
            if (!(d <= TOL_ROWS))
                fail_msg("epoch %d batch %ld: inline differs from pass by %g", (int)e, bi, d);
            assert_memory_equal(mi, mu, p * p * sizeof *mi);
        }
    }
    assert_true(steps >= 2 * (int)((NS + B - 1) / B)); /* every batch of epochs 2 and 3 made one */
    tprobe_free(t);
    tprobe_free(u);
    tprobe_free(w);
    free(mp);
    free(mi);
    free(mu);
    free(mw);
    cgalr_model_free(m);
    cgalr_model_free(m2);
    cgalr_model_free(m3);
}

/* A training forward of the samples idx[0..n) with t armed (no optimiser step). */
static void forward(cgalr_model_t *m, tprobe_t *t, const size_t *idx, size_t n)
{
    float xb[NS * F];
    int32_t yb[NS];
    cgalr_image_batch_t b = gather(idx, n, xb, yb);
    cgalr_step_result_t res;
    tprobe_arm(t, idx, n);
    assert_int_equal(cgalr_model_train_images(m, &b, &res), CGALR_OK);
    tprobe_disarm(t);
}

/* tprobe_unchanged, which lets a controller step skip the connectome and the barcode (d = 0): it
 * is 1 only when the connectome would be the last one bit for bit (inline, no probe row since),
 * 0 after a batch that holds a single probe sample, after a load and in stream mode; and its
 * premise, that TOP, WD and SWK give exactly 0 between two summaries of one connectome. */
static void test_unchanged(void **state)
{
    (void)state;
    cgalr_model_t *m = make_mlp();
    size_t p = 10;
    double *m1 = malloc(p * p * sizeof *m1), *m2 = malloc(p * p * sizeof *m2);
    assert_non_null(m1);
    assert_non_null(m2);
    size_t others[NS - NPROBE], no = 0;
    for (size_t i = 0; i < NS; i++) {
        int is_probe = 0;
        for (size_t k = 0; k < NPROBE; k++)
            is_probe |= PROBE[k] == i;
        if (!is_probe)
            others[no++] = i;
    }
    assert_int_equal(no, NS - NPROBE);
    for (int sliding = 0; sliding < 2; sliding++) {
        tprobe_t *t = NULL;
        assert_int_equal(tprobe_create(TPROBE_INLINE, m, NULL, p, PROBE, NPROBE, NS, sliding, &t), CGALR_OK);
        int ready = 0;
        assert_int_equal(tprobe_unchanged(t), 0);
        forward(m, t, PROBE, NPROBE / 2);
        assert_int_equal(tprobe_connectome(t, m1, &ready), CGALR_OK);
        assert_int_equal(ready, 0); /* half the probe set seen: no connectome, nothing to reuse */
        assert_int_equal(tprobe_unchanged(t), 0);
        forward(m, t, PROBE + NPROBE / 2, NPROBE - NPROBE / 2);
        assert_int_equal(tprobe_connectome(t, m1, &ready), CGALR_OK);
        assert_int_equal(ready, 1);
        assert_int_equal(tprobe_unchanged(t), 1);
        forward(m, t, others, 40); /* no probe sample in the batch */
        assert_int_equal(tprobe_unchanged(t), 1);
        assert_int_equal(tprobe_connectome(t, m2, &ready), CGALR_OK);
        assert_memory_equal(m1, m2, p * p * sizeof *m1);
        size_t mixed[8] = {others[0], others[1], others[2], PROBE[7], others[3], others[4], others[5], others[6]};
        forward(m, t, mixed, 8); /* one probe sample among 8 */
        assert_int_equal(tprobe_unchanged(t), 0);
        assert_int_equal(tprobe_connectome(t, m2, &ready), CGALR_OK);
        assert_int_equal(tprobe_unchanged(t), 1);
        void *blob = NULL;
        size_t size = 0;
        assert_int_equal(tprobe_save(t, &blob, &size), CGALR_OK);
        assert_int_equal(tprobe_load(t, blob, size), CGALR_OK);
        free(blob);
        assert_int_equal(tprobe_unchanged(t), 0); /* a load recomputes once */
        tprobe_free(t);
    }
    tprobe_t *t = NULL;
    assert_int_equal(tprobe_create(TPROBE_STREAM, m, NULL, p, PROBE, NPROBE, NS, 0, &t), CGALR_OK);
    forward(m, t, others, 40);
    int ready = 0;
    assert_int_equal(tprobe_connectome(t, m1, &ready), CGALR_OK);
    assert_int_equal(ready, 1);
    assert_int_equal(tprobe_unchanged(t), 0); /* stream: every step is a new period */
    tprobe_free(t);
    for (int kind = CGALR_DIST_TOP; kind <= CGALR_DIST_SWK; kind++) {
        cgalr_topo_config_t cfg;
        cgalr_topo_config_default(&cfg, (cgalr_distance_kind_t)kind);
        cgalr_topo_summary_t a, b;
        memset(&a, 0, sizeof a);
        memset(&b, 0, sizeof b);
        assert_int_equal(cgalr_topo_summarize(&cfg, m1, p, &a), CGALR_OK);
        assert_int_equal(cgalr_topo_summarize(&cfg, m1, p, &b), CGALR_OK);
        double d = NAN;
        assert_int_equal(cgalr_topo_summary_distance(&cfg, &a, &b, &d), CGALR_OK);
        if (d != 0.0)
            fail_msg("%s distance of a connectome to itself is %.17g, not 0", cgalr_topo_distance_name((cgalr_distance_kind_t)kind), d);
        cgalr_topo_summary_free(&a);
        cgalr_topo_summary_free(&b);
    }
    free(m1);
    free(m2);
    cgalr_model_free(m);
}

static void test_stream_is_every_training_row(void **state)
{
    (void)state;
    cgalr_model_t *m = make_mlp();
    size_t p = 10, all[NS];
    for (size_t i = 0; i < NS; i++)
        all[i] = i;
    double *ref = malloc(p * p * sizeof *ref), *ms = malloc(p * p * sizeof *ms), *mr = malloc(p * p * sizeof *mr);
    assert_non_null(ref);
    assert_non_null(ms);
    assert_non_null(mr);
    pass_connectome(m, all, NS, p, ref);
    tprobe_t *t = NULL;
    assert_int_equal(tprobe_create(TPROBE_STREAM, m, NULL, p, PROBE, NPROBE, NS, 0, &t), CGALR_OK);
    epoch(m, &t, 3, -1, TPROBE_STREAM, p);
    int ready = 0;
    assert_int_equal(tprobe_connectome(t, ms, &ready), CGALR_OK);
    assert_int_equal(ready, 1);
    double d = max_abs_diff(ms, ref, p * p);
    if (!(d <= 1e-6))
        fail_msg("stream connectome differs from the connectome of all rows by %g", d);
    /* a connectome starts a new period: nothing in it yet */
    assert_int_equal(tprobe_connectome(t, ms, &ready), CGALR_OK);
    assert_int_equal(ready, 0);
    /* save/load in mid-epoch: bit-identical to the unbroken stream over the same batches */
    epoch(m, &t, 9, -1, TPROBE_STREAM, p);
    assert_int_equal(tprobe_connectome(t, ms, &ready), CGALR_OK);
    assert_int_equal(ready, 1);
    tprobe_t *u = NULL; /* a model has one hook: u's replaces t's */
    assert_int_equal(tprobe_create(TPROBE_STREAM, m, NULL, p, PROBE, NPROBE, NS, 0, &u), CGALR_OK);
    epoch(m, &u, 9, 4, TPROBE_STREAM, p);
    assert_int_equal(tprobe_connectome(u, mr, &ready), CGALR_OK);
    assert_int_equal(ready, 1);
    assert_memory_equal(ms, mr, p * p * sizeof *ms);
    /* state of another mode or width is refused, and leaves the target as it was */
    void *blob = NULL;
    size_t size = 0;
    assert_int_equal(tprobe_save(u, &blob, &size), CGALR_OK);
    tprobe_t *v = NULL;
    assert_int_equal(tprobe_create(TPROBE_INLINE, m, NULL, p, PROBE, NPROBE, NS, 0, &v), CGALR_OK);
    assert_int_equal(tprobe_load(v, blob, size), CGALR_ESTATE);
    assert_non_null(strstr(cgalr_last_error(), "stream"));
    assert_int_equal(tprobe_load(v, blob, size / 2), CGALR_EFORMAT);
    tprobe_free(v);
    free(blob);
    tprobe_free(u);
    tprobe_free(t);
    free(ref);
    free(ms);
    free(mr);
    cgalr_model_free(m);
}

static cgalr_status_t count_hook(void *user, cgalr_model_t *m, size_t rows)
{
    size_t *calls = user;
    float out[B * 10];
    calls[0]++;
    calls[1] = rows;
    size_t r = rows - 1;
    return cgalr_model_pool_probe(m, &r, 1, out);
}

static void test_hook_contract(void **state)
{
    (void)state;
    cgalr_model_t *m = make_mlp();
    size_t calls[2] = {0, 0};
    float xb[B * F], out[10];
    int32_t yb[B];
    cgalr_image_batch_t b = gather(PROBE, 5, xb, yb);
    cgalr_step_result_t res;
    assert_int_equal(cgalr_model_set_train_capture(m, "nosuch", count_hook, calls), CGALR_EINVAL);
    assert_non_null(strstr(cgalr_last_error(), "nosuch"));
    assert_int_equal(cgalr_model_set_train_capture(m, NULL, count_hook, calls), CGALR_OK);
    assert_int_equal(cgalr_model_eval_images(m, &b, &res), CGALR_OK);
    assert_int_equal(calls[0], 0); /* inference: no hook */
    assert_int_equal(cgalr_model_train_images(m, &b, &res), CGALR_OK);
    assert_int_equal(calls[0], 1);
    assert_int_equal(calls[1], 5);
    /* outside the hook the rows are not there to read */
    assert_int_equal(cgalr_model_pool_probe(m, NULL, 5, out), CGALR_ESTATE);
    assert_int_equal(cgalr_model_set_train_capture(m, NULL, NULL, NULL), CGALR_OK);
    assert_int_equal(cgalr_model_train_images(m, &b, &res), CGALR_OK);
    assert_int_equal(calls[0], 1);
    assert_int_equal(tprobe_mode_parse("stream"), TPROBE_STREAM);
    assert_int_equal(tprobe_mode_parse(NULL), TPROBE_INLINE); /* the default (docs/ABLATION.md) */
    assert_int_equal(tprobe_mode_parse("pass"), TPROBE_PASS);
    assert_int_equal(tprobe_mode_parse("Inline"), -1);
    cgalr_model_free(m);
}

int main(void)
{
    make_data();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_inline_equals_pass_when_frozen),
        cmocka_unit_test(test_inline_sliding),
        cmocka_unit_test(test_unchanged),
        cmocka_unit_test(test_stream_is_every_training_row),
        cmocka_unit_test(test_hook_contract),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
