/* Between the kernel files of the nn layer: the forward and backward of each op, which the
 * dispatcher (ops.c) calls, and what several kernel files share. One op's forward and backward
 * live in the file of its family (ARCHITECTURE.md). Forwards read their inputs' y and write their
 * own y; backwards add into their inputs' dy (or store, where m->ow0 / m->ow1 say so) and into the
 * gradient block. */
#ifndef CGALR_NN_OPS_H
#define CGALR_NN_OPS_H

#include <cblas.h>

#include "nn/nn_internal.h"

/* ops.c: row-major sgemm with the engine's BLAS thread policy (small products on one thread). */
void nn_gemm(const struct cgalr_model *m, CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, size_t M, size_t N, size_t K,
             const float *A, size_t lda, const float *B, size_t ldb, float beta, float *C, size_t ldc);

/* Reductions with 8 independent partial sums: vectorisable without -ffast-math, and a little
 * more accurate than one running sum. */
static inline double nn_sum8(const float *restrict x, size_t n)
{
    float acc[8] = {0};
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; k++)
            acc[k] += x[i + k];
    double s = 0.0;
    for (; i < n; i++)
        s += x[i];
    for (int k = 0; k < 8; k++)
        s += acc[k];
    return s;
}

/* conv.c: OP_CONV (Winograd, direct or im2col + GEMM per layer, chunks of samples per thread). */
void nn_conv_forward(struct cgalr_model *m, nn_node_t *n);
void nn_conv_backward(struct cgalr_model *m, nn_node_t *n);

/* conv_direct.c: one sample's direct convolutions. nn_pack_rows16 packs A (M x K) into 16-row
 * blocks (ap); nn_direct_conv: y (M x h*w) = A conv x (c x h x w), stride 1 pad p [+ bias], or +=
 * with accum; nn_direct_conv_dw: dW (M x c*k*k) += dy correlated with x, used on maps of at least
 * DW_MIN_HW positions (measured, see there); nn_s2_conv, nn_s2_conv_dw: the same for 3x3 stride-2
 * pad-1 convolutions of even maps. */
enum { DW_MIN_HW = 1024 };
void nn_pack_rows16(const float *A, size_t M, size_t K, float *ap);
void nn_direct_conv(const float *ap, size_t M, const float *x, size_t c, size_t h, size_t w, int k, int p,
                    float *y, const float *bias, int accum, float *scratch);
void nn_direct_conv_dw(const float *dy, size_t M, const float *x, size_t c, size_t h, size_t w, int k, int p,
                       float *dW, float *scratch);
void nn_s2_conv(const float *ap, size_t M, const float *x, size_t c, size_t h, size_t w, float *y,
                const float *bias, float *scratch);
void nn_s2_conv_dw(const float *dy, size_t M, const float *x, size_t c, size_t h, size_t w, float *dW,
                   float *scratch);

/* linear.c: OP_LINEAR. */
void nn_linear_forward(struct cgalr_model *m, nn_node_t *n);
void nn_linear_backward(struct cgalr_model *m, nn_node_t *n);

/* batchnorm.c: OP_BN; nn_bn_fused: whether a BN (or an ADD) applies the in-place ReLU it feeds. */
cgalr_status_t nn_bn_forward(struct cgalr_model *m, nn_node_t *n);
void nn_bn_backward(struct cgalr_model *m, nn_node_t *n);
int nn_bn_fused(const struct cgalr_model *m, const nn_node_t *bn);

/* pooling.c: OP_MAXPOOL (is_max) and OP_AVGPOOL, OP_GAP. */
void nn_pool_forward(struct cgalr_model *m, nn_node_t *n, int is_max);
void nn_pool_backward(struct cgalr_model *m, nn_node_t *n, int is_max);
void nn_gap_forward(struct cgalr_model *m, nn_node_t *n);
void nn_gap_backward(struct cgalr_model *m, nn_node_t *n);

/* elementwise.c: OP_RELU, OP_LRELU, OP_DROPOUT, OP_ADD, OP_SHORTCUT_A. */
void nn_relu_forward(struct cgalr_model *m, nn_node_t *n);
void nn_relu_backward(struct cgalr_model *m, nn_node_t *n);
void nn_lrelu_forward(struct cgalr_model *m, nn_node_t *n);
void nn_lrelu_backward(struct cgalr_model *m, nn_node_t *n);
void nn_dropout_forward(struct cgalr_model *m, nn_node_t *n);
void nn_dropout_backward(struct cgalr_model *m, nn_node_t *n);
void nn_add_forward(struct cgalr_model *m, nn_node_t *n);
void nn_add_backward(struct cgalr_model *m, nn_node_t *n);
void nn_shortcut_a_forward(struct cgalr_model *m, nn_node_t *n);
void nn_shortcut_a_backward(struct cgalr_model *m, nn_node_t *n);

/* graph_ops.c: OP_GIN_AGG, OP_GRAPH_SUM. */
void nn_gin_agg_forward(struct cgalr_model *m, nn_node_t *n);
void nn_gin_agg_backward(struct cgalr_model *m, nn_node_t *n);
void nn_graph_sum_forward(struct cgalr_model *m, nn_node_t *n);
void nn_graph_sum_backward(struct cgalr_model *m, nn_node_t *n);

#endif
