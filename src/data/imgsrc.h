/* What the image sources (folder.c, miniimagenet.c, tar.c) share, private to the data layer:
 * sorted string lists and directory listings (imgsrc.c), decoding samples into an image set, and
 * the cache of decoded pixels (imgcache.c). */
#ifndef CGALR_DATA_IMGSRC_H
#define CGALR_DATA_IMGSRC_H

#include "data/data_internal.h"

#define ARCHIVE_CAP ((size_t)1 << 31) /* the largest archive or cache file read (2 GiB) */

typedef struct strlist {
    size_t n, cap;
    char **s;
} data_strlist_t;

void data_sl_free(data_strlist_t *l);
cgalr_status_t data_sl_push(data_strlist_t *l, const char *s, size_t len);
void data_sl_sort_unique(data_strlist_t *l);
long data_sl_find(const data_strlist_t *l, const char *s);
cgalr_status_t data_list_dir(const char *path, int dirs, data_strlist_t *out);

/* Appends sample i (label, origin) of a source to s. */
typedef cgalr_status_t (*data_decode_fn)(void *ctx, size_t i, int32_t label, uint8_t origin, img_set_t *s);

cgalr_status_t data_add_image(img_set_t *s, const char *name, const uint8_t *buf, size_t len, int32_t label,
                                uint8_t origin, size_t resize);
/* Reads and decodes the image file whose path is fmt... (printf-style) and appends it. */
cgalr_status_t data_add_image_file(img_set_t *s, int32_t label, uint8_t origin, size_t resize, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
cgalr_status_t data_take_classes(folder_result_t *out, data_strlist_t *classes);
cgalr_status_t data_decode_samples(const cgalr_data_config_t *sel, size_t n, const int32_t *labels,
                                     const uint8_t *origin, size_t classes, data_decode_fn fn, void *ctx,
                                     folder_result_t *out);

/* The cache key folded with a file's name, size and mtime (a changed file is a new key). */
uint64_t data_fnv_stat(uint64_t h, const char *path);
/* Uses the cache when it matches `key`; otherwise runs `build` and caches what it decoded unless
 * that was only part of the source. */
typedef cgalr_status_t (*data_build_fn)(void *ctx, folder_result_t *out);
cgalr_status_t data_cached(const char *cache_dir, const char *src, uint64_t key, data_build_fn build, void *ctx,
                             folder_result_t *out);

/* Folder-style sample numbering: train files, then val, then test, each in listing order. Turns
 * sample i into (split, position in it). */
int data_split_pos(const data_strlist_t files[CGALR_N_SPLITS], size_t *i);
/* The labels and origins of all samples in that numbering (two malloc'ed arrays). */
cgalr_status_t data_flat_labels(const data_strlist_t files[CGALR_N_SPLITS], int32_t *const labels[CGALR_N_SPLITS],
                                  size_t *n, int32_t **lab, uint8_t **origin);
cgalr_status_t data_copy_classes(const data_strlist_t *classes, folder_result_t *out);
/* A source's context and the selection passed to its build step through data_cached. */
typedef struct build_ctx {
    void *src;
    const cgalr_data_config_t *sel;
} data_build_ctx_t;

#endif
