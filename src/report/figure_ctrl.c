/* The controller figure of report.md: d_t, z_t, the gate state and rho over epochs for a CG-ALR
 * method at its best grid value. A cell of a few runs draws one line per run; a larger one (10-fold
 * CV x 3 seeds is 30 runs) draws per-epoch medians with a 10-90% quantile band, the gate as the
 * share of runs in each state, and one thin representative run, since 30 overlaid lines hide
 * every one of them. */
#include "report/figures_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report/figure_style.h"

/* Up to this many runs a cell is drawn run by run; beyond it, summarised. */
enum { PER_RUN_MAX = 5 };
/* The band's quantiles (linear interpolation between order statistics, numpy's default). */
static const double Q_LO = 0.10, Q_HI = 0.90;
/* Gate-state colours: a state is not a method, so these are outside the method palette's use. */
static const char *const DECEL_RGB = "#2c7bb6", *const HOLD_RGB = "#d9d9d9", *const ACCEL_RGB = "#f4a261";

static double state_num(const cgalr_epoch_record_t *x)
{
    return !strcmp(x->state, "decel") ? -1 : !strcmp(x->state, "accel") ? 1 : 0;
}

static double fin(double v) { return isfinite(v) ? v : NAN; }

/* A run's name in a legend: its seed, and its fold under --folds. */
static void run_label(char *out, size_t cap, const run *r)
{
    if (r->fold >= 0)
        snprintf(out, cap, "fold %d seed %lld", r->fold, r->seed);
    else
        snprintf(out, cap, "seed %lld", r->seed);
}

/* One run's trace as a data block: epoch d z state rho. */
static void run_block(sbuf *dat, const run *r, const char *label)
{
    report_printf(dat, "# %s\n# epoch d z state(-1 decel, 0 hold, 1 accel) rho\n", label);
    for (size_t e = 0; e < r->m.n; e++) {
        const cgalr_epoch_record_t *x = &r->m.rec[e];
        report_printf(dat, "%d %.10g %.10g %g %.10g\n", x->epoch, fin(x->d), fin(x->z), x->has_ctrl ? state_num(x) : NAN,
                      fin(x->rho));
    }
    if (r->m.n == 0)
        report_printf(dat, "1 NaN NaN NaN NaN\n");
    report_printf(dat, "\n\n");
}

/* Median, Q_LO and Q_HI of v[0..n) written as three columns. */
static void stat_cols(sbuf *dat, double *v, size_t n)
{
    double med = report_quantile(v, n, 0.5), lo = report_quantile(v, n, Q_LO), hi = report_quantile(v, n, Q_HI);
    report_printf(dat, " %.10g %.10g %.10g", med, lo, hi);
}

/* The summary block: per epoch, over the cell's runs with a controller record there, the median
 * and band of d, z and rho (each over the runs where it is finite) and the share of runs per gate
 * state. Returns 0 when out of memory. */
static int summary_block(sbuf *dat, const run *runs, const cell *c, size_t maxe)
{
    double *v = malloc(c->count * sizeof *v);
    if (!v)
        return 0;
    report_printf(dat, "# per epoch over the runs with a controller record: runs, then median, q%02.0f and q%02.0f of d, "
                       "z and rho, then the share of runs in decel, hold and accel\n"
                       "# epoch runs d_med d_q%02.0f d_q%02.0f z_med z_q%02.0f z_q%02.0f rho_med rho_q%02.0f rho_q%02.0f "
                       "decel hold accel\n",
                  100 * Q_LO, 100 * Q_HI, 100 * Q_LO, 100 * Q_HI, 100 * Q_LO, 100 * Q_HI, 100 * Q_LO, 100 * Q_HI);
    for (size_t e = 0; e < maxe; e++) {
        size_t alive = 0, st[3] = {0, 0, 0};
        for (size_t i = 0; i < c->count; i++) {
            const run *r = &runs[c->first + i];
            if (e < r->m.n && r->m.rec[e].has_ctrl) {
                alive++;
                st[(int)state_num(&r->m.rec[e]) + 1]++;
            }
        }
        report_printf(dat, "%zu %zu", e + 1, alive);
        for (int col = 0; col < 3; col++) {
            size_t k = 0;
            for (size_t i = 0; i < c->count; i++) {
                const run *r = &runs[c->first + i];
                if (e >= r->m.n || !r->m.rec[e].has_ctrl)
                    continue;
                const cgalr_epoch_record_t *x = &r->m.rec[e];
                double y = col == 0 ? x->d : col == 1 ? x->z : x->rho;
                if (isfinite(y))
                    v[k++] = y;
            }
            stat_cols(dat, v, k);
        }
        if (alive)
            report_printf(dat, " %.10g %.10g %.10g\n", (double)st[0] / (double)alive, (double)st[1] / (double)alive,
                          (double)st[2] / (double)alive);
        else
            report_printf(dat, " NaN NaN NaN\n");
    }
    report_printf(dat, "\n\n");
    free(v);
    return 1;
}

/* The run of median final validation accuracy (the lower middle for an even count; ties keep the
 * runs' sorted order): a trace from the middle of the cell, neither its best nor its worst run. */
static const run *representative(const run *runs, const cell *c)
{
    size_t pick = 0, want = (c->count - 1) / 2;
    for (size_t i = 0; i < c->count; i++) {
        double a = runs[c->first + i].final_val_acc;
        size_t below = 0, tie_before = 0;
        for (size_t j = 0; j < c->count; j++) {
            double b = runs[c->first + j].final_val_acc;
            below += b < a;
            tie_before += b == a && j < i;
        }
        if (below + tie_before == want)
            pick = i;
    }
    return &runs[c->first + pick];
}

/* Grey bands over the warm-up epochs, where any run's z is not defined (null in metrics.jsonl). */
static void warmup_objects(sbuf *body, const run *runs, const cell *c, size_t maxe, size_t xmax)
{
    int nobj = 0;
    for (size_t e = 0; e < maxe; e++) {
        int undefined = 0;
        for (size_t i = 0; i < c->count && !undefined; i++) {
            const run *r = &runs[c->first + i];
            undefined = e < r->m.n && r->m.rec[e].has_ctrl && isnan(r->m.rec[e].z);
        }
        if (!undefined)
            continue;
        size_t e0 = e;
        for (;;) {
            int more = 0;
            for (size_t i = 0; e + 1 < maxe && i < c->count && !more; i++) {
                const run *r = &runs[c->first + i];
                more = e + 1 < r->m.n && r->m.rec[e + 1].has_ctrl && isnan(r->m.rec[e + 1].z);
            }
            if (!more)
                break;
            e++;
        }
        double lo = (double)e0 + 0.5, hi = (double)e + 1.5; /* epochs e0+1 .. e+1, half a step either side */
        report_printf(body, "# warm-up: epochs %zu to %zu\n"
                            "set object %d rect from first %g, graph 0 to first %g, graph 1 behind "
                            "fillcolor rgb \"#e0e0e0\" fillstyle solid 1.0 noborder\n",
                      e0 + 1, e + 1, ++nobj, lo < 1 ? 1 : lo, hi > (double)xmax ? (double)xmax : hi);
    }
}

/* Axis settings of panel col (0 d, 1 z, 2 gate, 3 rho); summary: the gate panel shows shares. */
static void panel_axes(sbuf *body, int col, int summary)
{
    static const char *const ylab[] = {"distance d_t", "z_t (axis clipped to +-10)", "gate state", "multiplier rho"};
    report_printf(body, "set ylabel \"%s\"\n%s", col == 2 && summary ? "share of runs" : ylab[col],
                  col == 3 ? "set xlabel \"epoch\"\n" : "unset xlabel\n");
    /* d_t spans decades (d_1 compares with the untrained network); z_t is clipped so a large
     * score after a quiet history does not flatten the rest */
    if (col == 2 && summary)
        report_printf(body, "unset logscale y\nset yrange [0:1]\nset ytics 0.25\n");
    else if (col == 2)
        report_printf(body, "unset logscale y\nset yrange [-1.5:1.5]\nset ytics (\"decel\" -1, \"hold\" 0, \"accel\" 1)\n");
    else if (col == 0)
        report_printf(body, "set logscale y\nset autoscale y\nset ytics autofreq\n");
    else if (col == 1)
        report_printf(body, "unset logscale y\nset yrange [-10:10]\nset ytics autofreq\n");
    else
        report_printf(body, "unset logscale y\nset autoscale y\nset ytics autofreq\n");
}

static void tau_lines(sbuf *body, double te, double tx)
{
    if (isfinite(te) && isfinite(tx))
        report_printf(body, ", \\\n     tau_enter with lines lc rgb \"#000000\" dt 2 lw 1 title \"+-tau_enter = %g\", "
                            "-tau_enter with lines lc rgb \"#000000\" dt 2 lw 1 notitle, \\\n"
                            "     tau_exit with lines lc rgb \"#606060\" dt 3 lw 1 title \"+-tau_exit = %g\", "
                            "-tau_exit with lines lc rgb \"#606060\" dt 3 lw 1 notitle",
                      te, tx);
}

/* The four panels, one line per run (blocks 0 .. count-1 of name.dat). */
static void per_run_panels(sbuf *body, const char *name, const run *runs, const cell *c, double te, double tx)
{
    char lab[100];
    for (int col = 0; col < 4; col++) {
        panel_axes(body, col, 0);
        report_printf(body, "plot ");
        for (size_t i = 0; i < c->count; i++) {
            run_label(lab, sizeof lab, &runs[c->first + i]);
            report_printf(body, "%s\"%s.dat\" index %zu using 1:%d with %s lc %zu title \"%s\"", i ? ", " : "", name, i,
                          col + 2, col == 2 ? "steps lw 2" : "linespoints pt 7 ps 0.5", i + 1, lab);
        }
        if (col == 1)
            tau_lines(body, te, tx);
        report_printf(body, "\n");
    }
}

/* The four panels of a summarised cell: block 0 of name.dat holds the summary, block 1 the
 * representative run `rep`. */
static void summary_panels(sbuf *body, const char *name, const char *method, const char *rep, double te, double tx)
{
    fig_style_t st = fig_style_for(method);
    static const int first_col[] = {3, 6, 0, 9}; /* the summary block's median column per panel */
    for (int col = 0; col < 4; col++) {
        panel_axes(body, col, 1);
        report_printf(body, "plot ");
        if (col == 2) {
            /* stacked shares, drawn tallest first so each later box covers the lower part */
            static const char *const using[] = {"($12+$13+$14)", "($12+$13)", "12"};
            static const char *const label[] = {"accel", "hold", "decel"};
            const char *rgb[] = {ACCEL_RGB, HOLD_RGB, DECEL_RGB};
            for (int s = 0; s < 3; s++) /* a border of the fill's colour hides the seams between boxes */
                report_printf(body, "%s\"%s.dat\" index 0 using 1:%s with boxes fc rgb \"%s\" fs solid 1.0 border lc rgb "
                                    "\"%s\" title \"%s\"",
                              s ? ", \\\n     " : "", name, using[s], rgb[s], rgb[s], label[s]);
            report_printf(body, "\n");
            continue;
        }
        int m = first_col[col];
        report_printf(body, "\"%s.dat\" index 0 using 1:%d:%d with filledcurves fc rgb \"%s\" fs transparent solid 0.25 "
                            "noborder title \"%.0f-%.0f%% of runs\", \\\n"
                            "     \"%s.dat\" index 0 using 1:%d with lines lc rgb \"%s\" lw 2 title \"median\", \\\n"
                            "     \"%s.dat\" index 1 using 1:%d with lines lc rgb \"#404040\" lw 1 title \"%s\"",
                      name, m + 1, m + 2, st.colour, 100 * Q_LO, 100 * Q_HI, name, m, st.colour, name,
                      col == 0 ? 2 : col == 1 ? 3 : 5, rep);
        if (col == 1)
            tau_lines(body, te, tx);
        report_printf(body, "\n");
    }
}

void report_ctrl_figure(const figset *f, const mgroup *g)
{
    const run *runs = f->runs;
    const cell *c = &f->cells[g->best];
    int any = 0, folds = 0;
    size_t maxe = 1;
    for (size_t i = 0; i < c->count; i++) {
        const run *r = &runs[c->first + i];
        for (size_t e = 0; e < r->m.n; e++)
            any |= r->m.rec[e].has_ctrl;
        folds |= r->fold >= 0;
        maxe = r->m.n > maxe ? r->m.n : maxe;
    }
    if (!any)
        return;
    char ms[100], name[400], caption[900], rep[100] = "";
    report_fig_slug(ms, sizeof ms, f->base, g->method);
    snprintf(name, sizeof name, "%s_ctrl", ms);
    size_t xmax = maxe > 1 ? maxe : 2;
    int summary = c->count > PER_RUN_MAX;
    sbuf dat = {0}, body = {0};
    if (summary) {
        const run *r = representative(runs, c);
        run_label(rep, sizeof rep, r);
        if (!summary_block(&dat, runs, c, maxe))
            dat.oom = 1;
        run_block(&dat, r, rep);
    } else {
        char lab[100];
        for (size_t i = 0; i < c->count; i++) {
            run_label(lab, sizeof lab, &runs[c->first + i]);
            run_block(&dat, &runs[c->first + i], lab);
        }
    }
    /* the thresholds: those of the first run; the runs of one cell normally share them */
    double te = runs[c->first].tau_enter, tx = runs[c->first].tau_exit;
    int tau_differ = 0;
    for (size_t i = 1; i < c->count; i++)
        tau_differ |= !report_same_lr(runs[c->first + i].tau_enter, te) || !report_same_lr(runs[c->first + i].tau_exit, tx);
    char what[200];
    if (summary)
        snprintf(what, sizeof what, "median and %.0f-%.0f%% band over %zu runs", 100 * Q_LO, 100 * Q_HI, c->count);
    else
        snprintf(what, sizeof what, "one line per %s", folds ? "run" : "seed");
    /* panels share x: one xrange and fixed left/right margins, so the axes line up whatever
     * the width of each panel's tick labels and key */
    report_printf(&body, "set multiplot layout 4,1 title \"%s (%s): %s controller at lr=%g, %s; "
                         "shaded: warm-up (z undefined)%s\"\n"
                         "set key outside right\nset lmargin at screen 0.1\nset rmargin at screen 0.78\n"
                         "set xrange [1:%zu]\n",
                  f->t2, f->model, g->method, c->lr, what,
                  tau_differ ? "; runs differ in tau, the first run's shown" : "", xmax);
    if (summary) /* the gate panel's shares: one opaque box per epoch, edge to edge */
        report_printf(&body, "set boxwidth 1 absolute\nset style fill solid 1.0 noborder\n");
    if (isfinite(te) && isfinite(tx))
        report_printf(&body, "tau_enter = %.17g\ntau_exit = %.17g\n", te, tx);
    warmup_objects(&body, runs, c, maxe, xmax);
    if (summary)
        summary_panels(&body, name, g->method, rep, te, tx);
    else
        per_run_panels(&body, name, runs, c, te, tx);
    if (summary)
        snprintf(caption, sizeof caption,
                 "%s at lr=%g over its %zu runs (%s): per epoch the median (thick) and the %.0f-%.0f%% quantile band of "
                 "d_t, z_t (with the gate's thresholds +-tau_enter, +-tau_exit) and rho, and the share of the runs "
                 "still training that are in decel, hold and accel; thin grey: %s, the run of median final validation "
                 "accuracy; shaded: warm-up, where z is not defined",
                 g->method, c->lr, c->count, folds ? "folds x seeds" : "seeds", 100 * Q_LO, 100 * Q_HI, rep);
    else
        snprintf(caption, sizeof caption, "%s: d_t, z_t (with the gate's thresholds +-tau_enter, +-tau_exit), gate state "
                                          "and rho over epochs (lr=%g), one line per %s; shaded: warm-up, where z is "
                                          "not defined",
                 g->method, c->lr, folds ? "run" : "seed");
    report_fig_write(f->fx, f->md, name, caption, &dat, body.s ? body.s : "", 4);
    free(dat.s);
    free(body.s);
    f->fx->oom |= body.oom;
}
