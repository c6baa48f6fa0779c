/* Helper for tests/test_nn_oracle.py: builds a model, reads a batch written by the Python test,
 * and writes the engine's initial parameters, logits, loss, gradients, running statistics, the
 * inference logits, the default probe's activations, and the parameters after STEPS optimiser
 * steps on the same batch, so PyTorch can check every number.
 * usage: tool_nn_oracle MODEL OPTIM STEPS DATA OUT [key=value ...]
 *   MODEL: a model name, or "seq" for a single-layer test model (key spec=, see nn_internal.h)
 *   keys: in=C,H,W  nf=F  classes=K  seed=S  hidden=A,B,..  layers=L  ghidden=H  eps=E
 *         learn_eps=0|1  dropout=P  lr=X  momentum=X  nesterov=0|1  wd=X
 * DATA (little-endian): images: int32 n, float x[n*C*H*W], int32 labels[n];
 *   graphs: int32 n_graphs, n_nodes, n_edges, float x[n_nodes*F], int32 row_ptr[n_nodes+1],
 *   col[n_edges], node_ptr[n_graphs+1], graph_of_node[n_nodes], labels[n_graphs].
 * OUT: float32 arrays in the order listed above, each preceded by an int64 count; OUT.tensors:
 *   one line per parameter tensor "name offset numel d0 d1 d2 d3". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cgalr/nn.h"
#include "nn/nn_internal.h"

static int die(const char *what)
{
    fprintf(stderr, "tool_nn_oracle: %s: %s\n", what, cgalr_last_error());
    return 1;
}

static void *read_n(FILE *f, size_t n, size_t sz)
{
    void *p = malloc(n * sz + 1);
    if (p && fread(p, sz, n, f) != n) {
        free(p);
        return NULL;
    }
    return p;
}

static void put(FILE *f, const float *x, size_t n)
{
    int64_t c = (int64_t)n;
    fwrite(&c, sizeof c, 1, f);
    fwrite(x, sizeof(float), n, f);
}

int main(int argc, char **argv)
{
    if (argc < 6) {
        fprintf(stderr, "usage: tool_nn_oracle MODEL OPTIM STEPS DATA OUT [key=value ...]\n");
        return 2;
    }
    int is_seq = strcmp(argv[1], "seq") == 0;
    const char *spec = NULL;
    int kind = is_seq ? CGALR_MODEL_MLP : cgalr_model_kind_parse(argv[1]);
    int okind = cgalr_optim_kind_parse(argv[2]);
    int steps = atoi(argv[3]);
    if (kind < 0 || okind < 0)
        return 2;
    cgalr_model_config_t mc;
    cgalr_model_config_default(&mc, (cgalr_model_kind_t)kind);
    cgalr_optim_config_t oc;
    cgalr_optim_config_default(&oc, (cgalr_optim_kind_t)okind);
    double lr = 0.1;
    for (int i = 6; i < argc; i++) {
        char *eq = strchr(argv[i], '=');
        if (!eq)
            return 2;
        *eq = 0;
        const char *k = argv[i], *v = eq + 1;
        if (!strcmp(k, "in"))
            sscanf(v, "%zu,%zu,%zu", &mc.in_c, &mc.in_h, &mc.in_w);
        else if (!strcmp(k, "nf"))
            mc.node_features = (size_t)atol(v);
        else if (!strcmp(k, "classes"))
            mc.n_classes = (size_t)atol(v);
        else if (!strcmp(k, "seed"))
            mc.seed = (uint64_t)atoll(v);
        else if (!strcmp(k, "hidden")) {
            mc.mlp_n_hidden = 0;
            const char *s = v;
            while (*s && mc.mlp_n_hidden < CGALR_MLP_MAX_HIDDEN) {
                mc.mlp_hidden[mc.mlp_n_hidden++] = (size_t)strtoul(s, (char **)&s, 10);
                if (*s == ',')
                    s++;
            }
        } else if (!strcmp(k, "layers"))
            mc.gin_layers = (size_t)atol(v);
        else if (!strcmp(k, "ghidden"))
            mc.gin_hidden = (size_t)atol(v);
        else if (!strcmp(k, "eps"))
            mc.gin_eps = (float)atof(v);
        else if (!strcmp(k, "learn_eps"))
            mc.gin_learn_eps = atoi(v);
        else if (!strcmp(k, "dropout"))
            mc.dropout = (float)atof(v);
        else if (!strcmp(k, "spec"))
            spec = v;
        else if (!strcmp(k, "lr"))
            lr = atof(v);
        else if (!strcmp(k, "momentum"))
            oc.momentum = atof(v);
        else if (!strcmp(k, "nesterov"))
            oc.nesterov = atoi(v);
        else if (!strcmp(k, "wd"))
            oc.weight_decay = atof(v);
        else
            return 2;
    }
    cgalr_model_t *m = NULL;
    cgalr_optim_t *o = NULL;
    if (is_seq ? nn_model_create_seq(&mc, spec ? spec : "", &m) : cgalr_model_create(&mc, &m))
        return die("create");
    if (cgalr_optim_create(&oc, m, &o))
        return die("optim");

    FILE *f = fopen(argv[4], "rb");
    if (!f)
        return die("open data");
    int is_graph = kind == CGALR_MODEL_GIN;
    cgalr_image_batch_t ib;
    cgalr_graph_batch_t gb;
    memset(&ib, 0, sizeof ib);
    memset(&gb, 0, sizeof gb);
    int32_t hdr[3] = {0, 0, 0};
    float *x = NULL;
    int32_t *labels = NULL, *rp = NULL, *col = NULL, *np = NULL, *gon = NULL;
    size_t nrows;
    if (!is_graph) {
        if (fread(hdr, 4, 1, f) != 1)
            return die("read");
        ib.n = (size_t)hdr[0];
        ib.c = mc.in_c;
        ib.h = mc.in_h;
        ib.w = mc.in_w;
        x = read_n(f, ib.n * ib.c * ib.h * ib.w, 4);
        labels = read_n(f, ib.n, 4);
        ib.x = x;
        ib.labels = labels;
        nrows = ib.n;
    } else {
        if (fread(hdr, 4, 3, f) != 3)
            return die("read");
        gb.n_graphs = (size_t)hdr[0];
        gb.n_nodes = (size_t)hdr[1];
        gb.feat_dim = mc.node_features;
        x = read_n(f, gb.n_nodes * gb.feat_dim, 4);
        rp = read_n(f, gb.n_nodes + 1, 4);
        col = read_n(f, (size_t)hdr[2], 4);
        np = read_n(f, gb.n_graphs + 1, 4);
        gon = read_n(f, gb.n_nodes, 4);
        labels = read_n(f, gb.n_graphs, 4);
        gb.x = x;
        gb.row_ptr = rp;
        gb.col = col;
        gb.node_ptr = np;
        gb.graph_of_node = gon;
        gb.labels = labels;
        nrows = gb.n_graphs;
    }
    fclose(f);
    if (!x || !labels)
        return die("short data file");

    FILE *t = NULL;
    char tpath[4096];
    snprintf(tpath, sizeof tpath, "%s.tensors", argv[5]);
    t = fopen(tpath, "w");
    for (size_t i = 0; i < cgalr_model_num_tensors(m); i++) {
        cgalr_tensor_info_t ti;
        cgalr_model_tensor_info(m, i, &ti);
        fprintf(t, "%s %zu %zu %zu %zu %zu %zu\n", ti.name, ti.offset, ti.numel, ti.shape[0], ti.shape[1],
                ti.shape[2], ti.shape[3]);
    }
    fclose(t);

    FILE *out = fopen(argv[5], "wb");
    if (!out)
        return die("open out");
    size_t np_ = cgalr_model_num_params(m), C = mc.n_classes;
    put(out, cgalr_model_params(m), np_);
    cgalr_step_result_t r;
    cgalr_status_t st = is_graph ? cgalr_model_train_graphs(m, &gb, &r) : cgalr_model_train_images(m, &ib, &r);
    if (st)
        return die("train");
    size_t nl;
    const float *lg = cgalr_model_logits(m, &nl);
    put(out, lg, nl * C);
    float loss = (float)r.loss;
    put(out, &loss, 1);
    put(out, cgalr_model_grads(m), np_);
    put(out, cgalr_model_buffers(m), cgalr_model_num_buffers(m));
    st = is_graph ? cgalr_model_eval_graphs(m, &gb, &r) : cgalr_model_eval_images(m, &ib, &r);
    if (st)
        return die("eval");
    lg = cgalr_model_logits(m, &nl);
    put(out, lg, nl * C);
    size_t p;
    if (cgalr_model_probe_width(m, NULL, &p))
        return die("probe");
    float *cap = malloc(nrows * p * sizeof(float));
    st = is_graph ? cgalr_model_capture_graphs(m, NULL, &gb, cap) : cgalr_model_capture_images(m, NULL, &ib, cap);
    if (st)
        return die("capture");
    put(out, cap, nrows * p);
    free(cap);
    /* steps: the first uses the gradient computed above */
    for (int s = 0; s < steps; s++) {
        if (s > 0) {
            st = is_graph ? cgalr_model_train_graphs(m, &gb, &r) : cgalr_model_train_images(m, &ib, &r);
            if (st)
                return die("train");
        }
        if (cgalr_optim_step(o, lr))
            return die("step");
    }
    put(out, cgalr_model_params(m), np_);
    put(out, cgalr_model_buffers(m), cgalr_model_num_buffers(m));
    fclose(out);
    printf("default_probe %s %zu\n", cgalr_model_default_probe(m), p);
    cgalr_optim_free(o);
    cgalr_model_free(m);
    free(x);
    free(labels);
    free(rp);
    free(col);
    free(np);
    free(gon);
    return 0;
}
