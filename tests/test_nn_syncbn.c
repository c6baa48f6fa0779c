/* Synchronised batch norm (cgalr_model_set_batch_sum), without MPI: two "ranks" are two threads,
 * each with its own copy of the model and half of a batch, whose sums meet through a barrier (the
 * same order on both, as the data-parallel reduce-then-broadcast gives). Their gradients, each
 * weighted by its share of the batch and added, must be the gradient of one model on the whole
 * batch, and their running statistics those of the whole batch: a cnn (BatchNorm2d with the fused
 * ReLU) and a resnet20 (BatchNorm2d into residual adds). Without the sum each half normalises with
 * its own statistics, and the same comparison fails (the control). With one "rank" and a sum that
 * changes nothing, the synchronised path gives the unsynchronised one's bits. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <cgalr.h>

enum { N = 24, H = 16 };

static float X[N * 3 * H * H];
static int32_t Y[N];

static void make_data(void)
{
    cgalr_rng_t r = cgalr_rng_init(7, CGALR_STREAM_TEST);
    for (size_t i = 0; i < sizeof X / sizeof X[0]; i++)
        X[i] = (float)cgalr_rng_normal(&r);
    for (int i = 0; i < N; i++)
        Y[i] = i % 10;
}

static cgalr_model_t *make(cgalr_model_kind_t kind)
{
    cgalr_model_config_t mc;
    cgalr_model_config_default(&mc, kind);
    mc.in_c = 3;
    mc.in_h = mc.in_w = H;
    mc.n_classes = 10;
    mc.seed = 11;
    cgalr_model_t *m = NULL;
    assert_int_equal(cgalr_model_create(&mc, &m), CGALR_OK);
    return m;
}

static cgalr_image_batch_t rows(size_t lo, size_t hi)
{
    cgalr_image_batch_t b = {.n = hi - lo, .c = 3, .h = H, .w = H, .x = X + lo * 3 * H * H, .labels = Y + lo};
    return b;
}

/* the two ranks' meeting point */
typedef struct {
    pthread_barrier_t bar;
    double *slot[2];
    size_t n;
} meet_t;

typedef struct {
    meet_t *meet;
    int rank;
    cgalr_model_t *m;
    size_t lo, hi;
    cgalr_status_t st;
    cgalr_step_result_t res;
} rank_t;

static cgalr_status_t sum2(void *user, double *buf, size_t n)
{
    rank_t *me = user;
    meet_t *mt = me->meet;
    mt->slot[me->rank] = buf;
    mt->n = n;
    pthread_barrier_wait(&mt->bar);
    double *a = mt->slot[0], *b = mt->slot[1];
    double *tmp = malloc(n * sizeof *tmp);
    for (size_t i = 0; i < n; i++)
        tmp[i] = a[i] + b[i]; /* the same order on both */
    pthread_barrier_wait(&mt->bar);
    memcpy(buf, tmp, n * sizeof *tmp);
    free(tmp);
    pthread_barrier_wait(&mt->bar);
    return CGALR_OK;
}

static void *rank_main(void *arg)
{
    rank_t *r = arg;
    cgalr_image_batch_t b = rows(r->lo, r->hi);
    r->st = cgalr_model_train_images(r->m, &b, &r->res);
    return NULL;
}

/* max relative difference between the whole-batch gradient and the halves' weighted sum */
static double halves_vs_whole(cgalr_model_kind_t kind, int sync, double *buf_diff)
{
    cgalr_model_t *whole = make(kind);
    cgalr_image_batch_t b = rows(0, N);
    cgalr_step_result_t res;
    assert_int_equal(cgalr_model_train_images(whole, &b, &res), CGALR_OK);
    meet_t mt;
    pthread_barrier_init(&mt.bar, NULL, 2);
    rank_t r[2];
    size_t cut = 10; /* unequal parts: 10 and 14 */
    for (int k = 0; k < 2; k++) {
        memset(&r[k], 0, sizeof r[k]);
        r[k].meet = &mt;
        r[k].rank = k;
        r[k].m = make(kind);
        r[k].lo = k ? cut : 0;
        r[k].hi = k ? N : cut;
        if (sync) {
            cgalr_model_set_batch_sum(r[k].m, sum2, &r[k]);
            cgalr_model_set_batch_share(r[k].m, (double)(r[k].hi - r[k].lo) / N);
        }
    }
    pthread_t t[2];
    for (int k = 0; k < 2; k++)
        pthread_create(&t[k], NULL, rank_main, &r[k]);
    for (int k = 0; k < 2; k++)
        pthread_join(t[k], NULL);
    pthread_barrier_destroy(&mt.bar);
    for (int k = 0; k < 2; k++)
        assert_int_equal(r[k].st, CGALR_OK);
    size_t np = cgalr_model_num_params(whole), nb = cgalr_model_num_buffers(whole);
    const float *gw = cgalr_model_grads(whole), *g0 = cgalr_model_grads(r[0].m), *g1 = cgalr_model_grads(r[1].m);
    double w0 = (double)cut / N, w1 = 1.0 - w0, gmax = 0, dmax = 0;
    for (size_t i = 0; i < np; i++) {
        gmax = fmax(gmax, fabs(gw[i]));
        dmax = fmax(dmax, fabs(gw[i] - (w0 * g0[i] + w1 * g1[i])));
    }
    const float *bw = cgalr_model_buffers(whole), *b0 = cgalr_model_buffers(r[0].m);
    double bd = 0;
    for (size_t i = 0; i < nb; i++)
        bd = fmax(bd, fabs(bw[i] - b0[i]) / fmax(1e-3, fabs(bw[i])));
    *buf_diff = bd;
    cgalr_model_free(whole);
    cgalr_model_free(r[0].m);
    cgalr_model_free(r[1].m);
    return dmax / gmax;
}

static void test_halves(void **state)
{
    (void)state;
    cgalr_model_kind_t kinds[2] = {CGALR_MODEL_CNN, CGALR_MODEL_RESNET20};
    for (int k = 0; k < 2; k++) {
        double bd = 0, d = halves_vs_whole(kinds[k], 1, &bd);
        if (!(d <= 1e-4) || !(bd <= 1e-5))
            fail_msg("model %d: synchronised halves differ from the whole batch: gradient %g, running stats %g", k, d,
                     bd);
        double bd0 = 0, d0 = halves_vs_whole(kinds[k], 0, &bd0);
        if (!(d0 > 1e-2))
            fail_msg("model %d: unsynchronised halves should differ from the whole batch, got %g", k, d0);
    }
}

static cgalr_status_t nothing(void *user, double *buf, size_t n)
{
    (void)user;
    (void)buf;
    (void)n;
    return CGALR_OK;
}

static void test_one_rank_same_bits(void **state)
{
    (void)state;
    cgalr_model_kind_t kinds[2] = {CGALR_MODEL_CNN, CGALR_MODEL_RESNET20};
    for (int k = 0; k < 2; k++) {
        cgalr_model_t *a = make(kinds[k]), *b = make(kinds[k]);
        cgalr_model_set_batch_sum(b, nothing, NULL);
        cgalr_image_batch_t bt = rows(0, N);
        cgalr_step_result_t ra, rb;
        assert_int_equal(cgalr_model_train_images(a, &bt, &ra), CGALR_OK);
        assert_int_equal(cgalr_model_train_images(b, &bt, &rb), CGALR_OK);
        assert_true(ra.loss == rb.loss);
        assert_memory_equal(cgalr_model_grads(a), cgalr_model_grads(b), cgalr_model_num_params(a) * sizeof(float));
        assert_memory_equal(cgalr_model_buffers(a), cgalr_model_buffers(b),
                            cgalr_model_num_buffers(a) * sizeof(float));
        cgalr_model_free(a);
        cgalr_model_free(b);
    }
}

int main(void)
{
    make_data();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_halves),
        cmocka_unit_test(test_one_rank_same_bits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
