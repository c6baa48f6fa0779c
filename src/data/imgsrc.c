/* The pieces every image source shares: sorted string lists, directory listings, decoding one
 * image into a set, and decoding a source's samples (all, or the ones a --limit keeps). */
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
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


void data_sl_free(data_strlist_t *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->s[i]);
    free(l->s);
    memset(l, 0, sizeof *l);
}

cgalr_status_t data_sl_push(data_strlist_t *l, const char *s, size_t len)
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

void data_sl_sort_unique(data_strlist_t *l)
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

long data_sl_find(const data_strlist_t *l, const char *s)
{
    char *const *hit = bsearch(&s, l->s, l->n, sizeof *l->s, cmp_str);
    return hit ? (long)(hit - l->s) : -1;
}

/* Entries of a directory (sorted by name); dirs = 1 keeps sub-directories, 0 image files. */
cgalr_status_t data_list_dir(const char *path, int dirs, data_strlist_t *out)
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
            st = data_sl_push(out, e->d_name, strlen(e->d_name));
    }
    closedir(d);
    if (!st)
        qsort(out->s, out->n, sizeof *out->s, cmp_str);
    return st;
}

/* Decodes one file's bytes and appends it (resized when resize > 0). */
cgalr_status_t data_add_image(img_set_t *s, const char *name, const uint8_t *buf, size_t len, int32_t label,
                                uint8_t origin, size_t resize)
{
    uint8_t *pix;
    size_t h, w;
    cgalr_status_t st = data_image_decode(name, buf, len, &pix, &h, &w);
    if (st)
        return st;
    size_t oh = resize ? resize : h, ow = resize ? resize : w;
    uint8_t *dst;
    st = data_img_set_grow(s, 3, oh, ow, 1, name, &dst);
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

cgalr_status_t data_add_image_file(img_set_t *s, int32_t label, uint8_t origin, size_t resize, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *path = NULL;
    int n = vasprintf(&path, fmt, ap);
    va_end(ap);
    if (n < 0)
        return cgalr_fail(CGALR_ENOMEM, "out of memory");
    uint8_t *buf;
    size_t len;
    cgalr_status_t st = data_read_file(path, (size_t)1 << 28, &buf, &len);
    if (st == CGALR_OK) {
        st = data_add_image(s, path, buf, len, label, origin, resize);
        free(buf);
    }
    free(path);
    return st;
}

cgalr_status_t data_take_classes(folder_result_t *out, data_strlist_t *classes)
{
    out->class_names = classes->s;
    out->classes = classes->n;
    memset(classes, 0, sizeof *classes);
    return CGALR_OK;
}


/* Decodes the n samples of a source (labels, origin known from its listing) into out->set: all
 * of them, or with sel->limit only those data_select keeps, the others left undecoded (row map). */
cgalr_status_t data_decode_samples(const cgalr_data_config_t *sel, size_t n, const int32_t *labels,
                                     const uint8_t *origin, size_t classes, data_decode_fn fn, void *ctx,
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

/* Sample numbering of folder sources: train files, then val, then test, each in listing order.
 * Turns sample i into (split, position in it). */
int data_split_pos(const data_strlist_t files[CGALR_N_SPLITS], size_t *i)
{
    int s = 0;
    while (s < CGALR_N_SPLITS - 1 && *i >= files[s].n)
        *i -= files[s++].n;
    return s;
}

/* The labels and origins of all samples in that numbering (two malloc'ed arrays). */
cgalr_status_t data_flat_labels(const data_strlist_t files[CGALR_N_SPLITS], int32_t *const labels[CGALR_N_SPLITS],
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

cgalr_status_t data_copy_classes(const data_strlist_t *classes, folder_result_t *out)
{
    data_strlist_t copy = {0, 0, NULL};
    for (size_t k = 0; k < classes->n; k++)
        if (data_sl_push(&copy, classes->s[k], strlen(classes->s[k]))) {
            data_sl_free(&copy);
            return cgalr_fail(CGALR_ENOMEM, "out of memory");
        }
    return data_take_classes(out, &copy);
}
