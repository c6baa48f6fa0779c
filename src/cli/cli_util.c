/* Small things every subcommand shares. */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

int cli_parse_uint(const char *s, unsigned long long lo, unsigned long long hi, unsigned long long *out)
{
    if (!s || !*s)
        return 0;
    for (const char *c = s; *c; c++)
        if (*c < '0' || *c > '9')
            return 0;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || v < lo || v > hi)
        return 0;
    *out = v;
    return 1;
}

int cli_exit_code(cgalr_status_t st)
{
    if (st == CGALR_OK)
        return CGALR_EXIT_OK;
    /* 2: what the user fixes by changing the command or its input (options, malformed or
     * non-finite data, a run directory in the wrong state); 1: what failed while running (a
     * file that cannot be opened, read or written, memory, a bug). The one mapping of every
     * subcommand. */
    return (st == CGALR_EINVAL || st == CGALR_EFORMAT || st == CGALR_ESTATE || st == CGALR_ENONFINITE)
               ? CGALR_EXIT_USAGE
               : CGALR_EXIT_FAIL;
}

/* The whole file in memory, NUL-terminated ("-" is stdin). */
cgalr_status_t cli_slurp(const char *path, char **out, size_t *len)
{
    FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
    if (!f)
        return cgalr_fail(CGALR_EIO, "%s: cannot open: %s", path, strerror(errno));
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    cgalr_status_t st = CGALR_OK;
    while (buf) {
        if (n + 1 >= cap) {
            char *nb = cap > SIZE_MAX / 2 ? NULL : realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
        size_t got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
        if (got == 0)
            break;
    }
    if (!buf)
        st = cgalr_fail(CGALR_ENOMEM, "%s: out of memory reading %zu bytes", path, n);
    else if (ferror(f))
        st = cgalr_fail(CGALR_EIO, "%s: read error after %zu bytes", path, n);
    if (f != stdin)
        fclose(f);
    if (st != CGALR_OK) {
        free(buf);
        return st;
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return CGALR_OK;
}

char *cli_read_text(const char *path)
{
    char *text = NULL;
    size_t len;
    return cli_slurp(path, &text, &len) == CGALR_OK ? text : NULL;
}

void cli_fmt_time(char *buf, size_t n, double s)
{
    if (!isfinite(s) || s < 0)
        snprintf(buf, n, "?");
    else if (s < 60)
        snprintf(buf, n, "%.0fs", s);
    else if (s < 3600)
        snprintf(buf, n, "%dm%02ds", (int)(s / 60), (int)fmod(s, 60));
    else
        snprintf(buf, n, "%dh%02dm", (int)(s / 3600), (int)fmod(s / 60, 60));
}
