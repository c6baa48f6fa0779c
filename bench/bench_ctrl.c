/* The CG-ALR controller's own cost per step, excluding the forward pass that produces the
 * activations: connectome of the N x P probe activations, summary (barcode or H1 diagram) and
 * distance to the previous step, robust score, gate and multiplier. Prints milliseconds per step
 * (median over steps) and, with --peer-ms, the ratio to a peer measured by
 * bench/bench_ctrl_peer.py (NumPy/SciPy/GUDHI/POT) on the same shapes.
 *   bench_ctrl [--n N] [--steps S] [--only top|wd|swk] */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cgalr/ctrl.h"
#include "cgalr/rng.h"
#include "cgalr/topo.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *x, int n)
{
    qsort(x, (size_t)n, sizeof *x, cmp_d);
    return n % 2 ? x[n / 2] : 0.5 * (x[n / 2 - 1] + x[n / 2]);
}

/* Activations with structure like a hidden layer's: a few shared factors plus unit noise, the
 * mix drifting with the step so consecutive connectomes differ. Post-ReLU, like real probes. */
static void activations(float *a, size_t n, size_t p, int step)
{
    enum { F = 8 };
    cgalr_rng_t load = cgalr_rng_init(7, CGALR_STREAM_TEST);
    cgalr_rng_t rng = cgalr_rng_init(100 + (uint64_t)step, CGALR_STREAM_TEST);
    double *w = malloc(p * F * sizeof *w);
    for (size_t i = 0; i < p * F; i++)
        w[i] = cgalr_rng_normal(&load) * (1.0 + 0.1 * step);
    for (size_t r = 0; r < n; r++) {
        double f[F];
        for (int k = 0; k < F; k++)
            f[k] = cgalr_rng_normal(&rng);
        for (size_t j = 0; j < p; j++) {
            double v = cgalr_rng_normal(&rng);
            for (int k = 0; k < F; k++)
                v += w[j * F + k] * f[k] * 0.3;
            a[r * p + j] = (float)(v > 0 ? v : 0);
        }
    }
    free(w);
}

static int bench(const char *method, size_t n, size_t p, int steps)
{
    cgalr_sched_config_t cfg;
    cgalr_sched_config_default(&cfg, (cgalr_method_t)cgalr_method_parse(method));
    cfg.epochs = 100;
    cgalr_sched_t *s = NULL;
    if (cgalr_sched_create(&cfg, &s) != CGALR_OK) {
        fprintf(stderr, "%s\n", cgalr_last_error());
        return 1;
    }
    float *act[2] = {malloc(n * p * sizeof(float)), malloc(n * p * sizeof(float))};
    double *m = malloc(p * p * sizeof *m);
    double *t_conn = malloc((size_t)steps * sizeof *t_conn), *t_ctrl = malloc((size_t)steps * sizeof *t_ctrl);
    activations(act[0], n, p, 0);
    activations(act[1], n, p, 1);
    /* step 0 records M_0 only; it is not timed */
    int rc = 0;
    if (cgalr_topo_connectome_f(act[0], n, p, m) != CGALR_OK ||
        cgalr_sched_observe_connectome(s, m, p, 0, NULL) != CGALR_OK) {
        fprintf(stderr, "%s\n", cgalr_last_error());
        rc = 1;
        goto out;
    }
    for (int t = 1; t <= steps; t++) {
        double t0 = now();
        if (cgalr_topo_connectome_f(act[t % 2], n, p, m) != CGALR_OK) {
            rc = 1;
            break;
        }
        double t1 = now();
        cgalr_sched_trace_t r;
        cgalr_status_t st = cgalr_sched_observe_connectome(s, m, p, t, &r);
        double t2 = now();
        if (st != CGALR_OK) {
            fprintf(stderr, "%s\n", cgalr_last_error());
            rc = 1;
            break;
        }
        t_conn[t - 1] = t1 - t0;
        t_ctrl[t - 1] = t2 - t1;
    }
    if (!rc) {
        double c = median(t_conn, steps) * 1e3, k = median(t_ctrl, steps) * 1e3;
        size_t pph = strcmp(method, "cgalr-top") == 0 ? p : (p < cfg.topo.p_ph ? p : cfg.topo.p_ph);
        printf("%-10s N=%-5zu P=%-4zu P_ph=%-4zu connectome %9.3f ms  summary+distance+controller %9.3f ms  "
               "total %9.3f ms/step\n",
               method, n, p, pph, c, k, c + k);
    }
out:
    cgalr_sched_free(s);
    free(act[0]);
    free(act[1]);
    free(m);
    free(t_conn);
    free(t_ctrl);
    return rc;
}

/* The controller update alone (score, gate, multiplier) from an injected distance. */
static void bench_update(void)
{
    cgalr_sched_config_t cfg;
    cgalr_sched_config_default(&cfg, CGALR_METHOD_CGALR_TOP);
    cgalr_sched_t *s = NULL;
    if (cgalr_sched_create(&cfg, &s) != CGALR_OK)
        return;
    cgalr_rng_t rng = cgalr_rng_init(3, CGALR_STREAM_TEST);
    enum { R = 200000 };
    double t0 = now(), sink = 0;
    for (int i = 0; i < R; i++) {
        cgalr_sched_observe_distance(s, exp(cgalr_rng_normal(&rng)), i * 0.01, NULL);
        sink += cgalr_sched_lr(s, i, i * 0.01);
    }
    double dt = now() - t0;
    printf("controller update alone (K=8, injected distance, incl. RNG): %.1f ns/step (checksum %.3g)\n",
           dt / R * 1e9, sink);
    cgalr_sched_free(s);
}

int main(int argc, char **argv)
{
    size_t n = 1024;
    int steps = 5;
    const char *only = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--n") == 0 && i + 1 < argc)
            n = (size_t)atol(argv[++i]);
        else if (strcmp(argv[i], "--steps") == 0 && i + 1 < argc)
            steps = atoi(argv[++i]);
        else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc)
            only = argv[++i];
        else {
            fprintf(stderr, "usage: bench_ctrl [--n N] [--steps S] [--only top|wd|swk]\n");
            return 2;
        }
    }
    if (n < 2 || steps < 1) {
        fprintf(stderr, "bench_ctrl: need --n >= 2 and --steps >= 1\n");
        return 2;
    }
    int rc = 0;
    if (!only || strcmp(only, "top") == 0) {
        rc |= bench("cgalr-top", n, 128, steps);
        rc |= bench("cgalr-top", n, 512, steps);
    }
    if (!only || strcmp(only, "wd") == 0) {
        rc |= bench("cgalr-wd", n, 128, steps);
        rc |= bench("cgalr-wd", n, 512, steps);
    }
    if (!only || strcmp(only, "swk") == 0) {
        rc |= bench("cgalr-swk", n, 128, steps);
        rc |= bench("cgalr-swk", n, 512, steps);
    }
    bench_update();
    return rc;
}
