/* IDX files (MNIST, Fashion-MNIST): big-endian header, magic 0x0000 08 ndim (unsigned bytes),
 * ndim 32-bit sizes, then the payload; sizes are checked against the buffer before any use. */
#include <string.h>

#include "data/data_internal.h"

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

cgalr_status_t data_idx_parse(const char *name, const uint8_t *buf, size_t len, int ndim, size_t *count,
                         size_t *rows, size_t *cols, const uint8_t **payload)
{
    size_t hdr = 4 + 4 * (size_t)ndim;
    if (len < hdr)
        return cgalr_fail(CGALR_EFORMAT, "idx '%s': %zu bytes, shorter than its %zu-byte header", name, len, hdr);
    if (buf[0] != 0 || buf[1] != 0 || buf[2] != 0x08 || buf[3] != (uint8_t)ndim)
        return cgalr_fail(CGALR_EFORMAT, "idx '%s': magic %02x %02x %02x %02x, expected 00 00 08 %02x "
                          "(unsigned bytes, %d dimension%s)", name, buf[0], buf[1], buf[2], buf[3], ndim,
                          ndim, ndim == 1 ? "" : "s");
    uint64_t d[3] = {1, 1, 1};
    for (int i = 0; i < ndim; i++)
        d[i] = be32(buf + 4 + 4 * i);
    if (d[0] == 0)
        return cgalr_fail(CGALR_EFORMAT, "idx '%s': header says 0 items (empty dataset)", name);
    if (ndim == 3 && (d[1] == 0 || d[2] == 0))
        return cgalr_fail(CGALR_EFORMAT, "idx '%s': item shape %llu x %llu is empty", name,
                          (unsigned long long)d[1], (unsigned long long)d[2]);
    /* Each factor < 2^32, so the product of the last two fits; the total is checked by division. */
    uint64_t item = d[1] * d[2];
    uint64_t avail = len - hdr;
    if (item > avail || d[0] > avail / item || d[0] * item != avail)
        return cgalr_fail(CGALR_EFORMAT, "idx '%s': header says %llu items of %llu bytes, but the file holds "
                          "%llu payload bytes", name, (unsigned long long)d[0], (unsigned long long)item,
                          (unsigned long long)avail);
    *count = (size_t)d[0];
    *rows = (size_t)d[1];
    *cols = (size_t)d[2];
    *payload = buf + hdr;
    return CGALR_OK;
}

cgalr_status_t data_idx_load_pair(const char *img_name, const uint8_t *img, size_t img_len,
                             const char *lab_name, const uint8_t *lab, size_t lab_len,
                             uint8_t split, img_set_t *s)
{
    size_t n = 0, r = 0, c = 0, nl = 0, r1, c1;
    const uint8_t *pix = NULL, *labels = NULL;
    cgalr_status_t st = data_idx_parse(img_name, img, img_len, 3, &n, &r, &c, &pix);
    if (st)
        return st;
    st = data_idx_parse(lab_name, lab, lab_len, 1, &nl, &r1, &c1, &labels);
    if (st)
        return st;
    if (n != nl)
        return cgalr_fail(CGALR_EFORMAT, "idx '%s' holds %zu images but '%s' holds %zu labels", img_name, n,
                          lab_name, nl);
    for (size_t i = 0; i < nl; i++)
        if (labels[i] > 9)
            return cgalr_fail(CGALR_EFORMAT, "idx '%s': record %zu has label %u, expected 0..9", lab_name, i,
                              labels[i]);
    uint8_t *dst;
    st = data_img_set_grow(s, 1, r, c, n, img_name, &dst);
    if (st)
        return st;
    memcpy(dst, pix, n * r * c);
    for (size_t i = 0; i < n; i++) {
        s->labels[s->n + i] = labels[i];
        s->origin[s->n + i] = split;
    }
    s->n += n;
    return CGALR_OK;
}
