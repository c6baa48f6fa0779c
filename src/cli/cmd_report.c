/* `cgalr report DIR`: tables, RED and figures from a grid (or single run) directory. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cgalr/report.h"
#include "cli/cli.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: cgalr report DIR [--no-figures] [--gnuplot CMD] [--quiet]\n\n"
               "Reads every run directory under DIR (config.json + metrics.jsonl), picks each method's best\n"
               "and worst grid learning rate by mean final validation accuracy over its runs (seeds, and\n"
               "folds; ties by validation loss; the choice by validation loss alone is shown beside it),\n"
               "computes RED of each CG-ALR variant against each baseline with a 95%% t-interval, paired\n"
               "by (fold, seed), and writes DIR/report.md with figures (PNG and SVG, with their .gp\n"
               "scripts and .dat data) in DIR/figures.\n\n"
               "  --no-figures   tables only\n"
               "  --gnuplot CMD  gnuplot program to render figures (default gnuplot)\n"
               "  --quiet        print nothing on success\n");
}

int cgalr_cmd_report(int argc, char **argv)
{
    static const struct option opts[] = {{"no-figures", no_argument, 0, 'n'},
                                         {"gnuplot", required_argument, 0, 'g'},
                                         {"quiet", no_argument, 0, 'q'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    cgalr_report_config_t cfg;
    cgalr_report_config_default(&cfg);
    int quiet = 0, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "hq", opts, NULL)) != -1) {
        switch (c) {
        case 'n': cfg.figures = 0; break;
        case 'g': cfg.gnuplot = optarg; break;
        case 'q': quiet = 1; break;
        case 'h': usage(stdout); return CGALR_EXIT_OK;
        default: usage(stderr); return CGALR_EXIT_USAGE;
        }
    }
    if (optind != argc - 1) {
        fprintf(stderr, "cgalr report: expected exactly one directory\n");
        usage(stderr);
        return CGALR_EXIT_USAGE;
    }
    const char *dir = argv[optind];
    cgalr_report_result_t res;
    cgalr_status_t st = cgalr_report_write(dir, &cfg, &res);
    if (st != CGALR_OK) {
        fprintf(stderr, "cgalr report: %s\n", cgalr_last_error());
        return cli_exit_code(st);
    }
    if (!quiet) {
        printf("report: %s/report.md (%zu runs, %zu left out, %zu dataset/model pairs)\n", dir, res.runs,
               res.incomplete, res.datasets);
        if (cfg.figures)
            printf("figures: %s/figures (%zu rendered as PNG and SVG)\n", dir, res.figures);
    }
    if (res.figures_failed) {
        fprintf(stderr, "cgalr report: some figures were not rendered (see %s/figures/gnuplot.log)\n", dir);
        return CGALR_EXIT_FAIL;
    }
    return CGALR_EXIT_OK;
}
