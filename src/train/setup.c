/* A run's setup: the data set, model, loaders, scheduler, optimiser and probe set from its
 * configuration, and the run directory's verdict (refused, nothing to do, or go on). */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cgalr/lock.h"
#include "cgalr/rng.h"
#include "cgalr/topo.h"
#include "core/clock.h"
#include "core/files.h"
#include "train/run.h"
#include "train/runfiles.h"
#include "train/sched_config.h"

void train_ctx_free(ctx *c)
{
    cgalr_loader_free(c->ld_train);
    cgalr_loader_free(c->ld_val);
    cgalr_loader_free(c->ld_test);
    cgalr_loader_free(c->ld_probe);
    cgalr_sched_free(c->sched);
    cgalr_optim_free(c->opt);
    tprobe_free(c->tp); /* before the model: it removes its hook from it */
    cgalr_model_free(c->model);
    cgalr_dataset_free(c->ds);
    cgalr_nn_snapshot_free(c->good);
    cgalr_nn_snapshot_free(c->at_y);
    free(c->good_sched);
    free(c->good_probe);
    free(c->probe_idx);
    free(c->act);
    free(c->conn);
    free(c->swap);
    free(c->rows_buf);
    if (c->metrics_fd >= 0)
        close(c->metrics_fd);
    cgalr_lock_release(c->lock_fd);
}

static cgalr_status_t setup_probe(ctx *c)
{
    size_t ntrain = cgalr_loader_size(c->ld_train);
    size_t n = c->cfg->probe_n ? c->cfg->probe_n : 1024;
    if (n > ntrain)
        n = ntrain;
    if (n < 2)
        return cgalr_fail(CGALR_EINVAL, "probe set: the training split has %zu samples, the connectome needs >= 2",
                          ntrain);
    cgalr_status_t st = cgalr_model_probe_width(c->model, c->cfg->probe_layer, &c->probe_p);
    if (st != CGALR_OK)
        return st;
    if (c->probe_p < 3 || c->probe_p > 8192)
        return cgalr_fail(CGALR_EINVAL, "probe '%s': %zu signals, expected 3 .. 8192",
                          c->cfg->probe_layer ? c->cfg->probe_layer : cgalr_model_default_probe(c->model),
                          c->probe_p);
    size_t *all = malloc(ntrain * sizeof *all);
    c->probe_idx = malloc(n * sizeof *c->probe_idx);
    c->act = malloc(n * c->probe_p * sizeof *c->act);
    c->conn = malloc(c->probe_p * c->probe_p * sizeof *c->conn);
    if (!all || !c->probe_idx || !c->act || !c->conn) {
        free(all);
        return cgalr_fail(CGALR_ENOMEM, "probe set of %zu x %zu: out of memory", n, c->probe_p);
    }
    /* drawn once by the seed, in a fixed order (METHOD.md section 2) */
    for (size_t i = 0; i < ntrain; i++)
        all[i] = i;
    cgalr_rng_t rng = cgalr_rng_init(c->cfg->seed, CGALR_STREAM_PROBE);
    cgalr_rng_shuffle(&rng, all, ntrain);
    memcpy(c->probe_idx, all, n * sizeof *all);
    free(all);
    c->probe_n = n;
    c->probe_mode = tprobe_mode_parse(c->cfg->probe_mode);
    if (c->probe_mode != TPROBE_PASS)
        return tprobe_create(c->probe_mode, c->model, c->cfg->probe_layer, c->probe_p, c->probe_idx, n, ntrain,
                             c->cfg->ctrl_every > 0, &c->tp);
    return CGALR_OK;
}

int train_exists(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0;
}

cgalr_status_t train_mkdirs(const char *path)
{
    if (core_mkdirs(path) != CGALR_OK) {
        char why[1024];
        snprintf(why, sizeof why, "%s", cgalr_last_error());
        return cgalr_fail(CGALR_EIO, "--out %s: %s", path, why);
    }
    if (access(path, W_OK) != 0)
        return cgalr_fail(CGALR_EIO, "--out %s: not writable: %s", path, strerror(errno));
    return CGALR_OK;
}

#define EVAL_BATCH 256

/* One loader of the run's dataset. shuffled: the training order (drawn from the seed each epoch)
 * with the dataset's augmentation; else the split in order, never augmented. */
static cgalr_status_t open_loader(ctx *c, cgalr_split_t split, size_t batch, int shuffled, cgalr_loader_t **out)
{
    cgalr_loader_config_t lc;
    cgalr_loader_config_default(&lc, split);
    lc.batch_size = batch;
    lc.seed = c->cfg->seed;
    lc.shuffle = shuffled;
    lc.augment = shuffled;
    return cgalr_loader_create(c->ds, &lc, out);
}

static cgalr_status_t setup(ctx *c)
{
    const cgalr_train_config_t *cfg = c->cfg;
    cgalr_data_config_t dc;
    cgalr_data_config_default(&dc);
    dc.name = cfg->data;
    dc.data_dir = cfg->data_dir;
    dc.val_fraction = cfg->val_fraction;
    dc.split_seed = cfg->split_seed;
    dc.limit = cfg->limit;
    dc.train_subset = cfg->train_subset;
    dc.node_attr = cfg->node_attr;
    dc.cache_dir = cfg->cache_dir;
    dc.folds = cfg->folds;
    dc.fold = cfg->folds >= 2 ? cfg->fold : 0;
    dc.degree_features = cfg->degree_features;
    dc.normalize = cfg->normalize;
    dc.augment_crop = cfg->augment_crop;
    dc.augment_flip = cfg->augment_flip;
    dc.cifar100_coarse = cfg->cifar100_coarse;
    dc.resize = cfg->resize;
    cgalr_status_t st = cgalr_dataset_open(&dc, &c->ds);
    if (st != CGALR_OK)
        return st;
    c->info = cgalr_dataset_info(c->ds);
    c->graphs = c->info->kind == CGALR_DATA_GRAPH;
    int kind = cgalr_model_kind_parse(cfg->model);
    if (c->graphs != (kind == CGALR_MODEL_GIN))
        return cgalr_fail(CGALR_EINVAL, "model %s does not fit dataset %s (%s): %s", cfg->model, cfg->data,
                          c->graphs ? "graphs" : "images",
                          c->graphs ? "graph datasets need --model gin" : "image datasets need mlp, cnn, resnet20 or resnet18");
    if (c->info->samples[CGALR_SPLIT_TRAIN] == 0)
        return cgalr_fail(CGALR_EINVAL, "dataset %s: the training split is empty", cfg->data);

    cgalr_model_config_t mc;
    cgalr_model_config_default(&mc, (cgalr_model_kind_t)kind);
    if (c->graphs) {
        mc.node_features = c->info->feat_dim;
    } else {
        mc.in_c = c->info->c;
        mc.in_h = c->info->h;
        mc.in_w = c->info->w;
    }
    mc.n_classes = c->info->classes;
    mc.seed = cfg->seed;
    mc.threads = cfg->threads;
    if ((st = cgalr_model_create(&mc, &c->model)) != CGALR_OK)
        return st;

    /* the training loader is the only shuffled and augmented one (crop/flip as the dataset was
     * opened with); evaluation and the probe pass read in order, 256 at a time */
    if ((st = open_loader(c, CGALR_SPLIT_TRAIN, cfg->batch, 1, &c->ld_train)) != CGALR_OK ||
        (st = open_loader(c, CGALR_SPLIT_VAL, EVAL_BATCH, 0, &c->ld_val)) != CGALR_OK ||
        (st = open_loader(c, CGALR_SPLIT_TEST, EVAL_BATCH, 0, &c->ld_test)) != CGALR_OK)
        return st;
    c->nb = cgalr_loader_n_batches(c->ld_train);

    cgalr_sched_config_t sc;
    if ((st = train_sched_config(cfg, (long)c->nb, cgalr_model_num_buffers(c->model) > 0, &sc)) != CGALR_OK ||
        (st = cgalr_sched_create(&sc, &c->sched)) != CGALR_OK)
        return st;
    c->method = sc.method;
    c->cgalr = cgalr_method_is_cgalr(c->method);
    c->dog = c->method == CGALR_METHOD_DOG;
    c->adapt = cgalr_adapt_arrays(c->method) > 0; /* prodigy, dadapt-*, sf-*: the scheduler steps */

    cgalr_optim_config_t oc;
    switch (cgalr_sched_optimizer(c->sched)) {
    case CGALR_SCHED_OPTIM_ADAM:
        cgalr_optim_config_default(&oc, CGALR_OPTIM_ADAM);
        oc.weight_decay = cfg->weight_decay;
        break;
    case CGALR_SCHED_OPTIM_ADAMW:
        cgalr_optim_config_default(&oc, CGALR_OPTIM_ADAMW);
        if (cfg->weight_decay > 0)
            oc.weight_decay = cfg->weight_decay;
        break;
    case CGALR_SCHED_OPTIM_SGD:
        cgalr_optim_config_default(&oc, CGALR_OPTIM_SGD);
        oc.momentum = 0;
        oc.weight_decay = cfg->weight_decay;
        break;
    default:
        cgalr_optim_config_default(&oc, CGALR_OPTIM_SGD);
        oc.momentum = cgalr_sched_config(c->sched)->momentum;
        oc.weight_decay = cfg->weight_decay;
        break;
    }
    if ((st = cgalr_optim_create(&oc, c->model, &c->opt)) != CGALR_OK)
        return st;

    if (c->cgalr) {
        if ((st = open_loader(c, CGALR_SPLIT_TRAIN, EVAL_BATCH, 0, &c->ld_probe)) != CGALR_OK ||
            (st = setup_probe(c)) != CGALR_OK)
            return st;
    } else if (cfg->probe_layer && *cfg->probe_layer) {
        size_t p;
        if ((st = cgalr_model_probe_width(c->model, cfg->probe_layer, &p)) != CGALR_OK)
            return st;
    }
    return CGALR_OK;
}

/* What the run directory allows before anything is written: refused (an error status), nothing
 * to do (*done = 1, summary filled), or go on. The one definition of a run's state is
 * cgalr_run_status; under our own lock the directory cannot change behind us. */
cgalr_status_t train_dir_allows(ctx *c, const char *json, cgalr_train_summary_t *summary, int *done)
{
    const cgalr_train_config_t *cfg = c->cfg;
    *done = 0;
    cgalr_run_status_t rs;
    cgalr_run_status(cfg->out, &rs);
    if (rs.state == CGALR_RUN_BUSY && rs.holder != (long)getpid())
        return cgalr_fail(CGALR_ESTATE, "%s is %s: one writer per run directory", cfg->out, rs.why);
    if (!train_exists(c->path_config)) {
        if (train_exists(c->path_metrics) || train_exists(c->path_ckpt))
            return cgalr_fail(CGALR_ESTATE, "%s holds metrics or a checkpoint but no config.json: not a run this tool "
                                            "can continue; choose another --out",
                              cfg->out);
        return CGALR_OK;
    }
    if (!cfg->resume)
        return cgalr_fail(CGALR_ESTATE, "%s already holds a run: pass --resume to continue it, or choose another --out",
                          cfg->out);
    cgalr_status_t st = train_config_matches(c->path_config, json);
    if (st != CGALR_OK)
        return st;
    if (cfg->restart)
        return CGALR_OK;
    if (rs.state == CGALR_RUN_DAMAGED)
        return cgalr_fail(CGALR_ESTATE, "%s is damaged (%s): pass --restart to discard its epochs and train again "
                                        "from epoch 1, or remove it",
                          cfg->out, rs.why);
    if (rs.state == CGALR_RUN_FINISHED && train_summary_finished(c->path_summary, summary)) {
        summary->already_finished = 1;
        *done = 1;
        return CGALR_OK;
    }
    if (!train_exists(c->path_ckpt) && rs.epochs_logged > 0)
        return cgalr_fail(CGALR_ESTATE, "%s: checkpoint.bin is missing but metrics.jsonl holds %ld logged epoch%s: "
                                        "resuming would replace them; pass --restart to discard them and train again "
                                        "from epoch 1",
                          cfg->out, rs.epochs_logged, rs.epochs_logged == 1 ? "" : "s");
    return CGALR_OK;
}

/* A context for cfg with its run files' paths, after the configuration's validation. */
static cgalr_status_t start_ctx(ctx *c, const cgalr_train_config_t *cfg)
{
    memset(c, 0, sizeof *c);
    c->cfg = cfg;
    c->metrics_fd = -1;
    c->lock_fd = -1;
    cgalr_status_t st = cgalr_train_config_validate(cfg);
    if (st != CGALR_OK)
        return st;
    if ((size_t)snprintf(c->path_metrics, sizeof c->path_metrics, "%s/metrics.jsonl", cfg->out) >= sizeof c->path_metrics)
        return cgalr_fail(CGALR_EINVAL, "--out: path too long");
    snprintf(c->path_ckpt, sizeof c->path_ckpt, "%s/checkpoint.bin", cfg->out);
    snprintf(c->path_config, sizeof c->path_config, "%s/config.json", cfg->out);
    snprintf(c->path_summary, sizeof c->path_summary, "%s/summary.json", cfg->out);
    return CGALR_OK;
}

/* Validation, the directory's state, and setup (data, model, probe) with nothing written:
 * what cgalr_train_check stops after and cgalr_train_run starts from. */
cgalr_status_t train_prepare(ctx *c, const cgalr_train_config_t *cfg, char **json, cgalr_train_summary_t *summary,
                              int *done)
{
    *json = NULL;
    *done = 0;
    cgalr_status_t st = start_ctx(c, cfg);
    if (st != CGALR_OK)
        return st;
    if (!(*json = train_config_json(cfg, train_method_has_lr(cfg->sched))))
        return cgalr_fail(CGALR_ENOMEM, "config: out of memory");
    /* the run directory's state decides what may happen before any data is read */
    if ((st = train_dir_allows(c, *json, summary, done)) != CGALR_OK || *done)
        return st;
    return setup(c);
}

/* Data parallel, rank > 0: what prepare does without the run directory (rank 0's business). */
cgalr_status_t train_prepare_peer(ctx *c, const cgalr_train_config_t *cfg)
{
    cgalr_status_t st = start_ctx(c, cfg);
    return st == CGALR_OK ? setup(c) : st;
}

/* After train_prepare: the run directory made and locked, looked at again under the lock
 * (another writer may have come and gone since the first look), and config.json written. */
cgalr_status_t train_claim_dir(ctx *c, const char *json, cgalr_train_summary_t *summary, int *done)
{
    const cgalr_train_config_t *cfg = c->cfg;
    cgalr_status_t st = train_mkdirs(cfg->out);
    if (st == CGALR_OK)
        st = cgalr_lock_take(cfg->out, CGALR_RUN_LOCK, &c->lock_fd);
    if (st == CGALR_OK)
        st = train_dir_allows(c, json, summary, done);
    if (st == CGALR_OK && !*done && cfg->restart)
        remove(c->path_summary); /* the run is unfinished again from here on */
    if (st == CGALR_OK && !*done && !train_exists(c->path_config))
        st = core_write_atomic(c->path_config, json, strlen(json), 1);
    return st;
}
