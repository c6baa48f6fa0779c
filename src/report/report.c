/* `cgalr report`: reads every run directory of a grid, picks the best and worst grid learning
 * rate per method, computes RED against the baselines with t-intervals, writes report.md and
 * renders figures with gnuplot. Every number comes from config.json and metrics.jsonl alone. */
#include "cgalr/report.h"

#include "cgalr/ctrl.h"
#include "report/figure_style.h"
#include "report/provenance.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

void cgalr_report_config_default(cgalr_report_config_t *cfg)
{
    cfg->figures = 1;
    cfg->gnuplot = "gnuplot";
}

/* ---- a growable string ------------------------------------------------------------------ */

typedef struct {
    char *s;
    size_t len, cap;
    int oom;
} sbuf;

static void sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(sbuf *b, const char *fmt, ...)
{
    if (b->oom)
        return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        size_t room = b->cap - b->len;
        int n = vsnprintf(b->s ? b->s + b->len : NULL, b->s ? room : 0, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->oom = 1;
            return;
        }
        if (b->s && (size_t)n < room) {
            b->len += (size_t)n;
            return;
        }
        size_t nc = (b->cap ? b->cap * 2 : 4096) + (size_t)n + 1;
        char *ns = realloc(b->s, nc);
        if (!ns) {
            b->oom = 1;
            return;
        }
        b->s = ns;
        b->cap = nc;
    }
}

/* ---- runs ------------------------------------------------------------------------------- */

typedef struct {
    char *dir;
    char *data, *model, *method;
    char *command; /* config.json's "command" (NULL when absent) */
    double lr;   /* NaN for methods without a learning rate (dog) */
    long long seed;
    int fold;    /* the test fold with --folds K; -1 for a fixed split */
    int epochs;
    cgalr_metrics_t m;
    double final_val_loss; /* +inf when diverged or non-finite */
    double final_val_acc;  /* 0 when diverged (its non-finite logits count as wrong) or no
                            * validation set */
    double final_test_acc; /* NaN when not computed */
    double best_val_acc;   /* NaN when no finite value */
    double tau_enter, tau_exit; /* the gate's thresholds (CG-ALR; NaN otherwise or unparsable) */
} run;

typedef struct {
    char *dir;
    char *why;
} skipped;

typedef struct {
    run *runs;
    size_t n, cap;
    skipped *skip;
    size_t n_skip, cap_skip;
    char **dirs;
    size_t n_dirs, cap_dirs;
} collection;

static int push_dir(collection *c, const char *path)
{
    if (c->n_dirs == c->cap_dirs) {
        size_t nc = c->cap_dirs ? 2 * c->cap_dirs : 64;
        char **nd = realloc(c->dirs, nc * sizeof *nd);
        if (!nd)
            return 0;
        c->dirs = nd;
        c->cap_dirs = nc;
    }
    c->dirs[c->n_dirs] = strdup(path);
    return c->dirs[c->n_dirs++] != NULL;
}

static int is_file(const char *dir, const char *name)
{
    char p[4096];
    struct stat st;
    if ((size_t)snprintf(p, sizeof p, "%s/%s", dir, name) >= sizeof p)
        return 0;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

static cgalr_status_t find_runs(collection *c, const char *dir, int depth)
{
    if (is_file(dir, "config.json") && is_file(dir, "metrics.jsonl"))
        return push_dir(c, dir) ? CGALR_OK : cgalr_fail(CGALR_ENOMEM, "out of memory");
    if (depth >= 4)
        return CGALR_OK;
    DIR *d = opendir(dir);
    if (!d)
        return depth == 0 ? cgalr_fail(CGALR_EIO, "%s: cannot open directory: %s", dir, strerror(errno)) : CGALR_OK;
    struct dirent *e;
    cgalr_status_t st = CGALR_OK;
    while (st == CGALR_OK && (e = readdir(d))) {
        if (e->d_name[0] == '.' || !strcmp(e->d_name, "figures"))
            continue;
        char p[4096];
        struct stat sb;
        if ((size_t)snprintf(p, sizeof p, "%s/%s", dir, e->d_name) >= sizeof p)
            continue;
        if (stat(p, &sb) == 0 && S_ISDIR(sb.st_mode))
            st = find_runs(c, p, depth + 1);
    }
    closedir(d);
    return st;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int add_skip(collection *c, const char *dir, const char *why)
{
    if (c->n_skip == c->cap_skip) {
        size_t nc = c->cap_skip ? 2 * c->cap_skip : 16;
        skipped *ns = realloc(c->skip, nc * sizeof *ns);
        if (!ns)
            return 0;
        c->skip = ns;
        c->cap_skip = nc;
    }
    c->skip[c->n_skip].dir = strdup(dir);
    c->skip[c->n_skip].why = strdup(why);
    c->n_skip++;
    return c->skip[c->n_skip - 1].dir && c->skip[c->n_skip - 1].why;
}

static char *read_text(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    if (fseek(f, 0, SEEK_END) != 0) {
        fclose(f);
        return NULL;
    }
    long n = ftell(f);
    if (n < 0 || n > (1L << 24) || fseek(f, 0, SEEK_SET) != 0) {
        fclose(f);
        return NULL;
    }
    char *s = malloc((size_t)n + 1);
    if (s && fread(s, 1, (size_t)n, f) != (size_t)n) {
        free(s);
        s = NULL;
    }
    if (s)
        s[n] = '\0';
    fclose(f);
    return s;
}

/* What the report needs to know of a method comes from the control layer's one list. */
static unsigned method_facts(const char *method)
{
    int m = cgalr_method_parse(method);
    return m < 0 ? CGALR_MF_HAS_LR : cgalr_method_facts((cgalr_method_t)m);
}
static int method_has_lr(const char *method) { return (method_facts(method) & CGALR_MF_HAS_LR) != 0; }
static int method_is_cgalr(const char *method) { return (method_facts(method) & CGALR_MF_CGALR) != 0; }

static void run_free(run *r)
{
    free(r->dir);
    free(r->data);
    free(r->model);
    free(r->method);
    free(r->command);
    cgalr_metrics_free(&r->m);
}

/* Loads one run; 0 with *why set when it must be left out, -1 on out of memory. */
static int load_run(const char *dir, run *r, char *why, size_t whylen)
{
    memset(r, 0, sizeof *r);
    /* finished means what the grid and train mean by it: one definition (runs.c) */
    cgalr_run_status_t rs;
    cgalr_run_status(dir, &rs);
    if (rs.state != CGALR_RUN_FINISHED) {
        snprintf(why, whylen, "%s: %s", cgalr_run_state_name(rs.state), rs.why);
        return 0;
    }
    char p[4096];
    snprintf(p, sizeof p, "%s/config.json", dir);
    char *text = read_text(p);
    if (!text) {
        snprintf(why, whylen, "config.json unreadable");
        return 0;
    }
    cJSON *cfg = cJSON_Parse(text);
    free(text);
    if (!cJSON_IsObject(cfg)) {
        cJSON_Delete(cfg);
        snprintf(why, whylen, "config.json is not a JSON object");
        return 0;
    }
    const cJSON *data = cJSON_GetObjectItemCaseSensitive(cfg, "data");
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(cfg, "model");
    const cJSON *sched = cJSON_GetObjectItemCaseSensitive(cfg, "sched");
    const cJSON *lr = cJSON_GetObjectItemCaseSensitive(cfg, "lr");
    const cJSON *seed = cJSON_GetObjectItemCaseSensitive(cfg, "seed");
    const cJSON *epochs = cJSON_GetObjectItemCaseSensitive(cfg, "epochs");
    const cJSON *sopts = cJSON_GetObjectItemCaseSensitive(cfg, "sched_opts");
    if (!cJSON_IsString(data) || !cJSON_IsString(model) || !cJSON_IsString(sched) || !cJSON_IsNumber(seed) ||
        !cJSON_IsNumber(epochs) || !(cJSON_IsNumber(lr) || cJSON_IsNull(lr) || !lr)) {
        cJSON_Delete(cfg);
        snprintf(why, whylen, "config.json lacks data, model, sched, lr, seed or epochs");
        return 0;
    }
    r->dir = strdup(dir);
    r->data = strdup(data->valuestring);
    r->model = strdup(model->valuestring);
    r->method = strdup(sched->valuestring);
    r->seed = (long long)seed->valuedouble;
    const cJSON *fold = cJSON_GetObjectItemCaseSensitive(cfg, "fold");
    r->fold = cJSON_IsNumber(fold) ? (int)fold->valuedouble : -1;
    r->epochs = (int)epochs->valuedouble;
    r->lr = (cJSON_IsNumber(lr) && method_has_lr(sched->valuestring)) ? lr->valuedouble : NAN;
    const cJSON *command = cJSON_GetObjectItemCaseSensitive(cfg, "command");
    if (cJSON_IsString(command) && !(r->command = strdup(command->valuestring))) {
        cJSON_Delete(cfg);
        run_free(r);
        return -1;
    }
    r->tau_enter = r->tau_exit = NAN;
    if (method_is_cgalr(sched->valuestring)) {
        /* the thresholds the run's gate used: the control layer's defaults and parser */
        cgalr_sched_config_t sc;
        cgalr_sched_config_default(&sc, (cgalr_method_t)cgalr_method_parse(sched->valuestring));
        if (cgalr_sched_config_set_list(&sc, cJSON_IsString(sopts) ? sopts->valuestring : NULL) == CGALR_OK) {
            r->tau_enter = sc.tau_enter;
            r->tau_exit = sc.tau_exit;
        }
    }
    cJSON_Delete(cfg);
    if (!r->dir || !r->data || !r->model || !r->method) {
        run_free(r);
        return -1;
    }
    snprintf(p, sizeof p, "%s/metrics.jsonl", dir);
    if (cgalr_metrics_read(p, 0, &r->m) != CGALR_OK) { /* changed since cgalr_run_status read it */
        snprintf(why, whylen, "%s", cgalr_last_error());
        run_free(r);
        return 0;
    }
    const cgalr_epoch_record_t *last = r->m.n ? &r->m.rec[r->m.n - 1] : NULL;
    r->final_val_loss = (r->m.diverged || !last || !isfinite(last->val_loss)) ? INFINITY : last->val_loss;
    /* METHOD.md section 6: a diverged run's predictions are non-finite logits, which count as
     * wrong; its final accuracies are 0, its loss infinite */
    r->final_test_acc = r->m.diverged ? 0.0 : last ? last->test_acc : NAN;
    r->final_val_acc = (r->m.diverged || !last || isnan(last->val_acc)) ? 0.0 : last->val_acc;
    r->best_val_acc = NAN;
    for (size_t i = 0; i < r->m.n; i++)
        if (!isnan(r->m.rec[i].val_acc) && (isnan(r->best_val_acc) || r->m.rec[i].val_acc > r->best_val_acc))
            r->best_val_acc = r->m.rec[i].val_acc;
    return 1;
}

/* Methods in the control layer's order with the CG-ALR variants last, unknown names after them
 * alphabetically. */
static int method_rank(const char *m)
{
    int k = cgalr_method_parse(m);
    if (k < 0)
        return 1000;
    return method_is_cgalr(m) ? CGALR_METHOD_COUNT + k : k;
}

static int cmp_run(const void *pa, const void *pb)
{
    const run *a = pa, *b = pb;
    int c = strcmp(a->data, b->data);
    if (c)
        return c;
    if ((c = strcmp(a->model, b->model)))
        return c;
    int ra = method_rank(a->method), rb = method_rank(b->method);
    if (ra != rb)
        return ra < rb ? -1 : 1;
    if ((c = strcmp(a->method, b->method)))
        return c;
    /* learning rates descending (0.1, 0.01, 0.001), NaN last */
    if (isnan(a->lr) != isnan(b->lr))
        return isnan(a->lr) ? 1 : -1;
    if (!isnan(a->lr) && a->lr != b->lr)
        return a->lr > b->lr ? -1 : 1;
    if (a->seed != b->seed)
        return a->seed < b->seed ? -1 : 1;
    if (a->fold != b->fold)
        return a->fold < b->fold ? -1 : 1;
    return 0;
}

/* Runs of two methods pair when they saw the same data and initialisation: (fold, seed). */
static int same_pair(const run *a, const run *b) { return a->seed == b->seed && a->fold == b->fold; }

static int same_lr(double a, double b) { return (isnan(a) && isnan(b)) || a == b; }

/* ---- groups ----------------------------------------------------------------------------- */

typedef struct {
    size_t first, count;      /* runs[first .. first+count) share (dataset, model, method, lr) */
    double lr;
    double mean_val_loss;     /* +inf if any run diverged */
    double mean_val_acc;      /* mean final validation accuracy (diverged runs 0) */
    size_t diverged;
} cell;

typedef struct {
    const char *method;
    size_t first_cell, n_cells;
    size_t best, worst;       /* cell indices: by mean final val acc, ties by val loss */
    size_t best_loss, worst_loss; /* the choice by mean final val loss alone, shown beside */
} mgroup;

typedef struct {
    const char *data, *model;
    size_t first_method, n_methods;
} dgroup;

typedef struct {
    double mean, sd, lo, hi;
    size_t n;
} summary;

static summary summarize(const double *v, size_t n)
{
    summary s = {NAN, NAN, NAN, NAN, 0};
    double sum = 0;
    for (size_t i = 0; i < n; i++) {
        if (isnan(v[i]))
            continue;
        if (s.n == 0 || v[i] < s.lo)
            s.lo = v[i];
        if (s.n == 0 || v[i] > s.hi)
            s.hi = v[i];
        sum += v[i];
        s.n++;
    }
    if (s.n == 0)
        return s;
    s.mean = sum / (double)s.n;
    double ss = 0;
    for (size_t i = 0; i < n; i++)
        if (!isnan(v[i]))
            ss += (v[i] - s.mean) * (v[i] - s.mean);
    s.sd = s.n > 1 ? sqrt(ss / (double)(s.n - 1)) : 0.0;
    return s;
}

static void fmt_summary(sbuf *b, summary s)
{
    if (s.n == 0)
        sb_printf(b, "n/a");
    else
        sb_printf(b, "%.4f ± %.4f [%.4f, %.4f]", s.mean, s.sd, s.lo, s.hi);
}

static void fmt_loss(sbuf *b, double v)
{
    if (isinf(v))
        sb_printf(b, "inf");
    else if (isnan(v))
        sb_printf(b, "n/a");
    else
        sb_printf(b, "%.6g", v);
}

static void fmt_lr(sbuf *b, double lr)
{
    if (isnan(lr))
        sb_printf(b, "-");
    else
        sb_printf(b, "%g", lr);
}

/* ---- figures ---------------------------------------------------------------------------- */

static void slug(char *out, size_t cap, const char *a, const char *b)
{
    size_t k = 0;
    for (const char *p = a; *p && k + 1 < cap; p++)
        out[k++] = *p;
    if (k + 1 < cap)
        out[k++] = '_';
    for (const char *p = b; *p && k + 1 < cap; p++)
        out[k++] = *p;
    out[k] = '\0';
    for (char *p = out; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '-'))
            *p = '_';
}

/* A string safe inside a gnuplot double-quoted title. */
static void safe(char *out, size_t cap, const char *s)
{
    snprintf(out, cap, "%s", s);
    for (char *p = out; *p; p++)
        if (*p == '"' || *p == '\\' || *p == '\n' || (unsigned char)*p < 32)
            *p = '_';
}

static int write_file(const char *path, const char *text, size_t len)
{
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "wb");
    if (!f)
        return 0;
    int ok = fwrite(text, 1, len, f) == len;
    ok = (fclose(f) == 0) && ok;
    if (ok && rename(tmp, path) != 0)
        ok = 0;
    if (!ok)
        remove(tmp);
    return ok;
}

static double field(const cgalr_epoch_record_t *r, int which)
{
    switch (which) {
    case 0: return r->lr;
    case 1: return r->train_loss;
    case 2: return r->val_loss;
    default: return NAN;
    }
}

/* Per-epoch mean, min and max over the seeds of a cell; one data block. */
static void cell_block(sbuf *b, const run *runs, const cell *c, int which, const char *label)
{
    size_t maxe = 0;
    for (size_t i = 0; i < c->count; i++)
        if (runs[c->first + i].m.n > maxe)
            maxe = runs[c->first + i].m.n;
    sb_printf(b, "# %s\n# epoch mean min max\n", label);
    for (size_t e = 0; e < maxe; e++) {
        double sum = 0, lo = NAN, hi = NAN;
        size_t k = 0;
        for (size_t i = 0; i < c->count; i++) {
            const run *r = &runs[c->first + i];
            if (e >= r->m.n)
                continue;
            double v = field(&r->m.rec[e], which);
            if (!isfinite(v))
                continue;
            sum += v;
            lo = k == 0 || v < lo ? v : lo;
            hi = k == 0 || v > hi ? v : hi;
            k++;
        }
        if (k)
            sb_printf(b, "%zu %.10g %.10g %.10g\n", e + 1, sum / (double)k, lo, hi);
        else
            sb_printf(b, "%zu NaN NaN NaN\n", e + 1);
    }
    if (maxe == 0)
        sb_printf(b, "1 NaN NaN NaN\n");
    sb_printf(b, "\n\n");
}

/* Wraps a plot body so one script renders both PNG (pngcairo if present, else png) and SVG. */
static void gp_script(sbuf *gp, const char *name, const char *body, int multi_rows)
{
    int h = multi_rows > 1 ? 250 * multi_rows : 560;
    sb_printf(gp,
              "# Renders %s.png and %s.svg from %s.dat; edit and rerun `gnuplot %s.gp` to restyle.\n"
              "set datafile missing \"NaN\"\n"
              "if (strstrt(GPVAL_TERMINALS, \"pngcairo\") > 0) {\n"
              "  set terminal pngcairo size 900,%d noenhanced font \",10\"\n"
              "} else {\n"
              "  set terminal png size 900,%d noenhanced\n"
              "}\n"
              "set output \"%s.png\"\n%s"
              "unset multiplot\nset output\n"
              "set terminal svg size 900,%d noenhanced\n"
              "set output \"%s.svg\"\n%s"
              "unset multiplot\nset output\n",
              name, name, name, name, h, h, name, body, h, name, body);
}

static int render(const char *figdir, const char *name, const char *gnuplot)
{
    char script[512];
    snprintf(script, sizeof script, "%s.gp", name);
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        return 0;
    if (pid == 0) {
        if (chdir(figdir) != 0)
            _exit(127);
        int fd = open("gnuplot.log", O_WRONLY | O_CREAT | O_APPEND, 0644);
        int nul = open("/dev/null", O_RDONLY);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        if (nul >= 0)
            dup2(nul, 0);
        execlp(gnuplot, gnuplot, script, (char *)NULL);
        _exit(127);
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return 0;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return 0;
    char p[4096];
    struct stat st;
    snprintf(p, sizeof p, "%s/%s.png", figdir, name);
    if (stat(p, &st) != 0 || st.st_size == 0)
        return 0;
    snprintf(p, sizeof p, "%s/%s.svg", figdir, name);
    return stat(p, &st) == 0 && st.st_size > 0;
}

typedef struct {
    const char *figdir;
    const char *gnuplot;
    int enabled;
    size_t rendered;
    int failed;
    int oom;
} figctx;

/* Writes name.dat and name.gp, renders; appends the markdown link. */
static void figure(figctx *fx, sbuf *md, const char *name, const char *caption, sbuf *dat, const char *body,
                   int rows)
{
    if (dat->oom) {
        fx->oom = 1;
        return;
    }
    char p[4096];
    sbuf gp = {0};
    gp_script(&gp, name, body, rows);
    if (gp.oom) {
        fx->oom = 1;
        free(gp.s);
        return;
    }
    snprintf(p, sizeof p, "%s/%s.dat", fx->figdir, name);
    int ok = write_file(p, dat->s ? dat->s : "", dat->len);
    snprintf(p, sizeof p, "%s/%s.gp", fx->figdir, name);
    ok = ok && write_file(p, gp.s, gp.len);
    free(gp.s);
    if (ok && fx->enabled && !fx->failed) {
        if (render(fx->figdir, name, fx->gnuplot))
            fx->rendered++;
        else
            fx->failed = 1;
    }
    if (!ok)
        fx->failed = 1;
    sb_printf(md, "![%s](figures/%s.png)\n\n*%s* (figures/%s.svg, data figures/%s.dat, script figures/%s.gp)\n\n",
              caption, name, caption, name, name, name);
}

/* The style of a method's curve as gnuplot options; every curve of a method goes through here. */
static void style_opts(sbuf *b, const char *method, double lw)
{
    fig_style_t st = fig_style_for(method);
    sb_printf(b, "lc rgb \"%s\" dt %d lw %g", st.colour, st.dash, lw > 0 ? lw : st.lw);
}

/* The last finite value of `which` in each diverged run of a cell: one block of "epoch value seed"
 * rows, written only when there is a point (a run that diverged in its first epoch has none).
 * Returns the number of points. */
static size_t diverged_block(sbuf *b, const run *runs, const cell *c, int which, const char *label)
{
    size_t k = 0;
    for (size_t i = 0; i < c->count; i++) {
        const run *r = &runs[c->first + i];
        if (!r->m.diverged)
            continue;
        for (size_t e = r->m.n; e-- > 0;) {
            double v = field(&r->m.rec[e], which);
            if (!isfinite(v))
                continue;
            if (k++ == 0)
                sb_printf(b, "# %s: last finite point of each diverged run\n# epoch value seed\n", label);
            sb_printf(b, "%zu %.10g %lld\n", e + 1, v, r->seed);
            break;
        }
    }
    if (k)
        sb_printf(b, "\n\n");
    return k;
}

/* A method's curve title: its grid value, which cell, and "(diverged k/n)" when runs diverged. */
static void curve_title(char *out, size_t cap, const char *method, const cell *c, const char *which)
{
    char lab[300], div[64] = "";
    if (c->diverged)
        snprintf(div, sizeof div, " (diverged %zu/%zu)", c->diverged, c->count);
    if (isnan(c->lr))
        snprintf(lab, sizeof lab, "%s%s%s", method, which, div);
    else
        snprintf(lab, sizeof lab, "%s lr=%g%s%s", method, c->lr, which, div);
    safe(out, cap, lab);
}

/* Crosses at the diverged runs' last finite points, in the method's colour. */
static void diverged_plot(sbuf *body, const char *name, size_t block, const char *method)
{
    sb_printf(body, ", \\\n     \"%s.dat\" index %zu using 1:2 with points pt 2 ps 2 ", name, block);
    style_opts(body, method, 2);
    sb_printf(body, " notitle");
}

static void dataset_figures(figctx *fx, sbuf *md, const run *runs, const cell *cells, const mgroup *mg,
                            const dgroup *dg)
{
    char base[256], name[400], title[300], t2[200];
    slug(base, sizeof base, dg->data, dg->model);
    safe(t2, sizeof t2, dg->data);
    char model[100];
    safe(model, sizeof model, dg->model);

    /* learning rate at each method's best grid value */
    {
        sbuf dat = {0}, body = {0};
        snprintf(name, sizeof name, "%s_lr", base);
        sb_printf(&body, "set title \"%s (%s): learning rate at the best grid value, mean over seeds (x: diverged)\"\n"
                         "set xlabel \"epoch\"\nset ylabel \"learning rate\"\nset logscale y\nset format y \"%%g\"\nset key outside right\n"
                         "plot ",
                  t2, model);
        size_t block = 0;
        for (size_t k = 0; k < dg->n_methods; k++) {
            const mgroup *g = &mg[dg->first_method + k];
            const cell *c = &cells[g->best];
            curve_title(title, sizeof title, g->method, c, "");
            cell_block(&dat, runs, c, 0, title);
            sb_printf(&body, "%s\"%s.dat\" index %zu using 1:2 with linespoints pt 7 ps 0.5 ", k ? ", \\\n     " : "",
                      name, block++);
            style_opts(&body, g->method, 0);
            sb_printf(&body, " title \"%s\"", title);
            if (diverged_block(&dat, runs, c, 0, title))
                diverged_plot(&body, name, block++, g->method);
        }
        sb_printf(&body, "\n");
        figure(fx, md, name, "Learning rate over epochs per method (best grid value; a cross marks where a diverged "
                             "run stopped)", &dat, body.s ? body.s : "", 1);
        free(dat.s);
        free(body.s);
        fx->oom |= body.oom;
    }
    /* training and validation loss: best thick, worst thin with open circles, min-max bands */
    for (int which = 1; which <= 2; which++) {
        sbuf dat = {0}, body = {0};
        const char *what = which == 1 ? "training loss" : "validation loss";
        snprintf(name, sizeof name, "%s_%s", base, which == 1 ? "train_loss" : "val_loss");
        sb_printf(&body, "set title \"%s (%s): %s (best lr thick, worst thin, x: diverged)\"\n"
                         "set xlabel \"epoch\"\nset ylabel \"%s\"\nset logscale y\nset format y \"%%g\"\nset key outside right\n"
                         "set style fill transparent solid 0.15 noborder\nplot ",
                  t2, model, what, what);
        size_t block = 0;
        int first = 1;
        for (size_t k = 0; k < dg->n_methods; k++) {
            const mgroup *g = &mg[dg->first_method + k];
            fig_style_t st = fig_style_for(g->method);
            for (int w = 0; w < 2; w++) {
                const cell *c = &cells[w == 0 ? g->best : g->worst];
                if (w == 1 && g->worst == g->best)
                    break;
                curve_title(title, sizeof title, g->method, c, w == 0 ? " (best)" : " (worst)");
                cell_block(&dat, runs, c, which, title);
                sb_printf(&body, "%s\"%s.dat\" index %zu using 1:3:4 with filledcurves fc rgb \"%s\" notitle, \\\n"
                                 "     \"%s.dat\" index %zu using 1:2 with %s ",
                          first ? "" : ", \\\n     ", name, block, st.colour, name, block,
                          w == 0 ? "lines" : "linespoints pt 6 ps 0.6");
                style_opts(&body, g->method, w == 0 ? 0 : 1);
                sb_printf(&body, " title \"%s\"", title);
                first = 0;
                block++;
                if (diverged_block(&dat, runs, c, which, title))
                    diverged_plot(&body, name, block++, g->method);
            }
        }
        sb_printf(&body, "\n");
        snprintf(title, sizeof title, "%s over epochs per method: best grid value (thick), worst (thin, circles), "
                                      "min-max band over seeds; a cross marks where a diverged run stopped",
                 which == 1 ? "Training loss" : "Validation loss");
        figure(fx, md, name, title, &dat, body.s ? body.s : "", 1);
        free(dat.s);
        free(body.s);
        fx->oom |= body.oom;
    }
    /* controller trace of each CG-ALR variant at its best grid value, one line per seed */
    for (size_t k = 0; k < dg->n_methods; k++) {
        const mgroup *g = &mg[dg->first_method + k];
        const cell *c = &cells[g->best];
        int any = 0;
        for (size_t i = 0; i < c->count; i++)
            for (size_t e = 0; e < runs[c->first + i].m.n; e++)
                any |= runs[c->first + i].m.rec[e].has_ctrl;
        if (!any)
            continue;
        sbuf dat = {0}, body = {0};
        char ms[100];
        slug(ms, sizeof ms, base, g->method);
        snprintf(name, sizeof name, "%s_ctrl", ms);
        size_t maxe = 1;
        for (size_t i = 0; i < c->count; i++)
            if (runs[c->first + i].m.n > maxe)
                maxe = runs[c->first + i].m.n;
        size_t xmax = maxe > 1 ? maxe : 2;
        for (size_t i = 0; i < c->count; i++) {
            const run *r = &runs[c->first + i];
            sb_printf(&dat, "# seed %lld\n# epoch d z state(-1 decel, 0 hold, 1 accel) rho\n", r->seed);
            for (size_t e = 0; e < r->m.n; e++) {
                const cgalr_epoch_record_t *x = &r->m.rec[e];
                double s = !strcmp(x->state, "decel") ? -1 : !strcmp(x->state, "accel") ? 1 : 0;
                sb_printf(&dat, "%d %.10g %.10g %g %.10g\n", x->epoch, isfinite(x->d) ? x->d : NAN,
                          isfinite(x->z) ? x->z : NAN, x->has_ctrl ? s : NAN, isfinite(x->rho) ? x->rho : NAN);
            }
            if (r->m.n == 0)
                sb_printf(&dat, "1 NaN NaN NaN NaN\n");
            sb_printf(&dat, "\n\n");
        }
        /* the thresholds: those of the first seed; seeds of one cell normally share them */
        double te = runs[c->first].tau_enter, tx = runs[c->first].tau_exit;
        int tau_differ = 0;
        for (size_t i = 1; i < c->count; i++)
            tau_differ |= !same_lr(runs[c->first + i].tau_enter, te) || !same_lr(runs[c->first + i].tau_exit, tx);
        /* panels share x: one xrange and fixed left/right margins, so the axes line up whatever
         * the width of each panel's tick labels and key */
        sb_printf(&body, "set multiplot layout 4,1 title \"%s (%s): %s controller at lr=%g, one line per seed; "
                         "shaded: warm-up (z undefined)%s\"\n"
                         "set key outside right\nset lmargin at screen 0.1\nset rmargin at screen 0.78\n"
                         "set xrange [1:%zu]\n",
                  t2, model, g->method, c->lr, tau_differ ? "; seeds differ in tau, the first seed's shown" : "",
                  xmax);
        if (isfinite(te) && isfinite(tx))
            sb_printf(&body, "tau_enter = %.17g\ntau_exit = %.17g\n", te, tx);
        /* warm-up: epochs where any seed's z is not defined (null in metrics.jsonl) */
        int nobj = 0;
        for (size_t e = 0; e < maxe;) {
            int undefined = 0;
            for (size_t i = 0; i < c->count && !undefined; i++) {
                const run *r = &runs[c->first + i];
                undefined = e < r->m.n && r->m.rec[e].has_ctrl && isnan(r->m.rec[e].z);
            }
            if (!undefined) {
                e++;
                continue;
            }
            size_t e0 = e;
            for (;;) {
                int more = 0;
                for (size_t i = 0; e + 1 < maxe && i < c->count && !more; i++) {
                    const run *r = &runs[c->first + i];
                    more = e + 1 < r->m.n && r->m.rec[e + 1].has_ctrl && isnan(r->m.rec[e + 1].z);
                }
                if (!more)
                    break;
                e++;
            }
            double lo = (double)e0 + 0.5, hi = (double)e + 1.5; /* epochs e0+1 .. e+1, half a step either side */
            sb_printf(&body, "# warm-up: epochs %zu to %zu\n"
                             "set object %d rect from first %g, graph 0 to first %g, graph 1 behind "
                             "fillcolor rgb \"#e0e0e0\" fillstyle solid 1.0 noborder\n",
                      e0 + 1, e + 1, ++nobj, lo < 1 ? 1 : lo, hi > (double)xmax ? (double)xmax : hi);
            e++;
        }
        static const char *const ylab[] = {"distance d_t", "z_t (axis clipped to +-10)", "gate state", "multiplier rho"};
        for (int col = 0; col < 4; col++) {
            sb_printf(&body, "set ylabel \"%s\"\n%s", ylab[col], col == 3 ? "set xlabel \"epoch\"\n" : "unset xlabel\n");
            /* d_t spans decades (d_1 compares with the untrained network); z_t is clipped so a
             * large score after a quiet history does not flatten the rest */
            if (col == 2)
                sb_printf(&body, "unset logscale y\nset yrange [-1.5:1.5]\nset ytics (\"decel\" -1, \"hold\" 0, \"accel\" 1)\n");
            else if (col == 0)
                sb_printf(&body, "set logscale y\nset autoscale y\nset ytics autofreq\n");
            else if (col == 1)
                sb_printf(&body, "unset logscale y\nset yrange [-10:10]\nset ytics autofreq\n");
            else
                sb_printf(&body, "unset logscale y\nset autoscale y\nset ytics autofreq\n");
            sb_printf(&body, "plot ");
            for (size_t i = 0; i < c->count; i++)
                sb_printf(&body, "%s\"%s.dat\" index %zu using 1:%d with %s lc %zu title \"seed %lld\"",
                          i ? ", " : "", name, i, col + 2, col == 2 ? "steps lw 2" : "linespoints pt 7 ps 0.5", i + 1,
                          runs[c->first + i].seed);
            if (col == 1 && isfinite(te) && isfinite(tx))
                sb_printf(&body, ", \\\n     tau_enter with lines lc rgb \"#000000\" dt 2 lw 1 title \"+-tau_enter = %g\", "
                                 "-tau_enter with lines lc rgb \"#000000\" dt 2 lw 1 notitle, \\\n"
                                 "     tau_exit with lines lc rgb \"#606060\" dt 3 lw 1 title \"+-tau_exit = %g\", "
                                 "-tau_exit with lines lc rgb \"#606060\" dt 3 lw 1 notitle",
                          te, tx);
            sb_printf(&body, "\n");
        }
        snprintf(title, sizeof title, "%s: d_t, z_t (with the gate's thresholds +-tau_enter, +-tau_exit), gate state "
                                      "and rho over epochs (lr=%g); shaded: warm-up, where z is not defined",
                 g->method, c->lr);
        figure(fx, md, name, title, &dat, body.s ? body.s : "", 4);
        free(dat.s);
        free(body.s);
        fx->oom |= body.oom;
    }
}

/* ---- the report ------------------------------------------------------------------------- */

static void free_collection(collection *c)
{
    for (size_t i = 0; i < c->n; i++)
        run_free(&c->runs[i]);
    free(c->runs);
    for (size_t i = 0; i < c->n_skip; i++) {
        free(c->skip[i].dir);
        free(c->skip[i].why);
    }
    free(c->skip);
    for (size_t i = 0; i < c->n_dirs; i++)
        free(c->dirs[i]);
    free(c->dirs);
}

static void write_definitions(sbuf *md)
{
    sb_printf(md,
              "## Definitions\n\n"
              "- A run is complete when metrics.jsonl has one line per configured epoch, or ends with the "
              "diverged marker. Incomplete runs are listed at the end and left out of every number.\n"
              "- Final validation loss: `val_loss` of the last epoch line; a diverged run (or a non-finite "
              "loss) counts as +inf.\n"
              "- Final validation accuracy: `val_acc` of the last epoch line; 0 for a diverged run (its "
              "non-finite logits count as wrong, METHOD.md section 6) or without a validation set.\n"
              "- Best grid value of a method (METHOD.md section 6): the learning rate with the largest mean "
              "final validation accuracy over its runs (seeds, and folds with --folds); ties: the smaller mean "
              "final validation loss, then the smallest learning rate. Worst: the smallest mean accuracy "
              "(ties: the larger loss, then the largest rate). The choice by the mean final validation loss "
              "alone is shown beside it (`lr by val loss`). The parameter-free methods (dog, prodigy, "
              "dadapt-*) have one value, shown as `-`.\n"
              "- Final test accuracy: `test_acc` of the last epoch line; 0 for a diverged run. Best "
              "validation accuracy: the largest `val_acc` over epochs.\n"
              "- Spread: mean ± sample standard deviation (n - 1 in the denominator; 0 for one run) "
              "[min, max] over the runs (seeds x folds).\n"
              "- RED = (err_cgalr - err_base) / err_base with err = 1 - final test accuracy, each method at "
              "its best grid value. RED < 0 favours CG-ALR. *Paired RED* is computed per (fold, seed) pair present in "
              "both methods (pairs with err_base = 0 left out) and averaged; its 95%% CI is the Student t "
              "interval mean ± t(0.975, n-1) · sd / sqrt(n) over those per-pair values (n/a for n < 2). "
              "*RED of mean errors* uses the mean errors over the same pairs.\n"
              "- Time per epoch: `seconds` (training and evaluation of the epoch) averaged over every epoch "
              "line of every run of the method; controller share: the sum of `ctrl_seconds` (probe forward, "
              "connectome, distance, gate) over the sum of `seconds` of the same lines.\n\n");
}

cgalr_status_t cgalr_report_write(const char *dir, const cgalr_report_config_t *cfg_in,
                                  cgalr_report_result_t *result)
{
    if (!dir || !*dir)
        return cgalr_fail(CGALR_EINVAL, "cgalr_report_write: no directory given");
    cgalr_report_config_t cfg;
    if (cfg_in)
        cfg = *cfg_in;
    else
        cgalr_report_config_default(&cfg);
    if (!cfg.gnuplot)
        cfg.gnuplot = "gnuplot";
    if (result)
        memset(result, 0, sizeof *result);
    struct stat dst;
    if (stat(dir, &dst) != 0 || !S_ISDIR(dst.st_mode))
        return cgalr_fail(CGALR_EIO, "%s: not a directory", dir);

    collection c = {0};
    cgalr_status_t st = find_runs(&c, dir, 0);
    if (st != CGALR_OK) {
        free_collection(&c);
        return st;
    }
    if (c.n_dirs == 0) {
        free_collection(&c);
        return cgalr_fail(CGALR_EINVAL, "%s: no run directories (a directory with config.json and metrics.jsonl)",
                          dir);
    }
    qsort(c.dirs, c.n_dirs, sizeof *c.dirs, cmp_str);
    c.runs = calloc(c.n_dirs, sizeof *c.runs);
    if (!c.runs) {
        free_collection(&c);
        return cgalr_fail(CGALR_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < c.n_dirs; i++) {
        char why[1200];
        int r = load_run(c.dirs[i], &c.runs[c.n], why, sizeof why);
        if (r < 0 || (r == 0 && !add_skip(&c, c.dirs[i], why))) {
            free_collection(&c);
            return cgalr_fail(CGALR_ENOMEM, "out of memory");
        }
        if (r > 0)
            c.n++;
    }
    if (c.n == 0) {
        cgalr_status_t s = cgalr_fail(CGALR_EINVAL, "%s: %zu run directories, none complete (first: %s: %s)", dir,
                                      c.n_skip, c.skip[0].dir, c.skip[0].why);
        free_collection(&c);
        return s;
    }
    run *runs = c.runs;
    qsort(runs, c.n, sizeof *runs, cmp_run);
    for (size_t i = 1; i < c.n; i++)
        if (cmp_run(&runs[i - 1], &runs[i]) == 0) {
            cgalr_status_t s = cgalr_fail(CGALR_EFORMAT,
                                          "%s and %s are the same run (data %s, model %s, method %s, lr %g, seed %lld, "
                                          "fold %d): move one away",
                                          runs[i - 1].dir, runs[i].dir, runs[i].data, runs[i].model, runs[i].method,
                                          runs[i].lr, runs[i].seed, runs[i].fold);
            free_collection(&c);
            return s;
        }

    /* cells, method groups, dataset groups: at most one per run */
    cell *cells = calloc(c.n, sizeof *cells);
    mgroup *mg = calloc(c.n, sizeof *mg);
    dgroup *dg = calloc(c.n, sizeof *dg);
    double *v1 = calloc(c.n, sizeof *v1), *v2 = calloc(c.n, sizeof *v2), *v3 = calloc(c.n, sizeof *v3);
    sbuf md = {0};
    if (!cells || !mg || !dg || !v1 || !v2 || !v3) {
        st = cgalr_fail(CGALR_ENOMEM, "out of memory");
        goto done;
    }
    size_t ncell = 0, nmg = 0, ndg = 0;
    for (size_t i = 0; i < c.n; i++) {
        const run *r = &runs[i];
        int new_d = i == 0 || strcmp(r->data, runs[i - 1].data) || strcmp(r->model, runs[i - 1].model);
        int new_m = new_d || strcmp(r->method, runs[i - 1].method);
        int new_c = new_m || !same_lr(r->lr, runs[i - 1].lr);
        if (new_d)
            dg[ndg++] = (dgroup){r->data, r->model, nmg, 0};
        if (new_m) {
            mg[nmg++] = (mgroup){r->method, ncell, 0, 0, 0, 0, 0};
            dg[ndg - 1].n_methods++;
        }
        if (new_c) {
            cells[ncell++] = (cell){i, 0, r->lr, 0, 0, 0};
            mg[nmg - 1].n_cells++;
        }
        cells[ncell - 1].count++;
    }
    for (size_t k = 0; k < ncell; k++) {
        cell *ce = &cells[k];
        double sum = 0, sacc = 0;
        for (size_t i = 0; i < ce->count; i++) {
            const run *r = &runs[ce->first + i];
            ce->diverged += r->m.diverged != 0;
            sum += r->final_val_loss;
            sacc += r->final_val_acc;
        }
        ce->mean_val_loss = sum / (double)ce->count;
        ce->mean_val_acc = sacc / (double)ce->count;
    }
    /* cells are stored by descending lr; walk them ascending for the tie rules */
    for (size_t g = 0; g < nmg; g++) {
        mgroup *m = &mg[g];
        size_t best = m->first_cell + m->n_cells - 1, worst = best, bl = best, wl = best;
        for (size_t j = m->n_cells; j-- > 0;) {
            size_t k = m->first_cell + j;
            const cell *c = &cells[k], *b = &cells[best], *w = &cells[worst];
            /* METHOD.md section 6: mean final validation accuracy, ties by the mean final
             * validation loss, then the smallest (best) / largest (worst) rate */
            if (c->mean_val_acc > b->mean_val_acc ||
                (c->mean_val_acc == b->mean_val_acc && c->mean_val_loss < b->mean_val_loss))
                best = k;
            if (c->mean_val_acc < w->mean_val_acc ||
                (c->mean_val_acc == w->mean_val_acc && c->mean_val_loss >= w->mean_val_loss))
                worst = k;
            if (c->mean_val_loss < cells[bl].mean_val_loss)
                bl = k;
            if (c->mean_val_loss >= cells[wl].mean_val_loss)
                wl = k;
        }
        m->best = best;
        m->worst = worst;
        m->best_loss = bl;
        m->worst_loss = wl;
    }

    char figdir[4096];
    snprintf(figdir, sizeof figdir, "%s/figures", dir);
    if (cfg.figures && mkdir(figdir, 0777) != 0 && errno != EEXIST) {
        st = cgalr_fail(CGALR_EIO, "%s: cannot create: %s", figdir, strerror(errno));
        goto done;
    }
    if (cfg.figures) {
        char logp[4200];
        snprintf(logp, sizeof logp, "%s/gnuplot.log", figdir);
        remove(logp);
    }
    figctx fx = {figdir, cfg.gnuplot, cfg.figures, 0, 0, 0};

    sb_printf(&md, "# cgalr report\n\n%zu complete runs", c.n);
    if (c.n_skip)
        sb_printf(&md, ", %zu left out (listed at the end)", c.n_skip);
    sb_printf(&md, ", %zu dataset/model pair%s. Every number below is recomputable from the runs' "
                   "config.json and metrics.jsonl.\n\n",
              ndg, ndg == 1 ? "" : "s");
    {
        /* how to remake these runs, told by the runs themselves (provenance.c) */
        report_run_command_t *rc = calloc(c.n + 1, sizeof *rc);
        for (size_t i = 0; rc && i < c.n; i++) {
            rc[i].dir = c.runs[i].dir;
            rc[i].command = c.runs[i].command;
            rc[i].has_lr = method_has_lr(c.runs[i].method);
        }
        char *prov = rc ? report_provenance(rc, c.n, dir) : NULL;
        free(rc);
        if (!prov)
            md.oom = 1;
        else
            sb_printf(&md, "%s", prov);
        free(prov);
    }
    write_definitions(&md);

    for (size_t d = 0; d < ndg; d++) {
        const dgroup *D = &dg[d];
        sb_printf(&md, "## Dataset %s, model %s\n\n", D->data, D->model);
        {
            /* a grid mixing run lengths compares unlike things: say so */
            int lo = -1, hi = -1;
            for (size_t k = 0; k < D->n_methods; k++) {
                const mgroup *m = &mg[D->first_method + k];
                for (size_t j = 0; j < m->n_cells; j++) {
                    const cell *ce = &cells[m->first_cell + j];
                    for (size_t i = 0; i < ce->count; i++) {
                        int e = runs[ce->first + i].epochs;
                        lo = lo < 0 || e < lo ? e : lo;
                        hi = e > hi ? e : hi;
                    }
                }
            }
            if (lo != hi)
                sb_printf(&md, "**Note**: these runs were configured with different numbers of epochs (%d to %d); "
                               "final values compare runs of different lengths.\n\n",
                          lo, hi);
        }
        sb_printf(&md, "### Grid values\n\n| method | lr | runs | diverged | mean final val acc | mean final val loss |\n"
                       "| --- | --- | --- | --- | --- | --- |\n");
        for (size_t k = 0; k < D->n_methods; k++) {
            const mgroup *m = &mg[D->first_method + k];
            for (size_t j = 0; j < m->n_cells; j++) {
                const cell *ce = &cells[m->first_cell + j];
                sb_printf(&md, "| %s | ", m->method);
                fmt_lr(&md, ce->lr);
                sb_printf(&md, " | %zu | %zu | %.4f | ", ce->count, ce->diverged, ce->mean_val_acc);
                fmt_loss(&md, ce->mean_val_loss);
                sb_printf(&md, " |\n");
            }
        }
        sb_printf(&md, "\n### Best and worst grid value\n\n"
                       "| method | which | lr | runs | diverged | mean final val acc | mean final val loss | "
                       "final test acc | best val acc | lr by val loss |\n"
                       "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n");
        for (size_t k = 0; k < D->n_methods; k++) {
            const mgroup *m = &mg[D->first_method + k];
            for (int w = 0; w < 2; w++) {
                const cell *ce = &cells[w == 0 ? m->best : m->worst];
                for (size_t i = 0; i < ce->count; i++) {
                    v1[i] = runs[ce->first + i].final_test_acc;
                    v2[i] = runs[ce->first + i].best_val_acc;
                }
                sb_printf(&md, "| %s | %s | ", m->method, w == 0 ? "best" : "worst");
                fmt_lr(&md, ce->lr);
                sb_printf(&md, " | %zu | %zu | %.4f | ", ce->count, ce->diverged, ce->mean_val_acc);
                fmt_loss(&md, ce->mean_val_loss);
                sb_printf(&md, " | ");
                fmt_summary(&md, summarize(v1, ce->count));
                sb_printf(&md, " | ");
                fmt_summary(&md, summarize(v2, ce->count));
                sb_printf(&md, " | ");
                fmt_lr(&md, cells[w == 0 ? m->best_loss : m->worst_loss].lr);
                sb_printf(&md, " |\n");
            }
        }
        sb_printf(&md, "\n### RED of CG-ALR against the baselines (best grid values)\n\n");
        int any_red = 0;
        for (size_t a = 0; a < D->n_methods; a++) {
            const mgroup *ma = &mg[D->first_method + a];
            if (!method_is_cgalr(ma->method))
                continue;
            for (size_t b = 0; b < D->n_methods; b++) {
                const mgroup *mb = &mg[D->first_method + b];
                if (method_is_cgalr(mb->method))
                    continue;
                if (!any_red)
                    sb_printf(&md, "| CG-ALR | baseline | lr (CG-ALR) | lr (baseline) | pairs (fold, seed) | "
                                   "RED of mean errors | paired RED | 95%% CI |\n"
                                   "| --- | --- | --- | --- | --- | --- | --- | --- |\n");
                any_red = 1;
                const cell *ca = &cells[ma->best], *cb = &cells[mb->best];
                size_t n = 0;
                double sea = 0, seb = 0;
                for (size_t i = 0; i < ca->count; i++) {
                    const run *ra = &runs[ca->first + i];
                    for (size_t j = 0; j < cb->count; j++) {
                        const run *rb = &runs[cb->first + j];
                        if (!same_pair(ra, rb) || isnan(ra->final_test_acc) || isnan(rb->final_test_acc))
                            continue;
                        double ea = 1.0 - ra->final_test_acc, eb = 1.0 - rb->final_test_acc;
                        if (eb == 0.0)
                            continue;
                        v3[n++] = (ea - eb) / eb;
                        sea += ea;
                        seb += eb;
                    }
                }
                sb_printf(&md, "| %s | %s | ", ma->method, mb->method);
                fmt_lr(&md, ca->lr);
                sb_printf(&md, " | ");
                fmt_lr(&md, cb->lr);
                sb_printf(&md, " | %zu | ", n);
                if (n == 0) {
                    sb_printf(&md, "n/a | n/a | n/a |\n");
                    continue;
                }
                summary s = summarize(v3, n);
                sb_printf(&md, "%.4f | %.4f | ", (sea - seb) / seb, s.mean);
                if (n >= 2) {
                    double half = cgalr_report_t_quantile(0.975, (double)(n - 1)) * s.sd / sqrt((double)n);
                    sb_printf(&md, "[%.4f, %.4f] |\n", s.mean - half, s.mean + half);
                } else {
                    sb_printf(&md, "n/a |\n");
                }
            }
        }
        if (!any_red)
            sb_printf(&md, "No CG-ALR variant and baseline pair in this dataset.\n");
        sb_printf(&md, "\n### Time per epoch\n\n"
                       "| method | runs | epochs | mean epoch seconds | controller share |\n"
                       "| --- | --- | --- | --- | --- |\n");
        for (size_t k = 0; k < D->n_methods; k++) {
            const mgroup *m = &mg[D->first_method + k];
            double secs = 0, ctrl = 0, ctrl_secs = 0;
            size_t nr = 0, ne = 0, nc = 0;
            for (size_t j = 0; j < m->n_cells; j++) {
                const cell *ce = &cells[m->first_cell + j];
                for (size_t i = 0; i < ce->count; i++) {
                    const run *r = &runs[ce->first + i];
                    nr++;
                    for (size_t e = 0; e < r->m.n; e++) {
                        const cgalr_epoch_record_t *x = &r->m.rec[e];
                        if (!isfinite(x->seconds))
                            continue;
                        secs += x->seconds;
                        ne++;
                        if (isfinite(x->ctrl_seconds)) {
                            ctrl += x->ctrl_seconds;
                            ctrl_secs += x->seconds;
                            nc++;
                        }
                    }
                }
            }
            sb_printf(&md, "| %s | %zu | %zu | ", m->method, nr, ne);
            if (ne)
                sb_printf(&md, "%.4g | ", secs / (double)ne);
            else
                sb_printf(&md, "n/a | ");
            if (nc && ctrl_secs > 0)
                sb_printf(&md, "%.2f%% |\n", 100.0 * ctrl / ctrl_secs);
            else
                sb_printf(&md, "- |\n");
        }
        if (cfg.figures) {
            sb_printf(&md, "\n### Figures\n\n");
            dataset_figures(&fx, &md, runs, cells, mg, D);
        }
    }
    if (fx.oom) {
        st = cgalr_fail(CGALR_ENOMEM, "out of memory");
        goto done;
    }
    if (cfg.figures && fx.failed)
        sb_printf(&md, "**Figures were not all rendered**: gnuplot (`%s`) is missing or failed; see "
                       "figures/gnuplot.log. The .dat and .gp files are written: run `gnuplot NAME.gp` in "
                       "figures/.\n\n",
                  cfg.gnuplot);
    else if (!cfg.figures)
        sb_printf(&md, "Figures were not requested (--no-figures).\n\n");
    if (c.n_skip) {
        sb_printf(&md, "## Runs left out\n\n| run directory | why |\n| --- | --- |\n");
        for (size_t i = 0; i < c.n_skip; i++) {
            /* paths relative to the report's directory: report.md reads the same wherever the
             * grid is copied */
            size_t dl = strlen(dir);
            const char *rd = c.skip[i].dir, *why = c.skip[i].why;
            if (!strncmp(rd, dir, dl) && rd[dl] == '/')
                rd += dl + 1;
            const char *at = strstr(why, dir);
            if (at && at[dl] == '/')
                sb_printf(&md, "| %s | %.*s%s |\n", rd, (int)(at - why), why, at + dl + 1);
            else
                sb_printf(&md, "| %s | %s |\n", rd, why);
        }
        sb_printf(&md, "\n");
    }
    if (md.oom) {
        st = cgalr_fail(CGALR_ENOMEM, "out of memory");
        goto done;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/report.md", dir);
    if (!write_file(path, md.s, md.len)) {
        st = cgalr_fail(CGALR_EIO, "%s: cannot write: %s", path, strerror(errno));
        goto done;
    }
    if (result) {
        result->runs = c.n;
        result->incomplete = c.n_skip;
        result->datasets = ndg;
        result->figures = fx.rendered;
        result->figures_failed = cfg.figures && fx.failed;
    }
done:
    free(md.s);
    free(cells);
    free(mg);
    free(dg);
    free(v1);
    free(v2);
    free(v3);
    free_collection(&c);
    return st;
}
