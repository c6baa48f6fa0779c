/* What state a run directory is in: the one definition of "finished" that `cgalr grid` (skip or
 * rerun), `cgalr train --resume` and `cgalr report` (include or list as left out) all use.
 * A run is finished when its metrics.jsonl parses completely, line by line, and holds every
 * configured epoch or the diverged marker; summary.json is derived from it and may be absent,
 * but when present it must agree. */
#include "cgalr/lock.h"
#include "cgalr/report.h"
#include "report/report_internal.h"

#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int present(const char *dir, const char *name)
{
    char p[4200];
    struct stat st;
    return (size_t)snprintf(p, sizeof p, "%s/%s", dir, name) < sizeof p && stat(p, &st) == 0;
}

cJSON *report_read_object(const char *dir, const char *name)
{
    char p[4200];
    if ((size_t)snprintf(p, sizeof p, "%s/%s", dir, name) >= sizeof p)
        return NULL;
    FILE *f = fopen(p, "rb");
    if (!f)
        return NULL;
    char *buf = malloc(1 << 16);
    size_t n = buf ? fread(buf, 1, (1 << 16) - 1, f) : 0;
    fclose(f);
    if (!buf)
        return NULL;
    buf[n] = '\0';
    cJSON *o = cJSON_Parse(buf);
    free(buf);
    if (!cJSON_IsObject(o)) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

static cgalr_status_t set(cgalr_run_status_t *s, cgalr_run_state_t state, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static cgalr_status_t set(cgalr_run_status_t *s, cgalr_run_state_t state, const char *fmt, ...)
{
    s->state = state;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->why, sizeof s->why, fmt, ap);
    va_end(ap);
    return CGALR_OK;
}

const char *cgalr_run_state_name(cgalr_run_state_t s)
{
    switch (s) {
    case CGALR_RUN_EMPTY: return "empty";
    case CGALR_RUN_UNFINISHED: return "unfinished";
    case CGALR_RUN_FINISHED: return "finished";
    case CGALR_RUN_DAMAGED: return "damaged";
    case CGALR_RUN_BUSY: return "busy";
    }
    return "?";
}

cgalr_status_t cgalr_run_status(const char *dir, cgalr_run_status_t *s)
{
    if (!dir || !s)
        return cgalr_fail(CGALR_EINVAL, "cgalr_run_status: NULL argument");
    memset(s, 0, sizeof *s);
    s->epochs = -1;
    long holder = cgalr_lock_holder(dir, CGALR_RUN_LOCK);
    if (holder != 0 && holder != (long)getpid()) { /* our own lock is not another writer */
        s->holder = holder;
        if (holder > 0)
            return set(s, CGALR_RUN_BUSY, "being written by a running process (pid %ld)", holder);
        return set(s, CGALR_RUN_BUSY, "being written by a running process");
    }
    int has_metrics = present(dir, "metrics.jsonl");
    if (!present(dir, "config.json")) {
        if (has_metrics || present(dir, "checkpoint.bin") || present(dir, "summary.json"))
            return set(s, CGALR_RUN_DAMAGED, "holds metrics, a checkpoint or a summary but no config.json");
        return set(s, CGALR_RUN_EMPTY, "no run yet");
    }
    cJSON *cfg = report_read_object(dir, "config.json");
    const cJSON *ep = cJSON_GetObjectItemCaseSensitive(cfg, "epochs");
    if (!cJSON_IsNumber(ep) || ep->valuedouble < 1) {
        cJSON_Delete(cfg);
        return set(s, CGALR_RUN_DAMAGED, "config.json is not a JSON object with a number of epochs");
    }
    s->epochs = (long)ep->valuedouble;
    cJSON_Delete(cfg);

    cJSON *sum = report_read_object(dir, "summary.json");
    s->has_summary = present(dir, "summary.json");
    int says_finished = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(sum, "finished"));
    cJSON_Delete(sum);
    if (s->has_summary && !says_finished)
        return set(s, CGALR_RUN_DAMAGED, "summary.json is unreadable or does not say finished");

    if (!has_metrics) {
        if (says_finished)
            return set(s, CGALR_RUN_DAMAGED, "summary.json says finished but metrics.jsonl is missing");
        return set(s, CGALR_RUN_UNFINISHED, "0 of %ld epochs", s->epochs);
    }
    char p[4200];
    snprintf(p, sizeof p, "%s/metrics.jsonl", dir);
    cgalr_metrics_t m;
    int torn_tail = 0;
    if (cgalr_metrics_read(p, 0, &m) != CGALR_OK) {
        char strict_why[512];
        snprintf(strict_why, sizeof strict_why, "%s", cgalr_last_error());
        if (cgalr_metrics_read(p, 1, &m) != CGALR_OK)
            return set(s, CGALR_RUN_DAMAGED, "%s", strict_why);
        torn_tail = 1; /* a run killed while writing a line: resume drops it */
    }
    s->epochs_logged = (long)m.n;
    s->diverged = m.diverged;
    cgalr_metrics_free(&m);
    if (s->epochs_logged > s->epochs)
        return set(s, CGALR_RUN_DAMAGED, "metrics.jsonl holds %ld epochs, config.json says %ld", s->epochs_logged,
                   s->epochs);
    int complete = !torn_tail && (s->diverged || s->epochs_logged == s->epochs);
    if (complete)
        return set(s, CGALR_RUN_FINISHED, s->diverged ? "diverged after %ld of %ld epochs" : "%ld of %ld epochs",
                   s->epochs_logged, s->epochs);
    if (says_finished)
        return set(s, CGALR_RUN_DAMAGED, "summary.json says finished but metrics.jsonl holds %ld of %ld epochs%s",
                   s->epochs_logged, s->epochs, torn_tail ? " and a partly written line" : "");
    return set(s, CGALR_RUN_UNFINISHED, "%ld of %ld epochs%s", s->epochs_logged, s->epochs,
               torn_tail ? " (and a partly written line)" : "");
}
