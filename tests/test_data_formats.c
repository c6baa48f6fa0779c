/* Data layer on synthetic files written here: IDX (raw and gzip), CIFAR-10/100 binary, TU text,
 * PNG/JPEG image folders, the Mini-ImageNet layout, the decode cache, splits, loaders and
 * augmentation; and for every parser the malformed cases, each expecting a clear error. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <ftw.h>
#include <zlib.h>
#include <cmocka.h>

#include <jpeglib.h>
#include <png.h>

#include "cgalr/data.h"
#include "data/data_internal.h"

static char root[256];

/* ---- helpers -------------------------------------------------------------------------------- */

static const char *P(const char *fmt, ...)
{
    static char buf[8][512];
    static int k;
    char *b = buf[k++ & 7];
    int n = snprintf(b, 512, "%s/", root);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(b + n, (size_t)(512 - n), fmt, ap);
    va_end(ap);
    return b;
}

static void mkdirs(const char *path)
{
    char tmp[512];
    snprintf(tmp, sizeof tmp, "%s", path);
    for (char *p = tmp + 1; *p; p++)
        if (*p == '/') {
            *p = 0;
            mkdir(tmp, 0777);
            *p = '/';
        }
    mkdir(tmp, 0777);
}

static void put_file(const char *path, const void *data, size_t len)
{
    char dir[512];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    *slash = 0;
    mkdirs(dir);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    fclose(f);
}

static void put_text(const char *path, const char *text)
{
    put_file(path, text, strlen(text));
}

static void put_gz(const char *path, const void *data, size_t len)
{
    put_file(path, "", 0);
    gzFile f = gzopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(gzwrite(f, data, (unsigned)len), (int)len);
    gzclose(f);
}

static int rm_cb(const char *p, const struct stat *s, int t, struct FTW *f)
{
    (void)s;
    (void)t;
    (void)f;
    return remove(p);
}

static int setup(void **state)
{
    (void)state;
    snprintf(root, sizeof root, "/tmp/cgalr-test-data-XXXXXX");
    return mkdtemp(root) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    nftw(root, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
    return 0;
}

static cgalr_status_t open_ds(const char *name, cgalr_dataset_t **ds)
{
    cgalr_data_config_t cfg;
    cgalr_data_config_default(&cfg);
    cfg.name = name;
    cfg.data_dir = root;
    cfg.cache_dir = P("cache");
    return cgalr_dataset_open(&cfg, ds);
}

/* Opening must fail with `want` and a message containing both fragments. */
static void expect_fail(const cgalr_data_config_t *cfg, cgalr_status_t want, const char *frag1, const char *frag2)
{
    cgalr_dataset_t *ds = (cgalr_dataset_t *)0x1;
    cgalr_status_t st = cgalr_dataset_open(cfg, &ds);
    if (st != want || (frag1 && !strstr(cgalr_last_error(), frag1)) || (frag2 && !strstr(cgalr_last_error(), frag2)))
        fail_msg("status %d (want %d), message '%s' (want '%s' and '%s')", st, want, cgalr_last_error(),
                 frag1 ? frag1 : "", frag2 ? frag2 : "");
    assert_null(ds);
}

static void expect_open_fail(const char *name, cgalr_status_t want, const char *frag1, const char *frag2)
{
    cgalr_data_config_t cfg;
    cgalr_data_config_default(&cfg);
    cfg.name = name;
    cfg.data_dir = root;
    cfg.cache_dir = "";
    expect_fail(&cfg, want, frag1, frag2);
}

static cgalr_loader_t *loader(const cgalr_dataset_t *ds, cgalr_split_t split, size_t bs, uint64_t seed)
{
    cgalr_loader_config_t lc;
    cgalr_loader_config_default(&lc, split);
    lc.batch_size = bs;
    lc.seed = seed;
    cgalr_loader_t *ld = NULL;
    assert_int_equal(cgalr_loader_create(ds, &lc, &ld), CGALR_OK);
    return ld;
}

/* ---- IDX ------------------------------------------------------------------------------------ */

static size_t idx_images(uint8_t *buf, uint32_t n, uint32_t r, uint32_t c, int seed)
{
    uint8_t h[16] = {0, 0, 8, 3, (uint8_t)(n >> 24), (uint8_t)(n >> 16), (uint8_t)(n >> 8), (uint8_t)n,
                     0, 0, 0, (uint8_t)r, 0, 0, 0, (uint8_t)c};
    memcpy(buf, h, 16);
    for (size_t i = 0; i < (size_t)n * r * c; i++)
        buf[16 + i] = (uint8_t)(i * 7 + (size_t)seed);
    return 16 + (size_t)n * r * c;
}

static size_t idx_labels(uint8_t *buf, uint32_t n)
{
    uint8_t h[8] = {0, 0, 8, 1, (uint8_t)(n >> 24), (uint8_t)(n >> 16), (uint8_t)(n >> 8), (uint8_t)n};
    memcpy(buf, h, 8);
    for (size_t i = 0; i < n; i++)
        buf[8 + i] = (uint8_t)(i % 10);
    return 8 + n;
}

static void write_mnist(void)
{
    static uint8_t img[16 + 100 * 20], lab[8 + 100];
    size_t il = idx_images(img, 100, 4, 5, 0), ll = idx_labels(lab, 100);
    put_file(P("mnist/train-images-idx3-ubyte"), img, il);
    put_file(P("mnist/train-labels-idx1-ubyte"), lab, ll);
    il = idx_images(img, 30, 4, 5, 3);
    ll = idx_labels(lab, 30);
    put_gz(P("mnist/t10k-images-idx3-ubyte.gz"), img, il);
    put_gz(P("mnist/t10k-labels-idx1-ubyte.gz"), lab, ll);
}

/* The fake MNIST on disk and a configuration that opens it. */
static void mnist_config(cgalr_data_config_t *cfg)
{
    write_mnist();
    cgalr_data_config_default(cfg);
    cfg->name = "mnist";
    cfg->data_dir = root;
}

static void test_idx(void **state)
{
    (void)state;
    cgalr_data_config_t cfg;
    mnist_config(&cfg);
    cfg.normalize = 0;
    cgalr_dataset_t *ds;
    assert_int_equal(cgalr_dataset_open(&cfg, &ds), CGALR_OK);
    const cgalr_data_info_t *in = cgalr_dataset_info(ds);
    assert_int_equal(in->kind, CGALR_DATA_IMAGE);
    assert_int_equal(in->samples[0], 90);
    assert_int_equal(in->samples[1], 10);
    assert_int_equal(in->samples[2], 30);
    assert_int_equal(in->c, 1);
    assert_int_equal(in->h, 4);
    assert_int_equal(in->w, 5);
    for (int k = 0; k < 10; k++)
        assert_int_equal(in->class_counts[1][k], 1); /* stratified validation */
    /* Pixels: the test split (gzip) is records 100.. in file order. */
    cgalr_loader_t *ld = loader(ds, CGALR_SPLIT_TEST, 7, 0);
    const size_t *ids = cgalr_dataset_split_ids(ds, CGALR_SPLIT_TEST);
    assert_int_equal(ids[0], 100);
    size_t idx[2] = {29, 3};
    cgalr_batch_t b;
    assert_int_equal(cgalr_loader_gather(ld, idx, 2, &b), CGALR_OK);
    assert_int_equal(b.image.n, 2);
    for (size_t i = 0; i < 20; i++) {
        assert_float_equal(b.image.x[i], (float)(uint8_t)((29 * 20 + i) * 7 + 3) / 255.0f, 1e-6);
        assert_float_equal(b.image.x[20 + i], (float)(uint8_t)((3 * 20 + i) * 7 + 3) / 255.0f, 1e-6);
    }
    assert_int_equal(b.image.labels[0], 9);
    assert_int_equal(b.image.labels[1], 3);
    cgalr_loader_free(ld);
    cgalr_dataset_free(ds);

    /* normalised: the training split's pixels have mean 0 and std 1 */
    cfg.normalize = 1;
    cfg.val_fraction = 0;
    assert_int_equal(cgalr_dataset_open(&cfg, &ds), CGALR_OK);
    ld = loader(ds, CGALR_SPLIT_TRAIN, 100, 1);
    assert_int_equal(cgalr_loader_batch(ld, 0, 0, &b), CGALR_OK);
    double s = 0, sq = 0;
    for (size_t i = 0; i < 100 * 20; i++) {
        s += b.image.x[i];
        sq += (double)b.image.x[i] * b.image.x[i];
    }
    assert_float_equal(s / 2000, 0.0, 1e-5);
    assert_float_equal(sq / 2000, 1.0, 1e-4);
    cgalr_loader_free(ld);
    cgalr_dataset_free(ds);
}

static void test_idx_malformed(void **state)
{
    (void)state;
    static uint8_t img[16 + 100 * 20], lab[8 + 100];
    size_t il = idx_images(img, 100, 4, 5, 0), ll = idx_labels(lab, 100);
    const char *ip = P("mnist/train-images-idx3-ubyte"), *lp = P("mnist/train-labels-idx1-ubyte");
    write_mnist();
    /* wrong magic */
    img[2] = 9;
    put_file(ip, img, il);
    expect_open_fail("mnist", CGALR_EFORMAT, "train-images-idx3-ubyte", "magic");
    img[2] = 8;
    /* truncated payload */
    put_file(ip, img, il - 1);
    expect_open_fail("mnist", CGALR_EFORMAT, "train-images-idx3-ubyte", "payload bytes");
    /* shorter than the header */
    put_file(ip, img, 10);
    expect_open_fail("mnist", CGALR_EFORMAT, "train-images-idx3-ubyte", "header");
    /* header claims a huge count: rejected against the length, no allocation */
    img[4] = 0x7f;
    put_file(ip, img, il);
    expect_open_fail("mnist", CGALR_EFORMAT, "train-images-idx3-ubyte", "payload bytes");
    img[4] = 0;
    /* zero items */
    uint8_t empty[16];
    idx_images(empty, 0, 4, 5, 0);
    put_file(ip, empty, 16);
    expect_open_fail("mnist", CGALR_EFORMAT, "train-images-idx3-ubyte", "0 items");
    put_file(ip, img, il);
    /* counts disagree */
    put_file(lp, lab, idx_labels(lab, 99));
    expect_open_fail("mnist", CGALR_EFORMAT, "holds 100 images", "99 labels");
    /* label out of range */
    idx_labels(lab, 100);
    lab[8 + 42] = 10;
    put_file(lp, lab, ll);
    expect_open_fail("mnist", CGALR_EFORMAT, "record 42", "label 10");
    lab[8 + 42] = 2;
    put_file(lp, lab, ll);
    /* truncated gzip */
    static uint8_t gz[4096];
    FILE *f = fopen(P("mnist/t10k-images-idx3-ubyte.gz"), "rb");
    size_t gl = fread(gz, 1, sizeof gz, f);
    fclose(f);
    put_file(P("mnist/t10k-images-idx3-ubyte.gz"), gz, gl / 2);
    expect_open_fail("mnist", CGALR_EFORMAT, "t10k-images-idx3-ubyte.gz", NULL);
    /* missing directory lists where it looked */
    cgalr_data_config_t cfg;
    cgalr_data_config_default(&cfg);
    cfg.name = "mnist";
    cfg.data_dir = P("nowhere");
    expect_fail(&cfg, CGALR_EIO, "nowhere/mnist", "looked in");
    write_mnist();
}

/* ---- CIFAR ---------------------------------------------------------------------------------- */

static void cifar_records(uint8_t *buf, size_t n, int label_bytes, int seed)
{
    size_t rec = (size_t)label_bytes + 3072;
    for (size_t i = 0; i < n; i++) {
        uint8_t *r = buf + i * rec;
        if (label_bytes == 1) {
            r[0] = (uint8_t)((i + (size_t)seed) % 10);
        } else {
            r[0] = (uint8_t)((i + (size_t)seed) % 20);
            r[1] = (uint8_t)((i * 37 + (size_t)seed) % 100);
        }
        for (size_t k = 0; k < 3072; k++)
            r[label_bytes + k] = (uint8_t)(k * 13 + i * 5 + (size_t)seed);
    }
}

static void write_cifar10(size_t per_batch)
{
    static uint8_t buf[40 * 3073];
    for (int b = 1; b <= 5; b++) {
        cifar_records(buf, per_batch, 1, b);
        char name[64];
        snprintf(name, sizeof name, "cifar-10-batches-bin/data_batch_%d.bin", b);
        put_file(P("%s", name), buf, per_batch * 3073);
    }
    cifar_records(buf, 20, 1, 9);
    put_file(P("cifar-10-batches-bin/test_batch.bin"), buf, 20 * 3073);
}

static void test_cifar(void **state)
{
    (void)state;
    write_cifar10(20);
    cgalr_dataset_t *ds;
    assert_int_equal(open_ds("cifar10", &ds), CGALR_OK);
    const cgalr_data_info_t *in = cgalr_dataset_info(ds);
    assert_string_equal(in->display_name, "CIFAR-10");
    assert_string_equal(in->class_names[3], "cat");
    assert_int_equal(in->samples[0] + in->samples[1], 100);
    assert_int_equal(in->samples[2], 20);
    assert_int_equal(in->c * in->h * in->w, 3072);
    cgalr_dataset_free(ds);

    /* CIFAR-100: fine labels by default, coarse on request, label names from the archive */
    static uint8_t buf[50 * 3074];
    cifar_records(buf, 50, 2, 0);
    put_file(P("cifar-100-binary/train.bin"), buf, 50 * 3074);
    cifar_records(buf, 10, 2, 1);
    put_file(P("cifar-100-binary/test.bin"), buf, 10 * 3074);
    cgalr_data_config_t cfg;
    cgalr_data_config_default(&cfg);
    cfg.name = "cifar100";
    cfg.data_dir = root;
    cfg.val_fraction = 0;
    cfg.normalize = 0;
    assert_int_equal(cgalr_dataset_open(&cfg, &ds), CGALR_OK);
    in = cgalr_dataset_info(ds);
    assert_int_equal(in->classes, 100);
    assert_string_equal(in->class_names[42], "42");
    const int32_t *lab = cgalr_dataset_labels(ds, CGALR_SPLIT_TRAIN);
    assert_int_equal(lab[3], (3 * 37) % 100);
    cgalr_loader_t *ld = loader(ds, CGALR_SPLIT_TEST, 4, 0);
    size_t one = 2;
    cgalr_batch_t b;
    assert_int_equal(cgalr_loader_gather(ld, &one, 1, &b), CGALR_OK);
    assert_float_equal(b.image.x[1024 + 5], (float)(uint8_t)((1024 + 5) * 13 + 2 * 5 + 1) / 255.0f, 1e-6);
    cgalr_loader_free(ld);
    cgalr_dataset_free(ds);
    char names[20 * 8] = "";
    for (int k = 0; k < 20; k++)
        snprintf(names + strlen(names), sizeof names - strlen(names), "c%d\n", k);
    put_text(P("cifar-100-binary/coarse_label_names.txt"), names);
    cfg.cifar100_coarse = 1;
    assert_int_equal(cgalr_dataset_open(&cfg, &ds), CGALR_OK);
    in = cgalr_dataset_info(ds);
    assert_int_equal(in->classes, 20);
    assert_string_equal(in->class_names[7], "c7");
    assert_int_equal(cgalr_dataset_labels(ds, CGALR_SPLIT_TRAIN)[23], 3);
    cgalr_dataset_free(ds);

    /* malformed */
    buf[3074 * 4 + 1] = 100;
    put_file(P("cifar-100-binary/train.bin"), buf, 50 * 3074);
    cfg.cifar100_coarse = 0;
    cfg.cache_dir = "";
    expect_fail(&cfg, CGALR_EFORMAT, "train.bin", "record 4 has fine label 100");
    put_file(P("cifar-100-binary/train.bin"), buf, 3074 * 3 + 100);
    expect_fail(&cfg, CGALR_EFORMAT, "train.bin", "multiple of 3074");
    put_file(P("cifar-100-binary/train.bin"), buf, 0);
    expect_fail(&cfg, CGALR_EFORMAT, "train.bin", "empty");
    static uint8_t b10[3 * 3073];
    cifar_records(b10, 3, 1, 0);
    b10[3073] = 10;
    put_file(P("cifar-10-batches-bin/data_batch_4.bin"), b10, sizeof b10);
    expect_open_fail("cifar10", CGALR_EFORMAT, "data_batch_4.bin", "record 1 has label 10");
    put_file(P("cifar-10-batches-bin/data_batch_4.bin"), b10, sizeof b10 - 1);
    expect_open_fail("cifar10", CGALR_EFORMAT, "data_batch_4.bin", "multiple of 3073");
    write_cifar10(20);
}

/* ---- loaders and augmentation --------------------------------------------------------------- */

static void test_loader_determinism(void **state)
{
    (void)state;
    write_cifar10(20);
    cgalr_data_config_t cfg;
    cgalr_data_config_default(&cfg);
    cfg.name = "cifar10";
    cfg.data_dir = root;
    cfg.augment_crop = 1;
    cfg.augment_flip = 1;
    cgalr_dataset_t *ds;
    assert_int_equal(cgalr_dataset_open(&cfg, &ds), CGALR_OK);
    size_t n = cgalr_dataset_info(ds)->samples[0];
    cgalr_loader_t *a = loader(ds, CGALR_SPLIT_TRAIN, 16, 5), *b = loader(ds, CGALR_SPLIT_TRAIN, 16, 5);
    cgalr_loader_t *plain = loader(ds, CGALR_SPLIT_TRAIN, 16, 5);
    assert_int_equal(cgalr_loader_size(a), n);
    assert_int_equal(cgalr_loader_n_batches(a), (n + 15) / 16);
    size_t per = 3072;
    float *keep = malloc(16 * per * sizeof *keep);
    size_t keep_idx[16];
    cgalr_batch_t ba, bb;
    /* b jumps straight to epoch 2 batch 3; a walks there: identical batches (resume mid-epoch). */
    for (uint64_t e = 0; e <= 2; e++)
        for (size_t k = 0; k < cgalr_loader_n_batches(a); k++) {
            assert_int_equal(cgalr_loader_batch(a, e, k, &ba), CGALR_OK);
            if (e == 2 && k == 3) {
                memcpy(keep, ba.image.x, ba.n * per * sizeof *keep);
                memcpy(keep_idx, ba.index, ba.n * sizeof *keep_idx);
            }
        }
    assert_int_equal(cgalr_loader_batch(b, 2, 3, &bb), CGALR_OK);
    assert_memory_equal(bb.index, keep_idx, bb.n * sizeof *keep_idx);
    assert_memory_equal(bb.image.x, keep, bb.n * per * sizeof *keep);
    /* Each augmented image is its plain image shifted by (dy, dx) in [-4, 4], maybe mirrored,
     * with the normalised value of pixel 0 where the crop leaves the image. */
    const float *mean = cgalr_dataset_info(ds)->mean, *sd = cgalr_dataset_info(ds)->std;
    int shifted = 0, flipped = 0;
    cgalr_batch_t bp;
    assert_int_equal(cgalr_loader_gather(plain, keep_idx, bb.n, &bp), CGALR_OK);
    for (size_t i = 0; i < bb.n; i++) {
        int found = 0;
        for (int fl = 0; fl < 2 && !found; fl++)
            for (int dy = -4; dy <= 4 && !found; dy++)
                for (int dx = -4; dx <= 4 && !found; dx++) {
                    int ok = 1;
                    for (int c = 0; c < 3 && ok; c++)
                        for (int y = 0; y < 32 && ok; y++)
                            for (int x = 0; x < 32 && ok; x++) {
                                int sy = y + dy, sx = (fl ? 31 - x : x) + dx;
                                float want = sy < 0 || sy > 31 || sx < 0 || sx > 31
                                                 ? (0 - mean[c]) / sd[c]
                                                 : bp.image.x[i * per + (size_t)c * 1024 + (size_t)sy * 32 + (size_t)sx];
                                ok = fabsf(want - keep[i * per + (size_t)c * 1024 + (size_t)y * 32 + (size_t)x]) < 1e-5f;
                            }
                    if (ok) {
                        found = 1;
                        shifted += dy || dx;
                        flipped += fl;
                    }
                }
        assert_true(found);
    }
    assert_true(shifted > 0);
    assert_true(flipped > 0);
    /* orders: a permutation, different per epoch, identity when not shuffling */
    size_t *o1 = malloc(n * sizeof *o1), *o2 = malloc(n * sizeof *o2);
    assert_int_equal(cgalr_loader_order(a, 0, o1), CGALR_OK);
    assert_int_equal(cgalr_loader_order(a, 1, o2), CGALR_OK);
    assert_memory_not_equal(o1, o2, n * sizeof *o1);
    char *hit = calloc(n, 1);
    for (size_t i = 0; i < n; i++) {
        assert_true(o1[i] < n && !hit[o1[i]]);
        hit[o1[i]] = 1;
    }
    free(hit);
    free(o1);
    free(o2);
    /* bad calls */
    assert_int_equal(cgalr_loader_batch(a, 0, cgalr_loader_n_batches(a), &ba), CGALR_EINVAL);
    size_t bad = n;
    assert_int_equal(cgalr_loader_gather(a, &bad, 1, &ba), CGALR_EINVAL);
    assert_non_null(strstr(cgalr_last_error(), "index"));
    assert_int_equal(cgalr_loader_gather(a, &bad, 0, &ba), CGALR_EINVAL);
    cgalr_loader_config_t lc;
    cgalr_loader_config_default(&lc, CGALR_SPLIT_TRAIN);
    lc.batch_size = 0;
    cgalr_loader_t *z = (cgalr_loader_t *)0x1;
    assert_int_equal(cgalr_loader_create(ds, &lc, &z), CGALR_EINVAL);
    assert_null(z);
    lc.batch_size = 8;
    lc.drop_last = 1;
    assert_int_equal(cgalr_loader_create(ds, &lc, &z), CGALR_OK);
    assert_int_equal(cgalr_loader_n_batches(z), n / 8);
    cgalr_loader_free(z);
    assert_int_equal(cgalr_loader_create(NULL, &lc, &z), CGALR_EINVAL);
    cgalr_loader_free(NULL);
    cgalr_dataset_free(NULL);
    free(keep);
    cgalr_loader_free(a);
    cgalr_loader_free(b);
    cgalr_loader_free(plain);
    cgalr_dataset_free(ds);
}

static void test_bad_config(void **state)
{
    (void)state;
    cgalr_dataset_t *ds = (cgalr_dataset_t *)0x1;
    assert_int_equal(cgalr_dataset_open(NULL, &ds), CGALR_EINVAL);
    assert_null(ds);
    cgalr_data_config_t cfg;
    cgalr_data_config_default(&cfg);
    assert_int_equal(cgalr_dataset_open(&cfg, NULL), CGALR_EINVAL);
    expect_fail(&cfg, CGALR_EINVAL, "name missing", "valid names");
    cfg.name = "imagenet";
    expect_fail(&cfg, CGALR_EINVAL, "unknown dataset 'imagenet'", "mutag");
    cfg.name = "mutag";
    cfg.val_fraction = 1.5;
    expect_fail(&cfg, CGALR_EINVAL, "validation fraction", NULL);
    cfg.val_fraction = 0.0 / 0.0;
    expect_fail(&cfg, CGALR_EINVAL, "validation fraction", NULL);
    cfg.val_fraction = 0.1;
    cfg.folds = 1;
    expect_fail(&cfg, CGALR_EINVAL, "folds 1", NULL);
    cfg.folds = 5;
    cfg.fold = 5;
    expect_fail(&cfg, CGALR_EINVAL, "fold 5", NULL);
    cfg.folds = 0;
    cfg.fold = 0;
    cfg.resize = -3;
    expect_fail(&cfg, CGALR_EINVAL, "resize", NULL);
    cfg.resize = 0;
    cfg.name = "tu:../x";
    expect_fail(&cfg, CGALR_EINVAL, "TU dataset name", NULL);
    assert_null(cgalr_dataset_info(NULL));
    assert_string_equal(cgalr_split_name(CGALR_SPLIT_VAL), "val");
}

/* ---- TU ------------------------------------------------------------------------------------- */

/* 5 graphs: g1 triangle+tail (4 nodes, duplicate edge lines), g2 one node, g3 two nodes no edges,
 * g4 path of 3, g5 edge of 2. Node labels 5/2/9, graph labels -1/1/7. */
static const char *IND = "1\n1\n1\n1\n2\n3\n3\n4\n4\n4\n5\n5\n";
static const char *EDGES = "1, 2\n2, 1\n1, 2\n2, 3\n3, 2\n3, 1\n1, 3\n3, 4\n4, 3\n8, 9\n9, 8\n9, 10\n10, 9\n11, 12\n12, 11\n";
static const char *GLAB = "-1\n1\n7\n1\n-1\n";
static const char *NLAB = "5\n2\n9\n2\n5\n5\n9\n2\n2\n2\n9\n5\n";

static void write_tu(const char *name, const char *ind, const char *a, const char *gl, const char *nl,
                     const char *attr)
{
    put_text(P("TU/%s/%s_graph_indicator.txt", name, name), ind);
    put_text(P("TU/%s/%s_A.txt", name, name), a);
    put_text(P("TU/%s/%s_graph_labels.txt", name, name), gl);
    remove(P("TU/%s/%s_node_labels.txt", name, name));
    remove(P("TU/%s/%s_node_attributes.txt", name, name));
    if (nl)
        put_text(P("TU/%s/%s_node_labels.txt", name, name), nl);
    if (attr)
        put_text(P("TU/%s/%s_node_attributes.txt", name, name), attr);
}

static void test_tu(void **state)
{
    (void)state;
    write_tu("SYN", IND, EDGES, GLAB, NLAB, " 1.0, 2\n2,4\n3,6\n4,8\n5,10\n6,12\n7,14\n8,16\n9,18\n10,20\n11,22\n12,24\n");
    cgalr_data_config_t cfg;
    cgalr_data_config_default(&cfg);
    cfg.name = "tu:SYN";
    cfg.data_dir = root;
    cgalr_dataset_t *ds;
    assert_int_equal(cgalr_dataset_open(&cfg, &ds), CGALR_OK);
    const cgalr_data_info_t *in = cgalr_dataset_info(ds);
    assert_int_equal(in->kind, CGALR_DATA_GRAPH);
    assert_int_equal(in->graphs, 5);
    assert_int_equal(in->nodes, 12);
    assert_int_equal(in->edges, 4 + 2 + 1);
    assert_int_equal(in->duplicate_edges, 1);
    assert_int_equal(in->min_nodes, 1);
    assert_int_equal(in->max_nodes, 4);
    assert_int_equal(in->classes, 3);
    assert_string_equal(in->class_names[0], "-1");
    assert_string_equal(in->class_names[2], "7");
    assert_int_equal(in->feat_dim, 3);
    assert_int_equal(in->node_attr_dim, 2);
    assert_int_equal(in->samples[0] + in->samples[1] + in->samples[2], 5);
    cgalr_dataset_free(ds);

    /* all graphs in train (k-fold needs >= 2 folds, so use the split ids of a gather instead) */
    cfg.folds = 5;
    size_t seen[5] = {0};
    for (int f = 0; f < 5; f++) {
        cfg.fold = f;
        assert_int_equal(cgalr_dataset_open(&cfg, &ds), CGALR_OK);
        in = cgalr_dataset_info(ds);
        assert_int_equal(in->samples[2], 1);
        seen[cgalr_dataset_split_ids(ds, CGALR_SPLIT_TEST)[0]]++;
        if (f == 0) {
            /* batch of every graph of train+val+test through gather, checked against the files */
            cgalr_loader_t *ld = loader(ds, CGALR_SPLIT_TRAIN, 2, 0);
            size_t nt = in->samples[0];
            size_t idx[5];
            for (size_t i = 0; i < nt; i++)
                idx[i] = nt - 1 - i;
            cgalr_batch_t b;
            assert_int_equal(cgalr_loader_gather(ld, idx, nt, &b), CGALR_OK);
            const cgalr_graph_batch_t *g = &b.graph;
            const size_t *ids = cgalr_dataset_split_ids(ds, CGALR_SPLIT_TRAIN);
            static const int nodes_of[5] = {4, 1, 2, 3, 2}, edges_of[5] = {8, 0, 0, 4, 2}, lab_of[5] = {0, 1, 2, 1, 0};
            static const int first[5] = {0, 4, 5, 7, 10};
            static const int nl_of[12] = {1, 0, 2, 0, 1, 1, 2, 0, 0, 0, 2, 1};
            assert_int_equal(g->n_graphs, nt);
            for (size_t k = 0; k < nt; k++) {
                size_t id = ids[idx[k]];
                int lo = g->node_ptr[k], hi = g->node_ptr[k + 1];
                assert_int_equal(hi - lo, nodes_of[id]);
                assert_int_equal(g->row_ptr[hi] - g->row_ptr[lo], edges_of[id]);
                assert_int_equal(g->labels[k], lab_of[id]);
                for (int v = lo; v < hi; v++) {
                    assert_int_equal(g->graph_of_node[v], (int)k);
                    for (int j = g->row_ptr[v]; j < g->row_ptr[v + 1]; j++) {
                        assert_true(g->col[j] >= lo && g->col[j] < hi && g->col[j] != v);
                        if (j > g->row_ptr[v])
                            assert_true(g->col[j] > g->col[j - 1]);
                    }
                    for (int c = 0; c < 3; c++)
                        assert_float_equal(g->x[v * 3 + c], c == nl_of[first[id] + v - lo] ? 1.0 : 0.0, 0);
                }
            }
            cgalr_loader_free(ld);
        }
        cgalr_dataset_free(ds);
    }
    for (int g = 0; g < 5; g++)
        assert_int_equal(seen[g], 1);

    /* --node-attr: standardised with training-split statistics, then the one-hot label */
    cfg.folds = 0;
    cfg.fold = 0;
    cfg.node_attr = 1;
    assert_int_equal(cgalr_dataset_open(&cfg, &ds), CGALR_OK);
    in = cgalr_dataset_info(ds);
    assert_int_equal(in->feat_dim, 5);
    {
        cgalr_loader_t *ld = loader(ds, CGALR_SPLIT_TRAIN, 8, 0);
        cgalr_batch_t b;
        assert_int_equal(cgalr_loader_batch(ld, 0, 0, &b), CGALR_OK);
        double s = 0, sq = 0;
        for (size_t v = 0; v < b.graph.n_nodes; v++) {
            s += b.graph.x[v * 5];
            sq += b.graph.x[v * 5] * b.graph.x[v * 5];
            assert_float_equal(b.graph.x[v * 5 + 1], b.graph.x[v * 5], 1e-5); /* column 2 = 2 x column 1 */
        }
        assert_float_equal(s / (double)b.graph.n_nodes, 0, 1e-5);
        assert_float_equal(sq / (double)b.graph.n_nodes, 1, 1e-4);
        cgalr_loader_free(ld);
    }
    cgalr_dataset_free(ds);

    /* no node labels: constant feature, or one-hot degree */
    write_tu("NOL", IND, EDGES, GLAB, NULL, NULL);
    cfg.name = "tu:NOL";
    cfg.node_attr = 0;
    assert_int_equal(cgalr_dataset_open(&cfg, &ds), CGALR_OK);
    assert_int_equal(cgalr_dataset_info(ds)->feat_dim, 1);
    assert_int_equal(cgalr_dataset_info(ds)->node_label_values, 0);
    cgalr_dataset_free(ds);
    cfg.degree_features = 1;
    assert_int_equal(cgalr_dataset_open(&cfg, &ds), CGALR_OK);
    assert_int_equal(cgalr_dataset_info(ds)->feat_dim, 3 + 1);
    cgalr_dataset_free(ds);
    cfg.node_attr = 1;
    expect_fail(&cfg, CGALR_EINVAL, "no node attributes", NULL);
}

static void test_tu_malformed(void **state)
{
    (void)state;
    struct {
        const char *ind, *a, *gl, *nl, *attr, *frag1, *frag2;
    } cases[] = {
        {IND, "1, 2\n2, 13\n", GLAB, NLAB, NULL, "_A.txt' line 2", "out of range"},
        {IND, "1, 2\n4, 5\n", GLAB, NLAB, NULL, "_A.txt' line 2", "joins graph 1 and graph 2"},
        {IND, "1, 2\n0, 1\n", GLAB, NLAB, NULL, "_A.txt' line 2", "out of range"},
        {IND, "1, 2\n1 2\n", GLAB, NLAB, NULL, "_A.txt' line 2", "'i, j'"},
        {IND, "1, 2\n1, x\n", GLAB, NLAB, NULL, "_A.txt' line 2", "'i, j'"},
        {IND, "1, 2\n1, 2, 3\n", GLAB, NLAB, NULL, "_A.txt' line 2", "'i, j'"},
        {IND, EDGES, "-1\n1\n7\n1\n", NLAB, NULL, "graph_labels.txt", "4 lines, expected 5"},
        {IND, EDGES, "-1\n1\nseven\n1\n-1\n", NLAB, NULL, "graph_labels.txt' line 3", "one integer"},
        {IND, EDGES, "-1\n1\n99999999999999999999\n1\n-1\n", NLAB, NULL, "graph_labels.txt' line 3", "one integer"},
        {IND, EDGES, GLAB, "5\n2\n", NULL, "node_labels.txt", "expected 12"},
        {"1\n1\n3\n", "1, 2\n", "1\n2\n3\n", NULL, NULL, "graph_indicator.txt' line 3", "graph id 3 after 1"},
        {"2\n2\n", "1, 2\n", "1\n2\n", NULL, NULL, "graph_indicator.txt' line 1", "expected 1"},
        {"1\n2\n1\n", "1, 2\n", "1\n2\n", NULL, NULL, "graph_indicator.txt' line 3", "contiguous"},
        {"", "1, 2\n", "1\n", NULL, NULL, "graph_indicator.txt", "empty"},
        {IND, EDGES, GLAB, NLAB, "1,2\n3\n4,5\n5,6\n1,1\n1,1\n1,1\n1,1\n1,1\n1,1\n1,1\n1,1\n", "node_attributes.txt' line 2",
         "1 values, expected 2"},
        {IND, EDGES, GLAB, NLAB, "1,2\n3,4,5\n4,5\n5,6\n1,1\n1,1\n1,1\n1,1\n1,1\n1,1\n1,1\n1,1\n",
         "node_attributes.txt' line 2", "more than"},
        {IND, EDGES, GLAB, NLAB, "1,2\nnan,4\n4,5\n5,6\n1,1\n1,1\n1,1\n1,1\n1,1\n1,1\n1,1\n1,1\n",
         "node_attributes.txt' line 2", "finite"},
        {IND, EDGES, GLAB, NLAB, "1,2\n", "node_attributes.txt", "expected 12"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        write_tu("BAD", cases[i].ind, cases[i].a, cases[i].gl, cases[i].nl, cases[i].attr);
        expect_open_fail("tu:BAD", CGALR_EFORMAT, cases[i].frag1, cases[i].frag2);
    }
    remove(P("TU/BAD/BAD_A.txt"));
    expect_open_fail("tu:BAD", CGALR_EIO, "BAD_A.txt", NULL);
    expect_open_fail("tu:MISSING", CGALR_EIO, "MISSING", "looked in");
}

/* ---- image files ---------------------------------------------------------------------------- */

static void pattern(uint8_t *rgb, int h, int w, int seed)
{
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int c = 0; c < 3; c++)
                rgb[(y * w + x) * 3 + c] = (uint8_t)(x * 20 + y * 7 + c * 60 + seed * 11);
}

static void put_png(const char *path, int h, int w, int seed)
{
    put_file(path, "", 0);
    uint8_t *rgb = malloc((size_t)(h * w * 3));
    pattern(rgb, h, w, seed);
    png_image img;
    memset(&img, 0, sizeof img);
    img.version = PNG_IMAGE_VERSION;
    img.width = (png_uint_32)w;
    img.height = (png_uint_32)h;
    img.format = PNG_FORMAT_RGB;
    assert_true(png_image_write_to_file(&img, path, 0, rgb, 0, NULL));
    free(rgb);
}

static void put_jpeg(const char *path, int h, int w, int seed)
{
    put_file(path, "", 0);
    uint8_t *rgb = malloc((size_t)(h * w * 3));
    pattern(rgb, h, w, seed);
    struct jpeg_compress_struct ci;
    struct jpeg_error_mgr jerr;
    ci.err = jpeg_std_error(&jerr);
    jpeg_create_compress(&ci);
    FILE *f = fopen(path, "wb");
    jpeg_stdio_dest(&ci, f);
    ci.image_width = (JDIMENSION)w;
    ci.image_height = (JDIMENSION)h;
    ci.input_components = 3;
    ci.in_color_space = JCS_RGB;
    jpeg_set_defaults(&ci);
    jpeg_set_quality(&ci, 90, TRUE);
    jpeg_start_compress(&ci, TRUE);
    while (ci.next_scanline < ci.image_height) {
        JSAMPROW row = rgb + (size_t)ci.next_scanline * (size_t)w * 3;
        jpeg_write_scanlines(&ci, &row, 1);
    }
    jpeg_finish_compress(&ci);
    jpeg_destroy_compress(&ci);
    fclose(f);
    free(rgb);
}

static void test_folder(void **state)
{
    (void)state;
    /* classes "zebra" and "ant": sorted by name, ant = 0 */
    for (int i = 0; i < 4; i++) {
        put_png(P("fold/train/zebra/%d.png", i), 6, 5, i);
        put_jpeg(P("fold/train/ant/%d.jpg", i), 6, 5, 10 + i);
    }
    put_png(P("fold/test/zebra/x.PNG"), 6, 5, 7);
    put_text(P("fold/train/ant/notes.txt"), "not an image");
    char name[600];
    snprintf(name, sizeof name, "folder:%s", P("fold"));
    cgalr_data_config_t cfg;
    cgalr_data_config_default(&cfg);
    cfg.name = name;
    cfg.cache_dir = P("cache-fold");
    cfg.normalize = 0;
    cfg.val_fraction = 0;
    cgalr_dataset_t *ds;
    assert_int_equal(cgalr_dataset_open(&cfg, &ds), CGALR_OK);
    const cgalr_data_info_t *in = cgalr_dataset_info(ds);
    assert_int_equal(in->classes, 2);
    assert_string_equal(in->class_names[0], "ant");
    assert_int_equal(in->samples[0], 8);
    assert_int_equal(in->samples[2], 1);
    assert_int_equal(in->class_counts[2][1], 1);
    assert_int_equal(in->h * 10 + in->w, 65);
    assert_non_null(in->cache_file);
    /* PNG is lossless: zebra/2.png is train sample 6 (ant 0-3 first, then zebra in name order) */
    cgalr_loader_t *ld = loader(ds, CGALR_SPLIT_TRAIN, 8, 0);
    size_t six = 6;
    cgalr_batch_t b;
    assert_int_equal(cgalr_loader_gather(ld, &six, 1, &b), CGALR_OK);
    uint8_t rgb[6 * 5 * 3];
    pattern(rgb, 6, 5, 2);
    for (int c = 0; c < 3; c++)
        for (int p = 0; p < 30; p++)
            assert_float_equal(b.image.x[c * 30 + p], rgb[p * 3 + c] / 255.0f, 1e-6);
    assert_int_equal(b.image.labels[0], 1);
    float first = b.image.x[0];
    cgalr_loader_free(ld);
    cgalr_dataset_free(ds);
    /* second open: from the cache, same pixels */
    assert_int_equal(cgalr_dataset_open(&cfg, &ds), CGALR_OK);
    assert_non_null(cgalr_dataset_info(ds)->cache_file);
    ld = loader(ds, CGALR_SPLIT_TRAIN, 8, 0);
    assert_int_equal(cgalr_loader_gather(ld, &six, 1, &b), CGALR_OK);
    assert_float_equal(b.image.x[0], first, 0);
    char cache[512];
    snprintf(cache, sizeof cache, "%s", cgalr_dataset_info(ds)->cache_file);
    cgalr_loader_free(ld);
    cgalr_dataset_free(ds);
    /* a corrupt cache is rebuilt, not trusted */
    FILE *f = fopen(cache, "r+b");
    fseek(f, 40, SEEK_SET);
    fputs("garbage", f);
    fclose(f);
    assert_int_equal(truncate(cache, 100), 0);
    assert_int_equal(cgalr_dataset_open(&cfg, &ds), CGALR_OK);
    assert_int_equal(cgalr_dataset_info(ds)->samples[0], 8);
    cgalr_dataset_free(ds);
    /* different sizes need a resize */
    put_png(P("fold/train/zebra/9.png"), 9, 7, 1);
    cfg.cache_dir = "";
    expect_fail(&cfg, CGALR_EFORMAT, "9.png", "fixed resize");
    cfg.resize = 4;
    assert_int_equal(cgalr_dataset_open(&cfg, &ds), CGALR_OK);
    assert_int_equal(cgalr_dataset_info(ds)->h, 4);
    assert_int_equal(cgalr_dataset_info(ds)->w, 4);
    cgalr_dataset_free(ds);
    /* unreadable and truncated images */
    put_text(P("fold/train/zebra/bad.png"), "this is not a png");
    expect_fail(&cfg, CGALR_EFORMAT, "bad.png", "neither the JPEG nor the PNG");
    remove(P("fold/train/zebra/bad.png"));
    uint8_t jb[4096];
    f = fopen(P("fold/train/ant/1.jpg"), "rb");
    size_t jl = fread(jb, 1, sizeof jb, f);
    fclose(f);
    put_file(P("fold/train/ant/1.jpg"), jb, jl / 2);
    expect_fail(&cfg, CGALR_EFORMAT, "1.jpg", "unreadable JPEG");
    put_file(P("fold/train/ant/1.jpg"), "\xff\xd8\xff\xe0", 4);
    expect_fail(&cfg, CGALR_EFORMAT, "1.jpg", "unreadable JPEG");
    uint8_t pb[8192];
    f = fopen(P("fold/train/zebra/0.png"), "rb");
    size_t pl = fread(pb, 1, sizeof pb, f);
    fclose(f);
    put_file(P("fold/train/zebra/0.png"), pb, pl - 20);
    put_jpeg(P("fold/train/ant/1.jpg"), 6, 5, 1);
    expect_fail(&cfg, CGALR_EFORMAT, "0.png", "PNG");
    /* a test class that train does not have */
    put_png(P("fold/train/zebra/0.png"), 6, 5, 0);
    put_png(P("fold/test/yak/0.png"), 6, 5, 0);
    expect_fail(&cfg, CGALR_EFORMAT, "yak", "not among");
    snprintf(name, sizeof name, "folder:%s", P("nowhere"));
    expect_fail(&cfg, CGALR_EIO, "nowhere", NULL);
}

/* A flat-colour JPEG in memory with `comps` components in colour space `cs`. */
static unsigned char *flat_jpeg(J_COLOR_SPACE cs, int comps, const uint8_t *px, unsigned long *len)
{
    struct jpeg_compress_struct ci;
    struct jpeg_error_mgr jerr;
    ci.err = jpeg_std_error(&jerr);
    jpeg_create_compress(&ci);
    unsigned char *mem = NULL;
    jpeg_mem_dest(&ci, &mem, len);
    ci.image_width = 16;
    ci.image_height = 8;
    ci.input_components = comps;
    ci.in_color_space = cs;
    jpeg_set_defaults(&ci);
    jpeg_set_quality(&ci, 95, TRUE);
    jpeg_start_compress(&ci, TRUE);
    uint8_t row[16 * 4];
    for (int x = 0; x < 16; x++)
        memcpy(row + x * comps, px, (size_t)comps);
    while (ci.next_scanline < ci.image_height) {
        JSAMPROW r = row;
        jpeg_write_scanlines(&ci, &r, 1);
    }
    jpeg_finish_compress(&ci);
    jpeg_destroy_compress(&ci);
    return mem;
}

static void test_jpeg_colorspaces(void **state)
{
    (void)state;
    /* grayscale becomes three equal channels; Adobe CMYK (stored inverted, as libjpeg writes it)
     * converts to RGB = C K / 255 per channel */
    uint8_t g = 77, cmyk[4] = {200, 100, 50, 255};
    unsigned long len;
    unsigned char *jpg = flat_jpeg(JCS_GRAYSCALE, 1, &g, &len);
    uint8_t *pix;
    size_t h, w;
    assert_int_equal(data_image_decode("gray.jpg", jpg, len, &pix, &h, &w), CGALR_OK);
    assert_int_equal(h * 100 + w, 816);
    for (int c = 0; c < 3; c++)
        assert_true(abs(pix[c * 128 + 5] - 77) <= 2);
    free(pix);
    free(jpg);
    jpg = flat_jpeg(JCS_CMYK, 4, cmyk, &len);
    assert_int_equal(data_image_decode("cmyk.jpg", jpg, len, &pix, &h, &w), CGALR_OK);
    assert_true(abs(pix[0 * 128 + 9] - 200) <= 3);
    assert_true(abs(pix[1 * 128 + 9] - 100) <= 3);
    assert_true(abs(pix[2 * 128 + 9] - 50) <= 3);
    free(pix);
    /* extraneous bytes before a marker are tolerated (libjpeg only warns), a cut file is not */
    unsigned char *junk = malloc(len + 3);
    memcpy(junk, jpg, len - 2);
    memcpy(junk + len - 2, "\x01\x02\x03\xff\xd9", 5);
    assert_int_equal(data_image_decode("junk.jpg", junk, len + 3, &pix, &h, &w), CGALR_OK);
    free(pix);
    assert_int_equal(data_image_decode("cut.jpg", jpg, len * 2 / 3, &pix, &h, &w), CGALR_EFORMAT);
    assert_non_null(strstr(cgalr_last_error(), "cut.jpg"));
    assert_null(pix);
    free(junk);
    free(jpg);
}

static void test_miniimagenet(void **state)
{
    (void)state;
    const char *csv[3] = {"train.csv", "val.csv", "test.csv"};
    const char *cls[3] = {"n02", "n01", "n03"};
    for (int s = 0; s < 3; s++) {
        char text[1024] = "filename,label\n";
        for (int i = 0; i < 4; i++) {
            char fn[64];
            snprintf(fn, sizeof fn, "%s%04d.jpg", cls[(s + i) % 3], s * 10 + i);
            put_jpeg(P("mini-imagenet/images/%s", fn), 100, 90, i);
            snprintf(text + strlen(text), sizeof text - strlen(text), "%s,%s\r\n", fn, cls[(s + i) % 3]);
        }
        put_text(P("mini-imagenet/%s", csv[s]), text);
    }
    cgalr_dataset_t *ds;
    assert_int_equal(open_ds("mini-imagenet", &ds), CGALR_OK);
    const cgalr_data_info_t *in = cgalr_dataset_info(ds);
    assert_int_equal(in->h, 84);
    assert_int_equal(in->w, 84);
    assert_int_equal(in->c, 3);
    assert_int_equal(in->classes, 3);
    assert_string_equal(in->class_names[0], "n01");
    assert_int_equal(in->samples[0], 4);
    assert_int_equal(in->samples[1], 4); /* val.csv, not carved from train */
    assert_int_equal(in->samples[2], 4);
    assert_int_equal(cgalr_dataset_labels(ds, CGALR_SPLIT_TRAIN)[0], 1); /* n02 */
    assert_int_equal(in->decoded, 12);
    cgalr_dataset_free(ds);
    assert_int_equal(open_ds("mini-imagenet", &ds), CGALR_OK);
    assert_int_equal(cgalr_dataset_info(ds)->decoded, 0); /* from the cache */
    cgalr_dataset_free(ds);
    /* --limit: from the complete cache, or decoding only the 2 + 2 + 2 images the splits use;
     * both must give the same dataset, pixel for pixel, and the partial decode is not cached */
    cgalr_data_config_t cfg;
    cgalr_data_config_default(&cfg);
    cfg.name = "mini-imagenet";
    cfg.data_dir = root;
    cfg.cache_dir = P("cache");
    cfg.limit = 2;
    cgalr_dataset_t *part;
    assert_int_equal(cgalr_dataset_open(&cfg, &ds), CGALR_OK);
    assert_int_equal(cgalr_dataset_info(ds)->decoded, 0);
    cfg.cache_dir = P("cache-limit");
    assert_int_equal(cgalr_dataset_open(&cfg, &part), CGALR_OK);
    const cgalr_data_info_t *pi = cgalr_dataset_info(part);
    assert_int_equal(pi->decoded, 6);
    assert_null(pi->cache_file);
    assert_int_equal(access(P("cache-limit"), F_OK), -1);
    assert_memory_equal(pi->mean, cgalr_dataset_info(ds)->mean, 3 * sizeof(float));
    assert_memory_equal(pi->std, cgalr_dataset_info(ds)->std, 3 * sizeof(float));
    for (int s = 0; s < 3; s++) {
        assert_int_equal(pi->samples[s], 2);
        assert_memory_equal(cgalr_dataset_split_ids(part, (cgalr_split_t)s), cgalr_dataset_split_ids(ds, (cgalr_split_t)s),
                            2 * sizeof(size_t));
        cgalr_loader_t *a = loader(ds, (cgalr_split_t)s, 2, 0), *b = loader(part, (cgalr_split_t)s, 2, 0);
        size_t idx[2] = {0, 1};
        cgalr_batch_t ba, bb;
        assert_int_equal(cgalr_loader_gather(a, idx, 2, &ba), CGALR_OK);
        assert_int_equal(cgalr_loader_gather(b, idx, 2, &bb), CGALR_OK);
        assert_memory_equal(ba.image.x, bb.image.x, 2 * 3 * 84 * 84 * sizeof(float));
        assert_memory_equal(ba.image.labels, bb.image.labels, 2 * sizeof(int32_t));
        cgalr_loader_free(a);
        cgalr_loader_free(b);
    }
    cgalr_dataset_free(ds);
    cgalr_dataset_free(part);
    put_text(P("mini-imagenet/test.csv"), "filename,label\nn030020.jpg,n01\nmissing.jpg,n01\n");
    expect_open_fail("mini-imagenet", CGALR_EIO, "missing.jpg", "row 2");
    put_text(P("mini-imagenet/test.csv"), "filename,label\nn030020.jpg\n");
    expect_open_fail("mini-imagenet", CGALR_EFORMAT, "test.csv' line 2", "filename,label");
    put_text(P("mini-imagenet/test.csv"), "filename,label\n../../etc/passwd,n01\n");
    expect_open_fail("mini-imagenet", CGALR_EFORMAT, "test.csv' line 2", NULL);
}

static void test_limit_and_seeds(void **state)
{
    (void)state;
    cgalr_data_config_t cfg;
    mnist_config(&cfg);
    cfg.limit = 7;
    cgalr_dataset_t *ds, *d2;
    assert_int_equal(cgalr_dataset_open(&cfg, &ds), CGALR_OK);
    for (int s = 0; s < 3; s++)
        assert_int_equal(cgalr_dataset_info(ds)->samples[s], 7);
    /* a random subset in split order, not the first 7 records */
    const size_t *ids = cgalr_dataset_split_ids(ds, CGALR_SPLIT_TRAIN);
    for (int k = 1; k < 7; k++)
        assert_true(ids[k] > ids[k - 1]);
    assert_true(ids[6] > 6);
    cgalr_dataset_free(ds);
    cfg.limit = 0;
    cfg.val_fraction = 0.3;
    assert_int_equal(cgalr_dataset_open(&cfg, &ds), CGALR_OK);
    cfg.split_seed = 99;
    assert_int_equal(cgalr_dataset_open(&cfg, &d2), CGALR_OK);
    assert_int_equal(cgalr_dataset_info(ds)->samples[1], 30);
    assert_memory_not_equal(cgalr_dataset_split_ids(ds, CGALR_SPLIT_VAL), cgalr_dataset_split_ids(d2, CGALR_SPLIT_VAL),
                            30 * sizeof(size_t));
    cgalr_dataset_free(ds);
    cgalr_dataset_free(d2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_idx),          cmocka_unit_test(test_idx_malformed),
        cmocka_unit_test(test_cifar),        cmocka_unit_test(test_loader_determinism),
        cmocka_unit_test(test_bad_config),   cmocka_unit_test(test_tu),
        cmocka_unit_test(test_tu_malformed), cmocka_unit_test(test_folder),
        cmocka_unit_test(test_miniimagenet), cmocka_unit_test(test_limit_and_seeds),
        cmocka_unit_test(test_jpeg_colorspaces),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
