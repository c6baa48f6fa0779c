/* The binary cache of decoded pixels, which makes JPEG decoding happen once per dataset: its key
 * (FNV-1a of the resize, the source's absolute path, and each file's name, size and mtime), its
 * file format with a CRC-32, and the read-or-build step. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "core/files.h"
#include "core/hash.h"
#include "data/imgsrc.h"

#define CACHE_MAGIC "CGALRIC2"

/* ---- fingerprint ------------------------------------------------------------------------ */

uint64_t data_fnv_stat(uint64_t h, const char *path)
{
    struct stat st;
    h = core_fnv1a(h, path, strlen(path));
    if (stat(path, &st) == 0) {
        int64_t v[2] = {(int64_t)st.st_size, (int64_t)st.st_mtime};
        h = core_fnv1a(h, v, sizeof v);
    }
    return h;
}

/* The absolute path of a source (malloc'ed; the path itself when it cannot be resolved): part of
 * the cache key, so two data folders never share a cache entry, and the cache file's name. */
static char *abs_path(const char *path)
{
    char *r = realpath(path, NULL);
    return r ? r : data_str_printf("%s", path);
}

static void put_u64(uint8_t *b, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_u64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

/* CACHE_DIR/<source name>-<key>.cgalr-cache, or NULL when there is no cache directory. */
static char *cache_path(const char *cache_dir, const char *abs_src, uint64_t key)
{
    if (!cache_dir)
        return NULL;
    const char *base = strrchr(abs_src, '/');
    base = base && base[1] ? base + 1 : "images";
    return data_str_printf("%s/%s-%016llx.cgalr-cache", cache_dir, base, (unsigned long long)key);
}

/* Layout (integers little-endian u64): magic, key, n, c<<40|h<<20|w, classes, per class its
 * name's length and bytes, n origins (1 byte), n labels (4 bytes), n*c*h*w pixels, and last the
 * CRC-32 of everything before it, so a damaged file is rebuilt instead of trusted. */
static cgalr_status_t cache_read(const char *path, uint64_t key, folder_result_t *out)
{
    uint8_t *b;
    size_t len;
    if (!data_path_is_file(path))
        return CGALR_EIO;
    cgalr_status_t st = data_read_file(path, ARCHIVE_CAP, &b, &len);
    if (st) {
        cgalr_clear_error();
        return st;
    }
    st = CGALR_EFORMAT;
    if (len < 48 || memcmp(b, CACHE_MAGIC, 8) || get_u64(b + 8) != key ||
        get_u64(b + len - 8) != crc32_z(0, b, len - 8))
        goto done;
    len -= 8;
    uint64_t n = get_u64(b + 16), chw = get_u64(b + 24), classes = get_u64(b + 32);
    size_t c = (size_t)(chw >> 40), h = (size_t)(chw >> 20 & 0xfffff), w = (size_t)(chw & 0xfffff);
    size_t off = 40;
    /* every class name costs at least its 8-byte length: bound the count by the file first */
    if (!n || !classes || classes > (len - off) / 8 || c != 3 || !h || !w)
        goto done;
    out->class_names = calloc((size_t)classes, sizeof *out->class_names);
    if (!out->class_names)
        goto done;
    out->classes = (size_t)classes;
    for (size_t k = 0; k < classes; k++) {
        if (off + 8 > len)
            goto done;
        uint64_t sl = get_u64(b + off);
        off += 8;
        if (sl > 4096 || off + sl > len)
            goto done;
        out->class_names[k] = data_str_printf("%.*s", (int)sl, (const char *)b + off);
        if (!out->class_names[k])
            goto done;
        off += (size_t)sl;
    }
    size_t per = c * h * w;
    if (n > (len - off) / (per + 5) || off + n * (per + 5) != len)
        goto done;
    if (data_img_set_grow(&out->set, c, h, w, (size_t)n, path, NULL))
        goto done;
    memcpy(out->set.origin, b + off, (size_t)n);
    off += (size_t)n;
    for (size_t i = 0; i < n; i++) {
        uint32_t l = (uint32_t)b[off] | (uint32_t)b[off + 1] << 8 | (uint32_t)b[off + 2] << 16 | (uint32_t)b[off + 3] << 24;
        off += 4;
        if (l >= classes || out->set.origin[i] >= CGALR_N_SPLITS)
            goto done;
        out->set.labels[i] = (int32_t)l;
    }
    memcpy(out->set.pix, b + off, (size_t)n * per);
    out->set.n = (size_t)n;
    st = CGALR_OK;
done:
    free(b);
    if (st) {
        data_folder_result_free(out);
        cgalr_clear_error();
    }
    return st;
}

typedef struct cache_out {
    FILE *f;
    uLong crc;
} cache_out_t;

static void cache_put(cache_out_t *o, const void *p, size_t n)
{
    fwrite(p, 1, n, o->f);
    o->crc = crc32_z(o->crc, p, n);
}

static void cache_put_u64(cache_out_t *o, uint64_t v)
{
    uint8_t b[8];
    put_u64(b, v);
    cache_put(o, b, 8);
}

/* Best effort: a cache that cannot be written only costs decoding time next run. Written to a
 * unique temporary file then renamed: two processes decoding at once each publish a complete
 * file, and a reader never sees a partial one. */
static int cache_write(const char *cache_dir, const char *path, uint64_t key, const folder_result_t *r)
{
    if (core_mkdirs(cache_dir) != CGALR_OK)
        return 0;
    core_atomic_t a;
    if (core_atomic_open(&a, path, 1) != CGALR_OK)
        return 0;
    FILE *f = a.f;
    cache_out_t o = {f, crc32_z(0, NULL, 0)};
    const img_set_t *s = &r->set;
    cache_put(&o, CACHE_MAGIC, 8);
    cache_put_u64(&o, key);
    cache_put_u64(&o, s->n);
    cache_put_u64(&o, (uint64_t)s->c << 40 | (uint64_t)s->h << 20 | (uint64_t)s->w);
    cache_put_u64(&o, r->classes);
    for (size_t k = 0; k < r->classes; k++) {
        cache_put_u64(&o, strlen(r->class_names[k]));
        cache_put(&o, r->class_names[k], strlen(r->class_names[k]));
    }
    cache_put(&o, s->origin, s->n);
    for (size_t i = 0; i < s->n; i++) {
        uint32_t l = (uint32_t)s->labels[i];
        uint8_t b[4] = {(uint8_t)l, (uint8_t)(l >> 8), (uint8_t)(l >> 16), (uint8_t)(l >> 24)};
        cache_put(&o, b, 4);
    }
    cache_put(&o, s->pix, s->n * s->c * s->h * s->w);
    uint8_t crc[8];
    put_u64(crc, o.crc);
    fwrite(crc, 1, 8, f);
    return core_atomic_commit(&a, 1) == CGALR_OK;
}

/* Uses the cache when it matches `key`; otherwise runs `build` and caches what it decoded unless
 * that was only part of the source. */

cgalr_status_t data_cached(const char *cache_dir, const char *src, uint64_t key, data_build_fn build, void *ctx,
                             folder_result_t *out)
{
    memset(out, 0, sizeof *out);
    char *abs = abs_path(src);
    if (!abs)
        return cgalr_fail(CGALR_ENOMEM, "out of memory");
    key = core_fnv1a(key, abs, strlen(abs));
    char *cp = cache_path(cache_dir, abs, key);
    free(abs);
    if (cp && cache_read(cp, key, out) == CGALR_OK) {
        out->cache_file = cp;
        return CGALR_OK;
    }
    cgalr_status_t st = build(ctx, out);
    if (st) {
        free(cp);
        data_folder_result_free(out);
        return st;
    }
    if (cp && (out->set.row || !cache_write(cache_dir, cp, key, out))) {
        free(cp);
        cp = NULL;
    }
    out->cache_file = cp;
    return CGALR_OK;
}
