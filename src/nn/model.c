/* Models of the engine: building the node lists of mlp, cnn, resnet20, resnet18 and gin,
 * PyTorch-default initialisation, the activation arena, training steps, evaluation, activation
 * capture and the flat parameter views. */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/hash.h"
#include "nn/nn_internal.h"

#define MAX_NODES 512
#define MAX_TENSORS 512

static const char *const kind_names[] = {"mlp", "cnn", "resnet20", "resnet18", "gin"};

int cgalr_model_kind_parse(const char *name)
{
    if (!name)
        return -1;
    for (int i = 0; i < 5; i++)
        if (strcmp(name, kind_names[i]) == 0)
            return i;
    return -1;
}

const char *cgalr_model_kind_name(cgalr_model_kind_t kind)
{
    return (unsigned)kind < 5 ? kind_names[kind] : "?";
}

void cgalr_model_config_default(cgalr_model_config_t *cfg, cgalr_model_kind_t kind)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->kind = kind;
    cfg->in_c = 1;
    cfg->in_h = 28;
    cfg->in_w = 28;
    cfg->node_features = 7;
    cfg->n_classes = 10;
    cfg->mlp_hidden[0] = 256;
    cfg->mlp_hidden[1] = 128;
    cfg->mlp_n_hidden = 2;
    cfg->gin_hidden = 64;
    cfg->gin_layers = 5;
    cfg->dropout = 0.5f;
    cfg->gin_learn_eps = 0;
    cfg->gin_eps = 0.0f;
    cfg->threads = 1;
}

/* ---- building ------------------------------------------------------------------------------ */

static size_t rowsize(const nn_node_t *n)
{
    return n->c * n->h * n->w;
}

static int node_new(cgalr_model_t *m, nn_op_t op, const char *name, int in0, int in1)
{
    if (m->n_nodes >= m->cap_nodes)
        return -1;
    nn_node_t *n = &m->nodes[m->n_nodes];
    memset(n, 0, sizeof *n);
    n->op = op;
    snprintf(n->name, sizeof n->name, "%s", name);
    n->in0 = in0;
    n->in1 = in1;
    n->w_off = n->b_off = n->buf_off = NN_NONE;
    if (in0 >= 0) {
        const nn_node_t *a = &m->nodes[in0];
        n->level = a->level;
        n->c = a->c;
        n->h = a->h;
        n->w = a->w;
        n->needs_grad = a->needs_grad;
        if (in1 >= 0 && m->nodes[in1].needs_grad)
            n->needs_grad = 1;
    }
    return m->n_nodes++;
}

static size_t tensor_new(cgalr_model_t *m, const char *prefix, const char *suffix, int ndim, const size_t *shape,
                         size_t fan_in, float init_const)
{
    nn_tensor_t *t = &m->tensors[m->n_tensors++];
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "%s.%s", prefix, suffix);
    t->ndim = ndim;
    t->numel = 1;
    for (int i = 0; i < 4; i++) {
        t->shape[i] = i < ndim ? shape[i] : 1;
        if (i < ndim)
            t->numel *= shape[i];
    }
    t->offset = m->n_params;
    t->fan_in = fan_in;
    t->init_const = init_const;
    m->n_params += t->numel;
    return t->offset;
}

/* Each builder returns the new node index, or -1 when the fixed node/tensor tables are full. */
static int room(const cgalr_model_t *m, size_t tensors)
{
    return m->n_nodes < m->cap_nodes && m->n_tensors + tensors <= m->cap_tensors;
}

static int mk_linear(cgalr_model_t *m, const char *name, int in, size_t out, int bias)
{
    if (in < 0 || !room(m, 2))
        return -1;
    size_t fan = rowsize(&m->nodes[in]);
    int i = node_new(m, OP_LINEAR, name, in, -1);
    nn_node_t *n = &m->nodes[i];
    n->c = out;
    n->h = n->w = 1;
    n->needs_grad = 1;
    size_t ws[2] = {out, fan};
    n->w_off = tensor_new(m, name, "weight", 2, ws, fan, 0.0f);
    if (bias)
        n->b_off = tensor_new(m, name, "bias", 1, &out, fan, 0.0f);
    return i;
}

static int mk_conv(cgalr_model_t *m, const char *name, int in, size_t oc, int k, int stride, int pad, int bias)
{
    if (in < 0 || !room(m, 2))
        return -1;
    const nn_node_t *a = &m->nodes[in];
    size_t ic = a->c, fan = ic * (size_t)k * (size_t)k;
    size_t oh = nn_conv_out(a->h, k, stride, pad), ow = nn_conv_out(a->w, k, stride, pad);
    if (oh == 0 || ow == 0)
        return -1;
    int i = node_new(m, OP_CONV, name, in, -1);
    nn_node_t *n = &m->nodes[i];
    n->c = oc;
    n->h = oh;
    n->w = ow;
    n->k = k;
    n->stride = stride;
    n->pad = pad;
    n->needs_grad = 1;
    size_t ws[4] = {oc, ic, (size_t)k, (size_t)k};
    n->w_off = tensor_new(m, name, "weight", 4, ws, fan, 0.0f);
    if (bias)
        n->b_off = tensor_new(m, name, "bias", 1, &oc, fan, 0.0f);
    return i;
}

static int mk_bn(cgalr_model_t *m, const char *name, int in)
{
    if (in < 0 || !room(m, 2))
        return -1;
    int i = node_new(m, OP_BN, name, in, -1);
    nn_node_t *n = &m->nodes[i];
    n->needs_grad = 1;
    size_t c = n->c;
    n->w_off = tensor_new(m, name, "weight", 1, &c, 0, 1.0f);
    n->b_off = tensor_new(m, name, "bias", 1, &c, 0, 0.0f);
    n->buf_off = m->n_buffers;
    m->n_buffers += 2 * c;
    return i;
}

static int mk_simple(cgalr_model_t *m, nn_op_t op, const char *name, int in, int probe)
{
    if (in < 0 || !room(m, 0))
        return -1;
    int i = node_new(m, op, name, in, -1);
    m->nodes[i].probe = probe;
    m->nodes[i].slope = 0.01f;
    if (op == OP_FLATTEN) {
        nn_node_t *n = &m->nodes[i];
        n->c = rowsize(n);
        n->h = n->w = 1;
    } else if (op == OP_GAP) {
        m->nodes[i].h = m->nodes[i].w = 1;
    } else if (op == OP_GRAPH_SUM) {
        m->nodes[i].level = LEVEL_SAMPLE;
    }
    return i;
}

static int mk_pool(cgalr_model_t *m, nn_op_t op, const char *name, int in, int k, int stride)
{
    if (in < 0 || !room(m, 0))
        return -1;
    const nn_node_t *a = &m->nodes[in];
    size_t oh = nn_conv_out(a->h, k, stride, 0), ow = nn_conv_out(a->w, k, stride, 0);
    if (oh == 0 || ow == 0)
        return -1;
    int i = node_new(m, op, name, in, -1);
    m->nodes[i].h = oh;
    m->nodes[i].w = ow;
    m->nodes[i].k = k;
    m->nodes[i].stride = stride;
    return i;
}

static int mk_add(cgalr_model_t *m, const char *name, int a, int b)
{
    if (a < 0 || b < 0 || !room(m, 0))
        return -1;
    return node_new(m, OP_ADD, name, a, b);
}

static int mk_dropout(cgalr_model_t *m, const char *name, int in, float p)
{
    int i = mk_simple(m, OP_DROPOUT, name, in, 0);
    if (i >= 0)
        m->nodes[i].p = p;
    return i;
}

static int build_mlp(cgalr_model_t *m)
{
    const cgalr_model_config_t *c = &m->cfg;
    int x = mk_simple(m, OP_FLATTEN, "flatten", 0, 0);
    char name[NN_NAME];
    for (size_t l = 0; l < c->mlp_n_hidden; l++) {
        snprintf(name, sizeof name, "fc%zu", l + 1);
        x = mk_linear(m, name, x, c->mlp_hidden[l], 1);
        x = mk_simple(m, OP_RELU, name, x, 1);
    }
    snprintf(name, sizeof name, "fc%zu", c->mlp_n_hidden + 1);
    if (c->mlp_n_hidden > 0)
        snprintf(m->default_probe, sizeof m->default_probe, "fc%zu", c->mlp_n_hidden);
    return mk_linear(m, name, x, c->n_classes, 1);
}

static int build_cnn(cgalr_model_t *m)
{
    static const size_t widths[6] = {32, 32, 64, 64, 128, 128};
    int x = 0;
    char cn[NN_NAME], bn[NN_NAME];
    for (int l = 0; l < 6; l++) {
        snprintf(cn, sizeof cn, "conv%d", l + 1);
        snprintf(bn, sizeof bn, "bn%d", l + 1);
        x = mk_conv(m, cn, x, widths[l], 3, 1, 1, 0);
        x = mk_bn(m, bn, x);
        x = mk_simple(m, OP_RELU, cn, x, 1);
        if (l % 2 == 1) {
            snprintf(cn, sizeof cn, "pool%d", l / 2 + 1);
            x = mk_pool(m, OP_MAXPOOL, cn, x, 2, 2);
        }
    }
    x = mk_simple(m, OP_FLATTEN, "flatten", x, 0);
    x = mk_linear(m, "fc1", x, 256, 1);
    x = mk_simple(m, OP_RELU, "fc1", x, 1);
    x = mk_linear(m, "fc2", x, 128, 1);
    x = mk_simple(m, OP_RELU, "fc2", x, 1);
    snprintf(m->default_probe, sizeof m->default_probe, "fc2");
    return mk_linear(m, "fc3", x, m->cfg.n_classes, 1);
}

/* BasicBlock: conv3-bn-relu-conv3-bn + shortcut, relu. option_a selects the ResNet-20 shortcut
 * (parameter-free), otherwise a 1x1 conv + BN projection when the shape changes. */
static int basic_block(cgalr_model_t *m, const char *prefix, int x, size_t planes, int stride, int option_a)
{
    char n1[NN_NAME + 16], n2[NN_NAME + 16];
    if (x < 0)
        return -1;
    size_t in_planes = m->nodes[x].c;
    snprintf(n1, sizeof n1, "%s.conv1", prefix);
    int y = mk_conv(m, n1, x, planes, 3, stride, 1, 0);
    snprintf(n1, sizeof n1, "%s.bn1", prefix);
    y = mk_bn(m, n1, y);
    y = mk_simple(m, OP_RELU, n1, y, 0);
    snprintf(n1, sizeof n1, "%s.conv2", prefix);
    y = mk_conv(m, n1, y, planes, 3, 1, 1, 0);
    snprintf(n1, sizeof n1, "%s.bn2", prefix);
    y = mk_bn(m, n1, y);
    int sc = x;
    if (stride != 1 || in_planes != planes) {
        if (option_a) {
            if (stride != 2 || planes != 2 * in_planes || !room(m, 0))
                return -1;
            snprintf(n1, sizeof n1, "%s.shortcut", prefix);
            sc = node_new(m, OP_SHORTCUT_A, n1, x, -1);
            nn_node_t *n = &m->nodes[sc];
            n->pad_c = (int)(planes / 4);
            n->c = planes;
            n->h = (n->h + 1) / 2;
            n->w = (n->w + 1) / 2;
        } else {
            snprintf(n1, sizeof n1, "%s.shortcut.0", prefix);
            snprintf(n2, sizeof n2, "%s.shortcut.1", prefix);
            sc = mk_conv(m, n1, x, planes, 1, stride, 0, 0);
            sc = mk_bn(m, n2, sc);
        }
    }
    if (y < 0 || sc < 0 || m->nodes[y].h != m->nodes[sc].h || m->nodes[y].w != m->nodes[sc].w)
        return -1;
    y = mk_add(m, prefix, y, sc);
    return mk_simple(m, OP_RELU, prefix, y, 1);
}

static int build_resnet(cgalr_model_t *m, int is18)
{
    static const size_t w20[3] = {16, 32, 64}, w18[4] = {64, 128, 256, 512};
    int stages = is18 ? 4 : 3, blocks = is18 ? 2 : 3;
    const size_t *widths = is18 ? w18 : w20;
    int x = mk_conv(m, "conv1", 0, widths[0], 3, 1, 1, 0);
    x = mk_bn(m, "bn1", x);
    x = mk_simple(m, OP_RELU, "conv1", x, 1);
    char prefix[NN_NAME];
    for (int s = 0; s < stages; s++)
        for (int b = 0; b < blocks; b++) {
            snprintf(prefix, sizeof prefix, "layer%d.%d", s + 1, b);
            x = basic_block(m, prefix, x, widths[s], (s > 0 && b == 0) ? 2 : 1, !is18);
        }
    x = mk_simple(m, OP_GAP, "pool", x, 1);
    x = mk_simple(m, OP_FLATTEN, "flatten", x, 0);
    snprintf(m->default_probe, sizeof m->default_probe, "pool");
    return mk_linear(m, "linear", x, m->cfg.n_classes, 1);
}

static int build_gin(cgalr_model_t *m)
{
    const cgalr_model_config_t *c = &m->cfg;
    int h[65];
    char name[NN_NAME];
    h[0] = 0;
    for (size_t l = 1; l <= c->gin_layers; l++) {
        if (!room(m, 1))
            return -1;
        snprintf(name, sizeof name, "gin%zu", l);
        int x = node_new(m, OP_GIN_AGG, name, h[l - 1], -1);
        m->nodes[x].eps = c->gin_eps;
        if (c->gin_learn_eps) {
            size_t one = 1;
            m->nodes[x].w_off = tensor_new(m, name, "eps", 1, &one, 0, c->gin_eps);
            m->nodes[x].needs_grad = 1;
        }
        snprintf(name, sizeof name, "gin%zu.mlp.0", l);
        x = mk_linear(m, name, x, c->gin_hidden, 1);
        snprintf(name, sizeof name, "gin%zu.mlp.1", l);
        x = mk_bn(m, name, x);
        x = mk_simple(m, OP_RELU, name, x, 0);
        snprintf(name, sizeof name, "gin%zu.mlp.3", l);
        x = mk_linear(m, name, x, c->gin_hidden, 1);
        snprintf(name, sizeof name, "gin%zu.bn", l);
        x = mk_bn(m, name, x);
        h[l] = mk_simple(m, OP_RELU, name, x, 0);
        if (h[l] < 0)
            return -1;
    }
    int score = -1;
    for (size_t l = 0; l <= c->gin_layers; l++) {
        if (l == 0)
            snprintf(name, sizeof name, "input");
        else
            snprintf(name, sizeof name, "gin%zu", l);
        int p = mk_simple(m, OP_GRAPH_SUM, name, h[l], 1);
        snprintf(name, sizeof name, "pred%zu", l);
        p = mk_linear(m, name, p, c->n_classes, 1);
        p = mk_dropout(m, name, p, c->dropout);
        score = score < 0 ? p : mk_add(m, name, score, p);
        if (score < 0)
            return -1;
    }
    snprintf(m->default_probe, sizeof m->default_probe, "gin%zu", c->gin_layers);
    return score;
}

static void init_params(cgalr_model_t *m)
{
    cgalr_rng_t base = cgalr_rng_init(m->cfg.seed, CGALR_STREAM_INIT);
    for (size_t t = 0; t < m->n_tensors; t++) {
        const nn_tensor_t *ti = &m->tensors[t];
        float *p = m->params + ti->offset;
        if (ti->fan_in == 0) {
            for (size_t i = 0; i < ti->numel; i++)
                p[i] = ti->init_const;
            continue;
        }
        /* kaiming_uniform(a = sqrt(5)) and the default bias both give U(-1/sqrt(fan_in), +) */
        cgalr_rng_t r = cgalr_rng_derive(&base, t);
        float bound = (float)(1.0 / sqrt((double)ti->fan_in));
        for (size_t i = 0; i < ti->numel; i++)
            p[i] = (2.0f * cgalr_rng_uniformf(&r) - 1.0f) * bound;
    }
    for (int i = 0; i < m->n_nodes; i++) {
        const nn_node_t *n = &m->nodes[i];
        if (n->op == OP_BN) {
            for (size_t c = 0; c < n->c; c++) {
                m->buffers[n->buf_off + c] = 0.0f;
                m->buffers[n->buf_off + n->c + c] = 1.0f;
            }
        }
    }
}

static cgalr_status_t check_config(const cgalr_model_config_t *c)
{
    if ((unsigned)c->kind > CGALR_MODEL_GIN)
        return cgalr_fail(CGALR_EINVAL, "model kind %d: expected mlp, cnn, resnet20, resnet18 or gin", (int)c->kind);
    if (c->n_classes < 2 || c->n_classes > 100000)
        return cgalr_fail(CGALR_EINVAL, "model %s: %zu classes, expected 2..100000", kind_names[c->kind], c->n_classes);
    if (c->threads < 1 || c->threads > 256)
        return cgalr_fail(CGALR_EINVAL, "model %s: threads = %d, expected 1..256", kind_names[c->kind], c->threads);
    if (c->kind == CGALR_MODEL_GIN) {
        if (c->node_features < 1 || c->node_features > 1000000)
            return cgalr_fail(CGALR_EINVAL, "gin: node_features = %zu, expected 1..1000000", c->node_features);
        if (c->gin_layers < 1 || c->gin_layers > 64)
            return cgalr_fail(CGALR_EINVAL, "gin: %zu layers, expected 1..64", c->gin_layers);
        if (c->gin_hidden < 1 || c->gin_hidden > 65536)
            return cgalr_fail(CGALR_EINVAL, "gin: hidden = %zu, expected 1..65536", c->gin_hidden);
        if (!(c->dropout >= 0.0f && c->dropout < 1.0f))
            return cgalr_fail(CGALR_EINVAL, "gin: dropout = %g, expected [0, 1)", (double)c->dropout);
        if (!isfinite(c->gin_eps))
            return cgalr_fail(CGALR_EINVAL, "gin: eps = %g, expected a finite number", (double)c->gin_eps);
        return CGALR_OK;
    }
    if (c->in_c < 1 || c->in_h < 1 || c->in_w < 1 || c->in_c > 65536 || c->in_h > 65536 || c->in_w > 65536 ||
        c->in_c * c->in_h * c->in_w > ((size_t)1 << 28))
        return cgalr_fail(CGALR_EINVAL, "model %s: input shape %zux%zux%zu out of range", kind_names[c->kind], c->in_c,
                          c->in_h, c->in_w);
    if (c->kind == CGALR_MODEL_MLP) {
        if (c->mlp_n_hidden > CGALR_MLP_MAX_HIDDEN)
            return cgalr_fail(CGALR_EINVAL, "mlp: %zu hidden layers, at most %d", c->mlp_n_hidden, CGALR_MLP_MAX_HIDDEN);
        for (size_t i = 0; i < c->mlp_n_hidden; i++)
            if (c->mlp_hidden[i] < 1 || c->mlp_hidden[i] > 1000000)
                return cgalr_fail(CGALR_EINVAL, "mlp: hidden size %zu = %zu, expected 1..1000000", i + 1,
                                  c->mlp_hidden[i]);
    } else {
        size_t need = c->kind == CGALR_MODEL_CNN ? 8 : 4;
        if (c->in_h < need || c->in_w < need)
            return cgalr_fail(CGALR_EINVAL, "model %s: input %zux%zu is too small, need at least %zux%zu",
                              kind_names[c->kind], c->in_h, c->in_w, need, need);
    }
    return CGALR_OK;
}

/* A ReLU may overwrite its input when nothing else reads that input: the input has no other
 * consumer, is not a probe, and its own backward needs only ITS inputs (true of every op here
 * but ReLU, LeakyReLU, the input and aliases). Saves one activation and one gradient buffer per
 * conv-BN-ReLU. */
static void mark_inplace(cgalr_model_t *m)
{
    int *uses = calloc((size_t)m->n_nodes, sizeof(int));
    if (!uses)
        return; /* in-place is only an optimisation */
    for (int i = 1; i < m->n_nodes; i++) {
        if (m->nodes[i].in0 >= 0)
            uses[m->nodes[i].in0]++;
        if (m->nodes[i].in1 >= 0)
            uses[m->nodes[i].in1]++;
    }
    for (int i = 1; i < m->n_nodes; i++) {
        nn_node_t *n = &m->nodes[i];
        if (n->op != OP_RELU)
            continue;
        const nn_node_t *a = &m->nodes[n->in0];
        if (uses[n->in0] == 1 && !a->probe && !a->inplace && a->op != OP_INPUT && a->op != OP_RELU &&
            a->op != OP_LRELU && a->op != OP_FLATTEN) {
            n->inplace = 1;
            if (a->op == OP_BN || a->op == OP_ADD)
                m->nodes[n->in0].fuse_relu = i;
        }
    }
    free(uses);
}

void cgalr_model_free(cgalr_model_t *m)
{
    if (!m)
        return;
    free(m->nodes);
    free(m->tensors);
    free(m->params);
    free(m->grads);
    free(m->buffers);
    free(m->arena);
    free(m->work);
    free(m->gscratch);
    free(m->wt);
    free(m->apack);
    free(m->dwork);
    nn_pool_free(m->pool);
    free(m);
}

/* Test-only sequential body from a spec (see nn_internal.h), then flatten + Linear to classes. */
static int build_seq(cgalr_model_t *m, const char *spec)
{
    char tok[64], name[NN_NAME];
    int x = 0, mark = 0, li = 0;
    const char *s = spec;
    while (*s && x >= 0) {
        size_t len = strcspn(s, ",");
        if (len >= sizeof tok)
            return -1;
        memcpy(tok, s, len);
        tok[len] = 0;
        s += len + (s[len] == ',');
        snprintf(name, sizeof name, "l%d", ++li);
        int a = 0, b = 0, c = 0, d = 0;
        float f = 0.0f;
        if (sscanf(tok, "conv:%d:%d:%d:%d", &a, &b, &c, &d) == 4)
            x = mk_conv(m, name, x, (size_t)a, b, c, d, strstr(tok, ":b") != NULL);
        else if (strcmp(tok, "bn") == 0)
            x = mk_bn(m, name, x);
        else if (strcmp(tok, "relu") == 0)
            x = mk_simple(m, OP_RELU, name, x, 1);
        else if (strcmp(tok, "lrelu") == 0)
            x = mk_simple(m, OP_LRELU, name, x, 1);
        else if (sscanf(tok, "maxpool:%d:%d", &a, &b) == 2)
            x = mk_pool(m, OP_MAXPOOL, name, x, a, b);
        else if (sscanf(tok, "avgpool:%d:%d", &a, &b) == 2)
            x = mk_pool(m, OP_AVGPOOL, name, x, a, b);
        else if (strcmp(tok, "gap") == 0)
            x = mk_simple(m, OP_GAP, name, x, 1);
        else if (strcmp(tok, "flatten") == 0)
            x = mk_simple(m, OP_FLATTEN, name, x, 0);
        else if (sscanf(tok, "fc:%d", &a) == 1)
            x = mk_linear(m, name, x, (size_t)a, 1);
        else if (sscanf(tok, "dropout:%f", &f) == 1)
            x = mk_dropout(m, name, x, f);
        else if (strcmp(tok, "mark") == 0)
            mark = x;
        else if (strcmp(tok, "add") == 0)
            x = mk_add(m, name, x, mark);
        else if (strcmp(tok, "shortcut_a") == 0 && room(m, 0)) {
            x = node_new(m, OP_SHORTCUT_A, name, x, -1);
            nn_node_t *n = &m->nodes[x];
            n->pad_c = (int)(n->c / 2);
            n->c *= 2;
            n->h = (n->h + 1) / 2;
            n->w = (n->w + 1) / 2;
        } else
            return -1;
    }
    for (int i = 0; i < m->n_nodes; i++)
        if (m->nodes[i].probe)
            snprintf(m->default_probe, sizeof m->default_probe, "%s", m->nodes[i].name);
    x = mk_simple(m, OP_FLATTEN, "flatten", x, 0);
    return mk_linear(m, "head", x, m->cfg.n_classes, 1);
}

static cgalr_status_t create_impl(const cgalr_model_config_t *cfg, const char *spec, cgalr_model_t **out);

cgalr_status_t nn_model_create_seq(const cgalr_model_config_t *cfg, const char *spec, cgalr_model_t **out)
{
    if (!spec)
        return cgalr_fail(CGALR_EINVAL, "nn_model_create_seq: spec is NULL");
    return create_impl(cfg, spec, out);
}

cgalr_status_t cgalr_model_create(const cgalr_model_config_t *cfg, cgalr_model_t **out)
{
    return create_impl(cfg, NULL, out);
}

static cgalr_status_t create_impl(const cgalr_model_config_t *cfg, const char *spec, cgalr_model_t **out)
{
    if (!out)
        return cgalr_fail(CGALR_EINVAL, "cgalr_model_create: out is NULL");
    *out = NULL;
    if (!cfg)
        return cgalr_fail(CGALR_EINVAL, "cgalr_model_create: cfg is NULL");
    cgalr_status_t st = check_config(cfg);
    if (st)
        return st;
    /* the kernels' instruction set is fixed before the layout (direct/Winograd workspaces) */
    if ((st = nn_isa_check()))
        return st;
    cgalr_model_t *m = calloc(1, sizeof *m);
    if (!m)
        return cgalr_fail(CGALR_ENOMEM, "cgalr_model_create: out of memory");
    m->cfg = *cfg;
    m->cap_nodes = MAX_NODES;
    m->cap_tensors = MAX_TENSORS;
    m->nodes = calloc(MAX_NODES, sizeof *m->nodes);
    m->tensors = calloc(MAX_TENSORS, sizeof *m->tensors);
    if (!m->nodes || !m->tensors) {
        cgalr_model_free(m);
        return cgalr_fail(CGALR_ENOMEM, "cgalr_model_create: out of memory");
    }
    /* node 0: the input */
    nn_node_t *in = &m->nodes[0];
    memset(in, 0, sizeof *in);
    in->op = OP_INPUT;
    snprintf(in->name, sizeof in->name, "input");
    in->in0 = in->in1 = -1;
    in->w_off = in->b_off = in->buf_off = NN_NONE;
    if (cfg->kind == CGALR_MODEL_GIN) {
        in->level = LEVEL_NODE;
        in->c = cfg->node_features;
        in->h = in->w = 1;
    } else {
        in->c = cfg->in_c;
        in->h = cfg->in_h;
        in->w = cfg->in_w;
    }
    m->n_nodes = 1;
    int last = -1;
    if (spec)
        last = cfg->kind == CGALR_MODEL_GIN ? -1 : build_seq(m, spec);
    else switch (cfg->kind) {
    case CGALR_MODEL_MLP: last = build_mlp(m); break;
    case CGALR_MODEL_CNN: last = build_cnn(m); break;
    case CGALR_MODEL_RESNET20: last = build_resnet(m, 0); break;
    case CGALR_MODEL_RESNET18: last = build_resnet(m, 1); break;
    case CGALR_MODEL_GIN: last = build_gin(m); break;
    }
    if (last < 0 || last != m->n_nodes - 1) {
        cgalr_model_free(m);
        return cgalr_fail(CGALR_EINVAL, "model %s: cannot build it for input %zux%zux%zu", kind_names[cfg->kind],
                          cfg->in_c, cfg->in_h, cfg->in_w);
    }
    m->params = malloc((m->n_params ? m->n_params : 1) * sizeof(float));
    m->grads = calloc(m->n_params ? m->n_params : 1, sizeof(float));
    m->buffers = malloc((m->n_buffers ? m->n_buffers : 1) * sizeof(float));
    if (!m->params || !m->grads || !m->buffers) {
        cgalr_model_free(m);
        return cgalr_fail(CGALR_ENOMEM, "model %s: out of memory for %zu parameters", kind_names[cfg->kind],
                          m->n_params);
    }
    init_params(m);
    m->drop_rng = cgalr_rng_init(cfg->seed, CGALR_STREAM_DROPOUT);
    uint64_t h = core_fnv1a(CORE_FNV_BASIS, &m->cfg.kind, sizeof m->cfg.kind);
    h = core_fnv1a(h, &m->n_buffers, sizeof m->n_buffers);
    for (size_t t = 0; t < m->n_tensors; t++) {
        h = core_fnv1a(h, m->tensors[t].name, strlen(m->tensors[t].name));
        h = core_fnv1a(h, m->tensors[t].shape, sizeof m->tensors[t].shape);
    }
    m->arch_hash = h;
    mark_inplace(m);
    nn_blas_threads(cfg->threads);
    m->pool = nn_pool_create(cfg->threads); /* NULL (inline) with one thread */
    *out = m;
    return CGALR_OK;
}

const cgalr_model_config_t *cgalr_model_get_config(const cgalr_model_t *m)
{
    return m ? &m->cfg : NULL;
}

cgalr_status_t cgalr_model_set_threads(cgalr_model_t *m, int threads)
{
    if (!m || threads < 1 || threads > 256)
        return cgalr_fail(CGALR_EINVAL, "cgalr_model_set_threads: threads = %d, expected 1..256", threads);
    if (threads != nn_pool_threads(m->pool)) {
        nn_pool_free(m->pool);
        m->pool = nn_pool_create(threads);
    }
    m->cfg.threads = threads;
    nn_blas_threads(threads);
    return CGALR_OK;
}

/* ---- arena --------------------------------------------------------------------------------- */

static cgalr_status_t carve(cgalr_model_t *m, size_t rows_sample, size_t rows_node, int training, int upto,
                            size_t *gsize, size_t *goff, int *glast, int *gorder);

static cgalr_status_t prepare(cgalr_model_t *m, size_t rows_sample, size_t rows_node, int training, int upto)
{
    size_t *gs = calloc((size_t)m->n_nodes * 2, sizeof(size_t));
    int *gl = calloc((size_t)m->n_nodes * 2, sizeof(int));
    cgalr_status_t st = gs && gl ? carve(m, rows_sample, rows_node, training, upto, gs, gs + m->n_nodes, gl,
                                         gl + m->n_nodes)
                                 : cgalr_fail(CGALR_ENOMEM, "model %s: out of memory", kind_names[m->cfg.kind]);
    free(gs);
    free(gl);
    return st;
}

static size_t align64(size_t x)
{
    return (x + 63) & ~(size_t)63;
}

/* Makes *buf hold at least n floats (contents not kept). */
static cgalr_status_t grow_floats(const cgalr_model_t *m, float **buf, size_t *cap, size_t n, const char *what)
{
    if (n <= *cap)
        return CGALR_OK;
    free(*buf);
    *buf = malloc(n * sizeof(float));
    *cap = *buf ? n : 0;
    return *buf ? CGALR_OK
                : cgalr_fail(CGALR_ENOMEM, "model %s: out of memory for %s", kind_names[m->cfg.kind], what);
}

/* Gradient buffers share memory where their lifetimes do not meet. Backward runs the nodes from
 * the last down; a node's gradient is first written when its last consumer (or, for the last node,
 * the loss) runs and last read by its own backward, so it lives over the node indices
 * [owner, last consumer]. Buffers are placed largest first at the lowest offset clear of every
 * placed buffer whose lifetime meets theirs. (Nothing reads a gradient before its first writer
 * stores it or zeroes it: see dy_fresh.) Fills off[i] for owners with size[i] > 0; returns the
 * region's size. */
static size_t plan_grads(const cgalr_model_t *m, int upto, const size_t *size, size_t *off, int *last, int *order)
{
    int nn_ = upto + 1, np = 0;
    for (int i = 0; i < nn_; i++)
        last[i] = i;
    for (int j = 1; j < nn_; j++) {
        const nn_node_t *n = &m->nodes[j];
        int ins[2] = {n->in0, n->in1};
        for (int k = 0; k < 2; k++) {
            if (ins[k] < 0)
                continue;
            int o = (int)(nn_dy_owner(m, &m->nodes[ins[k]]) - m->nodes);
            if (last[o] < j)
                last[o] = j;
        }
    }
    if (upto == m->n_nodes - 1) /* written by the loss, before any backward */
        last[nn_dy_owner(m, &m->nodes[upto]) - m->nodes] = nn_;
    for (int i = 0; i < nn_; i++)
        if (size[i])
            order[np++] = i;
    for (int a = 1; a < np; a++) /* largest first; ties by index: the plan depends on sizes only */
        for (int b = a; b > 0 && (size[order[b]] > size[order[b - 1]] ||
                                  (size[order[b]] == size[order[b - 1]] && order[b] < order[b - 1]));
             b--) {
            int t = order[b];
            order[b] = order[b - 1];
            order[b - 1] = t;
        }
    size_t total = 0;
    for (int a = 0; a < np; a++) {
        int i = order[a];
        size_t at = 0;
        for (int moved = 1; moved;) { /* lowest offset clear of every live placed buffer */
            moved = 0;
            for (int b = 0; b < a; b++) {
                int j = order[b];
                int meet = i <= last[j] && j <= last[i];
                if (meet && at < off[j] + size[j] && off[j] < at + size[i]) {
                    at = off[j] + size[j];
                    moved = 1;
                }
            }
        }
        off[i] = at;
        if (at + size[i] > total)
            total = at + size[i];
    }
    return total;
}

/* Carves y, dy and scratch buffers of every node for this batch; `upto` is the last node run.
 * gsize, goff (size_t) and glast, gorder (int): n_nodes each, gsize zeroed. */
static cgalr_status_t carve(cgalr_model_t *m, size_t rows_sample, size_t rows_node, int training, int upto,
                            size_t *gsize, size_t *goff, int *glast, int *gorder)
{
    size_t work = 0, gwork = 0, wt = 0, dwork = 0, apack = 0, gbase = 0;
    int T = nn_pool_threads(m->pool);
    for (int pass = 0; pass < 2; pass++) {
        size_t off = 0;
        for (int i = 0; i <= upto; i++) {
            nn_node_t *n = &m->nodes[i];
            n->rows = n->level == LEVEL_NODE ? rows_node : rows_sample;
            size_t sz = n->rows * rowsize(n) * sizeof(float);
            unsigned char *base = m->arena;
            if (n->op == OP_INPUT) {
                n->dy = NULL;
                continue;
            }
            if (n->op == OP_FLATTEN || n->inplace) {
                if (pass) {
                    n->y = m->nodes[n->in0].y;
                    n->dy = m->nodes[n->in0].dy;
                }
                continue;
            }
            if (pass)
                n->y = (float *)(base + off);
            off += align64(sz);
            if (training && n->needs_grad) {
                if (pass)
                    n->dy = (float *)(base + gbase + goff[i]);
                else
                    gsize[i] = align64(sz); /* placed by plan_grads after the pass */
            } else if (pass) {
                n->dy = NULL;
            }
            size_t aux = 0;
            if (n->op == OP_BN)
                aux = 8 * n->c * sizeof(float); /* statistics + BatchNorm1d scratch */
            else if (n->op == OP_DROPOUT && training)
                aux = sz;
            if (pass)
                n->aux = aux ? (float *)(base + off) : NULL;
            off += align64(aux);
            if (n->op == OP_MAXPOOL) {
                if (pass)
                    n->idx = (int32_t *)(base + off);
                off += align64(n->rows * rowsize(n) * sizeof(int32_t));
            }
            if (n->op == OP_CONV && pass == 0) {
                const nn_node_t *a = &m->nodes[n->in0];
                size_t kk = a->c * (size_t)n->k * (size_t)n->k;
                size_t S = nn_conv_samples(a->c, n, T);
                int wf = nn_conv_wino(n->c, a->c, n->k, n->stride, n->pad);
                int wb = nn_conv_wino(a->c, n->c, n->k, n->stride, n->pad) || nn_conv_direct(a->c, n->k, n->stride, n->pad);
                /* im2col scratch, unless Winograd and direct kernels do every product of the layer */
                size_t need = wf && (!training || !a->needs_grad || wb)
                                  ? 0
                                  : nn_conv_work(kk, n->k, n->h * n->w, n->c, S, training,
                                                 nn_conv_tconv(n->k, n->stride, n->pad));
                if (training && n->c * kk > wt)
                    wt = n->c * kk;
                if (n->c * kk > apack) /* forward: oc x kk; input gradient: ic x oc*k*k, as many */
                    apack = n->c * kk;
                if (nn_conv_direct(n->c, n->k, n->stride, n->pad)) {
                    size_t d = nn_direct_work(a->c, a->h, a->w, n->k, n->pad);
                    dwork = d > dwork ? d : dwork;
                }
                if (nn_conv_s2(n->c, n->k, n->stride, n->pad, a->h, a->w)) {
                    size_t d = nn_s2_work(a->c, n->h, n->w);
                    dwork = d > dwork ? d : dwork;
                }
                if (training && a->needs_grad && nn_conv_direct(a->c, n->k, n->stride, n->pad)) {
                    size_t d = nn_direct_work(n->c, n->h, n->w, n->k, n->k - 1 - n->pad);
                    dwork = d > dwork ? d : dwork;
                }
                if (wf) {
                    /* transformed kernel; scratch of the forward pass and weight gradient; one
                     * transformed weight-gradient accumulator per thread, even with one */
                    size_t u = nn_wino_ksize(n->c, a->c), d = nn_wino_work(a->c, a->h, a->w, S);
                    apack = u > apack ? u : apack;
                    dwork = d > dwork ? d : dwork;
                    if (training && u + n->c > gwork)
                        gwork = u + n->c;
                }
                if (training && a->needs_grad && nn_conv_wino(a->c, n->c, n->k, n->stride, n->pad)) {
                    size_t u = nn_wino_ksize(a->c, n->c), d = nn_wino_work(n->c, n->h, n->w, S);
                    apack = u > apack ? u : apack;
                    dwork = d > dwork ? d : dwork;
                }
                if (need > work)
                    work = need;
                if (T > 1 && training && n->c * kk + n->c > gwork)
                    gwork = n->c * kk + n->c;
            }
        }
        if (pass == 0) {
            gbase = off;
            off += plan_grads(m, upto, gsize, goff, glast, gorder);
            if (off > m->arena_cap) {
                free(m->arena);
                m->arena = malloc(off);
                m->arena_cap = m->arena ? off : 0;
                if (!m->arena)
                    return cgalr_fail(CGALR_ENOMEM, "model %s: out of memory for %zu bytes of activations",
                                      kind_names[m->cfg.kind], off);
            }
            /* one slice per thread, each 64-byte aligned */
            work = align64(work * sizeof(float)) / sizeof(float);
            gwork = align64(gwork * sizeof(float)) / sizeof(float);
            m->work_stride = work;
            m->gscratch_stride = gwork;
            dwork = align64(dwork * sizeof(float)) / sizeof(float);
            m->dwork_stride = dwork;
            cgalr_status_t st = grow_floats(m, &m->work, &m->work_cap, work * (size_t)T, "convolution scratch");
            if (!st)
                st = grow_floats(m, &m->dwork, &m->dwork_cap, dwork * (size_t)T, "convolution scratch");
            if (!st)
                st = grow_floats(m, &m->apack, &m->apack_cap, apack, "convolution scratch");
            if (!st)
                st = grow_floats(m, &m->wt, &m->wt_cap, wt, "convolution scratch");
            if (!st)
                st = grow_floats(m, &m->gscratch, &m->gscratch_cap, gwork * (size_t)T, "per-thread gradients");
            if (st)
                return st;
        }
    }
    return CGALR_OK;
}

/* ---- batches ------------------------------------------------------------------------------- */

static cgalr_status_t check_images(const cgalr_model_t *m, const cgalr_image_batch_t *b, int need_labels)
{
    if (!m || !b)
        return cgalr_fail(CGALR_EINVAL, "image batch: model or batch is NULL");
    if (m->cfg.kind == CGALR_MODEL_GIN)
        return cgalr_fail(CGALR_EINVAL, "model gin: expected a graph batch, got an image batch");
    if (b->n == 0 || !b->x)
        return cgalr_fail(CGALR_EINVAL, "image batch: %zu samples (x %s), expected at least 1", b->n,
                          b->x ? "set" : "NULL");
    if (b->n > ((size_t)1 << 24))
        return cgalr_fail(CGALR_EINVAL, "image batch: %zu samples is absurd", b->n);
    const cgalr_model_config_t *c = &m->cfg;
    int ok = b->c == c->in_c && b->h == c->in_h && b->w == c->in_w;
    if (!ok && c->kind == CGALR_MODEL_MLP)
        ok = b->c * b->h * b->w == c->in_c * c->in_h * c->in_w;
    if (!ok)
        return cgalr_fail(CGALR_EINVAL, "image batch of %zux%zux%zu images, model %s expects %zux%zux%zu", b->c, b->h,
                          b->w, kind_names[c->kind], c->in_c, c->in_h, c->in_w);
    if (need_labels && !b->labels)
        return cgalr_fail(CGALR_EINVAL, "image batch: labels are NULL in training mode");
    return CGALR_OK;
}

static cgalr_status_t check_graphs(const cgalr_model_t *m, const cgalr_graph_batch_t *b, int need_labels)
{
    if (!m || !b)
        return cgalr_fail(CGALR_EINVAL, "graph batch: model or batch is NULL");
    if (m->cfg.kind != CGALR_MODEL_GIN)
        return cgalr_fail(CGALR_EINVAL, "model %s: expected an image batch, got a graph batch",
                          kind_names[m->cfg.kind]);
    if (b->n_graphs == 0 || b->n_nodes == 0)
        return cgalr_fail(CGALR_EINVAL, "graph batch: %zu graphs, %zu nodes; expected at least 1 of each",
                          b->n_graphs, b->n_nodes);
    if (b->n_nodes > ((size_t)1 << 30) || b->n_graphs > b->n_nodes)
        return cgalr_fail(CGALR_EINVAL, "graph batch: %zu graphs with %zu nodes is inconsistent", b->n_graphs,
                          b->n_nodes);
    if (b->feat_dim != m->cfg.node_features)
        return cgalr_fail(CGALR_EINVAL, "graph batch: %zu node features, model gin expects %zu", b->feat_dim,
                          m->cfg.node_features);
    if (!b->x || !b->row_ptr || !b->col || !b->node_ptr || !b->graph_of_node)
        return cgalr_fail(CGALR_EINVAL, "graph batch: x, row_ptr, col, node_ptr and graph_of_node are required");
    if (need_labels && !b->labels)
        return cgalr_fail(CGALR_EINVAL, "graph batch: labels are NULL in training mode");
    if (b->row_ptr[0] != 0)
        return cgalr_fail(CGALR_EINVAL, "graph batch: row_ptr[0] = %d, expected 0", (int)b->row_ptr[0]);
    for (size_t v = 0; v < b->n_nodes; v++) {
        if (b->row_ptr[v + 1] < b->row_ptr[v])
            return cgalr_fail(CGALR_EINVAL, "graph batch: row_ptr decreases at node %zu", v);
        int32_t g = b->graph_of_node[v];
        if (g < 0 || (size_t)g >= b->n_graphs)
            return cgalr_fail(CGALR_EINVAL, "graph batch: node %zu in graph %d, expected 0..%zu", v, (int)g,
                              b->n_graphs - 1);
    }
    size_t ne = (size_t)b->row_ptr[b->n_nodes];
    for (size_t e = 0; e < ne; e++)
        if (b->col[e] < 0 || (size_t)b->col[e] >= b->n_nodes)
            return cgalr_fail(CGALR_EINVAL, "graph batch: edge %zu points to node %d, expected 0..%zu", e,
                              (int)b->col[e], b->n_nodes - 1);
    return CGALR_OK;
}

static cgalr_status_t run_forward(cgalr_model_t *m, int upto)
{
    m->fwd_upto = upto;
    for (int i = 1; i <= upto; i++) {
        cgalr_status_t st = nn_forward_node(m, &m->nodes[i]);
        if (st)
            return st;
        /* the training-capture hook: right after its last probe layer, while the rows are in
         * cache and before anything downstream (or the backward) reuses the buffers */
        if (i == m->cap_upto && m->cap_fn && m->training) {
            m->cap_live = 1;
            st = m->cap_fn(m->cap_user, m, m->nodes[i].rows);
            m->cap_live = 0;
            if (st)
                return st;
        }
    }
    return CGALR_OK;
}

/* Loss over the logits; in training, writes dL/dlogits (mean reduction) into the last dy. */
static cgalr_status_t loss_and_grad(cgalr_model_t *m, const int32_t *labels, int training, cgalr_step_result_t *res)
{
    nn_node_t *last = &m->nodes[m->n_nodes - 1];
    size_t n = last->rows, C = last->c;
    double total = 0.0;
    memset(res, 0, sizeof *res);
    res->n = n;
    for (size_t i = 0; i < n; i++) {
        const float *z = last->y + i * C;
        int finite = 1;
        size_t arg = 0;
        for (size_t j = 0; j < C; j++) {
            if (!isfinite(z[j]))
                finite = 0;
            if (z[j] > z[arg])
                arg = j;
        }
        if (!finite)
            res->nonfinite++;
        if (!labels)
            continue;
        int32_t y = labels[i];
        if (y < 0 || (size_t)y >= C)
            return cgalr_fail(CGALR_EINVAL, "label of sample %zu is %d, expected 0..%zu", i, (int)y, C - 1);
        if (finite && arg == (size_t)y)
            res->correct++;
        double mx = z[arg], s = 0.0;
        for (size_t j = 0; j < C; j++)
            s += exp((double)z[j] - mx);
        double lse = mx + log(s);
        double li = lse - (double)z[y];
        if (training) {
            float *g = last->dy + i * C;
            for (size_t j = 0; j < C; j++)
                g[j] = (float)((exp((double)z[j] - lse) - (j == (size_t)y ? 1.0 : 0.0)) / (double)n);
            total += li;
        } else if (finite) {
            total += li;
        }
    }
    res->loss = training ? total / (double)n : total;
    m->logits_valid = 1;
    m->logits_n = n;
    return CGALR_OK;
}

static cgalr_status_t train_common(cgalr_model_t *m, const int32_t *labels, cgalr_step_result_t *res)
{
    cgalr_step_result_t tmp;
    if (!res)
        res = &tmp;
    cgalr_status_t st = run_forward(m, m->n_nodes - 1);
    if (st)
        return st;
    /* no zeroing pass: each gradient buffer is stored by its first writer (or zeroed just before
     * an accumulating one), see nn_backward_node */
    for (int i = 1; i < m->n_nodes; i++) {
        nn_node_t *n = &m->nodes[i];
        n->dy_fresh = n->dy && n->op != OP_FLATTEN && !n->inplace;
    }
    st = loss_and_grad(m, labels, 1, res);
    if (st)
        return st;
    if (labels) /* the loss wrote every row of the last node's gradient */
        nn_dy_owner(m, &m->nodes[m->n_nodes - 1])->dy_fresh = 0;
    memset(m->grads, 0, m->n_params * sizeof(float));
    for (int i = m->n_nodes - 1; i >= 1; i--)
        if (m->nodes[i].needs_grad)
            nn_backward_node(m, &m->nodes[i]);
    return CGALR_OK;
}

static cgalr_status_t setup_images(cgalr_model_t *m, const cgalr_image_batch_t *b, int training, int upto)
{
    m->logits_valid = 0;
    m->training = training;
    m->gb = NULL;
    m->nodes[0].y = (float *)b->x; /* read only: no op writes its input's y */
    return prepare(m, b->n, 0, training, upto);
}

static cgalr_status_t setup_graphs(cgalr_model_t *m, const cgalr_graph_batch_t *b, int training, int upto)
{
    m->logits_valid = 0;
    m->training = training;
    m->gb = b;
    m->nodes[0].y = (float *)b->x;
    return prepare(m, b->n_graphs, b->n_nodes, training, upto);
}

cgalr_status_t cgalr_model_train_images(cgalr_model_t *m, const cgalr_image_batch_t *b, cgalr_step_result_t *res)
{
    cgalr_status_t st = check_images(m, b, 1);
    if (!st)
        st = setup_images(m, b, 1, m->n_nodes - 1);
    if (!st)
        st = train_common(m, b->labels, res);
    return st;
}

cgalr_status_t cgalr_model_train_graphs(cgalr_model_t *m, const cgalr_graph_batch_t *b, cgalr_step_result_t *res)
{
    cgalr_status_t st = check_graphs(m, b, 1);
    if (!st)
        st = setup_graphs(m, b, 1, m->n_nodes - 1);
    if (!st)
        st = train_common(m, b->labels, res);
    return st;
}

static cgalr_status_t eval_common(cgalr_model_t *m, const int32_t *labels, cgalr_step_result_t *res)
{
    cgalr_step_result_t tmp;
    if (!res)
        res = &tmp;
    cgalr_status_t st = run_forward(m, m->n_nodes - 1);
    if (st)
        return st;
    return loss_and_grad(m, labels, 0, res);
}

cgalr_status_t cgalr_model_eval_images(cgalr_model_t *m, const cgalr_image_batch_t *b, cgalr_step_result_t *res)
{
    cgalr_status_t st = check_images(m, b, 0);
    if (!st)
        st = setup_images(m, b, 0, m->n_nodes - 1);
    if (!st)
        st = eval_common(m, b->labels, res);
    return st;
}

cgalr_status_t cgalr_model_eval_graphs(cgalr_model_t *m, const cgalr_graph_batch_t *b, cgalr_step_result_t *res)
{
    cgalr_status_t st = check_graphs(m, b, 0);
    if (!st)
        st = setup_graphs(m, b, 0, m->n_nodes - 1);
    if (!st)
        st = eval_common(m, b->labels, res);
    return st;
}

const float *cgalr_model_logits(const cgalr_model_t *m, size_t *n)
{
    if (!m || !m->logits_valid) {
        if (n)
            *n = 0;
        return NULL;
    }
    if (n)
        *n = m->logits_n;
    return m->nodes[m->n_nodes - 1].y;
}

/* ---- views --------------------------------------------------------------------------------- */

size_t cgalr_model_num_params(const cgalr_model_t *m)
{
    return m ? m->n_params : 0;
}

float *cgalr_model_params(cgalr_model_t *m)
{
    return m ? m->params : NULL;
}

float *cgalr_model_grads(cgalr_model_t *m)
{
    return m ? m->grads : NULL;
}

size_t cgalr_model_num_buffers(const cgalr_model_t *m)
{
    return m ? m->n_buffers : 0;
}

float *cgalr_model_buffers(cgalr_model_t *m)
{
    return m ? m->buffers : NULL;
}

size_t cgalr_model_num_tensors(const cgalr_model_t *m)
{
    return m ? m->n_tensors : 0;
}

cgalr_status_t cgalr_model_tensor_info(const cgalr_model_t *m, size_t i, cgalr_tensor_info_t *info)
{
    if (!m || !info || i >= m->n_tensors)
        return cgalr_fail(CGALR_EINVAL, "tensor %zu: out of range (model has %zu)", i, m ? m->n_tensors : 0);
    const nn_tensor_t *t = &m->tensors[i];
    info->name = t->name;
    info->offset = t->offset;
    info->numel = t->numel;
    info->ndim = t->ndim;
    memcpy(info->shape, t->shape, sizeof info->shape);
    return CGALR_OK;
}

cgalr_status_t cgalr_model_check_finite(const cgalr_model_t *m)
{
    if (!m)
        return cgalr_fail(CGALR_EINVAL, "cgalr_model_check_finite: model is NULL");
    for (size_t t = 0; t < m->n_tensors; t++) {
        const nn_tensor_t *ti = &m->tensors[t];
        for (size_t i = 0; i < ti->numel; i++)
            if (!isfinite(m->params[ti->offset + i]))
                return cgalr_fail(CGALR_ENONFINITE, "parameter %s[%zu] = %g is not finite", ti->name, i,
                                  (double)m->params[ti->offset + i]);
    }
    for (size_t i = 0; i < m->n_buffers; i++)
        if (!isfinite(m->buffers[i]))
            return cgalr_fail(CGALR_ENONFINITE, "batch-norm running statistic %zu = %g is not finite", i,
                              (double)m->buffers[i]);
    return CGALR_OK;
}

/* ---- probes -------------------------------------------------------------------------------- */

size_t cgalr_model_num_probes(const cgalr_model_t *m)
{
    size_t k = 0;
    if (m)
        for (int i = 0; i < m->n_nodes; i++)
            k += m->nodes[i].probe != 0;
    return k;
}

cgalr_status_t cgalr_model_probe_info(const cgalr_model_t *m, size_t i, const char **name, size_t *signals)
{
    size_t k = 0;
    if (m)
        for (int j = 0; j < m->n_nodes; j++) {
            if (!m->nodes[j].probe)
                continue;
            if (k++ == i) {
                if (name)
                    *name = m->nodes[j].name;
                if (signals)
                    *signals = m->nodes[j].c;
                return CGALR_OK;
            }
        }
    return cgalr_fail(CGALR_EINVAL, "probe %zu: out of range (model has %zu)", i, cgalr_model_num_probes(m));
}

const char *cgalr_model_default_probe(const cgalr_model_t *m)
{
    return m ? m->default_probe : NULL;
}

static int find_probe(const cgalr_model_t *m, const char *name, size_t len)
{
    for (int j = 0; j < m->n_nodes; j++)
        if (m->nodes[j].probe && strlen(m->nodes[j].name) == len && strncmp(m->nodes[j].name, name, len) == 0)
            return j;
    return -1;
}

#define MAX_PROBE_LAYERS 64

/* Parses a comma-separated spec into node indices. */
static cgalr_status_t parse_spec(const cgalr_model_t *m, const char *spec, int *idx, size_t *count, size_t *width)
{
    if (!spec || !*spec)
        spec = m->default_probe;
    *count = 0;
    *width = 0;
    const char *s = spec;
    while (1) {
        const char *e = strchr(s, ',');
        size_t len = e ? (size_t)(e - s) : strlen(s);
        int j = find_probe(m, s, len);
        if (j < 0) {
            char list[512];
            size_t off = 0;
            list[0] = 0;
            for (int q = 0; q < m->n_nodes && off < sizeof list - 64; q++)
                if (m->nodes[q].probe)
                    off += (size_t)snprintf(list + off, sizeof list - off, "%s%s", off ? ", " : "", m->nodes[q].name);
            return cgalr_fail(CGALR_EINVAL, "probe '%.*s' is not a layer of model %s (probes: %s)", (int)len, s,
                              kind_names[m->cfg.kind], list);
        }
        if (*count >= MAX_PROBE_LAYERS)
            return cgalr_fail(CGALR_EINVAL, "probe spec '%s': more than %d layers", spec, MAX_PROBE_LAYERS);
        idx[(*count)++] = j;
        *width += m->nodes[j].c;
        if (!e)
            break;
        s = e + 1;
    }
    return CGALR_OK;
}

cgalr_status_t cgalr_model_probe_width(const cgalr_model_t *m, const char *spec, size_t *p)
{
    int idx[MAX_PROBE_LAYERS];
    size_t count;
    if (!m || !p)
        return cgalr_fail(CGALR_EINVAL, "cgalr_model_probe_width: model or p is NULL");
    return parse_spec(m, spec, idx, &count, p);
}

/* The probe values of batch rows rows[0..k) (all rows in order when rows is NULL) into out (k x
 * width): conv maps averaged over space, per channel. The one pooling of the probe signals, for
 * the inference capture and the training-forward hook alike. */
static void extract(const cgalr_model_t *m, const int *idx, size_t count, size_t width, const size_t *rows, size_t k,
                    float *out)
{
    size_t col = 0;
    for (size_t q = 0; q < count; q++) {
        const nn_node_t *n = &m->nodes[idx[q]];
        size_t hw = n->h * n->w;
        for (size_t i = 0; i < k; i++) {
            size_t r = rows ? rows[i] : i;
            for (size_t c = 0; c < n->c; c++) {
                const float *x = n->y + (r * n->c + c) * hw;
                float acc = 0.0f;
                for (size_t j = 0; j < hw; j++)
                    acc += x[j];
                out[i * width + col + c] = acc / (float)hw;
            }
        }
        col += n->c;
    }
}

cgalr_status_t cgalr_model_capture_images(cgalr_model_t *m, const char *spec, const cgalr_image_batch_t *b, float *out)
{
    int idx[MAX_PROBE_LAYERS];
    size_t count, width;
    cgalr_status_t st = check_images(m, b, 0);
    if (st)
        return st;
    if (!out)
        return cgalr_fail(CGALR_EINVAL, "capture: out is NULL");
    if ((st = parse_spec(m, spec, idx, &count, &width)))
        return st;
    int upto = 0;
    for (size_t k = 0; k < count; k++)
        upto = idx[k] > upto ? idx[k] : upto;
    if ((st = setup_images(m, b, 0, upto)) || (st = run_forward(m, upto)))
        return st;
    extract(m, idx, count, width, NULL, m->nodes[idx[0]].rows, out);
    return CGALR_OK;
}

cgalr_status_t cgalr_model_capture_graphs(cgalr_model_t *m, const char *spec, const cgalr_graph_batch_t *b, float *out)
{
    int idx[MAX_PROBE_LAYERS];
    size_t count, width;
    cgalr_status_t st = check_graphs(m, b, 0);
    if (st)
        return st;
    if (!out)
        return cgalr_fail(CGALR_EINVAL, "capture: out is NULL");
    if ((st = parse_spec(m, spec, idx, &count, &width)))
        return st;
    int upto = 0;
    for (size_t k = 0; k < count; k++)
        upto = idx[k] > upto ? idx[k] : upto;
    if ((st = setup_graphs(m, b, 0, upto)) || (st = run_forward(m, upto)))
        return st;
    extract(m, idx, count, width, NULL, m->nodes[idx[0]].rows, out);
    return CGALR_OK;
}

/* ---- the training-forward hook ------------------------------------------------------------- */

cgalr_status_t cgalr_model_set_train_capture(cgalr_model_t *m, const char *spec, cgalr_train_capture_fn fn,
                                             void *user)
{
    if (!m)
        return cgalr_fail(CGALR_EINVAL, "cgalr_model_set_train_capture: model is NULL");
    if (!fn) {
        m->cap_fn = NULL;
        m->cap_user = NULL;
        return CGALR_OK;
    }
    int idx[MAX_PROBE_LAYERS];
    size_t count, width;
    cgalr_status_t st = parse_spec(m, spec, idx, &count, &width);
    if (st)
        return st;
    memcpy(m->cap_idx, idx, count * sizeof *idx);
    m->cap_count = count;
    m->cap_width = width;
    m->cap_upto = 0;
    for (size_t k = 0; k < count; k++)
        m->cap_upto = idx[k] > m->cap_upto ? idx[k] : m->cap_upto;
    m->cap_fn = fn;
    m->cap_user = user;
    m->cap_live = 0;
    return CGALR_OK;
}

cgalr_status_t cgalr_model_pool_probe(const cgalr_model_t *m, const size_t *rows, size_t k, float *out)
{
    if (!m || (!out && k > 0))
        return cgalr_fail(CGALR_EINVAL, "cgalr_model_pool_probe: model or out is NULL");
    if (!m->cap_live)
        return cgalr_fail(CGALR_ESTATE, "cgalr_model_pool_probe: only valid inside the training-capture hook");
    size_t n = m->nodes[m->cap_upto].rows;
    if (!rows && k != n)
        return cgalr_fail(CGALR_EINVAL, "cgalr_model_pool_probe: %zu rows asked, the batch has %zu", k, n);
    for (size_t i = 0; rows && i < k; i++)
        if (rows[i] >= n)
            return cgalr_fail(CGALR_EINVAL, "cgalr_model_pool_probe: row %zu of a batch of %zu", rows[i], n);
    extract(m, m->cap_idx, m->cap_count, m->cap_width, rows, k, out);
    return CGALR_OK;
}
