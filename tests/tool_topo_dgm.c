/* Test/benchmark helper: reads two persistence diagrams ("birth death" per line, whitespace or
 * comma separated, "inf" allowed, '#' comments) and prints their W1 and SW distances (%.17g).
 * Usage: tool_topo_dgm [--only w1|sw] [--dirs M] [--repeat R] A.txt B.txt
 * With --repeat R each distance is computed R times and the fastest call is printed, in CPU
 * seconds of this process (steadier than wall time on a shared machine). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cgalr/topo.h"

static int read_diagram(const char *path, cgalr_diagram_t *d)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "tool_topo_dgm: cannot open '%s': %s\n", path, strerror(errno));
        return 2;
    }
    size_t cap = 0, line_no = 0;
    char line[4096];
    d->n = 0;
    d->pairs = NULL;
    while (fgets(line, sizeof line, f)) {
        line_no++;
        for (char *p = line; *p; p++)
            if (*p == ',' || *p == '#') {
                if (*p == '#') {
                    *p = 0;
                    break;
                }
                *p = ' ';
            }
        char *p = line, *end;
        while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
            p++;
        if (!*p)
            continue;
        double v[2];
        for (int k = 0; k < 2; k++) {
            errno = 0;
            v[k] = strtod(p, &end);
            if (end == p) {
                fprintf(stderr, "tool_topo_dgm: %s:%zu: expected two numbers\n", path, line_no);
                fclose(f);
                free(d->pairs);
                d->pairs = NULL;
                return 2;
            }
            p = end;
        }
        while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
            p++;
        if (*p) {
            fprintf(stderr, "tool_topo_dgm: %s:%zu: trailing text '%s'\n", path, line_no, p);
            fclose(f);
            free(d->pairs);
            d->pairs = NULL;
            return 2;
        }
        if (d->n == cap) {
            cap = cap ? 2 * cap : 64;
            cgalr_pair_t *np = realloc(d->pairs, cap * sizeof *np);
            if (!np) {
                fclose(f);
                free(d->pairs);
                d->pairs = NULL;
                return 1;
            }
            d->pairs = np;
        }
        d->pairs[d->n].birth = v[0];
        d->pairs[d->n].death = v[1];
        d->n++;
    }
    fclose(f);
    return 0;
}

/* Written on every repeat so the calls cannot be optimised away. */
static volatile double result_sink;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

int main(int argc, char **argv)
{
    const char *only = NULL, *files[2] = {NULL, NULL};
    int dirs = 50, nfiles = 0;
    long repeat = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--only") && i + 1 < argc)
            only = argv[++i];
        else if (!strcmp(argv[i], "--dirs") && i + 1 < argc)
            dirs = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--repeat") && i + 1 < argc)
            repeat = atol(argv[++i]);
        else if (nfiles < 2)
            files[nfiles++] = argv[i];
        else
            nfiles = 3;
    }
    if (nfiles != 2 || (only && strcmp(only, "w1") && strcmp(only, "sw"))) {
        fprintf(stderr, "usage: tool_topo_dgm [--only w1|sw] [--dirs M] [--repeat R] A.txt B.txt\n");
        return 2;
    }
    cgalr_diagram_t a, b;
    int rc = read_diagram(files[0], &a);
    if (rc)
        return rc;
    rc = read_diagram(files[1], &b);
    if (rc) {
        free(a.pairs);
        return rc;
    }
    for (int which = 0; which < 2 && !rc; which++) {
        const char *name = which == 0 ? "w1" : "sw";
        if (only && strcmp(only, name))
            continue;
        double v = 0.0;
        cgalr_status_t st = which == 0 ? cgalr_topo_wasserstein1(&a, &b, &v)
                                       : cgalr_topo_sliced_wasserstein(&a, &b, dirs, &v);
        if (st != CGALR_OK) {
            fprintf(stderr, "tool_topo_dgm: %s: %s\n", name, cgalr_last_error());
            rc = st == CGALR_ENOMEM ? 1 : 2;
            break;
        }
        printf("%s %.17g\n", name, v);
        if (repeat > 0) {
            double best = INFINITY;
            for (long r = 0; r < repeat; r++) {
                double x = 0.0, t0 = now();
                if (which == 0)
                    cgalr_topo_wasserstein1(&a, &b, &x);
                else
                    cgalr_topo_sliced_wasserstein(&a, &b, dirs, &x);
                double dt = now() - t0;
                best = dt < best ? dt : best;
                result_sink = x;
            }
            printf("%s_seconds %.6e\n", name, best);
        }
    }
    free(a.pairs);
    free(b.pairs);
    return rc;
}
