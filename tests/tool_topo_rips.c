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
    /* the whole file at once, then strtod over it: separators are commas and white space */
    size_t len = 0, bcap = 1 << 16, rd;
    char *buf = malloc(bcap + 1);
    while (buf && (rd = fread(buf + len, 1, bcap - len, f)) > 0) {
        len += rd;
        if (len == bcap) {
            char *nb = realloc(buf, 2 * bcap + 1);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            bcap *= 2;
        }
    }
    if (!buf) {
        fprintf(stderr, "tool_topo_rips: %s: out of memory\n", path);
        return 1;
    }
    buf[len] = 0;
    size_t n = 0, cap = 1024;
    double *v = malloc(cap * sizeof *v);
    for (char *s = buf;;) {
        while (*s == ',' || *s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
            s++;
        if (!*s)
            break;
        char *end;
        double x = strtod(s, &end);
        if (end == s || (*end && !strchr(", \t\r\n", *end))) {
            fprintf(stderr, "tool_topo_rips: %s: value %zu is not a number\n", path, n + 1);
            return 2;
        }
        if (n == cap)
            v = realloc(v, (cap *= 2) * sizeof *v);
        v[n++] = x;
        s = end;
    }
    free(buf);
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
