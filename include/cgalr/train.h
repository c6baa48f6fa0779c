/* Train layer: the loop that joins a dataset, a model, an optimiser and a learning-rate method
 * (schedule, DoG or the CG-ALR controller), writing a run directory that can be resumed
 * bit-identically: config.json, metrics.jsonl (cgalr/report.h contract), checkpoint.bin and
 * summary.json. Library code: never prints; progress goes to the caller's hooks. */
#ifndef CGALR_TRAIN_H
#define CGALR_TRAIN_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "cgalr/report.h"
#include "cgalr/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cgalr_train_config {
    const char *data;        /* dataset name (cgalr/data.h names); required */
    const char *data_dir;    /* NULL: $CGALR_DATA, else ./data */
    const char *model;       /* mlp, cnn, resnet20, resnet18, gin; required */
    const char *sched;       /* method: constant, cosine, ..., cgalr-top (DESIGN.md names); required */
    double lr;               /* initial / base rate, > 0 (ignored by dog). Default 0.01 */
    long epochs;             /* >= 1. Default 10 */
    size_t batch;            /* >= 1. Default 32 */
    uint64_t seed;           /* model initialisation, batch order, probe set. Default 0 */
    int threads;             /* >= 1. Default 1 */
    const char *out;         /* run directory (created); required */
    int resume;              /* 1: continue the run in `out` from its last checkpoint */
    int restart;             /* with resume: discard the logged epochs and train again from epoch 1
                                (the only way on when the checkpoint is missing or the run is
                                damaged; the configuration must still match) */
    size_t probe_n;          /* probe samples N; 0 = min(1024, training size) */
    const char *probe_layer; /* probe spec (comma-separated layer names); NULL = default */
    long ctrl_every;         /* controller step every K iterations; 0 = after every epoch */
    const char *sched_opts;  /* "name=value,..." options of the scheduler (cgalr/ctrl.h); NULL = none */
    double weight_decay;     /* optimiser weight decay (and DoG's). Default 0 */
    double val_fraction;     /* validation carved from the training split. Default 0.1 */
    uint64_t split_seed;     /* the split, shared by every seed of a grid. Default 0 */
    size_t limit;            /* at most this many samples per split (quick runs); 0 = all */
    size_t train_subset;     /* images: a class-balanced training subset of this many samples,
                                validation carved from it, the test split whole; 0 = all */
    int node_attr;           /* graphs: use node attributes too. Default 0 */

    /* Data options passed to the dataset (cgalr/data.h). Options of the other kind of dataset
     * (graph options on images and the reverse) are rejected by validate. */
    int augment_crop;        /* images: random crop with 4-pixel zero padding, training loader only
                                (never the probe set, validation or test). Default 0 */
    int augment_flip;        /* images: horizontal flip with probability 1/2, training loader only.
                                Default 0. Both draw from (seed, epoch, position in the epoch), so
                                a resumed run sees the same augmented batches */
    const char *cache_dir;   /* images: where decoded JPEG/PNG images are cached; NULL = the data
                                layer's default place, "" = no cache. Default NULL. It changes no
                                result, so a resume does not compare it */
    int folds;               /* graphs: 0 = stratified 80/10/10 split (default); K in 2 .. 100 =
                                stratified K-fold with test = fold `fold` (then fold is required) */
    int fold;                /* graphs: the test fold, 0 .. folds-1; -1 = none (default, and the
                                only valid value when folds = 0) */
    int degree_features;     /* graphs without node labels: one-hot degree instead of a constant.
                                Default 0 */
    int normalize;           /* images: per-channel standardisation with training-split statistics
                                (default 1); 0 = pixel / 255 */
    int cifar100_coarse;     /* cifar100: the 20 coarse labels instead of the 100 fine ones. Default 0 */
    int resize;              /* image folders (folder:PATH, mini-imagenet): resize to N x N; 0 = the
                                data layer's default (keep; mini-imagenet 84). Default 0 */
    const char *probe_mode;  /* CG-ALR: where the connectome's rows come from (docs/PROBE_MODES.md):
                                "inline" (NULL = inline, the default chosen by docs/ABLATION.md: the
                                probe set's rows from the training forward), "pass" (a separate
                                inference forward over the probe set, the reference) or "stream"
                                (every training row of the controller period) */
    int sync_bn;             /* data parallel (cgalr_train_comm_t): batch-norm statistics of the
                                whole batch of all ranks in training forwards (cgalr_model_set_batch_sum)
                                instead of each rank's part. No effect on one process. Default 0 */
} cgalr_train_config_t;

/* The ranges cgalr_train_config_validate accepts, one source for the library's checks and the
 * command line's parser and --help (inclusive bounds unless said otherwise). */
#define CGALR_TRAIN_LR_MAX 10 /* lr in (0, CGALR_TRAIN_LR_MAX] */
#define CGALR_TRAIN_EPOCHS_MAX 100000
#define CGALR_TRAIN_BATCH_MAX 65536
#define CGALR_TRAIN_THREADS_MAX 256
#define CGALR_TRAIN_PROBE_MAX 100000 /* probe_n: 0 or 2 .. this */
#define CGALR_TRAIN_CTRL_EVERY_MAX 100000000
#define CGALR_TRAIN_VAL_FRACTION_MAX 0.9
#define CGALR_TRAIN_SUBSET_MAX (1ULL << 40) /* limit and train_subset */
#define CGALR_TRAIN_FOLDS_MAX 100           /* folds: 0 or 2 .. this */
#define CGALR_TRAIN_RESIZE_MAX 4096

CGALR_API void cgalr_train_config_default(cgalr_train_config_t *cfg);

/* Checks names and ranges without touching the disk or the data: unknown names list the valid
 * ones, absurd or conflicting values are CGALR_EINVAL with a message. */
CGALR_API cgalr_status_t cgalr_train_config_validate(const cgalr_train_config_t *cfg);

/* The comma-separated lists of valid names (for --help and error messages). */
CGALR_API const char *cgalr_train_methods(void);
CGALR_API const char *cgalr_train_models(void);

/* Every check cgalr_train_run makes before training, with nothing written: the configuration,
 * the run directory's state (a run there without resume, a different configuration, a damaged
 * run, a missing checkpoint with logged epochs, a live writer), the dataset (opened and split),
 * the model against the dataset, the probe layer. CGALR_OK when the run would start (or would
 * find the run finished). */
CGALR_API cgalr_status_t cgalr_train_check(const cgalr_train_config_t *cfg);

/* CGALR_OK when dir/config.json holds the run cfg describes (every setting that changes a result
 * compared: cache_dir and the rendered command aside); CGALR_ESTATE naming the first key that
 * differs; CGALR_EIO / CGALR_EFORMAT when it cannot be read. */
CGALR_API cgalr_status_t cgalr_train_config_compare(const cgalr_train_config_t *cfg, const char *dir);

typedef struct cgalr_train_progress {
    long epoch, epochs;       /* epoch is 0-based */
    size_t batch, batches;    /* batches done in this epoch */
    double loss;              /* running mean training loss of the epoch */
    double lr;                /* rate of the last iteration */
    double samples_per_s;
    double eta_s;             /* estimated seconds left in the run */
} cgalr_train_progress_t;

/* Data-parallel training over several processes (`mpirun -np R cgalr train`, docs/CLUSTER.md):
 * the collectives of a communicator the caller owns, so that the library itself has no MPI in
 * it. Every rank calls cgalr_train_run with the same configuration; each takes its part of every
 * batch (cgalr_loader_batch_part), the gradients are summed before the optimiser step, so every
 * rank holds the same parameters, and so are the connectome's rows, the losses and the
 * evaluation's counts. Rank 0 alone touches the run directory's files (lock, config.json,
 * metrics.jsonl, checkpoints, summary.json); the others read its checkpoint on resume, so the
 * directory must be on a file system every rank sees. Each collective must give every rank the
 * same bytes. A rank whose call fails must not return to a collective: the caller ends the job. */
typedef struct cgalr_train_comm {
    int rank, size;
    /* in place: buf[i] = the sum over ranks of buf[i] */
    cgalr_status_t (*sum_f)(void *user, float *buf, size_t n);
    cgalr_status_t (*sum_d)(void *user, double *buf, size_t n);
    /* rank 0's bytes into every rank's buf */
    cgalr_status_t (*bcast)(void *user, void *buf, size_t bytes);
    /* every rank's `bytes` bytes at `mine`, concatenated in rank order into a malloc'd *all
     * (free it) of *total bytes */
    cgalr_status_t (*gather)(void *user, const void *mine, size_t bytes, void **all, size_t *total);
    void *user;
} cgalr_train_comm_t;

typedef struct cgalr_train_hooks {
    /* Called at most about 5 times a second during training (may be NULL). */
    void (*progress)(void *user, const cgalr_train_progress_t *p);
    /* Called after each completed epoch with its metrics record (may be NULL). */
    void (*epoch)(void *user, const cgalr_epoch_record_t *r);
    /* When *stop becomes nonzero the loop stops at the next batch boundary; the last end-of-epoch
     * checkpoint is consistent and --resume continues from it. May be NULL. */
    volatile sig_atomic_t *stop;
    void *user;
    /* NULL: one process. Otherwise data-parallel over comm->size ranks (see above); the stop
     * flag of any rank stops them all at the same batch. */
    const cgalr_train_comm_t *comm;
} cgalr_train_hooks_t;

typedef struct cgalr_train_summary {
    int finished;            /* all epochs done (or diverged) */
    int diverged;            /* the guard ran out of retries */
    int interrupted;         /* stopped by *stop */
    int already_finished;    /* resume found a finished run: nothing done */
    long epochs_done;
    double best_val_acc;     /* max over epochs (NaN if none) */
    double final_test_acc;   /* test accuracy after the last completed epoch (NaN if none) */
    double final_val_loss;
    double seconds;          /* wall time of the run (all sessions when resumed) */
    double ctrl_seconds;     /* every cost the controller adds: probe forward (pass) or capture,
                                pooling and accumulation in the training forward (inline,
                                stream), connectome, distance, gate */
    double ctrl_share;       /* ctrl_seconds / seconds */
    double epoch_seconds;    /* mean wall time per completed epoch */
    size_t params;           /* trainable parameters */
    size_t probe_n, probe_p; /* rows per connectome and signals (0 for non-CG-ALR methods): the
                                probe set's size (pass, inline), the training rows of one
                                controller period (stream: the training split, or K batches
                                with ctrl_every = K) */
    size_t samples[3];       /* samples in the train, validation and test splits */
    int guard_events;        /* non-finite guard activations */
    char message[256];       /* the divergence message when diverged */
    int error_shared;        /* data parallel: the error is rank 0's, found before training and
                                returned by every rank, so no rank waits for another; rank 0
                                reports it */
} cgalr_train_summary_t;

/* Runs (or resumes) the training described by cfg. Returns CGALR_OK when the run finished,
 * diverged (summary->diverged) or was stopped (summary->interrupted); an error status otherwise
 * (bad configuration or data: CGALR_EINVAL / CGALR_EIO / CGALR_EFORMAT; an existing run in `out`
 * without cfg->resume, or a resume with a different configuration: CGALR_ESTATE). */
CGALR_API cgalr_status_t cgalr_train_run(const cgalr_train_config_t *cfg, const cgalr_train_hooks_t *hooks,
                               cgalr_train_summary_t *summary);

#ifdef __cplusplus
}
#endif
#endif
