/* The byte writer and reader of the library's binary states (the scheduler state inside a
 * checkpoint, the topology summary blob): explicit little-endian, so a state written on one
 * machine reads the same on another. The writer counts when it has no buffer (a first pass
 * sizes the buffer); the reader never reads past its end: it returns zeros from there on and
 * sets bad, so a loader reads a whole section and checks once (private to the library). */
#ifndef CGALR_CORE_BYTES_H
#define CGALR_CORE_BYTES_H

#include <stddef.h>
#include <stdint.h>

typedef struct core_wr {
    unsigned char *buf; /* NULL: only count into pos */
    size_t cap, pos;
} core_wr_t;

typedef struct core_rd {
    const unsigned char *buf;
    size_t size, pos;
    int bad; /* a read ran past the end */
} core_rd_t;

void core_put_bytes(core_wr_t *w, const void *p, size_t n);
void core_put_u32(core_wr_t *w, uint32_t v);
void core_put_u64(core_wr_t *w, uint64_t v);
void core_put_i64(core_wr_t *w, int64_t v);
void core_put_f64(core_wr_t *w, double v);
void core_put_f32s(core_wr_t *w, const float *v, size_t n);

void core_get_bytes(core_rd_t *r, void *p, size_t n);
uint32_t core_get_u32(core_rd_t *r);
uint64_t core_get_u64(core_rd_t *r);
int64_t core_get_i64(core_rd_t *r);
double core_get_f64(core_rd_t *r);
void core_get_f32s(core_rd_t *r, float *v, size_t n);

/* Bytes left to read: what a loader checks a claimed array size against before allocating. */
static inline size_t core_rd_left(const core_rd_t *r) { return r->bad ? 0 : r->size - r->pos; }

#endif
