/* The metrics.jsonl contract: format -> read round trip (NaN as null), the diverged marker, a
 * killed writer's partial last line, malformed files with clear errors; Student t quantiles
 * against published table values. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "cgalr/report.h"

static char path[256];

static void write_text(const char *text)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static int setup(void **state)
{
    (void)state;
    snprintf(path, sizeof path, "/tmp/cgalr-test-metrics-%d.jsonl", (int)getpid());
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    remove(path);
    return 0;
}

static void test_roundtrip(void **state)
{
    (void)state;
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    for (int e = 1; e <= 3; e++) {
        cgalr_epoch_record_t r;
        cgalr_epoch_record_init(&r);
        r.epoch = e;
        r.lr = 0.1 / e;
        r.train_loss = 1.0 / 3.0 * e;
        r.train_acc = 0.5;
        r.val_loss = e == 2 ? NAN : 0.25 * e; /* non-finite is written as null */
        r.val_acc = 0.75;
        r.test_acc = e == 3 ? NAN : 0.8;     /* NaN test accuracy: key left out */
        r.seconds = 1.5;
        if (e >= 2) {
            r.has_ctrl = 1;
            r.d = 0.123456789012345678;
            r.median = NAN;
            r.mad = 0;
            r.z = -2.5;
            r.rho = 0.7;
            strcpy(r.state, "decel");
            r.guard_retries = e == 3 ? 2 : 0;
        }
        char *line = NULL;
        assert_int_equal(cgalr_metrics_format(&r, &line), CGALR_OK);
        assert_null(strstr(line, "nan"));
        if (e == 3)
            assert_null(strstr(line, "test_acc"));
        fprintf(f, "%s\n", line);
        free(line);
    }
    char *div = NULL;
    assert_int_equal(cgalr_metrics_format_diverged(4, "non-finite \"loss\"", &div), CGALR_OK);
    fprintf(f, "%s\n", div);
    free(div);
    fclose(f);

    cgalr_metrics_t m;
    assert_int_equal(cgalr_metrics_read(path, 0, &m), CGALR_OK);
    assert_int_equal(m.n, 3);
    assert_true(m.diverged);
    assert_int_equal(m.diverged_epoch, 4);
    assert_string_equal(m.diverged_reason, "non-finite \"loss\"");
    for (int e = 1; e <= 3; e++) {
        const cgalr_epoch_record_t *r = &m.rec[e - 1];
        assert_int_equal(r->epoch, e);
        assert_true(r->lr == 0.1 / e); /* doubles survive exactly */
        assert_true(r->train_loss == 1.0 / 3.0 * e);
        assert_true(e == 2 ? isnan(r->val_loss) : r->val_loss == 0.25 * e);
        assert_true(e == 3 ? isnan(r->test_acc) : r->test_acc == 0.8);
        assert_int_equal(r->has_ctrl, e >= 2);
        if (e >= 2) {
            assert_true(r->d == 0.123456789012345678);
            assert_true(isnan(r->median));
            assert_true(r->z == -2.5);
            assert_string_equal(r->state, "decel");
        }
        assert_int_equal(r->guard_retries, e == 3 ? 2 : 0);
    }
    cgalr_metrics_free(&m);
    cgalr_metrics_free(&m); /* twice is harmless */
}

static const char *good1 =
    "{\"epoch\":1,\"lr\":0.1,\"train_loss\":1,\"train_acc\":0.5,\"val_loss\":1,\"val_acc\":0.5,\"seconds\":1}\n";

static void expect_format_error(const char *text, const char *needle)
{
    write_text(text);
    cgalr_metrics_t m;
    cgalr_status_t st = cgalr_metrics_read(path, 0, &m);
    if (st != CGALR_EFORMAT || !strstr(cgalr_last_error(), needle))
        fail_msg("text %s: status %d, message '%s', expected '%s'", text, st, cgalr_last_error(), needle);
    assert_int_equal(m.n, 0);
    assert_null(m.rec);
}

static void test_malformed(void **state)
{
    (void)state;
    char buf[1024];
    expect_format_error("{not json\n", "line 1");
    expect_format_error("[1,2]\n", "not a JSON object");
    expect_format_error("{\"epoch\":0,\"lr\":0.1}\n", "epoch");
    expect_format_error("{\"epoch\":1.5}\n", "epoch");
    expect_format_error("{\"epoch\":1,\"lr\":\"fast\",\"train_loss\":1,\"train_acc\":0.5,\"val_loss\":1,"
                        "\"val_acc\":0.5,\"seconds\":1}\n",
                        "\"lr\"");
    expect_format_error("{\"epoch\":1,\"lr\":0.1,\"train_acc\":0.5,\"val_loss\":1,\"val_acc\":0.5,\"seconds\":1}\n",
                        "train_loss");
    snprintf(buf, sizeof buf, "%s%s", good1, good1); /* epoch 1 twice */
    expect_format_error(buf, "line 2: epoch 1, expected 2");
    snprintf(buf, sizeof buf, "%s{\"diverged\":true,\"epoch\":2}\n%s", good1, good1);
    expect_format_error(buf, "after the diverged marker");
    snprintf(buf, sizeof buf,
             "{\"epoch\":1,\"lr\":0.1,\"train_loss\":1,\"train_acc\":0.5,\"val_loss\":1,\"val_acc\":0.5,"
             "\"seconds\":1,\"state\":\"a-very-long-state\",\"d\":1,\"median\":1,\"mad\":1,\"z\":1,\"rho\":1}\n");
    expect_format_error(buf, "state");
    /* a NUL byte in the middle */
    FILE *f = fopen(path, "wb");
    fwrite("{\"epoch\"\0:1}\n", 1, 13, f);
    fclose(f);
    cgalr_metrics_t m;
    assert_int_equal(cgalr_metrics_read(path, 0, &m), CGALR_EFORMAT);
    assert_non_null(strstr(cgalr_last_error(), "NUL"));
}

static void test_partial_tail_and_empty(void **state)
{
    (void)state;
    char buf[1024];
    snprintf(buf, sizeof buf, "%s{\"epoch\":2,\"lr\":0.1,\"tra", good1); /* killed mid-write */
    write_text(buf);
    cgalr_metrics_t m;
    assert_int_equal(cgalr_metrics_read(path, 1, &m), CGALR_OK);
    assert_int_equal(m.n, 1);
    cgalr_metrics_free(&m);
    assert_int_equal(cgalr_metrics_read(path, 0, &m), CGALR_EFORMAT);
    write_text("");
    assert_int_equal(cgalr_metrics_read(path, 0, &m), CGALR_OK);
    assert_int_equal(m.n, 0);
    cgalr_metrics_free(&m);
    write_text("\n\n");
    assert_int_equal(cgalr_metrics_read(path, 0, &m), CGALR_OK);
    assert_int_equal(m.n, 0);
    assert_int_equal(cgalr_metrics_read("/nonexistent/metrics.jsonl", 0, &m), CGALR_EIO);
    assert_non_null(strstr(cgalr_last_error(), "/nonexistent/metrics.jsonl"));
    assert_int_equal(cgalr_metrics_read(NULL, 0, &m), CGALR_EINVAL);
    assert_int_equal(cgalr_metrics_format(NULL, NULL), CGALR_EINVAL);
}

/* Warm-up lines: z (and median/mad before the first distance) are null; files written before
 * z was logged as null hold the warm-up score as a number (~1e9): both load. */
static void test_warmup_null_and_old_sentinel(void **state)
{
    (void)state;
    write_text("{\"epoch\":1,\"lr\":0.1,\"train_loss\":1,\"train_acc\":0.5,\"val_loss\":1,\"val_acc\":0.5,"
               "\"seconds\":1,\"d\":742.4,\"median\":null,\"mad\":null,\"z\":null,\"state\":\"hold\",\"rho\":1}\n"
               "{\"epoch\":2,\"lr\":0.1,\"train_loss\":1,\"train_acc\":0.5,\"val_loss\":1,\"val_acc\":0.5,"
               "\"seconds\":1,\"d\":157.3,\"median\":742.4,\"mad\":0,\"z\":null,\"state\":\"hold\",\"rho\":1}\n"
               "{\"epoch\":3,\"lr\":0.1,\"train_loss\":1,\"train_acc\":0.5,\"val_loss\":1,\"val_acc\":0.5,"
               "\"seconds\":1,\"d\":11.1,\"median\":449.9,\"mad\":0,\"z\":-788014927.854184,\"state\":\"hold\","
               "\"rho\":1}\n");
    cgalr_metrics_t m;
    assert_int_equal(cgalr_metrics_read(path, 0, &m), CGALR_OK);
    assert_int_equal(m.n, 3);
    for (size_t i = 0; i < 3; i++)
        assert_true(m.rec[i].has_ctrl && !strcmp(m.rec[i].state, "hold") && m.rec[i].rho == 1);
    assert_true(isnan(m.rec[0].z) && isnan(m.rec[0].median) && isnan(m.rec[0].mad) && m.rec[0].d == 742.4);
    assert_true(isnan(m.rec[1].z) && m.rec[1].median == 742.4 && m.rec[1].mad == 0);
    assert_true(m.rec[2].z == -788014927.854184);
    cgalr_metrics_free(&m);
    /* and the writer puts null back for a NaN z */
    cgalr_epoch_record_t r;
    cgalr_epoch_record_init(&r);
    r.epoch = 1;
    r.has_ctrl = 1;
    r.d = 2;
    r.rho = 1;
    snprintf(r.state, sizeof r.state, "hold");
    char *line = NULL;
    assert_int_equal(cgalr_metrics_format(&r, &line), CGALR_OK);
    assert_non_null(strstr(line, "\"z\":null"));
    assert_non_null(strstr(line, "\"median\":null"));
    free(line);
}

static void test_t_quantile(void **state)
{
    (void)state;
    /* two-sided 95% critical values: scipy.stats.t.ppf(0.975, df) */
    const double df[] = {1, 2, 3, 4, 9, 29, 100, 1e6};
    const double q[] = {12.706204736432095, 4.302652729911275, 3.182446305284263, 2.7764451051977987,
                        2.2621571627409915, 2.045229642132703, 1.9839715184496334, 1.9599663568141066};
    for (size_t i = 0; i < sizeof df / sizeof df[0]; i++) {
        double v = cgalr_report_t_quantile(0.975, df[i]);
        if (fabs(v - q[i]) > 1e-9 * q[i])
            fail_msg("df %g: %.15g, expected %.15g", df[i], v, q[i]);
        assert_true(fabs(cgalr_report_t_quantile(0.025, df[i]) + q[i]) < 1e-9 * q[i]);
    }
    assert_true(cgalr_report_t_quantile(0.5, 3) == 0.0);
    assert_true(isnan(cgalr_report_t_quantile(0.0, 3)));
    assert_true(isnan(cgalr_report_t_quantile(1.0, 3)));
    assert_true(isnan(cgalr_report_t_quantile(0.9, 0.5)));
    assert_true(isnan(cgalr_report_t_quantile(NAN, 3)));
}

static void test_report_bad_args(void **state)
{
    (void)state;
    assert_int_equal(cgalr_report_write(NULL, NULL, NULL), CGALR_EINVAL);
    assert_int_equal(cgalr_report_write("", NULL, NULL), CGALR_EINVAL);
    assert_int_equal(cgalr_report_write("/nonexistent-cgalr-dir", NULL, NULL), CGALR_EIO);
    assert_non_null(strstr(cgalr_last_error(), "/nonexistent-cgalr-dir"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_roundtrip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_malformed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_partial_tail_and_empty, setup, teardown),
        cmocka_unit_test_setup_teardown(test_warmup_null_and_old_sentinel, setup, teardown),
        cmocka_unit_test(test_t_quantile),
        cmocka_unit_test(test_report_bad_args),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
