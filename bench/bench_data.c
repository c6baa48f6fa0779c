/* Loader throughput: samples per second of a full shuffled training epoch (gathering, pixel
 * normalisation, crop/flip augmentation, graph CSR batching), next to a peer run in the same
 * process: copying the same float batches with memcpy from a pre-normalised array, the floor any
 * loader has to pay. Prints best-of-R process CPU time per epoch and the ratio to the peer.
 *   bench_data [--data-dir D] [--cache-dir D] [--reps R] [dataset ...]
 * default datasets: fashion-mnist cifar10 mutag enzymes proteins. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cgalr/data.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double wall(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static volatile float sink;

/* One epoch; returns the CPU seconds, or -1 on error. */
static double epoch(cgalr_loader_t *ld, uint64_t e, size_t *bytes)
{
    double t0 = now();
    size_t nb = cgalr_loader_n_batches(ld);
    *bytes = 0;
    for (size_t b = 0; b < nb; b++) {
        cgalr_batch_t bt;
        if (cgalr_loader_batch(ld, e, b, &bt)) {
            fprintf(stderr, "bench_data: %s\n", cgalr_last_error());
            return -1;
        }
        if (bt.kind == CGALR_DATA_IMAGE) {
            *bytes += bt.n * bt.image.c * bt.image.h * bt.image.w * sizeof(float);
            sink += bt.image.x[0];
        } else {
            *bytes += bt.graph.n_nodes * bt.graph.feat_dim * sizeof(float) +
                      (size_t)bt.graph.row_ptr[bt.graph.n_nodes] * sizeof(int32_t);
            sink += bt.graph.x[0];
        }
    }
    return now() - t0;
}

/* The peer: the same volume of batch floats moved by memcpy in batch-sized pieces. */
static double peer(size_t bytes, size_t batches)
{
    size_t per = bytes / (batches ? batches : 1) + 64;
    size_t pool_n = 64;
    float *src = malloc(per * pool_n), *dst = malloc(per);
    if (!src || !dst) {
        free(src);
        free(dst);
        return -1;
    }
    memset(src, 1, per * pool_n);
    double t0 = now();
    for (size_t b = 0; b < batches; b++) {
        memcpy(dst, (char *)src + (b % pool_n) * per, per);
        sink += dst[b % (per / sizeof(float))];
    }
    double t = now() - t0;
    free(src);
    free(dst);
    return t;
}

int main(int argc, char **argv)
{
    const char *dir = NULL, *cache = NULL;
    int reps = 3;
    const char *names[16];
    int nn = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--data-dir") && i + 1 < argc)
            dir = argv[++i];
        else if (!strcmp(argv[i], "--cache-dir") && i + 1 < argc)
            cache = argv[++i];
        else if (!strcmp(argv[i], "--reps") && i + 1 < argc)
            reps = atoi(argv[++i]);
        else if (argv[i][0] != '-' && nn < 16)
            names[nn++] = argv[i];
        else {
            fprintf(stderr, "usage: bench_data [--data-dir D] [--cache-dir D] [--reps R] [dataset ...]\n");
            return 2;
        }
    }
    if (reps < 1)
        reps = 1;
    if (!nn) {
        static const char *const def[] = {"fashion-mnist", "cifar10", "mutag", "enzymes", "proteins"};
        for (int i = 0; i < 5; i++)
            names[nn++] = def[i];
    }
    printf("%-14s %-10s %6s %9s %12s %12s %8s %9s\n", "dataset", "augment", "batch", "open_s", "samples/s",
           "peer/s", "ratio", "MB/epoch");
    for (int d = 0; d < nn; d++) {
        for (int aug = 0; aug < 2; aug++) {
            cgalr_data_config_t cfg;
            cgalr_data_config_default(&cfg);
            cfg.name = names[d];
            cfg.data_dir = dir;
            cfg.cache_dir = cache;
            int is_graph = !strcmp(names[d], "mutag") || !strcmp(names[d], "enzymes") ||
                           !strcmp(names[d], "proteins") || !strncmp(names[d], "tu:", 3);
            if (aug && is_graph)
                break;
            cfg.augment_crop = cfg.augment_flip = aug;
            double w0 = wall();
            cgalr_dataset_t *ds;
            if (cgalr_dataset_open(&cfg, &ds)) {
                fprintf(stderr, "bench_data: %s: %s\n", names[d], cgalr_last_error());
                break;
            }
            double open_s = wall() - w0;
            cgalr_loader_config_t lc;
            cgalr_loader_config_default(&lc, CGALR_SPLIT_TRAIN);
            lc.batch_size = is_graph ? 32 : 128;
            lc.seed = 1;
            cgalr_loader_t *ld;
            if (cgalr_loader_create(ds, &lc, &ld)) {
                fprintf(stderr, "bench_data: %s\n", cgalr_last_error());
                cgalr_dataset_free(ds);
                return 1;
            }
            double best = 1e30, pbest = 1e30;
            size_t bytes = 0;
            for (int r = 0; r < reps; r++) {
                double t = epoch(ld, (uint64_t)r, &bytes);
                if (t < 0)
                    return 1;
                if (t < best)
                    best = t;
                double p = peer(bytes, cgalr_loader_n_batches(ld));
                if (p >= 0 && p < pbest)
                    pbest = p;
            }
            size_t n = cgalr_loader_size(ld);
            printf("%-14s %-10s %6zu %9.3f %12.0f %12.0f %8.2f %9.1f\n", names[d],
                   is_graph ? "-" : aug ? "crop+flip" : "none", lc.batch_size, open_s, (double)n / best,
                   (double)n / pbest, best / pbest, (double)bytes / 1e6);
            cgalr_loader_free(ld);
            cgalr_dataset_free(ds);
        }
    }
    printf("samples/s: one shuffled training epoch, best of %d, process CPU time; peer: memcpy of the same "
           "batch bytes; ratio = loader time / peer time\n", reps);
    return 0;
}
