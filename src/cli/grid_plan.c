/* `cgalr grid`'s plan (see grid.h): its options, the list of runs (method x rate x seed [x fold])
 * and what each run directory already holds, and the manifest DIR/grid.json that makes a rerun
 * of the same command skip or resume and refuses a different one. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cgalr/ctrl.h"
#include "cgalr/report.h"
#include "cgalr/train.h"
#include "cli/cli.h"
#include "cli/dist.h"
#include "cli/grid.h"
#include "core/files.h"

#define GA grid_args
/* --epochs and --folds: the ranges cgalr_train_config_validate gives every run (a grid's K-fold
 * has K >= 2: without --folds there is none) */
static const cli_opt_t grid_opts[] = {
    CLI_STR(GA, data, "data", "D", "the dataset of every run (cgalr train --data)"),
    CLI_STR(GA, model, "model", "M", "the model of every run (cgalr train --model)"),
    CLI_STR_LIST(GA, methods_s, "methods", "LIST", "comma-separated: ", cgalr_train_methods),
    CLI_STR(GA, lrs_s, "lrs", "LIST", "comma-separated learning rates (default 0.1,0.01,0.001)"),
    CLI_STR(GA, seeds_s, "seeds", "LIST", "comma-separated seeds (default 0,1,2)"),
    CLI_UINT(GA, epochs, "epochs", "E", 1, CGALR_TRAIN_EPOCHS_MAX, "epochs per run (default 10)"),
    CLI_STR(GA, out, "out", "DIR", "the grid directory: DIR/grid.json and one run directory per run"),
    CLI_UINT(GA, folds, "folds", "K", 2, CGALR_TRAIN_FOLDS_MAX,
             "graph datasets: stratified K-fold, one run per fold as well (DIR/..._f<fold>),\n"
             "each fold the test set of its run; the report pairs runs by (fold, seed)"),
    CLI_UINT(GA, jobs, "jobs", "J", 1, 64, "runs at once, as separate processes (default 1; under mpirun: per rank)"),
    CLI_SET1(GA, force, "force", "accept a DIR made by a different grid command; rerun its runs that differ"),
    CLI_SET1(GA, dry, "dry-run", "list the runs and what would happen to each, run nothing"),
    CLI_HELP_ROW,
    CLI_END,
};
#undef GA

/* Train options the grid sets per run itself, with the grid option that does it. */
static const char *const grid_owned[][2] = {{"sched", "--methods"}, {"method", "--methods"}, {"lr", "--lrs"},
                                            {"seed", "--seeds"},    {"out", "--out"},         {"resume", NULL},
                                            {"fold", "--folds"},    {"restart", NULL},        {"check", "--dry-run"},
                                            {"quiet", NULL}};
#define N_OWNED (sizeof grid_owned / sizeof grid_owned[0])

static const char *owned_by_grid(const char *name)
{
    for (size_t i = 0; i < N_OWNED; i++)
        if (!strcmp(name, grid_owned[i][0]))
            return grid_owned[i][1] ? grid_owned[i][1] : "";
    return NULL;
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: cgalr grid --data D --model M --methods LIST --out DIR [--lrs LIST] [--seeds LIST]\n"
            "                  [--epochs E] [--jobs J] [--force] [--dry-run] [cgalr train options]\n\n"
            "Runs `cgalr train` once per (method, lr, seed[, fold]) into DIR/<method>_lr<lr>_s<seed> (the parameter-free\n"
            "methods, which have no learning rate, once per seed: DIR/<method>_s<seed>). Rerunning the same\n"
            "command skips finished runs, resumes interrupted ones and reruns damaged ones (a malformed or\n"
            "incomplete metrics.jsonl, or logged epochs whose checkpoint.bin is gone: the old metrics stay as\n"
            "metrics.jsonl.old); a DIR made by a different command is refused unless --force, which\n"
            "also reruns every run whose config.json differs from the new command. One grid per DIR at a\n"
            "time (DIR/.grid.lock); the runs stop when the grid is killed. Each run's output goes to its\n"
            "train.log. Then `cgalr report DIR` makes the tables and figures.\n\n");
    cli_opt_help(f, grid_opts);
    fprintf(f,
            "\nEvery other cgalr train option (cgalr train --help) is given to each run, e.g. --batch 64\n"
            "--limit 2000 --threads 1 --data-dir DIR; they may also follow a lone --. These the grid sets\n"
            "for each run itself:");
    for (size_t i = 0; i < N_OWNED; i++)
        fprintf(f, "%s --%s", i ? "," : "", grid_owned[i][0]);
    fprintf(f,
            ".\n\n"
            "On a cluster: `mpirun -np R cgalr grid ...` (or srun) with the same options. Rank 0 plans the grid,\n"
            "hands out one run at a time to whichever rank has a free slot, prints the progress and writes\n"
            "grid.json; DIR must be on a file system every rank sees at the same path. The run directories\n"
            "are the same as those of a local grid. A rank that dies takes only its current runs with it:\n"
            "rerun the same command and they resume.\n");
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

int grid_is_dir(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

/* ---- options ------------------------------------------------------------------------------ */

static int add_pass(grid_args *g, char *s)
{
    if (g->npass >= MAX_PASS - 2) {
        fprintf(stderr, "cgalr grid: too many train options\n");
        return 0;
    }
    g->pass[g->npass++] = s;
    return 1;
}

/* A train option given to the grid: kept, word for word, for every run's command line (train
 * parses and checks it there, and grid_check_jobs before any run starts). */
static int pass_on(void *target, const cli_opt_t *r, const char *arg)
{
    grid_args *g = target;
    const char *instead = owned_by_grid(r->name);
    if (instead) {
        fprintf(stderr, "cgalr grid: --%s is set by the grid for each run%s%s\n", r->name, *instead ? "; use " : "",
                instead);
        return CGALR_EXIT_USAGE;
    }
    static char flags[MAX_PASS][64];
    char *flag = flags[g->npass < MAX_PASS ? g->npass : MAX_PASS - 1];
    snprintf(flag, sizeof flags[0], "--%s", r->name);
    if (!add_pass(g, flag) || (arg && !add_pass(g, (char *)arg)))
        return CGALR_EXIT_USAGE;
    return 0;
}

/* The grid's own options and every train option (passed on to each run). Returns -1 to go on,
 * else the exit code. */
int grid_parse_args(int argc, char **argv, grid_args *g)
{
    memset(g, 0, sizeof *g);
    g->lrs_s = "0.1,0.01,0.001";
    g->seeds_s = "0,1,2";
    g->epochs = 10;
    g->jobs = 1;
    /* in order: the first operand ends the grid's options (a lone -- as before) */
    const cli_cmd_t cmd = {.prog = "cgalr grid",
                           .opts = grid_opts,
                           .in_order = 1,
                           .pass = cli_train_optable(),
                           .on_pass = pass_on,
                           .hint = "cgalr grid --help lists the options; cgalr train --help the run options",
                           .usage = usage};
    int rc = cli_opt_parse(&cmd, argc, argv, g, NULL);
    if (rc)
        return cli_opt_exit(rc);
    snprintf(g->epochs_s, sizeof g->epochs_s, "%ld", g->epochs);
    if (g->folds)
        snprintf(g->folds_s, sizeof g->folds_s, "%ld", g->folds);
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
            if (owned_by_grid(name) || cli_opt_find(grid_opts, name)) {
                fprintf(stderr, "cgalr grid: %s after -- is set by the grid itself; use the grid's own option\n", a);
                return CGALR_EXIT_USAGE;
            }
        }
        if (!add_pass(g, argv[i]))
            return CGALR_EXIT_USAGE;
    }
    if (!g->data || !g->model || !g->out || !g->methods_s || !*g->methods_s) {
        fprintf(stderr, "cgalr grid: --data, --model, --methods and --out are required\n");
        usage(stderr);
        return CGALR_EXIT_USAGE;
    }
    return -1;
}

/* ---- the plan ------------------------------------------------------------------------------ */

/* argv of `cgalr train` for job j (argv[0] = "train"); returns the count. */
int grid_train_argv(const grid_args *g, const job *j, char **args)
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
    int n = grid_train_argv(g, j, argv_store);
    return cli_train_parse(n, argv_store, cfg);
}

/* Every (method, lr, seed) as a job. Returns the count, or -1 with the message printed. */
long grid_plan_jobs(const grid_args *g, job **out_jobs)
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
int grid_check_jobs(const grid_args *g, const job *J, long nj)
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

static int has_checkpoint(const char *dir)
{
    char p[4200];
    struct stat st;
    snprintf(p, sizeof p, "%s/checkpoint.bin", dir);
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

/* What each run directory holds decides what happens to it (the one definition of a run's
 * state: cgalr_run_status). Returns 0, or 1 with the message printed when the grid must stop. */
int grid_classify_jobs(const grid_args *g, job *J, long nj)
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
            } else if (rs.state == CGALR_RUN_UNFINISHED && rs.epochs_logged > 0 && !has_checkpoint(j->dir)) {
                /* Logged epochs without the checkpoint to continue them (a run copied from another
                 * machine, whose checkpoints are never committed): nothing can resume it, so it
                 * starts again like a damaged one, its metrics kept as metrics.jsonl.old. */
                snprintf(j->why, sizeof j->why, "%ld of %ld epochs logged but checkpoint.bin is missing: trained again",
                         rs.epochs_logged, rs.epochs);
                j->state = J_TODO;
                j->clear = 1;
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
int grid_clear_run(const job *j)
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

cJSON *grid_manifest(const grid_args *g)
{
    cJSON *man = cJSON_CreateObject();
    cJSON_AddStringToObject(man, "data", g->data);
    cJSON_AddStringToObject(man, "model", g->model);
    cJSON_AddStringToObject(man, "methods", g->methods_s);
    cJSON_AddStringToObject(man, "lrs", g->lrs_s);
    cJSON_AddStringToObject(man, "seeds", g->seeds_s);
    cJSON_AddNumberToObject(man, "epochs", (double)g->epochs);
    if (g->folds)
        cJSON_AddNumberToObject(man, "folds", (double)g->folds);
    cJSON *pa = cJSON_AddArrayToObject(man, "train_options");
    for (int i = 0; i < g->npass; i++)
        cJSON_AddItemToArray(pa, cJSON_CreateString(g->pass[i]));
    return man;
}

/* 0 when DIR/grid.json is absent or holds this command; 1 when it holds another. */
int grid_manifest_differs(const grid_args *g, const cJSON *man)
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

int grid_write_manifest(const grid_args *g, const cJSON *man)
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

