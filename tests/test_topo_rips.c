/* Rips persistence on hand-checked cases (square, pentagon, 1-2 points, duplicates, thresholds),
 * invariance under relabelling, the cache-eviction path, diagram helpers and bad input. */
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
#include "cgalr/topo.h"

size_t cgalr_topo_rips_cache_budget_(size_t entries); /* internal test hook in rips.c */

static void expect_pairs(const cgalr_diagram_t *d, const double (*want)[2], size_t n)
{
    assert_int_equal(d->n, n);
    for (size_t i = 0; i < n; i++) {
        assert_float_equal(d->pairs[i].birth, want[i][0], 1e-15);
        if (isinf(want[i][1]))
            assert_true(isinf(d->pairs[i].death) && d->pairs[i].death > 0);
        else
            assert_float_equal(d->pairs[i].death, want[i][1], 1e-15);
    }
}

/* The diagrams of the unit square's corners: three edges of length 1 merge the four points, one
 * loop is born at 1 and dies at the diagonal sqrt 2. Frees both. */
static void expect_unit_square(cgalr_diagram_t *d0, cgalr_diagram_t *d1)
{
    const double w0[][2] = {{0, 1}, {0, 1}, {0, 1}, {0, INFINITY}};
    const double w1[][2] = {{1, sqrt(2.0)}};
    expect_pairs(d0, w0, 4);
    expect_pairs(d1, w1, 1);
    cgalr_diagram_free(d0);
    cgalr_diagram_free(d1);
}

static void points_dist(const double *x, size_t p, size_t dim, double *d)
{
    for (size_t i = 0; i < p; i++)
        for (size_t j = 0; j < p; j++) {
            double s = 0;
            for (size_t k = 0; k < dim; k++)
                s += (x[i * dim + k] - x[j * dim + k]) * (x[i * dim + k] - x[j * dim + k]);
            d[i * p + j] = sqrt(s);
        }
}

static void square(void **state)
{
    (void)state;
    double s2 = sqrt(2.0);
    /* corners 0-1-2-3 in order: sides 1, diagonals sqrt 2 */
    double d[16] = {0, 1, s2, 1, 1, 0, 1, s2, s2, 1, 0, 1, 1, s2, 1, 0};
    cgalr_diagram_t d0, d1;
    assert_int_equal(cgalr_topo_rips(d, 4, 1, INFINITY, &d0, &d1), CGALR_OK);
    expect_unit_square(&d0, &d1);
    /* a threshold between side and diagonal: the loop never dies */
    assert_int_equal(cgalr_topo_rips(d, 4, 1, 1.2, &d0, &d1), CGALR_OK);
    const double w0[][2] = {{0, 1}, {0, 1}, {0, 1}, {0, INFINITY}};
    const double w1t[][2] = {{1, INFINITY}};
    expect_pairs(&d0, w0, 4);
    expect_pairs(&d1, w1t, 1);
    cgalr_diagram_free(&d0);
    cgalr_diagram_free(&d1);
    /* below every edge: four points that never meet */
    assert_int_equal(cgalr_topo_rips(d, 4, 1, 0.5, &d0, &d1), CGALR_OK);
    const double w0t[][2] = {{0, INFINITY}, {0, INFINITY}, {0, INFINITY}, {0, INFINITY}};
    expect_pairs(&d0, w0t, 4);
    assert_int_equal(d1.n, 0);
    assert_null(d1.pairs);
    cgalr_diagram_free(&d0);
    cgalr_diagram_free(&d1);
    /* maxdim 0 needs no dgm1 */
    assert_int_equal(cgalr_topo_rips(d, 4, 0, INFINITY, &d0, NULL), CGALR_OK);
    expect_pairs(&d0, w0, 4);
    cgalr_diagram_free(&d0);
}

static void pentagon(void **state)
{
    (void)state;
    double x[10], d[25];
    for (int i = 0; i < 5; i++) {
        x[2 * i] = cos(2 * M_PI * i / 5);
        x[2 * i + 1] = sin(2 * M_PI * i / 5);
    }
    points_dist(x, 5, 2, d);
    /* make the two lengths exact ties so the test does not hang on rounding */
    double side = d[1], diag = d[2];
    for (int i = 0; i < 5; i++)
        for (int j = 0; j < 5; j++)
            if (i != j)
                d[i * 5 + j] = ((i - j + 5) % 5 == 1 || (j - i + 5) % 5 == 1) ? side : diag;
    cgalr_diagram_t d0, d1;
    assert_int_equal(cgalr_topo_rips(d, 5, 1, INFINITY, &d0, &d1), CGALR_OK);
    const double w0[][2] = {{0, side}, {0, side}, {0, side}, {0, side}, {0, INFINITY}};
    const double w1[][2] = {{side, diag}};
    expect_pairs(&d0, w0, 5);
    expect_pairs(&d1, w1, 1);
    cgalr_diagram_free(&d0);
    cgalr_diagram_free(&d1);
}

static void tiny_and_duplicates(void **state)
{
    (void)state;
    cgalr_diagram_t d0, d1;
    double one = 7; /* the diagonal is ignored */
    assert_int_equal(cgalr_topo_rips(&one, 1, 1, INFINITY, &d0, &d1), CGALR_OK);
    const double w1p[][2] = {{0, INFINITY}};
    expect_pairs(&d0, w1p, 1);
    assert_int_equal(d1.n, 0);
    cgalr_diagram_free(&d0);
    cgalr_diagram_free(&d1);

    double two[4] = {0, 2.5, 2.5, 0};
    assert_int_equal(cgalr_topo_rips(two, 2, 1, INFINITY, &d0, &d1), CGALR_OK);
    const double w2[][2] = {{0, 2.5}, {0, INFINITY}};
    expect_pairs(&d0, w2, 2);
    assert_int_equal(d1.n, 0);
    cgalr_diagram_free(&d0);
    cgalr_diagram_free(&d1);

    /* the square with vertex 0 doubled: the zero-length merge is dropped, H1 is unchanged */
    double s2 = sqrt(2.0);
    double sq[4][4] = {{0, 1, s2, 1}, {1, 0, 1, s2}, {s2, 1, 0, 1}, {1, s2, 1, 0}};
    int map[5] = {0, 1, 2, 3, 0};
    double d[25];
    for (int i = 0; i < 5; i++)
        for (int j = 0; j < 5; j++)
            d[i * 5 + j] = sq[map[i]][map[j]];
    assert_int_equal(cgalr_topo_rips(d, 5, 1, INFINITY, &d0, &d1), CGALR_OK);
    expect_unit_square(&d0, &d1);

    /* all points equal: one class, nothing else */
    double z[9] = {0};
    assert_int_equal(cgalr_topo_rips(z, 3, 1, INFINITY, &d0, &d1), CGALR_OK);
    expect_pairs(&d0, w1p, 1);
    assert_int_equal(d1.n, 0);
    cgalr_diagram_free(&d0);
    cgalr_diagram_free(&d1);
}

static void same_diagram(const cgalr_diagram_t *a, const cgalr_diagram_t *b)
{
    assert_int_equal(a->n, b->n);
    for (size_t i = 0; i < a->n; i++) {
        assert_true(a->pairs[i].birth == b->pairs[i].birth);
        assert_true(a->pairs[i].death == b->pairs[i].death);
    }
}

static void relabel_and_cache(void **state)
{
    (void)state;
    enum { P = 40, DIM = 4 };
    cgalr_rng_t rng = cgalr_rng_init(11, CGALR_STREAM_TEST);
    double x[P * DIM], d[P * P], dp[P * P];
    size_t perm[P];
    for (size_t i = 0; i < P * DIM; i++)
        x[i] = cgalr_rng_normal(&rng);
    points_dist(x, P, DIM, d);
    for (size_t i = 0; i < P; i++)
        perm[i] = i;
    cgalr_rng_shuffle(&rng, perm, P);
    for (size_t i = 0; i < P; i++)
        for (size_t j = 0; j < P; j++)
            dp[i * P + j] = d[perm[i] * P + perm[j]];
    cgalr_diagram_t a0, a1, b0, b1, c0, c1;
    assert_int_equal(cgalr_topo_rips(d, P, 1, INFINITY, &a0, &a1), CGALR_OK);
    assert_int_equal(cgalr_topo_rips(dp, P, 1, INFINITY, &b0, &b1), CGALR_OK);
    assert_true(a1.n >= 3); /* a random cloud of 40 points in R^4 has loops */
    same_diagram(&a0, &b0);
    same_diagram(&a1, &b1);
    for (size_t i = 1; i < a1.n; i++) /* sorted by (birth, death) */
        assert_true(a1.pairs[i - 1].birth < a1.pairs[i].birth ||
                    (a1.pairs[i - 1].birth == a1.pairs[i].birth && a1.pairs[i - 1].death <= a1.pairs[i].death));
    for (size_t i = 0; i < a1.n; i++)
        assert_true(a1.pairs[i].death > a1.pairs[i].birth);
    /* dropping the coboundary cache before every reduced column changes nothing */
    size_t old = cgalr_topo_rips_cache_budget_(1);
    assert_int_equal(cgalr_topo_rips(d, P, 1, INFINITY, &c0, &c1), CGALR_OK);
    cgalr_topo_rips_cache_budget_(old);
    same_diagram(&a0, &c0);
    same_diagram(&a1, &c1);
    cgalr_diagram_free(&a0);
    cgalr_diagram_free(&a1);
    cgalr_diagram_free(&b0);
    cgalr_diagram_free(&b1);
    cgalr_diagram_free(&c0);
    cgalr_diagram_free(&c1);
}

static void diagram_helpers(void **state)
{
    (void)state;
    cgalr_diagram_free(NULL);
    cgalr_diagram_sort(NULL);
    cgalr_diagram_t e = {0, NULL};
    cgalr_diagram_sort(&e);
    cgalr_diagram_free(&e);
    cgalr_diagram_t d = {4, malloc(4 * sizeof(cgalr_pair_t))};
    assert_non_null(d.pairs);
    d.pairs[0] = (cgalr_pair_t){2, 3};
    d.pairs[1] = (cgalr_pair_t){1, INFINITY};
    d.pairs[2] = (cgalr_pair_t){1, 5};
    d.pairs[3] = (cgalr_pair_t){0.5, 9};
    cgalr_diagram_sort(&d);
    assert_true(d.pairs[0].birth == 0.5 && d.pairs[1].death == 5 && isinf(d.pairs[2].death) && d.pairs[3].birth == 2);
    cgalr_diagram_free(&d);
    assert_null(d.pairs);
    assert_int_equal(d.n, 0);
}

static void expect_error(const double *dist, size_t p, int maxdim, double thr, int with1, cgalr_status_t want,
                         const char *needle)
{
    cgalr_diagram_t d0 = {3, (cgalr_pair_t *)&d0}, d1 = {3, (cgalr_pair_t *)&d1}; /* garbage in */
    cgalr_status_t st = cgalr_topo_rips(dist, p, maxdim, thr, &d0, with1 ? &d1 : NULL);
    assert_int_equal(st, want);
    assert_non_null(strstr(cgalr_last_error(), needle));
    assert_int_equal(d0.n, 0); /* left empty, safe to free */
    assert_null(d0.pairs);
    if (with1) {
        assert_int_equal(d1.n, 0);
        assert_null(d1.pairs);
    }
}

static void bad_input(void **state)
{
    (void)state;
    double d[9] = {0, 1, 2, 1, 0, 1, 2, 1, 0};
    cgalr_diagram_t d1;
    expect_error(NULL, 3, 1, INFINITY, 1, CGALR_EINVAL, "NULL");
    assert_int_equal(cgalr_topo_rips(d, 3, 1, INFINITY, NULL, &d1), CGALR_EINVAL);
    expect_error(d, 0, 1, INFINITY, 1, CGALR_EINVAL, "p = 0");
    expect_error(d, 100000, 1, INFINITY, 1, CGALR_EINVAL, "at most");
    expect_error(d, 3, 2, INFINITY, 1, CGALR_EINVAL, "maxdim = 2");
    expect_error(d, 3, -1, INFINITY, 1, CGALR_EINVAL, "maxdim = -1");
    expect_error(d, 3, 1, INFINITY, 0, CGALR_EINVAL, "dgm1 is NULL");
    expect_error(d, 3, 1, NAN, 1, CGALR_EINVAL, "threshold");
    double e[9];
    memcpy(e, d, sizeof e);
    e[5] = NAN;
    expect_error(e, 3, 1, INFINITY, 1, CGALR_ENONFINITE, "(1, 2)");
    memcpy(e, d, sizeof e);
    e[3] = INFINITY;
    expect_error(e, 3, 1, INFINITY, 1, CGALR_ENONFINITE, "(1, 0)");
    memcpy(e, d, sizeof e);
    e[2] = e[6] = -1;
    expect_error(e, 3, 1, INFINITY, 1, CGALR_EINVAL, ">= 0");
    memcpy(e, d, sizeof e);
    e[7] = 1.001;
    expect_error(e, 3, 1, INFINITY, 1, CGALR_EINVAL, "symmetric");
    /* within 1e-12 relative is accepted */
    e[7] = 1 + 1e-14;
    cgalr_diagram_t d0;
    assert_int_equal(cgalr_topo_rips(e, 3, 1, INFINITY, &d0, &d1), CGALR_OK);
    cgalr_diagram_free(&d0);
    cgalr_diagram_free(&d1);
    /* the diagonal is ignored, NaN or not */
    memcpy(e, d, sizeof e);
    e[4] = NAN;
    assert_int_equal(cgalr_topo_rips(e, 3, 1, INFINITY, &d0, &d1), CGALR_OK);
    assert_int_equal(d0.n, 3);
    cgalr_diagram_free(&d0);
    cgalr_diagram_free(&d1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(square),         cmocka_unit_test(pentagon),       cmocka_unit_test(tiny_and_duplicates),
        cmocka_unit_test(relabel_and_cache), cmocka_unit_test(diagram_helpers), cmocka_unit_test(bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
