/* tar archives, and the CIFAR-10 JPEG archive read straight from its tar.gz. */
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

/* ---- tar archives ------------------------------------------------------------------------- */

static int octal(const uint8_t *p, size_t n, uint64_t *v)
{
    size_t i = 0;
    while (i < n && p[i] == ' ')
        i++;
    uint64_t x = 0;
    int digits = 0;
    for (; i < n && p[i] >= '0' && p[i] <= '7'; i++, digits++) {
        if (x >> 60)
            return 0;
        x = x * 8 + (uint64_t)(p[i] - '0');
    }
    for (; i < n; i++)
        if (p[i] != ' ' && p[i] != 0)
            return 0;
    *v = x;
    return digits > 0;
}

cgalr_status_t data_tar_walk(const char *name, const uint8_t *buf, size_t len, tar_entry_fn fn, void *ctx)
{
    size_t off = 0, rec = 0;
    if (len == 0)
        return cgalr_fail(CGALR_EFORMAT, "tar '%s': empty", name);
    while (1) {
        if (off + 512 > len)
            return cgalr_fail(CGALR_EFORMAT, "tar '%s': truncated at byte %zu (entry %zu header)", name, off, rec);
        const uint8_t *h = buf + off;
        int zero = 1;
        for (int i = 0; i < 512 && zero; i++)
            zero = h[i] == 0;
        if (zero)
            return CGALR_OK; /* end-of-archive block */
        uint64_t sum, size;
        if (!octal(h + 148, 8, &sum) || !octal(h + 124, 12, &size))
            return cgalr_fail(CGALR_EFORMAT, "tar '%s': entry %zu at byte %zu: header fields are not octal", name,
                              rec, off);
        uint64_t s = 0;
        for (int i = 0; i < 512; i++)
            s += (i >= 148 && i < 156) ? ' ' : h[i];
        if (s != sum)
            return cgalr_fail(CGALR_EFORMAT, "tar '%s': entry %zu at byte %zu: header checksum %llu, computed %llu",
                              name, rec, off, (unsigned long long)sum, (unsigned long long)s);
        if (size > len - off - 512)
            return cgalr_fail(CGALR_EFORMAT, "tar '%s': entry %zu claims %llu bytes, only %zu remain", name, rec,
                              (unsigned long long)size, len - off - 512);
        char path[256 + 2];
        size_t pl = 0;
        if (!memcmp(h + 257, "ustar", 5) && h[345]) {
            size_t n = strnlen((const char *)h + 345, 155);
            memcpy(path, h + 345, n);
            path[n] = '/';
            pl = n + 1;
        }
        size_t n = strnlen((const char *)h, 100);
        memcpy(path + pl, h, n);
        path[pl + n] = 0;
        char type = (char)h[156];
        if (type == '0' || type == 0) {
            cgalr_status_t st = fn(ctx, path, h + 512, (size_t)size);
            if (st)
                return st;
        }
        off += 512 + (size_t)((size + 511) / 512 * 512);
        if (off > len)
            off = len; /* a final partial block is "truncated" at the next header */
        rec++;
    }
}

typedef struct tar_item {
    int split;
    char *cls, *file;
    const uint8_t *data;
    size_t len;
} tar_item_t;

typedef struct tar_ctx {
    const char *name;
    tar_item_t *items;
    size_t n, cap;
    data_strlist_t classes;
} tar_ctx_t;

static cgalr_status_t tar_collect(void *vctx, const char *path, const uint8_t *data, size_t len)
{
    tar_ctx_t *ctx = vctx;
    int split;
    const char *rest;
    if (!strncmp(path, "train/", 6)) {
        split = CGALR_SPLIT_TRAIN;
        rest = path + 6;
    } else if (!strncmp(path, "test/", 5)) {
        split = CGALR_SPLIT_TEST;
        rest = path + 5;
    } else if (!strncmp(path, "val/", 4)) {
        split = CGALR_SPLIT_VAL;
        rest = path + 4;
    } else {
        return CGALR_OK;
    }
    const char *slash = strchr(rest, '/');
    if (!slash || slash == rest || !slash[1] || strchr(slash + 1, '/'))
        return CGALR_OK;
    if (ctx->n == ctx->cap) {
        size_t nc = ctx->cap ? 2 * ctx->cap : 1024;
        tar_item_t *p = realloc(ctx->items, nc * sizeof *p);
        if (!p)
            return cgalr_fail(CGALR_ENOMEM, "out of memory");
        ctx->items = p;
        ctx->cap = nc;
    }
    tar_item_t *it = &ctx->items[ctx->n];
    it->split = split;
    it->cls = data_str_printf("%.*s", (int)(slash - rest), rest);
    it->file = data_str_printf("%s", slash + 1);
    it->data = data;
    it->len = len;
    if (!it->cls || !it->file) {
        free(it->cls);
        free(it->file);
        return cgalr_fail(CGALR_ENOMEM, "out of memory");
    }
    ctx->n++;
    if (split == CGALR_SPLIT_TRAIN)
        return data_sl_push(&ctx->classes, it->cls, strlen(it->cls));
    return CGALR_OK;
}

static int cmp_item(const void *a, const void *b)
{
    const tar_item_t *x = a, *y = b;
    if (x->split != y->split)
        return x->split - y->split;
    int c = strcmp(x->cls, y->cls);
    return c ? c : strcmp(x->file, y->file);
}

typedef struct tarjpg_ctx {
    const char *path;
    const tar_item_t *items;
} tarjpg_ctx_t;

static cgalr_status_t tarjpg_decode(void *vctx, size_t i, int32_t label, uint8_t origin, img_set_t *s)
{
    tarjpg_ctx_t *tc = vctx;
    const tar_item_t *it = &tc->items[i];
    char name[512];
    snprintf(name, sizeof name, "%s:%s/%s/%s", tc->path, cgalr_split_name((cgalr_split_t)it->split), it->cls,
             it->file);
    return data_add_image(s, name, it->data, it->len, label, origin, 0);
}

static cgalr_status_t tarjpg_build(void *vctx, folder_result_t *out)
{
    data_build_ctx_t *bc = vctx;
    tarjpg_ctx_t *tc = bc->src;
    uint8_t *buf;
    size_t len;
    cgalr_status_t st = data_read_file(tc->path, ARCHIVE_CAP, &buf, &len);
    if (st)
        return st;
    tar_ctx_t ctx;
    memset(&ctx, 0, sizeof ctx);
    ctx.name = tc->path;
    st = data_tar_walk(tc->path, buf, len, tar_collect, &ctx);
    if (!st) {
        data_sl_sort_unique(&ctx.classes);
        if (ctx.classes.n == 0)
            st = cgalr_fail(CGALR_EFORMAT, "archive '%s': no train/<class>/<image> entries", tc->path);
    }
    int32_t *lab = NULL;
    uint8_t *origin = NULL;
    if (!st) {
        /* Class folders in sorted order, files in name order: the README's reference layout. */
        qsort(ctx.items, ctx.n, sizeof *ctx.items, cmp_item);
        lab = malloc((ctx.n + 1) * sizeof *lab);
        origin = malloc(ctx.n + 1);
        if (!lab || !origin)
            st = cgalr_fail(CGALR_ENOMEM, "out of memory");
        for (size_t i = 0; i < ctx.n && !st; i++) {
            const tar_item_t *it = &ctx.items[i];
            long l = data_sl_find(&ctx.classes, it->cls);
            if (l < 0)
                st = cgalr_fail(CGALR_EFORMAT, "archive entry '%s:%s/%s/%s': class not among train/'s classes",
                                tc->path, cgalr_split_name((cgalr_split_t)it->split), it->cls, it->file);
            lab[i] = (int32_t)l;
            origin[i] = (uint8_t)it->split;
        }
    }
    if (!st) {
        tc->items = ctx.items;
        st = data_decode_samples(bc->sel, ctx.n, lab, origin, ctx.classes.n, tarjpg_decode, tc, out);
    }
    if (!st)
        st = data_take_classes(out, &ctx.classes);
    for (size_t i = 0; i < ctx.n; i++) {
        free(ctx.items[i].cls);
        free(ctx.items[i].file);
    }
    free(ctx.items);
    free(lab);
    free(origin);
    data_sl_free(&ctx.classes);
    free(buf);
    return st;
}

cgalr_status_t data_tarjpg_load(const char *tar_gz, const char *cache_dir, const cgalr_data_config_t *sel,
                           folder_result_t *out)
{
    tarjpg_ctx_t ctx = {tar_gz, NULL};
    data_build_ctx_t bc = {&ctx, sel};
    uint64_t key = data_fnv_stat(0xcbf29ce484222325ULL, tar_gz);
    return data_cached(cache_dir, tar_gz, key, tarjpg_build, &bc, out);
}
