/* A training run's configuration: its defaults, and the validation of every field before
 * anything is read or written (the messages name the command-line option a user would change). */
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
        return cgalr_fail(CGALR_EINVAL, "--folds %d: expected 2 .. %d (or 0 for the 80/10/10 split)", c->folds,
                          CGALR_TRAIN_FOLDS_MAX);
    if (c->folds == 0 && c->fold != -1)
        return cgalr_fail(CGALR_EINVAL, "--fold %d needs --folds K (stratified K-fold of a graph dataset)", c->fold);
    if (c->folds >= 2 && c->fold == -1)
        return cgalr_fail(CGALR_EINVAL, "--folds %d needs --fold I, the test fold (0 .. %d)", c->folds, c->folds - 1);
    if (c->folds >= 2 && (c->fold < 0 || c->fold >= c->folds))
        return cgalr_fail(CGALR_EINVAL, "--fold %d: expected 0 .. %d with --folds %d", c->fold, c->folds - 1, c->folds);
    if (c->train_subset == 1 || c->train_subset > CGALR_TRAIN_SUBSET_MAX)
        return cgalr_fail(CGALR_EINVAL, "--train-subset %zu: expected at least 2 samples (0 = the whole training split)",
                          c->train_subset);
    if (c->resize < 0 || c->resize > CGALR_TRAIN_RESIZE_MAX)
        return cgalr_fail(CGALR_EINVAL, "--resize %d: expected 1 .. %d (0 = the dataset's default)", c->resize,
                          CGALR_TRAIN_RESIZE_MAX);
    if (graph) {
        if (c->augment_crop)
            return cgalr_fail(CGALR_EINVAL, "--crop/--augment: random crop applies to image datasets only, not '%s' "
                                            "(graphs)", d);
        if (c->augment_flip)
            return cgalr_fail(CGALR_EINVAL, "--flip/--augment: horizontal flip applies to image datasets only, not "
                                            "'%s' (graphs)", d);
        if (c->cache_dir)
            return cgalr_fail(CGALR_EINVAL, "--cache-dir applies to image datasets only (decoded JPEG/PNG), not '%s' "
                                            "(graphs)", d);
        if (!c->normalize)
            return cgalr_fail(CGALR_EINVAL, "--no-normalize applies to image datasets only, not '%s' (graphs)", d);
        if (c->train_subset)
            return cgalr_fail(CGALR_EINVAL, "--train-subset applies to image datasets only, not '%s' (graphs: use "
                                            "--folds)", d);
    } else {
        if (c->folds)
            return cgalr_fail(CGALR_EINVAL, "--folds applies to graph datasets only (mutag, enzymes, proteins, tu:NAME), "
                                            "not '%s'", d);
        if (c->degree_features)
            return cgalr_fail(CGALR_EINVAL, "--degree-features applies to graph datasets only (mutag, enzymes, proteins, "
                                            "tu:NAME), not '%s'", d);
        if (c->node_attr)
            return cgalr_fail(CGALR_EINVAL, "--node-attr applies to graph datasets only (mutag, enzymes, proteins, "
                                            "tu:NAME), not '%s'", d);
    }
    if (c->cifar100_coarse && strcmp(d, "cifar100"))
        return cgalr_fail(CGALR_EINVAL, "--coarse applies to cifar100 only, not '%s'", d);
    if (c->resize && strcmp(d, "mini-imagenet") && strncmp(d, "folder:", 7))
        return cgalr_fail(CGALR_EINVAL, "--resize applies to image folders only (folder:PATH, mini-imagenet), not '%s'",
                          d);
    return CGALR_OK;
}

cgalr_status_t cgalr_train_config_validate(const cgalr_train_config_t *c)
{
    if (!c)
        return cgalr_fail(CGALR_EINVAL, "train: no configuration");
    if (!c->data || !*c->data)
        return cgalr_fail(CGALR_EINVAL, "--data is required (mnist, fashion-mnist, cifar10, cifar100, mini-imagenet, "
                                        "mutag, enzymes, proteins, tu:NAME, folder:PATH)");
    if (!c->model || cgalr_model_kind_parse(c->model) < 0)
        return cgalr_fail(CGALR_EINVAL, "unknown model '%s'; valid models: %s", c->model ? c->model : "(none)",
                          cgalr_train_models());
    if (train_method(c->sched) < 0)
        return cgalr_fail(CGALR_EINVAL, "unknown method '%s'; valid methods: %s", c->sched ? c->sched : "(none)",
                          cgalr_method_list());
    if (!c->out || !*c->out)
        return cgalr_fail(CGALR_EINVAL, "--out DIR is required");
    if (train_method_has_lr(c->sched) && !(isfinite(c->lr) && c->lr > 0 && c->lr <= CGALR_TRAIN_LR_MAX))
        return cgalr_fail(CGALR_EINVAL, "--lr %g: expected a learning rate in (0, %d]", c->lr, CGALR_TRAIN_LR_MAX);
    if (c->epochs < 1 || c->epochs > CGALR_TRAIN_EPOCHS_MAX)
        return cgalr_fail(CGALR_EINVAL, "--epochs %ld: expected 1 .. %d", c->epochs, CGALR_TRAIN_EPOCHS_MAX);
    if (c->batch < 1 || c->batch > CGALR_TRAIN_BATCH_MAX)
        return cgalr_fail(CGALR_EINVAL, "--batch %zu: expected 1 .. %d", c->batch, CGALR_TRAIN_BATCH_MAX);
    if (c->threads < 1 || c->threads > CGALR_TRAIN_THREADS_MAX)
        return cgalr_fail(CGALR_EINVAL, "--threads %d: expected 1 .. %d", c->threads, CGALR_TRAIN_THREADS_MAX);
    if (c->probe_n == 1 || c->probe_n > CGALR_TRAIN_PROBE_MAX)
        return cgalr_fail(CGALR_EINVAL, "--probe %zu: expected 2 .. %d samples (0 = default)", c->probe_n,
                          CGALR_TRAIN_PROBE_MAX);
    if (c->ctrl_every < 0 || c->ctrl_every > CGALR_TRAIN_CTRL_EVERY_MAX)
        return cgalr_fail(CGALR_EINVAL, "--ctrl-every %ld: expected 0 .. %d iterations (0 = after every epoch)",
                          c->ctrl_every, CGALR_TRAIN_CTRL_EVERY_MAX);
    if (c->ctrl_every > 0 && !train_method_is_cgalr(c->sched))
        return cgalr_fail(CGALR_EINVAL, "--ctrl-every applies to the CG-ALR methods only, not '%s'", c->sched);
    if (tprobe_mode_parse(c->probe_mode) < 0)
        return cgalr_fail(CGALR_EINVAL, "--probe-mode '%s': expected one of %s", c->probe_mode, TPROBE_MODES);
    /* the default applies to CG-ALR only; a baseline has no connectome, so only an explicit source
     * other than pass is an error */
    if (c->probe_mode && *c->probe_mode && tprobe_mode_parse(c->probe_mode) != TPROBE_PASS &&
        !train_method_is_cgalr(c->sched))
        return cgalr_fail(CGALR_EINVAL, "--probe-mode %s applies to the CG-ALR methods only, not '%s'", c->probe_mode,
                          c->sched);
    if (!(c->weight_decay >= 0 && c->weight_decay < 1))
        return cgalr_fail(CGALR_EINVAL, "--wd %g: expected weight decay in [0, 1)", c->weight_decay);
    if (!(c->val_fraction >= 0 && c->val_fraction <= CGALR_TRAIN_VAL_FRACTION_MAX))
        return cgalr_fail(CGALR_EINVAL, "--val-fraction %g: expected 0 .. %g", c->val_fraction,
                          CGALR_TRAIN_VAL_FRACTION_MAX);
    if (c->restart && !c->resume)
        return cgalr_fail(CGALR_EINVAL, "--restart applies with --resume (it restarts the run in --out)");
    if (cgalr_data_graph_name(c->data) != NULL && c->folds == 0 && c->val_fraction != 0.1)
        return cgalr_fail(CGALR_EINVAL, "--val-fraction %g: a graph dataset without --folds is split stratified "
                                        "80/10/10 (validation fixed); with --folds K it is the fraction of the training "
                                        "folds carved for validation", c->val_fraction);
    if (c->val_fraction == 0 && !strcmp(c->sched, "plateau"))
        return cgalr_fail(CGALR_EINVAL, "--sched plateau watches the validation loss: --val-fraction 0 leaves no "
                                        "validation set (use a fraction > 0)");
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
                    return cgalr_fail(CGALR_EINVAL, "--sched-opt %s=...: set it with the train option (--lr, --epochs, "
                                                    "--ctrl-every, --wd, --sched cgalr-top|wd|swk) instead",
                                      owned[k]);
            p += strcspn(p, ",");
        }
    }
    cgalr_sched_config_t sc;
    return train_sched_config(c, 0, 0, &sc);
}
