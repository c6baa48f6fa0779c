/* A training run's configuration: its defaults, and the validation of every field before
 * anything is read or written. The messages name the field (what a program embedding the library
 * sets) and, in parentheses, the command-line option (what a user of cgalr train changes). */
#include "cgalr/train.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cgalr/ctrl.h"
#include "cgalr/data.h"
#include "train/probe.h"
#include "train/sched_config.h"

void cgalr_train_config_default(cgalr_train_config_t *c)
{
    memset(c, 0, sizeof *c);
    c->lr = 0.01;
    c->epochs = 10;
    c->batch = 32;
    c->threads = 1;
    c->val_fraction = 0.1;
    c->fold = -1;
    c->normalize = 1;
}

const char *cgalr_train_methods(void) { return cgalr_method_list(); }
const char *cgalr_train_models(void) { return "mlp, cnn, resnet20, resnet18, gin"; }

static cgalr_status_t validate_data_options(const cgalr_train_config_t *c)
{
    const char *d = c->data;
    int graph = cgalr_data_graph_name(d) != NULL;
    if (c->folds < 0 || c->folds == 1 || c->folds > CGALR_TRAIN_FOLDS_MAX)
        return cgalr_fail(CGALR_EINVAL, "folds = %d (--folds): expected 2 .. %d, or 0 for the 80/10/10 split", c->folds,
                          CGALR_TRAIN_FOLDS_MAX);
    if (c->folds == 0 && c->fold != -1)
        return cgalr_fail(CGALR_EINVAL, "fold = %d (--fold) needs folds = K (--folds K: stratified K-fold of a graph dataset)", c->fold);
    if (c->folds >= 2 && c->fold == -1)
        return cgalr_fail(CGALR_EINVAL, "folds = %d (--folds) needs fold (--fold I), the test fold, 0 .. %d", c->folds, c->folds - 1);
    if (c->folds >= 2 && (c->fold < 0 || c->fold >= c->folds))
        return cgalr_fail(CGALR_EINVAL, "fold = %d (--fold): expected 0 .. %d with folds = %d", c->fold, c->folds - 1, c->folds);
    if (c->train_subset == 1 || c->train_subset > CGALR_TRAIN_SUBSET_MAX)
        return cgalr_fail(CGALR_EINVAL, "train_subset = %zu (--train-subset): expected at least 2 samples (0 = the whole training split)",
                          c->train_subset);
    if (c->resize < 0 || c->resize > CGALR_TRAIN_RESIZE_MAX)
        return cgalr_fail(CGALR_EINVAL, "resize = %d (--resize): expected 1 .. %d (0 = the dataset's default)", c->resize,
                          CGALR_TRAIN_RESIZE_MAX);
    if (graph) {
        if (c->augment_crop)
            return cgalr_fail(CGALR_EINVAL, "augment_crop (--crop, --augment): random crop applies to image datasets only, "
                                            "not '%s' (graphs)", d);
        if (c->augment_flip)
            return cgalr_fail(CGALR_EINVAL, "augment_flip (--flip, --augment): horizontal flip applies to image datasets "
                                            "only, not '%s' (graphs)", d);
        if (c->cache_dir)
            return cgalr_fail(CGALR_EINVAL, "cache_dir (--cache-dir) applies to image datasets only (decoded JPEG/PNG), "
                                            "not '%s' (graphs)", d);
        if (!c->normalize)
            return cgalr_fail(CGALR_EINVAL, "normalize = 0 (--no-normalize) applies to image datasets only, not '%s' (graphs)", d);
        if (c->train_subset)
            return cgalr_fail(CGALR_EINVAL, "train_subset (--train-subset) applies to image datasets only, not '%s' "
                                            "(graphs: use folds, --folds)", d);
    } else {
        if (c->folds)
            return cgalr_fail(CGALR_EINVAL, "folds (--folds) applies to graph datasets only (mutag, enzymes, proteins, "
                                            "tu:NAME), not '%s'", d);
        if (c->degree_features)
            return cgalr_fail(CGALR_EINVAL, "degree_features (--degree-features) applies to graph datasets only (mutag, "
                                            "enzymes, proteins, tu:NAME), not '%s'", d);
        if (c->node_attr)
            return cgalr_fail(CGALR_EINVAL, "node_attr (--node-attr) applies to graph datasets only (mutag, enzymes, "
                                            "proteins, tu:NAME), not '%s'", d);
    }
    if (c->cifar100_coarse && strcmp(d, "cifar100"))
        return cgalr_fail(CGALR_EINVAL, "cifar100_coarse (--coarse) applies to cifar100 only, not '%s'", d);
    if (c->resize && strcmp(d, "mini-imagenet") && strncmp(d, "folder:", 7))
        return cgalr_fail(CGALR_EINVAL, "resize (--resize) applies to image folders only (folder:PATH, mini-imagenet), not '%s'",
                          d);
    return CGALR_OK;
}

cgalr_status_t cgalr_train_config_validate(const cgalr_train_config_t *c)
{
    if (!c)
        return cgalr_fail(CGALR_EINVAL, "train: no configuration");
    if (!c->data || !*c->data)
        return cgalr_fail(CGALR_EINVAL, "data (--data) is required (mnist, fashion-mnist, cifar10, cifar100, mini-imagenet, "
                                        "mutag, enzymes, proteins, tu:NAME, folder:PATH)");
    if (!c->model || cgalr_model_kind_parse(c->model) < 0)
        return cgalr_fail(CGALR_EINVAL, "unknown model '%s'; valid models: %s", c->model ? c->model : "(none)",
                          cgalr_train_models());
    if (!c->sched || !*c->sched)
        return cgalr_fail(CGALR_EINVAL, "sched (--sched) is required: one of %s", cgalr_method_list());
    if (train_method(c->sched) < 0)
        return cgalr_fail(CGALR_EINVAL, "unknown method '%s'; valid methods: %s", c->sched ? c->sched : "(none)",
                          cgalr_method_list());
    if (!c->out || !*c->out)
        return cgalr_fail(CGALR_EINVAL, "out (--out DIR), the run directory, is required");
    if (train_method_has_lr(c->sched) && !(isfinite(c->lr) && c->lr > 0 && c->lr <= CGALR_TRAIN_LR_MAX))
        return cgalr_fail(CGALR_EINVAL, "lr = %g (--lr): expected a learning rate in (0, %d]", c->lr, CGALR_TRAIN_LR_MAX);
    if (c->epochs < 1 || c->epochs > CGALR_TRAIN_EPOCHS_MAX)
        return cgalr_fail(CGALR_EINVAL, "epochs = %ld (--epochs): expected 1 .. %d", c->epochs, CGALR_TRAIN_EPOCHS_MAX);
    if (c->batch < 1 || c->batch > CGALR_TRAIN_BATCH_MAX)
        return cgalr_fail(CGALR_EINVAL, "batch = %zu (--batch): expected 1 .. %d", c->batch, CGALR_TRAIN_BATCH_MAX);
    if (c->threads < 1 || c->threads > CGALR_TRAIN_THREADS_MAX)
        return cgalr_fail(CGALR_EINVAL, "threads = %d (--threads): expected 1 .. %d", c->threads, CGALR_TRAIN_THREADS_MAX);
    if (c->probe_n == 1 || c->probe_n > CGALR_TRAIN_PROBE_MAX)
        return cgalr_fail(CGALR_EINVAL, "probe_n = %zu (--probe): expected 2 .. %d samples (0 = default)", c->probe_n,
                          CGALR_TRAIN_PROBE_MAX);
    if (c->ctrl_every < 0 || c->ctrl_every > CGALR_TRAIN_CTRL_EVERY_MAX)
        return cgalr_fail(CGALR_EINVAL, "ctrl_every = %ld (--ctrl-every): expected 0 .. %d iterations (0 = after every epoch)",
                          c->ctrl_every, CGALR_TRAIN_CTRL_EVERY_MAX);
    if (c->ctrl_every > 0 && !train_method_is_cgalr(c->sched))
        return cgalr_fail(CGALR_EINVAL, "ctrl_every (--ctrl-every) applies to the CG-ALR methods only, not '%s'", c->sched);
    if (tprobe_mode_parse(c->probe_mode) < 0)
        return cgalr_fail(CGALR_EINVAL, "probe_mode = '%s' (--probe-mode): expected one of %s", c->probe_mode, TPROBE_MODES);
    /* the default applies to CG-ALR only; a baseline has no connectome, so only an explicit source
     * other than pass is an error */
    if (c->probe_mode && *c->probe_mode && tprobe_mode_parse(c->probe_mode) != TPROBE_PASS &&
        !train_method_is_cgalr(c->sched))
        return cgalr_fail(CGALR_EINVAL, "probe_mode = %s (--probe-mode) applies to the CG-ALR methods only, not '%s'", c->probe_mode,
                          c->sched);
    if (!(c->weight_decay >= 0 && c->weight_decay < 1))
        return cgalr_fail(CGALR_EINVAL, "weight_decay = %g (--wd): expected weight decay in [0, 1)", c->weight_decay);
    if (!(c->val_fraction >= 0 && c->val_fraction <= CGALR_TRAIN_VAL_FRACTION_MAX))
        return cgalr_fail(CGALR_EINVAL, "val_fraction = %g (--val-fraction): expected 0 .. %g", c->val_fraction,
                          CGALR_TRAIN_VAL_FRACTION_MAX);
    if (c->restart && !c->resume)
        return cgalr_fail(CGALR_EINVAL, "restart (--restart) applies with resume (--resume): it restarts the run in out");
    if (cgalr_data_graph_name(c->data) != NULL && c->folds == 0 && c->val_fraction != 0.1)
        return cgalr_fail(CGALR_EINVAL, "val_fraction = %g (--val-fraction): a graph dataset without folds (--folds) "
                                        "is split stratified 80/10/10 (validation fixed); with folds = K it is the "
                                        "fraction of the training folds carved for validation", c->val_fraction);
    if (c->val_fraction == 0 && !strcmp(c->sched, "plateau"))
        return cgalr_fail(CGALR_EINVAL, "sched = plateau watches the validation loss: val_fraction = 0 "
                                        "(--val-fraction) leaves no validation set (use a fraction > 0)");
    cgalr_status_t dst = validate_data_options(c);
    if (dst != CGALR_OK)
        return dst;
    if (c->sched_opts) {
        /* options the train command owns must come from it, so config.json tells the truth */
        static const char *const owned[] = {"lr", "epochs", "iters_per_epoch", "ctrl_every", "weight_decay", "method", "distance"};
        const char *p = c->sched_opts;
        while (*p) {
            while (*p == ',' || *p == ' ')
                p++;
            size_t n = strcspn(p, "=,");
            for (size_t k = 0; k < sizeof owned / sizeof owned[0]; k++)
                if (n == strlen(owned[k]) && !strncmp(p, owned[k], n))
                    return cgalr_fail(CGALR_EINVAL, "sched_opts (--sched-opt) %s=...: set it with its own field instead "
                                                    "(lr, epochs, ctrl_every, weight_decay, sched cgalr-top|wd|swk; "
                                                    "--lr, --epochs, --ctrl-every, --wd, --sched)",
                                      owned[k]);
            p += strcspn(p, ",");
        }
    }
    cgalr_sched_config_t sc;
    return train_sched_config(c, 0, 0, &sc);
}
