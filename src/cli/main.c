/* Entry point of the cgalr tool: dispatches to one file per subcommand. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/dist.h"

typedef struct {
    const char *name;
    int (*run)(int, char **);
    const char *summary;
} command;

static const command commands[] = {
    {"train", cgalr_cmd_train, "train one model with one learning-rate method, writing a run directory"},
    {"grid", cgalr_cmd_grid, "run every (method, learning rate, seed) of an evaluation grid"},
    {"report", cgalr_cmd_report, "tables, RED and figures from a grid or run directory"},
    {"data", cgalr_cmd_data, "show what a dataset resolves to: files, splits, classes, shapes"},
    {"topo", cgalr_cmd_topo, "connectomes, barcodes, Rips diagrams and TOP/WD/SWK distances"},
    {"bench", cgalr_cmd_bench, "time cgalr's kernels on this machine"},
};
#define N_COMMANDS (sizeof commands / sizeof commands[0])

static void usage(FILE *f)
{
    fprintf(f, "usage: cgalr <command> [options]   (cgalr <command> --help for its options)\n\n"
               "Connectome-Guided Automatic Learning Rates: trains networks whose learning rate\n"
               "follows the topology of their own functional connectome.\n\ncommands:\n");
    for (size_t i = 0; i < N_COMMANDS; i++)
        fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].summary);
}

static int run(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return CGALR_EXIT_USAGE;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return CGALR_EXIT_OK;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("cgalr 0.1.0 (MPI: %s)\n", cli_dist_built_with_mpi() ? "yes" : "no");
        return CGALR_EXIT_OK;
    }
    for (size_t i = 0; i < N_COMMANDS; i++) {
        if (strcmp(argv[1], commands[i].name))
            continue;
        if (cli_dist_size() > 1 && strcmp(argv[1], "grid") && strcmp(argv[1], "train")) {
            if (cli_dist_rank() == 0)
                fprintf(stderr, "cgalr %s: started on %d MPI ranks, but only `cgalr grid` (a work queue) and "
                                "`cgalr train` (data parallel) run on several ranks; run it as one process\n",
                        argv[1], cli_dist_size());
            return CGALR_EXIT_USAGE;
        }
        return commands[i].run(argc - 1, argv + 1);
    }
    fprintf(stderr, "cgalr: unknown command '%s'", argv[1]);
    for (size_t i = 0; i < N_COMMANDS; i++)
        if (cli_is_near(cli_edit_distance(argv[1], strlen(argv[1]), commands[i].name), strlen(commands[i].name))) {
            fprintf(stderr, " (did you mean '%s'?)", commands[i].name);
            break;
        }
    fprintf(stderr, "; valid commands:");
    for (size_t i = 0; i < N_COMMANDS; i++)
        fprintf(stderr, " %s", commands[i].name);
    fprintf(stderr, "\n");
    return CGALR_EXIT_USAGE;
}

int main(int argc, char **argv)
{
    int rc = cli_dist_init(&argc, &argv);
    if (rc != 0)
        return rc;
    rc = run(argc, argv);
    cli_dist_finalize();
    return rc;
}
