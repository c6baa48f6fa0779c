/* The metrics.jsonl contract: writing one epoch line, reading a whole file back. Writer and
 * reader live together so the training loop and the report can never disagree on a key. */
#include "cgalr/report.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void cgalr_epoch_record_init(cgalr_epoch_record_t *r)
{
    memset(r, 0, sizeof *r);
    r->lr = r->train_loss = r->train_acc = r->val_loss = r->val_acc = r->test_acc = NAN;
    r->seconds = r->d = r->median = r->mad = r->z = r->rho = NAN;
    r->avg_val_loss = r->avg_val_acc = r->avg_test_acc = NAN;
    r->ctrl_seconds = NAN;
}

/* cJSON writes NaN and Inf as null, which is what the contract wants. */
static int add_num(cJSON *o, const char *key, double v)
{
    return cJSON_AddNumberToObject(o, key, v) != NULL;
}

cgalr_status_t cgalr_metrics_format(const cgalr_epoch_record_t *r, char **line)
{
    if (!r || !line)
        return cgalr_fail(CGALR_EINVAL, "cgalr_metrics_format: NULL argument");
    *line = NULL;
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return cgalr_fail(CGALR_ENOMEM, "metrics line: out of memory");
    int ok = cJSON_AddNumberToObject(o, "epoch", r->epoch) != NULL;
    ok = ok && add_num(o, "lr", r->lr) && add_num(o, "train_loss", r->train_loss) &&
         add_num(o, "train_acc", r->train_acc) && add_num(o, "val_loss", r->val_loss) &&
         add_num(o, "val_acc", r->val_acc);
    if (ok && !isnan(r->test_acc))
        ok = add_num(o, "test_acc", r->test_acc);
    ok = ok && add_num(o, "seconds", r->seconds);
    if (ok && r->has_ctrl) {
        ok = add_num(o, "d", r->d) && add_num(o, "median", r->median) && add_num(o, "mad", r->mad) &&
             add_num(o, "z", r->z) && cJSON_AddStringToObject(o, "state", r->state) != NULL &&
             add_num(o, "rho", r->rho);
        if (ok && !isnan(r->ctrl_seconds))
            ok = add_num(o, "ctrl_seconds", r->ctrl_seconds);
    }
    if (ok && !r->has_ctrl && !isnan(r->d)) /* prodigy / D-Adaptation: their distance estimate */
        ok = add_num(o, "d", r->d);
    if (ok && r->guard_retries > 0)
        ok = cJSON_AddNumberToObject(o, "guard_retries", r->guard_retries) != NULL;
    if (ok && !isnan(r->avg_val_acc))
        ok = add_num(o, "avg_val_loss", r->avg_val_loss) && add_num(o, "avg_val_acc", r->avg_val_acc) &&
             add_num(o, "avg_test_acc", r->avg_test_acc);
    char *s = ok ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    if (!s)
        return cgalr_fail(CGALR_ENOMEM, "metrics line: out of memory");
    *line = s;
    return CGALR_OK;
}

cgalr_status_t cgalr_metrics_format_diverged(int epoch, const char *reason, char **line)
{
    if (!line)
        return cgalr_fail(CGALR_EINVAL, "cgalr_metrics_format_diverged: NULL argument");
    *line = NULL;
    cJSON *o = cJSON_CreateObject();
    int ok = o && cJSON_AddTrueToObject(o, "diverged") && cJSON_AddNumberToObject(o, "epoch", epoch) &&
             cJSON_AddStringToObject(o, "reason", reason ? reason : "") != NULL;
    char *s = ok ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    if (!s)
        return cgalr_fail(CGALR_ENOMEM, "metrics line: out of memory");
    *line = s;
    return CGALR_OK;
}

void cgalr_metrics_free(cgalr_metrics_t *m)
{
    if (!m)
        return;
    free(m->rec);
    free(m->diverged_reason);
    memset(m, 0, sizeof *m);
}

/* A number, null (NaN) or, when !required, absent (NaN). Anything else is a format error. */
static int get_num(const cJSON *o, const char *key, int required, double *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v) {
        *out = NAN;
        return !required;
    }
    if (cJSON_IsNull(v)) {
        *out = NAN;
        return 1;
    }
    if (!cJSON_IsNumber(v))
        return 0;
    *out = v->valuedouble;
    return 1;
}

static cgalr_status_t parse_epoch_line(const cJSON *o, const char *path, size_t lineno,
                                       cgalr_epoch_record_t *r)
{
    cgalr_epoch_record_init(r);
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(o, "epoch");
    if (!cJSON_IsNumber(e) || e->valuedouble < 1 || e->valuedouble > 1e9 ||
        e->valuedouble != floor(e->valuedouble))
        return cgalr_fail(CGALR_EFORMAT, "%s line %zu: \"epoch\" must be an integer >= 1", path, lineno);
    r->epoch = (int)e->valuedouble;
    static const char *const required[] = {"lr", "train_loss", "train_acc", "val_loss", "val_acc", "seconds"};
    double *dst[] = {&r->lr, &r->train_loss, &r->train_acc, &r->val_loss, &r->val_acc, &r->seconds};
    for (size_t i = 0; i < sizeof required / sizeof required[0]; i++)
        if (!get_num(o, required[i], 1, dst[i]))
            return cgalr_fail(CGALR_EFORMAT, "%s line %zu: \"%s\" must be present, a number or null", path,
                              lineno, required[i]);
    if (!get_num(o, "test_acc", 0, &r->test_acc))
        return cgalr_fail(CGALR_EFORMAT, "%s line %zu: \"test_acc\" must be a number or null", path, lineno);
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(o, "state");
    if (st) {
        if (!cJSON_IsString(st) || strlen(st->valuestring) >= sizeof r->state)
            return cgalr_fail(CGALR_EFORMAT, "%s line %zu: \"state\" must be hold, decel or accel", path, lineno);
        r->has_ctrl = 1;
        snprintf(r->state, sizeof r->state, "%s", st->valuestring);
        static const char *const ckeys[] = {"d", "median", "mad", "z", "rho"};
        double *cdst[] = {&r->d, &r->median, &r->mad, &r->z, &r->rho};
        for (size_t i = 0; i < 5; i++)
            if (!get_num(o, ckeys[i], 1, cdst[i]))
                return cgalr_fail(CGALR_EFORMAT, "%s line %zu: controller field \"%s\" must be a number or null",
                                  path, lineno, ckeys[i]);
    } else if (!get_num(o, "d", 0, &r->d)) {
        return cgalr_fail(CGALR_EFORMAT, "%s line %zu: \"d\" must be a number or null", path, lineno);
    }
    if (!get_num(o, "ctrl_seconds", 0, &r->ctrl_seconds))
        return cgalr_fail(CGALR_EFORMAT, "%s line %zu: \"ctrl_seconds\" must be a number or null", path, lineno);
    double g;
    if (!get_num(o, "guard_retries", 0, &g))
        return cgalr_fail(CGALR_EFORMAT, "%s line %zu: \"guard_retries\" must be a number", path, lineno);
    r->guard_retries = isnan(g) ? 0 : (int)g;
    if (!get_num(o, "avg_val_loss", 0, &r->avg_val_loss) || !get_num(o, "avg_val_acc", 0, &r->avg_val_acc) ||
        !get_num(o, "avg_test_acc", 0, &r->avg_test_acc))
        return cgalr_fail(CGALR_EFORMAT, "%s line %zu: \"avg_*\" fields must be numbers or null", path, lineno);
    return CGALR_OK;
}

cgalr_status_t cgalr_metrics_read(const char *path, int allow_partial_tail, cgalr_metrics_t *out)
{
    if (!path || !out)
        return cgalr_fail(CGALR_EINVAL, "cgalr_metrics_read: NULL argument");
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "rb");
    if (!f)
        return cgalr_fail(CGALR_EIO, "%s: cannot open: %s", path, strerror(errno));
    char *buf = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (cap - len < 4096) {
            size_t nc = cap ? cap * 2 : 65536;
            char *nb = realloc(buf, nc + 1);
            if (!nb) {
                free(buf);
                fclose(f);
                return cgalr_fail(CGALR_ENOMEM, "%s: out of memory", path);
            }
            buf = nb;
            cap = nc;
        }
        size_t got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (got == 0)
            break;
    }
    int err = ferror(f);
    fclose(f);
    if (err) {
        free(buf);
        return cgalr_fail(CGALR_EIO, "%s: read error", path);
    }
    if (!buf) { /* empty file */
        return CGALR_OK;
    }
    buf[len] = '\0';
    if (memchr(buf, '\0', len)) {
        free(buf);
        return cgalr_fail(CGALR_EFORMAT, "%s: contains a NUL byte: not a JSON-lines file", path);
    }

    cgalr_status_t st = CGALR_OK;
    size_t cap_rec = 0, lineno = 0;
    char *p = buf;
    while (*p && st == CGALR_OK) {
        lineno++;
        char *nl = strchr(p, '\n');
        int partial = nl == NULL;
        if (nl)
            *nl = '\0';
        char *next = nl ? nl + 1 : p + strlen(p);
        char *q = p;
        while (*q == ' ' || *q == '\t' || *q == '\r')
            q++;
        if (*q == '\0') {
            p = next;
            continue;
        }
        if (partial && allow_partial_tail)
            break;
        if (out->diverged) {
            st = cgalr_fail(CGALR_EFORMAT, "%s line %zu: a line after the diverged marker", path, lineno);
            break;
        }
        cJSON *o = cJSON_Parse(q);
        if (!cJSON_IsObject(o)) {
            cJSON_Delete(o);
            st = cgalr_fail(CGALR_EFORMAT, "%s line %zu: not a JSON object", path, lineno);
            break;
        }
        const cJSON *dv = cJSON_GetObjectItemCaseSensitive(o, "diverged");
        if (cJSON_IsTrue(dv)) {
            const cJSON *e = cJSON_GetObjectItemCaseSensitive(o, "epoch");
            const cJSON *why = cJSON_GetObjectItemCaseSensitive(o, "reason");
            out->diverged = 1;
            out->diverged_epoch = cJSON_IsNumber(e) ? (int)e->valuedouble : 0;
            out->diverged_reason = strdup(cJSON_IsString(why) ? why->valuestring : "");
            if (!out->diverged_reason)
                st = cgalr_fail(CGALR_ENOMEM, "%s: out of memory", path);
        } else {
            if (out->n == cap_rec) {
                size_t nc = cap_rec ? cap_rec * 2 : 64;
                cgalr_epoch_record_t *nr = realloc(out->rec, nc * sizeof *nr);
                if (!nr) {
                    st = cgalr_fail(CGALR_ENOMEM, "%s: out of memory", path);
                    cJSON_Delete(o);
                    break;
                }
                out->rec = nr;
                cap_rec = nc;
            }
            st = parse_epoch_line(o, path, lineno, &out->rec[out->n]);
            if (st == CGALR_OK) {
                if (out->rec[out->n].epoch != (int)out->n + 1)
                    st = cgalr_fail(CGALR_EFORMAT, "%s line %zu: epoch %d, expected %zu (epochs must run 1, 2, ...)",
                                    path, lineno, out->rec[out->n].epoch, out->n + 1);
                else
                    out->n++;
            }
        }
        cJSON_Delete(o);
        p = next;
    }
    free(buf);
    if (st != CGALR_OK)
        cgalr_metrics_free(out);
    return st;
}
