/* The activation arena of a model: every node's output, gradient and scratch buffers carved
 * afresh for each batch shape, gradient buffers sharing memory where their lifetimes do not meet,
 * the convolutions' per-thread workspaces, and the in-place ReLUs that save a buffer each. */
#include <stdlib.h>

#include "nn/nn_internal.h"

/* A ReLU may overwrite its input when nothing else reads that input: the input has no other
 * consumer, is not a probe, and its own backward needs only ITS inputs (true of every op here
 * but ReLU, LeakyReLU, the input and aliases). Saves one activation and one gradient buffer per
 * conv-BN-ReLU. */
void nn_mark_inplace(cgalr_model_t *m)
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

static cgalr_status_t carve(cgalr_model_t *m, size_t rows_sample, size_t rows_node, int training, int upto,
                            size_t *gsize, size_t *goff, int *glast, int *gorder);

cgalr_status_t nn_arena_prepare(cgalr_model_t *m, size_t rows_sample, size_t rows_node, int training, int upto)
{
    size_t *gs = calloc((size_t)m->n_nodes * 2, sizeof(size_t));
    int *gl = calloc((size_t)m->n_nodes * 2, sizeof(int));
    cgalr_status_t st = gs && gl ? carve(m, rows_sample, rows_node, training, upto, gs, gs + m->n_nodes, gl,
                                         gl + m->n_nodes)
                                 : cgalr_fail(CGALR_ENOMEM, "model %s: out of memory", cgalr_model_kind_name(m->cfg.kind));
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
                : cgalr_fail(CGALR_ENOMEM, "model %s: out of memory for %s", cgalr_model_kind_name(m->cfg.kind), what);
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
            size_t sz = n->rows * nn_rowsize(n) * sizeof(float);
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
                off += align64(n->rows * nn_rowsize(n) * sizeof(int32_t));
            }
            if (n->op == OP_CONV && pass == 0) {
                const nn_node_t *a = &m->nodes[n->in0];
                size_t kk = a->c * (size_t)n->k * (size_t)n->k;
                nn_conv_plan(m, n, T); /* the kernels, chosen once for this shape */
                const nn_conv_plan_t *pl = &n->conv;
                size_t S = pl->samples;
                int wf = pl->fwd == CONV_FWD_WINO;
                int wb = pl->dx == CONV_DX_WINO || pl->dx == CONV_DX_DIRECT;
                /* im2col scratch, unless Winograd and direct kernels do every product of the layer;
                 * any input gradient but the column scatter is a stride-1 "same" one, sized as the
                 * transposed convolution it would be */
                size_t need = wf && (!training || !a->needs_grad || wb)
                                  ? 0
                                  : nn_conv_work(kk, n->k, n->h * n->w, n->c, S, training,
                                                 pl->dx != CONV_DX_COL2IM);
                if (training && n->c * kk > wt)
                    wt = n->c * kk;
                if (n->c * kk > apack) /* forward: oc x kk; input gradient: ic x oc*k*k, as many */
                    apack = n->c * kk;
                if (pl->fwd == CONV_FWD_DIRECT || pl->fwd == CONV_FWD_WINO) {
                    size_t d = nn_direct_work(a->c, a->h, a->w, n->k, n->pad);
                    dwork = d > dwork ? d : dwork;
                }
                if (pl->fwd == CONV_FWD_S2) {
                    size_t d = nn_s2_work(a->c, n->h, n->w);
                    dwork = d > dwork ? d : dwork;
                }
                if (training && a->needs_grad && (pl->dx == CONV_DX_DIRECT || pl->dx == CONV_DX_WINO)) {
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
                if (training && a->needs_grad && pl->dx == CONV_DX_WINO) {
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
                                      cgalr_model_kind_name(m->cfg.kind), off);
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
