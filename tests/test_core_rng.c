/* Counter-based generator and error messages: determinism, ranges, a permutation, moments. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cgalr/rng.h"
#include "cgalr/status.h"

static void same_seed_same_stream(void **state)
{
    (void)state;
    cgalr_rng_t a = cgalr_rng_init(42, CGALR_STREAM_TEST), b = cgalr_rng_init(42, CGALR_STREAM_TEST);
    cgalr_rng_t c = cgalr_rng_init(42, CGALR_STREAM_SHUFFLE), d = cgalr_rng_init(43, CGALR_STREAM_TEST);
    int differ_c = 0, differ_d = 0;
    for (int i = 0; i < 100; i++) {
        uint64_t x = cgalr_rng_u64(&a);
        assert_true(x == cgalr_rng_u64(&b));
        differ_c += x != cgalr_rng_u64(&c);
        differ_d += x != cgalr_rng_u64(&d);
    }
    assert_int_equal(differ_c, 100);
    assert_int_equal(differ_d, 100);
    /* Resuming from a saved (key, counter) continues the same sequence. */
    cgalr_rng_t saved = a;
    uint64_t next = cgalr_rng_u64(&a);
    assert_true(next == cgalr_rng_u64(&saved));
}

static void ranges_and_moments(void **state)
{
    (void)state;
    cgalr_rng_t r = cgalr_rng_init(7, CGALR_STREAM_TEST);
    enum { N = 200000 };
    double s = 0, s2 = 0, ns = 0, ns2 = 0;
    int hist[7] = {0};
    for (int i = 0; i < N; i++) {
        double u = cgalr_rng_uniform(&r);
        float f = cgalr_rng_uniformf(&r);
        assert_true(u >= 0 && u < 1);
        assert_true(f >= 0 && f < 1);
        s += u;
        s2 += u * u;
        uint64_t k = cgalr_rng_below(&r, 7);
        assert_true(k < 7);
        hist[k]++;
        double z = cgalr_rng_normal(&r);
        assert_true(isfinite(z));
        ns += z;
        ns2 += z * z;
    }
    assert_true(fabs(s / N - 0.5) < 0.005);
    assert_true(fabs(s2 / N - 1.0 / 3) < 0.005);
    assert_true(fabs(ns / N) < 0.01);
    assert_true(fabs(ns2 / N - 1) < 0.02);
    for (int k = 0; k < 7; k++)
        assert_true(fabs(hist[k] / (double)N - 1.0 / 7) < 0.005);
}

static void shuffle_is_permutation(void **state)
{
    (void)state;
    cgalr_rng_t r = cgalr_rng_init(1, CGALR_STREAM_TEST);
    size_t idx[100];
    int seen[100] = {0}, moved = 0;
    for (size_t i = 0; i < 100; i++)
        idx[i] = i;
    cgalr_rng_shuffle(&r, idx, 100);
    for (size_t i = 0; i < 100; i++) {
        assert_true(idx[i] < 100);
        seen[idx[i]]++;
        moved += idx[i] != i;
    }
    for (int i = 0; i < 100; i++)
        assert_int_equal(seen[i], 1);
    assert_true(moved > 80);
    cgalr_rng_shuffle(&r, idx, 0); /* no-op, no crash */
}

static void error_messages(void **state)
{
    (void)state;
    cgalr_clear_error();
    assert_string_equal(cgalr_last_error(), "");
    assert_int_equal(cgalr_fail(CGALR_EINVAL, "p = %d", 1), CGALR_EINVAL);
    assert_string_equal(cgalr_last_error(), "p = 1");
    assert_string_equal(cgalr_status_name(CGALR_EFORMAT), "malformed input");
    char big[4000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = 0;
    cgalr_fail(CGALR_EIO, "%s", big); /* truncated, never overflows */
    assert_true(strlen(cgalr_last_error()) < 1024);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(same_seed_same_stream),
        cmocka_unit_test(ranges_and_moments),
        cmocka_unit_test(shuffle_is_permutation),
        cmocka_unit_test(error_messages),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
