/* `cgalr report`: reads every run directory of a grid, picks the best and worst grid learning
 * rate per method, computes RED against the baselines with t-intervals, writes report.md and
 * renders figures with gnuplot. Every number comes from config.json and metrics.jsonl alone.
 * The steps: collect.c (the runs), red.c (grid cells, best and worst, RED), tables.c, figures.c
 * and provenance.c (the reproduce lines). */
#include "cgalr/report.h"

#include "core/files.h"
#include "report/provenance.h"
#include "report/report_internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

void cgalr_report_config_default(cgalr_report_config_t *cfg)
{
    cfg->figures = 1;
    cfg->gnuplot = "gnuplot";
}

void report_printf(sbuf *b, const char *fmt, ...)
{
    if (b->oom)
        return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        size_t room = b->cap - b->len;
        int n = vsnprintf(b->s ? b->s + b->len : NULL, b->s ? room : 0, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->oom = 1;
            return;
        }
        if (b->s && (size_t)n < room) {
            b->len += (size_t)n;
            return;
        }
        size_t nc = (b->cap ? b->cap * 2 : 4096) + (size_t)n + 1;
        char *ns = realloc(b->s, nc);
        if (!ns) {
            b->oom = 1;
            return;
        }
        b->s = ns;
        b->cap = nc;
    }
}

cgalr_status_t cgalr_report_write(const char *dir, const cgalr_report_config_t *cfg_in,
                                  cgalr_report_result_t *result)
{
    if (!dir || !*dir)
        return cgalr_fail(CGALR_EINVAL, "cgalr_report_write: no directory given");
    cgalr_report_config_t cfg;
    if (cfg_in)
        cfg = *cfg_in;
    else
        cgalr_report_config_default(&cfg);
    if (!cfg.gnuplot)
        cfg.gnuplot = "gnuplot";
    if (result)
        memset(result, 0, sizeof *result);
    struct stat dst;
    if (stat(dir, &dst) != 0 || !S_ISDIR(dst.st_mode))
        return cgalr_fail(CGALR_EIO, "%s: not a directory", dir);

    collection c;
    grouping g = {0};
    sbuf md = {0};
    cgalr_status_t st = report_collect(dir, &c);
    if (st == CGALR_OK)
        st = report_group(c.runs, c.n, &g);
    if (st != CGALR_OK)
        goto done;
    run *runs = c.runs;

    char figdir[4096];
    snprintf(figdir, sizeof figdir, "%s/figures", dir);
    if (cfg.figures && mkdir(figdir, 0777) != 0 && errno != EEXIST) {
        st = cgalr_fail(CGALR_EIO, "%s: cannot create: %s", figdir, strerror(errno));
        goto done;
    }
    if (cfg.figures) {
        char logp[4200];
        snprintf(logp, sizeof logp, "%s/gnuplot.log", figdir);
        remove(logp);
    }
    figctx fx = {figdir, cfg.gnuplot, cfg.figures, 0, 0, 0};

    report_printf(&md, "# cgalr report\n\n%zu complete runs", c.n);
    if (c.n_skip)
        report_printf(&md, ", %zu left out (listed at the end)", c.n_skip);
    report_printf(&md, ", %zu dataset/model pair%s. Every number below is recomputable from the runs' "
                   "config.json and metrics.jsonl.\n\n",
              g.ndg, g.ndg == 1 ? "" : "s");
    {
        /* how to remake these runs, told by the runs themselves (provenance.c) */
        report_run_command_t *rc = calloc(c.n + 1, sizeof *rc);
        for (size_t i = 0; rc && i < c.n; i++) {
            rc[i].dir = c.runs[i].dir;
            rc[i].command = c.runs[i].command;
            rc[i].has_lr = report_method_has_lr(c.runs[i].method);
            rc[i].kernels = c.runs[i].kernels;
        }
        char *prov = rc ? report_provenance(rc, c.n, dir) : NULL;
        free(rc);
        if (!prov)
            md.oom = 1;
        else
            report_printf(&md, "%s", prov);
        free(prov);
    }
    report_definitions(&md);

    for (size_t d = 0; d < g.ndg; d++) {
        const dgroup *D = &g.dg[d];
        report_dataset_tables(&md, runs, &g, D);
        if (cfg.figures) {
            report_printf(&md, "\n### Figures\n\n");
            report_dataset_figures(&fx, &md, runs, g.cells, g.mg, D);
        }
    }
    if (fx.oom) {
        st = cgalr_fail(CGALR_ENOMEM, "out of memory");
        goto done;
    }
    if (cfg.figures && fx.failed)
        report_printf(&md, "**Figures were not all rendered**: gnuplot (`%s`) is missing or failed; see "
                       "figures/gnuplot.log. The .dat and .gp files are written: run `gnuplot NAME.gp` in "
                       "figures/.\n\n",
                  cfg.gnuplot);
    else if (!cfg.figures)
        report_printf(&md, "Figures were not requested (--no-figures).\n\n");
    report_still_runs(&md, runs, c.n, dir);
    if (c.n_skip) {
        report_printf(&md, "## Runs left out\n\n| run directory | why |\n| --- | --- |\n");
        for (size_t i = 0; i < c.n_skip; i++) {
            size_t dl = strlen(dir);
            const char *rd = report_rel_dir(dir, c.skip[i].dir), *why = c.skip[i].why;
            const char *at = strstr(why, dir);
            if (at && at[dl] == '/')
                report_printf(&md, "| %s | %.*s%s |\n", rd, (int)(at - why), why, at + dl + 1);
            else
                report_printf(&md, "| %s | %s |\n", rd, why);
        }
        report_printf(&md, "\n");
    }
    if (md.oom) {
        st = cgalr_fail(CGALR_ENOMEM, "out of memory");
        goto done;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/report.md", dir);
    if ((st = core_write_atomic(path, md.s, md.len, 0)) != CGALR_OK)
        goto done;
    if (result) {
        result->runs = c.n;
        result->incomplete = c.n_skip;
        result->datasets = g.ndg;
        result->figures = fx.rendered;
        result->figures_failed = cfg.figures && fx.failed;
    }
done:
    free(md.s);
    report_grouping_free(&g);
    report_collection_free(&c);
    return st;
}
