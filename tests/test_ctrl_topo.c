/* CG-ALR fed connectomes: the scheduler's own distance pipeline (summary of M_{t-1} kept inside,
 * d_t through src/topo) gives the same trace as distances computed outside and injected, for
 * TOP, WD and SWK; save/restore with the previous summary inside continues exactly. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cgalr/ctrl.h"
#include "cgalr/rng.h"
#include "cgalr/status.h"
#include "cgalr/topo.h"

enum { N = 40 };

/* A drifting family of connectomes: activations mix a fixed random basis with a per-step one. */
static void connectome(size_t p, int step, double *m)
{
    double *act = malloc(N * p * sizeof *act);
    assert_non_null(act);
    cgalr_rng_t base = cgalr_rng_init(1, CGALR_STREAM_TEST);
    cgalr_rng_t noise = cgalr_rng_init(1000 + (uint64_t)step, CGALR_STREAM_TEST);
    double w = 0.2 + 0.15 * sin(step * 0.9);
    for (size_t i = 0; i < N * p; i++)
        act[i] = cgalr_rng_normal(&base) + w * cgalr_rng_normal(&noise) * (1 + (i % p) % 3);
    assert_int_equal(cgalr_topo_connectome_d(act, N, p, m), CGALR_OK);
    free(act);
}

static cgalr_sched_t *make(cgalr_method_t method, const char *opts)
{
    cgalr_sched_config_t cfg;
    cgalr_sched_config_default(&cfg, method);
    cfg.epochs = 20;
    assert_int_equal(cgalr_sched_config_set_list(&cfg, opts), CGALR_OK);
    cgalr_sched_t *s = NULL;
    assert_int_equal(cgalr_sched_create(&cfg, &s), CGALR_OK);
    return s;
}

static void same_trace(const cgalr_sched_trace_t *a, const cgalr_sched_trace_t *b)
{
    const double da[] = {a->progress, a->d, a->median, a->mad, a->z, a->rho, a->eta};
    const double db[] = {b->progress, b->d, b->median, b->mad, b->z, b->rho, b->eta};
    assert_memory_equal(da, db, sizeof da);
    assert_true(a->t == b->t && a->state == b->state && a->history == b->history && a->flags == b->flags);
}

static void pipeline_matches_injected(cgalr_method_t method, size_t p, const char *opts)
{
    cgalr_sched_t *s = make(method, opts), *ref = make(method, opts);
    const cgalr_topo_config_t *tc = &cgalr_sched_config(s)->topo;
    double *m = malloc(p * p * sizeof *m);
    assert_non_null(m);
    cgalr_topo_summary_t prev, cur;
    memset(&prev, 0, sizeof prev);
    int steps = 12, moved = 0;
    for (int t = 0; t <= steps; t++) {
        connectome(p, t, m);
        cgalr_sched_trace_t r, rr;
        assert_int_equal(cgalr_sched_observe_connectome(s, m, p, t, &r), CGALR_OK);
        assert_int_equal(cgalr_topo_summarize(tc, m, p, &cur), CGALR_OK);
        if (t == 0) {
            assert_true(r.flags & CGALR_TRACE_FIRST);
            assert_int_equal(r.t, 0);
            assert_true(isnan(r.d));
        } else {
            double d;
            assert_int_equal(cgalr_topo_summary_distance(tc, &prev, &cur, &d), CGALR_OK);
            assert_int_equal(cgalr_sched_observe_distance(ref, d, t, &rr), CGALR_OK);
            same_trace(&r, &rr);
            assert_true(r.d > 0 && isfinite(r.d));
            moved += r.state != CGALR_GATE_HOLD;
            cgalr_topo_summary_free(&prev);
        }
        prev = cur;
    }
    (void)moved;
    cgalr_topo_summary_free(&prev);
    /* p must stay the same */
    assert_int_equal(cgalr_sched_observe_connectome(s, m, p - 1, 20, NULL), CGALR_EINVAL);
    assert_non_null(strstr(cgalr_last_error(), "p ="));
    assert_int_equal(cgalr_sched_observe_connectome(s, NULL, p, 20, NULL), CGALR_EINVAL);
    assert_int_equal(cgalr_sched_observe_connectome(s, m, 1, 20, NULL), CGALR_EINVAL);
    /* a connectome with NaN is refused and changes nothing */
    long t_before = cgalr_sched_last_trace(s)->t;
    m[1] = NAN;
    m[p] = NAN;
    assert_int_equal(cgalr_sched_observe_connectome(s, m, p, 20, NULL), CGALR_ENONFINITE);
    assert_non_null(strstr(cgalr_last_error(), "(0, 1)"));
    assert_int_equal(cgalr_sched_last_trace(s)->t, t_before);
    free(m);
    cgalr_sched_free(s);
    cgalr_sched_free(ref);
}

static void top_pipeline(void **state)
{
    (void)state;
    pipeline_matches_injected(CGALR_METHOD_CGALR_TOP, 64, "K=4");
}

static void wd_pipeline(void **state)
{
    (void)state;
    pipeline_matches_injected(CGALR_METHOD_CGALR_WD, 24, "K=3,p_ph=16,topo_seed=5");
}

static void swk_pipeline(void **state)
{
    (void)state;
    pipeline_matches_injected(CGALR_METHOD_CGALR_SWK, 20, "score=log,sw_directions=20");
}

static void not_a_controller(void **state)
{
    (void)state;
    cgalr_sched_t *s = make(CGALR_METHOD_CONSTANT, "");
    double m[4] = {0, 0.5, 0.5, 0};
    assert_int_equal(cgalr_sched_observe_connectome(s, m, 2, 0, NULL), CGALR_ESTATE);
    cgalr_sched_free(s);
}

/* Save after a few connectomes (the previous summary goes into the state), restore into a fresh
 * scheduler, continue both: identical traces and rates. */
static void save_restore_with_summary(void **state)
{
    (void)state;
    const cgalr_method_t methods[] = {CGALR_METHOD_CGALR_TOP, CGALR_METHOD_CGALR_WD};
    for (int k = 0; k < 2; k++) {
        size_t p = methods[k] == CGALR_METHOD_CGALR_TOP ? 48 : 20;
        cgalr_sched_t *a = make(methods[k], "K=3");
        double *m = malloc(p * p * sizeof *m);
        for (int t = 0; t < 6; t++) {
            connectome(p, t, m);
            assert_int_equal(cgalr_sched_observe_connectome(a, m, p, t, NULL), CGALR_OK);
        }
        size_t sz;
        assert_int_equal(cgalr_sched_save(a, NULL, &sz), CGALR_OK);
        unsigned char *buf = malloc(sz);
        assert_int_equal(cgalr_sched_save(a, buf, &sz), CGALR_OK);
        cgalr_sched_t *b = make(methods[k], "K=3");
        assert_int_equal(cgalr_sched_load(b, buf, sz), CGALR_OK);
        for (int t = 6; t < 12; t++) {
            connectome(p, t, m);
            cgalr_sched_trace_t ra, rb;
            assert_int_equal(cgalr_sched_observe_connectome(a, m, p, t, &ra), CGALR_OK);
            assert_int_equal(cgalr_sched_observe_connectome(b, m, p, t, &rb), CGALR_OK);
            assert_false(rb.flags & CGALR_TRACE_FIRST); /* b knew M_{t-1} from the state */
            same_trace(&ra, &rb);
            assert_true(cgalr_sched_lr(a, t * 3, t + 0.5) == cgalr_sched_lr(b, t * 3, t + 0.5));
        }
        /* the summary bytes are covered too: corrupting the tail is caught */
        buf[sz - 20] ^= 0x10;
        assert_int_equal(cgalr_sched_load(b, buf, sz), CGALR_EFORMAT);
        free(buf);
        free(m);
        cgalr_sched_free(a);
        cgalr_sched_free(b);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(top_pipeline),
        cmocka_unit_test(wd_pipeline),
        cmocka_unit_test(swk_pipeline),
        cmocka_unit_test(not_a_controller),
        cmocka_unit_test(save_restore_with_summary),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
