/* The training loop with the methods that own the update, on MUTAG (GIN, which has batch norm):
 * a run stopped after its second epoch and resumed gives the uninterrupted run's metrics
 * bit for bit (Schedule-Free's y, z, x and the recomputation of batch-norm statistics at x
 * included), the metrics log the effective rate and, for prodigy / D-Adaptation, a d that never
 * decreases, and Schedule-Free SGD's rate is the base rate once its warm-up is over. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cgalr/train.h"

#define EPOCHS 4
#include "train_recorder.h"

static int setup(void **state)
{
    (void)state;
    return recorder_dirs("cgalr-test-train-adapt");
}

static cgalr_status_t train(const char *method, const char *out, int resume, recorder_t *k)
{
    cgalr_train_config_t c;
    cgalr_train_config_default(&c);
    c.data = "mutag";
    c.data_dir = data_dir;
    c.model = "gin";
    c.sched = method;
    c.lr = 0.01;
    c.epochs = EPOCHS;
    c.batch = 16;
    c.seed = 5;
    c.out = out;
    c.resume = resume;
    cgalr_train_summary_t sum;
    return recorder_train(&c, k, &sum);
}

/* Everything but the timings. */
static void assert_same_record(const cgalr_epoch_record_t *a, const cgalr_epoch_record_t *b)
{
    const double va[] = {a->lr, a->train_loss, a->train_acc, a->val_loss, a->val_acc, a->test_acc, a->d};
    const double vb[] = {b->lr, b->train_loss, b->train_acc, b->val_loss, b->val_acc, b->test_acc, b->d};
    assert_memory_equal(va, vb, sizeof va);
    assert_int_equal(a->epoch, b->epoch);
}

static void resume_identical(void **state)
{
    (void)state;
    static const char *const methods[] = {"prodigy", "dadapt-sgd", "dadapt-adam", "sf-sgd", "sf-adamw"};
    for (size_t mi = 0; mi < sizeof methods / sizeof methods[0]; mi++) {
        const char *m = methods[mi];
        char ref[4200], cut[4200];
        snprintf(ref, sizeof ref, "%s/ref-%s", tmp_root, m);
        snprintf(cut, sizeof cut, "%s/cut-%s", tmp_root, m);
        recorder_t *a = calloc(1, sizeof *a), *b = calloc(1, sizeof *b);
        assert_int_equal(train(m, ref, 0, a), CGALR_OK);
        assert_int_equal(a->n, EPOCHS);
        b->stop_after = 2;
        assert_int_equal(train(m, cut, 0, b), CGALR_OK);
        assert_int_equal(b->n, 2);
        b->stop_after = 0;
        b->stop = 0;
        assert_int_equal(train(m, cut, 1, b), CGALR_OK);
        assert_int_equal(b->n, EPOCHS);
        int is_d = !strncmp(m, "prodigy", 7) || !strncmp(m, "dadapt", 6);
        for (int e = 0; e < EPOCHS; e++) {
            assert_same_record(&a->rec[e], &b->rec[e]);
            assert_true(isfinite(a->rec[e].lr) && a->rec[e].lr > 0);
            if (is_d) {
                assert_true(isfinite(a->rec[e].d) && a->rec[e].d >= 1e-6);
                if (e)
                    assert_true(a->rec[e].d >= a->rec[e - 1].d);
            } else {
                assert_true(isnan(a->rec[e].d));
            }
        }
        if (!strcmp(m, "sf-sgd")) /* the warm-up (5% of the run) is over: lr is the base rate */
            assert_true(a->rec[EPOCHS - 1].lr == 0.01);
        free(a);
        free(b);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(resume_identical),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
