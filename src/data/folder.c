/* Image datasets stored as files: class folders (torchvision ImageFolder order), the Mini-ImageNet
 * CSV layout, and the CIFAR-10 JPEG archive read straight from its tar.gz; plus the binary cache
 * of decoded pixels that makes JPEG decoding happen once per dataset. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "data/data_internal.h"

#define CACHE_MAGIC "CGALRIC2"
#define ARCHIVE_CAP ((size_t)1 << 31)

void data_folder_result_free(folder_result_t *r)
{
    if (!r)
        return;
    data_img_set_free(&r->set);
    if (r->class_names)
        for (size_t k = 0; k < r->classes; k++)
            free(r->class_names[k]);
    free(r->class_names);
    free(r->cache_file);
    memset(r, 0, sizeof *r);
}

/* ---- string lists ------------------------------------------------------------------------- */

typedef struct strlist {
    size_t n, cap;
    char **s;
} strlist_t;

static void sl_free(strlist_t *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->s[i]);
    free(l->s);
    memset(l, 0, sizeof *l);
}

static cgalr_status_t sl_push(strlist_t *l, const char *s, size_t len)
{
    if (l->n == l->cap) {
        size_t nc = l->cap ? l->cap * 2 : 16;
        char **p = realloc(l->s, nc * sizeof *p);
        if (!p)
            return cgalr_fail(CGALR_ENOMEM, "out of memory");
        l->s = p;
        l->cap = nc;
    }
    char *c = malloc(len + 1);
    if (!c)
        return cgalr_fail(CGALR_ENOMEM, "out of memory");
    memcpy(c, s, len);
    c[len] = 0;
    l->s[l->n++] = c;
    return CGALR_OK;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void sl_sort_unique(strlist_t *l)
{
    qsort(l->s, l->n, sizeof *l->s, cmp_str);
    size_t k = 0;
    for (size_t i = 0; i < l->n; i++) {
        if (k && !strcmp(l->s[i], l->s[k - 1]))
            free(l->s[i]);
        else
            l->s[k++] = l->s[i];
    }
    l->n = k;
}

static long sl_find(const strlist_t *l, const char *s)
{
    char *const *hit = bsearch(&s, l->s, l->n, sizeof *l->s, cmp_str);
    return hit ? (long)(hit - l->s) : -1;
}

/* Entries of a directory (sorted by name); dirs = 1 keeps sub-directories, 0 image files. */
static cgalr_status_t list_dir(const char *path, int dirs, strlist_t *out)
{
    DIR *d = opendir(path);
    if (!d)
        return cgalr_fail(CGALR_EIO, "'%s': cannot list: %s", path, strerror(errno));
    struct dirent *e;
    cgalr_status_t st = CGALR_OK;
    while (!st && (e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char *full = data_str_printf("%s/%s", path, e->d_name);
        if (!full) {
            st = cgalr_fail(CGALR_ENOMEM, "out of memory");
            break;
        }
        int keep;
        if (dirs) {
            keep = data_path_is_dir(full);
        } else {
            const char *dot = strrchr(e->d_name, '.');
            keep = dot && (!strcasecmp(dot, ".jpg") || !strcasecmp(dot, ".jpeg") || !strcasecmp(dot, ".png")) &&
                   data_path_is_file(full);
        }
        free(full);
        if (keep)
            st = sl_push(out, e->d_name, strlen(e->d_name));
    }
    closedir(d);
    if (!st)
        qsort(out->s, out->n, sizeof *out->s, cmp_str);
    return st;
}

/* ---- fingerprint and cache ---------------------------------------------------------------- */

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 0x100000001b3ULL;
    return h;
}

static uint64_t fnv_stat(uint64_t h, const char *path)
{
    struct stat st;
    h = fnv(h, path, strlen(path));
    if (stat(path, &st) == 0) {
        int64_t v[2] = {(int64_t)st.st_size, (int64_t)st.st_mtime};
        h = fnv(h, v, sizeof v);
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

/* mkdir -p; an existing directory (another process won the race) is success. */
static int make_dirs(const char *dir)
{
    char *d = data_str_printf("%s", dir);
    if (!d)
        return 0;
    for (char *p = d + 1; *p; p++)
        if (*p == '/') {
            *p = 0;
            if (mkdir(d, 0777) != 0 && errno != EEXIST) {
                free(d);
                return 0;
            }
            *p = '/';
        }
    int ok = mkdir(d, 0777) == 0 || (errno == EEXIST && data_path_is_dir(d));
    free(d);
    return ok;
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
    if (data_img_set_shape(&out->set, c, h, w, path) || data_img_set_grow(&out->set, (size_t)n, NULL))
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
    if (!make_dirs(cache_dir))
        return 0;
    char *tmp = data_str_printf("%s.tmp-XXXXXX", path);
    if (!tmp)
        return 0;
    int fd = mkstemp(tmp);
    FILE *f = fd >= 0 ? fdopen(fd, "wb") : NULL;
    if (!f) {
        if (fd >= 0) {
            close(fd);
            remove(tmp);
        }
        free(tmp);
        return 0;
    }
    fchmod(fd, 0644); /* mkstemp's 0600 would hide a shared --cache-dir from the group */
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
    int ok = !ferror(f);
    ok = fclose(f) == 0 && ok;
    ok = ok && rename(tmp, path) == 0;
    if (!ok)
        remove(tmp);
    free(tmp);
    return ok;
}

/* Decodes one file's bytes and appends it (resized when resize > 0). */
static cgalr_status_t add_image(img_set_t *s, const char *name, const uint8_t *buf, size_t len, int32_t label,
                                uint8_t origin, size_t resize)
{
    uint8_t *pix;
    size_t h, w;
    cgalr_status_t st = data_image_decode(name, buf, len, &pix, &h, &w);
    if (st)
        return st;
    size_t oh = resize ? resize : h, ow = resize ? resize : w;
    uint8_t *dst;
    st = data_img_set_shape(s, 3, oh, ow, name);
    if (!st)
        st = data_img_set_grow(s, 1, &dst);
    if (!st) {
        if (oh == h && ow == w)
            memcpy(dst, pix, 3 * h * w);
        else
            st = data_image_resize(pix, h, w, dst, oh, ow);
    }
    if (!st) {
        s->labels[s->n] = label;
        s->origin[s->n] = origin;
        s->n++;
    }
    free(pix);
    return st;
}

static cgalr_status_t add_image_file(img_set_t *s, const char *path, int32_t label, uint8_t origin, size_t resize)
{
    uint8_t *buf;
    size_t len;
    cgalr_status_t st = data_read_file(path, (size_t)1 << 28, &buf, &len);
    if (st)
        return st;
    st = add_image(s, path, buf, len, label, origin, resize);
    free(buf);
    return st;
}

static cgalr_status_t take_classes(folder_result_t *out, strlist_t *classes)
{
    out->class_names = classes->s;
    out->classes = classes->n;
    memset(classes, 0, sizeof *classes);
    return CGALR_OK;
}

/* Appends sample i (label, origin) of a source to s. */
typedef cgalr_status_t (*decode_fn)(void *ctx, size_t i, int32_t label, uint8_t origin, img_set_t *s);

/* Decodes the n samples of a source (labels, origin known from its listing) into out->set: all
 * of them, or with sel->limit only those data_select keeps, the others left undecoded (row map). */
static cgalr_status_t decode_samples(const cgalr_data_config_t *sel, size_t n, const int32_t *labels,
                                     const uint8_t *origin, size_t classes, decode_fn fn, void *ctx,
                                     folder_result_t *out)
{
    uint8_t *keep = NULL;
    size_t kept = n;
    cgalr_status_t st = CGALR_OK;
    if (sel && sel->limit) {
        keep = malloc(n + 1);
        if (!keep)
            return cgalr_fail(CGALR_ENOMEM, "out of memory");
        st = data_select(sel, n, labels, classes, origin, keep, &kept);
        if (st) {
            free(keep);
            return st;
        }
    }
    if (kept == n) {
        for (size_t i = 0; i < n && !st; i++)
            st = fn(ctx, i, labels[i], origin[i], &out->set);
        out->decoded = n;
        free(keep);
        return st;
    }
    img_set_t part;
    memset(&part, 0, sizeof part);
    for (size_t i = 0; i < n && !st; i++)
        if (keep[i])
            st = fn(ctx, i, labels[i], origin[i], &part);
    img_set_t *s = &out->set;
    if (!st) {
        /* the rows of the decoded samples, in sample order as decode appended them */
        s->labels = malloc(n * sizeof *s->labels);
        s->origin = malloc(n);
        s->row = malloc(n * sizeof *s->row);
        if (!s->labels || !s->origin || !s->row)
            st = cgalr_fail(CGALR_ENOMEM, "out of memory");
    }
    if (!st) {
        memcpy(s->labels, labels, n * sizeof *labels);
        memcpy(s->origin, origin, n);
        for (size_t i = 0, r = 0; i < n; i++)
            s->row[i] = keep[i] ? r++ : SIZE_MAX;
        s->n = s->cap = n;
        s->c = part.c;
        s->h = part.h;
        s->w = part.w;
        s->pix = part.pix;
        part.pix = NULL;
        out->decoded = kept;
    }
    data_img_set_free(&part);
    free(keep);
    return st;
}

/* Uses the cache when it matches `key`; otherwise runs `build` and caches what it decoded unless
 * that was only part of the source. */
typedef cgalr_status_t (*build_fn)(void *ctx, folder_result_t *out);

static cgalr_status_t cached(const char *cache_dir, const char *src, uint64_t key, build_fn build, void *ctx,
                             folder_result_t *out)
{
    memset(out, 0, sizeof *out);
    char *abs = abs_path(src);
    if (!abs)
        return cgalr_fail(CGALR_ENOMEM, "out of memory");
    key = fnv(key, abs, strlen(abs));
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

/* ---- image folders ------------------------------------------------------------------------ */

typedef struct folder_ctx {
    const char *root;
    size_t resize;
    strlist_t classes;
    strlist_t files[CGALR_N_SPLITS]; /* "class/file" per split */
    int32_t *labels[CGALR_N_SPLITS];
} folder_ctx_t;

/* Sample numbering of folder sources: train files, then val, then test, each in listing order.
 * Turns sample i into (split, position in it). */
static int split_pos(const strlist_t files[CGALR_N_SPLITS], size_t *i)
{
    int s = 0;
    while (s < CGALR_N_SPLITS - 1 && *i >= files[s].n)
        *i -= files[s++].n;
    return s;
}

/* The labels and origins of all samples in that numbering (two malloc'ed arrays). */
static cgalr_status_t flat_labels(const strlist_t files[CGALR_N_SPLITS], int32_t *const labels[CGALR_N_SPLITS],
                                  size_t *n, int32_t **lab, uint8_t **origin)
{
    *n = 0;
    for (int s = 0; s < CGALR_N_SPLITS; s++)
        *n += files[s].n;
    *lab = malloc((*n + 1) * sizeof **lab);
    *origin = malloc(*n + 1);
    if (!*lab || !*origin) {
        free(*lab);
        free(*origin);
        return cgalr_fail(CGALR_ENOMEM, "out of memory");
    }
    size_t k = 0;
    for (int s = 0; s < CGALR_N_SPLITS; s++)
        for (size_t i = 0; i < files[s].n; i++, k++) {
            (*lab)[k] = labels[s][i];
            (*origin)[k] = (uint8_t)s;
        }
    return CGALR_OK;
}

static cgalr_status_t copy_classes(const strlist_t *classes, folder_result_t *out)
{
    strlist_t copy = {0, 0, NULL};
    for (size_t k = 0; k < classes->n; k++)
        if (sl_push(&copy, classes->s[k], strlen(classes->s[k]))) {
            sl_free(&copy);
            return cgalr_fail(CGALR_ENOMEM, "out of memory");
        }
    return take_classes(out, &copy);
}

static cgalr_status_t folder_decode(void *vctx, size_t i, int32_t label, uint8_t origin, img_set_t *s)
{
    static const char *const split_dir[CGALR_N_SPLITS] = {"train", "val", "test"};
    folder_ctx_t *ctx = vctx;
    int sp = split_pos(ctx->files, &i);
    char *p = data_str_printf("%s/%s/%s", ctx->root, split_dir[sp], ctx->files[sp].s[i]);
    if (!p)
        return cgalr_fail(CGALR_ENOMEM, "out of memory");
    cgalr_status_t st = add_image_file(s, p, label, origin, ctx->resize);
    free(p);
    return st;
}

typedef struct build_ctx {
    void *src;
    const cgalr_data_config_t *sel;
} build_ctx_t;

static cgalr_status_t folder_build(void *vctx, folder_result_t *out)
{
    build_ctx_t *bc = vctx;
    folder_ctx_t *ctx = bc->src;
    size_t n;
    int32_t *lab;
    uint8_t *origin;
    cgalr_status_t st = flat_labels(ctx->files, ctx->labels, &n, &lab, &origin);
    if (st)
        return st;
    st = decode_samples(bc->sel, n, lab, origin, ctx->classes.n, folder_decode, ctx, out);
    free(lab);
    free(origin);
    return st ? st : copy_classes(&ctx->classes, out);
}

cgalr_status_t data_folder_load(const char *root, size_t resize, const char *cache_dir, const cgalr_data_config_t *sel,
                           folder_result_t *out)
{
    static const char *const split_dir[CGALR_N_SPLITS] = {"train", "val", "test"};
    folder_ctx_t ctx;
    memset(&ctx, 0, sizeof ctx);
    memset(out, 0, sizeof *out);
    ctx.root = root;
    ctx.resize = resize;
    cgalr_status_t st = CGALR_OK;
    char *train = data_str_printf("%s/train", root);
    if (!train)
        return cgalr_fail(CGALR_ENOMEM, "out of memory");
    if (!data_path_is_dir(train))
        st = cgalr_fail(CGALR_EIO, "image folder '%s': no train/ directory (expected ROOT/train/<class>/*.jpg)", root);
    else
        st = list_dir(train, 1, &ctx.classes);
    if (!st && ctx.classes.n == 0)
        st = cgalr_fail(CGALR_EFORMAT, "image folder '%s': train/ has no class directories", train);
    free(train);
    uint64_t key = fnv(0xcbf29ce484222325ULL, &resize, sizeof resize);
    for (int s = 0; s < CGALR_N_SPLITS && !st; s++) {
        char *sd = data_str_printf("%s/%s", root, split_dir[s]);
        if (!sd) {
            st = cgalr_fail(CGALR_ENOMEM, "out of memory");
            break;
        }
        if (!data_path_is_dir(sd)) {
            free(sd);
            continue;
        }
        strlist_t cls = {0, 0, NULL};
        st = list_dir(sd, 1, &cls);
        for (size_t k = 0; k < cls.n && !st; k++) {
            long lab = sl_find(&ctx.classes, cls.s[k]);
            if (lab < 0) {
                st = cgalr_fail(CGALR_EFORMAT, "image folder '%s': class '%s' is not among train/'s classes", sd,
                                cls.s[k]);
                break;
            }
            char *cd = data_str_printf("%s/%s", sd, cls.s[k]);
            strlist_t files = {0, 0, NULL};
            st = cd ? list_dir(cd, 0, &files) : cgalr_fail(CGALR_ENOMEM, "out of memory");
            size_t base = ctx.files[s].n;
            for (size_t i = 0; i < files.n && !st; i++) {
                char *rel = data_str_printf("%s/%s", cls.s[k], files.s[i]);
                char *full = data_str_printf("%s/%s", cd, files.s[i]);
                if (!rel || !full)
                    st = cgalr_fail(CGALR_ENOMEM, "out of memory");
                else {
                    st = sl_push(&ctx.files[s], rel, strlen(rel));
                    key = fnv_stat(key, full);
                }
                free(rel);
                free(full);
            }
            if (!st) {
                int32_t *l = realloc(ctx.labels[s], (ctx.files[s].n + 1) * sizeof *l);
                if (!l)
                    st = cgalr_fail(CGALR_ENOMEM, "out of memory");
                else {
                    ctx.labels[s] = l;
                    for (size_t i = base; i < ctx.files[s].n; i++)
                        l[i] = (int32_t)lab;
                }
            }
            sl_free(&files);
            free(cd);
        }
        sl_free(&cls);
        free(sd);
    }
    if (!st && ctx.files[0].n == 0)
        st = cgalr_fail(CGALR_EFORMAT, "image folder '%s': no .jpg/.jpeg/.png files under train/", root);
    if (!st) {
        build_ctx_t bc = {&ctx, sel};
        st = cached(cache_dir, root, key, folder_build, &bc, out);
    }
    sl_free(&ctx.classes);
    for (int s = 0; s < CGALR_N_SPLITS; s++) {
        sl_free(&ctx.files[s]);
        free(ctx.labels[s]);
    }
    return st;
}

/* ---- Mini-ImageNet ------------------------------------------------------------------------ */

typedef struct mini_ctx {
    const char *root;
    size_t resize;
    strlist_t classes;
    strlist_t files[CGALR_N_SPLITS], labs[CGALR_N_SPLITS];
} mini_ctx_t;

/* filename,label rows; a first row "filename,label" is a header. */
static cgalr_status_t read_csv(const char *path, strlist_t *files, strlist_t *labs)
{
    uint8_t *b;
    size_t len;
    cgalr_status_t st = data_read_file(path, (size_t)1 << 28, &b, &len);
    if (st)
        return st;
    size_t i = 0, line = 0;
    while (i < len && !st) {
        size_t j = i;
        while (j < len && b[j] != '\n')
            j++;
        size_t e = j;
        if (e > i && b[e - 1] == '\r')
            e--;
        line++;
        const char *s = (const char *)b + i;
        size_t n = e - i;
        i = j + 1;
        if (n == 0)
            continue;
        const char *comma = memchr(s, ',', n);
        if (!comma || comma == s || comma == s + n - 1 || memchr(comma + 1, ',', (size_t)(s + n - comma - 1)) ||
            memchr(s, '/', (size_t)(comma - s)) || memchr(s, 0, n)) {
            st = cgalr_fail(CGALR_EFORMAT, "csv '%s' line %zu: '%.*s', expected filename,label", path, line,
                            (int)(n > 60 ? 60 : n), s);
            break;
        }
        if (line == 1 && !strncmp(s, "filename,label", n))
            continue;
        st = sl_push(files, s, (size_t)(comma - s));
        if (!st)
            st = sl_push(labs, comma + 1, (size_t)(s + n - comma - 1));
    }
    free(b);
    return st;
}

static cgalr_status_t mini_decode(void *vctx, size_t i, int32_t label, uint8_t origin, img_set_t *s)
{
    mini_ctx_t *ctx = vctx;
    int sp = split_pos(ctx->files, &i);
    char *p = data_str_printf("%s/images/%s", ctx->root, ctx->files[sp].s[i]);
    if (!p)
        return cgalr_fail(CGALR_ENOMEM, "out of memory");
    cgalr_status_t st = add_image_file(s, p, label, origin, ctx->resize);
    free(p);
    return st;
}

static cgalr_status_t mini_build(void *vctx, folder_result_t *out)
{
    build_ctx_t *bc = vctx;
    mini_ctx_t *ctx = bc->src;
    int32_t *labels[CGALR_N_SPLITS] = {0};
    cgalr_status_t st = CGALR_OK;
    for (int s = 0; s < CGALR_N_SPLITS && !st; s++) {
        labels[s] = malloc((ctx->labs[s].n + 1) * sizeof *labels[s]);
        if (!labels[s])
            st = cgalr_fail(CGALR_ENOMEM, "out of memory");
        for (size_t i = 0; i < ctx->labs[s].n && !st; i++)
            labels[s][i] = (int32_t)sl_find(&ctx->classes, ctx->labs[s].s[i]);
    }
    size_t n;
    int32_t *lab = NULL;
    uint8_t *origin = NULL;
    if (!st)
        st = flat_labels(ctx->files, labels, &n, &lab, &origin);
    if (!st)
        st = decode_samples(bc->sel, n, lab, origin, ctx->classes.n, mini_decode, ctx, out);
    for (int s = 0; s < CGALR_N_SPLITS; s++)
        free(labels[s]);
    free(lab);
    free(origin);
    return st ? st : copy_classes(&ctx->classes, out);
}

cgalr_status_t data_miniimagenet_load(const char *root, size_t resize, const char *cache_dir,
                                 const cgalr_data_config_t *sel, folder_result_t *out)
{
    static const char *const csv[CGALR_N_SPLITS] = {"train.csv", "val.csv", "test.csv"};
    mini_ctx_t ctx;
    memset(&ctx, 0, sizeof ctx);
    memset(out, 0, sizeof *out);
    ctx.root = root;
    ctx.resize = resize;
    cgalr_status_t st = CGALR_OK;
    uint64_t key = fnv(0xcbf29ce484222325ULL, &resize, sizeof resize);
    for (int s = 0; s < CGALR_N_SPLITS && !st; s++) {
        char *p = data_str_printf("%s/%s", root, csv[s]);
        if (!p)
            return cgalr_fail(CGALR_ENOMEM, "out of memory");
        if (s > 0 && !data_path_is_file(p)) {
            free(p);
            continue;
        }
        st = read_csv(p, &ctx.files[s], &ctx.labs[s]);
        key = fnv_stat(key, p);
        free(p);
    }
    if (!st && ctx.files[0].n == 0)
        st = cgalr_fail(CGALR_EFORMAT, "mini-imagenet '%s/train.csv': no rows", root);
    for (int s = 0; s < CGALR_N_SPLITS && !st; s++)
        for (size_t i = 0; i < ctx.labs[s].n && !st; i++) {
            st = sl_push(&ctx.classes, ctx.labs[s].s[i], strlen(ctx.labs[s].s[i]));
            char *img = data_str_printf("%s/images/%s", root, ctx.files[s].s[i]);
            if (!img)
                st = cgalr_fail(CGALR_ENOMEM, "out of memory");
            else if (!data_path_is_file(img))
                st = cgalr_fail(CGALR_EIO, "mini-imagenet '%s' row %zu: image '%s' not found", csv[s], i + 1, img);
            else
                key = fnv_stat(key, img);
            free(img);
        }
    if (!st) {
        sl_sort_unique(&ctx.classes);
        build_ctx_t bc = {&ctx, sel};
        st = cached(cache_dir, root, key, mini_build, &bc, out);
    }
    sl_free(&ctx.classes);
    for (int s = 0; s < CGALR_N_SPLITS; s++) {
        sl_free(&ctx.files[s]);
        sl_free(&ctx.labs[s]);
    }
    return st;
}

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
    strlist_t classes;
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
        return sl_push(&ctx->classes, it->cls, strlen(it->cls));
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
    return add_image(s, name, it->data, it->len, label, origin, 0);
}

static cgalr_status_t tarjpg_build(void *vctx, folder_result_t *out)
{
    build_ctx_t *bc = vctx;
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
        sl_sort_unique(&ctx.classes);
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
            long l = sl_find(&ctx.classes, it->cls);
            if (l < 0)
                st = cgalr_fail(CGALR_EFORMAT, "archive entry '%s:%s/%s/%s': class not among train/'s classes",
                                tc->path, cgalr_split_name((cgalr_split_t)it->split), it->cls, it->file);
            lab[i] = (int32_t)l;
            origin[i] = (uint8_t)it->split;
        }
    }
    if (!st) {
        tc->items = ctx.items;
        st = decode_samples(bc->sel, ctx.n, lab, origin, ctx.classes.n, tarjpg_decode, tc, out);
    }
    if (!st)
        st = take_classes(out, &ctx.classes);
    for (size_t i = 0; i < ctx.n; i++) {
        free(ctx.items[i].cls);
        free(ctx.items[i].file);
    }
    free(ctx.items);
    free(lab);
    free(origin);
    sl_free(&ctx.classes);
    free(buf);
    return st;
}

cgalr_status_t data_tarjpg_load(const char *tar_gz, const char *cache_dir, const cgalr_data_config_t *sel,
                           folder_result_t *out)
{
    tarjpg_ctx_t ctx = {tar_gz, NULL};
    build_ctx_t bc = {&ctx, sel};
    uint64_t key = fnv_stat(0xcbf29ce484222325ULL, tar_gz);
    return cached(cache_dir, tar_gz, key, tarjpg_build, &bc, out);
}
