/* The calm_clock extension of the envelope (docs/ABLATION.md): the rate a CG-ALR scheduler hands
 * out is compared with an oracle written here from the definition (the clock runs at 1 in warm-up
 * and in DECEL, at c otherwise, starting from 0), under distance sequences that visit every gate
 * state, a non-finite distance and the guard; c = 1 must be METHOD.md's envelope bit for bit; the clock survives
 * save/load, a version-2 state (before the clock) still loads, and a corrupt clock is refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cgalr/ctrl.h"
#include "cgalr/rng.h"
#include "cgalr/status.h"

static cgalr_sched_t *make(const char *opts)
{
    cgalr_sched_config_t cfg;
    cgalr_sched_config_default(&cfg, CGALR_METHOD_CGALR_TOP);
    cfg.eta0 = 0.05;
    cfg.epochs = 40;
    assert_int_equal(cgalr_sched_config_set_list(&cfg, opts), CGALR_OK);
    cgalr_sched_t *s = NULL;
    assert_int_equal(cgalr_sched_create(&cfg, &s), CGALR_OK);
    return s;
}

/* distances: a calm phase (ACCEL, HOLD), spikes (DECEL), and calm again */
static double distance_at(int k, cgalr_rng_t *rng)
{
    double base = k < 12 ? 1.0 / (1 + k) : 0.1;
    if (k == 14 || k == 15 || k == 27)
        return 50.0;
    return base * (1.0 + 0.05 * cgalr_rng_uniform(rng));
}

static double envelope(double eta0, double s0, double alpha, double clock)
{
    return eta0 * pow(1.0 + clock / s0, -alpha);
}

static void clock_matches_oracle(void **state)
{
    (void)state;
    const double speeds[] = {1.0, 0.25, 0.05};
    for (size_t v = 0; v < sizeof speeds / sizeof *speeds; v++) {
        char opts[64];
        snprintf(opts, sizeof opts, "calm_clock=%g,s0=2", speeds[v]);
        cgalr_sched_t *s = make(opts);
        cgalr_sched_t *plain = make("s0=2");
        cgalr_rng_t rng = cgalr_rng_init(7, 0);
        /* oracle state: the clock, where it was last anchored, and the speed since then */
        double clock = 0, at = 0, speed = 1;
        int visited[3] = {0, 0, 0};
        for (int k = 0; k < 36; k++) {
            double p = 0.5 * k; /* two controller steps per epoch */
            if (k == 20) {
                assert_int_equal(cgalr_sched_on_nonfinite(s, p, NULL), CGALR_OK);
                assert_int_equal(cgalr_sched_on_nonfinite(plain, p, NULL), CGALR_OK);
            } else if (k == 30) { /* a non-finite distance: no gate change, the clock goes on */
                assert_int_equal(cgalr_sched_observe_distance(s, NAN, p, NULL), CGALR_ENONFINITE);
                assert_int_equal(cgalr_sched_observe_distance(plain, NAN, p, NULL), CGALR_ENONFINITE);
            } else {
                cgalr_sched_trace_t r;
                double d = distance_at(k, &rng);
                assert_int_equal(cgalr_sched_observe_distance(s, d, p, &r), CGALR_OK);
                assert_int_equal(cgalr_sched_observe_distance(plain, d, p, NULL), CGALR_OK);
            }
            clock += (p - at) * speed;
            at = p;
            const cgalr_sched_trace_t *r = cgalr_sched_last_trace(s);
            visited[r->state]++;
            int warm = (r->flags & CGALR_TRACE_WARMUP) != 0;
            speed = (warm || r->state == CGALR_GATE_DECEL) ? 1.0 : speeds[v];
            /* the rate inside the period up to the next step */
            for (int i = 0; i < 4; i++) {
                double q = p + 0.125 * i;
                double want = envelope(0.05, 2, 1, clock + (q - at) * speed) * cgalr_sched_rho(s);
                double got = cgalr_sched_lr(s, 1000, q);
                assert_true(fabs(got - want) <= 1e-12 * want);
                /* the guarantee: between the plain envelope at q and at c q */
                double a_q = envelope(0.05, 2, 1, q), a_cq = envelope(0.05, 2, 1, speeds[v] * q);
                double e = cgalr_sched_envelope(s, q);
                assert_true(e >= a_q * (1 - 1e-12) && e <= a_cq * (1 + 1e-12));
                if (speeds[v] == 1.0) /* c = 1: METHOD.md's envelope exactly */
                    assert_true(cgalr_sched_lr(plain, 1000, q) == got);
            }
        }
        assert_true(visited[CGALR_GATE_HOLD] && visited[CGALR_GATE_DECEL] && visited[CGALR_GATE_ACCEL]);
        cgalr_sched_free(s);
        cgalr_sched_free(plain);
    }
}

static uint64_t fnv1a(const unsigned char *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

static void put_u64_le(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static void clock_saved_and_checked(void **state)
{
    (void)state;
    cgalr_sched_t *s = make("calm_clock=0.2");
    cgalr_rng_t rng = cgalr_rng_init(3, 0);
    for (int k = 0; k < 10; k++)
        assert_int_equal(cgalr_sched_observe_distance(s, distance_at(k, &rng), k, NULL), CGALR_OK);
    size_t n = 0;
    assert_int_equal(cgalr_sched_save(s, NULL, &n), CGALR_OK);
    unsigned char *buf = malloc(n);
    assert_int_equal(cgalr_sched_save(s, buf, &n), CGALR_OK);
    cgalr_sched_t *b = make("calm_clock=0.2");
    assert_int_equal(cgalr_sched_load(b, buf, n), CGALR_OK);
    for (double q = 9; q < 12; q += 0.3)
        assert_true(cgalr_sched_lr(b, 1000, q) == cgalr_sched_lr(s, 1000, q));

    /* the clock is the 16 bytes after the trace; find them by value (the clock at progress 9) */
    double clock_at = 9;
    unsigned char pat[8];
    memcpy(pat, &clock_at, 8); /* little-endian host: the wire bytes */
    size_t off = 0;
    for (size_t i = 8; i + 8 <= n - 8; i++)
        if (!memcmp(buf + i, pat, 8) && i >= 8) {
            off = i - 8; /* clock, then clock_at */
            double c;
            memcpy(&c, buf + off, 8);
            if (c >= 1 && c < 9) /* not the trace's progress, whose neighbour is an integer */
                break;
            off = 0;
        }
    assert_true(off > 0);
    /* a clock ahead of its progress is refused, with the checksum made right */
    unsigned char *bad = malloc(n);
    memcpy(bad, buf, n);
    double ahead = 20;
    memcpy(bad + off, &ahead, 8);
    put_u64_le(bad + n - 8, fnv1a(bad, n - 8));
    assert_int_equal(cgalr_sched_load(b, bad, n), CGALR_EFORMAT);
    assert_non_null(strstr(cgalr_last_error(), "envelope clock"));

    /* version 2: the same state without the clock loads into a calm_clock = 1 scheduler */
    cgalr_sched_t *p1 = make("");
    rng = cgalr_rng_init(3, 0);
    for (int k = 0; k < 10; k++)
        assert_int_equal(cgalr_sched_observe_distance(p1, distance_at(k, &rng), k, NULL), CGALR_OK);
    size_t m = 0;
    assert_int_equal(cgalr_sched_save(p1, NULL, &m), CGALR_OK);
    unsigned char *v3 = malloc(m), *v2 = malloc(m);
    assert_int_equal(cgalr_sched_save(p1, v3, &m), CGALR_OK);
    memcpy(v2, v3, off);
    memcpy(v2 + off, v3 + off + 16, m - off - 16);
    size_t m2 = m - 16;
    v2[4] = 2; /* version, after the 4-byte magic */
    put_u64_le(v2 + m2 - 8, fnv1a(v2, m2 - 8));
    cgalr_sched_t *q = make("");
    assert_int_equal(cgalr_sched_load(q, v2, m2), CGALR_OK);
    for (double x = 9; x < 12; x += 0.3)
        assert_true(cgalr_sched_lr(q, 1000, x) == cgalr_sched_lr(p1, 1000, x));
    v2[4] = 1;
    put_u64_le(v2 + m2 - 8, fnv1a(v2, m2 - 8));
    assert_int_equal(cgalr_sched_load(q, v2, m2), CGALR_EFORMAT);

    free(buf);
    free(bad);
    free(v3);
    free(v2);
    cgalr_sched_free(s);
    cgalr_sched_free(b);
    cgalr_sched_free(p1);
    cgalr_sched_free(q);
}

static void option_range(void **state)
{
    (void)state;
    cgalr_sched_config_t cfg;
    cgalr_sched_config_default(&cfg, CGALR_METHOD_CGALR_TOP);
    assert_true(cfg.calm_clock == 1.0);
    assert_int_equal(cgalr_sched_config_set(&cfg, "calm_clock=0"), CGALR_EINVAL);
    assert_int_equal(cgalr_sched_config_set(&cfg, "calm_clock=1.5"), CGALR_EINVAL);
    assert_int_equal(cgalr_sched_config_set(&cfg, "calm_clock=nan"), CGALR_EINVAL);
    assert_int_equal(cgalr_sched_config_set(&cfg, "calm_clock=0.3"), CGALR_OK);
    assert_true(cfg.calm_clock == 0.3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(clock_matches_oracle),
        cmocka_unit_test(clock_saved_and_checked),
        cmocka_unit_test(option_range),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
