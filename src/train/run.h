/* The state one training run shares between the files of src/train that make it up: loop.c (the
 * epochs and the entry points), setup.c (data, model, scheduler, probe set; the run directory's
 * verdict), evaluate.c (evaluation and the controller step), runstate.c (metrics lines,
 * checkpoints, summary) and dataparallel.c (the collectives of data-parallel training). Private
 * to the library. */
#ifndef CGALR_TRAIN_RUN_H
#define CGALR_TRAIN_RUN_H

#include <stddef.h>
#include <stdint.h>

#include "cgalr/ctrl.h"
#include "cgalr/data.h"
#include "cgalr/nn.h"
#include "cgalr/train.h"
#include "train/probe.h"

#define LOOP_MAGIC 0x52544743u /* "CGTR" */
#define LOOP_VERSION 2u /* 2: the probe-capture state follows the scheduler blob (inline, stream) */

/* What the loop adds to the nn checkpoint (followed by the scheduler blob). */
typedef struct loop_state {
    uint32_t magic, version;
    int64_t epochs_done;
    int64_t iteration;
    int64_t metrics_off;
    double best_val_acc, final_test_acc, final_val_loss;
    double seconds, ctrl_seconds, epoch_seconds_sum;
    int32_t guard_events;
    int32_t pad;
    uint64_t sched_size;
} loop_state_t;

typedef struct ctx {
    const cgalr_train_config_t *cfg;
    const cgalr_train_hooks_t *hooks;
    cgalr_dataset_t *ds;
    const cgalr_data_info_t *info;
    int graphs;
    cgalr_model_t *model;
    cgalr_optim_t *opt;
    cgalr_sched_t *sched;
    cgalr_method_t method;
    cgalr_loader_t *ld_train, *ld_val, *ld_test, *ld_probe;
    size_t nb;           /* training batches per epoch */
    int cgalr;           /* controller in use */
    int dog;
    int adapt;           /* prodigy, dadapt-*, sf-*: the scheduler takes the step */
    size_t probe_n, probe_p;
    size_t *probe_idx;
    float *act;
    double *conn;
    float *swap;         /* DoG: the last iterate while the averaged one is evaluated */
    cgalr_nn_snapshot_t *at_y; /* Schedule-Free: the training state while x is evaluated */
    double ctrl_seconds;
    int probe_mode;      /* TPROBE_*: where the connectome's rows come from */
    tprobe_t *tp;        /* inline, stream: the training-forward capture */
    cgalr_nn_snapshot_t *good;
    void *good_sched;
    size_t good_sched_size;
    void *good_probe;    /* the capture state of the last good epoch (the guard restores it) */
    size_t good_probe_size;
    int metrics_fd;
    int lock_fd;         /* DIR/.lock, held from before the first write to the end */
    /* data-parallel (hooks->comm, size > 1): this rank's part of every batch; rank 0 alone writes */
    const cgalr_train_comm_t *comm;
    int rank;
    void *rows_buf;      /* this rank's probe rows of a batch, packed for the gather */
    size_t rows_cap;
    char path_metrics[4096], path_ckpt[4096], path_config[4096], path_summary[4096];
} ctx;

typedef struct {
    double loss, acc;
} eval_out;

/* setup.c */
void train_ctx_free(ctx *c);
int train_exists(const char *path);
/* --out made (with its parents) and writable */
cgalr_status_t train_mkdirs(const char *path);
/* What the run directory allows before anything is written: refused (an error status), nothing
 * to do (*done = 1, summary filled), or go on. */
cgalr_status_t train_dir_allows(ctx *c, const char *json, cgalr_train_summary_t *summary, int *done);
/* Validation, the directory's state, and setup (data, model, probe) with nothing written. */
cgalr_status_t train_prepare(ctx *c, const cgalr_train_config_t *cfg, char **json, cgalr_train_summary_t *summary,
                             int *done);
/* Data parallel, rank > 0: train_prepare without the run directory (rank 0's business). */
cgalr_status_t train_prepare_peer(ctx *c, const cgalr_train_config_t *cfg);
/* After train_prepare: the directory made, locked, looked at again, config.json written. */
cgalr_status_t train_claim_dir(ctx *c, const char *json, cgalr_train_summary_t *summary, int *done);

/* evaluate.c */
/* Validation and test at the point the method evaluates (Schedule-Free: x). */
cgalr_status_t train_evaluate_at_x(ctx *c, long epoch, eval_out *val, eval_out *test);
/* DoG's averaged iterate, evaluated alongside the last one. */
cgalr_status_t train_evaluate_dog_average(ctx *c, eval_out *val, eval_out *test);
/* One controller step: the connectome from the probe source, then the scheduler. */
cgalr_status_t train_controller_step(ctx *c, double progress);
/* The capture hook's seconds since the last call, added to the controller's. */
void train_take_capture_seconds(ctx *c);
/* The probe capture's state as a blob, its time counted as the controller's. */
cgalr_status_t train_save_probe_timed(ctx *c, void **buf, size_t *size);

/* runstate.c */
cgalr_status_t train_append_line(ctx *c, const char *line, int64_t *off);
cgalr_status_t train_sched_state(const ctx *c, void **buf, size_t *size);
cgalr_status_t train_save_checkpoint(ctx *c, const loop_state_t *ls);
cgalr_status_t train_load_checkpoint(ctx *c, loop_state_t *ls);
cgalr_status_t train_open_metrics(ctx *c, const loop_state_t *ls);
void train_fill_summary(cgalr_train_summary_t *s, const loop_state_t *ls, const ctx *c);
cgalr_status_t train_write_run_summary(const ctx *c, const cgalr_train_summary_t *sum);

/* dataparallel.c */
cgalr_status_t train_dp_sync_buffers(ctx *c);
cgalr_status_t train_dp_reduce_batch(ctx *c, size_t n_batch, cgalr_step_result_t *r, int *bad_probe, int *stop);
cgalr_status_t train_dp_gather_rows(ctx *c);
/* --sync-bn: refused when a rank's part of a batch can be empty (rank 0 decides, before training);
 * then the batch norm's statistics summed over the ranks */
cgalr_status_t train_dp_sync_bn_check(const ctx *c, int ranks);
void train_dp_sync_bn(ctx *c);

#endif
