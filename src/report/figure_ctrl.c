/* The controller figure of report.md: d_t, z_t, the gate state and rho over epochs for a CG-ALR
 * method at its best grid value. */
#include "report/figures_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The controller trace of CG-ALR method g at its best grid value, one line per seed; nothing for
 * a method without controller records. */
void report_ctrl_figure(const figset *f, const mgroup *g)
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
    (void)dg;
    const cell *c = &cells[g->best];
    int any = 0;
    for (size_t i = 0; i < c->count; i++)
        for (size_t e = 0; e < runs[c->first + i].m.n; e++)
            any |= runs[c->first + i].m.rec[e].has_ctrl;
    if (!any)
        return;
    sbuf dat = {0}, body = {0};
    char ms[100];
    report_fig_slug(ms, sizeof ms, base, g->method);
    snprintf(name, sizeof name, "%s_ctrl", ms);
    size_t maxe = 1;
    for (size_t i = 0; i < c->count; i++)
        if (runs[c->first + i].m.n > maxe)
            maxe = runs[c->first + i].m.n;
    size_t xmax = maxe > 1 ? maxe : 2;
    for (size_t i = 0; i < c->count; i++) {
        const run *r = &runs[c->first + i];
        report_printf(&dat, "# seed %lld\n# epoch d z state(-1 decel, 0 hold, 1 accel) rho\n", r->seed);
        for (size_t e = 0; e < r->m.n; e++) {
            const cgalr_epoch_record_t *x = &r->m.rec[e];
            double s = !strcmp(x->state, "decel") ? -1 : !strcmp(x->state, "accel") ? 1 : 0;
            report_printf(&dat, "%d %.10g %.10g %g %.10g\n", x->epoch, isfinite(x->d) ? x->d : NAN,
                      isfinite(x->z) ? x->z : NAN, x->has_ctrl ? s : NAN, isfinite(x->rho) ? x->rho : NAN);
        }
        if (r->m.n == 0)
            report_printf(&dat, "1 NaN NaN NaN NaN\n");
        report_printf(&dat, "\n\n");
    }
    /* the thresholds: those of the first seed; seeds of one cell normally share them */
    double te = runs[c->first].tau_enter, tx = runs[c->first].tau_exit;
    int tau_differ = 0;
    for (size_t i = 1; i < c->count; i++)
        tau_differ |= !report_same_lr(runs[c->first + i].tau_enter, te) || !report_same_lr(runs[c->first + i].tau_exit, tx);
    /* panels share x: one xrange and fixed left/right margins, so the axes line up whatever
     * the width of each panel's tick labels and key */
    report_printf(&body, "set multiplot layout 4,1 title \"%s (%s): %s controller at lr=%g, one line per seed; "
                     "shaded: warm-up (z undefined)%s\"\n"
                     "set key outside right\nset lmargin at screen 0.1\nset rmargin at screen 0.78\n"
                     "set xrange [1:%zu]\n",
              t2, model, g->method, c->lr, tau_differ ? "; seeds differ in tau, the first seed's shown" : "",
              xmax);
    if (isfinite(te) && isfinite(tx))
        report_printf(&body, "tau_enter = %.17g\ntau_exit = %.17g\n", te, tx);
    /* warm-up: epochs where any seed's z is not defined (null in metrics.jsonl) */
    int nobj = 0;
    for (size_t e = 0; e < maxe;) {
        int undefined = 0;
        for (size_t i = 0; i < c->count && !undefined; i++) {
            const run *r = &runs[c->first + i];
            undefined = e < r->m.n && r->m.rec[e].has_ctrl && isnan(r->m.rec[e].z);
        }
        if (!undefined) {
            e++;
            continue;
        }
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
        report_printf(&body, "# warm-up: epochs %zu to %zu\n"
                         "set object %d rect from first %g, graph 0 to first %g, graph 1 behind "
                         "fillcolor rgb \"#e0e0e0\" fillstyle solid 1.0 noborder\n",
                  e0 + 1, e + 1, ++nobj, lo < 1 ? 1 : lo, hi > (double)xmax ? (double)xmax : hi);
        e++;
    }
    static const char *const ylab[] = {"distance d_t", "z_t (axis clipped to +-10)", "gate state", "multiplier rho"};
    for (int col = 0; col < 4; col++) {
        report_printf(&body, "set ylabel \"%s\"\n%s", ylab[col], col == 3 ? "set xlabel \"epoch\"\n" : "unset xlabel\n");
        /* d_t spans decades (d_1 compares with the untrained network); z_t is clipped so a
         * large score after a quiet history does not flatten the rest */
        if (col == 2)
            report_printf(&body, "unset logscale y\nset yrange [-1.5:1.5]\nset ytics (\"decel\" -1, \"hold\" 0, \"accel\" 1)\n");
        else if (col == 0)
            report_printf(&body, "set logscale y\nset autoscale y\nset ytics autofreq\n");
        else if (col == 1)
            report_printf(&body, "unset logscale y\nset yrange [-10:10]\nset ytics autofreq\n");
        else
            report_printf(&body, "unset logscale y\nset autoscale y\nset ytics autofreq\n");
        report_printf(&body, "plot ");
        for (size_t i = 0; i < c->count; i++)
            report_printf(&body, "%s\"%s.dat\" index %zu using 1:%d with %s lc %zu title \"seed %lld\"",
                      i ? ", " : "", name, i, col + 2, col == 2 ? "steps lw 2" : "linespoints pt 7 ps 0.5", i + 1,
                      runs[c->first + i].seed);
        if (col == 1 && isfinite(te) && isfinite(tx))
            report_printf(&body, ", \\\n     tau_enter with lines lc rgb \"#000000\" dt 2 lw 1 title \"+-tau_enter = %g\", "
                             "-tau_enter with lines lc rgb \"#000000\" dt 2 lw 1 notitle, \\\n"
                             "     tau_exit with lines lc rgb \"#606060\" dt 3 lw 1 title \"+-tau_exit = %g\", "
                             "-tau_exit with lines lc rgb \"#606060\" dt 3 lw 1 notitle",
                      te, tx);
        report_printf(&body, "\n");
    }
    snprintf(title, sizeof title, "%s: d_t, z_t (with the gate's thresholds +-tau_enter, +-tau_exit), gate state "
                                  "and rho over epochs (lr=%g); shaded: warm-up, where z is not defined",
             g->method, c->lr);
    report_fig_write(fx, md, name, title, &dat, body.s ? body.s : "", 4);
    free(dat.s);
    free(body.s);
    fx->oom |= body.oom;
}
