/* Barcode and TOP: births against a brute-force Kruskal maximum spanning tree, deaths against the
 * sorted complement, TOP's metric properties, ties, relabelling, and every bad argument. */
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

static double *rand_connectome(size_t p, cgalr_rng_t *r, int levels)
{
    double *m = malloc(p * p * sizeof *m);
    for (size_t i = 0; i < p; i++) {
        m[i * p + i] = 0.0;
        for (size_t j = i + 1; j < p; j++) {
            /* levels > 0 quantises the weights so ties are everywhere */
            double v = levels > 0 ? (double)cgalr_rng_below(r, (uint64_t)levels + 1) / levels
                                  : cgalr_rng_uniform(r);
            m[i * p + j] = m[j * p + i] = v;
        }
    }
    return m;
}

typedef struct {
    double w;
    size_t i, j;
} edge;

static int edge_desc(const void *a, const void *b)
{
    double x = ((const edge *)a)->w, y = ((const edge *)b)->w;
    return (x < y) - (x > y);
}

static int dbl_asc(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static size_t find(size_t *uf, size_t x)
{
    while (uf[x] != x)
        x = uf[x] = uf[uf[x]];
    return x;
}

/* Oracle: Kruskal on the edges sorted by descending weight, with union-find. */
static void oracle(const double *m, size_t p, double *births, double *deaths)
{
    size_t ne = p * (p - 1) / 2, k = 0, nb = 0, nd = 0;
    edge *e = malloc(ne * sizeof *e);
    size_t *uf = malloc(p * sizeof *uf);
    for (size_t i = 0; i < p; i++) {
        uf[i] = i;
        for (size_t j = i + 1; j < p; j++)
            e[k++] = (edge){m[i * p + j], i, j};
    }
    qsort(e, ne, sizeof *e, edge_desc);
    for (size_t t = 0; t < ne; t++) {
        size_t a = find(uf, e[t].i), b = find(uf, e[t].j);
        if (a != b) {
            uf[a] = b;
            births[nb++] = e[t].w;
        } else {
            deaths[nd++] = e[t].w;
        }
    }
    qsort(births, nb, sizeof *births, dbl_asc);
    qsort(deaths, nd, sizeof *deaths, dbl_asc);
    free(e);
    free(uf);
}

static void check_against_oracle(const double *m, size_t p)
{
    cgalr_barcode_t b;
    assert_int_equal(cgalr_topo_barcode(m, p, &b), CGALR_OK);
    assert_int_equal(b.p, p);
    assert_int_equal(b.n_births, p - 1);
    assert_int_equal(b.n_deaths, (p - 1) * (p - 2) / 2);
    double *eb = malloc(p * sizeof *eb), *ed = malloc((p * p / 2 + 1) * sizeof *ed);
    oracle(m, p, eb, ed);
    for (size_t k = 0; k < b.n_births; k++)
        if (b.births[k] != eb[k])
            fail_msg("p=%zu birth %zu: %.17g vs oracle %.17g", p, k, b.births[k], eb[k]);
    for (size_t k = 0; k < b.n_deaths; k++)
        if (b.deaths[k] != ed[k])
            fail_msg("p=%zu death %zu: %.17g vs oracle %.17g", p, k, b.deaths[k], ed[k]);
    free(eb);
    free(ed);
    cgalr_barcode_free(&b);
}

static void test_against_kruskal(void **state)
{
    (void)state;
    cgalr_rng_t r = cgalr_rng_init(11, CGALR_STREAM_TEST);
    size_t sizes[] = {2, 3, 4, 5, 9, 31, 64, 150};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        for (int levels = 0; levels <= 3; levels += 3) { /* continuous, then heavy ties */
            double *m = rand_connectome(sizes[s], &r, levels);
            check_against_oracle(m, sizes[s]);
            free(m);
        }
    }
}

static void test_structured(void **state)
{
    (void)state;
    size_t p = 40;
    double *m = calloc(p * p, sizeof *m);
    /* all zeros (every unit dead), then two blocks, then all ones */
    check_against_oracle(m, p);
    for (size_t i = 0; i < p; i++)
        for (size_t j = 0; j < p; j++)
            if (i != j)
                m[i * p + j] = (i < p / 2) == (j < p / 2) ? 0.9 : 0.1;
    check_against_oracle(m, p);
    for (size_t i = 0; i < p; i++)
        for (size_t j = 0; j < p; j++)
            m[i * p + j] = i == j ? 0.0 : 1.0;
    check_against_oracle(m, p);
    /* -0.0 entries are zeros, not the largest values */
    m[1] = m[p] = -0.0;
    cgalr_barcode_t b;
    assert_int_equal(cgalr_topo_barcode(m, p, &b), CGALR_OK);
    assert_true(b.deaths[0] == 0.0 && !signbit(b.deaths[0]));
    assert_true(b.deaths[b.n_deaths - 1] == 1.0);
    cgalr_barcode_free(&b);
    free(m);
}

/* Weights crowded within 1e-9 of each other share every bit the radix passes look at: the sort's
 * insertion finish runs out of budget and its fallback must still sort exactly. */
static void test_crowded_weights(void **state)
{
    (void)state;
    cgalr_rng_t r = cgalr_rng_init(13, CGALR_STREAM_TEST);
    size_t p = 120;
    double *m = malloc(p * p * sizeof *m);
    for (size_t i = 0; i < p; i++) {
        m[i * p + i] = 0.0;
        for (size_t j = i + 1; j < p; j++)
            m[i * p + j] = m[j * p + i] = 0.5 + 1e-9 * cgalr_rng_uniform(&r);
    }
    check_against_oracle(m, p);
    free(m);
}

static void test_top_properties(void **state)
{
    (void)state;
    cgalr_rng_t r = cgalr_rng_init(12, CGALR_STREAM_TEST);
    size_t p = 37;
    for (int trial = 0; trial < 20; trial++) {
        double *m[3];
        cgalr_barcode_t b[3];
        for (int k = 0; k < 3; k++) {
            m[k] = rand_connectome(p, &r, trial % 4 == 0 ? 5 : 0);
            assert_int_equal(cgalr_topo_barcode(m[k], p, &b[k]), CGALR_OK);
        }
        double d00, d01, d10, d12, d02;
        assert_int_equal(cgalr_topo_top(&b[0], &b[0], &d00), CGALR_OK);
        assert_true(d00 == 0.0);
        assert_int_equal(cgalr_topo_top(&b[0], &b[1], &d01), CGALR_OK);
        assert_int_equal(cgalr_topo_top(&b[1], &b[0], &d10), CGALR_OK);
        assert_true(d01 == d10 && d01 > 0.0);
        assert_int_equal(cgalr_topo_top(&b[1], &b[2], &d12), CGALR_OK);
        assert_int_equal(cgalr_topo_top(&b[0], &b[2], &d02), CGALR_OK);
        assert_true(sqrt(d02) <= sqrt(d01) + sqrt(d12) + 1e-12);

        /* relabelling the nodes of m[0] changes nothing */
        size_t *perm = malloc(p * sizeof *perm);
        for (size_t i = 0; i < p; i++)
            perm[i] = i;
        cgalr_rng_shuffle(&r, perm, p);
        double *q = malloc(p * p * sizeof *q);
        for (size_t i = 0; i < p; i++)
            for (size_t j = 0; j < p; j++)
                q[perm[i] * p + perm[j]] = m[0][i * p + j];
        cgalr_barcode_t bq;
        assert_int_equal(cgalr_topo_barcode(q, p, &bq), CGALR_OK);
        double dq;
        assert_int_equal(cgalr_topo_top(&b[0], &bq, &dq), CGALR_OK);
        assert_true(dq == 0.0);
        cgalr_barcode_free(&bq);
        free(q);
        free(perm);
        for (int k = 0; k < 3; k++) {
            cgalr_barcode_free(&b[k]);
            free(m[k]);
        }
    }
}

static void test_top_hand_value(void **state)
{
    (void)state;
    /* p = 3: births are the two largest weights, the death the smallest */
    double a[9] = {0, 0.9, 0.2, 0.9, 0, 0.5, 0.2, 0.5, 0};
    double b[9] = {0, 0.1, 0.3, 0.1, 0, 0.4, 0.3, 0.4, 0};
    cgalr_barcode_t ba, bb;
    assert_int_equal(cgalr_topo_barcode(a, 3, &ba), CGALR_OK);
    assert_int_equal(cgalr_topo_barcode(b, 3, &bb), CGALR_OK);
    assert_true(ba.births[0] == 0.5 && ba.births[1] == 0.9 && ba.deaths[0] == 0.2);
    double d;
    assert_int_equal(cgalr_topo_top(&ba, &bb, &d), CGALR_OK);
    double e = (0.5 - 0.3) * (0.5 - 0.3) + (0.9 - 0.4) * (0.9 - 0.4) + (0.2 - 0.1) * (0.2 - 0.1);
    assert_near(d, e, 1e-15);
    cgalr_barcode_free(&ba);
    cgalr_barcode_free(&bb);
    /* p = 2: one birth, no deaths */
    double c[4] = {0, 0.25, 0.25, 0};
    assert_int_equal(cgalr_topo_barcode(c, 2, &ba), CGALR_OK);
    assert_int_equal(ba.n_births, 1);
    assert_int_equal(ba.n_deaths, 0);
    assert_true(ba.births[0] == 0.25);
    assert_int_equal(cgalr_topo_top(&ba, &ba, &d), CGALR_OK);
    assert_true(d == 0.0);
    cgalr_barcode_free(&ba);
}

static void test_near_symmetric_uses_upper(void **state)
{
    (void)state;
    double a[9] = {0, 0.9, 0.2, 0.9 + 1e-12, 0, 0.5, 0.2, 0.5 - 1e-12, 0};
    cgalr_barcode_t b;
    assert_int_equal(cgalr_topo_barcode(a, 3, &b), CGALR_OK);
    assert_true(b.births[0] == 0.5 && b.births[1] == 0.9 && b.deaths[0] == 0.2);
    cgalr_barcode_free(&b);
}

static void test_bad_input(void **state)
{
    (void)state;
    double m[9] = {0, 0.5, 0.2, 0.5, 0, 0.3, 0.2, 0.3, 0};
    cgalr_barcode_t b;
    assert_int_equal(cgalr_topo_barcode(NULL, 3, &b), CGALR_EINVAL);
    assert_null(b.births);
    cgalr_barcode_free(&b); /* safe after failure */
    assert_int_equal(cgalr_topo_barcode(m, 3, NULL), CGALR_EINVAL);
    assert_int_equal(cgalr_topo_barcode(m, 0, &b), CGALR_EINVAL);
    assert_int_equal(cgalr_topo_barcode(m, 1, &b), CGALR_EINVAL);
    assert_non_null(strstr(cgalr_last_error(), "p = 1"));
    assert_int_equal(cgalr_topo_barcode(m, SIZE_MAX / 2, &b), CGALR_EINVAL);

    m[1] = 0.6; /* (0,1) = 0.6, (1,0) = 0.5 */
    assert_int_equal(cgalr_topo_barcode(m, 3, &b), CGALR_EINVAL);
    assert_non_null(strstr(cgalr_last_error(), "not symmetric"));
    m[1] = m[3] = 1.5;
    assert_int_equal(cgalr_topo_barcode(m, 3, &b), CGALR_EINVAL);
    assert_non_null(strstr(cgalr_last_error(), "(0, 1)"));
    m[1] = m[3] = -0.1;
    assert_int_equal(cgalr_topo_barcode(m, 3, &b), CGALR_EINVAL);
    m[1] = m[3] = 0.5;
    m[7] = NAN;
    assert_int_equal(cgalr_topo_barcode(m, 3, &b), CGALR_ENONFINITE);
    assert_non_null(strstr(cgalr_last_error(), "(2, 1)"));
    m[7] = 0.3;
    m[4] = NAN; /* the diagonal is ignored */
    assert_int_equal(cgalr_topo_barcode(m, 3, &b), CGALR_OK);

    cgalr_barcode_t c;
    double m2[4] = {0, 0.1, 0.1, 0};
    assert_int_equal(cgalr_topo_barcode(m2, 2, &c), CGALR_OK);
    double d;
    assert_int_equal(cgalr_topo_top(&b, &c, &d), CGALR_EINVAL);
    assert_non_null(strstr(cgalr_last_error(), "p = 3 and p = 2"));
    assert_int_equal(cgalr_topo_top(NULL, &c, &d), CGALR_EINVAL);
    assert_int_equal(cgalr_topo_top(&b, NULL, &d), CGALR_EINVAL);
    assert_int_equal(cgalr_topo_top(&b, &b, NULL), CGALR_EINVAL);
    cgalr_barcode_t empty = {0};
    assert_int_equal(cgalr_topo_top(&empty, &empty, &d), CGALR_EINVAL);
    cgalr_barcode_t bad = b;
    bad.n_deaths = 5;
    assert_int_equal(cgalr_topo_top(&bad, &b, &d), CGALR_EINVAL);
    cgalr_barcode_free(&b);
    cgalr_barcode_free(&c);
    cgalr_barcode_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_against_kruskal),
        cmocka_unit_test(test_structured),
        cmocka_unit_test(test_crowded_weights),
        cmocka_unit_test(test_top_properties),
        cmocka_unit_test(test_top_hand_value),
        cmocka_unit_test(test_near_symmetric_uses_upper),
        cmocka_unit_test(test_bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
