/* Test helper: dumps a split of a dataset so Python oracles can check it.
 *   tool_data_dump images NAME DATA_DIR CACHE_DIR SPLIT   -> stdout: CIFAR-style records
 *       (1 label byte, then the c*h*w pixel bytes, CHW), pixels un-normalised, split order,
 *       validation fraction 0 (so "train" is the official training set, in file order).
 *   tool_data_dump images NAME DATA_DIR CACHE_DIR SPLIT LIMIT   -> the same with --limit LIMIT,
 *       each record preceded by its dataset-wide sample id (4 bytes, little-endian).
 *   tool_data_dump graphs NAME DATA_DIR SPLIT BATCH SEED EPOCH [node-attr]
 *       -> stdout: one JSON line per batch of that epoch: index, ids, labels, node_ptr, row_ptr, col, x.
 *   tool_data_dump resize H W OH OW   stdin: 3 x H x W bytes (CHW) -> stdout: 3 x OH x OW bytes. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cgalr/data.h"
#include "data/data_internal.h"

static int split_of(const char *s)
{
    return !strcmp(s, "train") ? CGALR_SPLIT_TRAIN : !strcmp(s, "val") ? CGALR_SPLIT_VAL : CGALR_SPLIT_TEST;
}

static int dump_images(int argc, char **argv)
{
    cgalr_data_config_t cfg;
    cgalr_data_config_default(&cfg);
    cfg.name = argv[2];
    cfg.data_dir = argv[3];
    cfg.cache_dir = argv[4];
    cfg.val_fraction = 0;
    cfg.normalize = 0;
    cfg.limit = argc > 6 ? (size_t)atol(argv[6]) : 0;
    cgalr_dataset_t *ds;
    if (cgalr_dataset_open(&cfg, &ds)) {
        fprintf(stderr, "open: %s\n", cgalr_last_error());
        return 1;
    }
    cgalr_loader_config_t lc;
    cgalr_loader_config_default(&lc, (cgalr_split_t)split_of(argv[5]));
    lc.shuffle = 0;
    lc.augment = 0;
    lc.batch_size = 1000;
    cgalr_loader_t *ld;
    if (cgalr_loader_create(ds, &lc, &ld)) {
        fprintf(stderr, "loader: %s\n", cgalr_last_error());
        cgalr_dataset_free(ds);
        return 1;
    }
    const cgalr_data_info_t *in = cgalr_dataset_info(ds);
    const size_t *ids = cgalr_dataset_split_ids(ds, lc.split);
    size_t per = in->c * in->h * in->w, pos = 0;
    unsigned char *rec = malloc(per + 1);
    int rc = 0;
    for (size_t b = 0; b < cgalr_loader_n_batches(ld) && !rc; b++) {
        cgalr_batch_t bt;
        if (cgalr_loader_batch(ld, 0, b, &bt)) {
            fprintf(stderr, "batch: %s\n", cgalr_last_error());
            rc = 1;
            break;
        }
        for (size_t i = 0; i < bt.n; i++) {
            rec[0] = (unsigned char)bt.image.labels[i];
            for (size_t k = 0; k < per; k++)
                rec[1 + k] = (unsigned char)lrintf(bt.image.x[i * per + k] * 255.0f);
            if (cfg.limit) {
                uint32_t id = (uint32_t)ids[pos];
                unsigned char b[4] = {(unsigned char)id, (unsigned char)(id >> 8), (unsigned char)(id >> 16),
                                      (unsigned char)(id >> 24)};
                fwrite(b, 1, 4, stdout);
            }
            pos++;
            fwrite(rec, 1, per + 1, stdout);
        }
    }
    free(rec);
    cgalr_loader_free(ld);
    cgalr_dataset_free(ds);
    return rc;
}

static void ints(const char *key, const int32_t *v, size_t n)
{
    printf(", \"%s\": [", key);
    for (size_t i = 0; i < n; i++)
        printf("%s%d", i ? "," : "", v[i]);
    printf("]");
}

static int dump_graphs(int argc, char **argv)
{
    cgalr_data_config_t cfg;
    cgalr_data_config_default(&cfg);
    cfg.name = argv[2];
    cfg.data_dir = argv[3];
    cfg.node_attr = argc > 8 && !strcmp(argv[8], "node-attr");
    cgalr_dataset_t *ds;
    if (cgalr_dataset_open(&cfg, &ds)) {
        fprintf(stderr, "open: %s\n", cgalr_last_error());
        return 1;
    }
    cgalr_loader_config_t lc;
    cgalr_loader_config_default(&lc, (cgalr_split_t)split_of(argv[4]));
    lc.batch_size = (size_t)atol(argv[5]);
    lc.seed = (uint64_t)atoll(argv[6]);
    uint64_t epoch = (uint64_t)atoll(argv[7]);
    cgalr_loader_t *ld;
    if (cgalr_loader_create(ds, &lc, &ld)) {
        fprintf(stderr, "loader: %s\n", cgalr_last_error());
        cgalr_dataset_free(ds);
        return 1;
    }
    const size_t *ids = cgalr_dataset_split_ids(ds, lc.split);
    for (size_t b = 0; b < cgalr_loader_n_batches(ld); b++) {
        cgalr_batch_t bt;
        if (cgalr_loader_batch(ld, epoch, b, &bt)) {
            fprintf(stderr, "batch: %s\n", cgalr_last_error());
            cgalr_loader_free(ld);
            cgalr_dataset_free(ds);
            return 1;
        }
        const cgalr_graph_batch_t *g = &bt.graph;
        printf("{\"batch\": %zu, \"index\": [", b);
        for (size_t i = 0; i < bt.n; i++)
            printf("%s%zu", i ? "," : "", bt.index[i]);
        printf("], \"ids\": [");
        for (size_t i = 0; i < bt.n; i++)
            printf("%s%zu", i ? "," : "", ids[bt.index[i]]);
        printf("]");
        ints("labels", g->labels, g->n_graphs);
        ints("node_ptr", g->node_ptr, g->n_graphs + 1);
        ints("graph_of_node", g->graph_of_node, g->n_nodes);
        ints("row_ptr", g->row_ptr, g->n_nodes + 1);
        ints("col", g->col, (size_t)g->row_ptr[g->n_nodes]);
        printf(", \"feat_dim\": %zu, \"x\": [", g->feat_dim);
        for (size_t i = 0; i < g->n_nodes * g->feat_dim; i++)
            printf("%s%.7g", i ? "," : "", g->x[i]);
        printf("]}\n");
    }
    cgalr_loader_free(ld);
    cgalr_dataset_free(ds);
    return 0;
}

static int resize(char **argv)
{
    size_t h = (size_t)atol(argv[2]), w = (size_t)atol(argv[3]), oh = (size_t)atol(argv[4]), ow = (size_t)atol(argv[5]);
    unsigned char *in = malloc(3 * h * w), *out = malloc(3 * oh * ow);
    int rc = !in || !out || fread(in, 1, 3 * h * w, stdin) != 3 * h * w ||
             data_image_resize(in, h, w, out, oh, ow) != CGALR_OK;
    if (!rc)
        fwrite(out, 1, 3 * oh * ow, stdout);
    free(in);
    free(out);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc == 6 && !strcmp(argv[1], "resize"))
        return resize(argv);
    if (argc >= 6 && !strcmp(argv[1], "images"))
        return dump_images(argc, argv);
    if (argc >= 8 && !strcmp(argv[1], "graphs"))
        return dump_graphs(argc, argv);
    fprintf(stderr, "usage: see the comment at the top of tool_data_dump.c\n");
    return 2;
}
