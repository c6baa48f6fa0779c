/* The architectures of the engine: the node lists of mlp, cnn, resnet20, resnet18, gin (and the
 * test-only sequential models), their configs' defaults and checks, and PyTorch-default
 * initialisation of their parameters and buffers. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "nn/nn_internal.h"

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
    size_t fan = nn_rowsize(&m->nodes[in]);
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
        n->c = nn_rowsize(n);
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

/* The nodes of cfg's architecture, or of the test spec, after the input node. */
int nn_build_arch(cgalr_model_t *m, const char *spec)
{
    const cgalr_model_config_t *cfg = &m->cfg;
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
    return last;
}

void nn_init_params(cgalr_model_t *m)
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

cgalr_status_t nn_check_config(const cgalr_model_config_t *c)
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
