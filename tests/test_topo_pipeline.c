/* Pipelines: config defaults, names, the P_ph subset, correlation distance, summaries of all three
 * kinds and their distances, and the checkpoint blob (round trip and corrupted input). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cgalr/rng.h"
#include "cgalr/topo.h"

static double *connectome_of(size_t n, size_t p, uint64_t seed)
{
    cgalr_rng_t r = cgalr_rng_init(seed, CGALR_STREAM_TEST);
    double *a = malloc(n * p * sizeof *a), *m = malloc(p * p * sizeof *m);
    for (size_t i = 0; i < n; i++) {
        double f = cgalr_rng_normal(&r);
        for (size_t j = 0; j < p; j++)
            a[i * p + j] = (j % 4 == 0 ? f : 0.0) + cgalr_rng_normal(&r);
    }
    assert_int_equal(cgalr_topo_connectome_d(a, n, p, m), CGALR_OK);
    free(a);
    return m;
}

static void test_config_and_names(void **state)
{
    (void)state;
    cgalr_topo_config_t c;
    cgalr_topo_config_default(&c, CGALR_DIST_SWK);
    assert_int_equal(c.kind, CGALR_DIST_SWK);
    assert_int_equal(c.p_ph, 128);
    assert_int_equal(c.sw_directions, 50);
    cgalr_topo_config_default(NULL, CGALR_DIST_TOP); /* no crash */
    assert_int_equal(cgalr_topo_distance_parse("top"), CGALR_DIST_TOP);
    assert_int_equal(cgalr_topo_distance_parse("wd"), CGALR_DIST_WD);
    assert_int_equal(cgalr_topo_distance_parse("swk"), CGALR_DIST_SWK);
    assert_int_equal(cgalr_topo_distance_parse("TOP"), -1);
    assert_int_equal(cgalr_topo_distance_parse(""), -1);
    assert_int_equal(cgalr_topo_distance_parse(NULL), -1);
    assert_string_equal(cgalr_topo_distance_name(CGALR_DIST_WD), "wd");
    assert_string_equal(cgalr_topo_distance_name((cgalr_distance_kind_t)7), "unknown");
}

static void test_subset(void **state)
{
    (void)state;
    cgalr_topo_config_t c;
    cgalr_topo_config_default(&c, CGALR_DIST_WD);
    c.p_ph = 10;
    c.seed = 5;
    size_t idx[10], idx2[10], k;
    assert_int_equal(cgalr_topo_subset(&c, 7, idx, &k), CGALR_OK); /* smaller: all of them */
    assert_int_equal(k, 7);
    for (size_t i = 0; i < k; i++)
        assert_int_equal(idx[i], i);
    assert_int_equal(cgalr_topo_subset(&c, 1000, idx, &k), CGALR_OK);
    assert_int_equal(k, 10);
    for (size_t i = 0; i < k; i++) {
        assert_true(idx[i] < 1000);
        if (i)
            assert_true(idx[i] > idx[i - 1]); /* sorted and distinct */
    }
    assert_int_equal(cgalr_topo_subset(&c, 1000, idx2, &k), CGALR_OK);
    assert_memory_equal(idx, idx2, sizeof idx); /* same seed, same subset */
    c.seed = 6;
    assert_int_equal(cgalr_topo_subset(&c, 1000, idx2, &k), CGALR_OK);
    assert_memory_not_equal(idx, idx2, sizeof idx);
    assert_int_equal(cgalr_topo_subset(NULL, 10, idx, &k), CGALR_EINVAL);
    assert_int_equal(cgalr_topo_subset(&c, 10, NULL, &k), CGALR_EINVAL);
    assert_int_equal(cgalr_topo_subset(&c, 10, idx, NULL), CGALR_EINVAL);
    assert_int_equal(cgalr_topo_subset(&c, 0, idx, &k), CGALR_EINVAL);
    c.p_ph = 0;
    assert_int_equal(cgalr_topo_subset(&c, 10, idx, &k), CGALR_EINVAL);
}

static void test_correlation_distance(void **state)
{
    (void)state;
    double m[9] = {0, 0.36, 1.0, 0.36, 0, 0.0, 1.0, 0.0, 0};
    double d[9];
    assert_int_equal(cgalr_topo_correlation_distance(m, 3, NULL, 3, d), CGALR_OK);
    assert_true(d[0] == 0.0 && d[1] == 0.8 && d[2] == 0.0 && d[5] == 1.0 && d[3] == 0.8);
    size_t idx[2] = {0, 2};
    double d2[4];
    assert_int_equal(cgalr_topo_correlation_distance(m, 3, idx, 2, d2), CGALR_OK);
    assert_true(d2[0] == 0.0 && d2[1] == 0.0 && d2[2] == 0.0 && d2[3] == 0.0);
    size_t bad[2] = {0, 3};
    assert_int_equal(cgalr_topo_correlation_distance(m, 3, bad, 2, d2), CGALR_EINVAL);
    assert_int_equal(cgalr_topo_correlation_distance(m, 3, NULL, 2, d2), CGALR_EINVAL);
    assert_int_equal(cgalr_topo_correlation_distance(NULL, 3, NULL, 3, d), CGALR_EINVAL);
    assert_int_equal(cgalr_topo_correlation_distance(m, 3, NULL, 3, NULL), CGALR_EINVAL);
    assert_int_equal(cgalr_topo_correlation_distance(m, 0, NULL, 0, d), CGALR_EINVAL);
    m[1] = 1.5;
    assert_int_equal(cgalr_topo_correlation_distance(m, 3, NULL, 3, d), CGALR_EINVAL);
    m[1] = NAN;
    assert_int_equal(cgalr_topo_correlation_distance(m, 3, NULL, 3, d), CGALR_ENONFINITE);
}

/* Summaries of each kind: TOP equals the direct barcode TOP; WD/SWK equal the direct chain on the
 * subset; equal connectomes are at distance 0; the save/load round trip is exact. */
static void check_kind(cgalr_distance_kind_t kind, size_t p)
{
    cgalr_topo_config_t c;
    cgalr_topo_config_default(&c, kind);
    c.p_ph = 24; /* keep Rips small under the sanitizers */
    c.seed = 3;
    double *m1 = connectome_of(60, p, 1), *m2 = connectome_of(60, p, 2);
    cgalr_topo_summary_t s1, s2, s3;
    assert_int_equal(cgalr_topo_summarize(&c, m1, p, &s1), CGALR_OK);
    assert_int_equal(cgalr_topo_summarize(&c, m2, p, &s2), CGALR_OK);
    assert_int_equal(s1.kind, kind);
    assert_int_equal(s1.p, p);
    double d12, d21, d11, direct;
    assert_int_equal(cgalr_topo_summary_distance(&c, &s1, &s2, &d12), CGALR_OK);
    assert_int_equal(cgalr_topo_summary_distance(&c, &s2, &s1, &d21), CGALR_OK);
    assert_int_equal(cgalr_topo_summary_distance(&c, &s1, &s1, &d11), CGALR_OK);
    assert_true(d12 > 0.0 && isfinite(d12));
    assert_true(fabs(d12 - d21) <= 1e-12 * d12);
    assert_true(d11 == 0.0);

    if (kind == CGALR_DIST_TOP) {
        cgalr_barcode_t b1, b2;
        assert_int_equal(cgalr_topo_barcode(m1, p, &b1), CGALR_OK);
        assert_int_equal(cgalr_topo_barcode(m2, p, &b2), CGALR_OK);
        assert_int_equal(cgalr_topo_top(&b1, &b2, &direct), CGALR_OK);
        cgalr_barcode_free(&b1);
        cgalr_barcode_free(&b2);
    } else {
        size_t idx[24], k;
        assert_int_equal(cgalr_topo_subset(&c, p, idx, &k), CGALR_OK);
        assert_int_equal(k, p < 24 ? p : 24);
        double *d1 = malloc(k * k * sizeof *d1), *d2 = malloc(k * k * sizeof *d2);
        assert_int_equal(cgalr_topo_correlation_distance(m1, p, idx, k, d1), CGALR_OK);
        assert_int_equal(cgalr_topo_correlation_distance(m2, p, idx, k, d2), CGALR_OK);
        cgalr_diagram_t a0, a1, b0, b1;
        assert_int_equal(cgalr_topo_rips(d1, k, 1, INFINITY, &a0, &a1), CGALR_OK);
        assert_int_equal(cgalr_topo_rips(d2, k, 1, INFINITY, &b0, &b1), CGALR_OK);
        if (kind == CGALR_DIST_WD)
            assert_int_equal(cgalr_topo_wasserstein1(&a1, &b1, &direct), CGALR_OK);
        else
            assert_int_equal(cgalr_topo_sliced_wasserstein(&a1, &b1, 50, &direct), CGALR_OK);
        cgalr_diagram_free(&a0);
        cgalr_diagram_free(&a1);
        cgalr_diagram_free(&b0);
        cgalr_diagram_free(&b1);
        free(d1);
        free(d2);
    }
    assert_true(d12 == direct);

    size_t size = 0;
    assert_int_equal(cgalr_topo_summary_save(&s1, NULL, &size), CGALR_OK);
    unsigned char *buf = malloc(size);
    size_t small = size - 1;
    assert_int_equal(cgalr_topo_summary_save(&s1, buf, &small), CGALR_EINVAL);
    assert_int_equal(cgalr_topo_summary_save(&s1, buf, &size), CGALR_OK);
    assert_int_equal(cgalr_topo_summary_load(buf, size, &s3), CGALR_OK);
    double d13;
    assert_int_equal(cgalr_topo_summary_distance(&c, &s3, &s2, &d13), CGALR_OK);
    assert_true(d13 == d12);
    assert_int_equal(cgalr_topo_summary_distance(&c, &s3, &s1, &d13), CGALR_OK);
    assert_true(d13 == 0.0);
    cgalr_topo_summary_free(&s3);

    /* every truncation of the blob is rejected, none crashes */
    for (size_t cut = 0; cut < size; cut += (cut < 64 ? 1 : 97))
        assert_int_not_equal(cgalr_topo_summary_load(buf, cut, &s3), CGALR_OK);
    free(buf);

    /* a summary of another kind or another p is refused */
    cgalr_topo_config_t other = c;
    other.kind = kind == CGALR_DIST_TOP ? CGALR_DIST_WD : CGALR_DIST_TOP;
    assert_int_equal(cgalr_topo_summary_distance(&other, &s1, &s2, &d12), CGALR_EINVAL);
    double *m3 = connectome_of(60, p - 1, 4);
    assert_int_equal(cgalr_topo_summarize(&c, m3, p - 1, &s3), CGALR_OK);
    assert_int_equal(cgalr_topo_summary_distance(&c, &s1, &s3, &d12), CGALR_EINVAL);
    cgalr_topo_summary_free(&s3);
    free(m3);

    cgalr_topo_summary_free(&s1);
    cgalr_topo_summary_free(&s2);
    free(m1);
    free(m2);
}

static void test_top_summary(void **state)
{
    (void)state;
    check_kind(CGALR_DIST_TOP, 40);
}

static void test_wd_summary(void **state)
{
    (void)state;
    check_kind(CGALR_DIST_WD, 40); /* subset of 24 out of 40 */
    check_kind(CGALR_DIST_WD, 12); /* all signals */
}

static void test_swk_summary(void **state)
{
    (void)state;
    check_kind(CGALR_DIST_SWK, 40);
}

static void put64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static void test_load_corrupt(void **state)
{
    (void)state;
    cgalr_topo_config_t c;
    cgalr_topo_config_default(&c, CGALR_DIST_TOP);
    double m[9] = {0, 0.5, 0.2, 0.5, 0, 0.3, 0.2, 0.3, 0};
    cgalr_topo_summary_t s, t;
    assert_int_equal(cgalr_topo_summarize(&c, m, 3, &s), CGALR_OK);
    size_t size = 0;
    assert_int_equal(cgalr_topo_summary_save(&s, NULL, &size), CGALR_OK);
    assert_int_equal(size, 40 + 3 * 8);
    unsigned char good[64], b[64];
    assert_int_equal(cgalr_topo_summary_save(&s, good, &size), CGALR_OK);

    memcpy(b, good, size);
    b[0] = 'X';
    assert_int_equal(cgalr_topo_summary_load(b, size, &t), CGALR_EFORMAT);
    assert_non_null(strstr(cgalr_last_error(), "magic"));
    memcpy(b, good, size);
    b[4] = 9; /* version */
    assert_int_equal(cgalr_topo_summary_load(b, size, &t), CGALR_EFORMAT);
    memcpy(b, good, size);
    b[8] = 5; /* kind */
    assert_int_equal(cgalr_topo_summary_load(b, size, &t), CGALR_EFORMAT);
    memcpy(b, good, size);
    put64(b + 16, (uint64_t)1 << 40); /* absurd p */
    assert_int_equal(cgalr_topo_summary_load(b, size, &t), CGALR_EFORMAT);
    memcpy(b, good, size);
    put64(b + 24, 3); /* births != p - 1 */
    assert_int_equal(cgalr_topo_summary_load(b, size, &t), CGALR_EFORMAT);
    double nan = NAN, two = 2.0, small = 0.1;
    memcpy(b, good, size);
    memcpy(b + 40, &nan, 8);
    assert_int_equal(cgalr_topo_summary_load(b, size, &t), CGALR_EFORMAT);
    memcpy(b, good, size);
    memcpy(b + 48, &two, 8);
    assert_int_equal(cgalr_topo_summary_load(b, size, &t), CGALR_EFORMAT);
    memcpy(b, good, size);
    memcpy(b + 48, &small, 8); /* births no longer ascending */
    assert_int_equal(cgalr_topo_summary_load(b, size, &t), CGALR_EFORMAT);
    assert_non_null(strstr(cgalr_last_error(), "ascending"));
    assert_null(t.barcode.births); /* left empty on failure */
    memcpy(b, good, size);
    assert_int_equal(cgalr_topo_summary_load(b, size + 8, &t), CGALR_EFORMAT); /* trailing bytes */
    assert_int_equal(cgalr_topo_summary_load(NULL, size, &t), CGALR_EINVAL);
    assert_int_equal(cgalr_topo_summary_load(good, size, NULL), CGALR_EINVAL);

    /* a diagram blob claiming more pairs than bytes */
    unsigned char d[40 + 16];
    memcpy(d, "CGTS", 4);
    put64(d + 4, 1u | ((uint64_t)CGALR_DIST_WD << 32));
    memset(d + 12, 0, 4);
    put64(d + 16, 10);
    put64(d + 24, (uint64_t)1 << 60);
    put64(d + 32, 0);
    assert_int_equal(cgalr_topo_summary_load(d, sizeof d, &t), CGALR_EFORMAT);
    put64(d + 24, 1);
    double pr[2] = {0.5, 0.25}; /* death < birth */
    memcpy(d + 40, pr, 16);
    assert_int_equal(cgalr_topo_summary_load(d, sizeof d, &t), CGALR_EFORMAT);
    pr[1] = 0.75;
    memcpy(d + 40, pr, 16);
    assert_int_equal(cgalr_topo_summary_load(d, sizeof d, &t), CGALR_OK);
    assert_int_equal(t.diagram.n, 1);
    assert_true(t.diagram.pairs[0].death == 0.75);
    cgalr_topo_summary_free(&t);
    put64(d + 24, 0); /* empty diagram: valid */
    assert_int_equal(cgalr_topo_summary_load(d, 40, &t), CGALR_OK);
    assert_int_equal(t.diagram.n, 0);
    cgalr_topo_summary_free(&t);

    cgalr_topo_summary_free(&s);
    cgalr_topo_summary_free(NULL);
}

static void test_bad_arguments(void **state)
{
    (void)state;
    cgalr_topo_config_t c;
    cgalr_topo_config_default(&c, CGALR_DIST_TOP);
    double m[4] = {0, 0.5, 0.5, 0}, d;
    cgalr_topo_summary_t s;
    assert_int_equal(cgalr_topo_summarize(NULL, m, 2, &s), CGALR_EINVAL);
    assert_int_equal(cgalr_topo_summarize(&c, NULL, 2, &s), CGALR_EINVAL);
    assert_int_equal(cgalr_topo_summarize(&c, m, 1, &s), CGALR_EINVAL);
    assert_int_equal(cgalr_topo_summarize(&c, m, 0, &s), CGALR_EINVAL);
    assert_int_equal(cgalr_topo_summarize(&c, m, 2, NULL), CGALR_EINVAL);
    c.kind = (cgalr_distance_kind_t)9;
    assert_int_equal(cgalr_topo_summarize(&c, m, 2, &s), CGALR_EINVAL);
    cgalr_topo_config_default(&c, CGALR_DIST_SWK);
    c.sw_directions = 0;
    assert_int_equal(cgalr_topo_summarize(&c, m, 2, &s), CGALR_EINVAL);
    cgalr_topo_config_default(&c, CGALR_DIST_WD);
    c.p_ph = 1;
    assert_int_equal(cgalr_topo_summarize(&c, m, 2, &s), CGALR_EINVAL);
    cgalr_topo_config_default(&c, CGALR_DIST_TOP);
    assert_int_equal(cgalr_topo_summarize(&c, m, 2, &s), CGALR_OK);
    assert_int_equal(cgalr_topo_summary_distance(NULL, &s, &s, &d), CGALR_EINVAL);
    assert_int_equal(cgalr_topo_summary_distance(&c, NULL, &s, &d), CGALR_EINVAL);
    assert_int_equal(cgalr_topo_summary_distance(&c, &s, NULL, &d), CGALR_EINVAL);
    assert_int_equal(cgalr_topo_summary_distance(&c, &s, &s, NULL), CGALR_EINVAL);
    size_t size;
    assert_int_equal(cgalr_topo_summary_save(NULL, NULL, &size), CGALR_EINVAL);
    assert_int_equal(cgalr_topo_summary_save(&s, NULL, NULL), CGALR_EINVAL);
    cgalr_topo_summary_free(&s);
    cgalr_topo_summary_t empty = {0};
    assert_int_equal(cgalr_topo_summary_save(&empty, NULL, &size), CGALR_EINVAL);
    m[1] = 0.7; /* asymmetric: the failure leaves the summary empty */
    assert_int_equal(cgalr_topo_summarize(&c, m, 2, &s), CGALR_EINVAL);
    assert_null(s.barcode.births);
    cgalr_topo_summary_free(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_and_names),
        cmocka_unit_test(test_subset),
        cmocka_unit_test(test_correlation_distance),
        cmocka_unit_test(test_top_summary),
        cmocka_unit_test(test_wd_summary),
        cmocka_unit_test(test_swk_summary),
        cmocka_unit_test(test_load_corrupt),
        cmocka_unit_test(test_bad_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
