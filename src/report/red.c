/* The numbers of METHOD.md section 6: runs grouped into grid cells (dataset, model, method,
 * learning rate), each method's best and worst grid value by the mean final validation accuracy
 * (ties by loss), and RED of a CG-ALR variant against a baseline, paired by (fold, seed), with
 * its Student t interval. */
#include "report/report_internal.h"

#include <stdlib.h>
#include <string.h>

summary report_summarize(const double *v, size_t n)
{
    summary s = {NAN, NAN, NAN, NAN, 0};
    double sum = 0;
    for (size_t i = 0; i < n; i++) {
        if (isnan(v[i]))
            continue;
        if (s.n == 0 || v[i] < s.lo)
            s.lo = v[i];
        if (s.n == 0 || v[i] > s.hi)
            s.hi = v[i];
        sum += v[i];
        s.n++;
    }
    if (s.n == 0)
        return s;
    s.mean = sum / (double)s.n;
    double ss = 0;
    for (size_t i = 0; i < n; i++)
        if (!isnan(v[i]))
            ss += (v[i] - s.mean) * (v[i] - s.mean);
    s.sd = s.n > 1 ? sqrt(ss / (double)(s.n - 1)) : 0.0;
    return s;
}

cgalr_status_t report_group(const run *runs, size_t n, grouping *g)
{
    /* at most one cell, method and dataset group per run */
    memset(g, 0, sizeof *g);
    g->cells = calloc(n, sizeof *g->cells);
    g->mg = calloc(n, sizeof *g->mg);
    g->dg = calloc(n, sizeof *g->dg);
    if (!g->cells || !g->mg || !g->dg)
        return cgalr_fail(CGALR_ENOMEM, "out of memory");
    cell *cells = g->cells;
    mgroup *mg = g->mg;
    dgroup *dg = g->dg;
    size_t ncell = 0, nmg = 0, ndg = 0;
    for (size_t i = 0; i < n; i++) {
        const run *r = &runs[i];
        int new_d = i == 0 || strcmp(r->data, runs[i - 1].data) || strcmp(r->model, runs[i - 1].model);
        int new_m = new_d || strcmp(r->method, runs[i - 1].method);
        int new_c = new_m || !report_same_lr(r->lr, runs[i - 1].lr);
        if (new_d)
            dg[ndg++] = (dgroup){r->data, r->model, nmg, 0};
        if (new_m) {
            mg[nmg++] = (mgroup){r->method, ncell, 0, 0, 0, 0, 0};
            dg[ndg - 1].n_methods++;
        }
        if (new_c) {
            cells[ncell++] = (cell){i, 0, r->lr, 0, 0, 0};
            mg[nmg - 1].n_cells++;
        }
        cells[ncell - 1].count++;
    }
    for (size_t k = 0; k < ncell; k++) {
        cell *ce = &cells[k];
        double sum = 0, sacc = 0;
        for (size_t i = 0; i < ce->count; i++) {
            const run *r = &runs[ce->first + i];
            ce->diverged += r->m.diverged != 0;
            sum += r->final_val_loss;
            sacc += r->final_val_acc;
        }
        ce->mean_val_loss = sum / (double)ce->count;
        ce->mean_val_acc = sacc / (double)ce->count;
    }
    /* cells are stored by descending lr; walk them ascending for the tie rules */
    for (size_t k = 0; k < nmg; k++) {
        mgroup *m = &mg[k];
        size_t best = m->first_cell + m->n_cells - 1, worst = best, bl = best, wl = best;
        for (size_t j = m->n_cells; j-- > 0;) {
            size_t q = m->first_cell + j;
            const cell *c = &cells[q], *b = &cells[best], *w = &cells[worst];
            /* METHOD.md section 6: mean final validation accuracy, ties by the mean final
             * validation loss, then the smallest (best) / largest (worst) rate */
            if (c->mean_val_acc > b->mean_val_acc ||
                (c->mean_val_acc == b->mean_val_acc && c->mean_val_loss < b->mean_val_loss))
                best = q;
            if (c->mean_val_acc < w->mean_val_acc ||
                (c->mean_val_acc == w->mean_val_acc && c->mean_val_loss >= w->mean_val_loss))
                worst = q;
            if (c->mean_val_loss < cells[bl].mean_val_loss)
                bl = q;
            if (c->mean_val_loss >= cells[wl].mean_val_loss)
                wl = q;
        }
        m->best = best;
        m->worst = worst;
        m->best_loss = bl;
        m->worst_loss = wl;
    }
    g->ncell = ncell;
    g->nmg = nmg;
    g->ndg = ndg;
    return CGALR_OK;
}

void report_grouping_free(grouping *g)
{
    free(g->cells);
    free(g->mg);
    free(g->dg);
    memset(g, 0, sizeof *g);
}

red_result report_red(const run *runs, const cell *ca, const cell *cb)
{
    red_result out = {0, NAN, NAN, NAN, NAN, 0};
    double *v = malloc((ca->count ? ca->count : 1) * (cb->count ? cb->count : 1) * sizeof *v);
    if (!v) {
        out.oom = 1;
        return out;
    }
    size_t n = 0;
    double sea = 0, seb = 0;
    for (size_t i = 0; i < ca->count; i++) {
        const run *ra = &runs[ca->first + i];
        for (size_t j = 0; j < cb->count; j++) {
            const run *rb = &runs[cb->first + j];
            if (!report_same_pair(ra, rb) || isnan(ra->final_test_acc) || isnan(rb->final_test_acc))
                continue;
            double ea = 1.0 - ra->final_test_acc, eb = 1.0 - rb->final_test_acc;
            if (eb == 0.0)
                continue;
            v[n++] = (ea - eb) / eb;
            sea += ea;
            seb += eb;
        }
    }
    out.pairs = n;
    if (n > 0) {
        summary s = report_summarize(v, n);
        out.red_of_means = (sea - seb) / seb;
        out.mean = s.mean;
        if (n >= 2) {
            double half = cgalr_report_t_quantile(0.975, (double)(n - 1)) * s.sd / sqrt((double)n);
            out.lo = s.mean - half;
            out.hi = s.mean + half;
        }
    }
    free(v);
    return out;
}
