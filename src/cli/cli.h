/* The subcommands of the cgalr tool. Each returns the process exit code: 0 ok, 1 runtime
 * failure, 2 bad usage or bad input. Only this layer prints. */
#ifndef CGALR_CLI_H
#define CGALR_CLI_H

int cgalr_cmd_train(int argc, char **argv);
int cgalr_cmd_grid(int argc, char **argv);
int cgalr_cmd_report(int argc, char **argv);
int cgalr_cmd_data(int argc, char **argv);
int cgalr_cmd_topo(int argc, char **argv);
int cgalr_cmd_bench(int argc, char **argv);

#include "cgalr/status.h"
#include "cgalr/train.h"
#include "cli/optable.h"

#define CGALR_EXIT_OK 0
#define CGALR_EXIT_FAIL 1
#define CGALR_EXIT_USAGE 2

/* The exit code of a library status (cli_util.c): 2 for what the user can fix (bad options or
 * input, a run directory in the wrong state), 1 for runtime failures. */
int cli_exit_code(cgalr_status_t st);
/* A whole text file (malloc'd, NUL-terminated); NULL when unreadable. */
char *cli_read_text(const char *path);
/* The one integer parser of every option: decimal digits only (no sign, blank, "0x" or octal
 * reading of a leading 0: "010" is ten), the value in [lo, hi]. 1 and *out set, or 0 (nothing
 * written; the caller names the option in its message). */
int cli_parse_uint(const char *s, unsigned long long lo, unsigned long long hi, unsigned long long *out);
/* The number of single-character insertions, deletions, substitutions and swaps of neighbours
 * that turn a[0..alen) into b (optimal string alignment), capped at CLI_FAR: how close a typo
 * is to a known name. */
enum { CLI_FAR = 64 };
size_t cli_edit_distance(const char *a, size_t alen, const char *b);
/* Whether a word at edit distance d from a name of n characters is worth a "did you mean". */
int cli_is_near(size_t d, size_t n);
/* Seconds as "42s", "3m05s", "2h10m" ("?" when unknown). */
void cli_fmt_time(char *buf, size_t n, double s);
/* The option table of `cgalr train`, so `cgalr grid` can accept its options and pass them on. */
const cli_opt_t *cli_train_optable(void);
/* Parses `train`-style argv (argv[0] is skipped) onto a default configuration, as `cgalr train`
 * does; 0, or the exit code of a bad option with its message printed. cfg's strings point into
 * argv. */
int cli_train_parse(int argc, char **argv, cgalr_train_config_t *cfg);

#endif
