/* The one option parser of the cgalr tool (getopt_long, glibc) and the option list of --help,
 * both driven by a command's table (optable.h). */
#include "cli/optable.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

/* getopt_long's values: own rows from VAL_OWN, passed-on rows from VAL_PASS (above every char,
 * so a short option's letter never collides with a row) */
enum { VAL_OWN = 256, VAL_PASS = VAL_OWN + CLI_MAX_OPTS };

/* Where --help's text column starts is 2 + HEAD_W + 1, the layout the commands had by hand. */
enum { HEAD_W = 20 };

static int rows(const cli_opt_t *t)
{
    int n = 0;
    while (t && t[n].name)
        n++;
    return n;
}

const cli_opt_t *cli_opt_find(const cli_opt_t *t, const char *name)
{
    for (; t && t->name; t++)
        if (!strcmp(t->name, name))
            return t;
    return NULL;
}

static void say(const cli_cmd_t *cmd, const char *fmt, ...)
{
    if (cmd->silent)
        return;
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: ", cmd->prog);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

/* getopt_long's view of the tables: every own row, then each passed-on row no own row names.
 * Returns the count, or -1 when they do not fit. */
static int build(const cli_cmd_t *cmd, struct option *lo, char *shorts)
{
    int n = 0;
    size_t k = 0;
    if (cmd->in_order)
        shorts[k++] = '+';
    shorts[k++] = ':'; /* a missing value comes back as ':', told apart from an unknown option */
    for (int i = 0; cmd->opts[i].name; i++) {
        const cli_opt_t *r = &cmd->opts[i];
        if (n == CLI_MAX_OPTS)
            return -1;
        lo[n++] = (struct option){r->name, r->metavar ? required_argument : no_argument, NULL, VAL_OWN + i};
        if (r->key) {
            shorts[k++] = r->key;
            if (r->metavar)
                shorts[k++] = ':';
        }
    }
    for (int i = 0; cmd->pass && cmd->pass[i].name; i++) {
        const cli_opt_t *r = &cmd->pass[i];
        if (cli_opt_find(cmd->opts, r->name))
            continue;
        if (n == CLI_MAX_OPTS)
            return -1;
        lo[n++] = (struct option){r->name, r->metavar ? required_argument : no_argument, NULL, VAL_PASS + i};
    }
    lo[n] = (struct option){NULL, 0, NULL, 0};
    shorts[k] = '\0';
    return n;
}

static const cli_opt_t *row_of(const cli_cmd_t *cmd, int c)
{
    if (c >= VAL_PASS)
        return &cmd->pass[c - VAL_PASS];
    if (c >= VAL_OWN)
        return &cmd->opts[c - VAL_OWN];
    for (const cli_opt_t *r = cmd->opts; r->name; r++)
        if (c > 0 && r->key == c)
            return r;
    return NULL;
}

/* What getopt_long refused ('?' or ':'), said with the command's name; the word is argv[optind - 1]
 * for a long option (glibc steps past it). Lists the candidates of an ambiguous abbreviation,
 * which also lets a test see every option the parser knows ("--=" abbreviates them all). */
static int bad_option(const cli_cmd_t *cmd, const struct option *lo, int c, char **argv)
{
    const cli_opt_t *r = optopt ? row_of(cmd, optopt) : NULL;
    if (c == ':' && r)
        say(cmd, "--%s needs a value (%s)", r->name, r->metavar);
    else if (r)
        say(cmd, "--%s takes no value", r->name);
    else if (optopt > 0 && optopt < VAL_OWN)
        say(cmd, "unknown option '-%c'", optopt);
    else {
        const char *word = argv[optind - 1];
        const char *name = word + strspn(word, "-");
        size_t len = strcspn(name, "=");
        char list[4096] = "";
        size_t used = 0;
        int matches = 0;
        for (const struct option *o = lo; o->name; o++)
            if (!strncmp(o->name, name, len) && used < sizeof list) {
                int w = snprintf(list + used, sizeof list - used, "%s--%s", matches ? ", " : "", o->name);
                used += w > 0 ? (size_t)w : 0;
                matches++;
            }
        const char *near = NULL;
        size_t best = CLI_FAR;
        for (const struct option *o = lo; o->name; o++) {
            size_t d = cli_edit_distance(name, len, o->name);
            if (d < best && cli_is_near(d, strlen(o->name))) {
                best = d;
                near = o->name;
            }
        }
        if (matches > 1)
            say(cmd, "ambiguous option '%s' (could be %s)", word, list);
        else if (near)
            say(cmd, "unknown option '%s' (did you mean --%s?)", word, near);
        else
            say(cmd, "unknown option '%s'", word);
    }
    if (!cmd->silent) {
        if (cmd->hint)
            fprintf(stderr, "(%s)\n", cmd->hint);
        else
            fprintf(stderr, "(%s --help lists the options)\n", cmd->prog);
    }
    return CGALR_EXIT_USAGE;
}

/* An integer field at its own width. The tables keep max within the field's type (a signed field
 * gets no value above its largest), so the bytes are the value's either way. */
static void put_uint(void *p, size_t size, unsigned long long v)
{
    if (size == 1) {
        uint8_t x = (uint8_t)v;
        memcpy(p, &x, 1);
    } else if (size == 2) {
        uint16_t x = (uint16_t)v;
        memcpy(p, &x, 2);
    } else if (size == 4) {
        uint32_t x = (uint32_t)v;
        memcpy(p, &x, 4);
    } else {
        uint64_t x = (uint64_t)v;
        memcpy(p, &x, 8);
    }
}

static int in_range(const cli_opt_t *r, double v)
{
    if (!r->range)
        return 1;
    int lo_ok = (r->flags & CLI_LO_OPEN) ? v > r->lo : v >= r->lo;
    int hi_ok = (r->flags & CLI_HI_OPEN) ? v < r->hi : v <= r->hi;
    return lo_ok && (hi_ok || (v == INFINITY && (r->flags & CLI_INF_OK)));
}

/* Strict numbers: the whole argument must parse, and NaN (and inf unless the row allows it) never
 * reaches the library. */
static int parse_double(const cli_cmd_t *cmd, const cli_opt_t *r, const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    int ok = !errno && end != s && !*end && (isfinite(v) || (v == INFINITY && (r->flags & CLI_INF_OK)));
    if (!ok || !in_range(r, v)) {
        if (r->range)
            say(cmd, "--%s '%s': expected a number in %s", r->name, s, r->range);
        else
            say(cmd, "--%s '%s': not a number", r->name, s);
        return 0;
    }
    *out = v;
    return 1;
}

/* One row of the command's own table applied to target: 0, CLI_HELP, or an exit code. */
static int apply(const cli_cmd_t *cmd, const cli_opt_t *r, const char *arg, void *target)
{
    char *field = (char *)target + r->off;
    unsigned long long v;
    double d;
    switch (r->kind) {
    case CLI_OPT_STRING: memcpy(field, &arg, sizeof arg); return 0;
    case CLI_OPT_DOUBLE:
        if (!parse_double(cmd, r, arg, &d))
            return CGALR_EXIT_USAGE;
        memcpy(field, &d, sizeof d);
        return 0;
    case CLI_OPT_UINT:
        if (!cli_parse_uint(arg, r->min, r->max, &v)) {
            say(cmd, "--%s '%s': expected a decimal integer in %llu .. %llu", r->name, arg, r->min, r->max);
            return CGALR_EXIT_USAGE;
        }
        put_uint(field, r->size, v);
        return 0;
    case CLI_OPT_SET1: put_uint(field, r->size, 1); return 0;
    case CLI_OPT_SET0: put_uint(field, r->size, 0); return 0;
    case CLI_OPT_CALL: return r->call(target, arg);
    case CLI_OPT_HELP:
        if (cmd->usage && !cmd->silent)
            cmd->usage(stdout);
        return CLI_HELP;
    case CLI_OPT_END: break;
    }
    say(cmd, "--%s: no parser for this option (a bug)", r->name);
    return CGALR_EXIT_FAIL;
}

int cli_opt_parse(const cli_cmd_t *cmd, int argc, char **argv, void *target, unsigned char *given)
{
    struct option lo[CLI_MAX_OPTS + 1];
    char shorts[2 * CLI_MAX_OPTS + 3];
    if (build(cmd, lo, shorts) < 0) {
        say(cmd, "more than %d options (a bug)", CLI_MAX_OPTS);
        return CGALR_EXIT_FAIL;
    }
    if (given)
        memset(given, 0, (size_t)rows(cmd->opts));
    optind = 0; /* 0, not 1: glibc starts a fresh scan (train parses twice on --resume) */
    opterr = 0; /* the messages are ours, naming the command */
    int c;
    while ((c = getopt_long(argc, argv, shorts, lo, NULL)) != -1) {
        if (c == '?' || c == ':')
            return bad_option(cmd, lo, c, argv);
        const cli_opt_t *r = row_of(cmd, c);
        int rc;
        if (c >= VAL_PASS)
            rc = cmd->on_pass(target, r, r->metavar ? optarg : NULL);
        else {
            if (given)
                given[r - cmd->opts] = 1;
            rc = apply(cmd, r, optarg, target);
        }
        if (rc)
            return rc;
    }
    return 0;
}

int cli_opt_exit(int rc) { return rc == CLI_HELP ? CGALR_EXIT_OK : rc; }

/* ---- --help ---------------------------------------------------------------------------------- */

/* Where --help lines wrap a range onto a line of its own (the tables' prose stays under it). */
enum { HELP_COLS = 100 };

static void indent(FILE *f) { fprintf(f, "\n%*s", 2 + HEAD_W + 1, ""); }

/* The range a row accepts, as --help shows it ("" where any value of its type goes). */
static void range_text(const cli_opt_t *t, char *buf, size_t n)
{
    buf[0] = '\0';
    if (t->range && (t->kind == CLI_OPT_UINT || t->kind == CLI_OPT_DOUBLE))
        snprintf(buf, n, "range %s", t->range);
    else if (t->kind == CLI_OPT_UINT && t->max != ~0ULL)
        snprintf(buf, n, "range %llu .. %llu", t->min, t->max);
    else if (t->kind == CLI_OPT_UINT && t->min)
        snprintf(buf, n, "range >= %llu", t->min);
}

void cli_opt_help(FILE *f, const cli_opt_t *t)
{
    for (; t->name; t++) {
        char head[128], key[8] = "", range[96];
        if (t->key)
            snprintf(key, sizeof key, "-%c, ", t->key);
        int w = snprintf(head, sizeof head, "%s--%s%s%s", key, t->name, t->metavar ? " " : "",
                         t->metavar ? t->metavar : "");
        fprintf(f, "  %-*s", HEAD_W, head);
        size_t col = 2 + HEAD_W + 1;
        if (w >= HEAD_W)
            indent(f);
        else
            fputc(' ', f);
        for (const char *p = t->help; *p; p++, col++) {
            if (*p == '\n') {
                indent(f);
                col = 2 + HEAD_W;
            } else
                fputc(*p, f);
        }
        if (t->more) {
            fputs(t->more(), f);
            col += strlen(t->more());
        }
        range_text(t, range, sizeof range);
        if (*range && *t->help && col + 2 + strlen(range) > HELP_COLS)
            indent(f);
        else if (*range && *t->help)
            fputs(", ", f);
        fprintf(f, "%s\n", range);
    }
}
