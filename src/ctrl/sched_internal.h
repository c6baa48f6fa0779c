/* The scheduler's private state, shared by the files of src/ctrl (rates, controller, DoG,
 * topology glue, save/restore). Not installed. */
#ifndef CGALR_CTRL_SCHED_INTERNAL_H
#define CGALR_CTRL_SCHED_INTERNAL_H

#include "cgalr/ctrl.h"

struct cgalr_sched {
    cgalr_sched_config_t cfg; /* resolved: every "auto" value filled in */

    /* CG-ALR controller */
    double *hist;   /* the last <= K distances in score space, oldest first */
    size_t hist_n;
    long t;         /* controller steps taken (distances observed, finite or not) */
    cgalr_gate_t gate;
    double rho;
    int retries;    /* guard events in this run */
    cgalr_sched_trace_t last;
    int have_prev;  /* prev holds the summary of M_{t-1} */
    size_t prev_p;
    cgalr_topo_summary_t prev;

    /* epoch-based baselines: the chainable recursion cached at one epoch (derived, not saved) */
    long cache_epoch;
    double cache_lr;

    /* plateau (ReduceLROnPlateau) */
    double plat_lr;
    double plat_best;
    long plat_bad;
    long last_epoch; /* last epoch reported to epoch_end, -1 before any */

    /* DoG */
    size_t dog_n;   /* 0 before the first dog_step */
    float *dog_x0;
    float *dog_avg;
    double dog_r, dog_G, dog_eta;
    long dog_steps;
    long dog_avg_t; /* t of the averager's next update (starts at 1) */
};

/* Topology glue (topo_glue.c): the previous summary's lifetime and serialisation. */
void ctrl_prev_clear(struct cgalr_sched *s);
cgalr_status_t ctrl_prev_save_size(const struct cgalr_sched *s, size_t *size);
cgalr_status_t ctrl_prev_save(const struct cgalr_sched *s, void *buf, size_t size);
/* Parses a saved summary into *out (caller frees with ctrl_summary_free on success). */
cgalr_status_t ctrl_summary_load(const void *buf, size_t size, cgalr_topo_summary_t *out);
void ctrl_summary_free(cgalr_topo_summary_t *sum);

#endif
