/* Private to the data layer: the dataset struct and the format parsers, which work on memory
 * buffers so the libFuzzer targets (fuzz/) can drive them without files. */
#ifndef CGALR_DATA_INTERNAL_H
#define CGALR_DATA_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "cgalr/data.h"

/* Growable set of images, all of one shape, stored as bytes in CHW order per sample. */
typedef struct img_set {
    size_t n, cap;
    size_t c, h, w;
    uint8_t *pix;
    int32_t *labels;
    uint8_t *origin; /* CGALR_SPLIT_* the files assign (train, val or test) */
    size_t *row;     /* NULL: sample i is row i of pix. Else only the samples an open uses were
                        decoded: sample i is row row[i] (SIZE_MAX: not decoded); the set is final
                        (labels and origin still cover all n samples) */
} img_set_t;

static inline const uint8_t *img_sample(const img_set_t *s, size_t i)
{
    return s->pix + (s->row ? s->row[i] : i) * s->c * s->h * s->w;
}

void data_img_set_free(img_set_t *s);
/* Room for `more` samples of shape c x h x w; returns a pointer to the first new sample's pixels
 * (pix may be NULL). The first call sets the set's shape, later ones must match it (`what` names
 * the source in the error). */
cgalr_status_t data_img_set_grow(img_set_t *s, size_t c, size_t h, size_t w, size_t more, const char *what,
                                 uint8_t **pix);

/* Parsed TU dataset, before features: everything 0-based, node ids global. */
typedef struct tu_raw {
    size_t n_graphs, n_nodes;
    size_t *node_ptr;      /* n_graphs + 1: graph g owns nodes node_ptr[g] .. node_ptr[g+1]-1 */
    int32_t *adj_ptr;      /* n_nodes + 1, CSR of the undirected graph, sorted, no duplicates */
    int32_t *adj;
    size_t n_edges;        /* undirected */
    size_t duplicates;     /* directed lines dropped */
    int32_t *graph_label;  /* remapped to 0..classes-1 in sorted order of the raw values */
    size_t classes;
    long *class_values;    /* classes entries: the raw value of each class */
    int32_t *node_label;   /* remapped, or NULL */
    size_t node_label_values;
    float *node_attr;      /* n_nodes x attr_dim, or NULL */
    size_t attr_dim;
} tu_raw_t;

void data_tu_raw_free(tu_raw_t *t);

/* A text file in memory for the TU parser (buf need not be NUL-terminated). */
typedef struct tu_text {
    const char *name; /* for messages */
    const char *buf;
    size_t len;
} tu_text_t;

/* indicator, A and graph_labels are required; node_labels and node_attr may have buf NULL. */
cgalr_status_t data_tu_parse(const tu_text_t *indicator, const tu_text_t *a, const tu_text_t *glabels,
                        const tu_text_t *nlabels, const tu_text_t *nattr, tu_raw_t *out);

/* IDX: checks magic (0x0000 08 ndim), dims against the buffer length; returns the count, the
 * per-item shape (rows, cols = 1 for ndim 1) and the payload. */
cgalr_status_t data_idx_parse(const char *name, const uint8_t *buf, size_t len, int ndim, size_t *count,
                         size_t *rows, size_t *cols, const uint8_t **payload);
/* Appends the images+labels pair of IDX buffers to s (c = 1), with origin `split`. */
cgalr_status_t data_idx_load_pair(const char *img_name, const uint8_t *img, size_t img_len,
                             const char *lab_name, const uint8_t *lab, size_t lab_len,
                             uint8_t split, img_set_t *s);

/* CIFAR binary: label_bytes 1 (CIFAR-10: label < 10) or 2 (CIFAR-100: coarse < 20, fine < 100;
 * `coarse` picks which). Appends 3 x 32 x 32 records with origin `split`. */
cgalr_status_t data_cifar_parse(const char *name, const uint8_t *buf, size_t len, int label_bytes,
                           int coarse, uint8_t split, img_set_t *s);

/* JPEG or PNG (by signature) from memory to 8-bit RGB, CHW, *pix malloc'ed. */
cgalr_status_t data_image_decode(const char *name, const uint8_t *buf, size_t len, uint8_t **pix,
                            size_t *h, size_t *w);
/* Bilinear resize of a 3-channel CHW image (half-pixel centres; the filter widens when
 * shrinking, as PIL and torch's antialiased interpolate do). */
cgalr_status_t data_image_resize(const uint8_t *src, size_t h, size_t w, uint8_t *dst, size_t oh, size_t ow);

/* Whole file into memory, gunzipped when it starts with the gzip magic. At most `cap` bytes
 * after decompression (larger is CGALR_EFORMAT). */
cgalr_status_t data_read_file(const char *path, size_t cap, uint8_t **buf, size_t *len);
int data_path_is_dir(const char *path);
int data_path_is_file(const char *path);
/* asprintf-like into a malloc'ed string (NULL on allocation failure). */
char *data_str_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Image folder / mini-imagenet / CIFAR-10 JPEG archive loaders (folder.c). */
typedef struct folder_result {
    img_set_t set;
    char **class_names;
    size_t classes;
    char *cache_file; /* cache actually used, or NULL */
    size_t decoded;   /* images decoded from their files by this load (0: all from the cache) */
} folder_result_t;

void data_folder_result_free(folder_result_t *r);
/* Which of n_all samples (labels, origin) an open with `cfg` uses: keep[i] = 1 for the members
 * of its splits after cfg->limit, *kept of them (splits.c, the one owner of the splits). */
/* splits.c: the splits of ds (labels and classes set; origin: each sample's file of origin, or
 * NULL), with their labels and class counts. */
cgalr_status_t data_make_splits(cgalr_dataset_t *ds, const cgalr_data_config_t *cfg, const uint8_t *origin);
/* normalize.c: splits, then normalisation statistics (images) or node features (graphs). */
cgalr_status_t data_finish_images(cgalr_dataset_t *ds, const cgalr_data_config_t *cfg);
cgalr_status_t data_finish_graphs(cgalr_dataset_t *ds, const cgalr_data_config_t *cfg);
cgalr_status_t data_select(const cgalr_data_config_t *cfg, size_t n_all, const int32_t *labels, size_t classes,
                           const uint8_t *origin, uint8_t *keep, size_t *kept);
/* The loaders below keep a cache of decoded pixels in cache_dir (NULL: none), one file per
 * source named after it and a key of its absolute path, the files' sizes and mtimes and the
 * resize. With sel->limit (sel may be NULL) only the samples data_select keeps are decoded, and a
 * partial decode is never written to the cache (a complete cache is still read). */
/* root/{train,val,test}/<class>/ images; resize 0 keeps sizes (must agree). */
cgalr_status_t data_folder_load(const char *root, size_t resize, const char *cache_dir, const cgalr_data_config_t *sel,
                           folder_result_t *out);
/* root/images + train.csv, val.csv, test.csv */
cgalr_status_t data_miniimagenet_load(const char *root, size_t resize, const char *cache_dir,
                                 const cgalr_data_config_t *sel, folder_result_t *out);
/* The CIFAR-10 JPEG archive (tar.gz holding train/<class>/x.jpg, test/<class>/x.jpg). */
cgalr_status_t data_tarjpg_load(const char *tar_gz, const char *cache_dir, const cgalr_data_config_t *sel,
                           folder_result_t *out);
/* Tar parsing from memory (fuzzed): calls fn for each regular file. */
typedef cgalr_status_t (*tar_entry_fn)(void *ctx, const char *path, const uint8_t *data, size_t len);
cgalr_status_t data_tar_walk(const char *name, const uint8_t *buf, size_t len, tar_entry_fn fn, void *ctx);

struct cgalr_dataset {
    cgalr_data_info_t info;
    char *name, *display, *source, *cache_file;
    char **class_names;
    size_t n_all;
    int32_t *labels;       /* n_all */
    /* images */
    img_set_t img;
    size_t sample_len;     /* c * h * w */
    float mean[3], std[3];
    float lut[3][256];     /* pixel byte -> normalised value per channel */
    int augment_crop, augment_flip;
    /* graphs */
    tu_raw_t tu;
    float *feat;           /* n_nodes x feat_dim */
    /* splits: positions in the split -> sample ids */
    size_t *split_idx[CGALR_N_SPLITS];
    int32_t *split_labels[CGALR_N_SPLITS];
    size_t *class_counts[CGALR_N_SPLITS];
};

#endif
