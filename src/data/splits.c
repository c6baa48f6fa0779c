/* The splits of a dataset (METHOD.md section 6, docs/PROTOCOL.md): stratified validation carved
 * from training, stratified K-fold for the graph sets (the fold is the test set), class-balanced
 * training subsets and per-split limits, all drawn by the split seed alone so that every method
 * and seed sees the same samples. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cgalr/rng.h"
#include "data/data_internal.h"

/* ---- splits ------------------------------------------------------------------------------- */

typedef struct idlist {
    size_t n;
    size_t *id;
} idlist_t;

static int cmp_size(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return (x > y) - (x < y);
}

/* Per class, the members of `pool` shuffled by (rng, class): the building block of every
 * stratified split. Returns per-class lists inside one allocation. */
static cgalr_status_t by_class(const idlist_t *pool, const int32_t *labels, size_t classes, const cgalr_rng_t *rng,
                               size_t **flat, size_t **start)
{
    *flat = malloc((pool->n + 1) * sizeof **flat);
    *start = calloc(classes + 1, sizeof **start);
    if (!*flat || !*start)
        return cgalr_fail(CGALR_ENOMEM, "out of memory for splits");
    for (size_t i = 0; i < pool->n; i++)
        (*start)[labels[pool->id[i]] + 1]++;
    for (size_t c = 0; c < classes; c++)
        (*start)[c + 1] += (*start)[c];
    size_t *fill = malloc((classes + 1) * sizeof *fill);
    if (!fill)
        return cgalr_fail(CGALR_ENOMEM, "out of memory for splits");
    memcpy(fill, *start, (classes + 1) * sizeof *fill);
    for (size_t i = 0; i < pool->n; i++)
        (*flat)[fill[labels[pool->id[i]]]++] = pool->id[i];
    free(fill);
    for (size_t c = 0; c < classes; c++) {
        cgalr_rng_t r = cgalr_rng_derive(rng, c);
        cgalr_rng_shuffle(&r, *flat + (*start)[c], (*start)[c + 1] - (*start)[c]);
    }
    return CGALR_OK;
}

static size_t round_frac(size_t n, double f)
{
    double x = floor((double)n * f + 0.5);
    return x > (double)n ? n : (size_t)x;
}

/* Moves round(fraction * count) samples of each class of `pool` to `out` (stratified). */
static cgalr_status_t carve(idlist_t *pool, const int32_t *labels, size_t classes, double fraction,
                            const cgalr_rng_t *rng, idlist_t *out)
{
    size_t *flat = NULL, *start = NULL;
    cgalr_status_t st = by_class(pool, labels, classes, rng, &flat, &start);
    if (st) {
        free(flat);
        free(start);
        return st;
    }
    out->id = malloc((pool->n + 1) * sizeof *out->id);
    if (!out->id) {
        free(flat);
        free(start);
        return cgalr_fail(CGALR_ENOMEM, "out of memory for splits");
    }
    out->n = 0;
    size_t keep = 0;
    for (size_t c = 0; c < classes; c++) {
        size_t cnt = start[c + 1] - start[c], take = round_frac(cnt, fraction);
        for (size_t k = 0; k < cnt; k++) {
            size_t id = flat[start[c] + k];
            if (k < take)
                out->id[out->n++] = id;
            else
                pool->id[keep++] = id;
        }
    }
    pool->n = keep;
    qsort(pool->id, pool->n, sizeof *pool->id, cmp_size);
    qsort(out->id, out->n, sizeof *out->id, cmp_size);
    free(flat);
    free(start);
    return CGALR_OK;
}

/* Keeps n samples of `pool`, as equal a number per class as the classes allow (the classes with
 * fewer members give all they have, the rest is shared out), drawn by rng. */
static cgalr_status_t balanced_subset(idlist_t *pool, const int32_t *labels, size_t classes, size_t n,
                                      const cgalr_rng_t *rng)
{
    size_t *flat = NULL, *start = NULL, *take = calloc(classes + 1, sizeof *take);
    cgalr_status_t st = take ? by_class(pool, labels, classes, rng, &flat, &start)
                             : cgalr_fail(CGALR_ENOMEM, "out of memory for splits");
    if (st) {
        free(flat);
        free(start);
        free(take);
        return st;
    }
    /* one sample at a time to each class that still has members, in class order: equal shares,
     * the remainder to the first classes */
    size_t given = 0;
    while (given < n) {
        size_t before = given;
        for (size_t c = 0; c < classes && given < n; c++)
            if (take[c] < start[c + 1] - start[c]) {
                take[c]++;
                given++;
            }
        if (given == before)
            break;
    }
    size_t keep = 0;
    for (size_t c = 0; c < classes; c++)
        for (size_t k = 0; k < take[c]; k++)
            pool->id[keep++] = flat[start[c] + k];
    pool->n = keep;
    qsort(pool->id, pool->n, sizeof *pool->id, cmp_size);
    free(flat);
    free(start);
    free(take);
    return CGALR_OK;
}

/* Stratified k-fold: the j-th shuffled member of class c goes to fold (j + offset_c) mod k,
 * offsets chained across classes so the folds also balance in total size. */
static cgalr_status_t kfold(idlist_t *pool, const int32_t *labels, size_t classes, int folds, int fold,
                            const cgalr_rng_t *rng, idlist_t *test)
{
    size_t *flat = NULL, *start = NULL;
    cgalr_status_t st = by_class(pool, labels, classes, rng, &flat, &start);
    if (!st && !(test->id = malloc((pool->n + 1) * sizeof *test->id)))
        st = cgalr_fail(CGALR_ENOMEM, "out of memory for splits");
    if (st) {
        free(flat);
        free(start);
        return st;
    }
    test->n = 0;
    size_t keep = 0, off = 0;
    for (size_t c = 0; c < classes; c++) {
        size_t cnt = start[c + 1] - start[c];
        for (size_t k = 0; k < cnt; k++) {
            size_t id = flat[start[c] + k];
            if ((k + off) % (size_t)folds == (size_t)fold)
                test->id[test->n++] = id;
            else
                pool->id[keep++] = id;
        }
        off += cnt;
    }
    pool->n = keep;
    qsort(pool->id, pool->n, sizeof *pool->id, cmp_size);
    qsort(test->id, test->n, sizeof *test->id, cmp_size);
    free(flat);
    free(start);
    return CGALR_OK;
}

/* The sample ids of each split (ascending): the files' own train/val/test (`origin`, NULL = all
 * train), validation and (graphs) test carved by stratified draws, then cfg->limit. Depends only
 * on labels and origin, so an image loader can learn which samples an open uses before it
 * decodes any pixels (data_select). */
static cgalr_status_t split_ids(const cgalr_data_config_t *cfg, int graph, size_t n_all, const int32_t *labels,
                                size_t classes, const uint8_t *origin, idlist_t sp[CGALR_N_SPLITS])
{
    memset(sp, 0, CGALR_N_SPLITS * sizeof *sp);
    for (int s = 0; s < CGALR_N_SPLITS; s++) {
        sp[s].id = malloc((n_all + 1) * sizeof *sp[s].id);
        if (!sp[s].id) {
            for (int t = 0; t < s; t++)
                free(sp[t].id);
            return cgalr_fail(CGALR_ENOMEM, "out of memory for splits");
        }
    }
    for (size_t i = 0; i < n_all; i++) {
        int s = origin ? origin[i] : CGALR_SPLIT_TRAIN;
        sp[s].id[sp[s].n++] = i;
    }
    cgalr_rng_t base = cgalr_rng_init(cfg->split_seed, CGALR_STREAM_SPLIT);
    cgalr_rng_t r_test = cgalr_rng_derive(&base, 1), r_val = cgalr_rng_derive(&base, 2);
    cgalr_status_t st = CGALR_OK;
    idlist_t tmp = {0, NULL};
    if (graph) {
        if (cfg->folds >= 2) {
            st = kfold(&sp[0], labels, classes, cfg->folds, cfg->fold, &r_test, &tmp);
        } else {
            /* 80/10/10: 10% of each class to test, then 1/9 of the rest (10% of the whole) to val. */
            st = carve(&sp[0], labels, classes, 0.1, &r_test, &tmp);
        }
        if (!st) {
            free(sp[2].id);
            sp[2] = tmp;
            tmp.id = NULL;
            double vf = cfg->folds >= 2 ? cfg->val_fraction : 1.0 / 9.0;
            free(sp[1].id);
            sp[1].id = NULL;
            st = carve(&sp[0], labels, classes, vf, &r_val, &sp[1]);
        }
    } else if (cfg->train_subset && cfg->train_subset < sp[0].n) {
        cgalr_rng_t r_sub = cgalr_rng_derive(&base, 3);
        st = balanced_subset(&sp[0], labels, classes, cfg->train_subset, &r_sub);
    }
    if (!st && !graph && sp[1].n == 0 && cfg->val_fraction > 0) {
        free(sp[1].id);
        sp[1].id = NULL;
        st = carve(&sp[0], labels, classes, cfg->val_fraction, &r_val, &sp[1]);
    }
    free(tmp.id);
    for (int s = 0; s < CGALR_N_SPLITS && !st; s++) {
        if (cfg->limit && sp[s].n > cfg->limit) {
            /* A random subset, not the first records: files sorted by class (image folders, the
             * CIFAR-10 JPEG copy) would otherwise leave a single class. */
            cgalr_rng_t r = cgalr_rng_derive(&base, 10 + (uint64_t)s);
            cgalr_rng_shuffle(&r, sp[s].id, sp[s].n);
            sp[s].n = cfg->limit;
            qsort(sp[s].id, sp[s].n, sizeof *sp[s].id, cmp_size);
        }
    }
    if (st)
        for (int s = 0; s < CGALR_N_SPLITS; s++) {
            free(sp[s].id);
            sp[s].id = NULL;
        }
    return st;
}

cgalr_status_t data_select(const cgalr_data_config_t *cfg, size_t n_all, const int32_t *labels, size_t classes,
                           const uint8_t *origin, uint8_t *keep, size_t *kept)
{
    idlist_t sp[CGALR_N_SPLITS];
    cgalr_status_t st = split_ids(cfg, 0, n_all, labels, classes, origin, sp);
    if (st)
        return st;
    memset(keep, 0, n_all);
    *kept = 0;
    for (int s = 0; s < CGALR_N_SPLITS; s++) {
        for (size_t k = 0; k < sp[s].n; k++)
            keep[sp[s].id[k]] = 1;
        *kept += sp[s].n;
        free(sp[s].id);
    }
    return CGALR_OK;
}

cgalr_status_t data_make_splits(cgalr_dataset_t *ds, const cgalr_data_config_t *cfg, const uint8_t *origin)
{
    idlist_t sp[CGALR_N_SPLITS];
    cgalr_status_t st = split_ids(cfg, ds->info.kind == CGALR_DATA_GRAPH, ds->n_all, ds->labels, ds->info.classes,
                                  origin, sp);
    for (int s = 0; s < CGALR_N_SPLITS && !st; s++) {
        ds->split_idx[s] = sp[s].id;
        ds->info.samples[s] = sp[s].n;
    }
    if (st)
        return st;
    if (ds->info.samples[CGALR_SPLIT_TRAIN] == 0)
        return cgalr_fail(CGALR_EFORMAT, "%s: the training split is empty", ds->name);
    for (int s = 0; s < CGALR_N_SPLITS; s++) {
        size_t n = ds->info.samples[s];
        ds->split_labels[s] = malloc((n + 1) * sizeof *ds->split_labels[s]);
        ds->class_counts[s] = calloc(ds->info.classes, sizeof *ds->class_counts[s]);
        if (!ds->split_labels[s] || !ds->class_counts[s])
            return cgalr_fail(CGALR_ENOMEM, "out of memory for splits");
        for (size_t k = 0; k < n; k++) {
            int32_t l = ds->labels[ds->split_idx[s][k]];
            ds->split_labels[s][k] = l;
            ds->class_counts[s][l]++;
        }
        ds->info.class_counts[s] = ds->class_counts[s];
    }
    return CGALR_OK;
}
