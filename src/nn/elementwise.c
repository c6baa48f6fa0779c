/* Elementwise ops: ReLU, leaky ReLU, dropout, ADD (with its fused ReLU), and the ResNet option-A
 * shortcut (a stride-2 copy into zero-padded channels). */
#include <string.h>

#include "nn/nn_internal.h"
#include "nn/nn_ops.h"

typedef struct ew_ctx {
    const float *a, *b, *y;
    float *out, *out2;
    int store, store2; /* ADD backward: store into out / out2 instead of adding */
} ew_ctx_t;

static void relu_range(void *ctx, size_t lo, size_t hi)
{
    ew_ctx_t *c = ctx;
    const float *x = c->a;
    float *y = c->out;
    /* x > 0 ? x : 0, except that NaN passes through like torch.relu (x and y may be one buffer) */
    for (size_t q = lo; q < hi; q++)
        y[q] = (x[q] > 0.0f || x[q] != x[q]) ? x[q] : 0.0f;
}

static void relu_back_range(void *ctx, size_t lo, size_t hi)
{
    ew_ctx_t *c = ctx;
    const float *y = c->y, *dy = c->a;
    float *dx = c->out;
    if (dx == dy) /* in place: dy is also the input's gradient, written by nobody else */
        for (size_t q = lo; q < hi; q++)
            dx[q] = y[q] > 0.0f ? dy[q] : 0.0f;
    else
        for (size_t q = lo; q < hi; q++)
            dx[q] += y[q] > 0.0f ? dy[q] : 0.0f;
}

static void add_range(void *ctx, size_t lo, size_t hi)
{
    ew_ctx_t *c = ctx;
    const float *restrict a = c->a, *restrict b = c->b;
    float *restrict y = c->out;
    if (c->y) /* fused ReLU */
        for (size_t q = lo; q < hi; q++) {
            float v = a[q] + b[q];
            y[q] = (v > 0.0f || v != v) ? v : 0.0f;
        }
    else
        for (size_t q = lo; q < hi; q++)
            y[q] = a[q] + b[q];
}

/* dx_a += g, dx_b += g with g = dy, or with a fused ReLU g = y > 0 ? dy : 0 (y the ReLU output) */
static void add_back_range(void *ctx, size_t lo, size_t hi)
{
    ew_ctx_t *c = ctx;
    const float *dy = c->a, *y = c->y;
    float *da = c->out, *db = c->out2; /* may be one buffer (an ADD of a node to itself) */
    int sa = c->store, sb = c->store2;
    for (size_t q = lo; q < hi; q++) {
        float g = y ? (y[q] > 0.0f ? dy[q] : 0.0f) : dy[q];
        if (da)
            da[q] = sa ? g : da[q] + g;
        if (db)
            db[q] = sb ? g : db[q] + g;
    }
}

void nn_relu_forward(struct cgalr_model *m, nn_node_t *n)
{
    const nn_node_t *in = &m->nodes[n->in0];
    if (n->inplace && nn_bn_fused(m, in))
        return; /* applied by the BN */
    ew_ctx_t c = {in->y, NULL, NULL, n->y, NULL, 0, 0};
    nn_par_for(m, n->rows * nn_rowsize(n), 1, relu_range, &c);
}

void nn_relu_backward(struct cgalr_model *m, nn_node_t *n)
{
    nn_node_t *in = &m->nodes[n->in0];
    if (n->inplace && nn_bn_fused(m, in))
        return; /* masked by the BN's (or ADD's) backward */
    if (in->needs_grad) {
        ew_ctx_t c = {n->dy, NULL, n->y, in->dy, NULL, 0, 0};
        nn_par_for(m, n->rows * nn_rowsize(n), 1, relu_back_range, &c);
    }
}

void nn_lrelu_forward(struct cgalr_model *m, nn_node_t *n)
{
    const nn_node_t *in = &m->nodes[n->in0];
    size_t total = n->rows * nn_rowsize(n);
    const float *restrict x = in->y;
    float *restrict y = n->y;
    float slope = n->slope;
    for (size_t q = 0; q < total; q++)
        y[q] = x[q] > 0.0f ? x[q] : x[q] * slope;
}

void nn_lrelu_backward(struct cgalr_model *m, nn_node_t *n)
{
    nn_node_t *in = &m->nodes[n->in0];
    size_t total = n->rows * nn_rowsize(n);
    if (in->needs_grad) {
        const float *restrict x = in->y, *restrict dy = n->dy;
        float *restrict dx = in->dy;
        float slope = n->slope;
        for (size_t q = 0; q < total; q++)
            dx[q] += x[q] > 0.0f ? dy[q] : dy[q] * slope;
    }
}

void nn_dropout_forward(struct cgalr_model *m, nn_node_t *n)
{
    const nn_node_t *in = &m->nodes[n->in0];
    size_t total = n->rows * nn_rowsize(n);
    if (m->training && n->p > 0.0f) {
        float keep = 1.0f / (1.0f - n->p);
        for (size_t q = 0; q < total; q++) {
            n->aux[q] = cgalr_rng_uniformf(&m->drop_rng) < n->p ? 0.0f : keep;
            n->y[q] = in->y[q] * n->aux[q];
        }
    } else {
        memcpy(n->y, in->y, total * sizeof(float));
    }
}

void nn_dropout_backward(struct cgalr_model *m, nn_node_t *n)
{
    nn_node_t *in = &m->nodes[n->in0];
    size_t total = n->rows * nn_rowsize(n);
    if (in->needs_grad) {
        if (n->p > 0.0f)
            for (size_t q = 0; q < total; q++)
                in->dy[q] += n->dy[q] * n->aux[q];
        else
            for (size_t q = 0; q < total; q++)
                in->dy[q] += n->dy[q];
    }
}

void nn_add_forward(struct cgalr_model *m, nn_node_t *n)
{
    const nn_node_t *in = &m->nodes[n->in0];
    /* with a fused ReLU, y (the ADD's and the ReLU's buffer) gets relu(a + b) */
    ew_ctx_t c = {in->y, m->nodes[n->in1].y, nn_bn_fused(m, n) ? n->y : NULL, n->y, NULL, 0, 0};
    nn_par_for(m, n->rows * nn_rowsize(n), 1, add_range, &c);
}

void nn_add_backward(struct cgalr_model *m, nn_node_t *n)
{
    nn_node_t *in = &m->nodes[n->in0];
    nn_node_t *b = &m->nodes[n->in1];
    ew_ctx_t c = {n->dy, NULL, nn_bn_fused(m, n) ? n->y : NULL, in->needs_grad ? in->dy : NULL,
                  b->needs_grad ? b->dy : NULL, m->ow0, m->ow1};
    if (c.out || c.out2)
        nn_par_for(m, n->rows * nn_rowsize(n), 1, add_back_range, &c);
}

void nn_shortcut_a_forward(struct cgalr_model *m, nn_node_t *n)
{
    const nn_node_t *in = &m->nodes[n->in0];
    size_t ic = in->c, ih = in->h, iw = in->w;
    memset(n->y, 0, n->rows * nn_rowsize(n) * sizeof(float));
    for (size_t s = 0; s < n->rows; s++)
        for (size_t c = 0; c < ic; c++) {
            const float *x = in->y + (s * ic + c) * ih * iw;
            float *y = n->y + (s * n->c + c + (size_t)n->pad_c) * n->h * n->w;
            for (size_t i = 0; i < n->h; i++)
                for (size_t j = 0; j < n->w; j++)
                    y[i * n->w + j] = x[(2 * i) * iw + 2 * j];
        }
}

void nn_shortcut_a_backward(struct cgalr_model *m, nn_node_t *n)
{
    nn_node_t *in = &m->nodes[n->in0];
    if (in->needs_grad) {
        size_t ic = in->c, ih = in->h, iw = in->w;
        for (size_t s = 0; s < n->rows; s++)
            for (size_t c = 0; c < ic; c++) {
                float *dx = in->dy + (s * ic + c) * ih * iw;
                const float *dy = n->dy + (s * n->c + c + (size_t)n->pad_c) * n->h * n->w;
                for (size_t i = 0; i < n->h; i++)
                    for (size_t j = 0; j < n->w; j++)
                        dx[(2 * i) * iw + 2 * j] += dy[i * n->w + j];
            }
    }
}
