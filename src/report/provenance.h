/* The "Reproduce with" section of report.md, derived from the runs themselves (private to the
 * report layer). */
#ifndef CGALR_REPORT_PROVENANCE_H
#define CGALR_REPORT_PROVENANCE_H

#include <stddef.h>

typedef struct {
    const char *dir;     /* the run directory, as found under the report's directory */
    const char *command; /* config.json "command" (NULL when absent) */
    int has_lr;          /* the method takes a learning rate */
    const char *kernels; /* summary.json's kernels as "CORE/ISA" (NULL when not recorded) */
} report_run_command_t;

/* Markdown (malloc'd; NULL when out of memory): the `cgalr grid` commands that remake the runs,
 * one per group of runs sharing their options (all but method, rate, seed, fold), directory and
 * method grid values; then `cgalr report dir`; then the compute kernels the runs recorded, with
 * how many runs each (only when a run recorded them). Empty when no run recorded either. */
char *report_provenance(const report_run_command_t *runs, size_t n, const char *dir);

#endif
