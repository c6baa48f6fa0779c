/* `cgalr data`: placeholder until its layer lands; says so instead of pretending. */
#include <stdio.h>

#include "cli/cli.h"

int cgalr_cmd_data(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "cgalr data: not implemented yet\n");
    return CGALR_EXIT_FAIL;
}
