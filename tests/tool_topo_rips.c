/* Test/bench helper: reads a square distance matrix (whitespace- or comma-separated) and prints
 * the Rips diagram as "dim birth death" lines; --time prints the in-process seconds to stderr. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cgalr/topo.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

int main(int argc, char **argv)
{
    const char *path = NULL;
    int dim = 1, timing = 0, repeat = 1;
    double threshold = INFINITY;
    for (int a = 1; a < argc; a++) {
        if (!strcmp(argv[a], "--dim") && a + 1 < argc)
            dim = atoi(argv[++a]);
        else if (!strcmp(argv[a], "--threshold") && a + 1 < argc)
            threshold = strtod(argv[++a], NULL);
        else if (!strcmp(argv[a], "--time"))
            timing = 1;
        else if (!strcmp(argv[a], "--repeat") && a + 1 < argc)
            repeat = atoi(argv[++a]);
        else if (!path)
            path = argv[a];
        else {
            fprintf(stderr, "usage: tool_topo_rips [--dim 0|1] [--threshold T] [--time] [--repeat R] FILE\n");
            return 2;
        }
    }
    if (!path) {
        fprintf(stderr, "usage: tool_topo_rips [--dim 0|1] [--threshold T] [--time] [--repeat R] FILE\n");
        return 2;
    }
    double t0 = now();
    FILE *f = strcmp(path, "-") ? fopen(path, "r") : stdin;
    if (!f) {
        fprintf(stderr, "tool_topo_rips: %s: %s\n", path, strerror(errno));
        return 1;
    }
    size_t n = 0, cap = 1024;
    double *v = malloc(cap * sizeof *v);
    char tok[128];
    int c, len = 0;
    for (;;) {
        c = fgetc(f);
        if (c == EOF || c == ',' || c == ' ' || c == '\t' || c == '\n' || c == '\r') {
            if (len) {
                tok[len] = 0;
                char *end;
                double x = strtod(tok, &end);
                if (*end) {
                    fprintf(stderr, "tool_topo_rips: %s: value %zu is not a number: '%s'\n", path, n + 1, tok);
                    return 2;
                }
                if (n == cap)
                    v = realloc(v, (cap *= 2) * sizeof *v);
                v[n++] = x;
                len = 0;
            }
            if (c == EOF)
                break;
        } else if (len < 127) {
            tok[len++] = (char)c;
        }
    }
    if (f != stdin)
        fclose(f);
    size_t p = (size_t)llround(sqrt((double)n));
    if (p * p != n) {
        fprintf(stderr, "tool_topo_rips: %s: %zu values do not form a square matrix\n", path, n);
        free(v);
        return 2;
    }
    double t1 = now();
    cgalr_diagram_t d0 = {0, NULL}, d1 = {0, NULL};
    cgalr_status_t st = CGALR_OK;
    for (int r = 0; r < repeat && !st; r++) {
        cgalr_diagram_free(&d0);
        cgalr_diagram_free(&d1);
        st = cgalr_topo_rips(v, p, dim, threshold, &d0, dim ? &d1 : NULL);
    }
    double t2 = now();
    free(v);
    if (st) {
        fprintf(stderr, "tool_topo_rips: %s\n", cgalr_last_error());
        return st == CGALR_ENOMEM ? 1 : 2;
    }
    for (size_t i = 0; i < d0.n; i++)
        printf("0 %.17g %.17g\n", d0.pairs[i].birth, d0.pairs[i].death);
    for (size_t i = 0; i < d1.n; i++)
        printf("1 %.17g %.17g\n", d1.pairs[i].birth, d1.pairs[i].death);
    if (timing)
        fprintf(stderr, "read %.6f rips %.6f\n", t1 - t0, (t2 - t1) / repeat);
    cgalr_diagram_free(&d0);
    cgalr_diagram_free(&d1);
    return 0;
}
