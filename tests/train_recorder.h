/* Scaffolding of the cmocka tests that drive cgalr_train_run on MUTAG (a header of tests, not a
 * test): the epoch records of a run, a stop after a given epoch, and a private scratch directory
 * with the data directory beside the checkout. */
#ifndef CGALR_TESTS_TRAIN_RECORDER_H
#define CGALR_TESTS_TRAIN_RECORDER_H

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cgalr/train.h"

#define MAXREC 16

typedef struct recorder {
    cgalr_epoch_record_t rec[MAXREC];
    int n;
    int stop_after;
    volatile sig_atomic_t stop;
} recorder_t;

/* The epoch hook: keeps the record, asks the loop to stop after stop_after epochs. */
static void on_epoch(void *user, const cgalr_epoch_record_t *r)
{
    recorder_t *k = user;
    if (k->n < MAXREC)
        k->rec[k->n++] = *r;
    if (k->stop_after && k->n == k->stop_after)
        k->stop = 1;
}

/* cgalr_train_run with the recorder as its epoch hook and stop flag. */
static cgalr_status_t recorder_train(const cgalr_train_config_t *c, recorder_t *k, cgalr_train_summary_t *sum)
{
    cgalr_train_hooks_t h;
    memset(&h, 0, sizeof h);
    h.epoch = on_epoch;
    h.stop = &k->stop;
    h.user = k;
    return cgalr_train_run(c, &h, sum);
}

static char data_dir[4096], tmp_root[4096];

/* data_dir from CGALR_SHARED; tmp_root a fresh /tmp/<prefix>-XXXXXX. 0 on success. */
static int recorder_dirs(const char *prefix)
{
    const char *shared = getenv("CGALR_SHARED");
    snprintf(data_dir, sizeof data_dir, "%s/data", shared ? shared : "../shared");
    snprintf(tmp_root, sizeof tmp_root, "/tmp/%s-XXXXXX", prefix);
    return mkdtemp(tmp_root) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp_root);
    return system(cmd) == 0 ? 0 : -1;
}

#endif
