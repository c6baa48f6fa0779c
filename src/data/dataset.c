/* Opening a dataset: the table of names, their resolution along the data search path and the
 * dispatch to the format parsers; the splits are splits.c's, the normalisation and graph node
 * features normalize.c's. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cgalr/rng.h"
#include "data/data_internal.h"

#define FILE_CAP ((size_t)1 << 31) /* the largest single file accepted (2 GiB decompressed) */
#define SHARED_DATA "../shared/data"

static const char *const FASHION_NAMES[10] = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                               "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"};
static const char *const CIFAR10_NAMES[10] = {"airplane", "automobile", "bird", "cat", "deer",
                                               "dog", "frog", "horse", "ship", "truck"};
static const char *const VALID_NAMES = "mnist, fashion-mnist, cifar10, cifar100, mini-imagenet, mutag, "
                                       "enzymes, proteins, tu:NAME, folder:PATH";

const char *cgalr_split_name(cgalr_split_t split)
{
    switch (split) {
    case CGALR_SPLIT_TRAIN: return "train";
    case CGALR_SPLIT_VAL: return "val";
    case CGALR_SPLIT_TEST: return "test";
    }
    return "?";
}

void cgalr_data_config_default(cgalr_data_config_t *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->val_fraction = 0.1;
    cfg->normalize = 1;
}

void cgalr_dataset_free(cgalr_dataset_t *ds)
{
    if (!ds)
        return;
    free(ds->name);
    free(ds->display);
    free(ds->source);
    free(ds->cache_file);
    if (ds->class_names)
        for (size_t k = 0; k < ds->info.classes; k++)
            free(ds->class_names[k]);
    free(ds->class_names);
    free(ds->labels);
    data_img_set_free(&ds->img);
    data_tu_raw_free(&ds->tu);
    free(ds->feat);
    for (int s = 0; s < CGALR_N_SPLITS; s++) {
        free(ds->split_idx[s]);
        free(ds->split_labels[s]);
        free(ds->class_counts[s]);
    }
    free(ds);
}

const cgalr_data_info_t *cgalr_dataset_info(const cgalr_dataset_t *ds)
{
    return ds ? &ds->info : NULL;
}

const int32_t *cgalr_dataset_labels(const cgalr_dataset_t *ds, cgalr_split_t split)
{
    if (!ds || (unsigned)split >= CGALR_N_SPLITS)
        return NULL;
    return ds->split_labels[split];
}

const size_t *cgalr_dataset_split_ids(const cgalr_dataset_t *ds, cgalr_split_t split)
{
    if (!ds || (unsigned)split >= CGALR_N_SPLITS)
        return NULL;
    return ds->split_idx[split];
}

/* ---- small helpers ------------------------------------------------------------------------ */

static cgalr_status_t append_source(cgalr_dataset_t *ds, const char *line)
{
    char *s = ds->source ? data_str_printf("%s\n%s", ds->source, line) : data_str_printf("%s", line);
    if (!s)
        return cgalr_fail(CGALR_ENOMEM, "out of memory");
    free(ds->source);
    ds->source = s;
    return CGALR_OK;
}

static cgalr_status_t set_class_names(cgalr_dataset_t *ds, size_t classes, const char *const *names)
{
    ds->class_names = calloc(classes, sizeof *ds->class_names);
    if (!ds->class_names)
        return cgalr_fail(CGALR_ENOMEM, "out of memory");
    ds->info.classes = classes;
    for (size_t k = 0; k < classes; k++) {
        ds->class_names[k] = names ? data_str_printf("%s", names[k]) : data_str_printf("%zu", k);
        if (!ds->class_names[k])
            return cgalr_fail(CGALR_ENOMEM, "out of memory");
    }
    return CGALR_OK;
}

/* Whether files can be created in `path` or, if it does not exist yet, in its nearest existing
 * ancestor. Mode bits count as well as access(): as root, access() would allow writing into
 * directories deliberately left read-only. */
static int can_write_dir(const char *path)
{
    char *p = data_str_printf("%s", path);
    if (!p)
        return 0;
    struct stat st;
    while (stat(p[0] ? p : "/", &st) != 0) {
        char *slash = strrchr(p, '/');
        if (!slash) {
            strcpy(p, ".");
            continue;
        }
        *slash = 0;
    }
    const char *q = p[0] ? p : "/";
    int ok = S_ISDIR(st.st_mode) && (st.st_mode & 0222) && access(q, W_OK) == 0;
    free(p);
    return ok;
}

/* The directory for decoded-image caches, or NULL for none: cfg->cache_dir when given ("" turns the
 * cache off), else $CGALR_CACHE_DIR (clusters, tests), else $XDG_CACHE_HOME/cgalr (the base
 * directory spec ignores a relative value), else $HOME/.cache/cgalr. Never the data directory: a
 * dataset folder is left exactly as it was. A directory we may not write (read-only HOME) means no
 * cache, which only costs decoding time. */
static char *cache_root(const cgalr_data_config_t *cfg)
{
    char *c = NULL;
    const char *e = getenv("CGALR_CACHE_DIR"), *x = getenv("XDG_CACHE_HOME"), *h = getenv("HOME");
    if (cfg->cache_dir)
        c = cfg->cache_dir[0] ? data_str_printf("%s", cfg->cache_dir) : NULL;
    else if (e && e[0])
        c = data_str_printf("%s", e);
    else if (x && x[0] == '/')
        c = data_str_printf("%s/cgalr", x);
    else if (h && h[0])
        c = data_str_printf("%s/.cache/cgalr", h);
    if (c && can_write_dir(c))
        return c;
    free(c);
    return NULL;
}

/* The first of `n` candidate paths that exists as a directory, or NULL. */
static const char *first_dir(char **cand, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (cand[i] && data_path_is_dir(cand[i]))
            return cand[i];
    return NULL;
}

static void free_strs(char **s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(s[i]);
}

static cgalr_status_t not_found(const char *what, char **cand, size_t n)
{
    char msg[2048];
    size_t used = 0;
    msg[0] = 0;
    for (size_t i = 0; i < n; i++)
        if (cand[i])
            used += (size_t)snprintf(msg + used, used < sizeof msg ? sizeof msg - used : 0, "%s%s",
                                     used ? ", " : "", cand[i]);
    return cgalr_fail(CGALR_EIO, "%s: not found; looked in %s (set --data-dir or $CGALR_DATA; "
                      "scripts/fetch-data.sh downloads the official files)", what, msg);
}

/* ---- IDX ---------------------------------------------------------------------------------- */

static cgalr_status_t load_idx_file(const char *dir, const char *base, uint8_t **buf, size_t *len, char **path)
{
    *path = data_str_printf("%s/%s.gz", dir, base);
    if (!*path)
        return cgalr_fail(CGALR_ENOMEM, "out of memory");
    if (!data_path_is_file(*path)) {
        free(*path);
        *path = data_str_printf("%s/%s", dir, base);
        if (!*path)
            return cgalr_fail(CGALR_ENOMEM, "out of memory");
    }
    return data_read_file(*path, FILE_CAP, buf, len);
}

static cgalr_status_t open_idx(cgalr_dataset_t *ds, const char *dir)
{
    static const char *const pre[2] = {"train", "t10k"};
    for (int k = 0; k < 2; k++) {
        char ib[64], lb[64];
        snprintf(ib, sizeof ib, "%s-images-idx3-ubyte", pre[k]);
        snprintf(lb, sizeof lb, "%s-labels-idx1-ubyte", pre[k]);
        uint8_t *img = NULL, *lab = NULL;
        size_t il = 0, ll = 0;
        char *ip = NULL, *lp = NULL;
        cgalr_status_t st = load_idx_file(dir, ib, &img, &il, &ip);
        if (!st)
            st = load_idx_file(dir, lb, &lab, &ll, &lp);
        if (!st)
            st = data_idx_load_pair(ip, img, il, lp, lab, ll, k == 0 ? CGALR_SPLIT_TRAIN : CGALR_SPLIT_TEST, &ds->img);
        if (!st)
            st = append_source(ds, ip);
        if (!st)
            st = append_source(ds, lp);
        free(img);
        free(lab);
        free(ip);
        free(lp);
        if (st)
            return st;
    }
    return CGALR_OK;
}

static cgalr_status_t resolve_idx(cgalr_dataset_t *ds, const char *root, int fashion)
{
    char *cand[4] = {0};
    size_t n = 0;
    cand[n++] = data_str_printf("%s/%s", root, fashion ? "fashion-mnist" : "mnist");
    cand[n++] = data_str_printf("%s/%s", root, fashion ? "FashionMNIST/raw" : "MNIST/raw");
    if (fashion)
        cand[n++] = data_str_printf("/usr/share/datasets/fashion-mnist");
    for (size_t i = 0; i < n; i++)
        if (!cand[i]) {
            free_strs(cand, n);
            return cgalr_fail(CGALR_ENOMEM, "out of memory");
        }
    const char *dir = first_dir(cand, n);
    cgalr_status_t st = dir ? open_idx(ds, dir) : not_found(fashion ? "fashion-mnist" : "mnist", cand, n);
    free_strs(cand, n);
    if (st)
        return st;
    ds->display = data_str_printf("%s", fashion ? "Fashion-MNIST" : "MNIST");
    return set_class_names(ds, 10, fashion ? FASHION_NAMES : NULL);
}

/* ---- CIFAR binary ------------------------------------------------------------------------- */

static cgalr_status_t load_cifar_file(cgalr_dataset_t *ds, const char *dir, const char *base, int label_bytes,
                                      int coarse, uint8_t split)
{
    char *p = data_str_printf("%s/%s", dir, base);
    if (!p)
        return cgalr_fail(CGALR_ENOMEM, "out of memory");
    uint8_t *buf;
    size_t len;
    cgalr_status_t st = data_read_file(p, FILE_CAP, &buf, &len);
    if (!st) {
        st = data_cifar_parse(p, buf, len, label_bytes, coarse, split, &ds->img);
        free(buf);
    }
    if (!st)
        st = append_source(ds, p);
    free(p);
    return st;
}

/* Label names from the official archive's text files, when present and the right length. */
static cgalr_status_t names_from_file(cgalr_dataset_t *ds, const char *path, size_t classes)
{
    uint8_t *buf;
    size_t len;
    char *names[100];
    size_t n = 0;
    if (classes > 100 || data_read_file(path, 1 << 20, &buf, &len) != CGALR_OK) {
        cgalr_clear_error();
        return set_class_names(ds, classes, NULL);
    }
    size_t i = 0;
    while (i < len && n <= classes) {
        size_t j = i;
        while (j < len && buf[j] != '\n')
            j++;
        size_t e = j;
        while (e > i && (buf[e - 1] == '\r' || buf[e - 1] == ' '))
            e--;
        if (e > i) {
            if (n == classes) {
                n++;
                break;
            }
            names[n] = data_str_printf("%.*s", (int)(e - i), (const char *)buf + i);
            if (!names[n]) {
                free_strs(names, n);
                free(buf);
                return cgalr_fail(CGALR_ENOMEM, "out of memory");
            }
            n++;
        }
        i = j + 1;
    }
    free(buf);
    cgalr_status_t st = n == classes ? set_class_names(ds, classes, (const char *const *)names)
                                     : set_class_names(ds, classes, NULL);
    free_strs(names, n > classes ? classes : n);
    return st;
}

static cgalr_status_t open_cifar10_bin(cgalr_dataset_t *ds, const char *dir)
{
    for (int b = 1; b <= 5; b++) {
        char base[32];
        snprintf(base, sizeof base, "data_batch_%d.bin", b);
        cgalr_status_t st = load_cifar_file(ds, dir, base, 1, 0, CGALR_SPLIT_TRAIN);
        if (st)
            return st;
    }
    cgalr_status_t st = load_cifar_file(ds, dir, "test_batch.bin", 1, 0, CGALR_SPLIT_TEST);
    if (st)
        return st;
    ds->display = data_str_printf("CIFAR-10");
    return set_class_names(ds, 10, CIFAR10_NAMES);
}

static cgalr_status_t set_from_folder(cgalr_dataset_t *ds, folder_result_t *r, const char *display)
{
    ds->img = r->set;
    memset(&r->set, 0, sizeof r->set);
    ds->cache_file = r->cache_file;
    r->cache_file = NULL;
    ds->info.decoded = r->decoded;
    ds->display = data_str_printf("%s", display);
    cgalr_status_t st = set_class_names(ds, r->classes, (const char *const *)r->class_names);
    return st;
}

static cgalr_status_t resolve_cifar10(cgalr_dataset_t *ds, const cgalr_data_config_t *cfg, const char *root)
{
    char *cand[6] = {0};
    size_t n = 0;
    cand[n++] = data_str_printf("%s/cifar-10-batches-bin", root);
    cand[n++] = data_str_printf("%s/cifar10-jpg", root);
    cand[n++] = data_str_printf("%s/cifar10-jpg/cifar10-jpg.tar.gz", root);
    cand[n++] = data_str_printf("%s/cifar10-jpg", SHARED_DATA);
    cand[n++] = data_str_printf("%s/cifar10-jpg/cifar10-jpg.tar.gz", SHARED_DATA);
    for (size_t i = 0; i < n; i++)
        if (!cand[i]) {
            free_strs(cand, n);
            return cgalr_fail(CGALR_ENOMEM, "out of memory");
        }
    cgalr_status_t st = CGALR_OK;
    folder_result_t r;
    memset(&r, 0, sizeof r);
    char *train0 = NULL, *cache = cache_root(cfg);
    int done = 0;
    if (data_path_is_dir(cand[0])) {
        st = open_cifar10_bin(ds, cand[0]);
        done = 1;
    }
    /* The unpacked JPEG copy (train/ present), else its archive, first under the data dir. */
    for (size_t i = 1; !done && i < n; i++) {
        if (i == 1 || i == 3) {
            free(train0);
            train0 = data_str_printf("%s/train", cand[i]);
            if (!train0) {
                st = cgalr_fail(CGALR_ENOMEM, "out of memory");
                break;
            }
            if (!data_path_is_dir(train0))
                continue;
            st = data_folder_load(cand[i], 0, cache, cfg, &r);
        } else {
            if (!data_path_is_file(cand[i]))
                continue;
            st = data_tarjpg_load(cand[i], cache, cfg, &r);
        }
        done = 1;
        if (!st)
            st = append_source(ds, cand[i]);
        if (!st)
            st = set_from_folder(ds, &r, "CIFAR-10 (JPEG q75 copy)");
    }
    if (!done)
        st = not_found("cifar10 (official binary or JPEG copy)", cand, n);
    else if (!st && ds->info.classes != 10)
        st = cgalr_fail(CGALR_EFORMAT, "cifar10 JPEG copy: %zu class folders, expected 10", ds->info.classes);
    free(train0);
    free(cache);
    data_folder_result_free(&r);
    free_strs(cand, n);
    return st;
}

static cgalr_status_t resolve_cifar100(cgalr_dataset_t *ds, const cgalr_data_config_t *cfg, const char *root)
{
    char *dir = data_str_printf("%s/cifar-100-binary", root);
    if (!dir)
        return cgalr_fail(CGALR_ENOMEM, "out of memory");
    cgalr_status_t st;
    if (!data_path_is_dir(dir)) {
        st = not_found("cifar100", &dir, 1);
        free(dir);
        return st;
    }
    st = load_cifar_file(ds, dir, "train.bin", 2, cfg->cifar100_coarse, CGALR_SPLIT_TRAIN);
    if (!st)
        st = load_cifar_file(ds, dir, "test.bin", 2, cfg->cifar100_coarse, CGALR_SPLIT_TEST);
    if (!st) {
        char *names = data_str_printf("%s/%s", dir, cfg->cifar100_coarse ? "coarse_label_names.txt" : "fine_label_names.txt");
        st = names ? names_from_file(ds, names, cfg->cifar100_coarse ? 20 : 100)
                   : cgalr_fail(CGALR_ENOMEM, "out of memory");
        free(names);
    }
    if (!st)
        ds->display = data_str_printf("%s", cfg->cifar100_coarse ? "CIFAR-100 (coarse labels)" : "CIFAR-100");
    free(dir);
    return st;
}

static cgalr_status_t resolve_folder(cgalr_dataset_t *ds, const cgalr_data_config_t *cfg, const char *path, int mini,
                                     const char *root)
{
    folder_result_t r;
    memset(&r, 0, sizeof r);
    cgalr_status_t st;
    char *dir = mini ? data_str_printf("%s/mini-imagenet", root) : data_str_printf("%s", path);
    char *cache = cache_root(cfg);
    if (!dir) {
        free(cache);
        return cgalr_fail(CGALR_ENOMEM, "out of memory");
    }
    if (!data_path_is_dir(dir)) {
        st = not_found(mini ? "mini-imagenet" : "image folder", &dir, 1);
        free(dir);
        free(cache);
        return st;
    }
    if (mini)
        st = data_miniimagenet_load(dir, cfg->resize ? (size_t)cfg->resize : 84, cache, cfg, &r);
    else
        st = data_folder_load(dir, (size_t)cfg->resize, cache, cfg, &r);
    if (!st)
        st = append_source(ds, dir);
    if (!st) {
        const char *base = strrchr(dir, '/');
        base = base && base[1] ? base + 1 : dir;
        st = set_from_folder(ds, &r, mini ? "Mini-ImageNet" : base);
    }
    data_folder_result_free(&r);
    free(dir);
    free(cache);
    return st;
}

/* ---- TU ----------------------------------------------------------------------------------- */

static cgalr_status_t open_tu(cgalr_dataset_t *ds, const char *dir, const char *tname)
{
    static const char *const suffix[5] = {"graph_indicator", "A", "graph_labels", "node_labels", "node_attributes"};
    uint8_t *buf[5] = {0};
    size_t len[5] = {0};
    char *path[5] = {0};
    tu_text_t txt[5];
    cgalr_status_t st = CGALR_OK;
    for (int k = 0; k < 5 && !st; k++) {
        path[k] = data_str_printf("%s/%s_%s.txt", dir, tname, suffix[k]);
        if (!path[k]) {
            st = cgalr_fail(CGALR_ENOMEM, "out of memory");
            break;
        }
        txt[k].name = path[k];
        txt[k].buf = NULL;
        txt[k].len = 0;
        if (k >= 3 && !data_path_is_file(path[k]))
            continue;
        st = data_read_file(path[k], FILE_CAP, &buf[k], &len[k]);
        if (!st) {
            txt[k].buf = (const char *)buf[k];
            txt[k].len = len[k];
            st = append_source(ds, path[k]);
        }
    }
    if (!st)
        st = data_tu_parse(&txt[0], &txt[1], &txt[2], &txt[3], &txt[4], &ds->tu);
    for (int k = 0; k < 5; k++) {
        free(buf[k]);
        free(path[k]);
    }
    if (st)
        return st;
    ds->display = data_str_printf("%s", tname);
    ds->class_names = calloc(ds->tu.classes, sizeof *ds->class_names);
    if (!ds->class_names)
        return cgalr_fail(CGALR_ENOMEM, "out of memory");
    ds->info.classes = ds->tu.classes;
    for (size_t k = 0; k < ds->tu.classes; k++)
        if (!(ds->class_names[k] = data_str_printf("%ld", ds->tu.class_values[k])))
            return cgalr_fail(CGALR_ENOMEM, "out of memory");
    return CGALR_OK;
}

static cgalr_status_t resolve_tu(cgalr_dataset_t *ds, const char *root, const char *tname)
{
    if (!tname[0] || strchr(tname, '/'))
        return cgalr_fail(CGALR_EINVAL, "tu:'%s': expected a TU dataset name such as MUTAG", tname);
    char *cand[3];
    cand[0] = data_str_printf("%s/TU/%s", root, tname);
    cand[1] = data_str_printf("%s/%s", root, tname);
    cand[2] = data_str_printf("%s/TU/%s", SHARED_DATA, tname);
    if (!cand[0] || !cand[1] || !cand[2]) {
        free_strs(cand, 3);
        return cgalr_fail(CGALR_ENOMEM, "out of memory");
    }
    /* The directory must hold the indicator file: D/NAME may be something else entirely. */
    const char *dir = NULL;
    for (int i = 0; i < 3 && !dir; i++) {
        char *f = data_str_printf("%s/%s_graph_indicator.txt", cand[i], tname);
        if (f && data_path_is_file(f))
            dir = cand[i];
        free(f);
    }
    cgalr_status_t st = dir ? open_tu(ds, dir, tname) : not_found(tname, cand, 3);
    free_strs(cand, 3);
    return st;
}

static cgalr_status_t check_config(const cgalr_data_config_t *cfg)
{
    if (!cfg->name || !cfg->name[0])
        return cgalr_fail(CGALR_EINVAL, "dataset name missing; valid names: %s", VALID_NAMES);
    if (!(cfg->val_fraction >= 0 && cfg->val_fraction < 1))
        return cgalr_fail(CGALR_EINVAL, "validation fraction %g, expected 0 <= f < 1", cfg->val_fraction);
    if (cfg->folds < 0 || cfg->folds == 1 || cfg->folds > 100)
        return cgalr_fail(CGALR_EINVAL, "folds %d, expected 0 (80/10/10 split) or 2..100", cfg->folds);
    if (cfg->fold < 0 || (cfg->folds >= 2 && cfg->fold >= cfg->folds) || (cfg->folds == 0 && cfg->fold != 0))
        return cgalr_fail(CGALR_EINVAL, "fold %d, expected 0..%d", cfg->fold, cfg->folds > 1 ? cfg->folds - 1 : 0);
    if (cfg->resize < 0 || cfg->resize > 4096)
        return cgalr_fail(CGALR_EINVAL, "resize %d, expected 0 (keep) or 1..4096", cfg->resize);
    return CGALR_OK;
}

static int name_is(const char *a, const char *b)
{
    return strcmp(a, b) == 0;
}

const char *cgalr_data_graph_name(const char *n)
{
    if (!n)
        return NULL;
    if (name_is(n, "mutag"))
        return "MUTAG";
    if (name_is(n, "enzymes"))
        return "ENZYMES";
    if (name_is(n, "proteins"))
        return "PROTEINS";
    return strncmp(n, "tu:", 3) ? NULL : n + 3;
}

cgalr_status_t cgalr_dataset_open(const cgalr_data_config_t *cfg, cgalr_dataset_t **out)
{
    if (!out)
        return cgalr_fail(CGALR_EINVAL, "cgalr_dataset_open: out is NULL");
    *out = NULL;
    if (!cfg)
        return cgalr_fail(CGALR_EINVAL, "cgalr_dataset_open: config is NULL");
    cgalr_status_t st = check_config(cfg);
    if (st)
        return st;
    const char *root = cfg->data_dir && cfg->data_dir[0] ? cfg->data_dir : getenv("CGALR_DATA");
    if (!root || !root[0])
        root = "data";
    cgalr_dataset_t *ds = calloc(1, sizeof *ds);
    if (!ds)
        return cgalr_fail(CGALR_ENOMEM, "out of memory");
    const char *n = cfg->name;
    const char *tu = cgalr_data_graph_name(n);
    int known = 1;
    if (tu) {
        ds->info.kind = CGALR_DATA_GRAPH;
        ds->name = data_str_printf("tu:%s", tu);
        st = ds->name ? resolve_tu(ds, root, tu) : cgalr_fail(CGALR_ENOMEM, "out of memory");
    } else {
        ds->info.kind = CGALR_DATA_IMAGE;
        ds->name = data_str_printf("%s", n);
        if (!ds->name)
            st = cgalr_fail(CGALR_ENOMEM, "out of memory");
        else if (name_is(n, "mnist") || name_is(n, "fashion-mnist"))
            st = resolve_idx(ds, root, name_is(n, "fashion-mnist"));
        else if (name_is(n, "cifar10"))
            st = resolve_cifar10(ds, cfg, root);
        else if (name_is(n, "cifar100"))
            st = resolve_cifar100(ds, cfg, root);
        else if (name_is(n, "mini-imagenet"))
            st = resolve_folder(ds, cfg, NULL, 1, root);
        else if (!strncmp(n, "folder:", 7) && n[7])
            st = resolve_folder(ds, cfg, n + 7, 0, root);
        else
            known = 0;
    }
    if (!known)
        st = cgalr_fail(CGALR_EINVAL, "unknown dataset '%s'; valid names: %s", n, VALID_NAMES);
    if (!st && !ds->display)
        st = cgalr_fail(CGALR_ENOMEM, "out of memory");
    if (!st)
        st = ds->info.kind == CGALR_DATA_GRAPH ? data_finish_graphs(ds, cfg) : data_finish_images(ds, cfg);
    if (st) {
        if (ds->labels == ds->img.labels)
            ds->labels = NULL;
        cgalr_dataset_free(ds);
        return st;
    }
    ds->info.name = ds->name;
    ds->info.display_name = ds->display;
    ds->info.source = ds->source ? ds->source : "";
    ds->info.cache_file = ds->cache_file;
    ds->info.class_names = (const char *const *)ds->class_names;
    if (ds->info.kind == CGALR_DATA_IMAGE) {
        /* labels belongs to img; keep a single owner. */
        ds->img.labels = NULL;
    }
    *out = ds;
    return CGALR_OK;
}
