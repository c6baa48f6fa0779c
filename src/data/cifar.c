/* CIFAR-10 / CIFAR-100 binary batches: fixed-size records of label byte(s) then 1024 R, 1024 G,
 * 1024 B bytes (each plane row-major), which is already the CHW layout the loaders use. */
#include <string.h>

#include "data/data_internal.h"

cgalr_status_t data_cifar_parse(const char *name, const uint8_t *buf, size_t len, int label_bytes,
                           int coarse, uint8_t split, img_set_t *s)
{
    const size_t plane = 32 * 32, px = 3 * plane;
    size_t rec = (size_t)label_bytes + px;
    if (label_bytes != 1 && label_bytes != 2)
        return cgalr_fail(CGALR_EINVAL, "cifar '%s': label_bytes %d, expected 1 or 2", name, label_bytes);
    if (len == 0)
        return cgalr_fail(CGALR_EFORMAT, "cifar batch '%s': empty file", name);
    if (len % rec)
        return cgalr_fail(CGALR_EFORMAT, "cifar batch '%s': %zu bytes, expected a multiple of %zu "
                          "(record %zu is truncated)", name, len, rec, len / rec);
    size_t n = len / rec;
    unsigned limit = label_bytes == 1 ? 10 : coarse ? 20 : 100;
    for (size_t i = 0; i < n; i++) {
        const uint8_t *r = buf + i * rec;
        if (label_bytes == 2 && r[0] >= 20)
            return cgalr_fail(CGALR_EFORMAT, "cifar batch '%s': record %zu has coarse label %u, expected 0..19",
                              name, i, r[0]);
        unsigned lab = label_bytes == 1 ? r[0] : coarse ? r[0] : r[1];
        if (lab >= limit)
            return cgalr_fail(CGALR_EFORMAT, "cifar batch '%s': record %zu has %slabel %u, expected 0..%u", name,
                              i, label_bytes == 1 ? "" : coarse ? "coarse " : "fine ", lab, limit - 1);
    }
    uint8_t *dst;
    cgalr_status_t st = data_img_set_grow(s, 3, 32, 32, n, name, &dst);
    if (st)
        return st;
    for (size_t i = 0; i < n; i++) {
        const uint8_t *r = buf + i * rec;
        memcpy(dst + i * px, r + label_bytes, px);
        s->labels[s->n + i] = label_bytes == 1 ? r[0] : coarse ? r[0] : r[1];
        s->origin[s->n + i] = split;
    }
    s->n += n;
    return CGALR_OK;
}
