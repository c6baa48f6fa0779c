/* What a run keeps on disk as it goes: metrics lines appended under the checkpoint's offset, the
 * end-of-epoch checkpoint (nn state, loop state, scheduler and capture blobs) and the summary;
 * data parallel, rank 0 alone writes. */
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

cgalr_status_t train_append_line(ctx *c, const char *line, int64_t *off)
{
    size_t n = strlen(line);
    if (c->rank != 0) { /* data parallel: rank 0 writes the run's files */
        *off += (int64_t)(n + 1);
        return CGALR_OK;
    }
    char *buf = malloc(n + 1);
    if (!buf)
        return cgalr_fail(CGALR_ENOMEM, "metrics: out of memory");
    memcpy(buf, line, n);
    buf[n] = '\n';
    size_t done = 0;
    while (done < n + 1) {
        ssize_t w = write(c->metrics_fd, buf + done, n + 1 - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            int e = errno;
            free(buf);
            /* leave the file as it was: the checkpoint still points before this line */
            if (ftruncate(c->metrics_fd, (off_t)*off) != 0) {
            }
            return cgalr_fail(CGALR_EIO, "%s: write failed: %s", c->path_metrics, strerror(w < 0 ? e : ENOSPC));
        }
        done += (size_t)w;
    }
    free(buf);
    *off += (int64_t)(n + 1);
    return CGALR_OK;
}

/* The scheduler's state as a malloc'd blob (checkpoints, and the guard's last good state). */
cgalr_status_t train_sched_state(const ctx *c, void **buf, size_t *size)
{
    *buf = NULL;
    *size = 0;
    size_t need = 0;
    cgalr_status_t st = cgalr_sched_save(c->sched, NULL, &need);
    if (st != CGALR_OK)
        return st;
    void *b = malloc(need ? need : 1);
    if (!b)
        return cgalr_fail(CGALR_ENOMEM, "scheduler state: out of memory");
    if ((st = cgalr_sched_save(c->sched, b, &need)) != CGALR_OK) {
        free(b);
        return st;
    }
    *buf = b;
    *size = need;
    return CGALR_OK;
}

cgalr_status_t train_save_checkpoint(ctx *c, const loop_state_t *ls_in)
{
    if (c->rank != 0)
        return CGALR_OK;
    void *sb = NULL;
    size_t ss = 0;
    cgalr_status_t st = train_sched_state(c, &sb, &ss);
    if (st != CGALR_OK)
        return st;
    void *pb = NULL;
    size_t ps = 0;
    if (c->tp && (st = train_save_probe_timed(c, &pb, &ps)) != CGALR_OK) {
        free(sb);
        return st;
    }
    loop_state_t ls = *ls_in;
    ls.sched_size = ss;
    unsigned char *blob = malloc(sizeof ls + ss + ps);
    if (!blob) {
        free(sb);
        free(pb);
        return cgalr_fail(CGALR_ENOMEM, "checkpoint: out of memory");
    }
    memcpy(blob, &ls, sizeof ls);
    memcpy(blob + sizeof ls, sb, ss);
    if (ps)
        memcpy(blob + sizeof ls + ss, pb, ps);
    free(sb);
    free(pb);
    /* Schedule-Free: the checkpoint's model is x, the point evaluated and kept; y comes back
     * from the scheduler state on load (cgalr_sched_train_params) */
    size_t np = cgalr_model_num_params(c->model), nx = 0;
    const float *x = cgalr_sched_eval_params(c->sched, &nx);
    float *p = cgalr_model_params(c->model);
    if (x && nx == np) {
        if (!c->swap && !(c->swap = malloc(np * sizeof *c->swap))) {
            free(blob);
            return cgalr_fail(CGALR_ENOMEM, "checkpoint: out of memory");
        }
        memcpy(c->swap, p, np * sizeof *p);
        memcpy(p, x, np * sizeof *p);
    }
    st = cgalr_nn_save(c->path_ckpt, c->model, c->opt, blob, sizeof ls + ss + ps);
    if (x && nx == np)
        memcpy(p, c->swap, np * sizeof *p);
    free(blob);
    return st;
}

cgalr_status_t train_load_checkpoint(ctx *c, loop_state_t *ls)
{
    void *extra = NULL;
    size_t size = 0;
    cgalr_status_t st = cgalr_nn_load(c->path_ckpt, c->model, c->opt, &extra, &size);
    if (st != CGALR_OK)
        return st;
    if (!extra || size < sizeof *ls) {
        free(extra);
        return cgalr_fail(CGALR_EFORMAT, "%s: no training-loop state in the checkpoint", c->path_ckpt);
    }
    memcpy(ls, extra, sizeof *ls);
    /* version 1 (before the probe modes) is a version 2 without capture state */
    size_t rest = size - sizeof *ls;
    if (ls->magic != LOOP_MAGIC || (ls->version != LOOP_VERSION && ls->version != 1u) || ls->sched_size > rest ||
        (ls->version == 1u && ls->sched_size != rest) || ls->epochs_done < 0 || ls->epochs_done > c->cfg->epochs ||
        ls->metrics_off < 0 || ls->iteration < 0) {
        free(extra);
        return cgalr_fail(CGALR_EFORMAT, "%s: training-loop state is corrupt or from another version", c->path_ckpt);
    }
    size_t probe_size = rest - (size_t)ls->sched_size;
    if (!c->tp != !probe_size) {
        free(extra);
        return cgalr_fail(CGALR_ESTATE, "%s: the checkpoint %s probe-capture state, but this run's --probe-mode is %s",
                          c->path_ckpt, probe_size ? "holds" : "has no", tprobe_mode_name(c->probe_mode));
    }
    st = cgalr_sched_load(c->sched, (unsigned char *)extra + sizeof *ls, (size_t)ls->sched_size);
    if (st == CGALR_OK && c->tp)
        st = tprobe_load(c->tp, (unsigned char *)extra + sizeof *ls + ls->sched_size, probe_size);
    free(extra);
    if (st == CGALR_OK) /* Schedule-Free saved x as the model: train on from y */
        st = cgalr_sched_train_params(c->sched, cgalr_model_params(c->model), cgalr_model_num_params(c->model));
    return st;
}

void train_fill_summary(cgalr_train_summary_t *s, const loop_state_t *ls, const ctx *c)
{
    s->epochs_done = ls->epochs_done;
    s->best_val_acc = ls->best_val_acc;
    s->final_test_acc = ls->final_test_acc;
    s->final_val_loss = ls->final_val_loss;
    s->seconds = ls->seconds;
    s->ctrl_seconds = ls->ctrl_seconds;
    s->ctrl_share = ls->seconds > 0 ? ls->ctrl_seconds / ls->seconds : 0;
    s->epoch_seconds = ls->epochs_done > 0 ? ls->epoch_seconds_sum / (double)ls->epochs_done : NAN;
    s->params = c->model ? cgalr_model_num_params(c->model) : 0;
    s->probe_n = c->probe_n;
    if (c->probe_mode == TPROBE_STREAM && c->ld_train) {
        size_t rows = cgalr_loader_size(c->ld_train);
        if (c->cfg->ctrl_every > 0 && (double)c->cfg->ctrl_every * (double)c->cfg->batch < (double)rows)
            rows = (size_t)c->cfg->ctrl_every * c->cfg->batch;
        s->probe_n = rows;
    }
    s->probe_p = c->probe_p;
    for (int k = 0; k < 3 && c->info; k++)
        s->samples[k] = c->info->samples[k];
    s->guard_events = ls->guard_events;
}

/* metrics.jsonl for appending, cut back to what the checkpoint (ls) says was logged: whatever
 * a killed run wrote after its last checkpoint goes; a file shorter than the checkpoint says is
 * not this run's (extending it would write zeros into it). Data parallel: rank 0's alone. */
cgalr_status_t train_open_metrics(ctx *c, const loop_state_t *ls)
{
    if (c->rank != 0)
        return CGALR_OK;
    c->metrics_fd = open(c->path_metrics, O_WRONLY | O_CREAT, 0644);
    if (c->metrics_fd < 0)
        return cgalr_fail(CGALR_EIO, "%s: cannot open: %s", c->path_metrics, strerror(errno));
    struct stat mst;
    if (fstat(c->metrics_fd, &mst) != 0 || (int64_t)mst.st_size < ls->metrics_off)
        return cgalr_fail(CGALR_ESTATE, "%s: %lld bytes, but the checkpoint was taken after %lld: the metrics file was "
                                        "changed; remove the run directory and start again",
                          c->path_metrics, (long long)mst.st_size, (long long)ls->metrics_off);
    if (ftruncate(c->metrics_fd, (off_t)ls->metrics_off) != 0 || lseek(c->metrics_fd, 0, SEEK_END) < 0)
        return cgalr_fail(CGALR_EIO, "%s: cannot truncate: %s", c->path_metrics, strerror(errno));
    return CGALR_OK;
}

cgalr_status_t train_write_run_summary(const ctx *c, const cgalr_train_summary_t *sum)
{
    return c->rank == 0 ? train_write_summary(c->path_summary, sum) : CGALR_OK;
}
