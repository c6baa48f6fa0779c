/* Batch normalisation (OP_BN): BatchNorm2d over channels of NCHW maps, BatchNorm1d over rows of
 * features, training statistics and running estimates as PyTorch keeps them, and the ReLU a
 * BatchNorm2d (or an ADD) can fuse into its own pass. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nn/nn_internal.h"
#include "nn/nn_ops.h"

#include "nn/nn_simd.h"

/* sum (x - mu)^2, with the 8 partial sums of nn_sum8 */
static double sqdev8(const float *restrict x, size_t n, float mu)
{
    float acc[8] = {0};
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; k++) {
            float d = x[i + k] - mu;
            acc[k] += d * d;
        }
    double s = 0.0;
    for (; i < n; i++)
        s += (double)(x[i] - mu) * (x[i] - mu);
    for (int k = 0; k < 8; k++)
        s += acc[k];
    return s;
}

/* sum dy * (x - mu) */
static double dotdev8(const float *restrict dy, const float *restrict x, size_t n, float mu)
{
    float acc[8] = {0};
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; k++)
            acc[k] += dy[i + k] * (x[i + k] - mu);
    double s = 0.0;
    for (; i < n; i++)
        s += (double)dy[i] * (x[i] - mu);
    for (int k = 0; k < 8; k++)
        s += acc[k];
    return s;
}

/* BatchNorm2d's affine map x * a + b; the backward recomputes the fused ReLU's mask with it, so
 * both passes must round alike (one function; no contraction under -std=c11). */
static inline float bn_pre(float x, float a, float b)
{
    return x * a + b;
}

/* With d = dy where x * a + b > 0 (else 0): sum d and sum d * (x - mu), with the partial sums of
 * nn_sum8 and dotdev8 (the same bits as masking dy first and calling them). */
#if defined(__GNUC__) && defined(__x86_64__)
/* The 8 lanes of a1, a2 over the blocks of 8 of [0, n) in AVX2 registers; returns where it
 * stopped. Mul then add (no fused multiply-add), as in the portable loop, so both give one result. */
__attribute__((target("avx2,fma"))) static size_t masked_lanes_avx2(const float *restrict dy,
                                                                    const float *restrict x, size_t n, float a,
                                                                    float b, float mu, float *a1, float *a2)
{
    size_t i = 0;
    __m256 va = _mm256_set1_ps(a), vb = _mm256_set1_ps(b), vm = _mm256_set1_ps(mu), z = _mm256_setzero_ps();
    __m256 s1v = z, s2v = z;
    for (; i + 8 <= n; i += 8) {
        __m256 xv = _mm256_loadu_ps(x + i);
        __m256 v = _mm256_add_ps(_mm256_mul_ps(xv, va), vb);
        __m256 d = _mm256_and_ps(_mm256_cmp_ps(v, z, _CMP_GT_OQ), _mm256_loadu_ps(dy + i));
        s1v = _mm256_add_ps(s1v, d);
        s2v = _mm256_add_ps(s2v, _mm256_mul_ps(d, _mm256_sub_ps(xv, vm)));
    }
    _mm256_storeu_ps(a1, s1v);
    _mm256_storeu_ps(a2, s2v);
    return i;
}
#endif

static void masked_sums8(const float *restrict dy, const float *restrict x, size_t n, float a, float b, float mu,
                         double *sdy, double *sdyx)
{
    float a1[8] = {0}, a2[8] = {0};
    size_t i = 0;
#if defined(__GNUC__) && defined(__x86_64__)
    if (nn_isa() >= NN_ISA_AVX2)
        i = masked_lanes_avx2(dy, x, n, a, b, mu, a1, a2);
#endif
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; k++) {
            float d = bn_pre(x[i + k], a, b) > 0.0f ? dy[i + k] : 0.0f;
            a1[k] += d;
            a2[k] += d * (x[i + k] - mu);
        }
    double s1 = 0.0, s2 = 0.0;
    for (; i < n; i++) {
        float d = bn_pre(x[i], a, b) > 0.0f ? dy[i] : 0.0f;
        s1 += d;
        s2 += (double)d * (x[i] - mu);
    }
    for (int k = 0; k < 8; k++) {
        s1 += a1[k];
        s2 += a2[k];
    }
    *sdy = s1;
    *sdyx = s2;
}

/* A BatchNorm2d that feeds an in-place ReLU applies the ReLU in its own output pass, and its
 * backward masks the gradient by that output; the ReLU node then does nothing. (Only when the
 * ReLU is part of the forward pass being run, so a forward stopped at the BN is unchanged.) */
int nn_bn_fused(const struct cgalr_model *m, const nn_node_t *bn)
{
    if (bn->fuse_relu <= 0 || bn->fuse_relu > m->fwd_upto)
        return 0;
    return (bn->op == OP_BN && bn->h * bn->w > 1) || bn->op == OP_ADD; /* an ADD fuses the same way */
}

#define BN_EPS 1e-5
#define BN_MOMENTUM 0.1

/* BatchNorm1d (one value per channel and row): channels are contiguous, so every pass runs along
 * a row over all channels at once instead of striding down a column per channel. */
static cgalr_status_t bn1d_forward(struct cgalr_model *m, nn_node_t *n)
{
    const nn_node_t *in = &m->nodes[n->in0];
    size_t C = n->c, r = n->rows;
    const float *g = m->params + n->w_off, *b = m->params + n->b_off;
    float *rm = m->buffers + n->buf_off, *rv = rm + C;
    float *a = n->aux, *bb = n->aux + C; /* training: mean and invstd; reused below as scale/shift */
    /* aux holds 8C floats: mean, invstd | scale, shift | 2C doubles of sums */
    float *scale = n->aux + 2 * C, *shift = n->aux + 3 * C;
    double *acc = (double *)(void *)(n->aux + 4 * C);
    memset(acc, 0, 2 * C * sizeof(double));
    if (m->training) {
        double *s = acc, *ss = acc + C;
        for (size_t i = 0; i < r; i++) {
            const float *restrict x = in->y + i * C;
            for (size_t c = 0; c < C; c++)
                s[c] += x[c];
        }
        for (size_t c = 0; c < C; c++)
            a[c] = (float)(s[c] / (double)r);
        for (size_t i = 0; i < r; i++) {
            const float *restrict x = in->y + i * C;
            for (size_t c = 0; c < C; c++) {
                float d = x[c] - a[c];
                ss[c] += (double)(d * d);
            }
        }
        for (size_t c = 0; c < C; c++) {
            double var = ss[c] / (double)r;
            bb[c] = (float)(1.0 / sqrt(var + BN_EPS));
            rm[c] = (float)((1.0 - BN_MOMENTUM) * rm[c] + BN_MOMENTUM * (s[c] / (double)r));
            rv[c] = (float)((1.0 - BN_MOMENTUM) * rv[c] + BN_MOMENTUM * ss[c] / (double)(r - 1));
            scale[c] = g[c] * bb[c];
            shift[c] = b[c] - a[c] * scale[c];
        }
    } else {
        for (size_t c = 0; c < C; c++) {
            float invstd = (float)(1.0 / sqrt((double)rv[c] + BN_EPS));
            scale[c] = g[c] * invstd;
            shift[c] = b[c] - rm[c] * scale[c];
        }
    }
    for (size_t i = 0; i < r; i++) {
        const float *restrict x = in->y + i * C;
        float *restrict y = n->y + i * C;
        for (size_t c = 0; c < C; c++)
            y[c] = x[c] * scale[c] + shift[c];
    }
    return CGALR_OK;
}

static void bn1d_backward(struct cgalr_model *m, nn_node_t *n)
{
    nn_node_t *in = &m->nodes[n->in0];
    size_t C = n->c, r = n->rows;
    const float *g = m->params + n->w_off;
    float *dg = m->grads + n->w_off, *db = m->grads + n->b_off;
    const float *mean = n->aux, *invstd = n->aux + C;
    float *buf = n->aux + 2 * C; /* scratch: 5C of the 8C aux floats */
    memset(buf, 0, 2 * C * sizeof(float));
    float *sdy = buf, *sdyx = buf + C, *k = buf + 2 * C, *mdy = buf + 3 * C, *mdyx = buf + 4 * C;
    for (size_t i = 0; i < r; i++) {
        const float *restrict x = in->y + i * C, *restrict dy = n->dy + i * C;
        for (size_t c = 0; c < C; c++) {
            sdy[c] += dy[c];
            sdyx[c] += dy[c] * (x[c] - mean[c]);
        }
    }
    for (size_t c = 0; c < C; c++) {
        sdyx[c] *= invstd[c];
        dg[c] += sdyx[c];
        db[c] += sdy[c];
        k[c] = g[c] * invstd[c];
        mdy[c] = sdy[c] / (float)r;
        mdyx[c] = sdyx[c] / (float)r;
    }
    if (in->needs_grad)
        for (size_t i = 0; i < r; i++) {
            const float *restrict x = in->y + i * C, *restrict dy = n->dy + i * C;
            float *restrict dx = in->dy + i * C;
            for (size_t c = 0; c < C; c++) {
                float xh = (x[c] - mean[c]) * invstd[c];
                dx[c] += k[c] * (dy[c] - mdy[c] - xh * mdyx[c]);
            }
        }
}

/* BatchNorm2d over channels [c0, c1): every channel's statistics and outputs depend on that
 * channel alone, so splitting channels between threads gives the same bits as one thread. */
static void bn_forward_range(struct cgalr_model *m, nn_node_t *n, size_t c0, size_t c1)
{
    const nn_node_t *in = &m->nodes[n->in0];
    size_t C = n->c, hw = n->h * n->w, r = n->rows, M = r * hw;
    const float *g = m->params + n->w_off, *b = m->params + n->b_off;
    float *rm = m->buffers + n->buf_off, *rv = rm + C;
    int relu = nn_bn_fused(m, n);
    for (size_t c = c0; c < c1; c++) {
        float mean, invstd;
        if (m->training) {
            double s = 0.0, ss = 0.0;
            for (size_t i = 0; i < r; i++)
                s += nn_sum8(in->y + (i * C + c) * hw, hw);
            double mu = s / (double)M;
            /* two passes: the centred sum of squares does not cancel */
            for (size_t i = 0; i < r; i++)
                ss += sqdev8(in->y + (i * C + c) * hw, hw, (float)mu);
            double var = ss / (double)M;
            mean = (float)mu;
            invstd = (float)(1.0 / sqrt(var + BN_EPS));
            rm[c] = (float)((1.0 - BN_MOMENTUM) * rm[c] + BN_MOMENTUM * mu);
            rv[c] = (float)((1.0 - BN_MOMENTUM) * rv[c] + BN_MOMENTUM * ss / (double)(M - 1));
            n->aux[c] = mean;
            n->aux[C + c] = invstd;
        } else {
            mean = rm[c];
            invstd = (float)(1.0 / sqrt((double)rv[c] + BN_EPS));
        }
        float a = g[c] * invstd, bb = b[c] - mean * a;
        for (size_t i = 0; i < r; i++) {
            const float *restrict x = in->y + (i * C + c) * hw;
            float *restrict y = n->y + (i * C + c) * hw;
            if (relu)
                for (size_t j = 0; j < hw; j++) {
                    float v = bn_pre(x[j], a, bb);
                    y[j] = (v > 0.0f || v != v) ? v : 0.0f; /* NaN passes like torch.relu */
                }
            else
                for (size_t j = 0; j < hw; j++)
                    y[j] = bn_pre(x[j], a, bb);
        }
    }
}

static void bn_backward_range(struct cgalr_model *m, nn_node_t *n, size_t c0, size_t c1)
{
    nn_node_t *in = &m->nodes[n->in0];
    size_t C = n->c, hw = n->h * n->w, r = n->rows, M = r * hw;
    const float *g = m->params + n->w_off;
    float *dg = m->grads + n->w_off, *db = m->grads + n->b_off;
    const float *bias = m->params + n->b_off;
    int relu = nn_bn_fused(m, n);
    for (size_t c = c0; c < c1; c++) {
        float mean = n->aux[c], invstd = n->aux[C + c];
        /* the fused ReLU's backward masks dy where the output was clipped; the mask is recomputed
         * from the input with the forward's arithmetic (bn_pre), so the output is not read and the
         * masked gradient is never stored */
        float a = g[c] * invstd, bb = bias[c] - mean * a;
        double sdy = 0.0, sdyx = 0.0;
        for (size_t i = 0; i < r; i++) {
            const float *dy = n->dy + (i * C + c) * hw, *x = in->y + (i * C + c) * hw;
            if (relu) {
                double s1, s2;
                masked_sums8(dy, x, hw, a, bb, mean, &s1, &s2);
                sdy += s1;
                sdyx += s2;
            } else {
                sdy += nn_sum8(dy, hw);
                sdyx += dotdev8(dy, x, hw, mean);
            }
        }
        sdyx *= invstd;
        dg[c] += (float)sdyx;
        db[c] += (float)sdy;
        if (!in->needs_grad)
            continue;
        float k = g[c] * invstd;
        float mdy = (float)(sdy / (double)M), mdyx = (float)(sdyx / (double)M);
        for (size_t i = 0; i < r; i++) {
            const float *restrict x = in->y + (i * C + c) * hw;
            const float *restrict dy = n->dy + (i * C + c) * hw;
            float *restrict dx = in->dy + (i * C + c) * hw;
            if (relu && m->ow0)
                for (size_t j = 0; j < hw; j++) {
                    float xh = (x[j] - mean) * invstd, d = bn_pre(x[j], a, bb) > 0.0f ? dy[j] : 0.0f;
                    dx[j] = k * (d - mdy - xh * mdyx);
                }
            else if (relu)
                for (size_t j = 0; j < hw; j++) {
                    float xh = (x[j] - mean) * invstd, d = bn_pre(x[j], a, bb) > 0.0f ? dy[j] : 0.0f;
                    dx[j] += k * (d - mdy - xh * mdyx);
                }
            else if (m->ow0)
                for (size_t j = 0; j < hw; j++) {
                    float xh = (x[j] - mean) * invstd;
                    dx[j] = k * (dy[j] - mdy - xh * mdyx);
                }
            else
                for (size_t j = 0; j < hw; j++) {
                    float xh = (x[j] - mean) * invstd;
                    dx[j] += k * (dy[j] - mdy - xh * mdyx);
                }
        }
    }
}

typedef struct bn_job {
    struct cgalr_model *m;
    nn_node_t *n;
    int T, backward;
} bn_job_t;

static void bn_job(void *ctx, int tid)
{
    bn_job_t *j = ctx;
    size_t C = j->n->c, c0 = C * (size_t)tid / (size_t)j->T, c1 = C * (size_t)(tid + 1) / (size_t)j->T;
    if (j->backward)
        bn_backward_range(j->m, j->n, c0, c1);
    else
        bn_forward_range(j->m, j->n, c0, c1);
}

static void bn_run(struct cgalr_model *m, nn_node_t *n, int backward)
{
    int T = nn_pool_threads(m->pool);
    if (T > 1 && n->c > 1) {
        bn_job_t j = {m, n, T, backward};
        nn_pool_run(m->pool, bn_job, &j);
    } else if (backward) {
        bn_backward_range(m, n, 0, n->c);
    } else {
        bn_forward_range(m, n, 0, n->c);
    }
}

/* ---- synchronised batch norm (cgalr_model_set_batch_sum) ----------------------------------
 * The same statistics as one process over the whole batch: the forward sums x per channel and
 * the count, takes the mean of the whole batch, then sums the squares about it (two passes, as
 * above); the backward sums dy and dy (x - mean) weighted by this process's share w of the
 * loss (the whole batch's gradient is w times this part's), so that with S and T those sums over
 * the whole batch, dx = k (dy - S / (w M) - xh T / (w M)) in this part's scale. One thread: the
 * sums are few and the data-parallel ranks run one each. */

static double *bn_scratch(struct cgalr_model *m, size_t n)
{
    if (n > m->bn_buf_cap) {
        double *b = realloc(m->bn_buf, n * sizeof *b);
        if (!b)
            return NULL;
        m->bn_buf = b;
        m->bn_buf_cap = n;
    }
    return m->bn_buf;
}

/* x of row i, channel c: its hw values at x + off(i, c), one after the other */
static size_t bn_at(const nn_node_t *n, size_t i, size_t c)
{
    size_t hw = n->h * n->w;
    return hw == 1 ? i * n->c + c : (i * n->c + c) * hw;
}

static cgalr_status_t bn_sync_forward(struct cgalr_model *m, nn_node_t *n)
{
    const nn_node_t *in = &m->nodes[n->in0];
    size_t C = n->c, hw = n->h * n->w, r = n->rows;
    const float *g = m->params + n->w_off, *b = m->params + n->b_off;
    float *rm = m->buffers + n->buf_off, *rv = rm + C;
    double *acc = bn_scratch(m, 2 * C + 1);
    if (!acc)
        return cgalr_fail(CGALR_ENOMEM, "batch norm '%s': out of memory", n->name);
    for (size_t c = 0; c < C; c++) {
        double s = 0.0;
        for (size_t i = 0; i < r; i++)
            s += hw == 1 ? (double)in->y[bn_at(n, i, c)] : nn_sum8(in->y + bn_at(n, i, c), hw);
        acc[c] = s;
    }
    acc[C] = (double)(r * hw);
    cgalr_status_t st = m->bn_sum(m->bn_sum_user, acc, C + 1);
    if (st != CGALR_OK)
        return st;
    double M = acc[C];
    if (!(M >= 2))
        return cgalr_fail(CGALR_EINVAL, "batch norm '%s': %g value(s) per channel in the whole batch, need at least 2",
                          n->name, M);
    for (size_t c = 0; c < C; c++)
        n->aux[c] = (float)(acc[c] / M);
    double *ss = acc + C + 1;
    for (size_t c = 0; c < C; c++) {
        double q = 0.0;
        float mu = n->aux[c];
        for (size_t i = 0; i < r; i++) {
            if (hw == 1) {
                float d = in->y[bn_at(n, i, c)] - mu;
                q += (double)(d * d);
            } else {
                q += sqdev8(in->y + bn_at(n, i, c), hw, mu);
            }
        }
        ss[c] = q;
    }
    if ((st = m->bn_sum(m->bn_sum_user, ss, C)) != CGALR_OK)
        return st;
    int relu = hw > 1 && nn_bn_fused(m, n);
    for (size_t c = 0; c < C; c++) {
        double mu = acc[c] / M, var = ss[c] / M;
        float mean = n->aux[c], invstd = (float)(1.0 / sqrt(var + BN_EPS));
        n->aux[C + c] = invstd;
        rm[c] = (float)((1.0 - BN_MOMENTUM) * rm[c] + BN_MOMENTUM * mu);
        rv[c] = (float)((1.0 - BN_MOMENTUM) * rv[c] + BN_MOMENTUM * ss[c] / (M - 1.0));
        float a = g[c] * invstd, bb = b[c] - mean * a;
        for (size_t i = 0; i < r; i++) {
            const float *restrict x = in->y + bn_at(n, i, c);
            float *restrict y = n->y + bn_at(n, i, c);
            for (size_t j = 0; j < hw; j++) {
                float v = bn_pre(x[j], a, bb);
                y[j] = relu ? ((v > 0.0f || v != v) ? v : 0.0f) : v; /* NaN passes like torch.relu */
            }
        }
    }
    n->bn_M = M;
    return CGALR_OK;
}

static void bn_sync_backward(struct cgalr_model *m, nn_node_t *n)
{
    nn_node_t *in = &m->nodes[n->in0];
    size_t C = n->c, hw = n->h * n->w, r = n->rows;
    const float *g = m->params + n->w_off, *bias = m->params + n->b_off;
    float *dg = m->grads + n->w_off, *db = m->grads + n->b_off;
    int relu = hw > 1 && nn_bn_fused(m, n);
    double *acc = bn_scratch(m, 2 * C + 1);
    if (!acc) {
        if (m->bn_status == CGALR_OK)
            m->bn_status = cgalr_fail(CGALR_ENOMEM, "batch norm '%s': out of memory", n->name);
        return;
    }
    double w = m->bn_share;
    for (size_t c = 0; c < C; c++) {
        float mean = n->aux[c], invstd = n->aux[C + c], a = g[c] * invstd, bb = bias[c] - mean * a;
        double sdy = 0.0, sdyx = 0.0;
        for (size_t i = 0; i < r; i++) {
            const float *dy = n->dy + bn_at(n, i, c), *x = in->y + bn_at(n, i, c);
            if (relu) {
                double s1, s2;
                masked_sums8(dy, x, hw, a, bb, mean, &s1, &s2);
                sdy += s1;
                sdyx += s2;
            } else if (hw == 1) {
                sdy += dy[0];
                sdyx += (double)(dy[0] * (x[0] - mean));
            } else {
                sdy += nn_sum8(dy, hw);
                sdyx += dotdev8(dy, x, hw, mean);
            }
        }
        sdyx *= invstd;
        dg[c] += (float)sdyx; /* this part's share: the gradient sum adds the others' */
        db[c] += (float)sdy;
        acc[c] = w * sdy;
        acc[C + c] = w * sdyx;
    }
    cgalr_status_t st = m->bn_sum(m->bn_sum_user, acc, 2 * C);
    if (st != CGALR_OK) {
        if (m->bn_status == CGALR_OK)
            m->bn_status = st;
        return;
    }
    if (!in->needs_grad)
        return;
    double wM = w * n->bn_M;
    for (size_t c = 0; c < C; c++) {
        float mean = n->aux[c], invstd = n->aux[C + c], a = g[c] * invstd, bb = bias[c] - mean * a;
        float k = g[c] * invstd, mdy = (float)(acc[c] / wM), mdyx = (float)(acc[C + c] / wM);
        for (size_t i = 0; i < r; i++) {
            const float *restrict x = in->y + bn_at(n, i, c), *restrict dy = n->dy + bn_at(n, i, c);
            float *restrict dx = in->dy + bn_at(n, i, c);
            for (size_t j = 0; j < hw; j++) {
                float xh = (x[j] - mean) * invstd;
                float d = relu ? (bn_pre(x[j], a, bb) > 0.0f ? dy[j] : 0.0f) : dy[j];
                float v = k * (d - mdy - xh * mdyx);
                if (m->ow0 && hw > 1)
                    dx[j] = v;
                else
                    dx[j] += v;
            }
        }
    }
}

void cgalr_model_set_batch_sum(cgalr_model_t *m, cgalr_batch_sum_fn sum, void *user)
{
    m->bn_sum = sum;
    m->bn_sum_user = user;
    m->bn_share = 1.0;
}

void cgalr_model_set_batch_share(cgalr_model_t *m, double share)
{
    m->bn_share = share;
}

cgalr_status_t nn_bn_forward(struct cgalr_model *m, nn_node_t *n)
{
    size_t hw = n->h * n->w, M = n->rows * hw;
    if (m->training && m->bn_sum)
        return bn_sync_forward(m, n);
    if (m->training && M < 2)
        return cgalr_fail(CGALR_EINVAL, "batch norm '%s': %zu value(s) per channel in training mode, need at least 2",
                          n->name, M);
    if (hw == 1)
        return bn1d_forward(m, n);
    bn_run(m, n, 0);
    return CGALR_OK;
}

void nn_bn_backward(struct cgalr_model *m, nn_node_t *n)
{
    if (m->bn_sum) {
        bn_sync_backward(m, n);
        return;
    }
    if (n->h * n->w == 1) {
        bn1d_backward(m, n);
        return;
    }
    bn_run(m, n, 1);
}
