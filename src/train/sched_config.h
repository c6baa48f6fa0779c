/* The control layer's side of a training run: its method, told from the --sched name, and the
 * scheduler configuration built from the run's options. loop.c calls the cgalr_sched_* API
 * directly; only this translation of train options into a scheduler config lives here. */
#ifndef CGALR_TRAIN_SCHED_CONFIG_H
#define CGALR_TRAIN_SCHED_CONFIG_H

#include "cgalr/ctrl.h"
#include "cgalr/train.h"

/* The method named `name` (cgalr_method_parse), -1 for an unknown name or NULL. */
int train_method(const char *name);
/* Facts of a method by name; 0 for an unknown one. */
int train_method_is_cgalr(const char *name);
int train_method_has_lr(const char *name);

/* The scheduler configuration of run c: its method's SPEC defaults, then what the train options
 * own (lr, epochs, iterations per epoch, --ctrl-every, weight decay, the seed of the persistence
 * subset), DoG's r_eps for a model with batch norm (METHOD.md 5), then --sched-opt; validated.
 * iters_per_epoch 0 = not known yet (option checks before the data is opened). */
cgalr_status_t train_sched_config(const cgalr_train_config_t *c, long iters_per_epoch, int batch_norm,
                                  cgalr_sched_config_t *out);

#endif
