/* Times cgalr's whole TOP step (connectome of new activations, barcode, TOP against the previous
 * barcode) on activation matrices written by bench/bench_top.py, which times NumPy/SciPy on the
 * same files and prints the ratios. Usage: bench_top A.f64 B.f64 N P REPS [cpu|wall]
 * cpu (the default) measures process CPU time: with one BLAS thread it is the work done, and it
 * does not count the time other processes on a shared machine hold the core. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cgalr/topo.h"

static clockid_t clock_id = CLOCK_PROCESS_CPUTIME_ID;

static double now(void)
{
    struct timespec t;
    clock_gettime(clock_id, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static double *load(const char *path, size_t count)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "bench_top: cannot open %s\n", path);
        return NULL;
    }
    double *a = malloc(count * sizeof *a);
    if (a && fread(a, sizeof *a, count, f) != count) {
        fprintf(stderr, "bench_top: %s: expected %zu doubles\n", path, count);
        free(a);
        a = NULL;
    }
    fclose(f);
    return a;
}

static int cmp(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

/* The best of the runs: on a machine shared with other work, the minimum is the stable estimate
 * of what the code costs (the median measures the neighbours too). */
static double best(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp);
    return v[0];
}

int main(int argc, char **argv)
{
    if (argc != 6 && argc != 7) {
        fprintf(stderr, "usage: bench_top A.f64 B.f64 N P REPS [cpu|wall]\n");
        return 2;
    }
    if (argc == 7 && !strcmp(argv[6], "wall"))
        clock_id = CLOCK_MONOTONIC;
    size_t n = strtoul(argv[3], NULL, 10), p = strtoul(argv[4], NULL, 10);
    int reps = atoi(argv[5]);
    if (n < 2 || p < 2 || reps < 1 || reps > 1000) {
        fprintf(stderr, "bench_top: bad N, P or REPS\n");
        return 2;
    }
    double *a = load(argv[1], n * p), *b = load(argv[2], n * p);
    double *m = malloc(p * p * sizeof *m);
    double *tc = malloc((size_t)reps * sizeof *tc), *tb = malloc((size_t)reps * sizeof *tb);
    double *tt = malloc((size_t)reps * sizeof *tt), *ts = malloc((size_t)reps * sizeof *ts);
    if (!a || !b || !m || !tc || !tb || !tt || !ts)
        return 1;
    cgalr_barcode_t prev, cur;
    if (cgalr_topo_connectome_d(a, n, p, m) || cgalr_topo_barcode(m, p, &prev)) {
        fprintf(stderr, "bench_top: %s\n", cgalr_last_error());
        return 1;
    }
    double top = 0.0;
    for (int r = 0; r < reps; r++) {
        double t0 = now();
        cgalr_status_t st = cgalr_topo_connectome_d(b, n, p, m);
        double t1 = now();
        if (st == CGALR_OK)
            st = cgalr_topo_barcode(m, p, &cur);
        double t2 = now();
        if (st == CGALR_OK)
            st = cgalr_topo_top(&prev, &cur, &top);
        double t3 = now();
        if (st != CGALR_OK) {
            fprintf(stderr, "bench_top: %s\n", cgalr_last_error());
            return 1;
        }
        cgalr_barcode_free(&cur);
        tc[r] = t1 - t0;
        tb[r] = t2 - t1;
        tt[r] = t3 - t2;
        ts[r] = t3 - t0;
    }
    /* best times in milliseconds, then the value so the script can check both pipelines agree */
    printf("%.6f %.6f %.6f %.6f %.17g\n", 1e3 * best(tc, reps), 1e3 * best(tb, reps),
           1e3 * best(tt, reps), 1e3 * best(ts, reps), top);
    cgalr_barcode_free(&prev);
    free(a);
    free(b);
    free(m);
    free(tc);
    free(tb);
    free(tt);
    free(ts);
    return 0;
}
