/* File helpers of the data layer: whole-file reads (transparently gunzipped), path tests, and the
 * growable image set every image loader appends to. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "data/data_internal.h"

int data_path_is_dir(const char *path)
{
    struct stat st;
    return path && stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

int data_path_is_file(const char *path)
{
    struct stat st;
    return path && stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

char *data_str_printf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return NULL;
    char *s = malloc((size_t)n + 1);
    if (!s)
        return NULL;
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return s;
}

cgalr_status_t data_read_file(const char *path, size_t cap, uint8_t **buf, size_t *len)
{
    *buf = NULL;
    *len = 0;
    if (!data_path_is_file(path))
        return cgalr_fail(CGALR_EIO, "'%s': not found or not a regular file", path);
    /* gzread passes non-gzip files through unchanged, so one path serves .gz and raw files;
     * the buffer grows with what is actually read, never with a size claimed by the file. */
    gzFile f = gzopen(path, "rb");
    if (!f)
        return cgalr_fail(CGALR_EIO, "'%s': cannot open: %s", path, strerror(errno));
    gzbuffer(f, 1 << 17);
    size_t size = 0, alloc = 1 << 16;
    uint8_t *b = malloc(alloc);
    if (!b) {
        gzclose(f);
        return cgalr_fail(CGALR_ENOMEM, "'%s': out of memory", path);
    }
    for (;;) {
        if (size == alloc) {
            if (alloc >= cap) {
                free(b);
                gzclose(f);
                return cgalr_fail(CGALR_EFORMAT, "'%s': larger than %zu bytes after decompression",
                                  path, cap);
            }
            size_t na = alloc * 2 > cap ? cap : alloc * 2;
            uint8_t *nb = realloc(b, na);
            if (!nb) {
                free(b);
                gzclose(f);
                return cgalr_fail(CGALR_ENOMEM, "'%s': out of memory at %zu bytes", path, na);
            }
            b = nb;
            alloc = na;
        }
        size_t want = alloc - size;
        if (want > (1u << 30))
            want = 1u << 30;
        int got = gzread(f, b + size, (unsigned)want);
        if (got < 0) {
            int zerr;
            const char *msg = gzerror(f, &zerr);
            cgalr_status_t st = cgalr_fail(CGALR_EFORMAT, "'%s': corrupt or truncated gzip data after %zu bytes: %s",
                                           path, size, msg);
            free(b);
            gzclose(f);
            return st;
        }
        if (got == 0)
            break;
        size += (size_t)got;
    }
    /* A gzip stream cut short reads as a clean end in some zlib versions: ask explicitly. */
    int zerr = Z_OK;
    const char *msg = gzerror(f, &zerr);
    if (zerr != Z_OK && zerr != Z_STREAM_END) {
        cgalr_status_t st = cgalr_fail(CGALR_EFORMAT, "'%s': corrupt or truncated gzip data: %s", path, msg);
        free(b);
        gzclose(f);
        return st;
    }
    gzclose(f);
    *buf = b;
    *len = size;
    return CGALR_OK;
}

void data_img_set_free(img_set_t *s)
{
    if (!s)
        return;
    free(s->pix);
    free(s->labels);
    free(s->origin);
    free(s->row);
    memset(s, 0, sizeof *s);
}

static cgalr_status_t img_set_shape(img_set_t *s, size_t c, size_t h, size_t w, const char *what)
{
    if (c == 0 || h == 0 || w == 0)
        return cgalr_fail(CGALR_EFORMAT, "%s: empty image shape %zu x %zu x %zu", what, c, h, w);
    if (s->c == 0) {
        s->c = c;
        s->h = h;
        s->w = w;
        return CGALR_OK;
    }
    if (s->c != c || s->h != h || s->w != w)
        return cgalr_fail(CGALR_EFORMAT, "%s: image shape %zu x %zu x %zu, expected %zu x %zu x %zu like the "
                          "earlier ones (use a fixed resize)", what, c, h, w, s->c, s->h, s->w);
    return CGALR_OK;
}

cgalr_status_t data_img_set_grow(img_set_t *s, size_t c, size_t h, size_t w, size_t more, const char *what,
                                 uint8_t **pix)
{
    cgalr_status_t st = img_set_shape(s, c, h, w, what);
    if (st)
        return st;
    size_t per = s->c * s->h * s->w;
    if (s->n + more > s->cap) {
        size_t nc = s->cap ? s->cap : 1024;
        while (nc < s->n + more)
            nc *= 2;
        uint8_t *p = realloc(s->pix, nc * per);
        if (!p)
            return cgalr_fail(CGALR_ENOMEM, "out of memory for %zu images", nc);
        s->pix = p;
        int32_t *l = realloc(s->labels, nc * sizeof *l);
        if (!l)
            return cgalr_fail(CGALR_ENOMEM, "out of memory for %zu labels", nc);
        s->labels = l;
        uint8_t *o = realloc(s->origin, nc);
        if (!o)
            return cgalr_fail(CGALR_ENOMEM, "out of memory for %zu labels", nc);
        s->origin = o;
        s->cap = nc;
    }
    if (pix)
        *pix = s->pix + s->n * per;
    return CGALR_OK;
}
