/* Helper for tests/test_ctrl_adapt_oracle.py: runs a method that owns the update (prodigy, dadapt-sgd,
 * dadapt-adam, sf-sgd, sf-adamw) through the scheduler for STEPS steps, so NumPy transcriptions
 * of the published algorithms can compare.
 *   tool_ctrl_adapt quad METHOD OPTS N STEPS IN OUT    IN: float32 x0[N], a[N], b[N]; the gradient
 *       of f(x) = sum a (x - b)^2 / 2 is taken (in float32) at the current parameters
 *   tool_ctrl_adapt grads METHOD OPTS N STEPS IN OUT   IN: float32 x0[N], then STEPS gradients of N
 * OUT (float64): the final parameters (N), the evaluation point (N; the parameters again when the
 * method has none), then per step the effective rate and d (2 x STEPS). OPTS "-" for none;
 * "epochs" and "iters_per_epoch" in OPTS set the run length (Schedule-Free's warm-up). Exit 2 on
 * bad input, 1 when a step fails. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cgalr/ctrl.h"

static float *read_floats(const char *path, size_t n)
{
    FILE *f = fopen(path, "rb");
    float *v = f ? malloc(n * sizeof *v) : NULL;
    if (!v || fread(v, sizeof *v, n, f) != n) {
        fprintf(stderr, "%s: cannot read %zu float32 values\n", path, n);
        free(v);
        v = NULL;
    }
    if (f)
        fclose(f);
    return v;
}

int main(int argc, char **argv)
{
    if (argc != 8 || (strcmp(argv[1], "quad") && strcmp(argv[1], "grads"))) {
        fprintf(stderr, "usage: tool_ctrl_adapt quad|grads METHOD OPTS N STEPS IN OUT\n");
        return 2;
    }
    int quad = !strcmp(argv[1], "quad");
    int m = cgalr_method_parse(argv[2]);
    long n = atol(argv[4]), steps = atol(argv[5]);
    if (m < 0 || n < 1 || steps < 1) {
        fprintf(stderr, "bad method '%s', N or STEPS\n", argv[2]);
        return 2;
    }
    cgalr_sched_config_t cfg;
    cgalr_sched_config_default(&cfg, (cgalr_method_t)m);
    cgalr_sched_t *s = NULL;
    if ((strcmp(argv[3], "-") && cgalr_sched_config_set_list(&cfg, argv[3]) != CGALR_OK) ||
        cgalr_sched_create(&cfg, &s) != CGALR_OK) {
        fprintf(stderr, "%s\n", cgalr_last_error());
        return 2;
    }
    size_t N = (size_t)n;
    float *in = read_floats(argv[6], quad ? 3 * N : N + (size_t)steps * N);
    float *g = malloc(N * sizeof *g);
    double *out = malloc((2 * N + 2 * (size_t)steps) * sizeof *out);
    if (!in || !g || !out)
        return 2;
    float *x = in;
    for (long k = 0; k < steps; k++) {
        if (quad)
            for (size_t i = 0; i < N; i++)
                g[i] = in[N + i] * (x[i] - in[2 * N + i]);
        else
            memcpy(g, in + N + (size_t)k * N, N * sizeof *g);
        double lr = 0;
        if (cgalr_sched_update(s, x, g, N, &lr) != CGALR_OK) {
            fprintf(stderr, "step %ld: %s\n", k, cgalr_last_error());
            return 1;
        }
        out[2 * N + 2 * (size_t)k] = lr;
        out[2 * N + 2 * (size_t)k + 1] = cgalr_sched_d(s);
    }
    size_t ne = 0;
    const float *e = cgalr_sched_eval_params(s, &ne);
    for (size_t i = 0; i < N; i++) {
        out[i] = x[i];
        out[N + i] = e && ne == N ? e[i] : x[i];
    }
    FILE *f = fopen(argv[7], "wb");
    if (!f || fwrite(out, sizeof *out, 2 * N + 2 * (size_t)steps, f) != 2 * N + 2 * (size_t)steps) {
        fprintf(stderr, "%s: cannot write\n", argv[7]);
        return 1;
    }
    fclose(f);
    cgalr_sched_free(s);
    free(in);
    free(g);
    free(out);
    return 0;
}
