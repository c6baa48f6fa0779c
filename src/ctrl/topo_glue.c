/* CG-ALR's link to the topology layer: summarise each connectome, take the distance to the
 * previous summary, and keep and serialise that summary for checkpoints. */
#include <math.h>
#include <string.h>

#include "ctrl/sched_internal.h"

void ctrl_prev_clear(struct cgalr_sched *s)
{
    if (s->have_prev)
        cgalr_topo_summary_free(&s->prev);
    memset(&s->prev, 0, sizeof s->prev);
    s->have_prev = 0;
    s->prev_p = 0;
}

cgalr_status_t ctrl_prev_save_size(const struct cgalr_sched *s, size_t *size)
{
    *size = 0;
    if (!s->have_prev)
        return CGALR_OK;
    return cgalr_topo_summary_save(&s->prev, NULL, size);
}

cgalr_status_t ctrl_prev_save(const struct cgalr_sched *s, void *buf, size_t size)
{
    size_t sz = size;
    return cgalr_topo_summary_save(&s->prev, buf, &sz);
}

cgalr_status_t ctrl_summary_load(const void *buf, size_t size, cgalr_topo_summary_t *out)
{
    memset(out, 0, sizeof *out);
    return cgalr_topo_summary_load(buf, size, out);
}

void ctrl_summary_free(cgalr_topo_summary_t *sum)
{
    cgalr_topo_summary_free(sum);
}

cgalr_status_t cgalr_sched_observe_connectome(cgalr_sched_t *s, const double *m, size_t p, double progress,
                                              cgalr_sched_trace_t *rec)
{
    if (!s || !m)
        return cgalr_fail(CGALR_EINVAL, "scheduler observe_connectome: NULL scheduler or connectome");
    if (!cgalr_method_is_cgalr(s->cfg.method))
        return cgalr_fail(CGALR_ESTATE, "scheduler observe_connectome: method %s has no controller",
                          cgalr_method_name(s->cfg.method));
    if (p < 2)
        return cgalr_fail(CGALR_EINVAL, "scheduler observe_connectome: p = %zu signals, need at least 2", p);
    if (s->have_prev && p != s->prev_p)
        return cgalr_fail(CGALR_EINVAL, "scheduler observe_connectome: p = %zu signals, earlier connectomes had %zu",
                          p, s->prev_p);
    if (isnan(progress))
        return cgalr_fail(CGALR_EINVAL, "scheduler observe_connectome: progress is NaN");
    /* A NaN connectome means non-finite activations: the guard's business, reported before the
     * topology layer sees it, and nothing about the controller changes. */
    for (size_t i = 0; i < p; i++)
        for (size_t j = 0; j < p; j++)
            if (i != j && !isfinite(m[i * p + j]))
                return cgalr_fail(CGALR_ENONFINITE, "controller step %ld: connectome entry (%zu, %zu) = %g is not finite",
                                  s->t + 1, i, j, m[i * p + j]);
    cgalr_topo_summary_t cur;
    memset(&cur, 0, sizeof cur);
    cgalr_status_t st = cgalr_topo_summarize(&s->cfg.topo, m, p, &cur);
    if (st != CGALR_OK) {
        cgalr_topo_summary_free(&cur);
        return st;
    }
    if (!s->have_prev) {
        s->prev = cur;
        s->prev_p = p;
        s->have_prev = 1;
        cgalr_sched_trace_t r;
        memset(&r, 0, sizeof r);
        r.t = s->t;
        r.progress = progress;
        r.d = r.median = r.mad = r.z = NAN;
        r.history = s->hist_n;
        r.state = s->gate;
        r.rho = s->rho;
        r.eta = cgalr_sched_envelope(s, progress) * s->rho;
        r.flags = CGALR_TRACE_FIRST;
        s->last = r;
        if (rec)
            *rec = r;
        return CGALR_OK;
    }
    double d = NAN;
    st = cgalr_topo_summary_distance(&s->cfg.topo, &s->prev, &cur, &d);
    if (st != CGALR_OK) {
        cgalr_topo_summary_free(&cur);
        return st;
    }
    /* M_t becomes the reference for the next step whatever d turned out to be. */
    cgalr_topo_summary_free(&s->prev);
    s->prev = cur;
    return cgalr_sched_observe_distance(s, d, progress, rec);
}
