/* Helper for tests/test_ctrl_torch.py: prints what the scheduler does so Python oracles (PyTorch's
 * lr_scheduler, NumPy evaluations of METHOD.md) can compare.
 *   tool_ctrl_sched rates METHOD OPTS EPOCHS ITERS_PER_EPOCH [LOSS...]
 *       one line per iteration "epoch iteration lr"; after each epoch, epoch_end(loss[e]) (the
 *       same value as training and validation loss; 1.0 when no losses are given)
 *   tool_ctrl_sched trace OPTS D...      CG-ALR (method from OPTS, default cgalr-top) fed the
 *       distances D at progress t; one line per step "t d median mad z state rho eta flags"
 *       ("nan" distances are passed as NaN; "guard" runs the guard instead)
 *   tool_ctrl_sched dog FILE             DoG on a noisy quadratic described by FILE (see
 *       test_ctrl_torch.py): prints "eta" per step, then "x" and "avg" lines of the final state
 * OPTS is a comma-separated name=value list ("-" for none). Exit 2 on bad input. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cgalr/ctrl.h"

static int usage(void)
{
    fprintf(stderr, "usage: tool_ctrl_sched rates METHOD OPTS EPOCHS IPE [LOSS...] | trace OPTS D... | dog FILE\n");
    return 2;
}

static int make(const char *method, const char *opts, long epochs, long ipe, cgalr_sched_t **s)
{
    int m = cgalr_method_parse(method);
    if (m < 0) {
        fprintf(stderr, "unknown method '%s'\n", method);
        return 2;
    }
    cgalr_sched_config_t cfg;
    cgalr_sched_config_default(&cfg, (cgalr_method_t)m);
    cfg.epochs = epochs;
    cfg.iters_per_epoch = ipe;
    if (strcmp(opts, "-") != 0 && cgalr_sched_config_set_list(&cfg, opts) != CGALR_OK) {
        fprintf(stderr, "%s\n", cgalr_last_error());
        return 2;
    }
    if (cgalr_sched_create(&cfg, s) != CGALR_OK) {
        fprintf(stderr, "%s\n", cgalr_last_error());
        return 2;
    }
    return 0;
}

static int rates(int argc, char **argv)
{
    if (argc < 4)
        return usage();
    long epochs = atol(argv[2]), ipe = atol(argv[3]);
    if (ipe < 1)
        return usage();
    cgalr_sched_t *s = NULL;
    int rc = make(argv[0], argv[1], epochs, ipe, &s);
    if (rc)
        return rc;
    int nloss = argc - 4;
    long run = nloss > 0 ? nloss : epochs;
    for (long e = 0; e < run; e++) {
        for (long i = 0; i < ipe; i++) {
            long it = e * ipe + i;
            printf("%ld %ld %.17g\n", e, it, cgalr_sched_lr(s, it, (double)e + (double)i / (double)ipe));
        }
        double loss = nloss > 0 ? strtod(argv[4 + e], NULL) : 1.0;
        if (cgalr_sched_epoch_end(s, e, loss, loss) != CGALR_OK) {
            fprintf(stderr, "%s\n", cgalr_last_error());
            cgalr_sched_free(s);
            return 1;
        }
    }
    cgalr_sched_free(s);
    return 0;
}

static void print_trace(const cgalr_sched_trace_t *r)
{
    printf("%ld %.17g %.17g %.17g %.17g %s %.17g %.17g %u\n", r->t, r->d, r->median, r->mad, r->z,
           cgalr_gate_name(r->state), r->rho, r->eta, r->flags);
}

static int trace(int argc, char **argv)
{
    if (argc < 1)
        return usage();
    const char *opts = argv[0];
    cgalr_sched_t *s = NULL;
    const char *method = "cgalr-top";
    int rc = make(method, opts, 0, 1, &s);
    if (rc)
        return rc;
    for (int i = 1; i < argc; i++) {
        cgalr_sched_trace_t r;
        double progress = (double)i;
        if (strcmp(argv[i], "guard") == 0) {
            cgalr_sched_on_nonfinite(s, progress, &r);
        } else {
            double d = strcmp(argv[i], "nan") == 0 ? NAN : strcmp(argv[i], "inf") == 0 ? INFINITY : strtod(argv[i], NULL);
            cgalr_sched_observe_distance(s, d, progress, &r);
        }
        print_trace(&r);
    }
    cgalr_sched_free(s);
    return 0;
}

/* FILE: "n steps weight_decay reps_rel avg_gamma" then x0[n], a[n], b[n], noise[steps][n];
 * gradient g_t = a * (x_t - b) + noise_t in float32, step x <- x - eta (g + wd x) in float32. */
static int dog(int argc, char **argv)
{
    if (argc < 1)
        return usage();
    FILE *f = fopen(argv[0], "r");
    if (!f) {
        fprintf(stderr, "cannot open %s\n", argv[0]);
        return 2;
    }
    size_t n = 0;
    long steps = 0;
    double wd = 0, reps = 0, gam = 0;
    if (fscanf(f, "%zu %ld %lf %lf %lf", &n, &steps, &wd, &reps, &gam) != 5 || n == 0 || n > 1000000 || steps < 1 ||
        steps > 100000) {
        fclose(f);
        fprintf(stderr, "%s: bad header\n", argv[0]);
        return 2;
    }
    float *x = malloc(n * sizeof *x), *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b),
          *g = malloc(n * sizeof *g);
    int rc = 0;
    cgalr_sched_t *s = NULL;
    if (!x || !a || !b || !g) {
        rc = 1;
        goto out;
    }
    float *arrs[3] = {x, a, b};
    for (int k = 0; k < 3; k++)
        for (size_t i = 0; i < n; i++)
            if (fscanf(f, "%f", &arrs[k][i]) != 1) {
                rc = 2;
                fprintf(stderr, "%s: truncated\n", argv[0]);
                goto out;
            }
    char opts[256];
    snprintf(opts, sizeof opts, "weight_decay=%.17g,dog_reps_rel=%.17g,dog_avg_gamma=%.17g", wd, reps, gam);
    rc = make("dog", opts, 0, 1, &s);
    if (rc)
        goto out;
    for (long t = 0; t < steps; t++) {
        for (size_t i = 0; i < n; i++) {
            float noise;
            if (fscanf(f, "%f", &noise) != 1) {
                rc = 2;
                fprintf(stderr, "%s: truncated noise\n", argv[0]);
                goto out;
            }
            g[i] = a[i] * (x[i] - b[i]) + noise;
        }
        double eta;
        if (cgalr_sched_dog_step(s, x, g, n, &eta) != CGALR_OK) {
            fprintf(stderr, "%s\n", cgalr_last_error());
            rc = 1;
            goto out;
        }
        printf("eta %.17g\n", eta);
        for (size_t i = 0; i < n; i++)
            x[i] = (float)((double)x[i] - eta * ((double)g[i] + wd * (double)x[i]));
        if (cgalr_sched_dog_average(s, x, n) != CGALR_OK) {
            fprintf(stderr, "%s\n", cgalr_last_error());
            rc = 1;
            goto out;
        }
    }
    size_t na = 0;
    const float *avg = cgalr_sched_dog_averaged(s, &na);
    printf("x");
    for (size_t i = 0; i < n; i++)
        printf(" %.9g", (double)x[i]);
    printf("\navg");
    for (size_t i = 0; i < na; i++)
        printf(" %.9g", (double)avg[i]);
    printf("\n");
out:
    fclose(f);
    cgalr_sched_free(s);
    free(x);
    free(a);
    free(b);
    free(g);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return usage();
    if (strcmp(argv[1], "rates") == 0)
        return rates(argc - 2, argv + 2);
    if (strcmp(argv[1], "trace") == 0)
        return trace(argc - 2, argv + 2);
    if (strcmp(argv[1], "dog") == 0)
        return dog(argc - 2, argv + 2);
    return usage();
}
