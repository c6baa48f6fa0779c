/* Runs one node's forward or backward: the dispatch to the kernels of each op family (conv.c,
 * conv_direct.c, wino.c, linear.c, batchnorm.c, pooling.c, elementwise.c, graph_ops.c), the
 * gradient buffers' store-or-add bookkeeping, and what the kernels share: the BLAS thread policy
 * and the parallel ranges. Backward passes accumulate (+=) into input gradients and parameter
 * gradients so that nodes feeding several consumers (residual branches, GIN readouts) need no
 * special handling. */
#include <cblas.h>
#include <string.h>

#include "nn/nn_internal.h"
#include "nn/nn_ops.h"

/* OpenBLAS's thread count is process-wide; remember what was set to skip redundant calls. */
static int blas_threads_now = -1;

void nn_blas_threads(int t)
{
    if (t != blas_threads_now) {
        openblas_set_num_threads(t);
        blas_threads_now = t;
    }
}

const char *cgalr_nn_blas_core(void)
{
    const char *c = openblas_get_corename();
    return c && c[0] ? c : "unknown";
}

/* Row-major sgemm. Measured here: OpenBLAS's threads slow small products down (the GIN epoch
 * took 2.4x longer at 2 threads), so products under 2^24 multiply-adds run on one thread. */
void nn_gemm(const struct cgalr_model *m, CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, size_t M, size_t N, size_t K,
             const float *A, size_t lda, const float *B, size_t ldb, float beta, float *C, size_t ldc)
{
    int t = m->cfg.threads;
    if (t > 1 && (double)M * (double)N * (double)K < 16777216.0)
        t = 1;
    nn_blas_threads(t);
    cblas_sgemm(CblasRowMajor, ta, tb, (int)M, (int)N, (int)K, 1.0f, A, (int)lda, B, (int)ldb, beta, C, (int)ldc);
}

/* Elementwise work split into contiguous ranges over the pool threads (each element's arithmetic
 * is the same at any thread count); small tensors run inline. */
typedef void (*nn_range_fn)(void *ctx, size_t lo, size_t hi);
typedef struct par_job {
    nn_range_fn fn;
    void *ctx;
    size_t n;
    int T;
} par_job_t;

static void par_job(void *ctx, int tid)
{
    par_job_t *j = ctx;
    j->fn(j->ctx, j->n * (size_t)tid / (size_t)j->T, j->n * (size_t)(tid + 1) / (size_t)j->T);
}

void nn_par_for(struct cgalr_model *m, size_t n, size_t grain, nn_range_fn fn, void *ctx)
{
    int T = nn_pool_threads(m->pool);
    if (T > 1 && n * grain >= ((size_t)1 << 16)) {
        par_job_t j = {fn, ctx, n, T};
        nn_pool_run(m->pool, par_job, &j);
    } else {
        fn(ctx, 0, n);
    }
}

/* ---- the op table: one row per op, its name, forward, backward and which input gradients its
 * backward can store rather than add (bits 1: input 0, 2: input 1; see dy_take) ---------------- */

typedef struct nn_op_desc {
    const char *name;
    cgalr_status_t (*forward)(struct cgalr_model *m, nn_node_t *n); /* NULL: an alias, nothing runs */
    void (*backward)(struct cgalr_model *m, nn_node_t *n);
    int (*stores)(const struct cgalr_model *m, const nn_node_t *n); /* NULL: adds into both */
} nn_op_desc_t;

#define NN_FORWARD(op)                                                                                          \
    static cgalr_status_t fw_##op(struct cgalr_model *m, nn_node_t *n)                                         \
    {                                                                                                           \
        nn_##op##_forward(m, n);                                                                                \
        return CGALR_OK;                                                                                        \
    }
NN_FORWARD(linear)
NN_FORWARD(conv)
NN_FORWARD(relu)
NN_FORWARD(lrelu)
NN_FORWARD(gap)
NN_FORWARD(dropout)
NN_FORWARD(add)
NN_FORWARD(shortcut_a)
NN_FORWARD(gin_agg)
NN_FORWARD(graph_sum)
#undef NN_FORWARD

static cgalr_status_t fw_maxpool(struct cgalr_model *m, nn_node_t *n)
{
    nn_pool_forward(m, n, 1);
    return CGALR_OK;
}

static cgalr_status_t fw_avgpool(struct cgalr_model *m, nn_node_t *n)
{
    nn_pool_forward(m, n, 0);
    return CGALR_OK;
}

static void bw_maxpool(struct cgalr_model *m, nn_node_t *n)
{
    nn_pool_backward(m, n, 1);
}

static void bw_avgpool(struct cgalr_model *m, nn_node_t *n)
{
    nn_pool_backward(m, n, 0);
}

static int stores_linear(const struct cgalr_model *m, const nn_node_t *n)
{
    (void)m;
    (void)n;
    return 1;
}

/* Winograd or direct input gradient (whole planes), or the transposed convolution through
 * im2col; not the col2im scatter */
static int stores_conv(const struct cgalr_model *m, const nn_node_t *n)
{
    (void)m;
    return n->conv.dx != CONV_DX_COL2IM;
}

static int stores_bn(const struct cgalr_model *m, const nn_node_t *n)
{
    (void)m;
    return n->h * n->w > 1; /* BatchNorm2d */
}

static int stores_add(const struct cgalr_model *m, const nn_node_t *n)
{
    (void)m;
    (void)n;
    return 3;
}

static const nn_op_desc_t op_table[] = {
    [OP_INPUT] = {"input", NULL, NULL, NULL},
    [OP_FLATTEN] = {"flatten", NULL, NULL, NULL}, /* aliases its input's buffers */
    [OP_LINEAR] = {"linear", fw_linear, nn_linear_backward, stores_linear},
    [OP_CONV] = {"conv", fw_conv, nn_conv_backward, stores_conv},
    [OP_BN] = {"batchnorm", nn_bn_forward, nn_bn_backward, stores_bn},
    [OP_RELU] = {"relu", fw_relu, nn_relu_backward, NULL},
    [OP_LRELU] = {"leaky_relu", fw_lrelu, nn_lrelu_backward, NULL},
    [OP_MAXPOOL] = {"maxpool", fw_maxpool, bw_maxpool, NULL},
    [OP_AVGPOOL] = {"avgpool", fw_avgpool, bw_avgpool, NULL},
    [OP_GAP] = {"global_avgpool", fw_gap, nn_gap_backward, NULL},
    [OP_DROPOUT] = {"dropout", fw_dropout, nn_dropout_backward, NULL},
    [OP_ADD] = {"add", fw_add, nn_add_backward, stores_add},
    [OP_SHORTCUT_A] = {"shortcut_a", fw_shortcut_a, nn_shortcut_a_backward, NULL},
    [OP_GIN_AGG] = {"gin_agg", fw_gin_agg, nn_gin_agg_backward, NULL},
    [OP_GRAPH_SUM] = {"graph_sum", fw_graph_sum, nn_graph_sum_backward, NULL},
};
_Static_assert(sizeof op_table / sizeof op_table[0] == OP_COUNT, "the op table has one row per op");

const char *nn_op_name(int op)
{
    return op >= 0 && op < OP_COUNT ? op_table[op].name : "?";
}

cgalr_status_t nn_forward_node(struct cgalr_model *m, nn_node_t *n)
{
    const nn_op_desc_t *d = &op_table[n->op];
    return d->forward ? d->forward(m, n) : CGALR_OK;
}

nn_node_t *nn_dy_owner(const struct cgalr_model *m, const nn_node_t *n)
{
    int i = (int)(n - m->nodes);
    while (m->nodes[i].op == OP_FLATTEN || m->nodes[i].inplace)
        i = m->nodes[i].in0;
    return &m->nodes[i];
}

static void zero_range(void *ctx, size_t lo, size_t hi)
{
    memset((float *)ctx + lo, 0, (hi - lo) * sizeof(float));
}

/* Readies the gradient buffer of x for a writer: returns 1 when the writer may store (the buffer
 * holds nothing of this step yet and the writer can store), else zeroes a fresh buffer and
 * returns 0 (add into it). */
static int dy_take(struct cgalr_model *m, nn_node_t *x, int can_store)
{
    nn_node_t *o = nn_dy_owner(m, x);
    if (!o->dy_fresh)
        return 0;
    o->dy_fresh = 0;
    if (can_store)
        return 1;
    nn_par_for(m, o->rows * nn_rowsize(o), 1, zero_range, o->dy);
    return 0;
}

void nn_backward_node(struct cgalr_model *m, nn_node_t *n)
{
    nn_node_t *in = n->in0 >= 0 ? &m->nodes[n->in0] : NULL;
    nn_node_t *own = nn_dy_owner(m, n);
    if (own->dy_fresh) { /* no consumer wrote this node's gradient: it is zero */
        own->dy_fresh = 0;
        nn_par_for(m, own->rows * nn_rowsize(own), 1, zero_range, own->dy);
    }
    const nn_op_desc_t *d = &op_table[n->op];
    /* the ops whose backward can store into an input's gradient write the whole buffer, every
     * element once */
    int st = d->stores ? d->stores(m, n) : 0;
    m->ow0 = in && in->needs_grad && in->dy ? dy_take(m, in, st & 1) : 0;
    m->ow1 = n->in1 >= 0 && m->nodes[n->in1].needs_grad && m->nodes[n->in1].dy ? dy_take(m, &m->nodes[n->in1], (st & 2) != 0) : 0;
    if (d->backward)
        d->backward(m, n);
}
