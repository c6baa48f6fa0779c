/* Collecting a grid's runs: the run directories under the report's directory, each run read
 * from its config.json and metrics.jsonl (finished as src/report/runs.c defines it), sorted, and
 * duplicates refused. */
#include "report/report_internal.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cgalr/ctrl.h"
#include "core/files.h"

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
    char *text = NULL;
    size_t len;
    return core_read_text(path, 1u << 24, &text, &len) == CGALR_OK ? text : NULL;
}

/* What the report needs to know of a method comes from the control layer's one list. */
static unsigned method_facts(const char *method)
{
    int m = cgalr_method_parse(method);
    return m < 0 ? CGALR_MF_HAS_LR : cgalr_method_facts((cgalr_method_t)m);
}
int report_method_has_lr(const char *method) { return (method_facts(method) & CGALR_MF_HAS_LR) != 0; }
int report_method_is_cgalr(const char *method) { return (method_facts(method) & CGALR_MF_CGALR) != 0; }

static void run_free(run *r)
{
    free(r->dir);
    free(r->data);
    free(r->model);
    free(r->method);
    free(r->command);
    free(r->kernels);
    cgalr_metrics_free(&r->m);
}

/* summary.json's "kernels" ({"blas": core, "engine": isa}, written since the kernels decide a run's
 * last bits) as "core/isa" in *out; NULL when the run did not record them (older runs). -1 on out of
 * memory. */
static int read_kernels(const char *dir, char **out)
{
    *out = NULL;
    cJSON *o = report_read_object(dir, "summary.json");
    const cJSON *k = cJSON_GetObjectItemCaseSensitive(o, "kernels");
    const cJSON *blas = cJSON_GetObjectItemCaseSensitive(k, "blas");
    const cJSON *isa = cJSON_GetObjectItemCaseSensitive(k, "engine");
    int rc = 0;
    if (cJSON_IsString(blas) && cJSON_IsString(isa) && strlen(blas->valuestring) < 64 &&
        strlen(isa->valuestring) < 64) {
        size_t n = strlen(blas->valuestring) + strlen(isa->valuestring) + 2;
        if (!(*out = malloc(n)))
            rc = -1;
        else
            snprintf(*out, n, "%s/%s", blas->valuestring, isa->valuestring);
    }
    cJSON_Delete(o);
    return rc;
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
    r->lr = (cJSON_IsNumber(lr) && report_method_has_lr(sched->valuestring)) ? lr->valuedouble : NAN;
    const cJSON *command = cJSON_GetObjectItemCaseSensitive(cfg, "command");
    if (cJSON_IsString(command) && !(r->command = strdup(command->valuestring))) {
        cJSON_Delete(cfg);
        run_free(r);
        return -1;
    }
    r->tau_enter = r->tau_exit = NAN;
    if (report_method_is_cgalr(sched->valuestring)) {
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
    if (read_kernels(dir, &r->kernels) < 0) {
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
    return report_method_is_cgalr(m) ? CGALR_METHOD_COUNT + k : k;
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



void report_collection_free(collection *c)
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

cgalr_status_t report_collect(const char *dir, collection *c)
{
    memset(c, 0, sizeof *c);
    cgalr_status_t st = find_runs(c, dir, 0);
    if (st != CGALR_OK)
        return st;
    if (c->n_dirs == 0)
        return cgalr_fail(CGALR_EINVAL, "%s: no run directories (a directory with config.json and metrics.jsonl)",
                          dir);
    qsort(c->dirs, c->n_dirs, sizeof *c->dirs, cmp_str);
    c->runs = calloc(c->n_dirs, sizeof *c->runs);
    if (!c->runs)
        return cgalr_fail(CGALR_ENOMEM, "out of memory");
    for (size_t i = 0; i < c->n_dirs; i++) {
        char why[1200];
        int r = load_run(c->dirs[i], &c->runs[c->n], why, sizeof why);
        if (r < 0 || (r == 0 && !add_skip(c, c->dirs[i], why)))
            return cgalr_fail(CGALR_ENOMEM, "out of memory");
        if (r > 0)
            c->n++;
    }
    if (c->n == 0)
        return cgalr_fail(CGALR_EINVAL, "%s: %zu run directories, none complete (first: %s: %s)", dir, c->n_skip,
                          c->skip[0].dir, c->skip[0].why);
    run *runs = c->runs;
    qsort(runs, c->n, sizeof *runs, cmp_run);
    for (size_t i = 1; i < c->n; i++)
        if (cmp_run(&runs[i - 1], &runs[i]) == 0)
            return cgalr_fail(CGALR_EFORMAT,
                              "%s and %s are the same run (data %s, model %s, method %s, lr %g, seed %lld, "
                              "fold %d): move one away",
                              runs[i - 1].dir, runs[i].dir, runs[i].data, runs[i].model, runs[i].method, runs[i].lr,
                              runs[i].seed, runs[i].fold);
    return CGALR_OK;
}
