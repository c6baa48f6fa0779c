/* --probe-mode pass | inline | stream through cgalr_train_run on MUTAG (gin): a run stopped after
 * an epoch and resumed gives the uninterrupted run's records bit for bit (timing aside), with the
 * controller every epoch and with --ctrl-every 3, where every end-of-epoch checkpoint falls in the
 * middle of a controller period (10 batches an epoch) and the capture state must travel in it.
 * Also: inline and stream take no connectome before training (no d in epoch 1 with the epoch
 * controller), stream's d series differs from pass's (the modes are not aliases), a run of one
 * mode is not resumed in another, and bad values are rejected by validation with a message. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cgalr.h>

#include "train_recorder.h"

static int epochs = 4, last_stop = 3;

static int setup(void **state)
{
    (void)state;
    const char *san = getenv("CGALR_SANITIZED");
    if (san && !strcmp(san, "1")) { /* the sanitizer build is ~20 times slower: one stop per case */
        epochs = 3;
        last_stop = 1;
    }
    return recorder_dirs("cgalr-test-train-probe");
}

static void config(cgalr_train_config_t *c, const char *mode, long every, const char *out)
{
    cgalr_train_config_default(c);
    c->data = "mutag";
    c->data_dir = data_dir;
    c->model = "gin";
    c->sched = "cgalr-top";
    c->lr = 0.01;
    c->epochs = epochs;
    c->batch = 16;
    c->seed = 2;
    c->out = out;
    c->probe_mode = mode;
    c->ctrl_every = every;
}

static cgalr_status_t train(const char *mode, long every, const char *out, int resume, recorder_t *k)
{
    cgalr_train_config_t c;
    config(&c, mode, every, out);
    c.resume = resume;
    cgalr_train_summary_t sum;
    cgalr_status_t st = recorder_train(&c, k, &sum);
    if (st == CGALR_OK && k->stop_after)
        assert_true(sum.interrupted);
    return st;
}

/* Bitwise equality of doubles (NaN = NaN), field by field: everything but the timing. */
static int same(double a, double b)
{
    return memcmp(&a, &b, sizeof a) == 0;
}

static void assert_same_record(const cgalr_epoch_record_t *a, const cgalr_epoch_record_t *b, const char *what)
{
    int ok = a->epoch == b->epoch && same(a->lr, b->lr) && same(a->train_loss, b->train_loss) &&
             same(a->train_acc, b->train_acc) && same(a->val_loss, b->val_loss) && same(a->val_acc, b->val_acc) &&
             same(a->test_acc, b->test_acc) && a->has_ctrl == b->has_ctrl && same(a->d, b->d) &&
             same(a->median, b->median) && same(a->mad, b->mad) && same(a->z, b->z) && same(a->rho, b->rho) &&
             !strcmp(a->state, b->state);
    if (!ok)
        fail_msg("%s: epoch %d differs: d %.17g / %.17g, lr %.17g / %.17g, loss %.17g / %.17g", what, a->epoch, a->d,
                 b->d, a->lr, b->lr, a->train_loss, b->train_loss);
}

static void resume_case(const char *mode, long every, recorder_t *ref)
{
    char a[4200], b[4200], what[64];
    snprintf(a, sizeof a, "%s/ref-%s-%ld", tmp_root, mode, every);
    snprintf(b, sizeof b, "%s/cut-%s-%ld", tmp_root, mode, every);
    snprintf(what, sizeof what, "%s --ctrl-every %ld", mode, every);
    memset(ref, 0, sizeof *ref);
    assert_int_equal(train(mode, every, a, 0, ref), CGALR_OK);
    assert_int_equal(ref->n, epochs);
    for (int stop = 1; stop <= last_stop && stop < epochs; stop++) {
        recorder_t k1, k2;
        memset(&k1, 0, sizeof k1);
        memset(&k2, 0, sizeof k2);
        char d[4300];
        snprintf(d, sizeof d, "%s-stop%d", b, stop);
        k1.stop_after = stop;
        assert_int_equal(train(mode, every, d, 0, &k1), CGALR_OK);
        assert_int_equal(k1.n, stop);
        assert_int_equal(train(mode, every, d, 1, &k2), CGALR_OK);
        assert_int_equal(k2.n, epochs - stop);
        for (int e = 0; e < stop; e++)
            assert_same_record(&k1.rec[e], &ref->rec[e], what);
        for (int e = 0; e < epochs - stop; e++)
            assert_same_record(&k2.rec[e], &ref->rec[stop + e], what);
    }
}

static void test_resume_every_mode(void **state)
{
    (void)state;
    static recorder_t pass0, inl0, str0, pass3, inl3, str3;
    resume_case("pass", 0, &pass0);
    resume_case("inline", 0, &inl0);
    resume_case("stream", 0, &str0);
    resume_case("pass", 3, &pass3);
    resume_case("inline", 3, &inl3);
    resume_case("stream", 3, &str3);
    /* pass has M_0 before training, so d in epoch 1; inline and stream start from their first
     * connectome */
    assert_true(isfinite(pass0.rec[0].d));
    assert_true(isnan(inl0.rec[0].d));
    assert_true(isnan(str0.rec[0].d));
    assert_true(isfinite(str0.rec[1].d) && isfinite(inl0.rec[1].d));
    /* the modes are distinct sources: stream's d differs from pass's */
    assert_false(same(str0.rec[1].d, pass0.rec[1].d));
}

static void test_mode_checks(void **state)
{
    (void)state;
    cgalr_train_config_t c;
    char out[4200];
    snprintf(out, sizeof out, "%s/check", tmp_root);
    config(&c, "bogus", 0, out);
    assert_int_equal(cgalr_train_config_validate(&c), CGALR_EINVAL);
    assert_non_null(strstr(cgalr_last_error(), "probe_mode = 'bogus' (--probe-mode)"));
    assert_non_null(strstr(cgalr_last_error(), "pass, inline, stream"));
    config(&c, "", 0, out);
    assert_int_equal(cgalr_train_config_validate(&c), CGALR_OK); /* "" = pass */
    config(&c, "stream", 0, out);
    c.sched = "cosine";
    assert_int_equal(cgalr_train_config_validate(&c), CGALR_EINVAL);
    assert_non_null(strstr(cgalr_last_error(), "CG-ALR"));
    config(&c, "pass", 0, out);
    c.sched = "cosine";
    assert_int_equal(cgalr_train_config_validate(&c), CGALR_OK);

    /* a run of one mode is not resumed in another */
    recorder_t k;
    memset(&k, 0, sizeof k);
    k.stop_after = 1;
    assert_int_equal(train("stream", 0, out, 0, &k), CGALR_OK);
    memset(&k, 0, sizeof k);
    assert_int_equal(train("inline", 0, out, 1, &k), CGALR_ESTATE);
    assert_int_equal(k.n, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_resume_every_mode),
        cmocka_unit_test(test_mode_checks),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
