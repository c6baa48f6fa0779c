/* Where the runs came from, told by the runs: every run's config.json holds the exact command
 * that made it. Stripped of what a grid varies per run (--sched, --lr, --seed), the commands of
 * one grid are identical; the grid command is then those shared options plus the lists of
 * methods, rates and seeds actually present. A grid.json that says otherwise (a --force that was
 * interrupted, runs copied in by hand) cannot make the report lie. */
#include "report/provenance.h"

#include <math.h>
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

typedef struct {
    char *shared; /* the options besides method, rate and seed */
    size_t runs;
} variant;

static int cmp_double_desc(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x < y) - (x > y);
}
static int cmp_ull(const void *a, const void *b)
{
    unsigned long long x = *(const unsigned long long *)a, y = *(const unsigned long long *)b;
    return (x > y) - (x < y);
}

char *report_provenance(const report_run_command_t *runs, size_t n, const char *dir)
{
    str out = {0};
    variant *v = calloc(n + 1, sizeof *v);
    char **methods = calloc(n + 1, sizeof *methods);
    double *lrs = calloc(n + 1, sizeof *lrs);
    unsigned long long *seeds = calloc(n + 1, sizeof *seeds);
    size_t nv = 0, nm = 0, nl = 0, ns = 0, without = 0;
    int ok = v && methods && lrs && seeds && put(&out, "");
    for (size_t i = 0; ok && i < n; i++) {
        int nw = 0;
        char **w = runs[i].command ? cgalr_shell_split(runs[i].command, &nw) : NULL;
        if (!w || nw < 2 || strcmp(w[0], "cgalr") || strcmp(w[1], "train")) {
            free(w);
            without++;
            continue;
        }
        str sh = {0}, head = {0};
        ok = put(&sh, "") && put(&head, "");
        for (int k = 2; ok && k < nw; k++) {
            int has_val = k + 1 < nw;
            if (has_val && (!strcmp(w[k], "--sched") || !strcmp(w[k], "--method"))) {
                size_t m = 0;
                while (m < nm && strcmp(methods[m], w[k + 1]))
                    m++;
                if (m == nm && !(methods[nm++] = strdup(w[k + 1])))
                    ok = 0;
                k++;
            } else if (has_val && (!strcmp(w[k], "--data") || !strcmp(w[k], "--model"))) {
                /* first in the grid command, where a reader looks for them */
                ok = put_word(&head, w[k]) && put_word(&head, w[k + 1]);
                k++;
            } else if (has_val && !strcmp(w[k], "--lr")) {
                double lr = strtod(w[k + 1], NULL);
                size_t m = 0;
                while (runs[i].has_lr && m < nl && lrs[m] != lr)
                    m++;
                if (runs[i].has_lr && m == nl)
                    lrs[nl++] = lr;
                k++;
            } else if (has_val && !strcmp(w[k], "--fold")) {
                k++; /* a grid dimension: --folds K stays with the shared options */
            } else if (has_val && !strcmp(w[k], "--seed")) {
                unsigned long long s = strtoull(w[k + 1], NULL, 10);
                size_t m = 0;
                while (m < ns && seeds[m] != s)
                    m++;
                if (m == ns)
                    seeds[ns++] = s;
                k++;
            } else {
                ok = put_word(&sh, w[k]);
            }
        }
        free(w);
        if (ok) { /* head then the rest: one string per variant */
            ok = put(&head, "\t") && put(&head, sh.s);
            free(sh.s);
            sh = head;
        } else {
            free(head.s);
        }
        size_t m = 0;
        while (ok && m < nv && strcmp(v[m].shared, sh.s))
            m++;
        if (ok && m == nv)
            v[nv++].shared = sh.s;
        else
            free(sh.s);
        if (ok)
            v[m].runs++;
    }
    if (ok && nv == 1 && !without) {
        qsort(lrs, nl, sizeof *lrs, cmp_double_desc);
        qsort(seeds, ns, sizeof *seeds, cmp_ull);
        char num[64];
        char *tab = strchr(v[0].shared, '\t');
        *tab = '\0';
        ok = put(&out, "Reproduce with (derived from the runs' config.json):\n\n```\ncgalr grid") && put(&out, v[0].shared) &&
             put(&out, " --methods ");
        *tab = '\t';
        for (size_t m = 0; ok && m < nm; m++)
            ok = put(&out, m ? "," : "") && put(&out, methods[m]);
        if (ok && nl) {
            ok = put(&out, " --lrs ");
            for (size_t m = 0; ok && m < nl; m++) {
                snprintf(num, sizeof num, "%s%.17g", m ? "," : "", lrs[m]);
                /* the shortest form that reads back the same */
                for (int prec = 1; prec <= 17; prec++) {
                    char t[32];
                    snprintf(t, sizeof t, "%.*g", prec, lrs[m]);
                    if (strtod(t, NULL) == lrs[m]) {
                        snprintf(num, sizeof num, "%s%s", m ? "," : "", t);
                        break;
                    }
                }
                ok = put(&out, num);
            }
        }
        if (ok) {
            ok = put(&out, " --seeds ");
            for (size_t m = 0; ok && m < ns; m++) {
                snprintf(num, sizeof num, "%s%llu", m ? "," : "", seeds[m]);
                ok = put(&out, num);
            }
        }
        ok = ok && put(&out, tab + 1) && put(&out, " --out") && put_word(&out, dir) && put(&out, "\ncgalr report") && put_word(&out, dir) &&
             put(&out, "\n```\n\n");
    } else if (ok && nv >= 1) {
        char line[128];
        ok = put(&out, "These runs do not come from one grid command: ");
        snprintf(line, sizeof line, "%zu different sets of options%s", nv,
                 without ? " and runs whose config.json has no command" : "");
        ok = ok && put(&out, line) && put(&out, " (besides method, rate and seed):\n\n```\n");
        for (size_t m = 0; ok && m < nv; m++) {
            snprintf(line, sizeof line, "   # %zu run%s\n", v[m].runs, v[m].runs == 1 ? "" : "s");
            char *tab = strchr(v[m].shared, '\t');
            *tab = ' ';
            ok = put(&out, "cgalr train") && put(&out, v[m].shared) && put(&out, line);
        }
        ok = ok && put(&out, "```\n\n");
    }
    for (size_t m = 0; v && m < nv; m++)
        free(v[m].shared);
    for (size_t m = 0; methods && m < nm; m++)
        free(methods[m]);
    free(v);
    free(methods);
    free(lrs);
    free(seeds);
    if (!ok) {
        free(out.s);
        return NULL;
    }
    return out.s;
}
