/* Pooling: max and average over k x k windows (OP_MAXPOOL, OP_AVGPOOL; PyTorch's tie and NaN
 * rules) split over planes, and the global average pool (OP_GAP). */
#include <math.h>

#include "nn/nn_internal.h"
#include "nn/nn_ops.h"

/* 2x2 stride-2 max pooling without per-element calls or loops: the four candidates in PyTorch's
 * order (first maximum wins, a NaN is taken) as selects. */
static void maxpool22_forward(const float *x, size_t planes, size_t ih, size_t iw, size_t oh, size_t ow, float *y,
                              int32_t *idx)
{
    for (size_t pl = 0; pl < planes; pl++) {
        const float *xp = x + pl * ih * iw;
        float *yp = y + pl * oh * ow;
        int32_t *ip = idx + pl * oh * ow;
        for (size_t i = 0; i < oh; i++) {
            const float *r0 = xp + 2 * i * iw, *r1 = r0 + iw;
            int32_t q0 = (int32_t)(2 * i * iw);
            for (size_t j = 0; j < ow; j++) {
                float bv = r0[2 * j], v;
                int32_t best = q0 + (int32_t)(2 * j);
                v = r0[2 * j + 1];
                if (v > bv || v != v) {
                    bv = v;
                    best = q0 + (int32_t)(2 * j + 1);
                }
                v = r1[2 * j];
                if (v > bv || v != v) {
                    bv = v;
                    best = q0 + (int32_t)(iw + 2 * j);
                }
                v = r1[2 * j + 1];
                if (v > bv || v != v) {
                    bv = v;
                    best = q0 + (int32_t)(iw + 2 * j + 1);
                }
                yp[i * ow + j] = bv;
                ip[i * ow + j] = best;
            }
        }
    }
}

/* Pooling over planes [pl0, pl1) (planes are independent: split over the pool threads). */
static void pool_forward_range(struct cgalr_model *m, nn_node_t *n, int is_max, size_t pl0, size_t pl1)
{
    const nn_node_t *in = &m->nodes[n->in0];
    size_t ih = in->h, iw = in->w, oh = n->h, ow = n->w;
    int k = n->k, s = n->stride;
    float inv = 1.0f / (float)(k * k);
    if (is_max && k == 2 && s == 2) {
        maxpool22_forward(in->y + pl0 * ih * iw, pl1 - pl0, ih, iw, oh, ow, n->y + pl0 * oh * ow,
                          n->idx + pl0 * oh * ow);
        return;
    }
    for (size_t pl = pl0; pl < pl1; pl++) {
        const float *x = in->y + pl * ih * iw;
        float *y = n->y + pl * oh * ow;
        int32_t *idx = is_max ? n->idx + pl * oh * ow : NULL;
        for (size_t i = 0; i < oh; i++) {
            for (size_t j = 0; j < ow; j++) {
                size_t i0 = i * (size_t)s, j0 = j * (size_t)s;
                if (is_max) {
                    size_t best = i0 * iw + j0;
                    float bv = x[best];
                    for (int a = 0; a < k; a++)
                        for (int b = 0; b < k; b++) {
                            size_t q = (i0 + (size_t)a) * iw + j0 + (size_t)b;
                            /* like PyTorch: first maximum wins, NaN propagates */
                            if (x[q] > bv || isnan(x[q])) {
                                bv = x[q];
                                best = q;
                            }
                        }
                    y[i * ow + j] = bv;
                    idx[i * ow + j] = (int32_t)best;
                } else {
                    float acc = 0.0f;
                    for (int a = 0; a < k; a++)
                        for (int b = 0; b < k; b++)
                            acc += x[(i0 + (size_t)a) * iw + j0 + (size_t)b];
                    y[i * ow + j] = acc * inv;
                }
            }
        }
    }
}

static void pool_backward_range(struct cgalr_model *m, nn_node_t *n, int is_max, size_t pl0, size_t pl1)
{
    nn_node_t *in = &m->nodes[n->in0];
    size_t ih = in->h, iw = in->w, oh = n->h, ow = n->w;
    int k = n->k, s = n->stride;
    float inv = 1.0f / (float)(k * k);
    for (size_t pl = pl0; pl < pl1; pl++) {
        float *dx = in->dy + pl * ih * iw;
        const float *dy = n->dy + pl * oh * ow;
        if (is_max) {
            const int32_t *idx = n->idx + pl * oh * ow;
            for (size_t q = 0; q < oh * ow; q++)
                dx[idx[q]] += dy[q];
        } else {
            for (size_t i = 0; i < oh; i++)
                for (size_t j = 0; j < ow; j++) {
                    float g = dy[i * ow + j] * inv;
                    for (int a = 0; a < k; a++)
                        for (int b = 0; b < k; b++)
                            dx[(i * (size_t)s + (size_t)a) * iw + j * (size_t)s + (size_t)b] += g;
                }
        }
    }
}

typedef struct pool_ctx {
    struct cgalr_model *m;
    nn_node_t *n;
    int is_max, backward;
} pool_ctx_t;

static void pool_range(void *ctx, size_t lo, size_t hi)
{
    pool_ctx_t *c = ctx;
    if (c->backward)
        pool_backward_range(c->m, c->n, c->is_max, lo, hi);
    else
        pool_forward_range(c->m, c->n, c->is_max, lo, hi);
}

void nn_pool_forward(struct cgalr_model *m, nn_node_t *n, int is_max)
{
    const nn_node_t *in = &m->nodes[n->in0];
    pool_ctx_t c = {m, n, is_max, 0};
    nn_par_for(m, n->rows * n->c, in->h * in->w, pool_range, &c);
}

void nn_pool_backward(struct cgalr_model *m, nn_node_t *n, int is_max)
{
    nn_node_t *in = &m->nodes[n->in0];
    if (!in->needs_grad)
        return;
    pool_ctx_t c = {m, n, is_max, 1};
    nn_par_for(m, n->rows * n->c, in->h * in->w, pool_range, &c);
}

void nn_gap_forward(struct cgalr_model *m, nn_node_t *n)
{
    const nn_node_t *in = &m->nodes[n->in0];
    size_t total = n->rows * nn_rowsize(n);
    size_t hw = in->h * in->w;
    for (size_t q = 0; q < total; q++) {
        const float *x = in->y + q * hw;
        float acc = 0.0f;
        for (size_t j = 0; j < hw; j++)
            acc += x[j];
        n->y[q] = acc / (float)hw;
    }
}

void nn_gap_backward(struct cgalr_model *m, nn_node_t *n)
{
    nn_node_t *in = &m->nodes[n->in0];
    size_t total = n->rows * nn_rowsize(n);
    if (in->needs_grad) {
        size_t hw = in->h * in->w;
        for (size_t q = 0; q < total; q++) {
            float g = n->dy[q] / (float)hw;
            float *dx = in->dy + q * hw;
            for (size_t j = 0; j < hw; j++)
                dx[j] += g;
        }
    }
}
