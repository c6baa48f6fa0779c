/* The files of a run directory besides metrics.jsonl: config.json (everything needed to rerun)
 * and summary.json (written once the run is finished). Both are written to a temporary file and
 * renamed, so a crash never leaves half a file. */
#include "train/runfiles.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

cgalr_status_t train_write_file_atomic(const char *path, const char *text)
{
    char tmp[4200];
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp", path) >= sizeof tmp)
        return cgalr_fail(CGALR_EINVAL, "%s: path too long", path);
    FILE *f = fopen(tmp, "wb");
    if (!f)
        return cgalr_fail(CGALR_EIO, "%s: cannot write: %s", tmp, strerror(errno));
    size_t n = strlen(text);
    int ok = fwrite(text, 1, n, f) == n && fputc('\n', f) != EOF;
    int e = errno;
    ok = (fclose(f) == 0) && ok;
    if (!ok) {
        remove(tmp);
        return cgalr_fail(CGALR_EIO, "%s: write failed: %s", tmp, strerror(e ? e : EIO));
    }
    if (rename(tmp, path) != 0) {
        e = errno;
        remove(tmp);
        return cgalr_fail(CGALR_EIO, "%s: cannot rename into place: %s", path, strerror(e));
    }
    return CGALR_OK;
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
    cJSON_AddStringToObject(o, "sched_opts", c->sched_opts ? c->sched_opts : "");
    cJSON_AddNumberToObject(o, "weight_decay", c->weight_decay);
    cJSON_AddNumberToObject(o, "val_fraction", c->val_fraction);
    cJSON_AddStringToObject(o, "split_seed", split);
    cJSON_AddNumberToObject(o, "limit", (double)c->limit);
    cJSON_AddBoolToObject(o, "node_attr", c->node_attr != 0);

    /* the command line that reruns it */
    char cmd[4096];
    int k = snprintf(cmd, sizeof cmd,
                     "cgalr train --data %s --model %s --sched %s --lr %.17g --epochs %ld --batch %zu --seed %s "
                     "--threads %d --probe %zu --ctrl-every %ld --wd %.17g --val-fraction %.17g --split-seed %s "
                     "--limit %zu",
                     c->data, c->model, c->sched, c->lr, c->epochs, c->batch, seed, c->threads, c->probe_n,
                     c->ctrl_every, c->weight_decay, c->val_fraction, split, c->limit);
    if (k > 0 && (size_t)k < sizeof cmd && c->data_dir)
        k += snprintf(cmd + k, sizeof cmd - (size_t)k, " --data-dir '%s'", c->data_dir);
    if (k > 0 && (size_t)k < sizeof cmd && c->probe_layer && *c->probe_layer)
        k += snprintf(cmd + k, sizeof cmd - (size_t)k, " --probe-layer %s", c->probe_layer);
    if (k > 0 && (size_t)k < sizeof cmd && c->sched_opts && *c->sched_opts)
        k += snprintf(cmd + k, sizeof cmd - (size_t)k, " --sched-opt '%s'", c->sched_opts);
    if (k > 0 && (size_t)k < sizeof cmd && c->node_attr)
        snprintf(cmd + k, sizeof cmd - (size_t)k, " --node-attr");
    cJSON_AddStringToObject(o, "command", cmd);
    char *s = cJSON_Print(o);
    cJSON_Delete(o);
    return s;
}

static char *read_all(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (cap - len < 1024) {
            cap = cap ? cap * 2 : 4096;
            if (cap > (1u << 24)) {
                free(buf);
                fclose(f);
                return NULL;
            }
            char *nb = realloc(buf, cap + 1);
            if (!nb) {
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = nb;
        }
        size_t got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (got == 0)
            break;
    }
    fclose(f);
    buf[len] = '\0';
    return buf;
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
            if (!strcmp(it->string, "command"))
                continue;
            const cJSON *x = cJSON_GetObjectItemCaseSensitive(a, it->string);
            if (!x || !cJSON_Compare(x, it, 1)) {
                char *want = cJSON_PrintUnformatted(it);
                char *have = x ? cJSON_PrintUnformatted(x) : NULL;
                st = cgalr_fail(CGALR_ESTATE,
                                "%s: the run there has %s = %s, this command has %s: resume with the same options "
                                "or use another --out",
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
    char *text = cJSON_Print(o);
    cJSON_Delete(o);
    if (!text)
        return cgalr_fail(CGALR_ENOMEM, "summary: out of memory");
    cgalr_status_t st = train_write_file_atomic(path, text);
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
        v = cJSON_GetObjectItemCaseSensitive(o, "epochs_done");
        s->epochs_done = cJSON_IsNumber(v) ? (long)v->valuedouble : 0;
    }
    cJSON_Delete(o);
    return fin;
}
