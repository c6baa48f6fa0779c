/* The distance pipelines of METHOD.md section 3 between connectomes: configuration, the P_ph signal
 * subset, correlation distance, summaries (barcode or H1 diagram) and their checkpoint format. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cgalr/rng.h"
#include "cgalr/topo.h"
#include "core/bytes.h"

#define DEFAULT_P_PH 128
#define DEFAULT_SW_DIRECTIONS 50
/* Checkpoint blob: "CGTS", version, kind, p, counts, then little-endian doubles. */
#define BLOB_MAGIC "CGTS"
#define BLOB_VERSION 1u

int cgalr_topo_distance_parse(const char *name)
{
    if (!name)
        return -1;
    if (!strcmp(name, "top"))
        return CGALR_DIST_TOP;
    if (!strcmp(name, "wd"))
        return CGALR_DIST_WD;
    if (!strcmp(name, "swk"))
        return CGALR_DIST_SWK;
    return -1;
}

const char *cgalr_topo_distance_name(cgalr_distance_kind_t kind)
{
    switch (kind) {
    case CGALR_DIST_TOP: return "top";
    case CGALR_DIST_WD: return "wd";
    case CGALR_DIST_SWK: return "swk";
    }
    return "unknown";
}

void cgalr_topo_config_default(cgalr_topo_config_t *cfg, cgalr_distance_kind_t kind)
{
    if (!cfg)
        return;
    memset(cfg, 0, sizeof *cfg);
    cfg->kind = kind;
    cfg->p_ph = DEFAULT_P_PH;
    cfg->seed = 0;
    cfg->sw_directions = DEFAULT_SW_DIRECTIONS;
}

static cgalr_status_t check_config(const cgalr_topo_config_t *cfg)
{
    if (!cfg)
        return cgalr_fail(CGALR_EINVAL, "topology config: NULL");
    if (cfg->kind != CGALR_DIST_TOP && cfg->kind != CGALR_DIST_WD && cfg->kind != CGALR_DIST_SWK)
        return cgalr_fail(CGALR_EINVAL, "topology config: distance kind %d; expected top, wd or swk",
                          (int)cfg->kind);
    if (cfg->kind != CGALR_DIST_TOP && cfg->p_ph < 2)
        return cgalr_fail(CGALR_EINVAL, "topology config: p_ph = %zu; expected at least 2", cfg->p_ph);
    if (cfg->kind == CGALR_DIST_SWK && cfg->sw_directions < 1)
        return cgalr_fail(CGALR_EINVAL, "topology config: sw_directions = %d; expected at least 1",
                          cfg->sw_directions);
    return CGALR_OK;
}

static int size_asc(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return (x > y) - (x < y);
}

cgalr_status_t cgalr_topo_subset(const cgalr_topo_config_t *cfg, size_t p, size_t *out, size_t *count)
{
    if (!cfg || !out || !count)
        return cgalr_fail(CGALR_EINVAL, "subset: NULL %s", !cfg ? "config" : !out ? "output" : "count");
    if (cfg->p_ph == 0)
        return cgalr_fail(CGALR_EINVAL, "subset: p_ph = 0; expected at least 1");
    if (p == 0)
        return cgalr_fail(CGALR_EINVAL, "subset: p = 0 signals; expected at least 1");
    if (p <= cfg->p_ph) {
        for (size_t i = 0; i < p; i++)
            out[i] = i;
        *count = p;
        return CGALR_OK;
    }
    /* A partial Fisher-Yates over all indices: the first p_ph of a uniform permutation are a
     * uniform subset; sorted so the sub-connectome keeps the original order. */
    size_t *perm = malloc(p * sizeof *perm);
    if (!perm)
        return cgalr_fail(CGALR_ENOMEM, "subset: out of memory for p = %zu", p);
    for (size_t i = 0; i < p; i++)
        perm[i] = i;
    cgalr_rng_t r = cgalr_rng_init(cfg->seed, CGALR_STREAM_SUBSET);
    for (size_t i = 0; i < cfg->p_ph; i++) {
        size_t j = i + (size_t)cgalr_rng_below(&r, p - i);
        size_t t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
    memcpy(out, perm, cfg->p_ph * sizeof *out);
    qsort(out, cfg->p_ph, sizeof *out, size_asc);
    *count = cfg->p_ph;
    free(perm);
    return CGALR_OK;
}

cgalr_status_t cgalr_topo_correlation_distance(const double *m, size_t p, const size_t *idx, size_t k,
                                               double *out)
{
    if (!m || !out)
        return cgalr_fail(CGALR_EINVAL, "correlation distance: NULL %s", !m ? "connectome" : "output");
    if (p == 0)
        return cgalr_fail(CGALR_EINVAL, "correlation distance: p = 0; expected at least 1");
    if (!idx && k != p)
        return cgalr_fail(CGALR_EINVAL, "correlation distance: k = %zu without indices; expected k = p = %zu",
                          k, p);
    if (k == 0)
        return cgalr_fail(CGALR_EINVAL, "correlation distance: k = 0 signals; expected at least 1");
    if (idx)
        for (size_t a = 0; a < k; a++)
            if (idx[a] >= p)
                return cgalr_fail(CGALR_EINVAL, "correlation distance: index %zu = %zu; expected < p = %zu",
                                  a, idx[a], p);
    for (size_t a = 0; a < k; a++) {
        size_t i = idx ? idx[a] : a;
        for (size_t b = 0; b < k; b++) {
            size_t j = idx ? idx[b] : b;
            double v = m[i * p + j];
            if (a == b) {
                out[a * k + b] = 0.0;
                continue;
            }
            if (!(v >= 0.0 && v <= 1.0))
                return cgalr_fail(isfinite(v) ? CGALR_EINVAL : CGALR_ENONFINITE,
                                  "correlation distance: connectome entry (%zu, %zu) = %.17g; "
                                  "expected a finite value in [0, 1]", i, j, v);
            /* 1 - M can round below zero only by a hair; the clamp keeps sqrt real */
            double d = 1.0 - v;
            out[a * k + b] = d > 0.0 ? sqrt(d) : 0.0;
        }
    }
    return CGALR_OK;
}

void cgalr_topo_summary_free(cgalr_topo_summary_t *s)
{
    if (!s)
        return;
    cgalr_barcode_free(&s->barcode);
    cgalr_diagram_free(&s->diagram);
    memset(s, 0, sizeof *s);
}

cgalr_status_t cgalr_topo_summarize(const cgalr_topo_config_t *cfg, const double *m, size_t p,
                                    cgalr_topo_summary_t *out)
{
    if (!out)
        return cgalr_fail(CGALR_EINVAL, "summarize: NULL output");
    memset(out, 0, sizeof *out);
    cgalr_status_t st = check_config(cfg);
    if (st != CGALR_OK)
        return st;
    if (!m)
        return cgalr_fail(CGALR_EINVAL, "summarize: NULL connectome");
    if (p < 2)
        return cgalr_fail(CGALR_EINVAL, "summarize: p = %zu signals; expected at least 2", p);
    out->kind = cfg->kind;
    out->p = p;
    if (cfg->kind == CGALR_DIST_TOP) {
        st = cgalr_topo_barcode(m, p, &out->barcode);
        if (st != CGALR_OK)
            memset(out, 0, sizeof *out);
        return st;
    }
    size_t k_max = cfg->p_ph < p ? cfg->p_ph : p, k = 0;
    size_t *idx = malloc(k_max * sizeof *idx);
    double *d = malloc(k_max * k_max * sizeof *d);
    cgalr_diagram_t d0 = {0, NULL};
    if (!idx || !d) {
        st = cgalr_fail(CGALR_ENOMEM, "summarize: out of memory for a %zu-signal subset", k_max);
        goto done;
    }
    st = cgalr_topo_subset(cfg, p, idx, &k);
    if (st == CGALR_OK)
        st = cgalr_topo_correlation_distance(m, p, idx, k, d);
    if (st == CGALR_OK)
        st = cgalr_topo_rips(d, k, 1, INFINITY, &d0, &out->diagram);
done:
    cgalr_diagram_free(&d0);
    free(idx);
    free(d);
    if (st != CGALR_OK)
        cgalr_topo_summary_free(out);
    return st;
}

cgalr_status_t cgalr_topo_summary_distance(const cgalr_topo_config_t *cfg, const cgalr_topo_summary_t *a,
                                           const cgalr_topo_summary_t *b, double *out)
{
    cgalr_status_t st = check_config(cfg);
    if (st != CGALR_OK)
        return st;
    if (!a || !b || !out)
        return cgalr_fail(CGALR_EINVAL, "summary distance: NULL %s", !a ? "a" : !b ? "b" : "output");
    if (a->kind != cfg->kind || b->kind != cfg->kind)
        return cgalr_fail(CGALR_EINVAL, "summary distance: summaries of kind %s and %s; config asks for %s",
                          cgalr_topo_distance_name(a->kind), cgalr_topo_distance_name(b->kind),
                          cgalr_topo_distance_name(cfg->kind));
    if (a->p != b->p)
        return cgalr_fail(CGALR_EINVAL, "summary distance: connectomes of p = %zu and p = %zu; expected the same p",
                          a->p, b->p);
    switch (cfg->kind) {
    case CGALR_DIST_TOP:
        return cgalr_topo_top(&a->barcode, &b->barcode, out);
    case CGALR_DIST_WD:
        return cgalr_topo_wasserstein1(&a->diagram, &b->diagram, out);
    case CGALR_DIST_SWK:
        /* The distance the controller tracks is SW itself; the kernel is a similarity
         * (cgalr_topo_swk_kernel turns one into the other). */
        return cgalr_topo_sliced_wasserstein(&a->diagram, &b->diagram, cfg->sw_directions, out);
    }
    return cgalr_fail(CGALR_EINTERNAL, "summary distance: unreachable kind");
}

/* ---- Checkpoint blob: explicit little-endian (core/bytes.h) so a checkpoint moves between machines */

/* Header: magic(4) version(4) kind(4) pad(4) p(8) n1(8) n2(8) = 40 bytes. TOP: n1 births and n2
 * deaths; WD/SWK: n1 pairs (birth, death), n2 = 0. */
#define HEADER_BYTES 40u

cgalr_status_t cgalr_topo_summary_save(const cgalr_topo_summary_t *s, void *buf, size_t *size)
{
    if (!s || !size)
        return cgalr_fail(CGALR_EINVAL, "summary save: NULL %s", !s ? "summary" : "size");
    uint64_t n1, n2;
    if (s->kind == CGALR_DIST_TOP) {
        n1 = s->barcode.n_births;
        n2 = s->barcode.n_deaths;
        if (s->p < 2 || n1 != s->p - 1 || n2 != (s->p - 1) * (s->p - 2) / 2 || !s->barcode.births ||
            (n2 && !s->barcode.deaths))
            return cgalr_fail(CGALR_EINVAL, "summary save: TOP summary with p = %zu is empty or inconsistent",
                              s->p);
    } else if (s->kind == CGALR_DIST_WD || s->kind == CGALR_DIST_SWK) {
        n1 = s->diagram.n;
        n2 = 0;
        if (n1 && !s->diagram.pairs)
            return cgalr_fail(CGALR_EINVAL, "summary save: diagram of %zu pairs without pairs", s->diagram.n);
    } else {
        return cgalr_fail(CGALR_EINVAL, "summary save: kind %d; expected top, wd or swk", (int)s->kind);
    }
    uint64_t values = s->kind == CGALR_DIST_TOP ? n1 + n2 : 2 * n1;
    size_t need = HEADER_BYTES + (size_t)values * 8;
    if (!buf) {
        *size = need;
        return CGALR_OK;
    }
    if (*size < need)
        return cgalr_fail(CGALR_EINVAL, "summary save: buffer of %zu bytes; expected at least %zu", *size, need);
    core_wr_t w = {buf, need, 0};
    core_put_bytes(&w, BLOB_MAGIC, 4);
    core_put_u32(&w, BLOB_VERSION);
    core_put_u32(&w, (uint32_t)s->kind);
    core_put_u32(&w, 0); /* pad: the counts start 8-aligned */
    core_put_u64(&w, s->p);
    core_put_u64(&w, n1);
    core_put_u64(&w, n2);
    if (s->kind == CGALR_DIST_TOP) {
        for (uint64_t i = 0; i < n1; i++)
            core_put_f64(&w, s->barcode.births[i]);
        for (uint64_t i = 0; i < n2; i++)
            core_put_f64(&w, s->barcode.deaths[i]);
    } else {
        for (uint64_t i = 0; i < n1; i++) {
            core_put_f64(&w, s->diagram.pairs[i].birth);
            core_put_f64(&w, s->diagram.pairs[i].death);
        }
    }
    *size = need;
    return CGALR_OK;
}

static cgalr_status_t load_sorted(core_rd_t *p, double *dst, uint64_t n, const char *what)
{
    for (uint64_t i = 0; i < n; i++) {
        double v = core_get_f64(p);
        if (!(v >= 0.0 && v <= 1.0))
            return cgalr_fail(CGALR_EFORMAT, "summary load: %s %llu = %.17g; expected a value in [0, 1]",
                              what, (unsigned long long)i, v);
        if (i > 0 && v < dst[i - 1])
            return cgalr_fail(CGALR_EFORMAT, "summary load: %s %llu = %.17g is below the previous %.17g; "
                              "expected ascending values", what, (unsigned long long)i, v, dst[i - 1]);
        dst[i] = v;
    }
    return CGALR_OK;
}

cgalr_status_t cgalr_topo_summary_load(const void *buf, size_t size, cgalr_topo_summary_t *out)
{
    if (!out)
        return cgalr_fail(CGALR_EINVAL, "summary load: NULL output");
    memset(out, 0, sizeof *out);
    if (!buf)
        return cgalr_fail(CGALR_EINVAL, "summary load: NULL buffer");
    if (size < HEADER_BYTES)
        return cgalr_fail(CGALR_EFORMAT, "summary load: %zu bytes; expected at least a %u-byte header",
                          size, HEADER_BYTES);
    core_rd_t rd = {buf, size, 0, 0}, *p = &rd; /* sizes are checked before any value is read */
    char magic[4];
    core_get_bytes(p, magic, 4);
    if (memcmp(magic, BLOB_MAGIC, 4) != 0)
        return cgalr_fail(CGALR_EFORMAT, "summary load: bad magic; expected \"%s\"", BLOB_MAGIC);
    uint32_t version = core_get_u32(p), kind = core_get_u32(p);
    (void)core_get_u32(p); /* pad */
    if (version != BLOB_VERSION)
        return cgalr_fail(CGALR_EFORMAT, "summary load: version %u; expected %u", version, BLOB_VERSION);
    if (kind > CGALR_DIST_SWK)
        return cgalr_fail(CGALR_EFORMAT, "summary load: kind %u; expected 0 (top), 1 (wd) or 2 (swk)", kind);
    uint64_t pp = core_get_u64(p), n1 = core_get_u64(p), n2 = core_get_u64(p);
    size_t body = size - HEADER_BYTES;
    if (pp < 2 || pp > ((uint64_t)1 << 31))
        return cgalr_fail(CGALR_EFORMAT, "summary load: p = %llu; expected 2 .. 2^31", (unsigned long long)pp);
    uint64_t values;
    if (kind == CGALR_DIST_TOP) {
        if (n1 != pp - 1 || n2 != (pp - 1) * (pp - 2) / 2)
            return cgalr_fail(CGALR_EFORMAT, "summary load: %llu births and %llu deaths for p = %llu; expected "
                              "p - 1 and (p - 1)(p - 2)/2", (unsigned long long)n1, (unsigned long long)n2,
                              (unsigned long long)pp);
        values = n1 + n2;
    } else {
        if (n2 != 0 || n1 > body / 16)
            return cgalr_fail(CGALR_EFORMAT, "summary load: diagram of %llu pairs (n2 = %llu) in %zu bytes",
                              (unsigned long long)n1, (unsigned long long)n2, body);
        values = 2 * n1;
    }
    if (values > body / 8 || values * 8 != body)
        return cgalr_fail(CGALR_EFORMAT, "summary load: %zu bytes of values; expected %llu doubles", body,
                          (unsigned long long)values);
    out->kind = (cgalr_distance_kind_t)kind;
    out->p = (size_t)pp;
    cgalr_status_t st = CGALR_OK;
    if (kind == CGALR_DIST_TOP) {
        cgalr_barcode_t *b = &out->barcode;
        b->births = malloc((size_t)n1 * sizeof(double));
        b->deaths = malloc((n2 ? (size_t)n2 : 1) * sizeof(double));
        if (!b->births || !b->deaths) {
            cgalr_topo_summary_free(out);
            return cgalr_fail(CGALR_ENOMEM, "summary load: out of memory for p = %llu", (unsigned long long)pp);
        }
        b->p = (size_t)pp;
        b->n_births = (size_t)n1;
        b->n_deaths = (size_t)n2;
        st = load_sorted(p, b->births, n1, "birth");
        if (st == CGALR_OK)
            st = load_sorted(p, b->deaths, n2, "death");
    } else if (n1 > 0) {
        cgalr_diagram_t *d = &out->diagram;
        d->pairs = malloc((size_t)n1 * sizeof *d->pairs);
        if (!d->pairs) {
            cgalr_topo_summary_free(out);
            return cgalr_fail(CGALR_ENOMEM, "summary load: out of memory for %llu pairs", (unsigned long long)n1);
        }
        d->n = (size_t)n1;
        for (uint64_t i = 0; i < n1 && st == CGALR_OK; i++) {
            double bi = core_get_f64(p), de = core_get_f64(p);
            if (!isfinite(bi) || isnan(de) || de < bi)
                st = cgalr_fail(CGALR_EFORMAT, "summary load: pair %llu = (%.17g, %.17g); expected a finite "
                                "birth and death >= birth", (unsigned long long)i, bi, de);
            else if (i > 0 && (bi < d->pairs[i - 1].birth ||
                               (bi == d->pairs[i - 1].birth && de < d->pairs[i - 1].death)))
                st = cgalr_fail(CGALR_EFORMAT, "summary load: pair %llu is out of (birth, death) order",
                                (unsigned long long)i);
            d->pairs[i].birth = bi;
            d->pairs[i].death = de;
        }
    }
    if (st != CGALR_OK)
        cgalr_topo_summary_free(out);
    return st;
}
