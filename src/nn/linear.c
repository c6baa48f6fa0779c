/* Fully connected layers (OP_LINEAR): y = x W^T + b on OpenBLAS, rows are samples or graph nodes. */
#include <cblas.h>

#include "nn/nn_internal.h"
#include "nn/nn_ops.h"

void nn_linear_forward(struct cgalr_model *m, nn_node_t *n)
{
    const nn_node_t *in = &m->nodes[n->in0];
    size_t k = nn_rowsize(in), o = n->c, r = n->rows;
    const float *W = m->params + n->w_off;
    /* y (r x o) = x (r x k) W^T */
    nn_gemm(m, CblasNoTrans, CblasTrans, r, o, k, in->y, k, W, k, 0.0f, n->y, o);
    if (n->b_off != NN_NONE) {
        const float *b = m->params + n->b_off;
        for (size_t i = 0; i < r; i++)
            for (size_t j = 0; j < o; j++)
                n->y[i * o + j] += b[j];
    }
}

void nn_linear_backward(struct cgalr_model *m, nn_node_t *n)
{
    nn_node_t *in = &m->nodes[n->in0];
    size_t k = nn_rowsize(in), o = n->c, r = n->rows;
    const float *W = m->params + n->w_off;
    float *dW = m->grads + n->w_off;
    if (r == 0)
        return;
    nn_gemm(m, CblasTrans, CblasNoTrans, o, k, r, n->dy, o, in->y, k, 1.0f, dW, k);
    if (n->b_off != NN_NONE) {
        float *db = m->grads + n->b_off;
        for (size_t i = 0; i < r; i++)
            for (size_t j = 0; j < o; j++)
                db[j] += n->dy[i * o + j];
    }
    if (in->needs_grad)
        nn_gemm(m, CblasNoTrans, CblasNoTrans, r, k, o, n->dy, o, W, k, m->ow0 ? 0.0f : 1.0f, in->dy, k);
}
