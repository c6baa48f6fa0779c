/* Report layer: the metrics contract of a run directory (one JSON line per epoch) and the
 * report over a grid of runs (tables, RED with confidence intervals, gnuplot figures).
 * Depends on core and cJSON only: it reads what `cgalr train` wrote, nothing else. */
#ifndef CGALR_REPORT_H
#define CGALR_REPORT_H

#include <stddef.h>

#include "cgalr/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- The metrics contract (DESIGN.md "Contracts") ----------------------------------------
 * metrics.jsonl holds one JSON object per line:
 *   epoch lines: {"epoch": 1-based int, "lr", "train_loss", "train_acc", "val_loss", "val_acc",
 *                 "test_acc" (absent when not computed), "seconds",
 *                 CG-ALR only: "d", "median", "mad", "z", "state", "rho", "ctrl_seconds" (the
 *                 part of "seconds" spent on probe forward, connectome, distance and gate),
 *                 "guard_retries" (only when the non-finite guard redid this epoch),
 *                 DoG only: "avg_val_loss", "avg_val_acc", "avg_test_acc" of the averaged iterate}
 *   one optional last line when the run diverged:
 *                {"diverged": true, "epoch": the epoch that could not be completed, "reason": "..."}
 * A non-finite number is written as null (JSON has no NaN), and read back as NaN. "z" is null
 * while it is not defined: the controller's warm-up (|H| < 3) and steps whose distance was not
 * finite (files written before z was logged as null hold the warm-up score as a number). */

typedef struct cgalr_epoch_record {
    int epoch;          /* 1-based */
    double lr;          /* learning rate at the end of the epoch */
    double train_loss;  /* mean over the epoch's mini-batches */
    double train_acc;
    double val_loss;
    double val_acc;
    double test_acc;    /* NaN: not computed (key left out) */
    double seconds;     /* wall time of the epoch's training and evaluation */
    int has_ctrl;       /* 1: the CG-ALR fields below are meaningful and written */
    double d, median, mad, z, rho; /* controller trace after this epoch's step (NaN = none yet) */
    char state[8];      /* gate state: "hold", "decel", "accel" */
    double ctrl_seconds;/* controller time inside `seconds` (NaN: not written) */
    int guard_retries;  /* times the guard redid this epoch (written only when > 0) */
    double avg_val_loss, avg_val_acc, avg_test_acc; /* DoG's averaged iterate (NaN: not written) */
} cgalr_epoch_record_t;

/* Fills a record with NaN everywhere, epoch 0, no controller fields. */
CGALR_API void cgalr_epoch_record_init(cgalr_epoch_record_t *r);

/* One metrics line (no newline) for r, malloc'd into *line (caller frees). */
CGALR_API cgalr_status_t cgalr_metrics_format(const cgalr_epoch_record_t *r, char **line);
/* The diverged marker line for a run that stopped at `epoch`. */
CGALR_API cgalr_status_t cgalr_metrics_format_diverged(int epoch, const char *reason, char **line);

/* A whole metrics.jsonl read back. */
typedef struct cgalr_metrics {
    size_t n;                    /* epoch lines, in file order */
    cgalr_epoch_record_t *rec;
    int diverged;                /* 1 if the diverged marker is present */
    int diverged_epoch;
    char *diverged_reason;       /* NULL when not diverged */
} cgalr_metrics_t;

/* Reads `path`. Malformed lines are CGALR_EFORMAT naming the file and line; a final line
 * without its newline (a run killed while writing) is ignored only if allow_partial_tail. */
CGALR_API cgalr_status_t cgalr_metrics_read(const char *path, int allow_partial_tail, cgalr_metrics_t *out);
CGALR_API void cgalr_metrics_free(cgalr_metrics_t *m);

/* ---- A run directory's state ------------------------------------------------------------ */

/* The one definition of a run's state, used by `cgalr grid`, `cgalr train --resume` and
 * `cgalr report` alike (src/report/runs.c). */
typedef enum cgalr_run_state {
    CGALR_RUN_EMPTY,      /* no config.json and nothing else of a run */
    CGALR_RUN_UNFINISHED, /* fewer epochs logged than configured (resumable) */
    CGALR_RUN_FINISHED,   /* every epoch logged (or the diverged marker), all lines valid */
    CGALR_RUN_DAMAGED,    /* a malformed line, more epochs than configured, files that disagree */
    CGALR_RUN_BUSY        /* a live process holds the run's lock (DIR/.lock) */
} cgalr_run_state_t;

typedef struct cgalr_run_status {
    cgalr_run_state_t state;
    long epochs;        /* configured (-1 when config.json is unreadable) */
    long epochs_logged; /* valid epoch lines in metrics.jsonl */
    int diverged;
    int has_summary;
    long holder;        /* BUSY: the writer's pid (-1 unknown) */
    char why[512];      /* the reason, in words, e.g. "metrics.jsonl line 3: not a JSON object" */
} cgalr_run_status_t;

/* Reads dir's files (never writes) and classifies the run. CGALR_OK with s filled for every
 * state; an error only for NULL arguments. */
CGALR_API cgalr_status_t cgalr_run_status(const char *dir, cgalr_run_status_t *s);
CGALR_API const char *cgalr_run_state_name(cgalr_run_state_t state);

/* ---- The report ------------------------------------------------------------------------- */

typedef struct cgalr_report_config {
    int figures;        /* 1: write .dat/.gp and render PNG and SVG with gnuplot (default 1) */
    const char *gnuplot;/* the gnuplot command (default "gnuplot") */
} cgalr_report_config_t;

CGALR_API void cgalr_report_config_default(cgalr_report_config_t *cfg);

typedef struct cgalr_report_result {
    size_t runs;          /* complete runs used */
    size_t incomplete;    /* runs found but left out (unfinished, unreadable) */
    size_t datasets;
    size_t figures;       /* figures rendered (PNG + SVG pairs) */
    int figures_failed;   /* 1 if gnuplot was missing or failed: report.md says so */
} cgalr_report_result_t;

/* Reads every run directory under dir (a directory holding config.json and metrics.jsonl, at
 * any depth up to 4, or dir itself), groups runs by (dataset, model, method, lr, seed), and
 * writes dir/report.md and dir/figures/. result may be NULL. */
CGALR_API cgalr_status_t cgalr_report_write(const char *dir, const cgalr_report_config_t *cfg,
                                  cgalr_report_result_t *result);

/* The two-sided Student t quantile: q such that P(T <= q) = p for df degrees of freedom
 * (df >= 1, 0 < p < 1). Exposed for tests. */
CGALR_API double cgalr_report_t_quantile(double p, double df);

#ifdef __cplusplus
}
#endif
#endif
