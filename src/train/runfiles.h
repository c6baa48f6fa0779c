/* config.json and summary.json of a run directory (private to the train layer). */
#ifndef CGALR_TRAIN_RUNFILES_H
#define CGALR_TRAIN_RUNFILES_H

/* The version of the CG-ALR defaults, written to every CG-ALR run's config.json: 1 = METHOD.md's
 * first SPEC (--probe-mode pass, s0 = T/10), 2 = docs/ABLATION.md's choice (inline, s0 = 1). */
#define CGALR_DEFAULTS_VERSION 2

#include "cgalr/train.h"

/* Writes text + newline to path.tmp, then renames it over path. */
/* config.json text for cfg (malloc'd; NULL when out of memory). */
char *train_config_json(const cgalr_train_config_t *cfg, int has_lr);
/* CGALR_OK when the config.json at path holds the same settings as expected_json; CGALR_ESTATE
 * naming the first differing key otherwise. */
cgalr_status_t train_config_matches(const char *path, const char *expected_json);
cgalr_status_t train_write_summary(const char *path, const cgalr_train_summary_t *s);
/* 1 when summary.json at path says the run finished (fills s when not NULL). */
int train_summary_finished(const char *path, cgalr_train_summary_t *s);

#endif
