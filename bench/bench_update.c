/* The parameter step of every method that owns its update (DoG's rate plus its plain SGD step,
 * prodigy, dadapt-sgd, dadapt-adam, sf-sgd, sf-adamw), and Adam, next to the peer run in the same
 * process: the engine's SGD with momentum 0.9 (cgalr_optim_step) on the same model's flat
 * parameter and gradient blocks. Prints the median wall time of one step over R alternating rounds
 * and its ratio to SGD-momentum. Single thread; the first step of each (state set-up) is not timed.
 *   bench_update [--reps R] [--steps K] [model ...]    default models: cnn resnet18 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cgalr/ctrl.h"
#include "cgalr/nn.h"

static double wall(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

enum { PEER_SGDM = 0, PEER_ADAM, FIRST_SCHED };
static const char *const sched_names[] = {"dog", "prodigy", "dadapt-sgd", "dadapt-adam", "sf-sgd", "sf-adamw"};
#define N_SCHED (sizeof sched_names / sizeof sched_names[0])
#define N_ROWS (FIRST_SCHED + N_SCHED)

/* K timed steps of row r after one untimed one; -1 on error. */
static double time_row(int r, cgalr_model_t *m, const float *x0, int k)
{
    size_t n = cgalr_model_num_params(m);
    float *p = cgalr_model_params(m), *g = cgalr_model_grads(m);
    memcpy(p, x0, n * sizeof *p);
    double t = -1;
    if (r < FIRST_SCHED) {
        cgalr_optim_config_t oc;
        cgalr_optim_config_default(&oc, r == PEER_SGDM ? CGALR_OPTIM_SGD : CGALR_OPTIM_ADAM);
        cgalr_optim_t *o = NULL;
        if (cgalr_optim_create(&oc, m, &o) != CGALR_OK || cgalr_optim_step(o, 1e-3) != CGALR_OK)
            return -1;
        double t0 = wall();
        for (int i = 0; i < k; i++)
            cgalr_optim_step(o, 1e-3);
        t = (wall() - t0) / k;
        cgalr_optim_free(o);
        return t;
    }
    const char *name = sched_names[r - FIRST_SCHED];
    cgalr_sched_config_t cfg;
    cgalr_sched_config_default(&cfg, (cgalr_method_t)cgalr_method_parse(name));
    cfg.eta0 = cfg.eta0 == 1 ? 1 : 1e-3;
    cfg.epochs = 10;
    cfg.iters_per_epoch = 100;
    cgalr_sched_t *s = NULL;
    if (cgalr_sched_create(&cfg, &s) != CGALR_OK)
        return -1;
    int dog = !strcmp(name, "dog");
    cgalr_optim_t *o = NULL;
    if (dog) {
        cgalr_optim_config_t oc;
        cgalr_optim_config_default(&oc, CGALR_OPTIM_SGD);
        oc.momentum = 0;
        if (cgalr_optim_create(&oc, m, &o) != CGALR_OK)
            return -1;
    }
    double t0 = 0;
    for (int i = 0; i <= k; i++) {
        if (i == 1)
            t0 = wall();
        double lr;
        cgalr_status_t st = dog ? cgalr_sched_dog_step(s, p, g, n, &lr) : cgalr_sched_update(s, p, g, n, &lr);
        if (st == CGALR_OK && dog)
            st = cgalr_optim_step(o, lr);
        if (st != CGALR_OK) {
            fprintf(stderr, "bench_update: %s: %s\n", name, cgalr_last_error());
            break;
        }
        if (i == k)
            t = (wall() - t0) / k;
    }
    cgalr_optim_free(o);
    cgalr_sched_free(s);
    return t;
}

int main(int argc, char **argv)
{
    int reps = 7, steps = 20, first = 1;
    while (first < argc && !strncmp(argv[first], "--", 2)) {
        if (first + 1 >= argc)
            break;
        if (!strcmp(argv[first], "--reps"))
            reps = atoi(argv[first + 1]);
        else if (!strcmp(argv[first], "--steps"))
            steps = atoi(argv[first + 1]);
        else
            break;
        first += 2;
    }
    if (reps < 1 || reps > 1000 || steps < 1 || steps > 100000) {
        fprintf(stderr, "usage: bench_update [--reps 1..1000] [--steps 1..100000] [model ...]\n");
        return 2;
    }
    static const char *const defaults[] = {"cnn", "resnet18"};
    const char *const *models = first < argc ? (const char *const *)argv + first : defaults;
    int n_models = first < argc ? argc - first : 2;
    printf("method step, median of %d rounds of %d steps, 1 thread, ratio to SGD-momentum on the same block\n", reps,
           steps);
    for (int mi = 0; mi < n_models; mi++) {
        int kind = cgalr_model_kind_parse(models[mi]);
        if (kind < 0 || kind == CGALR_MODEL_GIN) {
            fprintf(stderr, "bench_update: model '%s': expected mlp, cnn, resnet20 or resnet18\n", models[mi]);
            return 2;
        }
        cgalr_model_config_t mc;
        cgalr_model_config_default(&mc, (cgalr_model_kind_t)kind);
        mc.in_c = 3;
        mc.in_h = mc.in_w = 32;
        cgalr_model_t *m = NULL;
        if (cgalr_model_create(&mc, &m) != CGALR_OK) {
            fprintf(stderr, "bench_update: %s\n", cgalr_last_error());
            return 1;
        }
        size_t n = cgalr_model_num_params(m);
        float *x0 = malloc(n * sizeof *x0), *g = cgalr_model_grads(m);
        double *t = malloc((size_t)reps * N_ROWS * sizeof *t);
        if (!x0 || !t)
            return 1;
        memcpy(x0, cgalr_model_params(m), n * sizeof *x0);
        for (size_t i = 0; i < n; i++)
            g[i] = (float)(1e-3 * sin(0.37 * (double)i)); /* fixed: every row sees the same gradient */
        /* rounds alternate the rows so that the machine's noise falls on all of them alike */
        for (int r = 0; r < reps; r++)
            for (int row = 0; row < (int)N_ROWS; row++)
                t[row * reps + r] = time_row(row, m, x0, steps);
        printf("\n%s (%zu parameters)\n", models[mi], n);
        double peer = cgalr_median(t, (size_t)reps);
        for (int row = 0; row < (int)N_ROWS; row++) {
            double med = cgalr_median(t + row * reps, (size_t)reps);
            const char *name = row == PEER_SGDM ? "sgd-momentum" : row == PEER_ADAM ? "adam" : sched_names[row - FIRST_SCHED];
            printf("  %-14s %9.3f ms  %5.2fx\n", name, 1e3 * med, med / peer);
        }
        free(x0);
        free(t);
        cgalr_model_free(m);
    }
    return 0;
}
