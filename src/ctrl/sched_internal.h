/* The scheduler's private state, shared by the files of src/ctrl (rates, controller, DoG,
 * topology glue, save/restore, the methods that own the update). Not installed. */
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
    /* the envelope's clock (calm_clock < 1): its value at progress clock_at, the last controller
     * step or guard event; from there it runs at ctrl_clock_speed */
    double clock;
    double clock_at;

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
    cgalr_dog_state_t dog;

    /* methods that own the update (prodigy, dadapt-*, sf-*): scalars and arrays of ad_n values */
    cgalr_adapt_state_t ad;
    size_t ad_n;     /* 0 before the first update */
    float *ad_arr;   /* cgalr_adapt_arrays(method) * ad_n floats */
    long ad_warmup;  /* Schedule-Free warm-up in iterations (resolved from sf_warmup) */
};

/* out = the sum over i in [0, n) of EXPR (an expression in i) in double, with four interleaved
 * partial sums: one sum's additions wait for each other, four run side by side (and vectorise).
 * The order is fixed, so results are deterministic. */
#define CTRL_SUM(out, n, EXPR)                                                                          \
    do {                                                                                                \
        double acc_[4] = {0, 0, 0, 0};                                                                  \
        size_t n_ = (n), b_ = 0;                                                                        \
        for (; b_ + 4 <= n_; b_ += 4)                                                                   \
            for (size_t j_ = 0; j_ < 4; j_++) {                                                         \
                size_t i = b_ + j_;                                                                     \
                acc_[j_] += (EXPR);                                                                     \
            }                                                                                           \
        for (size_t i = b_; i < n_; i++)                                                                \
            acc_[0] += (EXPR);                                                                          \
        (out) = (acc_[0] + acc_[1]) + (acc_[2] + acc_[3]);                                              \
    } while (0)

void ctrl_trace_reset(cgalr_sched_trace_t *r);
/* envelope.c: the envelope's clock at progress, and moving its anchor to progress (before the
 * gate changes: the speed up to a step is the one of the state before it) */
double ctrl_clock(const struct cgalr_sched *s, double progress);
void ctrl_clock_advance(struct cgalr_sched *s, double progress);
/* schedules.c: the chainable rate of epoch e (cached) */
double ctrl_epoch_rate(struct cgalr_sched *s, long e);
/* update.c: resolve the adaptive methods at create; their current rate */
cgalr_status_t ctrl_adapt_create(struct cgalr_sched *s);
double ctrl_adapt_lr(const struct cgalr_sched *s);
/* the per-family steps behind cgalr_adapt_step (inputs checked there) */
void ctrl_prodigy_step(const cgalr_sched_config_t *c, cgalr_adapt_state_t *st, float *x, const float *g,
                       float *arr, size_t n, double lr);
void ctrl_dadapt_sgd_step(const cgalr_sched_config_t *c, cgalr_adapt_state_t *st, float *x, const float *g,
                          float *arr, size_t n, double lr);
void ctrl_dadapt_adam_step(const cgalr_sched_config_t *c, cgalr_adapt_state_t *st, float *x, const float *g,
                           float *arr, size_t n, double lr);
void ctrl_sf_sgd_step(const cgalr_sched_config_t *c, cgalr_adapt_state_t *st, float *y, const float *g, float *arr,
                      size_t n, double lr, long warmup);
/* Schedule-Free: y from the arrays (z, x) */
void ctrl_sf_y(const cgalr_sched_config_t *c, const float *arr, size_t n, float *y);
void ctrl_sf_adamw_step(const cgalr_sched_config_t *c, cgalr_adapt_state_t *st, float *y, const float *g,
                        float *arr, size_t n, double lr, long warmup);

/* Topology glue (topo_glue.c): the previous summary's lifetime and serialisation. */
void ctrl_prev_clear(struct cgalr_sched *s);
cgalr_status_t ctrl_prev_save_size(const struct cgalr_sched *s, size_t *size);
cgalr_status_t ctrl_prev_save(const struct cgalr_sched *s, void *buf, size_t size);
/* Parses a saved summary into *out (caller frees with ctrl_summary_free on success). */
cgalr_status_t ctrl_summary_load(const void *buf, size_t size, cgalr_topo_summary_t *out);
void ctrl_summary_free(cgalr_topo_summary_t *sum);

#endif
