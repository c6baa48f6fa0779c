/* Small things every subcommand shares. */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/files.h"

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

char *cli_read_text(const char *path)
{
    char *text = NULL;
    size_t len;
    return core_read_text(path, SIZE_MAX, &text, &len) == CGALR_OK ? text : NULL;
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

size_t cli_edit_distance(const char *a, size_t alen, const char *b)
{
    size_t blen = strlen(b);
    if (alen >= CLI_FAR || blen >= CLI_FAR)
        return CLI_FAR;
    /* three rows of the (alen + 1) x (blen + 1) table: two back for the swap of neighbours */
    size_t r0[CLI_FAR + 1], r1[CLI_FAR + 1], r2[CLI_FAR + 1];
    size_t *prev2 = r0, *prev = r1, *cur = r2;
    for (size_t j = 0; j <= blen; j++)
        prev[j] = j;
    for (size_t i = 1; i <= alen; i++) {
        cur[0] = i;
        for (size_t j = 1; j <= blen; j++) {
            size_t cost = a[i - 1] != b[j - 1];
            size_t best = prev[j - 1] + cost;
            if (prev[j] + 1 < best)
                best = prev[j] + 1;
            if (cur[j - 1] + 1 < best)
                best = cur[j - 1] + 1;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] && prev2[j - 2] + 1 < best)
                best = prev2[j - 2] + 1;
            cur[j] = best;
        }
        size_t *t = prev2;
        prev2 = prev;
        prev = cur;
        cur = t;
    }
    return prev[blen];
}

int cli_is_near(size_t d, size_t n)
{
    /* one slip in a short name, two in a long one; never most of the name */
    return d > 0 && d <= (n >= 6 ? 2u : 1u) && 2 * d < n;
}
