/* The loss of the engine: softmax cross-entropy over the last node's logits (mean reduction, as
 * PyTorch's F.cross_entropy), accuracy and non-finite counts, and its gradient. */
#include <math.h>
#include <string.h>

#include "nn/nn_internal.h"

/* Loss over the logits; in training, writes dL/dlogits (mean reduction) into the last dy. */
cgalr_status_t nn_loss_and_grad(cgalr_model_t *m, const int32_t *labels, int training, cgalr_step_result_t *res)
{
    nn_node_t *last = &m->nodes[m->n_nodes - 1];
    size_t n = last->rows, C = last->c;
    double total = 0.0;
    memset(res, 0, sizeof *res);
    res->n = n;
    for (size_t i = 0; i < n; i++) {
        const float *z = last->y + i * C;
        int finite = 1;
        size_t arg = 0;
        for (size_t j = 0; j < C; j++) {
            if (!isfinite(z[j]))
                finite = 0;
            if (z[j] > z[arg])
                arg = j;
        }
        if (!finite)
            res->nonfinite++;
        if (!labels)
            continue;
        int32_t y = labels[i];
        if (y < 0 || (size_t)y >= C)
            return cgalr_fail(CGALR_EINVAL, "label of sample %zu is %d, expected 0..%zu", i, (int)y, C - 1);
        if (finite && arg == (size_t)y)
            res->correct++;
        double mx = z[arg], s = 0.0;
        for (size_t j = 0; j < C; j++)
            s += exp((double)z[j] - mx);
        double lse = mx + log(s);
        double li = lse - (double)z[y];
        if (training) {
            float *g = last->dy + i * C;
            for (size_t j = 0; j < C; j++)
                g[j] = (float)((exp((double)z[j] - lse) - (j == (size_t)y ? 1.0 : 0.0)) / (double)n);
            total += li;
        } else if (finite) {
            total += li;
        }
    }
    res->loss = training ? total / (double)n : total;
    m->logits_valid = 1;
    m->logits_n = n;
    return CGALR_OK;
}
