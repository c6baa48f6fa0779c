/* Finishing a loaded dataset: its splits (splits.c), then the training split's normalisation
 * statistics for images, and for graphs the node features (one-hot labels, degrees, attributes)
 * standardised on the training split. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cgalr/rng.h"
#include "data/data_internal.h"

/* ---- finishing ---------------------------------------------------------------------------- */

cgalr_status_t data_finish_images(cgalr_dataset_t *ds, const cgalr_data_config_t *cfg)
{
    img_set_t *s = &ds->img;
    if (s->n == 0)
        return cgalr_fail(CGALR_EFORMAT, "%s: no images", ds->name);
    if (s->c > 3)
        return cgalr_fail(CGALR_EFORMAT, "%s: %zu channels, at most 3 supported", ds->name, s->c);
    ds->n_all = s->n;
    ds->labels = s->labels;
    for (size_t i = 0; i < s->n; i++)
        if (s->labels[i] < 0 || (size_t)s->labels[i] >= ds->info.classes)
            return cgalr_fail(CGALR_EFORMAT, "%s: sample %zu has label %d, expected 0..%zu", ds->name, i,
                              s->labels[i], ds->info.classes - 1);
    cgalr_status_t st = data_make_splits(ds, cfg, s->origin);
    if (st)
        return st;
    ds->info.c = s->c;
    ds->info.h = s->h;
    ds->info.w = s->w;
    ds->sample_len = s->c * s->h * s->w;
    ds->info.feat_dim = ds->sample_len;
    /* Exact integer sums: the statistics do not depend on summation order. */
    size_t plane = s->h * s->w, ntr = ds->info.samples[CGALR_SPLIT_TRAIN];
    for (size_t c = 0; c < s->c; c++) {
        uint64_t sum = 0, sq = 0;
        for (size_t k = 0; k < ntr; k++) {
            const uint8_t *p = img_sample(s, ds->split_idx[CGALR_SPLIT_TRAIN][k]) + c * plane;
            for (size_t i = 0; i < plane; i++) {
                sum += p[i];
                sq += (uint64_t)p[i] * p[i];
            }
        }
        double cnt = (double)ntr * (double)plane;
        double mean = (double)sum / cnt, var = (double)sq / cnt - mean * mean;
        double sd = var > 0 ? sqrt(var) : 0;
        if (cfg->normalize) {
            ds->mean[c] = (float)(mean / 255.0);
            ds->std[c] = sd > 1e-3 ? (float)(sd / 255.0) : 1.0f;
        } else {
            ds->mean[c] = 0;
            ds->std[c] = 1;
        }
        for (int v = 0; v < 256; v++)
            ds->lut[c][v] = (float)(((double)v / 255.0 - ds->mean[c]) / ds->std[c]);
    }
    ds->info.mean = ds->mean;
    ds->info.std = ds->std;
    ds->augment_crop = cfg->augment_crop;
    ds->augment_flip = cfg->augment_flip;
    return CGALR_OK;
}

cgalr_status_t data_finish_graphs(cgalr_dataset_t *ds, const cgalr_data_config_t *cfg)
{
    tu_raw_t *t = &ds->tu;
    ds->n_all = t->n_graphs;
    ds->labels = malloc(t->n_graphs * sizeof *ds->labels);
    if (!ds->labels)
        return cgalr_fail(CGALR_ENOMEM, "out of memory");
    memcpy(ds->labels, t->graph_label, t->n_graphs * sizeof *ds->labels);
    if (cfg->node_attr && !t->node_attr)
        return cgalr_fail(CGALR_EINVAL, "%s: --node-attr, but the dataset has no node attributes file", ds->name);
    cgalr_status_t st = data_make_splits(ds, cfg, NULL);
    if (st)
        return st;
    size_t maxdeg = 0;
    for (size_t v = 0; v < t->n_nodes; v++) {
        size_t d = (size_t)(t->adj_ptr[v + 1] - t->adj_ptr[v]);
        if (d > maxdeg)
            maxdeg = d;
    }
    size_t ad = cfg->node_attr ? t->attr_dim : 0;
    size_t ld = t->node_label ? t->node_label_values : cfg->degree_features ? maxdeg + 1 : 1;
    size_t fd = ad + ld;
    ds->info.feat_dim = fd;
    ds->feat = calloc(t->n_nodes * fd, sizeof *ds->feat);
    if (!ds->feat)
        return cgalr_fail(CGALR_ENOMEM, "out of memory for %zu x %zu node features", t->n_nodes, fd);
    if (ad) {
        /* Standardise with the training split's nodes only, so nothing leaks from val/test. */
        double *sum = calloc(2 * ad, sizeof *sum);
        if (!sum)
            return cgalr_fail(CGALR_ENOMEM, "out of memory");
        double *sq = sum + ad, cnt = 0;
        for (size_t k = 0; k < ds->info.samples[CGALR_SPLIT_TRAIN]; k++) {
            size_t g = ds->split_idx[CGALR_SPLIT_TRAIN][k];
            for (size_t v = t->node_ptr[g]; v < t->node_ptr[g + 1]; v++, cnt++)
                for (size_t j = 0; j < ad; j++) {
                    double x = t->node_attr[v * ad + j];
                    sum[j] += x;
                    sq[j] += x * x;
                }
        }
        for (size_t j = 0; j < ad; j++) {
            double m = sum[j] / cnt, var = sq[j] / cnt - m * m;
            double sd = var > 1e-12 ? sqrt(var) : 1.0;
            for (size_t v = 0; v < t->n_nodes; v++)
                ds->feat[v * fd + j] = (float)((t->node_attr[v * ad + j] - m) / sd);
        }
        free(sum);
    }
    for (size_t v = 0; v < t->n_nodes; v++) {
        size_t j = t->node_label ? (size_t)t->node_label[v]
                 : cfg->degree_features ? (size_t)(t->adj_ptr[v + 1] - t->adj_ptr[v]) : 0;
        ds->feat[v * fd + ad + j] = 1.0f;
    }
    ds->info.graphs = t->n_graphs;
    ds->info.nodes = t->n_nodes;
    ds->info.edges = t->n_edges;
    ds->info.avg_nodes = (double)t->n_nodes / (double)t->n_graphs;
    ds->info.avg_edges = (double)t->n_edges / (double)t->n_graphs;
    ds->info.min_nodes = SIZE_MAX;
    for (size_t g = 0; g < t->n_graphs; g++) {
        size_t n = t->node_ptr[g + 1] - t->node_ptr[g];
        if (n < ds->info.min_nodes)
            ds->info.min_nodes = n;
        if (n > ds->info.max_nodes)
            ds->info.max_nodes = n;
    }
    ds->info.node_label_values = t->node_label ? t->node_label_values : 0;
    ds->info.node_attr_dim = t->attr_dim;
    ds->info.duplicate_edges = t->duplicates;
    return CGALR_OK;
}
