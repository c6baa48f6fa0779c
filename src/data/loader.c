/* Mini-batch loaders: per-epoch permutations and per-sample augmentation drawn from counter-based
 * streams keyed by (seed, epoch, position), so any batch of any epoch can be rebuilt alone. */
#include <stdlib.h>
#include <string.h>

#include "cgalr/rng.h"
#include "data/data_internal.h"

struct cgalr_loader {
    const cgalr_dataset_t *ds;
    cgalr_loader_config_t cfg;
    size_t n;           /* samples in the split */
    size_t nb;          /* batches per epoch */
    size_t *order;      /* the permutation of order_epoch */
    uint64_t order_epoch;
    int order_valid;
    size_t *bidx;       /* positions in the split of the current batch */
    size_t bidx_cap;
    float *x;
    size_t x_cap;       /* floats */
    int32_t *labels;
    size_t lab_cap;
    /* graph batch buffers */
    int32_t *row_ptr, *col, *node_ptr, *gon;
    size_t rp_cap, gon_cap, col_cap, np_cap;
};

void cgalr_loader_config_default(cgalr_loader_config_t *cfg, cgalr_split_t split)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->split = split;
    cfg->batch_size = 128;
    cfg->shuffle = split == CGALR_SPLIT_TRAIN;
    cfg->augment = split == CGALR_SPLIT_TRAIN;
}

cgalr_status_t cgalr_loader_create(const cgalr_dataset_t *ds, const cgalr_loader_config_t *cfg,
                                   cgalr_loader_t **out)
{
    if (!out)
        return cgalr_fail(CGALR_EINVAL, "cgalr_loader_create: out is NULL");
    *out = NULL;
    if (!ds || !cfg)
        return cgalr_fail(CGALR_EINVAL, "cgalr_loader_create: %s is NULL", ds ? "config" : "dataset");
    if ((unsigned)cfg->split >= CGALR_N_SPLITS)
        return cgalr_fail(CGALR_EINVAL, "loader: split %d, expected train (0), val (1) or test (2)", (int)cfg->split);
    if (cfg->batch_size == 0 || cfg->batch_size > (1u << 24))
        return cgalr_fail(CGALR_EINVAL, "loader: batch size %zu, expected 1..%u", cfg->batch_size, 1u << 24);
    cgalr_loader_t *ld = calloc(1, sizeof *ld);
    if (!ld)
        return cgalr_fail(CGALR_ENOMEM, "out of memory");
    ld->ds = ds;
    ld->cfg = *cfg;
    ld->n = ds->info.samples[cfg->split];
    ld->nb = cfg->drop_last ? ld->n / cfg->batch_size : (ld->n + cfg->batch_size - 1) / cfg->batch_size;
    ld->order = malloc((ld->n + 1) * sizeof *ld->order);
    if (!ld->order) {
        free(ld);
        return cgalr_fail(CGALR_ENOMEM, "out of memory");
    }
    *out = ld;
    return CGALR_OK;
}

void cgalr_loader_free(cgalr_loader_t *ld)
{
    if (!ld)
        return;
    free(ld->order);
    free(ld->bidx);
    free(ld->x);
    free(ld->labels);
    free(ld->row_ptr);
    free(ld->col);
    free(ld->node_ptr);
    free(ld->gon);
    free(ld);
}

size_t cgalr_loader_size(const cgalr_loader_t *ld)
{
    return ld ? ld->n : 0;
}

size_t cgalr_loader_n_batches(const cgalr_loader_t *ld)
{
    return ld ? ld->nb : 0;
}

cgalr_status_t cgalr_loader_order(const cgalr_loader_t *ld, uint64_t epoch, size_t *order)
{
    if (!ld || (!order && ld->n))
        return cgalr_fail(CGALR_EINVAL, "cgalr_loader_order: NULL argument");
    for (size_t i = 0; i < ld->n; i++)
        order[i] = i;
    if (ld->cfg.shuffle) {
        cgalr_rng_t base = cgalr_rng_init(ld->cfg.seed, CGALR_STREAM_SHUFFLE);
        cgalr_rng_t r = cgalr_rng_derive(&base, epoch);
        cgalr_rng_shuffle(&r, order, ld->n);
    }
    return CGALR_OK;
}

static cgalr_status_t grow(void **p, size_t *cap, size_t want, size_t elem)
{
    if (want <= *cap)
        return CGALR_OK;
    size_t nc = *cap ? *cap : 64;
    while (nc < want)
        nc *= 2;
    void *q = realloc(*p, nc * elem);
    if (!q)
        return cgalr_fail(CGALR_ENOMEM, "loader: out of memory for %zu elements", nc);
    *p = q;
    *cap = nc;
    return CGALR_OK;
}

/* One image into dst (c x h x w floats): normalised through the per-channel table, shifted by
 * (dy, dx) with zeros (pixel value 0, as torchvision pads) where the crop leaves the image, and
 * mirrored when flip is set. */
static void put_image(const cgalr_dataset_t *ds, const uint8_t *src, float *dst, int dy, int dx, int flip)
{
    size_t C = ds->img.c, H = ds->img.h, W = ds->img.w;
    for (size_t c = 0; c < C; c++) {
        const float *lut = ds->lut[c];
        const uint8_t *sp = src + c * H * W;
        float *dp = dst + c * H * W;
        if (!dy && !dx && !flip) {
            for (size_t i = 0; i < H * W; i++)
                dp[i] = lut[sp[i]];
            continue;
        }
        for (size_t y = 0; y < H; y++) {
            long sy = (long)y + dy;
            float *row = dp + y * W;
            if (sy < 0 || sy >= (long)H) {
                for (size_t x = 0; x < W; x++)
                    row[x] = lut[0];
                continue;
            }
            const uint8_t *srow = sp + (size_t)sy * W;
            for (size_t x = 0; x < W; x++) {
                long sx = (long)(flip ? W - 1 - x : x) + dx;
                row[x] = sx < 0 || sx >= (long)W ? lut[0] : lut[srow[sx]];
            }
        }
    }
}

/* Fills the batch from ld->bidx[0..n); `epoch`/`pos0` feed augmentation (aug = 0: none). */
static cgalr_status_t fill(cgalr_loader_t *ld, size_t n, int aug, uint64_t epoch, size_t pos0, cgalr_batch_t *out)
{
    const cgalr_dataset_t *ds = ld->ds;
    const size_t *ids = ds->split_idx[ld->cfg.split];
    cgalr_status_t st = grow((void **)&ld->labels, &ld->lab_cap, n + 1, sizeof *ld->labels);
    if (st)
        return st;
    memset(out, 0, sizeof *out);
    out->kind = ds->info.kind;
    out->n = n;
    out->index = ld->bidx;
    for (size_t k = 0; k < n; k++)
        ld->labels[k] = ds->labels[ids[ld->bidx[k]]];
    if (ds->info.kind == CGALR_DATA_IMAGE) {
        size_t per = ds->sample_len;
        if ((st = grow((void **)&ld->x, &ld->x_cap, n * per + 1, sizeof *ld->x)))
            return st;
        int crop = aug && ds->augment_crop, flip = aug && ds->augment_flip;
        cgalr_rng_t base = cgalr_rng_init(ld->cfg.seed, CGALR_STREAM_AUGMENT);
        cgalr_rng_t er = cgalr_rng_derive(&base, epoch);
        for (size_t k = 0; k < n; k++) {
            int dy = 0, dx = 0, fl = 0;
            if (crop || flip) {
                cgalr_rng_t r = cgalr_rng_derive(&er, pos0 + k);
                if (crop) {
                    dy = (int)cgalr_rng_below(&r, 9) - 4;
                    dx = (int)cgalr_rng_below(&r, 9) - 4;
                }
                if (flip)
                    fl = (int)(cgalr_rng_u64(&r) >> 63);
            }
            put_image(ds, img_sample(&ds->img, ids[ld->bidx[k]]), ld->x + k * per, dy, dx, fl);
        }
        out->image.n = n;
        out->image.c = ds->img.c;
        out->image.h = ds->img.h;
        out->image.w = ds->img.w;
        out->image.x = ld->x;
        out->image.labels = ld->labels;
        return CGALR_OK;
    }
    const tu_raw_t *t = &ds->tu;
    size_t nodes = 0, nnz = 0, fd = ds->info.feat_dim;
    for (size_t k = 0; k < n; k++) {
        size_t g = ids[ld->bidx[k]];
        nodes += t->node_ptr[g + 1] - t->node_ptr[g];
        nnz += (size_t)(t->adj_ptr[t->node_ptr[g + 1]] - t->adj_ptr[t->node_ptr[g]]);
    }
    if (nodes >= INT32_MAX || nnz >= INT32_MAX)
        return cgalr_fail(CGALR_EINVAL, "loader: batch of %zu nodes and %zu edges exceeds 32-bit indices", nodes, nnz);
    if ((st = grow((void **)&ld->x, &ld->x_cap, nodes * fd + 1, sizeof *ld->x)) ||
        (st = grow((void **)&ld->row_ptr, &ld->rp_cap, nodes + 1, sizeof *ld->row_ptr)) ||
        (st = grow((void **)&ld->gon, &ld->gon_cap, nodes + 1, sizeof *ld->gon)) ||
        (st = grow((void **)&ld->col, &ld->col_cap, nnz + 1, sizeof *ld->col)) ||
        (st = grow((void **)&ld->node_ptr, &ld->np_cap, n + 1, sizeof *ld->node_ptr)))
        return st;
    size_t v0 = 0, e0 = 0;
    ld->row_ptr[0] = 0;
    for (size_t k = 0; k < n; k++) {
        size_t g = ids[ld->bidx[k]];
        size_t a = t->node_ptr[g], b = t->node_ptr[g + 1];
        ld->node_ptr[k] = (int32_t)v0;
        memcpy(ld->x + v0 * fd, ds->feat + a * fd, (b - a) * fd * sizeof *ld->x);
        for (size_t v = a; v < b; v++, v0++) {
            ld->gon[v0] = (int32_t)k;
            for (int32_t j = t->adj_ptr[v]; j < t->adj_ptr[v + 1]; j++)
                ld->col[e0++] = (int32_t)(t->adj[j] - (int32_t)a + ld->node_ptr[k]);
            ld->row_ptr[v0 + 1] = (int32_t)e0;
        }
    }
    ld->node_ptr[n] = (int32_t)v0;
    out->graph.n_graphs = n;
    out->graph.n_nodes = nodes;
    out->graph.feat_dim = fd;
    out->graph.x = ld->x;
    out->graph.row_ptr = ld->row_ptr;
    out->graph.col = ld->col;
    out->graph.node_ptr = ld->node_ptr;
    out->graph.graph_of_node = ld->gon;
    out->graph.labels = ld->labels;
    return CGALR_OK;
}

cgalr_status_t cgalr_loader_batch(cgalr_loader_t *ld, uint64_t epoch, size_t b, cgalr_batch_t *out)
{
    return cgalr_loader_batch_part(ld, epoch, b, 0, 1, out);
}

cgalr_status_t cgalr_loader_batch_part(cgalr_loader_t *ld, uint64_t epoch, size_t b, size_t part, size_t parts,
                                       cgalr_batch_t *out)
{
    if (!ld || !out)
        return cgalr_fail(CGALR_EINVAL, "cgalr_loader_batch: NULL argument");
    if (parts == 0 || part >= parts)
        return cgalr_fail(CGALR_EINVAL, "loader: part %zu of %zu", part, parts);
    if (b >= ld->nb)
        return cgalr_fail(CGALR_EINVAL, "loader: batch %zu of epoch %llu, the %s split has %zu batches", b,
                          (unsigned long long)epoch, cgalr_split_name(ld->cfg.split), ld->nb);
    if (!ld->order_valid || ld->order_epoch != epoch) {
        cgalr_loader_order(ld, epoch, ld->order);
        ld->order_epoch = epoch;
        ld->order_valid = 1;
    }
    size_t pos0 = b * ld->cfg.batch_size;
    size_t n = ld->n - pos0 < ld->cfg.batch_size ? ld->n - pos0 : ld->cfg.batch_size;
    /* the part's slice [lo, hi) of the batch; augmentation is keyed by the position in the
     * epoch, so a sample is cropped and flipped the same whatever the number of parts */
    size_t lo = n * part / parts, hi = n * (part + 1) / parts;
    pos0 += lo;
    n = hi - lo;
    cgalr_status_t st = grow((void **)&ld->bidx, &ld->bidx_cap, n + 1, sizeof *ld->bidx);
    if (st)
        return st;
    memcpy(ld->bidx, ld->order + pos0, n * sizeof *ld->bidx);
    return fill(ld, n, ld->cfg.augment, epoch, pos0, out);
}

cgalr_status_t cgalr_loader_gather(cgalr_loader_t *ld, const size_t *idx, size_t n, cgalr_batch_t *out)
{
    if (!ld || !out || (!idx && n))
        return cgalr_fail(CGALR_EINVAL, "cgalr_loader_gather: NULL argument");
    if (n == 0)
        return cgalr_fail(CGALR_EINVAL, "loader gather: 0 samples requested");
    for (size_t k = 0; k < n; k++)
        if (idx[k] >= ld->n)
            return cgalr_fail(CGALR_EINVAL, "loader gather: index %zu at position %zu, the %s split has %zu samples",
                              idx[k], k, cgalr_split_name(ld->cfg.split), ld->n);
    cgalr_status_t st = grow((void **)&ld->bidx, &ld->bidx_cap, n + 1, sizeof *ld->bidx);
    if (st)
        return st;
    memcpy(ld->bidx, idx, n * sizeof *ld->bidx);
    return fill(ld, n, 0, 0, 0, out);
}
