/* `cgalr report DIR`: tables, RED and figures from a grid (or single run) directory. */
#include <stdio.h>
#include <string.h>

#include "cgalr/report.h"
#include "cli/cli.h"

typedef struct {
    cgalr_report_config_t cfg;
    int quiet;
} report_args;

#define RA report_args
static const cli_opt_t report_opts[] = {
    CLI_SET0(RA, cfg.figures, "no-figures", "tables only"),
    CLI_STR(RA, cfg.gnuplot, "gnuplot", "CMD", "gnuplot program to render figures (default gnuplot)"),
    CLI_SET1_KEY(RA, quiet, "quiet", 'q', "print nothing on success"),
    CLI_HELP_ROW,
    CLI_END,
};
#undef RA

static void usage(FILE *f)
{
    fprintf(f, "usage: cgalr report DIR [--no-figures] [--gnuplot CMD] [--quiet]\n\n"
               "Reads every run directory under DIR (config.json + metrics.jsonl), picks each method's best\n"
               "and worst grid learning rate by mean final validation accuracy over its runs (seeds, and\n"
               "folds; ties by validation loss; the choice by validation loss alone is shown beside it),\n"
               "computes RED of each CG-ALR variant against each baseline with a 95%% t-interval, paired\n"
               "by (fold, seed), and writes DIR/report.md with figures (PNG and SVG, with their .gp\n"
               "scripts and .dat data) in DIR/figures.\n\n");
    cli_opt_help(f, report_opts);
}

int cgalr_cmd_report(int argc, char **argv)
{
    report_args a = {.quiet = 0};
    cgalr_report_config_default(&a.cfg);
    const cli_cmd_t cmd = {.prog = "cgalr report", .opts = report_opts, .usage = usage};
    int rc = cli_opt_parse(&cmd, argc, argv, &a, NULL);
    if (rc)
        return cli_opt_exit(rc);
    cgalr_report_config_t cfg = a.cfg;
    int quiet = a.quiet;
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
