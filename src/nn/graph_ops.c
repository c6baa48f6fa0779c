/* Graph ops of the GIN: neighbourhood aggregation (1 + eps) x_v + sum of neighbours over the
 * batch's CSR adjacency (OP_GIN_AGG) and the node-to-graph sum readout (OP_GRAPH_SUM). */
#include <string.h>

#include "nn/nn_internal.h"
#include "nn/nn_ops.h"

void nn_gin_agg_forward(struct cgalr_model *m, nn_node_t *n)
{
    const nn_node_t *in = &m->nodes[n->in0];
    const cgalr_graph_batch_t *gb = m->gb;
    size_t d = n->c;
    float eps = n->w_off != NN_NONE ? m->params[n->w_off] : n->eps;
    float a = 1.0f + eps;
    for (size_t v = 0; v < n->rows; v++) {
        const float *xv = in->y + v * d;
        float *y = n->y + v * d;
        for (size_t j = 0; j < d; j++)
            y[j] = a * xv[j];
        for (int32_t e = gb->row_ptr[v]; e < gb->row_ptr[v + 1]; e++) {
            const float *xu = in->y + (size_t)gb->col[e] * d;
            for (size_t j = 0; j < d; j++)
                y[j] += xu[j];
        }
    }
}

void nn_gin_agg_backward(struct cgalr_model *m, nn_node_t *n)
{
    nn_node_t *in = &m->nodes[n->in0];
    const cgalr_graph_batch_t *gb = m->gb;
    size_t d = n->c;
    float eps = n->w_off != NN_NONE ? m->params[n->w_off] : n->eps;
    float a = 1.0f + eps;
    if (n->w_off != NN_NONE) {
        double acc = 0.0;
        for (size_t q = 0; q < n->rows * d; q++)
            acc += (double)n->dy[q] * in->y[q];
        m->grads[n->w_off] += (float)acc;
    }
    if (!in->needs_grad)
        return;
    /* the adjacency is symmetric, so the transpose of the sum is the same sum */
    for (size_t v = 0; v < n->rows; v++) {
        float *dx = in->dy + v * d;
        const float *dyv = n->dy + v * d;
        for (size_t j = 0; j < d; j++)
            dx[j] += a * dyv[j];
        for (int32_t e = gb->row_ptr[v]; e < gb->row_ptr[v + 1]; e++) {
            const float *dyu = n->dy + (size_t)gb->col[e] * d;
            for (size_t j = 0; j < d; j++)
                dx[j] += dyu[j];
        }
    }
}

void nn_graph_sum_forward(struct cgalr_model *m, nn_node_t *n)
{
    const nn_node_t *in = &m->nodes[n->in0];
    size_t d = n->c;
    memset(n->y, 0, n->rows * nn_rowsize(n) * sizeof(float));
    for (size_t v = 0; v < in->rows; v++) {
        float *y = n->y + (size_t)m->gb->graph_of_node[v] * d;
        const float *x = in->y + v * d;
        for (size_t j = 0; j < d; j++)
            y[j] += x[j];
    }
}

void nn_graph_sum_backward(struct cgalr_model *m, nn_node_t *n)
{
    nn_node_t *in = &m->nodes[n->in0];
    if (in->needs_grad) {
        size_t d = n->c;
        for (size_t v = 0; v < in->rows; v++) {
            const float *dy = n->dy + (size_t)m->gb->graph_of_node[v] * d;
            float *dx = in->dy + v * d;
            for (size_t j = 0; j < d; j++)
                dx[j] += dy[j];
        }
    }
}
