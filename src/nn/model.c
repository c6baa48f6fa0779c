/* A model's life and its public API: creation over an architecture of models.c, threads,
 * training steps and evaluation on image and graph batches, the flat parameter views, and the
 * activation capture of named layers (inference and the training-forward hook). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/hash.h"
#include "nn/nn_internal.h"

#define MAX_NODES 512
#define MAX_TENSORS 512

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
    free(m->bn_buf);
    free(m->apack);
    free(m->dwork);
    nn_pool_free(m->pool);
    free(m);
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
    cgalr_status_t st = nn_check_config(cfg);
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
    int last = nn_build_arch(m, spec);
    if (last < 0 || last != m->n_nodes - 1) {
        cgalr_model_free(m);
        return cgalr_fail(CGALR_EINVAL, "model %s: cannot build it for input %zux%zux%zu",
                          cgalr_model_kind_name(cfg->kind), cfg->in_c, cfg->in_h, cfg->in_w);
    }
    m->params = malloc((m->n_params ? m->n_params : 1) * sizeof(float));
    m->grads = calloc(m->n_params ? m->n_params : 1, sizeof(float));
    m->buffers = malloc((m->n_buffers ? m->n_buffers : 1) * sizeof(float));
    if (!m->params || !m->grads || !m->buffers) {
        cgalr_model_free(m);
        return cgalr_fail(CGALR_ENOMEM, "model %s: out of memory for %zu parameters",
                          cgalr_model_kind_name(cfg->kind), m->n_params);
    }
    nn_init_params(m);
    m->drop_rng = cgalr_rng_init(cfg->seed, CGALR_STREAM_DROPOUT);
    uint64_t h = core_fnv1a(CORE_FNV_BASIS, &m->cfg.kind, sizeof m->cfg.kind);
    h = core_fnv1a(h, &m->n_buffers, sizeof m->n_buffers);
    for (size_t t = 0; t < m->n_tensors; t++) {
        h = core_fnv1a(h, m->tensors[t].name, strlen(m->tensors[t].name));
        h = core_fnv1a(h, m->tensors[t].shape, sizeof m->tensors[t].shape);
    }
    m->arch_hash = h;
    nn_mark_inplace(m);
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
                          b->w, cgalr_model_kind_name(c->kind), c->in_c, c->in_h, c->in_w);
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
                          cgalr_model_kind_name(m->cfg.kind));
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

/* A batch of either kind, as the one batch entry takes it: `graphs` says which pointer is meant
 * (the pointer itself may be NULL, which the checks report). */
typedef struct batch_ref {
    const cgalr_image_batch_t *img;
    const cgalr_graph_batch_t *gb;
    int graphs;
} batch_ref_t;

static batch_ref_t of_images(const cgalr_image_batch_t *b)
{
    return (batch_ref_t){b, NULL, 0};
}

static batch_ref_t of_graphs(const cgalr_graph_batch_t *b)
{
    return (batch_ref_t){NULL, b, 1};
}

/* What run_batch does with the batch: a training step, an evaluation, or a forward pass up to the
 * probe layers of a capture. */
typedef enum run_mode { RUN_TRAIN, RUN_EVAL, RUN_CAPTURE } run_mode_t;

/* Points the input node at a checked batch's features and carves the arena for nodes 0..upto. */
static cgalr_status_t setup_batch(cgalr_model_t *m, const batch_ref_t *b, int training, int upto)
{
    m->logits_valid = 0;
    m->training = training;
    m->gb = b->gb;
    m->nodes[0].y = (float *)(b->graphs ? b->gb->x : b->img->x); /* read only: no op writes its input's y */
    return b->graphs ? nn_arena_prepare(m, b->gb->n_graphs, b->gb->n_nodes, training, upto)
                     : nn_arena_prepare(m, b->img->n, 0, training, upto);
}

/* The forward, loss and (training) backward of a whole batch. */
static cgalr_status_t step_batch(cgalr_model_t *m, const int32_t *labels, int training, cgalr_step_result_t *res)
{
    cgalr_step_result_t tmp;
    if (!res)
        res = &tmp;
    cgalr_status_t st = run_forward(m, m->n_nodes - 1);
    if (st)
        return st;
    if (!training)
        return nn_loss_and_grad(m, labels, 0, res);
    /* no zeroing pass: each gradient buffer is stored by its first writer (or zeroed just before
     * an accumulating one), see nn_backward_node */
    for (int i = 1; i < m->n_nodes; i++) {
        nn_node_t *n = &m->nodes[i];
        n->dy_fresh = n->dy && n->op != OP_FLATTEN && !n->inplace;
    }
    st = nn_loss_and_grad(m, labels, 1, res);
    if (st)
        return st;
    if (labels) /* the loss wrote every row of the last node's gradient */
        nn_dy_owner(m, &m->nodes[m->n_nodes - 1])->dy_fresh = 0;
    memset(m->grads, 0, m->n_params * sizeof(float));
    m->bn_status = CGALR_OK;
    for (int i = m->n_nodes - 1; i >= 1; i--)
        if (m->nodes[i].needs_grad)
            nn_backward_node(m, &m->nodes[i]);
    return m->bn_status; /* a synchronised batch norm's sum that failed in the backward */
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
                              cgalr_model_kind_name(m->cfg.kind), list);
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

/* The one entry of every batch call: train and eval fill res; capture runs the forward pass up to
 * the layers of spec and writes their pooled activations into out. */
static cgalr_status_t run_batch(cgalr_model_t *m, batch_ref_t b, run_mode_t mode, cgalr_step_result_t *res,
                                const char *spec, float *out)
{
    int train = mode == RUN_TRAIN, upto, idx[MAX_PROBE_LAYERS];
    size_t count = 0, width = 0;
    cgalr_status_t st = b.graphs ? check_graphs(m, b.gb, train) : check_images(m, b.img, train);
    if (st)
        return st;
    upto = m->n_nodes - 1;
    if (mode == RUN_CAPTURE) {
        if (!out)
            return cgalr_fail(CGALR_EINVAL, "capture: out is NULL");
        if ((st = parse_spec(m, spec, idx, &count, &width)))
            return st;
        upto = 0;
        for (size_t k = 0; k < count; k++)
            upto = idx[k] > upto ? idx[k] : upto;
    }
    if ((st = setup_batch(m, &b, train, upto)))
        return st;
    if (mode != RUN_CAPTURE)
        return step_batch(m, b.graphs ? b.gb->labels : b.img->labels, train, res);
    if ((st = run_forward(m, upto)))
        return st;
    extract(m, idx, count, width, NULL, m->nodes[idx[0]].rows, out);
    return CGALR_OK;
}
cgalr_status_t cgalr_model_train_images(cgalr_model_t *m, const cgalr_image_batch_t *b, cgalr_step_result_t *res)
{
    return run_batch(m, of_images(b), RUN_TRAIN, res, NULL, NULL);
}

cgalr_status_t cgalr_model_train_graphs(cgalr_model_t *m, const cgalr_graph_batch_t *b, cgalr_step_result_t *res)
{
    return run_batch(m, of_graphs(b), RUN_TRAIN, res, NULL, NULL);
}

cgalr_status_t cgalr_model_eval_images(cgalr_model_t *m, const cgalr_image_batch_t *b, cgalr_step_result_t *res)
{
    return run_batch(m, of_images(b), RUN_EVAL, res, NULL, NULL);
}

cgalr_status_t cgalr_model_eval_graphs(cgalr_model_t *m, const cgalr_graph_batch_t *b, cgalr_step_result_t *res)
{
    return run_batch(m, of_graphs(b), RUN_EVAL, res, NULL, NULL);
}

cgalr_status_t cgalr_model_capture_images(cgalr_model_t *m, const char *spec, const cgalr_image_batch_t *b, float *out)
{
    return run_batch(m, of_images(b), RUN_CAPTURE, NULL, spec, out);
}

cgalr_status_t cgalr_model_capture_graphs(cgalr_model_t *m, const char *spec, const cgalr_graph_batch_t *b, float *out)
{
    return run_batch(m, of_graphs(b), RUN_CAPTURE, NULL, spec, out);
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
