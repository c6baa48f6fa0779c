/* Option tables of the cgalr subcommands: one row per long option drives both the getopt_long
 * parse and the option list of --help, so what a command accepts and what it documents cannot
 * drift apart (tests/test_cli_help.py checks every command). */
#ifndef CGALR_CLI_OPTABLE_H
#define CGALR_CLI_OPTABLE_H

#include <getopt.h> /* optind: where a parse left off */
#include <stddef.h>
#include <stdio.h>

typedef enum {
    CLI_OPT_END = 0, /* the row that ends a table (name NULL) */
    CLI_OPT_STRING,  /* const char * field := the argument (it points into argv) */
    CLI_OPT_DOUBLE,  /* double field := a finite number, the whole argument (strtod); with a range,
                        also inside it */
    CLI_OPT_UINT,    /* integer field := decimal digits in [min, max] (cli_parse_uint) */
    CLI_OPT_SET1,    /* integer field := 1 */
    CLI_OPT_SET0,    /* integer field := 0 */
    CLI_OPT_CALL,    /* call(target, arg): what sets several fields (--augment, --restart) */
    CLI_OPT_HELP     /* --help: parsing stops with CLI_HELP (the command prints its usage) */
} cli_opt_kind_t;

/* CLI_OPT_DOUBLE bounds: open ends, and +inf allowed as a value */
enum { CLI_LO_OPEN = 1, CLI_HI_OPEN = 2, CLI_INF_OK = 4 };

typedef struct cli_opt {
    const char *name;        /* long name without the dashes */
    const char *metavar;     /* the argument's name in --help; NULL for a flag */
    cli_opt_kind_t kind;
    size_t off;              /* offsetof the field in the command's target struct */
    size_t size;             /* sizeof that field (integers and flags are written at their width) */
    unsigned long long min, max; /* CLI_OPT_UINT: inclusive bounds */
    double lo, hi;           /* CLI_OPT_DOUBLE with a range: the bounds (flags: open ends, inf) */
    unsigned flags;
    /* CLI_OPT_DOUBLE: the range as messages and --help show it ("(0, 3600]"); NULL: any finite
     * number (the library checks what depends on other options). CLI_OPT_UINT: shown in --help
     * instead of "min .. max" where the library refuses values inside the hull ("0, 2 .. 100") */
    const char *range;
    const char *help;        /* may hold '\n': continuation lines, indented under the first */
    const char *(*more)(void); /* appended to help: lists only known at run time (method names) */
    int (*call)(void *target, const char *arg); /* CLI_OPT_CALL: 0, or an exit code (message printed) */
    char key;                /* a short option as well ('h' for -h), or 0 */
} cli_opt_t;

/* Row builders: T is the target struct type, F a field of it (nested fields too: cfg.lr). The
 * range of an integer row is the one the library validates (the caller says where). */
#define CLI_FIELD(T, F) offsetof(T, F), sizeof(((T *)0)->F)
/* A numeric macro as a string literal, for help texts that quote the library's ranges. */
#define CLI_STR_(x) #x
#define CLI_XSTR(x) CLI_STR_(x)
#define CLI_STR(T, F, name, mv, help) {name, mv, CLI_OPT_STRING, CLI_FIELD(T, F), 0, 0, 0, 0, 0, NULL, help, NULL, NULL, 0}
#define CLI_STR_LIST(T, F, name, mv, help, list) \
    {name, mv, CLI_OPT_STRING, CLI_FIELD(T, F), 0, 0, 0, 0, 0, NULL, help, list, NULL, 0}
#define CLI_UINT(T, F, name, mv, min, max, help) \
    {name, mv, CLI_OPT_UINT, CLI_FIELD(T, F), min, max, 0, 0, 0, NULL, help, NULL, NULL, 0}
#define CLI_UINT_R(T, F, name, mv, min, max, range, help) \
    {name, mv, CLI_OPT_UINT, CLI_FIELD(T, F), min, max, 0, 0, 0, range, help, NULL, NULL, 0}
#define CLI_DBL(T, F, name, mv, help) {name, mv, CLI_OPT_DOUBLE, CLI_FIELD(T, F), 0, 0, 0, 0, 0, NULL, help, NULL, NULL, 0}
#define CLI_DBL_R(T, F, name, mv, lo, hi, flags, range, help) \
    {name, mv, CLI_OPT_DOUBLE, CLI_FIELD(T, F), 0, 0, lo, hi, flags, range, help, NULL, NULL, 0}
#define CLI_SET1(T, F, name, help) {name, NULL, CLI_OPT_SET1, CLI_FIELD(T, F), 0, 0, 0, 0, 0, NULL, help, NULL, NULL, 0}
#define CLI_SET1_KEY(T, F, name, key, help) \
    {name, NULL, CLI_OPT_SET1, CLI_FIELD(T, F), 0, 0, 0, 0, 0, NULL, help, NULL, NULL, key}
#define CLI_SET0(T, F, name, help) {name, NULL, CLI_OPT_SET0, CLI_FIELD(T, F), 0, 0, 0, 0, 0, NULL, help, NULL, NULL, 0}
#define CLI_CALL(fn, name, mv, help) {name, mv, CLI_OPT_CALL, 0, 0, 0, 0, 0, 0, 0, NULL, help, NULL, fn, 0}
#define CLI_HELP_ROW {"help", NULL, CLI_OPT_HELP, 0, 0, 0, 0, 0, 0, 0, NULL, "this text", NULL, NULL, 'h'}
#define CLI_END {NULL, NULL, CLI_OPT_END, 0, 0, 0, 0, 0, 0, 0, NULL, NULL, NULL, NULL, 0}

/* Rows of one parse at the most (own and passed-on together) */
#define CLI_MAX_OPTS 128

typedef struct cli_cmd {
    const char *prog;        /* "cgalr train": the start of every message */
    const cli_opt_t *opts;   /* the command's table */
    int in_order;            /* stop at the first operand (getopt's "+") instead of permuting */
    /* `cgalr grid`: a second table (train's) whose options are accepted but not applied: each
     * is handed to on_pass with its argument (NULL for a flag); rows of opts win on a name */
    const cli_opt_t *pass;
    int (*on_pass)(void *target, const cli_opt_t *row, const char *arg);
    const char *hint;        /* after an unknown option; NULL: "PROG --help lists the options" */
    void (*usage)(FILE *f);  /* the command's --help text, printed on stdout for --help */
    int silent;              /* no messages (train re-reading a run's own saved command) */
} cli_cmd_t;

#define CLI_HELP (-1)

/* Parses argv[1..] onto target (which holds the defaults). Returns 0 with optind at the first
 * operand, CLI_HELP after --help (cmd->usage printed unless silent), or the exit code of a bad option (2) or of a
 * callback, its message printed. Unknown, ambiguous (an abbreviation of several: they are listed),
 * valueless and superfluous-value options are named in the message. given (NULL, or one entry per
 * row of cmd->opts) is set to 1 for each row that appeared. Re-entrant for a second scan. */
int cli_opt_parse(const cli_cmd_t *cmd, int argc, char **argv, void *target, unsigned char *given);

/* The exit code a command leaves with after a parse that did not return 0 (0 after --help). */
int cli_opt_exit(int rc);

/* The option list of --help: one row per option, aligned, with integer ranges and run-time lists. */
void cli_opt_help(FILE *f, const cli_opt_t *opts);

/* The row named name (NULL if none). */
const cli_opt_t *cli_opt_find(const cli_opt_t *opts, const char *name);

#endif
