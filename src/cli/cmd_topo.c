/* `cgalr topo`: placeholder until its layer lands; says so instead of pretending. */
#include <stdio.h>

#include "cli/cli.h"

int cgalr_cmd_topo(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "cgalr topo: not implemented yet\n");
    return CGALR_EXIT_FAIL;
}
