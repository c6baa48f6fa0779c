/* inline and stream, the connectome sources fed by the training forward (see probe.h): the hook
 * pools only the rows it needs (inline: the probe samples of the batch; stream: every row) in the
 * thread that ran the forward, right after the probe layer, so no layer output is ever copied
 * whole. */
#include "train/probe.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cgalr/topo.h"
#include "core/clock.h"

static const char *const mode_names[] = {"pass", "inline", "stream"};

int tprobe_mode_parse(const char *name)
{
    if (!name || !*name)
        return TPROBE_INLINE;
    for (int i = 0; i < 3; i++)
        if (!strcmp(name, mode_names[i]))
            return i;
    return -1;
}

const char *tprobe_mode_name(int mode)
{
    return mode >= 0 && mode < 3 ? mode_names[mode] : "?";
}

struct tprobe {
    int mode;
    cgalr_model_t *model;
    size_t p;
    /* inline: the probe set's rows as last seen in a training forward, in probe order, so the
     * connectome is taken over the same N samples in the same order as `pass` */
    size_t n;
    int32_t *slot;        /* training index -> probe position, -1 if not a probe sample */
    size_t ntrain;
    float *store;         /* n x p */
    unsigned char *seen;  /* n: has passed through a training forward */
    size_t n_seen;
    /* stream: the period's rows; inline with sliding: the stored rows' statistics, valid once
     * `built` (every probe row seen and added), then moved by one replacement per new row */
    cgalr_connectome_acc_t *acc;
    int sliding, built;
    /* inline: no probe row has been replaced since the connectome last handed out (see
     * tprobe_unchanged); cleared by every replacement and by a load */
    int same;
    /* data-parallel: the hook keeps a batch's rows (pos, pooled: `pending` of them) for
     * tprobe_apply, after every rank's rows have been gathered */
    int deferred;
    size_t pending;
    /* per batch */
    const size_t *index;
    size_t index_n;
    int armed;
    size_t *rows;         /* batch rows wanted / their probe positions */
    size_t *pos;
    float *pooled;
    size_t cap;
    double seconds;
};

static cgalr_status_t grow(tprobe_t *t, size_t rows)
{
    if (rows <= t->cap)
        return CGALR_OK;
    float *pl = realloc(t->pooled, rows * t->p * sizeof *pl);
    if (pl)
        t->pooled = pl;
    size_t *r = realloc(t->rows, rows * sizeof *r);
    if (r)
        t->rows = r;
    size_t *q = realloc(t->pos, rows * sizeof *q);
    if (q)
        t->pos = q;
    if (!pl || !r || !q)
        return cgalr_fail(CGALR_ENOMEM, "probe capture: out of memory for a batch of %zu rows", rows);
    t->cap = rows;
    return CGALR_OK;
}

/* inline: rows[i] (p floats) becomes the stored row of probe position pos[i], in order */
static void replace_rows(tprobe_t *t, const size_t *pos, const float *rows, size_t k)
{
    if (k > 0)
        t->same = 0;
    for (size_t i = 0; i < k; i++) {
        float *dst = t->store + pos[i] * t->p;
        if (t->built && cgalr_topo_acc_replace_f(t->acc, dst, rows + i * t->p) != CGALR_OK)
            t->built = 0; /* a non-finite row: the rebuild at the step meets and reports it, as
                             the dense form would, and the guard takes over from there */
        memcpy(dst, rows + i * t->p, t->p * sizeof(float));
        t->n_seen += !t->seen[pos[i]];
        t->seen[pos[i]] = 1;
    }
}

static cgalr_status_t hook(void *user, cgalr_model_t *m, size_t rows)
{
    tprobe_t *t = user;
    if (!t->armed)
        return CGALR_OK;
    double t0 = core_now();
    cgalr_status_t st = CGALR_OK;
    if (rows != t->index_n)
        st = cgalr_fail(CGALR_EINTERNAL, "probe capture: batch of %zu rows, %zu sample indices", rows, t->index_n);
    if (st == CGALR_OK)
        st = grow(t, rows);
    if (st == CGALR_OK && t->mode == TPROBE_STREAM) {
        st = cgalr_model_pool_probe(m, NULL, rows, t->pooled);
        if (st == CGALR_OK && t->deferred)
            t->pending = rows;
        else if (st == CGALR_OK)
            st = cgalr_topo_acc_add_f(t->acc, t->pooled, rows);
    } else if (st == CGALR_OK) {
        size_t k = 0;
        for (size_t i = 0; i < rows; i++) {
            size_t s = t->index[i];
            if (s < t->ntrain && t->slot[s] >= 0) {
                t->rows[k] = i;
                t->pos[k++] = (size_t)t->slot[s];
            }
        }
        if (k > 0)
            st = cgalr_model_pool_probe(m, t->rows, k, t->pooled);
        if (st == CGALR_OK && t->deferred)
            t->pending = k;
        else if (st == CGALR_OK)
            replace_rows(t, t->pos, t->pooled, k);
    }
    t->seconds += core_now() - t0;
    return st;
}

cgalr_status_t tprobe_create(int mode, cgalr_model_t *m, const char *spec, size_t p, const size_t *idx, size_t n,
                             size_t ntrain, int sliding, tprobe_t **out)
{
    *out = NULL;
    if (mode != TPROBE_INLINE && mode != TPROBE_STREAM)
        return cgalr_fail(CGALR_EINTERNAL, "probe capture: mode %d has no training-forward source", mode);
    tprobe_t *t = calloc(1, sizeof *t);
    if (!t)
        return cgalr_fail(CGALR_ENOMEM, "probe capture: out of memory");
    t->mode = mode;
    t->model = m;
    t->p = p;
    t->sliding = mode == TPROBE_INLINE && sliding;
    cgalr_status_t st = CGALR_OK;
    if (mode == TPROBE_STREAM || t->sliding)
        st = cgalr_topo_acc_create(p, &t->acc);
    if (st == CGALR_OK && mode == TPROBE_INLINE) {
        t->n = n;
        t->ntrain = ntrain;
        t->slot = malloc(ntrain * sizeof *t->slot);
        t->store = calloc(n * p, sizeof *t->store);
        t->seen = calloc(n, 1);
        if (!t->slot || !t->store || !t->seen) {
            st = cgalr_fail(CGALR_ENOMEM, "probe capture: out of memory for %zu x %zu probe rows", n, p);
        } else {
            for (size_t i = 0; i < ntrain; i++)
                t->slot[i] = -1;
            for (size_t k = 0; k < n; k++) {
                if (idx[k] >= ntrain || t->slot[idx[k]] >= 0) {
                    st = cgalr_fail(CGALR_EINTERNAL, "probe capture: probe sample %zu is %zu (repeated or outside "
                                                     "the %zu training samples)", k, idx[k], ntrain);
                    break;
                }
                t->slot[idx[k]] = (int32_t)k;
            }
        }
    }
    if (st == CGALR_OK)
        st = cgalr_model_set_train_capture(m, spec, hook, t);
    if (st != CGALR_OK) {
        tprobe_free(t);
        return st;
    }
    *out = t;
    return CGALR_OK;
}

void tprobe_free(tprobe_t *t)
{
    if (!t)
        return;
    cgalr_model_set_train_capture(t->model, NULL, NULL, NULL);
    cgalr_topo_acc_free(t->acc);
    free(t->slot);
    free(t->store);
    free(t->seen);
    free(t->rows);
    free(t->pos);
    free(t->pooled);
    free(t);
}

void tprobe_arm(tprobe_t *t, const size_t *index, size_t n)
{
    t->index = index;
    t->index_n = n;
    t->armed = 1;
    t->pending = 0;
}

void tprobe_disarm(tprobe_t *t)
{
    t->armed = 0;
    t->index = NULL;
    t->index_n = 0;
}

double tprobe_take_seconds(tprobe_t *t)
{
    double s = t->seconds;
    t->seconds = 0;
    return s;
}

cgalr_status_t tprobe_connectome(tprobe_t *t, double *out, int *ready)
{
    *ready = 0;
    if (t->mode == TPROBE_STREAM) {
        if (cgalr_topo_acc_rows(t->acc) < 2)
            return CGALR_OK;
        cgalr_status_t st = cgalr_topo_acc_finish(t->acc, out);
        if (st != CGALR_OK)
            return st;
        cgalr_topo_acc_reset(t->acc);
        *ready = 1;
        return CGALR_OK;
    }
    if (t->n_seen < t->n)
        return CGALR_OK;
    cgalr_status_t st;
    if (t->sliding) {
        /* (re)built from the stored rows when first complete and whenever replacements may have
         * cost precision (cgalr_topo_acc_stale: at the latest after n of them, about an epoch) */
        if (!t->built || cgalr_topo_acc_stale(t->acc)) {
            cgalr_topo_acc_reset(t->acc);
            st = cgalr_topo_acc_add_f(t->acc, t->store, t->n);
            t->built = st == CGALR_OK;
            if (st != CGALR_OK)
                return st;
        }
        st = cgalr_topo_acc_finish(t->acc, out);
    } else {
        /* the same function on the same rows in the same order as `pass` */
        st = cgalr_topo_connectome_f(t->store, t->n, t->p, out);
    }
    *ready = st == CGALR_OK;
    t->same = *ready;
    return st;
}

void tprobe_defer(tprobe_t *t)
{
    t->deferred = 1;
}

size_t tprobe_pending(tprobe_t *t, const size_t **pos, const float **rows)
{
    size_t k = t->pending;
    *pos = t->mode == TPROBE_STREAM ? NULL : t->pos;
    *rows = t->pooled;
    t->pending = 0;
    return k;
}

cgalr_status_t tprobe_apply(tprobe_t *t, const size_t *pos, const float *rows, size_t k)
{
    double t0 = core_now();
    cgalr_status_t st = CGALR_OK;
    if (t->mode == TPROBE_STREAM) {
        if (k > 0)
            st = cgalr_topo_acc_add_f(t->acc, rows, k);
    } else {
        for (size_t i = 0; i < k; i++)
            if (pos[i] >= t->n)
                return cgalr_fail(CGALR_EINTERNAL, "probe capture: gathered row %zu for probe position %zu of %zu",
                                  i, pos[i], t->n);
        replace_rows(t, pos, rows, k);
    }
    t->seconds += core_now() - t0;
    return st;
}

int tprobe_unchanged(const tprobe_t *t)
{
    /* a step that would rebuild the statistics from the stored rows (stale) still runs: the
     * rebuild moves the connectome by rounding, and skipping it would change later steps */
    return t->mode == TPROBE_INLINE && t->same && !(t->sliding && t->built && cgalr_topo_acc_stale(t->acc));
}

/* ---- state: magic, mode, p, n, then stream: the accumulator's bytes; inline: n_seen, seen (n
 * bytes), store (n x p floats), and with sliding: built (1 byte) and the accumulator's bytes */
#define PROBE_MAGIC 0x42504743u /* "CGPB" */

typedef struct {
    uint32_t magic, mode;
    uint64_t p, n, n_seen, body;
} probe_hdr_t;

cgalr_status_t tprobe_save(const tprobe_t *t, void **buf, size_t *size)
{
    *buf = NULL;
    *size = 0;
    probe_hdr_t h = {PROBE_MAGIC, (uint32_t)t->mode, t->p, t->n, t->n_seen, 0};
    size_t body = 0, accb = 0, rows = t->n + t->n * t->p * sizeof(float);
    cgalr_status_t st = CGALR_OK;
    if (t->acc)
        st = cgalr_topo_acc_save(t->acc, NULL, &accb);
    if (st != CGALR_OK)
        return st;
    body = t->mode == TPROBE_STREAM ? accb : t->sliding ? rows + 1 + accb : rows;
    h.body = body;
    unsigned char *b = malloc(sizeof h + body);
    if (!b)
        return cgalr_fail(CGALR_ENOMEM, "probe capture: out of memory for its %zu-byte state", body);
    memcpy(b, &h, sizeof h);
    if (t->mode == TPROBE_STREAM) {
        st = cgalr_topo_acc_save(t->acc, b + sizeof h, &accb);
    } else {
        memcpy(b + sizeof h, t->seen, t->n);
        memcpy(b + sizeof h + t->n, t->store, t->n * t->p * sizeof(float));
        if (t->sliding) {
            b[sizeof h + rows] = (unsigned char)t->built;
            st = cgalr_topo_acc_save(t->acc, b + sizeof h + rows + 1, &accb);
        }
    }
    if (st != CGALR_OK) {
        free(b);
        return st;
    }
    *buf = b;
    *size = sizeof h + body;
    return CGALR_OK;
}

cgalr_status_t tprobe_load(tprobe_t *t, const void *buf, size_t size)
{
    probe_hdr_t h;
    if (!buf || size < sizeof h)
        return cgalr_fail(CGALR_EFORMAT, "checkpoint: probe-capture state missing or truncated (%zu bytes)", size);
    memcpy(&h, buf, sizeof h);
    if (h.magic != PROBE_MAGIC || h.body != size - sizeof h)
        return cgalr_fail(CGALR_EFORMAT, "checkpoint: probe-capture state is corrupt");
    if (h.mode != (uint32_t)t->mode || h.p != t->p || h.n != t->n)
        return cgalr_fail(CGALR_ESTATE, "checkpoint: probe-capture state of mode %s, %llu signals, %llu samples; "
                                        "this run has %s, %zu, %zu",
                          tprobe_mode_name((int)h.mode), (unsigned long long)h.p, (unsigned long long)h.n,
                          tprobe_mode_name(t->mode), t->p, t->n);
    const unsigned char *body = (const unsigned char *)buf + sizeof h;
    if (t->mode == TPROBE_STREAM)
        return cgalr_topo_acc_load(t->acc, body, (size_t)h.body);
    size_t rows = t->n + t->n * t->p * sizeof(float);
    if ((t->sliding ? h.body <= rows + 1 : h.body != rows) || h.n_seen > t->n)
        return cgalr_fail(CGALR_EFORMAT, "checkpoint: probe-capture state has the wrong size");
    if (t->sliding && body[rows] > 1)
        return cgalr_fail(CGALR_EFORMAT, "checkpoint: probe-capture state is corrupt (built flag %u)", body[rows]);
    size_t seen = 0;
    for (size_t i = 0; i < t->n; i++) {
        if (body[i] > 1)
            return cgalr_fail(CGALR_EFORMAT, "checkpoint: probe-capture state is corrupt (seen flag %zu)", i);
        seen += body[i];
    }
    if (seen != h.n_seen)
        return cgalr_fail(CGALR_EFORMAT, "checkpoint: probe-capture state is corrupt (%zu seen, header says %llu)",
                          seen, (unsigned long long)h.n_seen);
    if (t->sliding) { /* validated whole before it is taken: a failure changes nothing */
        cgalr_status_t st = cgalr_topo_acc_load(t->acc, body + rows + 1, (size_t)h.body - rows - 1);
        if (st != CGALR_OK)
            return st;
        t->built = body[rows];
    }
    memcpy(t->seen, body, t->n);
    memcpy(t->store, body + t->n, t->n * t->p * sizeof(float));
    t->n_seen = seen;
    t->same = 0;
    t->pending = 0;
    return CGALR_OK;
}
