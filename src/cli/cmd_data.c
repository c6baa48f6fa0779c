/* `cgalr data NAME`: shows what a dataset name resolves to (files, splits, classes, shapes, graph
 * statistics), as text or as one JSON object. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cgalr/data.h"
#include "cli/cli.h"

typedef struct {
    cgalr_data_config_t cfg;
    int json;
} data_args;

/* Ranges: the data layer's own checks (check_config in src/data/dataset.c); --limit and the seed
 * take any value of their type. */
#define DA data_args
static const cli_opt_t data_opts[] = {
    CLI_STR(DA, cfg.data_dir, "data-dir", "D", "data directory (default $CGALR_DATA, else ./data)"),
    CLI_STR(DA, cfg.cache_dir, "cache-dir", "D", "where decoded JPEG/PNG images are cached (\"\" disables; default\n"
                                                 "$CGALR_CACHE_DIR, else $XDG_CACHE_HOME/cgalr, else ~/.cache/cgalr;\n"
                                                 "the data directory is never written)"),
    CLI_SET1(DA, json, "json", "one JSON object instead of text"),
    CLI_DBL_R(DA, cfg.val_fraction, "val-fraction", "F", 0, 1, CLI_HI_OPEN, "[0, 1)",
              "validation carved from train, stratified (default 0.1)"),
    CLI_UINT(DA, cfg.split_seed, "split-seed", "S", 0, UINT64_MAX, "seed of every split (default 0)"),
    CLI_UINT_R(DA, cfg.folds, "folds", "K", 0, 100, "0 or 2 .. 100", "graphs: stratified K-fold, fold --fold I is the test set"),
    CLI_UINT_R(DA, cfg.fold, "fold", "I", 0, 99, "0 .. K-1", "graphs: the test fold of --folds K (default 0)"),
    CLI_SET1(DA, cfg.node_attr, "node-attr", "graphs: standardised node attributes + one-hot label"),
    CLI_SET1(DA, cfg.degree_features, "degree-features", "graphs without node labels: one-hot degree"),
    CLI_SET0(DA, cfg.normalize, "no-normalize", "images: pixel/255 instead of per-channel standardisation"),
    CLI_SET1(DA, cfg.cifar100_coarse, "coarse", "cifar100: the 20 coarse labels"),
    CLI_UINT(DA, cfg.resize, "resize", "N", 0, 4096, "image folders: resize to N x N (default 0: keep; mini-imagenet: 84)"),
    CLI_UINT(DA, cfg.limit, "limit", "N", 0, SIZE_MAX, "at most N samples per split (only those images are decoded)"),
    CLI_HELP_ROW,
    CLI_END,
};
#undef DA

static void usage(FILE *f)
{
    fprintf(f, "usage: cgalr data NAME [options]\n"
               "  NAME: mnist, fashion-mnist, cifar10, cifar100, mini-imagenet, mutag, enzymes, proteins,\n"
               "        tu:NAME (any TU dataset), folder:PATH (PATH/{train,val,test}/<class>/*.jpg|png)\n");
    cli_opt_help(f, data_opts);
}

static void json_str(const char *s)
{
    putchar('"');
    for (; s && *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            printf("\\%c", c);
        else if (c == '\n')
            printf("\\n");
        else if (c < 0x20)
            printf("\\u%04x", c);
        else
            putchar(c);
    }
    putchar('"');
}

static void print_json(const cgalr_data_info_t *in)
{
    printf("{\"name\": ");
    json_str(in->name);
    printf(", \"display_name\": ");
    json_str(in->display_name);
    printf(", \"kind\": \"%s\", \"classes\": %zu, \"class_names\": [", in->kind == CGALR_DATA_GRAPH ? "graph" : "image",
           in->classes);
    for (size_t k = 0; k < in->classes; k++) {
        printf(k ? ", " : "");
        json_str(in->class_names[k]);
    }
    printf("], \"samples\": {");
    for (int s = 0; s < CGALR_N_SPLITS; s++)
        printf("%s\"%s\": %zu", s ? ", " : "", cgalr_split_name((cgalr_split_t)s), in->samples[s]);
    printf("}, \"class_counts\": {");
    for (int s = 0; s < CGALR_N_SPLITS; s++) {
        printf("%s\"%s\": [", s ? ", " : "", cgalr_split_name((cgalr_split_t)s));
        for (size_t k = 0; k < in->classes; k++)
            printf("%s%zu", k ? ", " : "", in->class_counts[s][k]);
        printf("]");
    }
    printf("}, \"feature_dim\": %zu", in->feat_dim);
    if (in->kind == CGALR_DATA_IMAGE) {
        printf(", \"shape\": [%zu, %zu, %zu], \"mean\": [", in->c, in->h, in->w);
        for (size_t c = 0; c < in->c; c++)
            printf("%s%.6f", c ? ", " : "", in->mean[c]);
        printf("], \"std\": [");
        for (size_t c = 0; c < in->c; c++)
            printf("%s%.6f", c ? ", " : "", in->std[c]);
        printf("]");
    } else {
        printf(", \"graphs\": %zu, \"nodes\": %zu, \"edges\": %zu, \"avg_nodes\": %.4f, \"avg_edges\": %.4f, "
               "\"min_nodes\": %zu, \"max_nodes\": %zu, \"node_label_values\": %zu, \"node_attr_dim\": %zu, "
               "\"duplicate_edges\": %zu",
               in->graphs, in->nodes, in->edges, in->avg_nodes, in->avg_edges, in->min_nodes, in->max_nodes,
               in->node_label_values, in->node_attr_dim, in->duplicate_edges);
    }
    printf(", \"source\": [");
    const char *p = in->source;
    int first = 1;
    while (p && *p) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        char *line = malloc(n + 1);
        if (line) {
            memcpy(line, p, n);
            line[n] = 0;
            printf(first ? "" : ", ");
            json_str(line);
            free(line);
            first = 0;
        }
        p = nl ? nl + 1 : p + n;
    }
    printf("], \"cache_file\": ");
    if (in->cache_file)
        json_str(in->cache_file);
    else
        printf("null");
    printf(", \"decoded\": %zu}\n", in->decoded);
}

static void print_text(const cgalr_data_info_t *in)
{
    printf("dataset   %s (%s)\n", in->display_name, in->name);
    printf("kind      %s\n", in->kind == CGALR_DATA_GRAPH ? "graph classification" : "image classification");
    const char *p = in->source;
    const char *lbl = "files";
    while (p && *p) {
        const char *nl = strchr(p, '\n');
        int n = nl ? (int)(nl - p) : (int)strlen(p);
        printf("%-9s %.*s\n", lbl, n, p);
        lbl = "";
        p = nl ? nl + 1 : p + n;
    }
    if (in->cache_file)
        printf("cache     %s\n", in->cache_file);
    if (in->decoded)
        printf("decoded   %zu JPEG/PNG images%s\n", in->decoded, in->cache_file ? "" : " (not cached)");
    printf("samples   train %zu, val %zu, test %zu\n", in->samples[0], in->samples[1], in->samples[2]);
    printf("classes   %zu\n", in->classes);
    for (size_t k = 0; k < in->classes; k++)
        printf("  %3zu %-16s train %6zu  val %6zu  test %6zu\n", k, in->class_names[k], in->class_counts[0][k],
               in->class_counts[1][k], in->class_counts[2][k]);
    if (in->kind == CGALR_DATA_IMAGE) {
        printf("input     %zu x %zu x %zu (C x H x W)\n", in->c, in->h, in->w);
        printf("mean/std ");
        for (size_t c = 0; c < in->c; c++)
            printf(" %.4f/%.4f", in->mean[c], in->std[c]);
        printf("  (training split, pixel/255)\n");
    } else {
        printf("graphs    %zu, %zu nodes (%.2f per graph, min %zu, max %zu), %zu undirected edges (%.2f per graph)\n",
               in->graphs, in->nodes, in->avg_nodes, in->min_nodes, in->max_nodes, in->edges, in->avg_edges);
        printf("features  %zu per node (node label values %zu, node attributes %zu)\n", in->feat_dim,
               in->node_label_values, in->node_attr_dim);
        if (in->duplicate_edges)
            printf("edges     %zu duplicate or self-loop lines dropped\n", in->duplicate_edges);
    }
}

int cgalr_cmd_data(int argc, char **argv)
{
    data_args a = {.json = 0};
    cgalr_data_config_default(&a.cfg);
    const cli_cmd_t cmd = {.prog = "cgalr data", .opts = data_opts, .usage = usage};
    int rc = cli_opt_parse(&cmd, argc, argv, &a, NULL);
    if (rc)
        return cli_opt_exit(rc);
    cgalr_data_config_t cfg = a.cfg;
    int json = a.json;
    if (optind != argc - 1) {
        fprintf(stderr, "cgalr data: expected exactly one dataset NAME\n");
        usage(stderr);
        return CGALR_EXIT_USAGE;
    }
    cfg.name = argv[optind];
    cgalr_dataset_t *ds;
    cgalr_status_t st = cgalr_dataset_open(&cfg, &ds);
    if (st) {
        fprintf(stderr, "cgalr data: %s\n", cgalr_last_error());
        return cli_exit_code(st);
    }
    const cgalr_data_info_t *in = cgalr_dataset_info(ds);
    if (json)
        print_json(in);
    else
        print_text(in);
    cgalr_dataset_free(ds);
    return CGALR_EXIT_OK;
}
