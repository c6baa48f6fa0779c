/* Connectome: dense and streaming forms against a direct two-pass Pearson, dead units, large
 * offsets, float input, and every bad argument. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cgalr/rng.h"
#include "cgalr/topo.h"

#include "assert_near.h"

/* Independent reference: the textbook two-pass Pearson of one pair in long double. */
static double ref_corr(const double *a, size_t n, size_t p, size_t i, size_t j)
{
    long double mi = 0, mj = 0;
    for (size_t r = 0; r < n; r++) {
        mi += a[r * p + i];
        mj += a[r * p + j];
    }
    mi /= n;
    mj /= n;
    long double sij = 0, sii = 0, sjj = 0;
    for (size_t r = 0; r < n; r++) {
        long double x = a[r * p + i] - mi, y = a[r * p + j] - mj;
        sij += x * y;
        sii += x * x;
        sjj += y * y;
    }
    if (sii == 0 || sjj == 0)
        return 0.0;
    return (double)fabsl(sij / sqrtl(sii * sjj));
}

/* Correlated random activations: k latent factors plus noise, with an offset per column. */
static double *make_act(size_t n, size_t p, uint64_t seed, double offset)
{
    cgalr_rng_t r = cgalr_rng_init(seed, CGALR_STREAM_TEST);
    double *a = malloc(n * p * sizeof *a);
    double f[3];
    for (size_t i = 0; i < n; i++) {
        for (int k = 0; k < 3; k++)
            f[k] = cgalr_rng_normal(&r);
        for (size_t j = 0; j < p; j++)
            a[i * p + j] = offset * (double)(j + 1) + f[j % 3] * 0.7 + cgalr_rng_normal(&r);
    }
    return a;
}

static void check_against_ref(const double *a, size_t n, size_t p, const double *m, double tol)
{
    for (size_t i = 0; i < p; i++) {
        assert_true(m[i * p + i] == 0.0);
        for (size_t j = 0; j < p; j++) {
            assert_true(m[i * p + j] == m[j * p + i]);
            assert_true(m[i * p + j] >= 0.0 && m[i * p + j] <= 1.0);
            if (i != j) {
                double e = ref_corr(a, n, p, i, j);
                if (fabs(m[i * p + j] - e) > tol)
                    fail_msg("(%zu,%zu): %.17g vs reference %.17g", i, j, m[i * p + j], e);
            }
        }
    }
}

static void test_dense_matches_reference(void **state)
{
    (void)state;
    size_t n = 97, p = 23;
    double *a = make_act(n, p, 1, 0.0);
    double *m = malloc(p * p * sizeof *m);
    assert_int_equal(cgalr_topo_connectome_d(a, n, p, m), CGALR_OK);
    check_against_ref(a, n, p, m, 1e-13);
    free(a);
    free(m);
}

static void test_hand_example(void **state)
{
    (void)state;
    /* columns: x, 2x + 1 (corr 1), -x (|corr| 1), y with corr 0 to x */
    double a[4 * 4] = {1, 3, -1, 1, 2, 5, -2, -1, 3, 7, -3, -1, 4, 9, -4, 1};
    double m[16];
    assert_int_equal(cgalr_topo_connectome_d(a, 4, 4, m), CGALR_OK);
    assert_near(m[0 * 4 + 1], 1.0, 1e-15);
    assert_near(m[0 * 4 + 2], 1.0, 1e-15);
    assert_near(m[0 * 4 + 3], 0.0, 1e-15);
    assert_near(m[3 * 4 + 1], 0.0, 1e-15);
}

static void test_dead_units_are_zero(void **state)
{
    (void)state;
    size_t n = 50, p = 6;
    double *a = make_act(n, p, 2, 0.0);
    for (size_t i = 0; i < n; i++) {
        a[i * p + 2] = 0.1;  /* constant that is not exact in binary: its mean rounds */
        a[i * p + 5] = -7.0; /* a second dead unit */
    }
    double m[36];
    assert_int_equal(cgalr_topo_connectome_d(a, n, p, m), CGALR_OK);
    for (size_t j = 0; j < p; j++) {
        assert_true(m[2 * p + j] == 0.0 && m[j * p + 2] == 0.0);
        assert_true(m[5 * p + j] == 0.0 && m[j * p + 5] == 0.0);
    }
    assert_true(m[0 * p + 3] > 0.0);
    /* streaming agrees */
    cgalr_connectome_acc_t *acc;
    assert_int_equal(cgalr_topo_acc_create(p, &acc), CGALR_OK);
    assert_int_equal(cgalr_topo_acc_add_d(acc, a, 7), CGALR_OK);
    assert_int_equal(cgalr_topo_acc_add_d(acc, a + 7 * p, n - 7), CGALR_OK);
    double m2[36];
    assert_int_equal(cgalr_topo_acc_finish(acc, m2), CGALR_OK);
    for (size_t k = 0; k < p * p; k++)
        assert_near(m[k], m2[k], 1e-13);
    cgalr_topo_acc_free(acc);
    free(a);
}

static void test_float_input(void **state)
{
    (void)state;
    size_t n = 64, p = 9;
    double *a = make_act(n, p, 3, 0.0);
    float *af = malloc(n * p * sizeof *af);
    for (size_t k = 0; k < n * p; k++) {
        af[k] = (float)a[k];
        a[k] = (double)af[k]; /* the double reference sees the same rounded values */
    }
    double m[81], mf[81];
    assert_int_equal(cgalr_topo_connectome_d(a, n, p, m), CGALR_OK);
    assert_int_equal(cgalr_topo_connectome_f(af, n, p, mf), CGALR_OK);
    for (size_t k = 0; k < p * p; k++)
        assert_true(m[k] == mf[k]);
    cgalr_connectome_acc_t *acc;
    assert_int_equal(cgalr_topo_acc_create(p, &acc), CGALR_OK);
    assert_int_equal(cgalr_topo_acc_add_f(acc, af, n), CGALR_OK);
    assert_int_equal(cgalr_topo_acc_rows(acc), n);
    assert_int_equal(cgalr_topo_acc_finish(acc, mf), CGALR_OK);
    for (size_t k = 0; k < p * p; k++)
        assert_near(m[k], mf[k], 1e-13);
    cgalr_topo_acc_free(acc);
    free(a);
    free(af);
}

/* Streaming in uneven batches (1 row, odd sizes, a batch larger than the internal chunk), with a
 * large per-column offset that the naive sum-of-squares formula would cancel away. */
static void test_streaming_matches_dense(void **state)
{
    (void)state;
    size_t n = 700, p = 17;
    double *a = make_act(n, p, 4, 1e6);
    double *m = malloc(p * p * sizeof *m), *m2 = malloc(p * p * sizeof *m2);
    assert_int_equal(cgalr_topo_connectome_d(a, n, p, m), CGALR_OK);
    check_against_ref(a, n, p, m, 1e-10);
    cgalr_connectome_acc_t *acc;
    assert_int_equal(cgalr_topo_acc_create(p, &acc), CGALR_OK);
    size_t sizes[] = {1, 2, 33, 300, 0, 364};
    size_t r = 0;
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        assert_int_equal(cgalr_topo_acc_add_d(acc, a + r * p, sizes[k]), CGALR_OK);
        r += sizes[k];
    }
    assert_int_equal(r, n);
    assert_int_equal(cgalr_topo_acc_finish(acc, m2), CGALR_OK);
    for (size_t k = 0; k < p * p; k++)
        if (fabs(m[k] - m2[k]) > 1e-12)
            fail_msg("entry %zu: dense %.17g, streaming %.17g", k, m[k], m2[k]);
    /* reset, then the same data again gives the same answer */
    cgalr_topo_acc_reset(acc);
    assert_int_equal(cgalr_topo_acc_rows(acc), 0);
    assert_int_equal(cgalr_topo_acc_add_d(acc, a, n), CGALR_OK);
    assert_int_equal(cgalr_topo_acc_finish(acc, m2), CGALR_OK);
    for (size_t k = 0; k < p * p; k++)
        assert_near(m[k], m2[k], 1e-10);
    cgalr_topo_acc_free(acc);
    free(a);
    free(m);
    free(m2);
}

/* The mean jumps by 1e5 after the first batch: a scheme that fixes its shift on the first batch
 * would lose about ten digits to cancellation here. */
static void test_streaming_drifting_mean(void **state)
{
    (void)state;
    size_t n = 600, p = 9;
    double *a = make_act(n, p, 5, 0.0);
    for (size_t i = 100; i < n; i++)
        for (size_t j = 0; j < p; j++)
            a[i * p + j] += 1e5 * (double)(j + 1);
    double *m = malloc(p * p * sizeof *m), *m2 = malloc(p * p * sizeof *m2);
    assert_int_equal(cgalr_topo_connectome_d(a, n, p, m), CGALR_OK);
    check_against_ref(a, n, p, m, 1e-10);
    cgalr_connectome_acc_t *acc;
    assert_int_equal(cgalr_topo_acc_create(p, &acc), CGALR_OK);
    assert_int_equal(cgalr_topo_acc_add_d(acc, a, 100), CGALR_OK);
    for (size_t r = 100; r < n; r += 50)
        assert_int_equal(cgalr_topo_acc_add_d(acc, a + r * p, 50), CGALR_OK);
    assert_int_equal(cgalr_topo_acc_finish(acc, m2), CGALR_OK);
    check_against_ref(a, n, p, m2, 1e-11);
    cgalr_topo_acc_free(acc);
    free(a);
    free(m);
    free(m2);
}

static void test_p_one_and_two_rows(void **state)
{
    (void)state;
    double a[2] = {1.0, 2.0};
    double m[1];
    assert_int_equal(cgalr_topo_connectome_d(a, 2, 1, m), CGALR_OK);
    assert_true(m[0] == 0.0);
    double b[4] = {0, 0, 1, 1}; /* two rows, two perfectly correlated columns */
    double mb[4];
    assert_int_equal(cgalr_topo_connectome_d(b, 2, 2, mb), CGALR_OK);
    assert_near(mb[1], 1.0, 1e-15);
}

static void test_nonfinite_names_row_and_column(void **state)
{
    (void)state;
    size_t n = 5, p = 4;
    double a[20] = {0};
    for (size_t k = 0; k < 20; k++)
        a[k] = (double)(k * k % 7);
    a[3 * p + 2] = NAN;
    double m[16];
    assert_int_equal(cgalr_topo_connectome_d(a, n, p, m), CGALR_ENONFINITE);
    assert_non_null(strstr(cgalr_last_error(), "row 3, column 2"));
    a[3 * p + 2] = 1.0;
    a[1 * p + 0] = INFINITY;
    float af[20];
    for (size_t k = 0; k < 20; k++)
        af[k] = (float)a[k];
    assert_int_equal(cgalr_topo_connectome_f(af, n, p, m), CGALR_ENONFINITE);
    assert_non_null(strstr(cgalr_last_error(), "row 1, column 0"));
    /* streaming: rows count from the first row ever added */
    cgalr_connectome_acc_t *acc;
    assert_int_equal(cgalr_topo_acc_create(p, &acc), CGALR_OK);
    assert_int_equal(cgalr_topo_acc_add_d(acc, a + 2 * p, 2), CGALR_OK);
    assert_int_equal(cgalr_topo_acc_add_d(acc, a, 2), CGALR_ENONFINITE);
    assert_non_null(strstr(cgalr_last_error(), "row 3, column 0"));
    assert_int_equal(cgalr_topo_acc_rows(acc), 2); /* the bad batch was not taken */
    assert_int_equal(cgalr_topo_acc_add_f(acc, af, 2), CGALR_ENONFINITE);
    cgalr_topo_acc_free(acc);
}

/* Finite but huge activations overflow the sums of squares: an error, never NaN in the output. */
static void test_overflow_is_an_error(void **state)
{
    (void)state;
    double a[8] = {1, 1e200, 2, -1e200, 3, 1e200, 4, 5};
    double m[4];
    assert_int_equal(cgalr_topo_connectome_d(a, 4, 2, m), CGALR_ENONFINITE);
    assert_non_null(strstr(cgalr_last_error(), "column 1"));
    cgalr_connectome_acc_t *acc;
    assert_int_equal(cgalr_topo_acc_create(2, &acc), CGALR_OK);
    assert_int_equal(cgalr_topo_acc_add_d(acc, a, 4), CGALR_OK);
    assert_int_equal(cgalr_topo_acc_finish(acc, m), CGALR_ENONFINITE);
    cgalr_topo_acc_free(acc);
    double b[4] = {1e308, 1, -1e308, 2}; /* the rows' difference itself overflows */
    assert_int_equal(cgalr_topo_connectome_d(b, 2, 2, m), CGALR_ENONFINITE);
    assert_non_null(strstr(cgalr_last_error(), "column 0"));
    assert_int_equal(cgalr_topo_acc_create(2, &acc), CGALR_OK);
    assert_int_equal(cgalr_topo_acc_add_d(acc, b, 1), CGALR_OK);
    assert_int_equal(cgalr_topo_acc_add_d(acc, b + 2, 1), CGALR_ENONFINITE);
    assert_int_equal(cgalr_topo_acc_rows(acc), 1); /* the bad row was not taken */
    cgalr_topo_acc_free(acc);
    /* an exactly constant column is dead whatever its magnitude: 0, not an overflow */
    double c[6] = {1e308, 1, 1e308, 2, 1e308, 4};
    assert_int_equal(cgalr_topo_connectome_d(c, 3, 2, m), CGALR_OK);
    assert_true(m[1] == 0.0 && m[2] == 0.0);
}

static void test_bad_arguments(void **state)
{
    (void)state;
    double a[6] = {1, 2, 3, 4, 5, 6}, m[9];
    float af[6] = {1, 2, 3, 4, 5, 6};
    assert_int_equal(cgalr_topo_connectome_d(NULL, 2, 3, m), CGALR_EINVAL);
    assert_int_equal(cgalr_topo_connectome_d(a, 2, 3, NULL), CGALR_EINVAL);
    assert_int_equal(cgalr_topo_connectome_d(a, 2, 0, m), CGALR_EINVAL);
    assert_int_equal(cgalr_topo_connectome_d(a, 1, 3, m), CGALR_EINVAL);
    assert_non_null(strstr(cgalr_last_error(), "n = 1"));
    assert_int_equal(cgalr_topo_connectome_d(a, 0, 3, m), CGALR_EINVAL);
    assert_int_equal(cgalr_topo_connectome_f(NULL, 2, 3, m), CGALR_EINVAL);
    assert_int_equal(cgalr_topo_connectome_f(af, 1, 3, m), CGALR_EINVAL);
    assert_int_equal(cgalr_topo_connectome_d(a, SIZE_MAX / 2, 3, m), CGALR_EINVAL);

    cgalr_connectome_acc_t *acc = (cgalr_connectome_acc_t *)a;
    assert_int_equal(cgalr_topo_acc_create(0, &acc), CGALR_EINVAL);
    assert_null(acc);
    assert_int_equal(cgalr_topo_acc_create(3, NULL), CGALR_EINVAL);
    assert_int_equal(cgalr_topo_acc_create(SIZE_MAX / 4, &acc), CGALR_EINVAL);
    assert_int_equal(cgalr_topo_acc_create(3, &acc), CGALR_OK);
    assert_int_equal(cgalr_topo_acc_finish(acc, m), CGALR_ESTATE); /* no rows yet */
    assert_int_equal(cgalr_topo_acc_add_d(acc, a, 1), CGALR_OK);
    assert_int_equal(cgalr_topo_acc_finish(acc, m), CGALR_ESTATE); /* one row */
    assert_int_equal(cgalr_topo_acc_add_d(acc, NULL, 1), CGALR_EINVAL);
    assert_int_equal(cgalr_topo_acc_add_f(acc, NULL, 1), CGALR_EINVAL);
    assert_int_equal(cgalr_topo_acc_add_d(NULL, a, 1), CGALR_EINVAL);
    assert_int_equal(cgalr_topo_acc_add_d(acc, NULL, 0), CGALR_OK); /* nothing to add */
    assert_int_equal(cgalr_topo_acc_finish(NULL, m), CGALR_EINVAL);
    assert_int_equal(cgalr_topo_acc_finish(acc, NULL), CGALR_EINVAL);
    assert_int_equal(cgalr_topo_acc_rows(NULL), 0);
    cgalr_topo_acc_reset(NULL);
    cgalr_topo_acc_free(acc);
    cgalr_topo_acc_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dense_matches_reference),
        cmocka_unit_test(test_hand_example),
        cmocka_unit_test(test_dead_units_are_zero),
        cmocka_unit_test(test_float_input),
        cmocka_unit_test(test_streaming_matches_dense),
        cmocka_unit_test(test_streaming_drifting_mean),
        cmocka_unit_test(test_p_one_and_two_rows),
        cmocka_unit_test(test_nonfinite_names_row_and_column),
        cmocka_unit_test(test_overflow_is_an_error),
        cmocka_unit_test(test_bad_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
