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

cgalr_status_t nn_forward_node(struct cgalr_model *m, nn_node_t *n)
{
    switch (n->op) {
    case OP_INPUT:
    case OP_FLATTEN:
        break;
    case OP_LINEAR:
        nn_linear_forward(m, n);
        break;
    case OP_CONV:
        nn_conv_forward(m, n);
        break;
    case OP_BN:
        return nn_bn_forward(m, n);
    case OP_RELU:
        nn_relu_forward(m, n);
        break;
    case OP_LRELU:
        nn_lrelu_forward(m, n);
        break;
    case OP_MAXPOOL:
        nn_pool_forward(m, n, 1);
        break;
    case OP_AVGPOOL:
        nn_pool_forward(m, n, 0);
        break;
    case OP_GAP:
        nn_gap_forward(m, n);
        break;
    case OP_DROPOUT:
        nn_dropout_forward(m, n);
        break;
    case OP_ADD:
        nn_add_forward(m, n);
        break;
    case OP_SHORTCUT_A:
        nn_shortcut_a_forward(m, n);
        break;
    case OP_GIN_AGG:
        nn_gin_agg_forward(m, n);
        break;
    case OP_GRAPH_SUM:
        nn_graph_sum_forward(m, n);
        break;
    }
    return CGALR_OK;
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

/* Ops whose backward can store into the gradient of input 0 (1) and input 1 (2): the whole
 * buffer, every element written once. */
static int stores_dx(struct cgalr_model *m, const nn_node_t *n)
{
    const nn_node_t *in = &m->nodes[n->in0];
    switch (n->op) {
    case OP_LINEAR:
        return 1;
    case OP_CONV:
        /* Winograd or direct input gradient (whole planes), or the transposed convolution
         * through im2col; not the col2im scatter */
        return nn_conv_wino(in->c, n->c, n->k, n->stride, n->pad) || nn_conv_direct(in->c, n->k, n->stride, n->pad) ||
               nn_conv_tconv(n->k, n->stride, n->pad);
    case OP_BN:
        return n->h * n->w > 1; /* BatchNorm2d */
    case OP_ADD:
        return 3;
    default:
        return 0;
    }
}

void nn_backward_node(struct cgalr_model *m, nn_node_t *n)
{
    nn_node_t *in = n->in0 >= 0 ? &m->nodes[n->in0] : NULL;
    nn_node_t *own = nn_dy_owner(m, n);
    if (own->dy_fresh) { /* no consumer wrote this node's gradient: it is zero */
        own->dy_fresh = 0;
        nn_par_for(m, own->rows * nn_rowsize(own), 1, zero_range, own->dy);
    }
    int st = stores_dx(m, n);
    m->ow0 = in && in->needs_grad && in->dy ? dy_take(m, in, st & 1) : 0;
    m->ow1 = n->in1 >= 0 && m->nodes[n->in1].needs_grad && m->nodes[n->in1].dy ? dy_take(m, &m->nodes[n->in1], (st & 2) != 0) : 0;
    switch (n->op) {
    case OP_INPUT:
    case OP_FLATTEN: /* aliases its input's buffers */
        break;
    case OP_LINEAR:
        nn_linear_backward(m, n);
        break;
    case OP_CONV:
        nn_conv_backward(m, n);
        break;
    case OP_BN:
        nn_bn_backward(m, n);
        break;
    case OP_RELU:
        nn_relu_backward(m, n);
        break;
    case OP_LRELU:
        nn_lrelu_backward(m, n);
        break;
    case OP_MAXPOOL:
        nn_pool_backward(m, n, 1);
        break;
    case OP_AVGPOOL:
        nn_pool_backward(m, n, 0);
        break;
    case OP_GAP:
        nn_gap_backward(m, n);
        break;
    case OP_DROPOUT:
        nn_dropout_backward(m, n);
        break;
    case OP_ADD:
        nn_add_backward(m, n);
        break;
    case OP_SHORTCUT_A:
        nn_shortcut_a_backward(m, n);
        break;
    case OP_GIN_AGG:
        nn_gin_agg_backward(m, n);
        break;
    case OP_GRAPH_SUM:
        nn_graph_sum_backward(m, n);
        break;
    }
}
