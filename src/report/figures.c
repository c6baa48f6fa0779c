/* The figures of report.md, as the paper draws them: the learning rate over epochs, training and
 * validation loss (best grid value thick, worst thin, min-max band over the runs, diverged runs
 * crossed at their last finite point) and the controller trace; each one a .dat, a .gp script and
 * the PNG and SVG gnuplot renders from them. */
#include "report/figures_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/files.h"
#include "report/figure_style.h"

void report_fig_slug(char *out, size_t cap, const char *a, const char *b)
{
    size_t k = 0;
    for (const char *p = a; *p && k + 1 < cap; p++)
        out[k++] = *p;
    if (k + 1 < cap)
        out[k++] = '_';
    for (const char *p = b; *p && k + 1 < cap; p++)
        out[k++] = *p;
    out[k] = '\0';
    for (char *p = out; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '-'))
            *p = '_';
}

void report_fig_safe(char *out, size_t cap, const char *s)
{
    snprintf(out, cap, "%s", s);
    for (char *p = out; *p; p++)
        if (*p == '"' || *p == '\\' || *p == '\n' || (unsigned char)*p < 32)
            *p = '_';
}

static double field(const cgalr_epoch_record_t *r, int which)
{
    switch (which) {
    case 0: return r->lr;
    case 1: return r->train_loss;
    case 2: return r->val_loss;
    default: return NAN;
    }
}

static size_t cell_epochs(const run *runs, const cell *c)
{
    size_t maxe = 0;
    for (size_t i = 0; i < c->count; i++)
        if (runs[c->first + i].m.n > maxe)
            maxe = runs[c->first + i].m.n;
    return maxe;
}

/* Mean, min and max of `which` at epoch index e over the cell's runs with a finite value there;
 * returns how many runs that is. */
static size_t epoch_stats(const run *runs, const cell *c, int which, size_t e, double *mean, double *lo, double *hi)
{
    double sum = 0;
    size_t k = 0;
    *lo = *hi = NAN;
    for (size_t i = 0; i < c->count; i++) {
        const run *r = &runs[c->first + i];
        if (e >= r->m.n)
            continue;
        double v = field(&r->m.rec[e], which);
        if (!isfinite(v))
            continue;
        sum += v;
        *lo = k == 0 || v < *lo ? v : *lo;
        *hi = k == 0 || v > *hi ? v : *hi;
        k++;
    }
    *mean = k ? sum / (double)k : NAN;
    return k;
}

/* Per-epoch mean, min and max over the runs of a cell; one data block. */
static void cell_block(sbuf *b, const run *runs, const cell *c, int which, const char *label)
{
    size_t maxe = cell_epochs(runs, c);
    report_printf(b, "# %s\n# epoch mean min max\n", label);
    for (size_t e = 0; e < maxe; e++) {
        double mean, lo, hi;
        if (epoch_stats(runs, c, which, e, &mean, &lo, &hi))
            report_printf(b, "%zu %.10g %.10g %.10g\n", e + 1, mean, lo, hi);
        else
            report_printf(b, "%zu NaN NaN NaN\n", e + 1);
    }
    if (maxe == 0)
        report_printf(b, "1 NaN NaN NaN\n");
    report_printf(b, "\n\n");
}

/* Wraps a plot body so one script renders both PNG (pngcairo if present, else png) and SVG. */
static void gp_script(sbuf *gp, const char *name, const char *body, int multi_rows)
{
    int h = multi_rows > 1 ? 250 * multi_rows : 560;
    report_printf(gp,
              "# Renders %s.png and %s.svg from %s.dat; edit and rerun `gnuplot %s.gp` to restyle.\n"
              "set datafile missing \"NaN\"\n"
              "if (strstrt(GPVAL_TERMINALS, \"pngcairo\") > 0) {\n"
              "  set terminal pngcairo size 900,%d noenhanced font \",10\"\n"
              "} else {\n"
              "  set terminal png size 900,%d noenhanced\n"
              "}\n"
              "set output \"%s.png\"\n%s"
              "unset multiplot\nset output\n"
              "set terminal svg size 900,%d noenhanced\n"
              "set output \"%s.svg\"\n%s"
              "unset multiplot\nset output\n",
              name, name, name, name, h, h, name, body, h, name, body);
}

static int render(const char *figdir, const char *name, const char *gnuplot)
{
    char script[512];
    snprintf(script, sizeof script, "%s.gp", name);
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        return 0;
    if (pid == 0) {
        if (chdir(figdir) != 0)
            _exit(127);
        int fd = open("gnuplot.log", O_WRONLY | O_CREAT | O_APPEND, 0644);
        int nul = open("/dev/null", O_RDONLY);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        if (nul >= 0)
            dup2(nul, 0);
        execlp(gnuplot, gnuplot, script, (char *)NULL);
        _exit(127);
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return 0;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return 0;
    char p[4096];
    struct stat st;
    snprintf(p, sizeof p, "%s/%s.png", figdir, name);
    if (stat(p, &st) != 0 || st.st_size == 0)
        return 0;
    snprintf(p, sizeof p, "%s/%s.svg", figdir, name);
    return stat(p, &st) == 0 && st.st_size > 0;
}


/* Writes name.dat and name.gp, renders; appends the markdown link. */
void report_fig_write(figctx *fx, sbuf *md, const char *name, const char *caption, sbuf *dat, const char *body,
                      int rows)
{
    if (dat->oom) {
        fx->oom = 1;
        return;
    }
    char p[4096];
    sbuf gp = {0};
    gp_script(&gp, name, body, rows);
    if (gp.oom) {
        fx->oom = 1;
        free(gp.s);
        return;
    }
    snprintf(p, sizeof p, "%s/%s.dat", fx->figdir, name);
    int ok = core_write_atomic(p, dat->s ? dat->s : "", dat->len, 0) == CGALR_OK;
    snprintf(p, sizeof p, "%s/%s.gp", fx->figdir, name);
    ok = ok && core_write_atomic(p, gp.s, gp.len, 0) == CGALR_OK;
    free(gp.s);
    if (ok && fx->enabled && !fx->failed) {
        if (render(fx->figdir, name, fx->gnuplot))
            fx->rendered++;
        else
            fx->failed = 1;
    }
    if (!ok)
        fx->failed = 1;
    report_printf(md, "![%s](figures/%s.png)\n\n*%s* (figures/%s.svg, data figures/%s.dat, script figures/%s.gp)\n\n",
              caption, name, caption, name, name, name);
}

/* Every curve of a method goes through here, so a method looks the same in every figure. */
void report_fig_style(sbuf *b, const char *method, double lw)
{
    fig_style_t st = fig_style_for(method);
    report_printf(b, "lc rgb \"%s\" dt %d lw %g", st.colour, st.dash, lw > 0 ? lw : st.lw);
}

/* The last finite value of `which` in each diverged run of a cell: one block of "epoch value seed"
 * rows, written only when there is a point (a run that diverged in its first epoch has none).
 * Returns the number of points. */
static size_t diverged_block(sbuf *b, const run *runs, const cell *c, int which, const char *label)
{
    size_t k = 0;
    for (size_t i = 0; i < c->count; i++) {
        const run *r = &runs[c->first + i];
        if (!r->m.diverged)
            continue;
        for (size_t e = r->m.n; e-- > 0;) {
            double v = field(&r->m.rec[e], which);
            if (!isfinite(v))
                continue;
            if (k++ == 0)
                report_printf(b, "# %s: last finite point of each diverged run\n# epoch value seed\n", label);
            report_printf(b, "%zu %.10g %lld\n", e + 1, v, r->seed);
            break;
        }
    }
    if (k)
        report_printf(b, "\n\n");
    return k;
}

/* A method's curve title: its grid value, which cell, and "(diverged k/n)" when runs diverged. */
static void curve_title(char *out, size_t cap, const char *method, const cell *c, const char *which)
{
    char lab[300], div[64] = "";
    if (c->diverged)
        snprintf(div, sizeof div, " (diverged %zu/%zu)", c->diverged, c->count);
    if (isnan(c->lr))
        snprintf(lab, sizeof lab, "%s%s%s", method, which, div);
    else
        snprintf(lab, sizeof lab, "%s lr=%g%s%s", method, c->lr, which, div);
    report_fig_safe(out, cap, lab);
}

/* Crosses at the diverged runs' last finite points, in the method's colour; on the top edge
 * when above the clipped axis's ymax. */
static void diverged_plot(sbuf *body, const char *name, size_t block, const char *method, int clipped)
{
    report_printf(body, ", \\\n     \"%s.dat\" index %zu using 1:%s with points pt 2 ps 2 ", name, block,
                  clipped ? "($2>ymax?ymax:$2)" : "2");
    report_fig_style(body, method, 2);
    report_printf(body, " notitle");
}

/* The learning rate at each method's best grid value. */
static void lr_figure(const figset *f)
{
    char name[400], title[300];
    const char *base = f->base, *t2 = f->t2, *model = f->model;
    figctx *fx = f->fx;
    sbuf *md = f->md;
    const run *runs = f->runs;
    const cell *cells = f->cells;
    const mgroup *mg = f->mg;
    const dgroup *dg = f->dg;
    (void)mg;
    sbuf dat = {0}, body = {0};
    snprintf(name, sizeof name, "%s_lr", base);
    report_printf(&body, "set title \"%s (%s): learning rate at the best grid value, mean over seeds (x: diverged)\"\n"
                     "set xlabel \"epoch\"\nset ylabel \"learning rate\"\nset logscale y\nset format y \"%%g\"\nset key outside right\n"
                     "plot ",
              t2, model);
    size_t block = 0;
    for (size_t k = 0; k < dg->n_methods; k++) {
        const mgroup *g = &mg[dg->first_method + k];
        const cell *c = &cells[g->best];
        curve_title(title, sizeof title, g->method, c, "");
        cell_block(&dat, runs, c, 0, title);
        report_printf(&body, "%s\"%s.dat\" index %zu using 1:2 with linespoints pt 7 ps 0.5 ", k ? ", \\\n     " : "",
                  name, block++);
        report_fig_style(&body, g->method, 0);
        report_printf(&body, " title \"%s\"", title);
        if (diverged_block(&dat, runs, c, 0, title))
            diverged_plot(&body, name, block++, g->method, 0);
    }
    report_printf(&body, "\n");
    report_fig_write(fx, md, name, "Learning rate over epochs per method (best grid value; a cross marks where a diverged "
                         "run stopped)", &dat, body.s ? body.s : "", 1);
    free(dat.s);
    free(body.s);
    fx->oom |= body.oom;
}

/* Where the loss axis stops: a diverged or exploding run reaches 1e35 and would squeeze every
 * useful curve into the bottom decade. The ceiling is 100x the 95th percentile of the best grid
 * values' mean curves (pooled over methods and epochs; a percentile, so one spike of one best
 * curve does not lift it), rounded up to 1, 2 or 5 times a power of ten. Returns 0 (no clipping) when every plotted
 * value lies below it, else 1 with *ceiling set; 0 as well when out of memory (*oom set). */
static int loss_ceiling(const figset *f, int which, double *ceiling, int *oom)
{
    const dgroup *dg = f->dg;
    size_t cap = 0, n = 0;
    for (size_t k = 0; k < dg->n_methods; k++)
        cap += cell_epochs(f->runs, &f->cells[f->mg[dg->first_method + k].best]);
    double *v = malloc((cap ? cap : 1) * sizeof *v), top = -INFINITY;
    if (!v) {
        *oom = 1;
        return 0;
    }
    for (size_t k = 0; k < dg->n_methods; k++) {
        const mgroup *g = &f->mg[dg->first_method + k];
        for (int w = 0; w < 2; w++) {
            const cell *c = &f->cells[w == 0 ? g->best : g->worst];
            for (size_t e = 0, ne = cell_epochs(f->runs, c); e < ne; e++) {
                double mean, lo, hi;
                if (!epoch_stats(f->runs, c, which, e, &mean, &lo, &hi))
                    continue;
                top = hi > top ? hi : top;
                if (w == 0 && mean > 0)
                    v[n++] = mean;
            }
        }
    }
    double q = report_quantile(v, n, 0.95);
    free(v);
    if (!(q > 0))
        return 0;
    double x = 100.0 * q, p10 = pow(10.0, floor(log10(x))), m = x / p10;
    *ceiling = p10 * (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10);
    return top > *ceiling;
}

/* Whether any per-epoch mean of the cell lies above ymax (then it gets off-scale triangles). */
static int cell_above(const run *runs, const cell *c, int which, double ymax)
{
    for (size_t e = 0, ne = cell_epochs(runs, c); e < ne; e++) {
        double mean, lo, hi;
        if (epoch_stats(runs, c, which, e, &mean, &lo, &hi) && mean > ymax)
            return 1;
    }
    return 0;
}

/* Training (which = 1) or validation (2) loss: best thick with its min-max band, worst thin with
 * open circles (no band: a worst value's diverged runs would fill the plot with it); the axis
 * clipped at loss_ceiling, with off-scale means as triangles on the top edge. */
static void loss_figure(const figset *f, int which)
{
    char name[400], title[300], caption[700], clip[300] = "";
    const run *runs = f->runs;
    const cell *cells = f->cells;
    const dgroup *dg = f->dg;
    sbuf dat = {0}, body = {0};
    const char *what = which == 1 ? "training loss" : "validation loss";
    double ymax = NAN;
    int clipped = loss_ceiling(f, which, &ymax, &f->fx->oom);
    snprintf(name, sizeof name, "%s_%s", f->base, which == 1 ? "train_loss" : "val_loss");
    report_printf(&body, "set title \"%s (%s): %s (best lr thick, worst thin, x: diverged)\"\n"
                         "set xlabel \"epoch\"\nset ylabel \"%s\"\nset logscale y\nset format y \"%%g\"\nset key outside right\n"
                         "set style fill transparent solid 0.15 noborder\n",
                  f->t2, f->model, what, what);
    if (clipped)
        report_printf(&body, "ymax = %.17g\nset yrange [*:ymax]\n", ymax);
    report_printf(&body, "plot ");
    size_t block = 0;
    int first = 1;
    for (size_t k = 0; k < dg->n_methods; k++) {
        const mgroup *g = &f->mg[dg->first_method + k];
        fig_style_t st = fig_style_for(g->method);
        for (int w = 0; w < 2; w++) {
            const cell *c = &cells[w == 0 ? g->best : g->worst];
            if (w == 1 && g->worst == g->best)
                break;
            curve_title(title, sizeof title, g->method, c, w == 0 ? " (best)" : " (worst)");
            cell_block(&dat, runs, c, which, title);
            report_printf(&body, "%s", first ? "" : ", \\\n     ");
            if (w == 0)
                report_printf(&body, "\"%s.dat\" index %zu using 1:3:4 with filledcurves fc rgb \"%s\" notitle, \\\n     ",
                              name, block, st.colour);
            /* a circle every 4th epoch: enough to tell the worst curves apart, not a solid row */
            report_printf(&body, "\"%s.dat\" index %zu using 1:2 with %s ", name, block,
                          w == 0 ? "lines" : "linespoints pt 6 ps 0.6 pi 4");
            report_fig_style(&body, g->method, w == 0 ? 0 : 1);
            report_printf(&body, " title \"%s\"", title);
            if (clipped && cell_above(runs, c, which, ymax))
                report_printf(&body, ", \\\n     \"%s.dat\" index %zu using 1:($2>ymax?ymax:1/0) with points pt 8 ps 0.8 "
                                     "lc rgb \"%s\" notitle",
                              name, block, st.colour);
            first = 0;
            block++;
            if (diverged_block(&dat, runs, c, which, title))
                diverged_plot(&body, name, block++, g->method, clipped);
        }
    }
    if (clipped) /* a legend entry for the triangles, drawn from no data */
        report_printf(&body, ", \\\n     NaN with points pt 8 ps 0.8 lc rgb \"#000000\" title \"mean above %g\"", ymax);
    report_printf(&body, "\n");
    if (clipped)
        snprintf(clip, sizeof clip, "; the axis stops at %g (100x the 95th percentile of the best grid values' means, "
                                    "rounded up to 1, 2 or 5 x 10^k): a triangle on the top edge marks a mean above it, a cross "
                                    "above it is drawn on the edge",
                 ymax);
    snprintf(caption, sizeof caption, "%s over epochs per method: best grid value (thick), worst (thin, circles), "
                                      "min-max band over the runs of the best value; a cross marks where a diverged run stopped%s",
             which == 1 ? "Training loss" : "Validation loss", clip);
    report_fig_write(f->fx, f->md, name, caption, &dat, body.s ? body.s : "", 1);
    free(dat.s);
    free(body.s);
    f->fx->oom |= body.oom;
}

void report_dataset_figures(figctx *fx, sbuf *md, const run *runs, const cell *cells, const mgroup *mg,
                            const dgroup *dg)
{
    figset f = {fx, md, runs, cells, mg, dg, "", "", ""};
    report_fig_slug(f.base, sizeof f.base, dg->data, dg->model);
    report_fig_safe(f.t2, sizeof f.t2, dg->data);
    report_fig_safe(f.model, sizeof f.model, dg->model);
    lr_figure(&f);
    for (int which = 1; which <= 2; which++)
        loss_figure(&f, which);
    for (size_t k = 0; k < dg->n_methods; k++)
        report_ctrl_figure(&f, &mg[dg->first_method + k]);
}
