/* Little-endian byte writer and bounded reader (core/bytes.h). */
#include <string.h>

#include "core/bytes.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define HOST_LE 1 /* the wire order is the host's: arrays copy as they are */
#else
#define HOST_LE 0
#endif

void core_put_bytes(core_wr_t *w, const void *p, size_t n)
{
    if (w->buf && n <= w->cap && w->pos <= w->cap - n)
        memcpy(w->buf + w->pos, p, n);
    w->pos += n;
}

static void put_le(core_wr_t *w, uint64_t v, int n)
{
    unsigned char b[8];
    for (int i = 0; i < n; i++)
        b[i] = (unsigned char)(v >> (8 * i));
    core_put_bytes(w, b, (size_t)n);
}

void core_put_u32(core_wr_t *w, uint32_t v) { put_le(w, v, 4); }
void core_put_u64(core_wr_t *w, uint64_t v) { put_le(w, v, 8); }
void core_put_i64(core_wr_t *w, int64_t v) { put_le(w, (uint64_t)v, 8); }

void core_put_f64(core_wr_t *w, double v)
{
    uint64_t u;
    memcpy(&u, &v, sizeof u);
    put_le(w, u, 8);
}

void core_put_f32s(core_wr_t *w, const float *v, size_t n)
{
    if (HOST_LE) {
        core_put_bytes(w, v, n * sizeof *v);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, &v[i], sizeof u);
        put_le(w, u, 4);
    }
}

void core_get_bytes(core_rd_t *r, void *p, size_t n)
{
    if (r->bad || n > r->size - r->pos) {
        r->bad = 1;
        memset(p, 0, n);
        return;
    }
    memcpy(p, r->buf + r->pos, n);
    r->pos += n;
}

static uint64_t get_le(core_rd_t *r, int n)
{
    unsigned char b[8];
    core_get_bytes(r, b, (size_t)n);
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v |= (uint64_t)b[i] << (8 * i);
    return v;
}

uint32_t core_get_u32(core_rd_t *r) { return (uint32_t)get_le(r, 4); }
uint64_t core_get_u64(core_rd_t *r) { return get_le(r, 8); }
int64_t core_get_i64(core_rd_t *r) { return (int64_t)get_le(r, 8); }

double core_get_f64(core_rd_t *r)
{
    uint64_t u = get_le(r, 8);
    double d;
    memcpy(&d, &u, sizeof d);
    return d;
}

void core_get_f32s(core_rd_t *r, float *v, size_t n)
{
    if (HOST_LE) {
        core_get_bytes(r, v, n * sizeof *v);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        uint32_t u = (uint32_t)get_le(r, 4);
        memcpy(&v[i], &u, sizeof u);
    }
}
