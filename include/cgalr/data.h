/* Data layer: datasets in their published formats (IDX, CIFAR binary, JPEG/PNG image folders,
 * TU graph text files), splits, per-channel normalisation, augmentation and deterministic
 * mini-batches in the batch structs of cgalr/graph.h. Every function returns CGALR_OK or a
 * negative status with cgalr_last_error() naming the file, record or line at fault. */
#ifndef CGALR_DATA_H
#define CGALR_DATA_H

#include <stddef.h>
#include <stdint.h>

#include "cgalr/graph.h"
#include "cgalr/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum cgalr_data_kind {
    CGALR_DATA_IMAGE = 1, /* samples are c x h x w images (or flat vectors) */
    CGALR_DATA_GRAPH = 2  /* samples are graphs with node features */
} cgalr_data_kind_t;

typedef enum cgalr_split {
    CGALR_SPLIT_TRAIN = 0,
    CGALR_SPLIT_VAL = 1,
    CGALR_SPLIT_TEST = 2
} cgalr_split_t;
#define CGALR_N_SPLITS 3

/* The split's name: "train", "val", "test" ("?" for anything else). */
CGALR_API const char *cgalr_split_name(cgalr_split_t split);

/* ---- Opening a dataset -------------------------------------------------------------------
 * Names: mnist, fashion-mnist, cifar10, cifar100, mini-imagenet, mutag, enzymes, proteins,
 * tu:NAME (any TU dataset), folder:PATH (any image folder PATH/{train,val,test}/<class>/...).
 * Data directory: cfg->data_dir, else $CGALR_DATA, else ./data. Where each dataset is looked for
 * under that directory D:
 *   mnist          D/mnist/ or D/MNIST/raw/: {train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]
 *   fashion-mnist  D/fashion-mnist/, D/FashionMNIST/raw/, then /usr/share/datasets/fashion-mnist
 *   cifar10        D/cifar-10-batches-bin/ (official binary) if present, else the JPEG copy:
 *                  D/cifar10-jpg/{train,test}/<class>/NNNN.jpg (scripts/fetch-data.sh unpacks it),
 *                  else the archive D/cifar10-jpg/cifar10-jpg.tar.gz read directly, else the same
 *                  two under ../shared/data; display name "CIFAR-10 (JPEG q75 copy)"
 *   cifar100       D/cifar-100-binary/{train,test}.bin (fine labels unless cfg->cifar100_coarse)
 *   mini-imagenet  D/mini-imagenet/ holding images/ and train.csv, val.csv, test.csv
 *                  (filename,label); images resized to 84 x 84 unless cfg->resize says otherwise
 *   mutag, enzymes, proteins, tu:NAME
 *                  D/TU/NAME/ or D/NAME/ (original TU file names NAME_A.txt, ...), then
 *                  ../shared/data/TU/NAME/
 * Decoded JPEG/PNG images are cached in a binary file so decoding happens once, in cfg->cache_dir,
 * else $CGALR_CACHE_DIR, else $XDG_CACHE_HOME/cgalr, else $HOME/.cache/cgalr; never in the data
 * directory, which is only read. Each source gets its own file, keyed by its absolute path, the
 * files' sizes and mtimes and the resize; a stale or corrupt cache (checksummed) is rebuilt. With
 * cfg->limit only the images the splits use are decoded, and such a partial decode is not cached.
 * A cache directory that cannot be written (read-only HOME; directories without write permission
 * bits count as read-only even for root) is no error: the images are decoded in memory. */
typedef struct cgalr_data_config {
    const char *name;         /* required, see above */
    const char *data_dir;     /* NULL: $CGALR_DATA, else ./data */
    const char *cache_dir;    /* NULL: the default place above; "" disables the cache */
    double val_fraction;      /* validation carved (stratified) from train; default 0.1; 0 = none.
                                 Ignored where the dataset ships a validation split. */
    uint64_t split_seed;      /* drives every split (default 0) */
    int folds;                /* graphs: 0 = stratified 80/10/10 train/val/test (default);
                                 k >= 2 = stratified k-fold: test = fold `fold`, validation carved
                                 from the rest with val_fraction */
    int fold;                 /* 0 .. folds-1 */
    int node_attr;            /* graphs: prepend node attributes standardised with training-split
                                 statistics to the one-hot label (PyG use_node_attr) */
    int degree_features;      /* graphs without node labels: one-hot degree instead of a constant 1 */
    int normalize;            /* images: per-channel (x - mean) / std with training-split statistics
                                 (default 1); 0 gives pixel / 255 */
    int augment_crop;         /* images, training split: random crop with 4-pixel zero padding */
    int augment_flip;         /* images, training split: horizontal flip with probability 1/2 */
    int cifar100_coarse;      /* cifar100: 20 coarse labels instead of 100 fine ones */
    int resize;               /* image folders: resize to resize x resize (bilinear); 0 = keep
                                 (all images must then share one size); mini-imagenet default 84 */
    size_t limit;             /* keep at most this many samples per split (a uniform random
                                 subset drawn by split_seed, for quick runs); 0 = all */
    size_t train_subset;      /* images: keep this many of the training pool, equal numbers per
                                 class, drawn by split_seed, before validation is carved from it
                                 (the test split stays whole); 0 = all */
} cgalr_data_config_t;

/* Fills the defaults listed above (name NULL: the caller sets it). */
CGALR_API void cgalr_data_config_default(cgalr_data_config_t *cfg);

typedef struct cgalr_dataset cgalr_dataset_t;

/* Resolves, parses and validates the dataset, computes the splits, the normalisation
 * statistics and (graphs) the node features. The dataset is read-only afterwards: several
 * loaders (on several threads) may share it. Errors: CGALR_EINVAL (bad config or unknown name,
 * the message lists the valid names), CGALR_EIO (files not found: the message lists the paths
 * tried), CGALR_EFORMAT (malformed file: names file and record or line), CGALR_ENOMEM. */
CGALR_API cgalr_status_t cgalr_dataset_open(const cgalr_data_config_t *cfg, cgalr_dataset_t **out);
/* The TU graph set a dataset name stands for ("MUTAG" for mutag, the rest of tu:NAME), or NULL
 * for an image dataset or an unknown name: the kind told from the name alone, before any file is
 * read, so options of the other kind can be refused first. */
CGALR_API const char *cgalr_data_graph_name(const char *name);
CGALR_API void cgalr_dataset_free(cgalr_dataset_t *ds);

/* What a dataset resolved to. All pointers are owned by the dataset. */
typedef struct cgalr_data_info {
    cgalr_data_kind_t kind;
    const char *name;          /* canonical name: "fashion-mnist", "cifar10", "tu:MUTAG", ... */
    const char *display_name;  /* for results: "Fashion-MNIST", "CIFAR-10 (JPEG q75 copy)", "MUTAG" */
    const char *source;        /* resolved files or directories, one per line */
    const char *cache_file;    /* decoded-image cache used, or NULL */
    size_t decoded;            /* JPEG/PNG images decoded by this open: 0 when all came from the
                                  cache; with cfg->limit only the samples the splits use */
    size_t classes;
    const char *const *class_names; /* `classes` entries ("0", "1", ... where files have none) */
    size_t samples[CGALR_N_SPLITS];
    const size_t *class_counts[CGALR_N_SPLITS]; /* per split, `classes` entries */

    /* images */
    size_t c, h, w;            /* input shape (0 for graphs) */
    const float *mean, *std;   /* c entries: statistics of the training split, pixel / 255
                                  (mean 0, std 1 when normalisation is off) */

    /* graphs; statistics over the whole dataset, edges undirected, after duplicate removal */
    size_t feat_dim;           /* node-feature width (images: c * h * w) */
    size_t graphs, nodes, edges;
    double avg_nodes, avg_edges;
    size_t min_nodes, max_nodes;
    size_t node_label_values;  /* distinct node labels (0: the dataset has none) */
    size_t node_attr_dim;      /* node attributes per node in the files (0: none) */
    size_t duplicate_edges;    /* directed edge lines dropped: duplicates and self loops */
} cgalr_data_info_t;

CGALR_API const cgalr_data_info_t *cgalr_dataset_info(const cgalr_dataset_t *ds);

/* The class labels of a split in split order (info.samples[split] entries, owned by the
 * dataset): what a stratified probe set or a confusion matrix needs. */
CGALR_API const int32_t *cgalr_dataset_labels(const cgalr_dataset_t *ds, cgalr_split_t split);

/* The dataset-wide sample number of each position of a split (info.samples[split] entries, owned
 * by the dataset, ascending): images count the files' training records first (in file order),
 * then validation, then test records; graphs are numbered as in the TU files, from 0. */
CGALR_API const size_t *cgalr_dataset_split_ids(const cgalr_dataset_t *ds, cgalr_split_t split);

/* ---- Mini-batches ------------------------------------------------------------------------
 * A loader walks one split. Batch b of epoch e is a pure function of (dataset, loader config,
 * e, b): the order of an epoch is a permutation drawn from (seed, CGALR_STREAM_SHUFFLE, e), and a
 * sample's crop and flip from (seed, CGALR_STREAM_AUGMENT, e, its position in the epoch), so a
 * resumed run may restart at any (epoch, batch) and get bit-identical batches. */
typedef struct cgalr_loader_config {
    cgalr_split_t split;
    size_t batch_size;  /* >= 1 */
    uint64_t seed;      /* the run seed */
    int shuffle;        /* permute per epoch (default: 1 for train, 0 otherwise) */
    int augment;        /* apply the dataset's crop/flip options (default: 1 for train) */
    int drop_last;      /* skip a final incomplete batch (default 0) */
} cgalr_loader_config_t;

/* Defaults for a split, as listed above; batch_size = 128, seed = 0. */
CGALR_API void cgalr_loader_config_default(cgalr_loader_config_t *cfg, cgalr_split_t split);

typedef struct cgalr_loader cgalr_loader_t;

/* The loader keeps a pointer to ds, which must outlive it. An empty split is valid (zero
 * batches). A loader owns its batch buffers: use it from one thread at a time. */
CGALR_API cgalr_status_t cgalr_loader_create(const cgalr_dataset_t *ds, const cgalr_loader_config_t *cfg,
                                   cgalr_loader_t **out);
CGALR_API void cgalr_loader_free(cgalr_loader_t *ld);

/* Samples in the loader's split, and batches per epoch. */
CGALR_API size_t cgalr_loader_size(const cgalr_loader_t *ld);
CGALR_API size_t cgalr_loader_n_batches(const cgalr_loader_t *ld);

/* One batch, ready for the engine. For graph datasets `graph` is filled, for image datasets
 * `image`; `index` holds the n sample indices (positions in the split) the batch contains. The
 * pointers stay valid until the next batch/gather call on this loader or its free. */
typedef struct cgalr_batch {
    cgalr_data_kind_t kind;
    size_t n;
    cgalr_image_batch_t image;
    cgalr_graph_batch_t graph;
    const size_t *index;
} cgalr_batch_t;

/* Batch b (0 <= b < n_batches) of epoch `epoch`. */
CGALR_API cgalr_status_t cgalr_loader_batch(cgalr_loader_t *ld, uint64_t epoch, size_t b, cgalr_batch_t *out);
/* Part `part` of `parts` of batch b (data-parallel training: one part per rank): its samples
 * [n part / parts, n (part + 1) / parts) of the batch's n, each prepared exactly as in the whole
 * batch. A part may be empty (n < parts): out->n = 0. */
CGALR_API cgalr_status_t cgalr_loader_batch_part(cgalr_loader_t *ld, uint64_t epoch, size_t b, size_t part,
                                                 size_t parts, cgalr_batch_t *out);

/* The samples idx[0..n) (positions in the loader's split, repeats allowed) as one batch, in that
 * order, never augmented: the probe set of the connectome uses this. */
CGALR_API cgalr_status_t cgalr_loader_gather(cgalr_loader_t *ld, const size_t *idx, size_t n, cgalr_batch_t *out);

/* The sample order of an epoch: order[k] = position in the split of the k-th sample (size()
 * entries, caller-allocated). */
CGALR_API cgalr_status_t cgalr_loader_order(const cgalr_loader_t *ld, uint64_t epoch, size_t *order);

#ifdef __cplusplus
}
#endif
#endif
