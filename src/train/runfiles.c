/* The files of a run directory besides metrics.jsonl: config.json (everything needed to rerun)
 * and summary.json (written once the run is finished). Both are written to a temporary file and
 * renamed, so a crash never leaves half a file. */
#include "train/runfiles.h"

#include "cgalr/shellwords.h"
#include "core/files.h"
#include "train/probe.h"
#include "train/sched_config.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Appends " flag 'value'" with the value quoted for a POSIX shell (a ' inside becomes '\''),
 * so the command reruns as written and `cgalr train --resume` can split it back into words. */
static void append_quoted(char *cmd, size_t cap, int *k, const char *flag, const char *value)
{
    if (*k < 0 || (size_t)*k >= cap)
        return;
    *k += snprintf(cmd + *k, cap - (size_t)*k, " %s '", flag);
    for (const char *v = value; *v && *k > 0 && (size_t)*k < cap; v++)
        *k += *v == '\'' ? snprintf(cmd + *k, cap - (size_t)*k, "'\\''") : snprintf(cmd + *k, cap - (size_t)*k, "%c", *v);
    if (*k > 0 && (size_t)*k < cap)
        *k += snprintf(cmd + *k, cap - (size_t)*k, "'");
}

char *train_config_json(const cgalr_train_config_t *c, int has_lr)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    char seed[32], split[32];
    snprintf(seed, sizeof seed, "%llu", (unsigned long long)c->seed);
    snprintf(split, sizeof split, "%llu", (unsigned long long)c->split_seed);
    cJSON_AddStringToObject(o, "data", c->data);
    if (c->data_dir)
        cJSON_AddStringToObject(o, "data_dir", c->data_dir);
    cJSON_AddStringToObject(o, "model", c->model);
    cJSON_AddStringToObject(o, "sched", c->sched);
    if (has_lr)
        cJSON_AddNumberToObject(o, "lr", c->lr);
    else
        cJSON_AddNullToObject(o, "lr");
    cJSON_AddNumberToObject(o, "epochs", (double)c->epochs);
    cJSON_AddNumberToObject(o, "batch", (double)c->batch);
    /* seeds are 64-bit: the number is for readers, the string is exact */
    cJSON_AddNumberToObject(o, "seed", (double)c->seed);
    cJSON_AddStringToObject(o, "seed_exact", seed);
    cJSON_AddNumberToObject(o, "threads", c->threads);
    cJSON_AddNumberToObject(o, "probe", (double)c->probe_n);
    cJSON_AddStringToObject(o, "probe_layer", c->probe_layer ? c->probe_layer : "");
    cJSON_AddNumberToObject(o, "ctrl_every", (double)c->ctrl_every);
    /* the source the run used, left out when it is pass (the only source before the option, and
     * the meaning of a config without the key), so run directories made before it still resume;
     * a baseline has no connectome */
    int mode = train_method_is_cgalr(c->sched) ? tprobe_mode_parse(c->probe_mode) : TPROBE_PASS;
    if (mode != TPROBE_PASS)
        cJSON_AddStringToObject(o, "probe_mode", tprobe_mode_name(mode));
    /* the defaults a CG-ALR run's empty options stand for: 1 = METHOD.md's first SPEC (s0 = T/10),
     * 2 = docs/ABLATION.md's choice (s0 = 1); a config without the key is version 1, so a run made
     * before the change is never resumed or skipped as if it were one of today's */
    if (train_method_is_cgalr(c->sched))
        cJSON_AddNumberToObject(o, "cgalr_defaults", CGALR_DEFAULTS_VERSION);
    cJSON_AddStringToObject(o, "sched_opts", c->sched_opts ? c->sched_opts : "");
    cJSON_AddNumberToObject(o, "weight_decay", c->weight_decay);
    cJSON_AddNumberToObject(o, "val_fraction", c->val_fraction);
    cJSON_AddStringToObject(o, "split_seed", split);
    cJSON_AddNumberToObject(o, "limit", (double)c->limit);
    cJSON_AddNumberToObject(o, "train_subset", (double)c->train_subset);
    cJSON_AddBoolToObject(o, "node_attr", c->node_attr != 0);
    cJSON_AddBoolToObject(o, "augment_crop", c->augment_crop != 0);
    cJSON_AddBoolToObject(o, "augment_flip", c->augment_flip != 0);
    if (c->cache_dir)
        cJSON_AddStringToObject(o, "cache_dir", c->cache_dir);
    else
        cJSON_AddNullToObject(o, "cache_dir");
    cJSON_AddNumberToObject(o, "folds", c->folds);
    if (c->folds >= 2)
        cJSON_AddNumberToObject(o, "fold", c->fold);
    else
        cJSON_AddNullToObject(o, "fold");
    cJSON_AddBoolToObject(o, "degree_features", c->degree_features != 0);
    cJSON_AddBoolToObject(o, "normalize", c->normalize != 0);
    cJSON_AddBoolToObject(o, "cifar100_coarse", c->cifar100_coarse != 0);
    cJSON_AddNumberToObject(o, "resize", c->resize);
    cJSON_AddBoolToObject(o, "sync_bn", c->sync_bn != 0);

    /* the command line that reruns it */
    char cmd[4096], lr[32], wd[32], vf[32];
    cgalr_shell_number(lr, sizeof lr, c->lr);
    cgalr_shell_number(wd, sizeof wd, c->weight_decay);
    cgalr_shell_number(vf, sizeof vf, c->val_fraction);
    cgalr_train_config_t d; /* options at their default are left out: the command stays readable */
    cgalr_train_config_default(&d);
    int k = snprintf(cmd, sizeof cmd, "cgalr train --data %s --model %s --sched %s --lr %s --epochs %ld --seed %s",
                     c->data, c->model, c->sched, lr, c->epochs, seed);
    if (k > 0 && (size_t)k < sizeof cmd && c->batch != d.batch)
        k += snprintf(cmd + k, sizeof cmd - (size_t)k, " --batch %zu", c->batch);
    if (k > 0 && (size_t)k < sizeof cmd && c->threads != d.threads)
        k += snprintf(cmd + k, sizeof cmd - (size_t)k, " --threads %d", c->threads);
    if (k > 0 && (size_t)k < sizeof cmd && c->probe_n != d.probe_n)
        k += snprintf(cmd + k, sizeof cmd - (size_t)k, " --probe %zu", c->probe_n);
    if (k > 0 && (size_t)k < sizeof cmd && c->ctrl_every != d.ctrl_every)
        k += snprintf(cmd + k, sizeof cmd - (size_t)k, " --ctrl-every %ld", c->ctrl_every);
    if (k > 0 && (size_t)k < sizeof cmd && c->weight_decay != d.weight_decay)
        k += snprintf(cmd + k, sizeof cmd - (size_t)k, " --wd %s", wd);
    if (k > 0 && (size_t)k < sizeof cmd && c->val_fraction != d.val_fraction)
        k += snprintf(cmd + k, sizeof cmd - (size_t)k, " --val-fraction %s", vf);
    if (k > 0 && (size_t)k < sizeof cmd && c->split_seed != d.split_seed)
        k += snprintf(cmd + k, sizeof cmd - (size_t)k, " --split-seed %s", split);
    if (k > 0 && (size_t)k < sizeof cmd && c->limit != d.limit)
        k += snprintf(cmd + k, sizeof cmd - (size_t)k, " --limit %zu", c->limit);
    if (k > 0 && (size_t)k < sizeof cmd && c->train_subset != d.train_subset)
        k += snprintf(cmd + k, sizeof cmd - (size_t)k, " --train-subset %zu", c->train_subset);
    if (c->data_dir)
        append_quoted(cmd, sizeof cmd, &k, "--data-dir", c->data_dir);
    if (k > 0 && (size_t)k < sizeof cmd && train_method_is_cgalr(c->sched) && mode != tprobe_mode_parse(NULL))
        k += snprintf(cmd + k, sizeof cmd - (size_t)k, " --probe-mode %s", tprobe_mode_name(mode));
    if (k > 0 && (size_t)k < sizeof cmd && c->probe_layer && *c->probe_layer)
        k += snprintf(cmd + k, sizeof cmd - (size_t)k, " --probe-layer %s", c->probe_layer);
    if (c->sched_opts && *c->sched_opts)
        append_quoted(cmd, sizeof cmd, &k, "--sched-opt", c->sched_opts);
    if (k > 0 && (size_t)k < sizeof cmd && c->node_attr)
        k += snprintf(cmd + k, sizeof cmd - (size_t)k, " --node-attr");
    if (k > 0 && (size_t)k < sizeof cmd && c->augment_crop && c->augment_flip)
        k += snprintf(cmd + k, sizeof cmd - (size_t)k, " --augment");
    else if (k > 0 && (size_t)k < sizeof cmd && (c->augment_crop || c->augment_flip))
        k += snprintf(cmd + k, sizeof cmd - (size_t)k, " %s", c->augment_crop ? "--crop" : "--flip");
    if (c->cache_dir)
        append_quoted(cmd, sizeof cmd, &k, "--cache-dir", c->cache_dir);
    if (k > 0 && (size_t)k < sizeof cmd && c->folds >= 2)
        k += snprintf(cmd + k, sizeof cmd - (size_t)k, " --folds %d --fold %d", c->folds, c->fold);
    if (k > 0 && (size_t)k < sizeof cmd && c->degree_features)
        k += snprintf(cmd + k, sizeof cmd - (size_t)k, " --degree-features");
    if (k > 0 && (size_t)k < sizeof cmd && c->sync_bn)
        k += snprintf(cmd + k, sizeof cmd - (size_t)k, " --sync-bn");
    if (k > 0 && (size_t)k < sizeof cmd && !c->normalize)
        k += snprintf(cmd + k, sizeof cmd - (size_t)k, " --no-normalize");
    if (k > 0 && (size_t)k < sizeof cmd && c->cifar100_coarse)
        k += snprintf(cmd + k, sizeof cmd - (size_t)k, " --coarse");
    if (k > 0 && (size_t)k < sizeof cmd && c->resize)
        snprintf(cmd + k, sizeof cmd - (size_t)k, " --resize %d", c->resize);
    cJSON_AddStringToObject(o, "command", cmd);
    char *s = cJSON_Print(o);
    cJSON_Delete(o);
    return s;
}

/* config.json and summary.json are small; a bigger file there is not one of ours */
static char *read_all(const char *path)
{
    char *text = NULL;
    size_t len;
    return core_read_text(path, 1u << 24, &text, &len) == CGALR_OK ? text : NULL;
}

/* Keys added to config.json after runs already existed: a config written before them holds none,
 * which means the value below (the default then and now). */
static int absent_means(const cJSON *want, const char *key)
{
    static const struct {
        const char *key;
        int type; /* 0 false, 1 true, 2 number 0, 3 null, 4 number 1 */
    } later[] = {{"augment_crop", 0}, {"augment_flip", 0}, {"folds", 2},           {"fold", 3},
                 {"degree_features", 0}, {"normalize", 1}, {"cifar100_coarse", 0}, {"resize", 2},
                 {"train_subset", 2}, {"cgalr_defaults", 4}, {"sync_bn", 0}};
    for (size_t i = 0; i < sizeof later / sizeof later[0]; i++) {
        if (strcmp(key, later[i].key))
            continue;
        switch (later[i].type) {
        case 0: return cJSON_IsFalse(want);
        case 1: return cJSON_IsTrue(want);
        case 2: return cJSON_IsNumber(want) && want->valuedouble == 0;
        case 4: return cJSON_IsNumber(want) && want->valuedouble == 1;
        default: return cJSON_IsNull(want);
        }
    }
    return 0;
}

cgalr_status_t train_config_matches(const char *path, const char *expected_json)
{
    char *text = read_all(path);
    if (!text)
        return cgalr_fail(CGALR_EIO, "%s: cannot read", path);
    cJSON *a = cJSON_Parse(text);
    cJSON *b = cJSON_Parse(expected_json);
    free(text);
    cgalr_status_t st = CGALR_OK;
    if (!cJSON_IsObject(a)) {
        st = cgalr_fail(CGALR_EFORMAT, "%s: not a JSON object", path);
    } else if (b) {
        /* name the first key that differs: that is what the user must fix */
        for (const cJSON *it = b->child; it; it = it->next) {
            /* command: a rendering of the rest; cache_dir: where decoded pixels are kept, the
             * same pixels wherever it is, so a resume may move it */
            if (!strcmp(it->string, "command") || !strcmp(it->string, "cache_dir"))
                continue;
            const cJSON *x = cJSON_GetObjectItemCaseSensitive(a, it->string);
            if (!x && absent_means(it, it->string))
                continue;
            if (!x || !cJSON_Compare(x, it, 1)) {
                char *want = cJSON_PrintUnformatted(it);
                char *have = x ? cJSON_PrintUnformatted(x) : NULL;
                if (!strcmp(it->string, "cgalr_defaults"))
                    st = cgalr_fail(CGALR_ESTATE,
                                    "%s: the run there was made with the CG-ALR defaults of version %s (before "
                                    "docs/ABLATION.md changed them), this build has version %s: resume it with the "
                                    "build that made it, or use another --out",
                                    path, have ? have : "1", want ? want : "?");
                else
                    st = cgalr_fail(CGALR_ESTATE,
                                    "%s: the run there has %s = %s, this command has %s: resume with the same "
                                    "options or use another --out",
                                    path, it->string, have ? have : "(missing)", want ? want : "?");
                free(want);
                free(have);
                break;
            }
        }
    }
    cJSON_Delete(a);
    cJSON_Delete(b);
    return st;
}

static void add_num(cJSON *o, const char *k, double v)
{
    if (isfinite(v))
        cJSON_AddNumberToObject(o, k, v);
    else
        cJSON_AddNullToObject(o, k);
}

cgalr_status_t train_write_summary(const char *path, const cgalr_train_summary_t *s)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return cgalr_fail(CGALR_ENOMEM, "summary: out of memory");
    cJSON_AddBoolToObject(o, "finished", s->finished != 0);
    cJSON_AddBoolToObject(o, "diverged", s->diverged != 0);
    if (s->diverged)
        cJSON_AddStringToObject(o, "message", s->message);
    cJSON_AddNumberToObject(o, "epochs_done", (double)s->epochs_done);
    add_num(o, "best_val_acc", s->best_val_acc);
    add_num(o, "final_test_acc", s->final_test_acc);
    add_num(o, "final_val_loss", s->final_val_loss);
    add_num(o, "seconds", s->seconds);
    add_num(o, "ctrl_seconds", s->ctrl_seconds);
    add_num(o, "ctrl_share", s->ctrl_share);
    add_num(o, "epoch_seconds", s->epoch_seconds);
    cJSON_AddNumberToObject(o, "params", (double)s->params);
    cJSON_AddNumberToObject(o, "probe_n", (double)s->probe_n);
    cJSON_AddNumberToObject(o, "probe_p", (double)s->probe_p);
    cJSON_AddNumberToObject(o, "guard_events", s->guard_events);
    cJSON *sm = cJSON_AddObjectToObject(o, "samples");
    if (sm) {
        cJSON_AddNumberToObject(sm, "train", (double)s->samples[0]);
        cJSON_AddNumberToObject(sm, "val", (double)s->samples[1]);
        cJSON_AddNumberToObject(sm, "test", (double)s->samples[2]);
    }
    /* the kernels of the process that finished the run: with OPENBLAS_CORETYPE and CGALR_ISA set to
     * them, the run's records are remade bit for bit on any CPU that has those instructions */
    cJSON *k = cJSON_AddObjectToObject(o, "kernels");
    if (k) {
        cJSON_AddStringToObject(k, "blas", cgalr_nn_blas_core());
        cJSON_AddStringToObject(k, "engine", cgalr_nn_isa_name());
    }
    char *text = cJSON_Print(o);
    cJSON_Delete(o);
    if (!text)
        return cgalr_fail(CGALR_ENOMEM, "summary: out of memory");
    cgalr_status_t st = core_write_atomic(path, text, strlen(text), 1);
    free(text);
    return st;
}

int train_summary_finished(const char *path, cgalr_train_summary_t *s)
{
    char *text = read_all(path);
    if (!text)
        return 0;
    cJSON *o = cJSON_Parse(text);
    free(text);
    int fin = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "finished"));
    if (fin && s) {
        const cJSON *v;
        s->finished = 1;
        s->diverged = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "diverged"));
#define GETD(key, dst)                                                                                           \
    v = cJSON_GetObjectItemCaseSensitive(o, key);                                                                \
    dst = cJSON_IsNumber(v) ? v->valuedouble : NAN;
        GETD("best_val_acc", s->best_val_acc)
        GETD("final_test_acc", s->final_test_acc)
        GETD("final_val_loss", s->final_val_loss)
        GETD("seconds", s->seconds)
        GETD("ctrl_seconds", s->ctrl_seconds)
        GETD("ctrl_share", s->ctrl_share)
        GETD("epoch_seconds", s->epoch_seconds)
#undef GETD
        v = cJSON_GetObjectItemCaseSensitive(o, "message");
        if (cJSON_IsString(v))
            snprintf(s->message, sizeof s->message, "%s", v->valuestring);
        static const char *const split[3] = {"train", "val", "test"};
        const cJSON *sm = cJSON_GetObjectItemCaseSensitive(o, "samples");
        for (int k = 0; k < 3; k++) {
            v = cJSON_GetObjectItemCaseSensitive(sm, split[k]);
            s->samples[k] = cJSON_IsNumber(v) && v->valuedouble >= 0 ? (size_t)v->valuedouble : 0;
        }
        v = cJSON_GetObjectItemCaseSensitive(o, "epochs_done");
        s->epochs_done = cJSON_IsNumber(v) ? (long)v->valuedouble : 0;
    }
    cJSON_Delete(o);
    return fin;
}
