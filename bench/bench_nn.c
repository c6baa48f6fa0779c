/* Engine side of bench/bench_nn.py: trains one epoch of a model and prints its time and peak
 * memory as one JSON line. Data: mlp = Fashion-MNIST training set (Debian package, gzip IDX);
 * cnn/resnet20/resnet18 = a fixed 5,000-image CIFAR-10-shaped set of random pixels (timing only);
 * gin = PROTEINS (TU text files, one-hot node labels). Same batch order as the PyTorch side is
 * not needed for timing; both shuffle with a fixed seed.
 * usage: bench_nn MODEL THREADS [--batch B] [--epochs E] [--limit N] [--shared DIR] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "cgalr/nn.h"
#include "cgalr/rng.h"

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static double cpu_seconds(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + 1e-6 * (double)ru.ru_utime.tv_usec + (double)ru.ru_stime.tv_sec +
           1e-6 * (double)ru.ru_stime.tv_usec;
}

static int read_gz(const char *path, size_t skip, size_t n, unsigned char *out)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "gzip -dc '%s'", path);
    FILE *p = popen(cmd, "r");
    if (!p)
        return -1;
    unsigned char hdr[16];
    int ok = fread(hdr, 1, skip, p) == skip && fread(out, 1, n, p) == n;
    char sink[65536];
    while (fread(sink, 1, sizeof sink, p) > 0) {
    }
    pclose(p);
    return ok ? 0 : -1;
}

typedef struct graphs {
    size_t n_graphs, n_nodes, nf;
    int32_t *gstart, *label, *deg_ptr, *adj, *node_label;
} graphs_t;

/* Minimal TU reader: NAME_A.txt, NAME_graph_indicator.txt, NAME_graph_labels.txt,
 * NAME_node_labels.txt. Node features: one-hot node label. */
static int read_tu(const char *dir, const char *name, graphs_t *g)
{
    char path[2200];
    memset(g, 0, sizeof *g);
    snprintf(path, sizeof path, "%s/%s_graph_indicator.txt", dir, name);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t cap = 1 << 16, n = 0;
    int32_t *gi = malloc(cap * 4);
    int v;
    while (fscanf(f, "%d", &v) == 1) {
        if (n == cap)
            gi = realloc(gi, (cap *= 2) * 4);
        gi[n++] = v - 1;
    }
    fclose(f);
    g->n_nodes = n;
    g->n_graphs = (size_t)gi[n - 1] + 1;
    g->gstart = calloc(g->n_graphs + 1, 4);
    for (size_t i = 0; i < n; i++)
        g->gstart[gi[i] + 1]++;
    for (size_t i = 0; i < g->n_graphs; i++)
        g->gstart[i + 1] += g->gstart[i];
    free(gi);
    g->label = malloc(g->n_graphs * 4);
    snprintf(path, sizeof path, "%s/%s_graph_labels.txt", dir, name);
    f = fopen(path, "r");
    if (!f)
        return -1;
    int mn = 1 << 30;
    for (size_t i = 0; i < g->n_graphs; i++) {
        if (fscanf(f, "%d", &g->label[i]) != 1)
            return -1;
        if (g->label[i] < mn)
            mn = g->label[i];
    }
    fclose(f);
    for (size_t i = 0; i < g->n_graphs; i++)
        g->label[i] = g->label[i] == mn ? 0 : 1;
    g->node_label = malloc(n * 4);
    snprintf(path, sizeof path, "%s/%s_node_labels.txt", dir, name);
    f = fopen(path, "r");
    if (!f)
        return -1;
    int mx = 0;
    for (size_t i = 0; i < n; i++) {
        if (fscanf(f, "%d", &g->node_label[i]) != 1)
            return -1;
        if (g->node_label[i] > mx)
            mx = g->node_label[i];
    }
    fclose(f);
    g->nf = (size_t)mx + 1;
    snprintf(path, sizeof path, "%s/%s_A.txt", dir, name);
    f = fopen(path, "r");
    if (!f)
        return -1;
    size_t ecap = 1 << 16, ne = 0;
    int32_t *src = malloc(ecap * 4), *dst = malloc(ecap * 4);
    int a, b;
    while (fscanf(f, "%d, %d", &a, &b) == 2) {
        if (ne == ecap) {
            ecap *= 2;
            src = realloc(src, ecap * 4);
            dst = realloc(dst, ecap * 4);
        }
        src[ne] = a - 1;
        dst[ne++] = b - 1;
    }
    fclose(f);
    g->deg_ptr = calloc(n + 1, 4);
    for (size_t e = 0; e < ne; e++)
        g->deg_ptr[src[e] + 1]++;
    for (size_t i = 0; i < n; i++)
        g->deg_ptr[i + 1] += g->deg_ptr[i];
    g->adj = malloc((ne + 1) * 4);
    int32_t *fillp = malloc((n + 1) * 4);
    memcpy(fillp, g->deg_ptr, n * 4);
    for (size_t e = 0; e < ne; e++)
        g->adj[fillp[src[e]]++] = dst[e];
    free(fillp);
    free(src);
    free(dst);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: bench_nn MODEL THREADS [--batch B] [--epochs E] [--limit N] [--shared DIR]\n");
        return 2;
    }
    int kind = cgalr_model_kind_parse(argv[1]);
    int threads = atoi(argv[2]);
    size_t batch = kind == CGALR_MODEL_GIN ? 32 : 128, limit = 0;
    int epochs = 1;
    const char *shared = getenv("CGALR_SHARED") ? getenv("CGALR_SHARED") : "/work/shared";
    for (int i = 3; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--batch"))
            batch = (size_t)atol(argv[i + 1]);
        else if (!strcmp(argv[i], "--epochs"))
            epochs = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--limit"))
            limit = (size_t)atol(argv[i + 1]);
        else if (!strcmp(argv[i], "--shared"))
            shared = argv[i + 1];
    }
    if (kind < 0 || threads < 1)
        return 2;
    cgalr_model_config_t mc;
    cgalr_model_config_default(&mc, (cgalr_model_kind_t)kind);
    mc.threads = threads;
    mc.seed = 1;
    size_t n = 0, d = 0;
    float *x = NULL;
    int32_t *y = NULL;
    graphs_t g;
    memset(&g, 0, sizeof g);
    if (kind == CGALR_MODEL_MLP) {
        n = 60000;
        d = 784;
        unsigned char *img = malloc(n * d), *lab = malloc(n);
        if (read_gz("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz", 16, n * d, img) ||
            read_gz("/usr/share/datasets/fashion-mnist/train-labels-idx1-ubyte.gz", 8, n, lab)) {
            fprintf(stderr, "bench_nn: Fashion-MNIST not found\n");
            return 1;
        }
        x = malloc(n * d * sizeof(float));
        y = malloc(n * sizeof(int32_t));
        for (size_t i = 0; i < n * d; i++)
            x[i] = ((float)img[i] / 255.0f - 0.2860f) / 0.3530f;
        for (size_t i = 0; i < n; i++)
            y[i] = lab[i];
        free(img);
        free(lab);
    } else if (kind == CGALR_MODEL_GIN) {
        char dir[1024];
        snprintf(dir, sizeof dir, "%s/data/TU/PROTEINS", shared);
        if (read_tu(dir, "PROTEINS", &g)) {
            fprintf(stderr, "bench_nn: cannot read %s\n", dir);
            return 1;
        }
        n = g.n_graphs;
        mc.node_features = g.nf;
        mc.n_classes = 2;
    } else {
        n = 5000;
        mc.in_c = 3;
        mc.in_h = mc.in_w = 32;
        d = 3 * 32 * 32;
        x = malloc(n * d * sizeof(float));
        y = malloc(n * sizeof(int32_t));
        cgalr_rng_t r = cgalr_rng_init(5, CGALR_STREAM_TEST);
        for (size_t i = 0; i < n * d; i++)
            x[i] = (float)cgalr_rng_normal(&r);
        for (size_t i = 0; i < n; i++)
            y[i] = (int32_t)cgalr_rng_below(&r, 10);
    }
    if (limit && limit < n)
        n = limit;
    cgalr_model_t *m = NULL;
    if (cgalr_model_create(&mc, &m)) {
        fprintf(stderr, "bench_nn: %s\n", cgalr_last_error());
        return 1;
    }
    cgalr_optim_config_t oc;
    cgalr_optim_config_default(&oc, CGALR_OPTIM_SGD);
    cgalr_optim_t *o = NULL;
    cgalr_optim_create(&oc, m, &o);
    size_t *idx = malloc(n * sizeof(size_t));
    for (size_t i = 0; i < n; i++)
        idx[i] = i;
    float *bx = NULL;
    int32_t *by = malloc(batch * sizeof(int32_t));
    /* graph batch scratch */
    size_t max_nodes = 0;
    int32_t *rp = NULL, *col = NULL, *nptr = NULL, *gon = NULL;
    if (kind == CGALR_MODEL_GIN) {
        max_nodes = g.n_nodes;
        bx = malloc(max_nodes * g.nf * sizeof(float));
        rp = malloc((max_nodes + 1) * 4);
        col = malloc(((size_t)g.deg_ptr[g.n_nodes] + 1) * 4);
        nptr = malloc((batch + 1) * 4);
        gon = malloc(max_nodes * 4);
    } else {
        bx = malloc(batch * d * sizeof(float));
    }
    double t_epoch = 0.0, cpu_epoch = 0.0, loss = 0.0;
    size_t steps = 0;
    for (int e = 0; e < epochs; e++) {
        cgalr_rng_t r = cgalr_rng_init((uint64_t)e, CGALR_STREAM_SHUFFLE);
        cgalr_rng_shuffle(&r, idx, n);
        double t0 = now(), c0 = cpu_seconds();
        for (size_t s = 0; s < n; s += batch) {
            size_t k = n - s < batch ? n - s : batch;
            cgalr_step_result_t res;
            cgalr_status_t st;
            if (kind == CGALR_MODEL_GIN) {
                size_t nn_ = 0, ne = 0;
                rp[0] = 0;
                nptr[0] = 0;
                for (size_t i = 0; i < k; i++) {
                    size_t gi = idx[s + i];
                    int32_t a = g.gstart[gi], b = g.gstart[gi + 1];
                    for (int32_t v = a; v < b; v++) {
                        float *f = bx + nn_ * g.nf;
                        memset(f, 0, g.nf * sizeof(float));
                        f[g.node_label[v]] = 1.0f;
                        for (int32_t q = g.deg_ptr[v]; q < g.deg_ptr[v + 1]; q++)
                            col[ne++] = (int32_t)nn_ + (g.adj[q] - v);
                        gon[nn_] = (int32_t)i;
                        rp[++nn_] = (int32_t)ne;
                    }
                    nptr[i + 1] = (int32_t)nn_;
                    by[i] = g.label[gi];
                }
                cgalr_graph_batch_t gb = {k, nn_, g.nf, bx, rp, col, nptr, gon, by};
                st = cgalr_model_train_graphs(m, &gb, &res);
            } else {
                for (size_t i = 0; i < k; i++) {
                    memcpy(bx + i * d, x + idx[s + i] * d, d * sizeof(float));
                    by[i] = y[idx[s + i]];
                }
                cgalr_image_batch_t ib = {k, mc.in_c, mc.in_h, mc.in_w, bx, by};
                st = cgalr_model_train_images(m, &ib, &res);
            }
            if (st) {
                fprintf(stderr, "bench_nn: %s\n", cgalr_last_error());
                return 1;
            }
            cgalr_optim_step(o, 0.01);
            loss += res.loss;
            steps++;
        }
        t_epoch = now() - t0; /* the last epoch's time */
        cpu_epoch = cpu_seconds() - c0;
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("{\"side\": \"engine\", \"model\": \"%s\", \"threads\": %d, \"batch\": %zu, \"samples\": %zu, "
           "\"epoch_s\": %.4f, \"cpu_s\": %.4f, \"maxrss_kb\": %ld, \"mean_loss\": %.4f}\n",
           argv[1], threads, batch, n, t_epoch, cpu_epoch, ru.ru_maxrss, loss / (double)(steps ? steps : 1));
    cgalr_optim_free(o);
    cgalr_model_free(m);
    free(x);
    free(y);
    free(idx);
    free(bx);
    free(by);
    free(rp);
    free(col);
    free(nptr);
    free(gon);
    free(g.gstart);
    free(g.label);
    free(g.deg_ptr);
    free(g.adj);
    free(g.node_label);
    return 0;
}
