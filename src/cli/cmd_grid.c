/* `cgalr grid`: every (method, learning rate, seed) of an evaluation grid as its own `cgalr train`
 * process and run directory. A manifest (DIR/grid.json) records the command, so rerunning it skips
 * finished runs and resumes interrupted ones, and a different command is refused unless --force.
 *
 * One writer at a time: the grid holds DIR/.grid.lock for its life and every run holds its own
 * DIR/<run>/.lock (cgalr train takes it), both released by the kernel when the holder dies. The
 * children die with the grid (PR_SET_PDEATHSIG), so a rerun never meets a live orphan. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cgalr/ctrl.h"
#include "cgalr/lock.h"
#include "cgalr/report.h"
#include "cgalr/train.h"
#include "cli/cli.h"
#include "cli/dist.h"
#include "core/files.h"

#define MAX_ITEMS 64
#define MAX_PASS 128

static volatile sig_atomic_t grid_stop = 0;
static void on_signal(int sig)
{
    grid_stop = 1;
    (void)sig;
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: cgalr grid --data D --model M --methods LIST --out DIR [--lrs LIST] [--seeds LIST]\n"
            "                  [--epochs E] [--jobs J] [--force] [--dry-run] [cgalr train options]\n\n"
            "Runs `cgalr train` once per (method, lr, seed[, fold]) into DIR/<method>_lr<lr>_s<seed> (the parameter-free\n"
            "methods, which have no learning rate, once per seed: DIR/<method>_s<seed>). Rerunning the same\n"
            "command skips finished runs, resumes interrupted ones and reruns damaged ones (a malformed or\n"
            "incomplete metrics.jsonl); a DIR made by a different command is refused unless --force, which\n"
            "also reruns every run whose config.json differs from the new command. One grid per DIR at a\n"
            "time (DIR/.grid.lock); the runs stop when the grid is killed. Each run's output goes to its\n"
            "train.log. Then `cgalr report DIR` makes the tables and figures.\n\n"
            "  --methods LIST   comma-separated: %s\n"
            "  --lrs LIST       comma-separated learning rates (default 0.1,0.01,0.001)\n"
            "  --seeds LIST     comma-separated seeds (default 0,1,2)\n"
            "  --epochs E       epochs per run (default 10)\n"
            "  --folds K        graph datasets: stratified K-fold, one run per fold as well (DIR/..._f<fold>),\n"
            "                   each fold the test set of its run; the report pairs runs by (fold, seed)\n"
            "  --jobs J         runs at once, as separate processes (default 1; under mpirun: per rank)\n"
            "  --force          accept a DIR made by a different grid command; rerun its runs that differ\n"
            "  --dry-run        list the runs and what would happen to each, run nothing\n"
            "  every other cgalr train option (cgalr train --help) is given to each run, e.g.\n"
            "  --batch 64 --limit 2000 --threads 1 --data-dir DIR; they may also follow a lone --\n\n"
            "On a cluster: `mpirun -np R cgalr grid ...` (or srun) with the same options. Rank 0 plans the grid,\n"
            "hands out one run at a time to whichever rank has a free slot, prints the progress and writes\n"
            "grid.json; DIR must be on a file system every rank sees at the same path. The run directories\n"
            "are the same as those of a local grid. A rank that dies takes only its current runs with it:\n"
            "rerun the same command and they resume.\n",
            cgalr_train_methods());
}

static int split_list(char *s, char **items, int max)
{
    int n = 0;
    for (char *tok = strtok(s, ","); tok; tok = strtok(NULL, ",")) {
        while (*tok == ' ')
            tok++;
        if (!*tok)
            continue;
        if (n == max)
            return -1;
        items[n++] = tok;
    }
    return n;
}

enum { J_TODO, J_RUNNING, J_DONE, J_SKIP, J_FAILED };
typedef struct {
    char method[64];
    double lr;
    int has_lr;
    char lr_text[64];
    char seed[32];
    char fold[24];     /* "" without --folds */
    char dir[4096];
    pid_t pid;
    int state;
    int rc;
    int resumed;
    int clear;         /* damaged or (under --force) a different run: cleared before it starts */
    char why[600];     /* what was found in the directory, for the plan and the messages */
    double t_start;
} job;

typedef struct {
    const char *data, *model, *out;
    char methods_s[1024], lrs_s[1024], seeds_s[1024], epochs_s[32];
    long folds;           /* 0: one run per (method, lr, seed); K: also one per fold */
    char folds_s[16];
    long jobs;
    int force, dry;
    char *pass[MAX_PASS]; /* the train options every run gets */
    int npass;
} grid_args;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int is_dir(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

/* ---- options ------------------------------------------------------------------------------ */

enum { G_DATA = 1000, G_MODEL, G_METHODS, G_LRS, G_SEEDS, G_EPOCHS, G_OUT, G_JOBS, G_FORCE, G_DRY, G_HELP, G_FOLDS,
       G_TRAIN };

/* Train options the grid sets per run itself, with the grid option that does it. */
static const char *owned_by_grid(const char *name)
{
    static const char *const own[][2] = {{"sched", "--methods"}, {"method", "--methods"}, {"lr", "--lrs"},
                                         {"seed", "--seeds"},    {"out", "--out"},         {"resume", NULL}, {"fold", "--folds"},
                                         {"restart", NULL},      {"check", "--dry-run"},   {"quiet", NULL}};
    for (size_t i = 0; i < sizeof own / sizeof own[0]; i++)
        if (!strcmp(name, own[i][0]))
            return own[i][1] ? own[i][1] : "";
    return NULL;
}

static int add_pass(grid_args *g, char *s)
{
    if (g->npass >= MAX_PASS - 2) {
        fprintf(stderr, "cgalr grid: too many train options\n");
        return 0;
    }
    g->pass[g->npass++] = s;
    return 1;
}

/* The grid's own options and every train option (passed on to each run). Returns -1 to go on,
 * else the exit code. */
static int parse_args(int argc, char **argv, grid_args *g)
{
    static struct option opts[96];
    static const struct option own[] = {{"data", required_argument, 0, G_DATA},
                                        {"model", required_argument, 0, G_MODEL},
                                        {"methods", required_argument, 0, G_METHODS},
                                        {"lrs", required_argument, 0, G_LRS},
                                        {"seeds", required_argument, 0, G_SEEDS},
                                        {"epochs", required_argument, 0, G_EPOCHS},
                                        {"out", required_argument, 0, G_OUT},
                                        {"jobs", required_argument, 0, G_JOBS},
                                        {"force", no_argument, 0, G_FORCE},
                                        {"dry-run", no_argument, 0, G_DRY},
                                        {"folds", required_argument, 0, G_FOLDS},
                                        {"help", no_argument, 0, G_HELP}};
    size_t n = 0;
    for (size_t i = 0; i < sizeof own / sizeof own[0]; i++)
        opts[n++] = own[i];
    const struct option *t = cli_train_options();
    for (int i = 0; t[i].name && n + 1 < sizeof opts / sizeof opts[0]; i++) {
        int dup = 0;
        for (size_t k = 0; k < sizeof own / sizeof own[0]; k++)
            dup |= !strcmp(own[k].name, t[i].name);
        if (!dup) {
            opts[n] = t[i];
            opts[n].flag = NULL;
            opts[n].val = G_TRAIN + i;
            n++;
        }
    }
    memset(&opts[n], 0, sizeof opts[n]);

    memset(g, 0, sizeof *g);
    snprintf(g->lrs_s, sizeof g->lrs_s, "0.1,0.01,0.001");
    snprintf(g->seeds_s, sizeof g->seeds_s, "0,1,2");
    snprintf(g->epochs_s, sizeof g->epochs_s, "10");
    g->jobs = 1;
    int c;
    optind = 0;
    opterr = 1;
    /* "+": stop at the first non-option (a lone -- ends the grid's options as before) */
    while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
        switch (c) {
        case G_DATA: g->data = optarg; break;
        case G_MODEL: g->model = optarg; break;
        case G_METHODS: snprintf(g->methods_s, sizeof g->methods_s, "%s", optarg); break;
        case G_LRS: snprintf(g->lrs_s, sizeof g->lrs_s, "%s", optarg); break;
        case G_SEEDS: snprintf(g->seeds_s, sizeof g->seeds_s, "%s", optarg); break;
        case G_EPOCHS: snprintf(g->epochs_s, sizeof g->epochs_s, "%s", optarg); break;
        case G_OUT: g->out = optarg; break;
        case G_JOBS: {
            unsigned long long v = 0;
            int ok = cli_parse_uint(optarg, 1, 64, &v);
            g->jobs = (long)v;
            if (!ok) {
                fprintf(stderr, "cgalr grid: --jobs '%s': expected 1 .. 64\n", optarg);
                return CGALR_EXIT_USAGE;
            }
            break;
        }
        case G_FOLDS: {
            unsigned long long v = 0;
            int ok = cli_parse_uint(optarg, 2, 100, &v);
            g->folds = (long)v;
            if (!ok) {
                fprintf(stderr, "cgalr grid: --folds '%s': expected 2 .. 100 (graph datasets: stratified K-fold, "
                                "every fold the test set of its own run)\n", optarg);
                return CGALR_EXIT_USAGE;
            }
            snprintf(g->folds_s, sizeof g->folds_s, "%ld", g->folds);
            break;
        }
        case G_FORCE: g->force = 1; break;
        case G_DRY: g->dry = 1; break;
        case G_HELP:
        case 'h': usage(stdout); return CGALR_EXIT_OK;
        default: {
            if (c < G_TRAIN) {
                fprintf(stderr, "(cgalr grid --help lists the options; cgalr train --help the run options)\n");
                return CGALR_EXIT_USAGE;
            }
            const struct option *o = &t[c - G_TRAIN];
            const char *instead = owned_by_grid(o->name);
            if (instead) {
                fprintf(stderr, "cgalr grid: --%s is set by the grid for each run%s%s\n", o->name,
                        *instead ? "; use " : "", instead);
                return CGALR_EXIT_USAGE;
            }
            static char flags[MAX_PASS][64];
            char *flag = flags[g->npass < MAX_PASS ? g->npass : MAX_PASS - 1];
            snprintf(flag, sizeof flags[0], "--%s", o->name);
            if (!add_pass(g, flag) || (o->has_arg == required_argument && !add_pass(g, optarg)))
                return CGALR_EXIT_USAGE;
        }
        }
    }
    for (int i = optind; i < argc; i++) {
        if (i == optind && !strcmp(argv[i], "--"))
            continue;
        const char *a = argv[i];
        if (a[0] == '-' && a[1] == '-') {
            char name[64];
            snprintf(name, sizeof name, "%s", a + 2);
            char *eq = strchr(name, '=');
            if (eq)
                *eq = '\0';
            int mine = owned_by_grid(name) != NULL;
            for (size_t k = 0; k < sizeof own / sizeof own[0]; k++)
                mine |= !strcmp(own[k].name, name);
            if (mine) {
                fprintf(stderr, "cgalr grid: %s after -- is set by the grid itself; use the grid's own option\n", a);
                return CGALR_EXIT_USAGE;
            }
        }
        if (!add_pass(g, argv[i]))
            return CGALR_EXIT_USAGE;
    }
    if (!g->data || !g->model || !g->out || !g->methods_s[0]) {
        fprintf(stderr, "cgalr grid: --data, --model, --methods and --out are required\n");
        usage(stderr);
        return CGALR_EXIT_USAGE;
    }
    return -1;
}

/* ---- the plan ------------------------------------------------------------------------------ */

/* argv of `cgalr train` for job j (argv[0] = "train"); returns the count. */
static int train_argv(const grid_args *g, const job *j, char **args)
{
    int k = 0;
    args[k++] = "train";
    args[k++] = "--data";
    args[k++] = (char *)g->data;
    args[k++] = "--model";
    args[k++] = (char *)g->model;
    args[k++] = "--epochs";
    args[k++] = (char *)g->epochs_s;
    for (int i = 0; i < g->npass; i++)
        args[k++] = g->pass[i];
    args[k++] = "--sched";
    args[k++] = (char *)j->method;
    if (j->has_lr) {
        args[k++] = "--lr";
        args[k++] = (char *)j->lr_text;
    }
    args[k++] = "--seed";
    args[k++] = (char *)j->seed;
    if (j->fold[0]) {
        args[k++] = "--folds";
        args[k++] = (char *)g->folds_s;
        args[k++] = "--fold";
        args[k++] = (char *)j->fold;
    }
    args[k++] = "--out";
    args[k++] = (char *)j->dir;
    args[k++] = "--resume";
    args[k] = NULL;
    return k;
}

/* The configuration job j's run will have, parsed exactly as cgalr train parses it. */
static int job_config(const grid_args *g, const job *j, char **argv_store, cgalr_train_config_t *cfg)
{
    int n = train_argv(g, j, argv_store);
    return cli_train_parse(n, argv_store, cfg);
}

/* Every (method, lr, seed) as a job. Returns the count, or -1 with the message printed. */
static long plan_jobs(const grid_args *g, job **out_jobs)
{
    char *methods[MAX_ITEMS], *lrs[MAX_ITEMS], *seeds[MAX_ITEMS];
    static char mbuf[1024], lbuf[1024], sbuf[1024];
    snprintf(mbuf, sizeof mbuf, "%s", g->methods_s);
    snprintf(lbuf, sizeof lbuf, "%s", g->lrs_s);
    snprintf(sbuf, sizeof sbuf, "%s", g->seeds_s);
    int nm = split_list(mbuf, methods, MAX_ITEMS), nl = split_list(lbuf, lrs, MAX_ITEMS),
        ns = split_list(sbuf, seeds, MAX_ITEMS);
    if (nm <= 0 || nl <= 0 || ns <= 0) {
        fprintf(stderr, "cgalr grid: --methods, --lrs and --seeds need 1 .. %d comma-separated values\n", MAX_ITEMS);
        return -1;
    }
    char *endp;
    unsigned long long epochs;
    if (!cli_parse_uint(g->epochs_s, 1, 100000, &epochs)) {
        fprintf(stderr, "cgalr grid: --epochs '%s': expected 1 .. 100000\n", g->epochs_s);
        return -1;
    }
    size_t nf = g->folds ? (size_t)g->folds : 1;
    job *J = calloc((size_t)nm * (size_t)nl * (size_t)ns * nf, sizeof *J);
    if (!J) {
        fprintf(stderr, "cgalr grid: out of memory\n");
        return -1;
    }
    long nj = 0;
    for (int a = 0; a < nm; a++) {
        for (int k = 0; k < a; k++)
            if (!strcmp(methods[k], methods[a])) {
                fprintf(stderr, "cgalr grid: method '%s' listed twice\n", methods[a]);
                goto bad;
            }
        int mk = cgalr_method_parse(methods[a]);
        if (mk < 0) {
            fprintf(stderr, "cgalr grid: unknown method '%s'; valid methods: %s\n", methods[a], cgalr_train_methods());
            goto bad;
        }
        int has_lr = (cgalr_method_facts((cgalr_method_t)mk) & CGALR_MF_HAS_LR) != 0;
        for (int b = 0; b < (has_lr ? nl : 1); b++) {
            double lr = 0.01;
            if (has_lr) {
                lr = strtod(lrs[b], &endp);
                if (*endp || endp == lrs[b] || !isfinite(lr)) {
                    fprintf(stderr, "cgalr grid: --lrs value '%s' is not a number\n", lrs[b]);
                    goto bad;
                }
                for (int k = 0; k < b; k++)
                    if (strtod(lrs[k], NULL) == lr) {
                        fprintf(stderr, "cgalr grid: learning rate %s listed twice\n", lrs[b]);
                        goto bad;
                    }
            }
            for (int s = 0; s < ns; s++) {
                unsigned long long sv = 0;
                if (!cli_parse_uint(seeds[s], 0, ~0ULL, &sv)) {
                    fprintf(stderr, "cgalr grid: --seeds value '%s' is not a non-negative integer\n", seeds[s]);
                    goto bad;
                }
                for (int k = 0; k < s; k++)
                    if (strtoull(seeds[k], NULL, 10) == sv) {
                        fprintf(stderr, "cgalr grid: seed %s listed twice\n", seeds[s]);
                        goto bad;
                    }
                for (size_t f = 0; f < nf; f++) {
                    job *j = &J[nj++];
                    snprintf(j->method, sizeof j->method, "%s", methods[a]);
                    j->has_lr = has_lr;
                    j->lr = lr;
                    snprintf(j->lr_text, sizeof j->lr_text, "%s", has_lr ? lrs[b] : "");
                    snprintf(j->seed, sizeof j->seed, "%llu", sv);
                    char fs[24] = "";
                    if (g->folds) {
                        snprintf(j->fold, sizeof j->fold, "%zu", f);
                        snprintf(fs, sizeof fs, "_f%zu", f);
                    }
                    if (has_lr)
                        snprintf(j->dir, sizeof j->dir, "%s/%s_lr%g_s%llu%s", g->out, j->method, lr, sv, fs);
                    else
                        snprintf(j->dir, sizeof j->dir, "%s/%s_s%llu%s", g->out, j->method, sv, fs);
                }
            }
        }
    }
    *out_jobs = J;
    return nj;
bad:
    free(J);
    return -1;
}

/* Every run's configuration is parsed and validated, and each method's first run goes through
 * every check training makes (dataset, model, probe layer: cgalr_train_check) against a
 * directory that does not exist, before anything is written. Returns 0 when all pass. */
static int check_jobs(const grid_args *g, const job *J, long nj)
{
    char *args[MAX_PASS + 32];
    char probe_dir[4200];
    snprintf(probe_dir, sizeof probe_dir, "%s/.grid-check-%ld", g->out, (long)getpid());
    for (long i = 0; i < nj; i++) {
        cgalr_train_config_t cfg;
        if (job_config(g, &J[i], args, &cfg) != 0) {
            fprintf(stderr, "cgalr grid: the train options were refused (above)\n");
            return 1;
        }
        if (cgalr_train_config_validate(&cfg) != CGALR_OK) {
            fprintf(stderr, "cgalr grid: %s: %s\n", J[i].dir, cgalr_last_error());
            return 1;
        }
        int first_of_method = 1;
        for (long k = 0; k < i; k++)
            first_of_method &= strcmp(J[k].method, J[i].method) != 0;
        if (!first_of_method)
            continue;
        cfg.out = probe_dir;
        cfg.resume = 0;
        if (cgalr_train_check(&cfg) != CGALR_OK) {
            fprintf(stderr, "cgalr grid: %s (%s): %s\n", J[i].method, J[i].dir, cgalr_last_error());
            return 1;
        }
    }
    return 0;
}

/* What each run directory holds decides what happens to it (the one definition of a run's
 * state: cgalr_run_status). Returns 0, or 1 with the message printed when the grid must stop. */
static int classify_jobs(const grid_args *g, job *J, long nj)
{
    char *args[MAX_PASS + 32];
    for (long i = 0; i < nj; i++) {
        job *j = &J[i];
        cgalr_run_status_t rs;
        cgalr_run_status(j->dir, &rs);
        snprintf(j->why, sizeof j->why, "%s", rs.why);
        switch (rs.state) {
        case CGALR_RUN_EMPTY: j->state = J_TODO; break;
        case CGALR_RUN_BUSY:
            fprintf(stderr, "cgalr grid: %s is %s; stop it first (one writer per run)\n", j->dir, rs.why);
            return 1;
        case CGALR_RUN_DAMAGED:
            j->state = J_TODO;
            j->clear = 1;
            break;
        default: {
            cgalr_train_config_t cfg;
            job_config(g, j, args, &cfg); /* parsed successfully by check_jobs */
            if (cgalr_train_config_compare(&cfg, j->dir) != CGALR_OK) {
                if (!g->force) {
                    fprintf(stderr, "cgalr grid: %s was made with other options: %s\n(rerun it with --force to "
                                    "train it again with this command)\n",
                            j->dir, cgalr_last_error());
                    return 1;
                }
                snprintf(j->why, sizeof j->why, "made with other options; --force: trained again");
                j->state = J_TODO;
                j->clear = 1;
            } else if (rs.state == CGALR_RUN_FINISHED && rs.has_summary) {
                j->state = J_SKIP;
            } else {
                j->state = J_TODO; /* unfinished, or finished without its summary (train writes it) */
                j->resumed = 1;
            }
        }
        }
    }
    return 0;
}

/* A damaged run, or one of another command under --force, starts again from nothing. The
 * old metrics stay beside it as metrics.jsonl.old for inspection. */
static int clear_run(const job *j)
{
    static const char *const files[] = {"summary.json", "checkpoint.bin", "config.json"};
    char p[4200], q[4300];
    snprintf(p, sizeof p, "%s/metrics.jsonl", j->dir);
    snprintf(q, sizeof q, "%s/metrics.jsonl.old", j->dir);
    if (rename(p, q) != 0 && errno != ENOENT)
        return 0;
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(p, sizeof p, "%s/%s", j->dir, files[i]);
        if (remove(p) != 0 && errno != ENOENT)
            return 0;
    }
    return 1;
}

/* ---- the manifest -------------------------------------------------------------------------- */

static cJSON *manifest(const grid_args *g)
{
    cJSON *man = cJSON_CreateObject();
    cJSON_AddStringToObject(man, "data", g->data);
    cJSON_AddStringToObject(man, "model", g->model);
    cJSON_AddStringToObject(man, "methods", g->methods_s);
    cJSON_AddStringToObject(man, "lrs", g->lrs_s);
    cJSON_AddStringToObject(man, "seeds", g->seeds_s);
    cJSON_AddNumberToObject(man, "epochs", strtod(g->epochs_s, NULL));
    if (g->folds)
        cJSON_AddNumberToObject(man, "folds", (double)g->folds);
    cJSON *pa = cJSON_AddArrayToObject(man, "train_options");
    for (int i = 0; i < g->npass; i++)
        cJSON_AddItemToArray(pa, cJSON_CreateString(g->pass[i]));
    return man;
}

/* 0 when DIR/grid.json is absent or holds this command; 1 when it holds another. */
static int manifest_differs(const grid_args *g, const cJSON *man)
{
    char manp[4200];
    snprintf(manp, sizeof manp, "%s/grid.json", g->out);
    char *text = cli_read_text(manp);
    if (!text)
        return 0;
    cJSON *old = cJSON_Parse(text);
    free(text);
    int same = old && cJSON_Compare(old, man, 1);
    cJSON_Delete(old);
    return !same;
}

static int write_manifest(const grid_args *g, const cJSON *man)
{
    char manp[4200];
    snprintf(manp, sizeof manp, "%s/grid.json", g->out);
    char *txt = cJSON_Print(man);
    cgalr_status_t st = txt ? core_write_atomic(manp, txt, strlen(txt), 1) : cgalr_fail(CGALR_ENOMEM, "out of memory");
    free(txt);
    if (st != CGALR_OK) {
        fprintf(stderr, "cgalr grid: cannot write %s: %s\n", manp, cgalr_last_error());
        return 0;
    }
    return 1;
}

/* ---- running ------------------------------------------------------------------------------- */

static pid_t launch(const char *self, const grid_args *g, job *j)
{
    char *args[MAX_PASS + 33];
    args[0] = "cgalr";
    train_argv(g, j, args + 1);
    return cli_spawn_run(self, args, j->dir);
}

/* The finished run's final test accuracy from its summary.json ("?" when absent). */
static void final_acc(const char *dir, char *buf, size_t n)
{
    char p[4200];
    snprintf(p, sizeof p, "%s/summary.json", dir);
    char *text = cli_read_text(p);
    cJSON *o = text ? cJSON_Parse(text) : NULL;
    free(text);
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(o, "final_test_acc");
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(o, "diverged");
    if (cJSON_IsTrue(d))
        snprintf(buf, n, "diverged");
    else if (cJSON_IsNumber(a))
        snprintf(buf, n, "test acc %.4f", a->valuedouble);
    else
        snprintf(buf, n, "test acc ?");
    cJSON_Delete(o);
}

typedef struct {
    size_t total, todo, finished_now, failed;
    double t0, run_seconds; /* sum of the wall time of the runs finished in this session */
    long jobs;
} progress;

static void report_done(progress *pr, const job *j, double t)
{
    char acc[64], eta[32], took[32];
    final_acc(j->dir, acc, sizeof acc);
    cli_fmt_time(took, sizeof took, t - j->t_start);
    pr->finished_now++;
    pr->run_seconds += t - j->t_start;
    size_t left = pr->todo - pr->finished_now - pr->failed;
    double per = pr->run_seconds / (double)pr->finished_now;
    double par = (double)(pr->jobs < (long)left ? pr->jobs : (long)(left ? left : 1));
    cli_fmt_time(eta, sizeof eta, left ? per * (double)left / par : 0);
    size_t k = pr->total - pr->todo + pr->finished_now + pr->failed;
    printf("[%zu/%zu] done   %s: %s (%s) | ETA %s\n", k, pr->total, j->dir, acc, took, eta);
}

/* The next run to start, its directory prepared (created; cleared when damaged or replaced), or
 * NULL when none is left. */
static job *next_job(job *J, long nj, long *next, progress *pr)
{
    while (*next < nj) {
        job *j = &J[(*next)++];
        if (j->state != J_TODO)
            continue;
        if (core_mkdirs(j->dir) != CGALR_OK) {
            fprintf(stderr, "cgalr grid: %s: cannot prepare: %s\n", j->dir, cgalr_last_error());
            j->state = J_FAILED;
            pr->failed++;
            continue;
        }
        if (j->clear && !clear_run(j)) {
            fprintf(stderr, "cgalr grid: %s: cannot prepare: %s\n", j->dir, strerror(errno));
            j->state = J_FAILED;
            pr->failed++;
            continue;
        }
        return j;
    }
    return NULL;
}

static void started(job *j, int rank)
{
    j->state = J_RUNNING;
    j->t_start = now_s();
    char where[32] = "";
    if (cli_dist_size() > 1)
        snprintf(where, sizeof where, " [rank %d]", rank);
    printf("start  %s%s%s%s%s\n", j->dir, where, j->resumed ? " (resume: " : j->clear ? " (" : "",
           j->resumed || j->clear ? j->why : "", j->resumed || j->clear ? ")" : "");
    fflush(stdout);
}

/* A run ended with exit code rc: what it left in its directory decides. */
static void ended(job *j, int rc, progress *pr)
{
    j->rc = rc;
    cgalr_run_status_t rs;
    cgalr_run_status(j->dir, &rs);
    if (rc == 0 && rs.state == CGALR_RUN_FINISHED) {
        j->state = J_DONE;
        report_done(pr, j, now_s());
    } else if (grid_stop && rc == CGALR_EXIT_FAIL) {
        j->state = J_TODO; /* stopped at a checkpoint: left for the next run of the grid */
        printf("stopped %s (resumes when the grid is rerun)\n", j->dir);
    } else {
        j->state = J_FAILED;
        pr->failed++;
        printf("FAILED %s (exit %d, %s; see %s/train.log)\n", j->dir, rc, rs.why, j->dir);
    }
    fflush(stdout);
}

/* Runs every J_TODO job: up to g->jobs at once here, and under mpirun up to g->jobs on every
 * other rank as well, each rank's free slot asking for the next run (a work queue, so long and
 * short runs balance). Rank 0 never blocks while other ranks are at work: it polls their
 * messages and its own children in turn. */
static int run_all(const char *self, const grid_args *g, job *J, long nj, progress *pr)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    long next = 0;
    size_t running = 0;
    long remote_open = (long)(cli_dist_size() - 1) * g->jobs; /* worker slots not yet closed */
    for (;;) {
        while (!grid_stop && (long)running < g->jobs) {
            job *j = next_job(J, nj, &next, pr);
            if (!j)
                break;
            j->pid = launch(self, g, j);
            if (j->pid < 0) {
                fprintf(stderr, "cgalr grid: cannot start a process: %s\n", strerror(errno));
                j->state = J_FAILED;
                pr->failed++;
                continue;
            }
            started(j, 0);
            running++;
        }
        int rank, rrc;
        long idx;
        while (remote_open > 0 && cli_gq_poll(&rank, &idx, &rrc)) {
            if (idx >= 0 && idx < nj && J[idx].state == J_RUNNING && rrc == CLI_GQ_NOT_SHARED) {
                /* that rank does not see DIR: its run goes back in the queue for a rank that
                 * does, and the slot gets no more work (the worker printed why) */
                J[idx].state = J_TODO;
                J[idx].clear = 0;
                if (next > idx)
                    next = idx;
                printf("rank %d cannot see %s (--out must be on a file system every rank sees at the same "
                       "path): it gets no more runs; %s goes to another rank\n", rank, g->out, J[idx].dir);
                fflush(stdout);
                cli_gq_close(rank);
                remote_open--;
                continue;
            }
            if (idx >= 0 && idx < nj && J[idx].state == J_RUNNING)
                ended(&J[idx], rrc, pr);
            job *j = grid_stop ? NULL : next_job(J, nj, &next, pr);
            char *args[MAX_PASS + 33];
            args[0] = "cgalr";
            if (j)
                train_argv(g, j, args + 1);
            if (j && cli_gq_send(rank, (long)(j - J), j->dir, args) == 0) {
                j->pid = -1;
                started(j, rank);
            } else {
                if (j) {
                    j->state = J_FAILED;
                    pr->failed++;
                }
                cli_gq_close(rank);
                remote_open--;
            }
        }
        if (running == 0 && remote_open == 0) {
            int left = 0; /* a run handed back by a rank that could not see DIR */
            for (long i = next; i < nj && !grid_stop && !left; i++)
                left = J[i].state == J_TODO;
            if (!left)
                break;
            continue;
        }
        if (grid_stop == 1) {
            /* pass the stop on (the runs may not share our terminal): each stops after a
             * consistent checkpoint, and rerunning the grid resumes them */
            for (long i = 0; i < nj; i++)
                if (J[i].state == J_RUNNING && J[i].pid > 0)
                    kill(J[i].pid, SIGINT);
            grid_stop = 2;
        }
        int status;
        pid_t p;
        if (remote_open > 0) {
            p = running ? waitpid(-1, &status, WNOHANG) : 0;
            if (p == 0) {
                struct timespec ts = {0, 20 * 1000 * 1000};
                nanosleep(&ts, NULL);
                continue;
            }
        } else
            p = waitpid(-1, &status, 0);
        if (p < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        for (long i = 0; i < nj; i++) {
            job *j = &J[i];
            if (j->state != J_RUNNING || j->pid != p)
                continue;
            running--;
            ended(j, WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status), pr);
        }
    }
    return 0;
}

static int grid_main(int argc, char **argv);

/* Under mpirun the ranks > 0 only run what rank 0 sends them (they parse nothing, so a bad
 * option is reported once); rank 0 tells them whether the grid goes ahead on every path. */
int cgalr_cmd_grid(int argc, char **argv)
{
    if (cli_dist_rank() > 0)
        return cli_gq_worker();
    int rc = grid_main(argc, argv);
    cli_gq_start(0, rc); /* when the grid stopped before running: the workers leave with its code */
    return rc;
}

static int grid_main(int argc, char **argv)
{
    grid_args g;
    int rc = parse_args(argc, argv, &g);
    if (rc >= 0)
        return rc;
    job *J = NULL;
    long nj = plan_jobs(&g, &J);
    if (nj < 0)
        return CGALR_EXIT_USAGE;
    int lock_fd = -1;
    cJSON *man = NULL;
    rc = CGALR_EXIT_USAGE;
    /* one grid per directory: taken before anything is looked at, so what we see stays true */
    if (is_dir(g.out) && !g.dry && cgalr_lock_take(g.out, CGALR_GRID_LOCK, &lock_fd) != CGALR_OK) {
        fprintf(stderr, "cgalr grid: %s\n", cgalr_last_error());
        rc = CGALR_EXIT_FAIL;
        goto out;
    }
    if (check_jobs(&g, J, nj) != 0)
        goto out;
    man = manifest(&g);
    if (manifest_differs(&g, man) && !g.force) {
        fprintf(stderr, "cgalr grid: %s was made by a different grid command (see %s/grid.json); rerun that "
                        "command, choose another --out, or pass --force (which trains again every run whose "
                        "options differ)\n",
                g.out, g.out);
        goto out;
    }
    if (classify_jobs(&g, J, nj) != 0)
        goto out;
    size_t todo = 0;
    for (long i = 0; i < nj; i++) {
        todo += J[i].state == J_TODO;
        if (g.dry)
            printf("%-40s %s\n", J[i].dir,
                   J[i].state == J_SKIP ? "finished: skip"
                   : J[i].clear         ? (J[i].why[0] ? J[i].why : "start again")
                   : J[i].resumed       ? "resume"
                                        : "start");
    }
    if (g.dry) {
        rc = CGALR_EXIT_OK;
        goto out;
    }
    rc = CGALR_EXIT_FAIL;
    if (core_mkdirs(g.out) != CGALR_OK) {
        fprintf(stderr, "cgalr grid: --out %s: %s\n", g.out, cgalr_last_error());
        goto out;
    }
    if (lock_fd < 0 && cgalr_lock_take(g.out, CGALR_GRID_LOCK, &lock_fd) != CGALR_OK) {
        fprintf(stderr, "cgalr grid: %s\n", cgalr_last_error());
        goto out;
    }
    if (!write_manifest(&g, man))
        goto out;
    char self[4096];
    ssize_t sl = readlink("/proc/self/exe", self, sizeof self - 1);
    if (sl <= 0) {
        fprintf(stderr, "cgalr grid: cannot find my own executable: %s\n", strerror(errno));
        goto out;
    }
    self[sl] = '\0';
    if (cli_dist_size() > 1)
        printf("grid %s: %ld runs, %zu finished already, %zu to run on %d ranks x %ld job%s\n", g.out, nj,
               (size_t)nj - todo, todo, cli_dist_size(), g.jobs, g.jobs == 1 ? "" : "s");
    else
        printf("grid %s: %ld runs, %zu finished already, %zu to run with %ld job%s\n", g.out, nj, (size_t)nj - todo,
               todo, g.jobs, g.jobs == 1 ? "" : "s");
    fflush(stdout);
    progress pr = {(size_t)nj, todo, 0, 0, now_s(), 0, g.jobs * cli_dist_size()};
    cli_gq_start(g.jobs, 0);
    run_all(self, &g, J, nj, &pr);
    size_t skipped = 0, left = 0;
    for (long i = 0; i < nj; i++) {
        skipped += J[i].state == J_SKIP;
        left += J[i].state == J_TODO;
    }
    char took[32];
    cli_fmt_time(took, sizeof took, now_s() - pr.t0);
    printf("grid %s: %zu done, %zu skipped (finished before), %zu failed, %zu not finished, %s%s\n", g.out,
           pr.finished_now, skipped, pr.failed, left, took,
           grid_stop ? " (interrupted: rerun the same command to continue)" : "");
    if (!pr.failed && !left)
        printf("next: cgalr report %s\n", g.out);
    rc = (pr.failed || left || grid_stop) ? CGALR_EXIT_FAIL : CGALR_EXIT_OK;
out:
    cJSON_Delete(man);
    cgalr_lock_release(lock_fd);
    free(J);
    return rc;
}
