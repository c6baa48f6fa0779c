/* What the files of the report layer share (private to src/report): the growable string, a run
 * as read from its directory, the grouping of runs into grid cells, methods and datasets, and the
 * steps of `cgalr report` in the order report.c calls them: collect (collect.c), group and score
 * (red.c), tables (tables.c), figures (figures.c). */
#ifndef CGALR_REPORT_INTERNAL_H
#define CGALR_REPORT_INTERNAL_H

#include <cjson/cJSON.h>
#include <math.h>
#include <stddef.h>

#include "cgalr/report.h"

/* ---- a growable string (report.c) ---- */
typedef struct {
    char *s;
    size_t len, cap;
    int oom;
} sbuf;

void report_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- runs (collect.c) ---- */
typedef struct {
    char *dir;
    char *data, *model, *method;
    char *command; /* config.json's "command" (NULL when absent) */
    char *kernels; /* summary.json's "kernels" as "CORE/ISA" (NULL when not recorded) */
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

/* Every complete run under dir, sorted by (data, model, method, lr descending, seed, fold); the
 * incomplete ones in c->skip with the reason. Fails when there is no run directory, none is
 * complete, or two directories hold the same run. */
cgalr_status_t report_collect(const char *dir, collection *c);
void report_collection_free(collection *c);
/* Method facts by name (the control layer's one list); 0 for an unknown name. */
int report_method_has_lr(const char *method);
int report_method_is_cgalr(const char *method);

/* Runs of two methods pair when they saw the same data and initialisation: (fold, seed). */
static inline int report_same_pair(const run *a, const run *b) { return a->seed == b->seed && a->fold == b->fold; }
/* Grid values are equal, NaN (no learning rate) equal to NaN. */
static inline int report_same_lr(double a, double b) { return (isnan(a) && isnan(b)) || a == b; }

/* ---- grid cells, methods, datasets and their scores (red.c) ---- */
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

typedef struct {
    cell *cells;
    mgroup *mg;
    dgroup *dg;
    size_t ncell, nmg, ndg;
} grouping;

/* Groups the sorted runs and chooses each method's best and worst grid value (METHOD.md 6). */
cgalr_status_t report_group(const run *runs, size_t n, grouping *g);
void report_grouping_free(grouping *g);
/* Mean, sample sd, min and max of the non-NaN values. */
summary report_summarize(const double *v, size_t n);
/* The p-quantile of v[0..n) (sorted in place; no NaN), linear between order statistics as
 * numpy's default; NaN for n = 0 (stats.c). */
double report_quantile(double *v, size_t n, double p);

/* RED of CG-ALR cell a against baseline cell b, paired by (fold, seed) (METHOD.md 6). */
typedef struct {
    size_t pairs;        /* pairs with both accuracies and err_base > 0 */
    double red_of_means; /* (mean err_a - mean err_b) / mean err_b over those pairs */
    double mean, lo, hi; /* paired RED and its 95% Student t interval (NaN for < 2 pairs) */
    int oom;
} red_result;
red_result report_red(const run *runs, const cell *a, const cell *b);

/* ---- tables (tables.c) ---- */
void report_definitions(sbuf *md);
/* The tables of one dataset/model pair: grid values, best and worst, RED, time per epoch. */
void report_dataset_tables(sbuf *md, const run *runs, const grouping *g, const dgroup *d);
/* A run directory as report.md names it: relative to the report's directory `top`, so the report
 * reads the same wherever the grid is copied. */
const char *report_rel_dir(const char *top, const char *dir);
/* The parsed JSON object in dir/name (runs.c; a run's small files, read up to 64 KiB); NULL when
 * absent, unreadable or not an object. */
cJSON *report_read_object(const char *dir, const char *name);
/* The CG-ALR runs that did not diverge but whose distance stopped moving (d = 0 at every
 * controller step of their last STILL_EPOCHS epochs or more: a dead probe layer, or empty
 * diagrams for WD/SWK, which the gate reads as a perfectly stable organisation). Writes nothing
 * when there is none. */
enum { STILL_EPOCHS = 10 };
void report_still_runs(sbuf *md, const run *runs, size_t n, const char *top);

/* ---- figures (figures.c) ---- */
typedef struct {
    const char *figdir;
    const char *gnuplot;
    int enabled;
    size_t rendered;
    int failed;
    int oom;
} figctx;
void report_dataset_figures(figctx *fx, sbuf *md, const run *runs, const cell *cells, const mgroup *mg,
                            const dgroup *dg);

#endif
