/* Small things every subcommand shares. */
#include <stdio.h>
#include <stdlib.h>

#include "cli/cli.h"

int cli_exit_code(cgalr_status_t st)
{
    if (st == CGALR_OK)
        return CGALR_EXIT_OK;
    /* what the user can fix by changing the command or its input */
    return (st == CGALR_EINVAL || st == CGALR_EFORMAT || st == CGALR_ESTATE) ? CGALR_EXIT_USAGE : CGALR_EXIT_FAIL;
}

char *cli_read_text(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap + 1);
    while (buf) {
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (n < cap)
            break;
        if (cap >= (1u << 24)) { /* a config or summary is never this large */
            free(buf);
            buf = NULL;
            break;
        }
        char *nb = realloc(buf, 2 * cap + 1);
        if (!nb) {
            free(buf);
            buf = NULL;
            break;
        }
        buf = nb;
        cap *= 2;
    }
    fclose(f);
    if (buf)
        buf[n] = '\0';
    return buf;
}
