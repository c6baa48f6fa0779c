/* Where the runs came from, told by the runs: every run's config.json holds the exact command
 * that made it. Stripped of what a grid varies per run (--sched, --lr, --seed, --fold), the
 * commands of one grid are identical. Runs are grouped by those shared options, the directory
 * holding them, and the rates and seeds their method was run at; each group is one `cgalr grid`
 * command (a protocol of several sub-grids gives several lines). A grid.json that says otherwise
 * (a --force that was interrupted, runs copied in by hand) cannot make the report lie. */
#include "report/provenance.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cgalr/shellwords.h"

typedef struct {
    char *s;
    size_t len, cap;
} str;

static int put(str *b, const char *t)
{
    size_t n = strlen(t);
    if (b->len + n + 1 > b->cap) {
        size_t nc = (b->cap + n + 1) * 2;
        char *ns = realloc(b->s, nc);
        if (!ns)
            return 0;
        b->s = ns;
        b->cap = nc;
    }
    memcpy(b->s + b->len, t, n + 1);
    b->len += n;
    return 1;
}

/* A word as the shell needs it: bare when it is plain, else '...' (a ' inside as '\''). */
static int put_word(str *b, const char *w)
{
    int plain = *w != '\0';
    for (const char *c = w; *c; c++)
        plain &= (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
                 strchr("-_.,/:=+@%", *c) != NULL;
    if (plain)
        return put(b, " ") && put(b, w);
    if (!put(b, " '"))
        return 0;
    for (const char *c = w; *c; c++) {
        char one[2] = {*c, 0};
        if (!put(b, *c == '\'' ? "'\\''" : one))
            return 0;
    }
    return put(b, "'");
}

/* The kernels the runs recorded (summary.json), each with its run count in the order first met,
 * and how to ask for them: a CPU picks its own by default, and the same command on another CPU gives
 * other last bits. Nothing when no run recorded them (runs made before they were recorded). */
static int put_kernels(str *b, const report_run_command_t *runs, size_t n)
{
    size_t missing = 0, nk = 0;
    const char *k[16];
    size_t count[16], other = 0;
    for (size_t i = 0; i < n; i++) {
        if (!runs[i].kernels) {
            missing++;
            continue;
        }
        size_t j = 0;
        while (j < nk && strcmp(k[j], runs[i].kernels))
            j++;
        if (j == nk && nk < 16) {
            k[nk] = runs[i].kernels;
            count[nk++] = 0;
        }
        if (j < nk)
            count[j]++;
        else
            other++;
    }
    if (nk == 0)
        return 1;
    int ok = put(b, "Compute kernels (summary.json; OpenBLAS core / engine instruction set):");
    char line[200];
    for (size_t j = 0; ok && j < nk; j++) {
        snprintf(line, sizeof line, "%s %s for %zu run%s", j ? ";" : "", k[j], count[j], count[j] == 1 ? "" : "s");
        ok = put(b, line);
    }
    if (ok && other) {
        snprintf(line, sizeof line, "; other kernels for %zu run%s", other, other == 1 ? "" : "s");
        ok = put(b, line);
    }
    if (ok && missing) {
        snprintf(line, sizeof line, "; not recorded for %zu run%s", missing, missing == 1 ? "" : "s");
        ok = put(b, line);
    }
    return ok && put(b, ". They decide a result's last bits, and a run made with others differs from then on: "
                        "to remake a run bit for bit on another CPU, run its command with OPENBLAS_CORETYPE and CGALR_ISA set to its "
                        "kernels (for example OPENBLAS_CORETYPE=Haswell CGALR_ISA=avx2 for Haswell/avx2).\n\n");
}

/* One run, parsed. */
typedef struct {
    char *head;   /* " --data X --model Y" */
    char *shared; /* the other options besides method, rate, seed and fold */
    char *parent; /* the directory holding the run directory */
    char *method;
    int has_lr;
    double lr;
    unsigned long long seed;
} parsed;

/* Sets of rates and seeds, kept sorted (rates descending, seeds ascending). */
typedef struct {
    double lr[64];
    size_t nl;
    unsigned long long seed[256];
    size_t ns;
} values;

static void add_lr(values *v, double lr)
{
    size_t i = 0;
    while (i < v->nl && v->lr[i] > lr)
        i++;
    if ((i < v->nl && v->lr[i] == lr) || v->nl == 64)
        return;
    memmove(v->lr + i + 1, v->lr + i, (v->nl - i) * sizeof *v->lr);
    v->lr[i] = lr;
    v->nl++;
}

static void add_seed(values *v, unsigned long long s)
{
    size_t i = 0;
    while (i < v->ns && v->seed[i] < s)
        i++;
    if ((i < v->ns && v->seed[i] == s) || v->ns == 256)
        return;
    memmove(v->seed + i + 1, v->seed + i, (v->ns - i) * sizeof *v->seed);
    v->seed[i] = s;
    v->ns++;
}

static int same_values(const values *a, const values *b)
{
    return a->nl == b->nl && a->ns == b->ns && !memcmp(a->lr, b->lr, a->nl * sizeof *a->lr) &&
           !memcmp(a->seed, b->seed, a->ns * sizeof *a->seed);
}

/* 0 when the command is not a `cgalr train` line. */
static int parse_run(const report_run_command_t *r, const char *dir, parsed *p)
{
    memset(p, 0, sizeof *p);
    int nw = 0;
    char **w = r->command ? cgalr_shell_split(r->command, &nw) : NULL;
    if (!w || nw < 2 || strcmp(w[0], "cgalr") || strcmp(w[1], "train")) {
        free(w);
        return 0;
    }
    str head = {0}, sh = {0};
    int ok = put(&head, "") && put(&sh, "");
    p->has_lr = r->has_lr;
    for (int k = 2; ok && k < nw; k++) {
        const char *val = k + 1 < nw ? w[k + 1] : NULL;
        if (val && (!strcmp(w[k], "--sched") || !strcmp(w[k], "--method"))) {
            ok = (p->method = strdup(val)) != NULL;
            k++;
        } else if (val && (!strcmp(w[k], "--data") || !strcmp(w[k], "--model"))) {
            ok = put_word(&head, w[k]) && put_word(&head, val); /* first, where a reader looks */
            k++;
        } else if (val && !strcmp(w[k], "--lr")) {
            p->lr = strtod(val, NULL);
            k++;
        } else if (val && !strcmp(w[k], "--seed")) {
            p->seed = strtoull(val, NULL, 10);
            k++;
        } else if (val && !strcmp(w[k], "--fold")) {
            k++; /* a grid dimension: --folds K stays with the shared options */
        } else {
            ok = put_word(&sh, w[k]);
        }
    }
    free(w);
    /* the directory holding the run, relative to the report's directory (report.md reads the
     * same wherever the grid is copied) */
    const char *slash = strrchr(r->dir, '/');
    size_t dl = strlen(dir), pl = slash ? (size_t)(slash - r->dir) : 0;
    if (slash && pl > dl && !strncmp(r->dir, dir, dl) && r->dir[dl] == '/')
        p->parent = strndup(r->dir + dl + 1, pl - dl - 1);
    else
        p->parent = strdup(".");
    p->head = head.s;
    p->shared = sh.s;
    if (!ok || !p->parent || !p->method) {
        free(p->head);
        free(p->shared);
        free(p->parent);
        free(p->method);
        memset(p, 0, sizeof *p);
        return -1;
    }
    return 1;
}

/* One grid command: runs with the same options and directory whose methods share their rates
 * and seeds. */
typedef struct {
    size_t first; /* a member run (for head, shared, parent) */
    char *methods[64];
    size_t nm;
    values v;
    size_t runs;
} group;

char *report_provenance(const report_run_command_t *runs, size_t n, const char *dir)
{
    str out = {0};
    parsed *p = calloc(n + 1, sizeof *p);
    values *mv = calloc(n + 1, sizeof *mv); /* per run: the values of its (options, dir, method) */
    group *g = calloc(n + 1, sizeof *g);
    size_t ng = 0, without = 0;
    int ok = p && mv && g && put(&out, "");
    for (size_t i = 0; ok && i < n; i++) {
        int r = parse_run(&runs[i], dir, &p[i]);
        ok = r >= 0;
        without += r == 0;
    }
    /* the rates and seeds each (options, dir, method) was run at */
    for (size_t i = 0; ok && i < n; i++) {
        if (!p[i].method)
            continue;
        for (size_t k = 0; k < n; k++) {
            if (!p[k].method || strcmp(p[k].method, p[i].method) || strcmp(p[k].shared, p[i].shared) ||
                strcmp(p[k].head, p[i].head) || strcmp(p[k].parent, p[i].parent))
                continue;
            if (p[k].has_lr)
                add_lr(&mv[i], p[k].lr);
            add_seed(&mv[i], p[k].seed);
        }
    }
    for (size_t i = 0; ok && i < n; i++) {
        if (!p[i].method)
            continue;
        size_t k = 0;
        for (; k < ng; k++) {
            const parsed *q = &p[g[k].first];
            if (!strcmp(q->shared, p[i].shared) && !strcmp(q->head, p[i].head) && !strcmp(q->parent, p[i].parent) &&
                same_values(&g[k].v, &mv[i]))
                break;
        }
        if (k == ng) {
            g[ng].first = i;
            g[ng].v = mv[i];
            ng++;
        }
        size_t m = 0;
        while (m < g[k].nm && strcmp(g[k].methods[m], p[i].method))
            m++;
        if (m == g[k].nm && g[k].nm < 64)
            g[k].methods[g[k].nm++] = p[i].method;
        g[k].runs++;
    }
    if (ok && ng) {
        ok = put(&out, ng == 1 && !without ? "Reproduce with (derived from the runs' config.json; run in the directory of this report):\n\n```\n"
                                           : "Reproduce with (derived from the runs' config.json; one grid per "
                                             "line, run in the directory of this report):\n\n```\n");
        for (size_t k = 0; ok && k < ng; k++) {
            const parsed *q = &p[g[k].first];
            char num[64];
            ok = put(&out, "cgalr grid") && put(&out, q->head) && put(&out, " --methods ");
            for (size_t m = 0; ok && m < g[k].nm; m++)
                ok = put(&out, m ? "," : "") && put(&out, g[k].methods[m]);
            if (ok && g[k].v.nl) {
                ok = put(&out, " --lrs ");
                for (size_t m = 0; ok && m < g[k].v.nl; m++) {
                    cgalr_shell_number(num, sizeof num, g[k].v.lr[m]);
                    ok = put(&out, m ? "," : "") && put(&out, num);
                }
            }
            ok = ok && put(&out, " --seeds ");
            for (size_t m = 0; ok && m < g[k].v.ns; m++) {
                snprintf(num, sizeof num, "%s%llu", m ? "," : "", g[k].v.seed[m]);
                ok = put(&out, num);
            }
            ok = ok && put(&out, q->shared) && put(&out, " --out") && put_word(&out, q->parent) && put(&out, "\n");
        }
        ok = ok && put(&out, "cgalr report .\n```\n\n");
        if (ok && without) {
            char line[160];
            snprintf(line, sizeof line, "(%zu run%s without a recorded command not covered.)\n\n", without,
                     without == 1 ? "" : "s");
            ok = put(&out, line);
        }
    }
    ok = ok && put_kernels(&out, runs, n);
    for (size_t i = 0; p && i < n; i++) {
        free(p[i].head);
        free(p[i].shared);
        free(p[i].parent);
        free(p[i].method);
    }
    free(p);
    free(mv);
    free(g);
    if (!ok) {
        free(out.s);
        return NULL;
    }
    return out.s;
}
