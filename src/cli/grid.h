/* `cgalr grid`'s plan, shared by its two files: grid_plan.c (options, the runs of the grid and
 * what their directories hold, the manifest DIR/grid.json) and cmd_grid.c (running them, locally
 * or over MPI ranks, and the progress). */
#ifndef CGALR_CLI_GRID_H
#define CGALR_CLI_GRID_H

#include <cjson/cJSON.h>
#include <sys/types.h>

#define MAX_ITEMS 64
#define MAX_PASS 128

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
    const char *methods_s, *lrs_s, *seeds_s; /* comma-separated, as given */
    long epochs;
    char epochs_s[32];    /* epochs as each run's --epochs */
    long folds;           /* 0: one run per (method, lr, seed); K: also one per fold */
    char folds_s[16];
    long jobs;
    int force, dry;
    char *pass[MAX_PASS]; /* the train options every run gets */
    int npass;
} grid_args;


/* Options into g: -1 to go on, or the exit code to leave with (0 after --help; a usage error's
 * message printed). */
int grid_parse_args(int argc, char **argv, grid_args *g);
/* The argv of `cgalr train` for run j (after "cgalr"), into args (MAX_PASS + 64 entries). */
int grid_train_argv(const grid_args *g, const job *j, char **args);
/* Every run of the grid in order; their count, or -1 with a message printed. */
long grid_plan_jobs(const grid_args *g, job **out_jobs);
/* cgalr_train_check of each method's first run before anything is written: 0 or an exit code. */
int grid_check_jobs(const grid_args *g, const job *J, long nj);
/* What each run's directory holds (finished, to resume, damaged, different): 0 or an exit code. */
int grid_classify_jobs(const grid_args *g, job *J, long nj);
/* Empties a run directory marked to be cleared (damaged, or a different run under --force). */
int grid_clear_run(const job *j);
/* The manifest of this grid's command; whether the one on disk differs; writing it. */
cJSON *grid_manifest(const grid_args *g);
int grid_manifest_differs(const grid_args *g, const cJSON *man);
int grid_write_manifest(const grid_args *g, const cJSON *man);
int grid_is_dir(const char *path);

#endif
