/* The "Reproduce with" section of report.md, derived from the runs themselves (private to the
 * report layer). */
#ifndef CGALR_REPORT_PROVENANCE_H
#define CGALR_REPORT_PROVENANCE_H

#include <stddef.h>

typedef struct {
    const char *command; /* config.json "command" (NULL when absent) */
    int has_lr;          /* the method takes a learning rate */
} report_run_command_t;

/* Markdown (malloc'd; NULL when out of memory): one `cgalr grid` command that remakes every run
 * when they share all options but method, rate and seed, else each distinct train command with
 * its run count. dir is the grid directory as the user named it. */
char *report_provenance(const report_run_command_t *runs, size_t n, const char *dir);

#endif
