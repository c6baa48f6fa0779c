/* `cgalr data NAME`: shows what a dataset name resolves to (files, splits, classes, shapes, graph
 * statistics), as text or as one JSON object. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cgalr/data.h"
#include "cli/cli.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: cgalr data NAME [options]\n"
            "  NAME: mnist, fashion-mnist, cifar10, cifar100, mini-imagenet, mutag, enzymes, proteins,\n"
            "        tu:NAME (any TU dataset), folder:PATH (PATH/{train,val,test}/<class>/*.jpg|png)\n"
            "  --data-dir D        data directory (default $CGALR_DATA, else ./data)\n"
            "  --cache-dir D       where decoded JPEG/PNG images are cached (\"\" disables; default\n"
            "                      $CGALR_CACHE_DIR, else $XDG_CACHE_HOME/cgalr, else ~/.cache/cgalr;\n"
            "                      the data directory is never written)\n"
            "  --json              one JSON object instead of text\n"
            "  --val-fraction F    validation carved from train, stratified (default 0.1)\n"
            "  --split-seed S      seed of every split (default 0)\n"
            "  --folds K --fold I  graphs: stratified K-fold, fold I is the test set\n"
            "  --node-attr         graphs: standardised node attributes + one-hot label\n"
            "  --degree-features   graphs without node labels: one-hot degree\n"
            "  --no-normalize      images: pixel/255 instead of per-channel standardisation\n"
            "  --coarse            cifar100: the 20 coarse labels\n"
            "  --resize N          image folders: resize to N x N (mini-imagenet: 84)\n"
            "  --limit N           at most N samples per split (only those images are decoded)\n");
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

static int parse_size(const char *opt, const char *s, size_t max, size_t *out)
{
    unsigned long long v;
    if (!cli_parse_uint(s, 0, max, &v)) {
        fprintf(stderr, "cgalr data: %s '%s': expected a decimal integer 0..%zu\n", opt, s, max);
        return 0;
    }
    *out = (size_t)v;
    return 1;
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
    enum { O_DIR = 256, O_CACHE, O_JSON, O_VAL, O_SEED, O_FOLDS, O_FOLD, O_ATTR, O_DEG, O_NONORM, O_COARSE, O_RESIZE,
           O_LIMIT, O_HELP };
    static const struct option opts[] = {
        {"data-dir", required_argument, 0, O_DIR},      {"cache-dir", required_argument, 0, O_CACHE},
        {"json", no_argument, 0, O_JSON},               {"val-fraction", required_argument, 0, O_VAL},
        {"split-seed", required_argument, 0, O_SEED},   {"folds", required_argument, 0, O_FOLDS},
        {"fold", required_argument, 0, O_FOLD},         {"node-attr", no_argument, 0, O_ATTR},
        {"degree-features", no_argument, 0, O_DEG},     {"no-normalize", no_argument, 0, O_NONORM},
        {"coarse", no_argument, 0, O_COARSE},           {"resize", required_argument, 0, O_RESIZE},
        {"limit", required_argument, 0, O_LIMIT},       {"help", no_argument, 0, O_HELP},
        {0, 0, 0, 0}};
    cgalr_data_config_t cfg;
    cgalr_data_config_default(&cfg);
    int json = 0, c;
    size_t v;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case O_DIR: cfg.data_dir = optarg; break;
        case O_CACHE: cfg.cache_dir = optarg; break;
        case O_JSON: json = 1; break;
        case O_VAL: {
            char *end;
            cfg.val_fraction = strtod(optarg, &end);
            if (!*optarg || *end || !(cfg.val_fraction >= 0 && cfg.val_fraction < 1)) {
                fprintf(stderr, "cgalr data: --val-fraction '%s': expected a number in [0, 1)\n", optarg);
                return CGALR_EXIT_USAGE;
            }
            break;
        }
        case O_SEED:
            if (!parse_size("--split-seed", optarg, SIZE_MAX, &v))
                return CGALR_EXIT_USAGE;
            cfg.split_seed = v;
            break;
        case O_FOLDS:
            if (!parse_size("--folds", optarg, 100, &v))
                return CGALR_EXIT_USAGE;
            cfg.folds = (int)v;
            break;
        case O_FOLD:
            if (!parse_size("--fold", optarg, 99, &v))
                return CGALR_EXIT_USAGE;
            cfg.fold = (int)v;
            break;
        case O_ATTR: cfg.node_attr = 1; break;
        case O_DEG: cfg.degree_features = 1; break;
        case O_NONORM: cfg.normalize = 0; break;
        case O_COARSE: cfg.cifar100_coarse = 1; break;
        case O_RESIZE:
            if (!parse_size("--resize", optarg, 4096, &v))
                return CGALR_EXIT_USAGE;
            cfg.resize = (int)v;
            break;
        case O_LIMIT:
            if (!parse_size("--limit", optarg, SIZE_MAX, &v))
                return CGALR_EXIT_USAGE;
            cfg.limit = v;
            break;
        case O_HELP:
        case 'h': usage(stdout); return CGALR_EXIT_OK;
        default:
            fprintf(stderr, "cgalr data: unknown or incomplete option '%s'\n", argv[optind - 1]);
            usage(stderr);
            return CGALR_EXIT_USAGE;
        }
    }
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
