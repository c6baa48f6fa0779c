/* CG-ALR's link to the topology layer. Interim version: the topology summary functions are not
 * in the tree yet, so observing a connectome reports that instead of failing to link. */
#include <string.h>

#include "ctrl/sched_internal.h"

void ctrl_prev_clear(struct cgalr_sched *s)
{
    memset(&s->prev, 0, sizeof s->prev);
    s->have_prev = 0;
    s->prev_p = 0;
}

cgalr_status_t ctrl_prev_save_size(const struct cgalr_sched *s, size_t *size)
{
    (void)s;
    *size = 0;
    return CGALR_OK;
}

cgalr_status_t ctrl_prev_save(const struct cgalr_sched *s, void *buf, size_t size)
{
    (void)s;
    (void)buf;
    (void)size;
    return CGALR_OK;
}

cgalr_status_t ctrl_summary_load(const void *buf, size_t size, cgalr_topo_summary_t *out)
{
    (void)buf;
    (void)size;
    memset(out, 0, sizeof *out);
    return cgalr_fail(CGALR_EFORMAT, "scheduler state holds a topology summary, which this build cannot read yet");
}

void ctrl_summary_free(cgalr_topo_summary_t *sum)
{
    memset(sum, 0, sizeof *sum);
}

cgalr_status_t cgalr_sched_observe_connectome(cgalr_sched_t *s, const double *m, size_t p, double progress,
                                              cgalr_sched_trace_t *rec)
{
    (void)s;
    (void)m;
    (void)p;
    (void)progress;
    (void)rec;
    return cgalr_fail(CGALR_ESTATE, "scheduler observe_connectome: the topology summaries are not built yet; "
                                    "use cgalr_sched_observe_distance");
}
