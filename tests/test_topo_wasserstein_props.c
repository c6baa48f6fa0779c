/* Diagram distances: exact W1 against brute force over all matchings, metric properties (zero,
 * symmetry, triangle inequality, scaling), closed forms, SW against a plain re-evaluation of its
 * definition, the kernel, and bad input. */
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

static const double PI = 3.14159265358979323846;

/* Random diagram of n points; style 0: continuous, 1: small integer grid (ties everywhere).
 * About one point in six lies on the diagonal and one in six duplicates another. */
static cgalr_diagram_t random_diagram(cgalr_rng_t *r, size_t n, int style)
{
    cgalr_diagram_t d = {n, n ? malloc(n * sizeof(cgalr_pair_t)) : NULL};
    assert_true(n == 0 || d.pairs);
    for (size_t i = 0; i < n; i++) {
        double b, p;
        if (style == 1) {
            b = (double)cgalr_rng_below(r, 4);
            p = (double)cgalr_rng_below(r, 3);
        } else {
            b = cgalr_rng_uniform(r);
            p = 0.3 * cgalr_rng_uniform(r) * cgalr_rng_uniform(r);
        }
        uint64_t kind = cgalr_rng_below(r, 6);
        if (kind == 0)
            p = 0.0;
        d.pairs[i].birth = b;
        d.pairs[i].death = b + p;
        if (kind == 1 && i > 0)
            d.pairs[i] = d.pairs[cgalr_rng_below(r, i)];
    }
    return d;
}

static double w1(const cgalr_diagram_t *a, const cgalr_diagram_t *b)
{
    double x = -1.0;
    assert_int_equal(cgalr_topo_wasserstein1(a, b, &x), CGALR_OK);
    return x;
}

static double sw(const cgalr_diagram_t *a, const cgalr_diagram_t *b, int m)
{
    double x = -1.0;
    assert_int_equal(cgalr_topo_sliced_wasserstein(a, b, m, &x), CGALR_OK);
    return x;
}

/* Brute force: the square (na + nb) assignment with explicit diagonal slots, every permutation. */
static double brute_cost(const cgalr_diagram_t *a, const cgalr_diagram_t *b, size_t i, size_t j)
{
    size_t na = a->n, nb = b->n;
    if (i < na && j < nb)
        return hypot(a->pairs[i].birth - b->pairs[j].birth, a->pairs[i].death - b->pairs[j].death);
    if (i < na)
        return (a->pairs[i].death - a->pairs[i].birth) / sqrt(2.0);
    if (j < nb)
        return (b->pairs[j].death - b->pairs[j].birth) / sqrt(2.0);
    return 0.0;
}

static void permute(const cgalr_diagram_t *a, const cgalr_diagram_t *b, size_t *perm, size_t k, size_t n,
                    double acc, double *best)
{
    if (acc >= *best)
        return;
    if (k == n) {
        *best = acc;
        return;
    }
    for (size_t t = k; t < n; t++) {
        size_t tmp = perm[k];
        perm[k] = perm[t];
        perm[t] = tmp;
        permute(a, b, perm, k + 1, n, acc + brute_cost(a, b, k, perm[k]), best);
        perm[t] = perm[k];
        perm[k] = tmp;
    }
}

static double w1_brute(const cgalr_diagram_t *a, const cgalr_diagram_t *b)
{
    size_t n = a->n + b->n;
    size_t perm[16];
    assert_true(n <= 16);
    for (size_t k = 0; k < n; k++)
        perm[k] = k;
    double best = INFINITY;
    permute(a, b, perm, 0, n, 0.0, &best);
    return n ? best : 0.0;
}

static int cmp_double(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

/* SW straight from the definition, with libc's qsort. */
static double sw_reference(const cgalr_diagram_t *a, const cgalr_diagram_t *b, int m)
{
    size_t len = a->n + b->n;
    if (len == 0)
        return 0.0;
    double *x = malloc(len * sizeof *x), *y = malloc(len * sizeof *y);
    assert_non_null(x);
    assert_non_null(y);
    double total = 0.0;
    for (int k = 0; k < m; k++) {
        double th = -PI / 2 + k * PI / m, c = cos(th), s = sin(th);
        for (size_t i = 0; i < a->n; i++) {
            x[i] = a->pairs[i].birth * c + a->pairs[i].death * s;
            double mid = (a->pairs[i].birth + a->pairs[i].death) / 2;
            y[b->n + i] = mid * (c + s);
        }
        for (size_t i = 0; i < b->n; i++) {
            y[i] = b->pairs[i].birth * c + b->pairs[i].death * s;
            double mid = (b->pairs[i].birth + b->pairs[i].death) / 2;
            x[a->n + i] = mid * (c + s);
        }
        qsort(x, len, sizeof *x, cmp_double);
        qsort(y, len, sizeof *y, cmp_double);
        for (size_t i = 0; i < len; i++)
            total += fabs(x[i] - y[i]);
    }
    free(x);
    free(y);
    return total / m;
}

static void assert_close(double x, double ref, double rel)
{
    if (!(fabs(x - ref) <= rel * fabs(ref) + 1e-13))
        fail_msg("got %.17g, expected %.17g (rel tol %g)", x, ref, rel);
}

static void w1_matches_brute_force(void **state)
{
    (void)state;
    cgalr_rng_t r = cgalr_rng_init(11, CGALR_STREAM_TEST);
    for (int t = 0; t < 300; t++) {
        size_t na = cgalr_rng_below(&r, 5), nb = cgalr_rng_below(&r, 5);
        cgalr_diagram_t a = random_diagram(&r, na, t % 3 == 0), b = random_diagram(&r, nb, t % 3 == 0);
        assert_close(w1(&a, &b), w1_brute(&a, &b), 1e-12);
        free(a.pairs);
        free(b.pairs);
    }
}

static void w1_metric_properties(void **state)
{
    (void)state;
    cgalr_rng_t r = cgalr_rng_init(12, CGALR_STREAM_TEST);
    for (int t = 0; t < 60; t++) {
        int style = t % 4 == 0;
        cgalr_diagram_t a = random_diagram(&r, cgalr_rng_below(&r, 60), style);
        cgalr_diagram_t b = random_diagram(&r, cgalr_rng_below(&r, 60), style);
        cgalr_diagram_t c = random_diagram(&r, cgalr_rng_below(&r, 60), style);
        double ab = w1(&a, &b), ba = w1(&b, &a), bc = w1(&b, &c), ac = w1(&a, &c);
        assert_true(ab >= 0.0);
        assert_close(ab, ba, 1e-12);
        assert_true(ac <= ab + bc + 1e-12 * (ab + bc));
        /* Zero on itself and on any reordering of itself. */
        assert_true(w1(&a, &a) <= 1e-12);
        cgalr_diagram_t p = {a.n, a.n ? malloc(a.n * sizeof(cgalr_pair_t)) : NULL};
        for (size_t i = 0; i < a.n; i++)
            p.pairs[i] = a.pairs[a.n - 1 - i];
        assert_true(w1(&a, &p) <= 1e-12);
        /* Scaling all coordinates scales W1; sliding along the diagonal leaves it alone. */
        cgalr_diagram_t sa = {a.n, a.n ? malloc(a.n * sizeof(cgalr_pair_t)) : NULL};
        cgalr_diagram_t sb = {b.n, b.n ? malloc(b.n * sizeof(cgalr_pair_t)) : NULL};
        for (size_t i = 0; i < a.n; i++) {
            sa.pairs[i].birth = 4 * a.pairs[i].birth;
            sa.pairs[i].death = 4 * a.pairs[i].death;
        }
        for (size_t i = 0; i < b.n; i++) {
            sb.pairs[i].birth = 4 * b.pairs[i].birth;
            sb.pairs[i].death = 4 * b.pairs[i].death;
        }
        assert_close(w1(&sa, &sb), 4 * ab, 1e-12);
        for (size_t i = 0; i < a.n; i++) {
            sa.pairs[i].birth = a.pairs[i].birth + 0.5;
            sa.pairs[i].death = a.pairs[i].death + 0.5;
        }
        for (size_t i = 0; i < b.n; i++) {
            sb.pairs[i].birth = b.pairs[i].birth + 0.5;
            sb.pairs[i].death = b.pairs[i].death + 0.5;
        }
        assert_close(w1(&sa, &sb), ab, 1e-9);
        /* Upper bound: everything to the diagonal. */
        double all_diag = 0.0;
        for (size_t i = 0; i < a.n; i++)
            all_diag += (a.pairs[i].death - a.pairs[i].birth) / sqrt(2.0);
        for (size_t i = 0; i < b.n; i++)
            all_diag += (b.pairs[i].death - b.pairs[i].birth) / sqrt(2.0);
        assert_true(ab <= all_diag * (1 + 1e-12));
        free(a.pairs);
        free(b.pairs);
        free(c.pairs);
        free(p.pairs);
        free(sa.pairs);
        free(sb.pairs);
    }
}

static void w1_closed_forms(void **state)
{
    (void)state;
    cgalr_diagram_t empty = {0, NULL};
    cgalr_pair_t one_pt = {0.25, 1.0}, diag_pt = {0.7, 0.7};
    cgalr_diagram_t one = {1, &one_pt}, on_diag = {1, &diag_pt};
    assert_true(w1(&empty, &empty) == 0.0);
    assert_close(w1(&empty, &one), 0.75 / sqrt(2.0), 1e-15);
    assert_close(w1(&one, &empty), 0.75 / sqrt(2.0), 1e-15);
    /* A point on the diagonal costs nothing. */
    assert_true(w1(&on_diag, &empty) == 0.0);
    assert_close(w1(&on_diag, &one), 0.75 / sqrt(2.0), 1e-15);
    /* Two close points match each other rather than the diagonal. */
    cgalr_pair_t p2 = {0.25, 1.1};
    cgalr_diagram_t two = {1, &p2};
    assert_close(w1(&one, &two), 0.1, 1e-14);
    /* Essential points: matched by sorted birth, |b - b'|; unequal counts give inf. */
    cgalr_pair_t ea[3] = {{0.0, INFINITY}, {0.5, 0.9}, {0.3, INFINITY}};
    cgalr_pair_t eb[3] = {{0.1, INFINITY}, {0.5, 0.9}, {0.7, INFINITY}};
    cgalr_diagram_t da = {3, ea}, db = {3, eb};
    assert_close(w1(&da, &db), 0.1 + 0.4, 1e-15);
    cgalr_diagram_t db2 = {2, eb};
    assert_true(isinf(w1(&da, &db2)));
}

static void sw_matches_definition(void **state)
{
    (void)state;
    cgalr_rng_t r = cgalr_rng_init(13, CGALR_STREAM_TEST);
    for (int t = 0; t < 40; t++) {
        int style = t % 3 == 0;
        cgalr_diagram_t a = random_diagram(&r, cgalr_rng_below(&r, 120), style);
        cgalr_diagram_t b = random_diagram(&r, cgalr_rng_below(&r, 120), style);
        int m = 1 + (int)cgalr_rng_below(&r, 60);
        double ab = sw(&a, &b, m);
        assert_close(ab, sw_reference(&a, &b, m), 1e-12);
        assert_close(sw(&b, &a, m), ab, 1e-12);
        assert_true(sw(&a, &a, m) == 0.0);
        /* SW <= 2 W1: on every line, an optimal W1 matching, completed by pairing the
         * diagonal projections of matched points, moves each mass no further than in the plane
         * (projections are 1-Lipschitz). Carriere et al. state the looser 2 sqrt(2). */
        assert_true(ab <= 2 * w1(&a, &b) * (1 + 1e-12) + 1e-15);
        free(a.pairs);
        free(b.pairs);
    }
}

static void sw_closed_forms(void **state)
{
    (void)state;
    cgalr_diagram_t empty = {0, NULL};
    cgalr_pair_t p = {0.25, 1.0};
    cgalr_diagram_t one = {1, &p};
    assert_true(sw(&empty, &empty, 50) == 0.0);
    /* One point against nothing: its offset from its diagonal projection, (d - b)/2 (-1, 1),
     * projected on each direction. */
    for (int m = 1; m <= 64; m *= 2) {
        double ref = 0.0;
        for (int k = 0; k < m; k++) {
            double th = -PI / 2 + k * PI / m;
            ref += 0.375 * fabs(sin(th) - cos(th));
        }
        assert_close(sw(&empty, &one, m), ref / m, 1e-14);
        assert_close(sw(&one, &empty, m), ref / m, 1e-14);
    }
    assert_true(cgalr_topo_swk_kernel(0.0, 1.0) == 1.0);
    assert_close(cgalr_topo_swk_kernel(2.0, 1.0), exp(-1.0), 1e-15);
    assert_close(cgalr_topo_swk_kernel(1.0, 0.5), exp(-2.0), 1e-15);
    assert_true(isnan(cgalr_topo_swk_kernel(1.0, 0.0)));
    assert_true(isnan(cgalr_topo_swk_kernel(1.0, -1.0)));
    assert_true(isnan(cgalr_topo_swk_kernel(NAN, 1.0)));
}

/* A status and a message that mentions `word`. */
static void expect_error(cgalr_status_t got, cgalr_status_t want, const char *word)
{
    assert_int_equal(got, want);
    if (!strstr(cgalr_last_error(), word))
        fail_msg("message '%s' lacks '%s'", cgalr_last_error(), word);
}

static void bad_input(void **state)
{
    (void)state;
    cgalr_pair_t good_pts[2] = {{0.0, 1.0}, {0.2, 0.4}};
    cgalr_diagram_t good = {2, good_pts}, nullpairs = {3, NULL};
    double x = 0.0;
    expect_error(cgalr_topo_wasserstein1(NULL, &good, &x), CGALR_EINVAL, "NULL");
    expect_error(cgalr_topo_wasserstein1(&good, NULL, &x), CGALR_EINVAL, "NULL");
    expect_error(cgalr_topo_wasserstein1(&good, &good, NULL), CGALR_EINVAL, "NULL");
    expect_error(cgalr_topo_wasserstein1(&good, &nullpairs, &x), CGALR_EINVAL, "pairs = NULL");
    expect_error(cgalr_topo_sliced_wasserstein(NULL, &good, 50, &x), CGALR_EINVAL, "NULL");
    expect_error(cgalr_topo_sliced_wasserstein(&good, &good, 50, NULL), CGALR_EINVAL, "NULL");
    expect_error(cgalr_topo_sliced_wasserstein(&nullpairs, &good, 50, &x), CGALR_EINVAL, "pairs = NULL");
    expect_error(cgalr_topo_sliced_wasserstein(&good, &good, 0, &x), CGALR_EINVAL, "n_dirs = 0");
    expect_error(cgalr_topo_sliced_wasserstein(&good, &good, -3, &x), CGALR_EINVAL, "n_dirs = -3");

    struct { cgalr_pair_t p; cgalr_status_t st; const char *word; } bad[] = {
        {{NAN, 1.0}, CGALR_ENONFINITE, "birth"},
        {{0.0, NAN}, CGALR_ENONFINITE, "NaN"},
        {{INFINITY, INFINITY}, CGALR_ENONFINITE, "birth"},
        {{-INFINITY, 1.0}, CGALR_ENONFINITE, "birth"},
        {{0.5, 0.25}, CGALR_EINVAL, "birth 0.5 > death 0.25"},
        {{0.5, -INFINITY}, CGALR_EINVAL, "birth"},
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        cgalr_pair_t pts[3] = {{0.0, 1.0}, {0.1, 0.2}, bad[k].p};
        cgalr_diagram_t d = {3, pts};
        expect_error(cgalr_topo_wasserstein1(&good, &d, &x), bad[k].st, bad[k].word);
        expect_error(cgalr_topo_wasserstein1(&good, &d, &x), bad[k].st, "diagram b, point 2");
        expect_error(cgalr_topo_wasserstein1(&d, &good, &x), bad[k].st, "diagram a, point 2");
        expect_error(cgalr_topo_sliced_wasserstein(&d, &good, 10, &x), bad[k].st, bad[k].word);
        expect_error(cgalr_topo_sliced_wasserstein(&good, &d, 10, &x), bad[k].st, "diagram b, point 2");
    }
    cgalr_pair_t ess = {0.1, INFINITY};
    cgalr_diagram_t de = {1, &ess};
    expect_error(cgalr_topo_sliced_wasserstein(&good, &de, 10, &x), CGALR_EINVAL, "essential");
    cgalr_pair_t huge = {0.0, 1e200};
    cgalr_diagram_t dh = {1, &huge};
    expect_error(cgalr_topo_wasserstein1(&good, &dh, &x), CGALR_EINVAL, "1e100");
    expect_error(cgalr_topo_sliced_wasserstein(&dh, &good, 10, &x), CGALR_EINVAL, "1e100");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(w1_matches_brute_force),
        cmocka_unit_test(w1_metric_properties),
        cmocka_unit_test(w1_closed_forms),
        cmocka_unit_test(sw_matches_definition),
        cmocka_unit_test(sw_closed_forms),
        cmocka_unit_test(bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
