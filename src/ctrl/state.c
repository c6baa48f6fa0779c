/* Save and restore of the complete scheduler state in a byte buffer (for checkpoints), so a
 * resumed run continues exactly. Little-endian (core/bytes.h); a magic number, a version, a
 * configuration fingerprint and an FNV-1a checksum guard every load, and everything read is
 * range-checked before it is used. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ctrl/sched_internal.h"
#include "core/bytes.h"
#include "core/hash.h"

#define STATE_MAGIC 0x43475343u /* "CSGC" read little-endian; a byte-swapped read fails */
#define STATE_VERSION 3u /* 2: the adaptive methods' scalars and arrays; 3: the envelope clock */
/* Counters far beyond any run, so a corrupt state can never make an increment overflow. */
#define MAX_COUNT ((int64_t)1 << 50)

/* n floats (the caller checked they fit in what is left), every one finite: the index of the
 * first one that is not, n when all are. */
static size_t get_finite_f32s(core_rd_t *r, float *dst, size_t n)
{
    core_get_f32s(r, dst, n);
    for (size_t i = 0; i < n; i++)
        if (!isfinite(dst[i]))
            return i;
    return n;
}

/* The configuration values that must agree for a saved state to mean the same thing. */
static void put_fingerprint(core_wr_t *w, const cgalr_sched_config_t *c)
{
    core_put_u32(w, (uint32_t)c->method);
    core_put_u32(w, (uint32_t)c->window);
    core_put_u32(w, (uint32_t)c->score);
    core_put_u32(w, (uint32_t)c->topo.kind);
    core_put_f64(w, c->eta0);
    core_put_f64(w, c->rho_min);
    core_put_f64(w, c->rho_max);
}

static void put_trace(core_wr_t *w, const cgalr_sched_trace_t *t)
{
    core_put_i64(w, t->t);
    core_put_f64(w, t->progress);
    core_put_f64(w, t->d);
    core_put_f64(w, t->median);
    core_put_f64(w, t->mad);
    core_put_f64(w, t->z);
    core_put_u32(w, (uint32_t)t->state);
    core_put_u32(w, t->flags);
    core_put_f64(w, t->rho);
    core_put_f64(w, t->eta);
    core_put_u64(w, t->history);
}

static cgalr_status_t write_state(const cgalr_sched_t *s, core_wr_t *w)
{
    size_t prev_size = 0;
    cgalr_status_t st = ctrl_prev_save_size(s, &prev_size);
    if (st != CGALR_OK)
        return st;
    core_put_u32(w, STATE_MAGIC);
    core_put_u32(w, STATE_VERSION);
    put_fingerprint(w, &s->cfg);
    /* controller */
    core_put_i64(w, s->t);
    core_put_u32(w, (uint32_t)s->gate);
    core_put_u32(w, (uint32_t)s->retries);
    core_put_f64(w, s->rho);
    core_put_u64(w, s->hist_n);
    for (size_t i = 0; i < s->hist_n; i++)
        core_put_f64(w, s->hist[i]);
    put_trace(w, &s->last);
    core_put_f64(w, s->clock);
    core_put_f64(w, s->clock_at);
    /* plateau */
    core_put_f64(w, s->plat_lr);
    core_put_f64(w, s->plat_best);
    core_put_i64(w, s->plat_bad);
    core_put_i64(w, s->last_epoch);
    /* dog */
    core_put_u64(w, s->dog_n);
    core_put_f64(w, s->dog.r);
    core_put_f64(w, s->dog.G);
    core_put_f64(w, s->dog.eta);
    core_put_i64(w, s->dog.steps);
    core_put_i64(w, s->dog.avg_t);
    if (s->dog_n) {
        core_put_f32s(w, s->dog_x0, s->dog_n);
        core_put_f32s(w, s->dog_avg, s->dog_n);
    }
    /* methods that own the update */
    core_put_i64(w, s->ad.k);
    core_put_f64(w, s->ad.d);
    core_put_f64(w, s->ad.r);
    core_put_f64(w, s->ad.g0_norm);
    core_put_f64(w, s->ad.lr_max);
    core_put_f64(w, s->ad.weight_sum);
    core_put_f64(w, s->ad.last_lr);
    core_put_u64(w, s->ad_n);
    if (s->ad_n)
        core_put_f32s(w, s->ad_arr, cgalr_adapt_arrays(s->cfg.method) * s->ad_n);
    /* previous topology summary */
    core_put_u32(w, (uint32_t)s->have_prev);
    core_put_u64(w, s->prev_p);
    core_put_u64(w, prev_size);
    if (prev_size) {
        if (w->buf && w->pos + prev_size <= w->cap) {
            st = ctrl_prev_save(s, w->buf + w->pos, prev_size);
            if (st != CGALR_OK)
                return st;
        }
        w->pos += prev_size;
    }
    return CGALR_OK;
}

cgalr_status_t cgalr_sched_save(const cgalr_sched_t *s, void *buf, size_t *size)
{
    if (!s || !size)
        return cgalr_fail(CGALR_EINVAL, "scheduler save: NULL scheduler or size");
    core_wr_t count = {NULL, 0, 0};
    cgalr_status_t st = write_state(s, &count);
    if (st != CGALR_OK)
        return st;
    size_t need = count.pos + sizeof(uint64_t);
    if (!buf) {
        *size = need;
        return CGALR_OK;
    }
    if (*size < need)
        return cgalr_fail(CGALR_EINVAL, "scheduler save: buffer of %zu bytes, need %zu", *size, need);
    core_wr_t w = {buf, need, 0};
    st = write_state(s, &w);
    if (st != CGALR_OK)
        return st;
    core_put_u64(&w, core_fnv1a(CORE_FNV_BASIS, buf, count.pos));
    *size = need;
    return CGALR_OK;
}

/* A saved state, read and checked in full before any of it reaches the scheduler. */
typedef struct loaded {
    int64_t t;
    uint32_t gate, retries;
    double rho;
    uint64_t hist_n;
    double *hist;
    cgalr_sched_trace_t last;
    double clock, clock_at;
    double plat_lr, plat_best;
    int64_t plat_bad, last_epoch;
    uint64_t dog_n;
    double dog_r, dog_G, dog_eta;
    int64_t dog_steps, dog_avg_t;
    float *x0, *avg;
    cgalr_adapt_state_t ad;
    uint64_t ad_n;
    float *ad_arr;
    uint32_t have_prev;
    uint64_t prev_p;
    cgalr_topo_summary_t prev;
    int have_summary;
} loaded_t;

static void loaded_free(loaded_t *l)
{
    free(l->ad_arr);
    free(l->hist);
    free(l->x0);
    free(l->avg);
    if (l->have_summary)
        ctrl_summary_free(&l->prev);
}

/* magic, version, checksum (over everything before it) */
static cgalr_status_t load_envelope(core_rd_t *r, const void *buf, size_t size, uint32_t *version_out)
{
    const size_t min_size = 2 * sizeof(uint32_t) + sizeof(uint64_t);
    if (size < min_size)
        return cgalr_fail(CGALR_EFORMAT, "scheduler state: %zu bytes, too short (at least %zu)", size, min_size);
    core_rd_t tail = {(const unsigned char *)buf + size - sizeof(uint64_t), sizeof(uint64_t), 0, 0};
    uint64_t sum = core_get_u64(&tail);
    *r = (core_rd_t){buf, size - sizeof sum, 0, 0};
    if (core_get_u32(r) != STATE_MAGIC)
        return cgalr_fail(CGALR_EFORMAT, "scheduler state: bad magic (not a cgalr scheduler state)");
    uint32_t version = core_get_u32(r);
    /* version 2 (before the envelope clock) still loads: its runs had calm_clock = 1, where the
     * clock is the progress itself and is not read */
    if (version != STATE_VERSION && version != 2)
        return cgalr_fail(CGALR_EFORMAT, "scheduler state: version %u, expected 2 or %u", version, STATE_VERSION);
    *version_out = version;
    if (core_fnv1a(CORE_FNV_BASIS, buf, size - sizeof sum) != sum)
        return cgalr_fail(CGALR_EFORMAT, "scheduler state: checksum mismatch (%zu bytes, truncated or corrupt)", size);
    return CGALR_OK;
}

/* the configuration the state was saved under must be this scheduler's */
static cgalr_status_t load_fingerprint(core_rd_t *r, const cgalr_sched_config_t *c)
{
    uint32_t method = core_get_u32(r), window = core_get_u32(r), score = core_get_u32(r), kind = core_get_u32(r);
    double eta0 = core_get_f64(r), rho_min = core_get_f64(r), rho_max = core_get_f64(r);
    if (r->bad)
        return cgalr_fail(CGALR_EFORMAT, "scheduler state: truncated in the header");
    if (method != (uint32_t)c->method || window != (uint32_t)c->window || score != (uint32_t)c->score ||
        kind != (uint32_t)c->topo.kind || eta0 != c->eta0 || rho_min != c->rho_min || rho_max != c->rho_max)
        return cgalr_fail(CGALR_ESTATE,
                          "scheduler state was saved for method %s (K=%u, score=%u, lr=%g, rho in [%g, %g]); this "
                          "scheduler is %s (K=%d, score=%d, lr=%g, rho in [%g, %g])",
                          cgalr_method_name((cgalr_method_t)(method < CGALR_METHOD_COUNT ? method : CGALR_METHOD_COUNT)),
                          window, score, eta0, rho_min, rho_max, cgalr_method_name(c->method), c->window,
                          (int)c->score, c->eta0, c->rho_min, c->rho_max);
    return CGALR_OK;
}

/* the controller: step, gate, rho, the distance history and the last trace */
static cgalr_status_t load_controller(core_rd_t *r, const cgalr_sched_config_t *c, uint32_t version, loaded_t *l)
{
    l->t = core_get_i64(r);
    l->gate = core_get_u32(r);
    l->retries = core_get_u32(r);
    l->rho = core_get_f64(r);
    l->hist_n = core_get_u64(r);
    if (r->bad)
        return cgalr_fail(CGALR_EFORMAT, "scheduler state: truncated in the controller");
    if (l->t < 0 || l->t > MAX_COUNT || l->gate > CGALR_GATE_ACCEL || l->retries > 1000000u ||
        !(l->rho >= c->rho_min && l->rho <= c->rho_max) || l->hist_n > (uint64_t)c->window)
        return cgalr_fail(CGALR_EFORMAT,
                          "scheduler state: controller fields out of range (t=%lld, gate=%u, retries=%u, rho=%g in "
                          "[%g, %g], |H|=%llu <= K=%d expected)",
                          (long long)l->t, l->gate, l->retries, l->rho, c->rho_min, c->rho_max,
                          (unsigned long long)l->hist_n, c->window);
    l->hist = calloc((size_t)c->window, sizeof *l->hist);
    if (!l->hist)
        return cgalr_fail(CGALR_ENOMEM, "scheduler load: out of memory");
    for (uint64_t i = 0; i < l->hist_n; i++) {
        l->hist[i] = core_get_f64(r);
        if (!isfinite(l->hist[i]))
            return cgalr_fail(CGALR_EFORMAT, "scheduler state: history value %llu = %g is not finite",
                              (unsigned long long)i, l->hist[i]);
    }
    cgalr_sched_trace_t *last = &l->last;
    last->t = core_get_i64(r);
    last->progress = core_get_f64(r);
    last->d = core_get_f64(r);
    last->median = core_get_f64(r);
    last->mad = core_get_f64(r);
    last->z = core_get_f64(r);
    last->state = (cgalr_gate_t)core_get_u32(r);
    last->flags = core_get_u32(r);
    last->rho = core_get_f64(r);
    last->eta = core_get_f64(r);
    last->history = core_get_u64(r);
    if (r->bad)
        return cgalr_fail(CGALR_EFORMAT, "scheduler state: truncated in the trace");
    if ((uint32_t)last->state > CGALR_GATE_ACCEL)
        return cgalr_fail(CGALR_EFORMAT, "scheduler state: trace gate %u out of range", (unsigned)last->state);
    if (version < 3)
        return CGALR_OK;
    l->clock = core_get_f64(r);
    l->clock_at = core_get_f64(r);
    if (r->bad)
        return cgalr_fail(CGALR_EFORMAT, "scheduler state: truncated in the envelope clock");
    /* the clock never runs faster than the progress */
    if (!(l->clock >= 0 && l->clock_at >= 0 && isfinite(l->clock_at) && l->clock <= l->clock_at))
        return cgalr_fail(CGALR_EFORMAT, "scheduler state: envelope clock %g at progress %g; expected 0 <= clock <= "
                          "progress", l->clock, l->clock_at);
    return CGALR_OK;
}

static cgalr_status_t load_plateau(core_rd_t *r, loaded_t *l)
{
    l->plat_lr = core_get_f64(r);
    l->plat_best = core_get_f64(r);
    l->plat_bad = core_get_i64(r);
    l->last_epoch = core_get_i64(r);
    if (r->bad)
        return cgalr_fail(CGALR_EFORMAT, "scheduler state: truncated in the plateau counters");
    if (!isfinite(l->plat_lr) || l->plat_lr < 0 || isnan(l->plat_best) || l->plat_bad < 0 || l->plat_bad > MAX_COUNT ||
        l->last_epoch < -1 || l->last_epoch > MAX_COUNT)
        return cgalr_fail(CGALR_EFORMAT,
                          "scheduler state: plateau fields out of range (lr=%g, best=%g, bad=%lld, epoch=%lld)",
                          l->plat_lr, l->plat_best, (long long)l->plat_bad, (long long)l->last_epoch);
    return CGALR_OK;
}

static cgalr_status_t load_dog(core_rd_t *r, const cgalr_sched_config_t *c, loaded_t *l)
{
    l->dog_n = core_get_u64(r);
    l->dog_r = core_get_f64(r);
    l->dog_G = core_get_f64(r);
    l->dog_eta = core_get_f64(r);
    l->dog_steps = core_get_i64(r);
    l->dog_avg_t = core_get_i64(r);
    if (r->bad)
        return cgalr_fail(CGALR_EFORMAT, "scheduler state: truncated in the DoG sums");
    if (l->dog_n && c->method != CGALR_METHOD_DOG)
        return cgalr_fail(CGALR_EFORMAT, "scheduler state: DoG buffers of %llu parameters for method %s",
                          (unsigned long long)l->dog_n, cgalr_method_name(c->method));
    if (!isfinite(l->dog_r) || l->dog_r < 0 || !isfinite(l->dog_G) || l->dog_G < 0 || !isfinite(l->dog_eta) ||
        l->dog_eta < 0 || l->dog_steps < 0 || l->dog_steps > MAX_COUNT || l->dog_avg_t < 1 ||
        l->dog_avg_t > MAX_COUNT || (l->dog_n && !(l->dog_G > 0)) || !l->dog_n != !l->dog_steps)
        return cgalr_fail(CGALR_EFORMAT,
                          "scheduler state: DoG fields out of range (r=%g, G=%g, eta=%g, steps=%lld, t=%lld)",
                          l->dog_r, l->dog_G, l->dog_eta, (long long)l->dog_steps, (long long)l->dog_avg_t);
    if (!l->dog_n)
        return CGALR_OK;
    /* Sizes are checked against what is left before anything is allocated. */
    if (l->dog_n > core_rd_left(r) / (2 * sizeof(float)))
        return cgalr_fail(CGALR_EFORMAT, "scheduler state: DoG claims %llu parameters, only %zu bytes left",
                          (unsigned long long)l->dog_n, core_rd_left(r));
    l->x0 = malloc((size_t)l->dog_n * sizeof *l->x0);
    l->avg = malloc((size_t)l->dog_n * sizeof *l->avg);
    if (!l->x0 || !l->avg)
        return cgalr_fail(CGALR_ENOMEM, "scheduler load: out of memory for %llu DoG parameters",
                          (unsigned long long)l->dog_n);
    size_t bad = get_finite_f32s(r, l->x0, (size_t)l->dog_n);
    if (bad == (size_t)l->dog_n)
        bad = get_finite_f32s(r, l->avg, (size_t)l->dog_n);
    if (bad < (size_t)l->dog_n)
        return cgalr_fail(CGALR_EFORMAT, "scheduler state: DoG parameter %zu not finite", bad);
    return CGALR_OK;
}

/* prodigy, D-Adaptation, Schedule-Free: scalars, then cgalr_adapt_arrays(method) arrays */
static cgalr_status_t load_adapt(core_rd_t *r, const cgalr_sched_config_t *c, loaded_t *l)
{
    cgalr_adapt_state_t *ad = &l->ad;
    ad->k = (long)core_get_i64(r);
    ad->d = core_get_f64(r);
    ad->r = core_get_f64(r);
    ad->g0_norm = core_get_f64(r);
    ad->lr_max = core_get_f64(r);
    ad->weight_sum = core_get_f64(r);
    ad->last_lr = core_get_f64(r);
    l->ad_n = core_get_u64(r);
    size_t ad_k = cgalr_adapt_arrays(c->method);
    if (r->bad)
        return cgalr_fail(CGALR_EFORMAT, "scheduler state: truncated in the adaptive method's scalars");
    if (ad->k < 0 || ad->k > MAX_COUNT || !isfinite(ad->d) || !(ad->d > 0) || !isfinite(ad->r) ||
        !isfinite(ad->g0_norm) || ad->g0_norm < 0 || !isfinite(ad->lr_max) || ad->lr_max < -1 ||
        !isfinite(ad->weight_sum) || ad->weight_sum < 0 || !isfinite(ad->last_lr) || ad->last_lr < 0 ||
        (l->ad_n && !ad_k) || (ad->k > 0 && ad_k && !l->ad_n))
        return cgalr_fail(CGALR_EFORMAT,
                          "scheduler state: %s fields out of range (k=%ld, d=%g, r=%g, |g0|=%g, lr_max=%g, "
                          "weights=%g, lr=%g, n=%llu)",
                          cgalr_method_name(c->method), ad->k, ad->d, ad->r, ad->g0_norm, ad->lr_max, ad->weight_sum,
                          ad->last_lr, (unsigned long long)l->ad_n);
    if (!l->ad_n)
        return CGALR_OK;
    if (l->ad_n > core_rd_left(r) / (ad_k * sizeof(float)))
        return cgalr_fail(CGALR_EFORMAT, "scheduler state: %s claims %llu parameters, only %zu bytes left",
                          cgalr_method_name(c->method), (unsigned long long)l->ad_n, core_rd_left(r));
    l->ad_arr = malloc(ad_k * (size_t)l->ad_n * sizeof *l->ad_arr);
    if (!l->ad_arr)
        return cgalr_fail(CGALR_ENOMEM, "scheduler load: out of memory for %llu parameters", (unsigned long long)l->ad_n);
    size_t n = ad_k * (size_t)l->ad_n, bad = get_finite_f32s(r, l->ad_arr, n);
    if (bad < n)
        return cgalr_fail(CGALR_EFORMAT, "scheduler state: %s state value %zu not finite",
                          cgalr_method_name(c->method), bad);
    return CGALR_OK;
}

/* the previous connectome's topology summary (the reference of the next distance), then the end */
static cgalr_status_t load_summary(core_rd_t *r, const cgalr_sched_config_t *c, loaded_t *l)
{
    l->have_prev = core_get_u32(r);
    l->prev_p = core_get_u64(r);
    uint64_t prev_size = core_get_u64(r);
    if (r->bad)
        return cgalr_fail(CGALR_EFORMAT, "scheduler state: truncated before the topology summary");
    if (l->have_prev > 1 || (l->have_prev && (prev_size == 0 || l->prev_p < 2)) || (!l->have_prev && prev_size != 0))
        return cgalr_fail(CGALR_EFORMAT, "scheduler state: summary flags inconsistent (have=%u, p=%llu, bytes=%llu)",
                          l->have_prev, (unsigned long long)l->prev_p, (unsigned long long)prev_size);
    if (prev_size > core_rd_left(r))
        return cgalr_fail(CGALR_EFORMAT, "scheduler state: summary of %llu bytes, only %zu left",
                          (unsigned long long)prev_size, core_rd_left(r));
    if (l->have_prev) {
        cgalr_status_t st = ctrl_summary_load(r->buf + r->pos, (size_t)prev_size, &l->prev);
        if (st != CGALR_OK)
            return st;
        l->have_summary = 1;
        if (l->prev.p != l->prev_p || l->prev.kind != c->topo.kind)
            return cgalr_fail(CGALR_EFORMAT, "scheduler state: summary has p=%zu kind=%d, expected p=%llu kind=%d",
                              l->prev.p, (int)l->prev.kind, (unsigned long long)l->prev_p, (int)c->topo.kind);
        r->pos += (size_t)prev_size;
    }
    if (r->pos != r->size)
        return cgalr_fail(CGALR_EFORMAT, "scheduler state: %zu trailing bytes", core_rd_left(r));
    return CGALR_OK;
}

/* Everything checked: the scheduler takes the loaded state (and owns its buffers from here). */
static void load_commit(cgalr_sched_t *s, loaded_t *l)
{
    ctrl_prev_clear(s);
    if (l->have_prev) {
        s->prev = l->prev;
        s->have_prev = 1;
        s->prev_p = (size_t)l->prev_p;
    }
    free(s->hist);
    s->hist = l->hist;
    s->hist_n = (size_t)l->hist_n;
    s->t = (long)l->t;
    s->gate = (cgalr_gate_t)l->gate;
    s->rho = l->rho;
    /* A rollback to the last good epoch must not forget the guard events since. */
    if ((int)l->retries > s->retries)
        s->retries = (int)l->retries;
    s->last = l->last;
    s->clock = l->clock;
    s->clock_at = l->clock_at;
    s->plat_lr = l->plat_lr;
    s->plat_best = l->plat_best;
    s->plat_bad = (long)l->plat_bad;
    s->last_epoch = (long)l->last_epoch;
    free(s->dog_x0);
    free(s->dog_avg);
    s->dog_x0 = l->x0;
    s->dog_avg = l->avg;
    s->dog_n = (size_t)l->dog_n;
    s->dog.r = l->dog_r;
    s->dog.G = l->dog_G;
    s->dog.eta = l->dog_eta;
    s->dog.steps = (long)l->dog_steps;
    s->dog.avg_t = (long)l->dog_avg_t;
    s->ad = l->ad;
    free(s->ad_arr);
    s->ad_arr = l->ad_arr;
    s->ad_n = (size_t)l->ad_n;
}

cgalr_status_t cgalr_sched_load(cgalr_sched_t *s, const void *buf, size_t size)
{
    if (!s || !buf)
        return cgalr_fail(CGALR_EINVAL, "scheduler load: NULL scheduler or buffer");
    core_rd_t r = {buf, 0, 0, 0};
    uint32_t version = 0;
    cgalr_status_t st = load_envelope(&r, buf, size, &version);
    if (st != CGALR_OK)
        return st;
    const cgalr_sched_config_t *c = &s->cfg;
    loaded_t l;
    memset(&l, 0, sizeof l);
    if ((st = load_fingerprint(&r, c)) == CGALR_OK && (st = load_controller(&r, c, version, &l)) == CGALR_OK &&
        (st = load_plateau(&r, &l)) == CGALR_OK && (st = load_dog(&r, c, &l)) == CGALR_OK &&
        (st = load_adapt(&r, c, &l)) == CGALR_OK && (st = load_summary(&r, c, &l)) == CGALR_OK) {
        load_commit(s, &l);
        return CGALR_OK;
    }
    loaded_free(&l);
    return st;
}
