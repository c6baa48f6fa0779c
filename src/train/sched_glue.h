/* The training loop's view of the control layer: everything the loop needs from ctrl goes
 * through these wrappers, compiled in sched_glue.c alone, so loop.c sees a small interface. */
#ifndef CGALR_TRAIN_SCHED_GLUE_H
#define CGALR_TRAIN_SCHED_GLUE_H

#include <stddef.h>
#include <stdint.h>

#include "cgalr/status.h"

typedef struct tsched tsched_t;

enum { TS_OPT_SGD_MOMENTUM = 0, TS_OPT_SGD = 1, TS_OPT_ADAM = 2, TS_OPT_ADAMW = 3 };
enum { TS_FLAG_FIRST = 1, TS_FLAG_NONFINITE = 2, TS_FLAG_GUARD = 4 };

typedef struct tsched_trace {
    double d, median, mad, z, rho;
    const char *state; /* "hold", "decel", "accel" */
    unsigned flags;    /* TS_FLAG_* */
} tsched_trace_t;

typedef struct tsched_params {
    const char *method;
    double lr;
    long epochs;
    long iters_per_epoch;
    long ctrl_every;
    double weight_decay;
    uint64_t seed;
    const char *opts;
    int batch_norm; /* the model has batch norm (DoG's r_eps, METHOD.md 5) */
} tsched_params_t;

/* -1 if unknown. */
int tsched_method_known(const char *name);
const char *tsched_method_list(void);
int tsched_is_cgalr(const char *method);
int tsched_has_lr(const char *method);

/* Validates the parameters and options without keeping anything. */
cgalr_status_t tsched_check(const tsched_params_t *p);
cgalr_status_t tsched_create(const tsched_params_t *p, tsched_t **out);
void tsched_free(tsched_t *s);
int tsched_optimizer(const tsched_t *s);
double tsched_momentum(const tsched_t *s);
int tsched_is_dog(const tsched_t *s);
int tsched_cgalr(const tsched_t *s);
/* prodigy, dadapt-*, sf-*: the scheduler takes the parameter step (tsched_update) */
int tsched_owns_update(const tsched_t *s);
cgalr_status_t tsched_update(tsched_t *s, float *params, const float *grads, size_t n, double *lr);
/* Schedule-Free's x (n floats) to evaluate at, or NULL */
const float *tsched_eval_params(const tsched_t *s, size_t *n);
/* Schedule-Free: params <- y rebuilt from the state (after a checkpoint that holds x) */
cgalr_status_t tsched_train_params(const tsched_t *s, float *params, size_t n);
/* prodigy / D-Adaptation's d, else NAN */
double tsched_d(const tsched_t *s);

double tsched_lr(tsched_t *s, long iteration, double progress);
cgalr_status_t tsched_epoch_end(tsched_t *s, long epoch, double train_loss, double val_loss);
/* CG-ALR controller step from a connectome; CGALR_ENONFINITE for a non-finite distance. */
cgalr_status_t tsched_observe(tsched_t *s, const double *m, size_t p, double progress, tsched_trace_t *tr);
void tsched_current(const tsched_t *s, tsched_trace_t *tr);
cgalr_status_t tsched_on_nonfinite(tsched_t *s, double progress);
cgalr_status_t tsched_dog_step(tsched_t *s, const float *params, const float *grads, size_t n, double *eta);
cgalr_status_t tsched_dog_average(tsched_t *s, const float *params, size_t n);
/* DoG's averaged iterate (n floats) or NULL before the first step. */
const float *tsched_dog_averaged(const tsched_t *s, size_t *n);

/* State as a malloc'd blob / restored from one. */
cgalr_status_t tsched_save(const tsched_t *s, void **buf, size_t *size);
cgalr_status_t tsched_load(tsched_t *s, const void *buf, size_t size);

#endif
