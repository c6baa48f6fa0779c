/* The tables of report.md: the definitions, and per dataset/model pair the grid values, the best
 * and worst grid value of each method, RED of each CG-ALR variant against each baseline, and the
 * time per epoch with the controller's share. Formatting only: the numbers come from red.c. */
#include "report/report_internal.h"

#include <stdlib.h>
#include <string.h>

static void fmt_summary(sbuf *b, summary s)
{
    if (s.n == 0)
        report_printf(b, "n/a");
    else
        report_printf(b, "%.4f ± %.4f [%.4f, %.4f]", s.mean, s.sd, s.lo, s.hi);
}

static void fmt_loss(sbuf *b, double v)
{
    if (isinf(v))
        report_printf(b, "inf");
    else if (isnan(v))
        report_printf(b, "n/a");
    else
        report_printf(b, "%.6g", v);
}

static void fmt_lr(sbuf *b, double lr)
{
    if (isnan(lr))
        report_printf(b, "-");
    else
        report_printf(b, "%g", lr);
}

void report_definitions(sbuf *md)
{
    report_printf(md,
              "## Definitions\n\n"
              "- A run is complete when metrics.jsonl has one line per configured epoch, or ends with the "
              "diverged marker. Incomplete runs are listed at the end and left out of every number.\n"
              "- Final validation loss: `val_loss` of the last epoch line; a diverged run (or a non-finite "
              "loss) counts as +inf.\n"
              "- Final validation accuracy: `val_acc` of the last epoch line; 0 for a diverged run (its "
              "non-finite logits count as wrong, METHOD.md section 6) or without a validation set.\n"
              "- Best grid value of a method (METHOD.md section 6): the learning rate with the largest mean "
              "final validation accuracy over its runs (seeds, and folds with --folds); ties: the smaller mean "
              "final validation loss, then the smallest learning rate. Worst: the smallest mean accuracy "
              "(ties: the larger loss, then the largest rate). The choice by the mean final validation loss "
              "alone is shown beside it (`lr by val loss`). The parameter-free methods (dog, prodigy, "
              "dadapt-*) have one value, shown as `-`.\n"
              "- Final test accuracy: `test_acc` of the last epoch line; 0 for a diverged run. Best "
              "validation accuracy: the largest `val_acc` over epochs.\n"
              "- Spread: mean ± sample standard deviation (n - 1 in the denominator; 0 for one run) "
              "[min, max] over the runs (seeds x folds).\n"
              "- RED = (err_cgalr - err_base) / err_base with err = 1 - final test accuracy, each method at "
              "its best grid value. RED < 0 favours CG-ALR. *Paired RED* is computed per (fold, seed) pair present in "
              "both methods (pairs with err_base = 0 left out) and averaged; its 95%% CI is the Student t "
              "interval mean ± t(0.975, n-1) · sd / sqrt(n) over those per-pair values (n/a for n < 2). "
              "*RED of mean errors* uses the mean errors over the same pairs.\n"
              "- Time per epoch: `seconds` (training and evaluation of the epoch) averaged over every epoch "
              "line of every run of the method; controller share: the sum of `ctrl_seconds` (probe forward, "
              "connectome, distance, gate) over the sum of `seconds` of the same lines.\n\n");
}

void report_dataset_tables(sbuf *md, const run *runs, const grouping *g, const dgroup *D)
{
    const cell *cells = g->cells;
    const mgroup *mg = g->mg;
    size_t nmax = 0; /* the largest cell: scratch for its values */
    for (size_t k = 0; k < D->n_methods; k++)
        for (size_t j = 0; j < mg[D->first_method + k].n_cells; j++) {
            size_t c = cells[mg[D->first_method + k].first_cell + j].count;
            nmax = c > nmax ? c : nmax;
        }
    double *v1 = malloc((nmax ? nmax : 1) * sizeof *v1), *v2 = malloc((nmax ? nmax : 1) * sizeof *v2);
    if (!v1 || !v2) {
        free(v1);
        free(v2);
        md->oom = 1;
        return;
    }
    report_printf(md, "## Dataset %s, model %s\n\n", D->data, D->model);
    {
        /* a grid mixing run lengths compares unlike things: say so */
        int lo = -1, hi = -1;
        for (size_t k = 0; k < D->n_methods; k++) {
            const mgroup *m = &mg[D->first_method + k];
            for (size_t j = 0; j < m->n_cells; j++) {
                const cell *ce = &cells[m->first_cell + j];
                for (size_t i = 0; i < ce->count; i++) {
                    int e = runs[ce->first + i].epochs;
                    lo = lo < 0 || e < lo ? e : lo;
                    hi = e > hi ? e : hi;
                }
            }
        }
        if (lo != hi)
            report_printf(md, "**Note**: these runs were configured with different numbers of epochs (%d to %d); "
                           "final values compare runs of different lengths.\n\n",
                      lo, hi);
    }
    report_printf(md, "### Grid values\n\n| method | lr | runs | diverged | mean final val acc | mean final val loss |\n"
                   "| --- | --- | --- | --- | --- | --- |\n");
    for (size_t k = 0; k < D->n_methods; k++) {
        const mgroup *m = &mg[D->first_method + k];
        for (size_t j = 0; j < m->n_cells; j++) {
            const cell *ce = &cells[m->first_cell + j];
            report_printf(md, "| %s | ", m->method);
            fmt_lr(md, ce->lr);
            report_printf(md, " | %zu | %zu | %.4f | ", ce->count, ce->diverged, ce->mean_val_acc);
            fmt_loss(md, ce->mean_val_loss);
            report_printf(md, " |\n");
        }
    }
    report_printf(md, "\n### Best and worst grid value\n\n"
                   "| method | which | lr | runs | diverged | mean final val acc | mean final val loss | "
                   "final test acc | best val acc | lr by val loss |\n"
                   "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n");
    for (size_t k = 0; k < D->n_methods; k++) {
        const mgroup *m = &mg[D->first_method + k];
        for (int w = 0; w < 2; w++) {
            const cell *ce = &cells[w == 0 ? m->best : m->worst];
            for (size_t i = 0; i < ce->count; i++) {
                v1[i] = runs[ce->first + i].final_test_acc;
                v2[i] = runs[ce->first + i].best_val_acc;
            }
            report_printf(md, "| %s | %s | ", m->method, w == 0 ? "best" : "worst");
            fmt_lr(md, ce->lr);
            report_printf(md, " | %zu | %zu | %.4f | ", ce->count, ce->diverged, ce->mean_val_acc);
            fmt_loss(md, ce->mean_val_loss);
            report_printf(md, " | ");
            fmt_summary(md, report_summarize(v1, ce->count));
            report_printf(md, " | ");
            fmt_summary(md, report_summarize(v2, ce->count));
            report_printf(md, " | ");
            fmt_lr(md, cells[w == 0 ? m->best_loss : m->worst_loss].lr);
            report_printf(md, " |\n");
        }
    }
    report_printf(md, "\n### RED of CG-ALR against the baselines (best grid values)\n\n");
    int any_red = 0;
    for (size_t a = 0; a < D->n_methods; a++) {
        const mgroup *ma = &mg[D->first_method + a];
        if (!report_method_is_cgalr(ma->method))
            continue;
        for (size_t b = 0; b < D->n_methods; b++) {
            const mgroup *mb = &mg[D->first_method + b];
            if (report_method_is_cgalr(mb->method))
                continue;
            if (!any_red)
                report_printf(md, "| CG-ALR | baseline | lr (CG-ALR) | lr (baseline) | pairs (fold, seed) | "
                               "RED of mean errors | paired RED | 95%% CI |\n"
                               "| --- | --- | --- | --- | --- | --- | --- | --- |\n");
            any_red = 1;
            const cell *ca = &cells[ma->best], *cb = &cells[mb->best];
            red_result rr = report_red(runs, ca, cb);
            if (rr.oom)
                md->oom = 1;
            report_printf(md, "| %s | %s | ", ma->method, mb->method);
            fmt_lr(md, ca->lr);
            report_printf(md, " | ");
            fmt_lr(md, cb->lr);
            report_printf(md, " | %zu | ", rr.pairs);
            if (rr.pairs == 0) {
                report_printf(md, "n/a | n/a | n/a |\n");
                continue;
            }
            report_printf(md, "%.4f | %.4f | ", rr.red_of_means, rr.mean);
            if (rr.pairs >= 2)
                report_printf(md, "[%.4f, %.4f] |\n", rr.lo, rr.hi);
            else
                report_printf(md, "n/a |\n");
        }
    }
    if (!any_red)
        report_printf(md, "No CG-ALR variant and baseline pair in this dataset.\n");
    report_printf(md, "\n### Time per epoch\n\n"
                   "| method | runs | epochs | mean epoch seconds | controller share |\n"
                   "| --- | --- | --- | --- | --- |\n");
    for (size_t k = 0; k < D->n_methods; k++) {
        const mgroup *m = &mg[D->first_method + k];
        double secs = 0, ctrl = 0, ctrl_secs = 0;
        size_t nr = 0, ne = 0, nc = 0;
        for (size_t j = 0; j < m->n_cells; j++) {
            const cell *ce = &cells[m->first_cell + j];
            for (size_t i = 0; i < ce->count; i++) {
                const run *r = &runs[ce->first + i];
                nr++;
                for (size_t e = 0; e < r->m.n; e++) {
                    const cgalr_epoch_record_t *x = &r->m.rec[e];
                    if (!isfinite(x->seconds))
                        continue;
                    secs += x->seconds;
                    ne++;
                    if (isfinite(x->ctrl_seconds)) {
                        ctrl += x->ctrl_seconds;
                        ctrl_secs += x->seconds;
                        nc++;
                    }
                }
            }
        }
        report_printf(md, "| %s | %zu | %zu | ", m->method, nr, ne);
        if (ne)
            report_printf(md, "%.4g | ", secs / (double)ne);
        else
            report_printf(md, "n/a | ");
        if (nc && ctrl_secs > 0)
            report_printf(md, "%.2f%% |\n", 100.0 * ctrl / ctrl_secs);
        else
            report_printf(md, "- |\n");
    }
    free(v1);
    free(v2);
}

const char *report_rel_dir(const char *top, const char *dir)
{
    size_t tl = strlen(top);
    return !strncmp(dir, top, tl) && dir[tl] == '/' ? dir + tl + 1 : dir;
}

/* The first epoch from which d = 0 at every logged controller step to the end, or 0 when the
 * last STILL_EPOCHS epochs do not all qualify. */
static int still_since(const run *r)
{
    const cgalr_metrics_t *m = &r->m;
    if (m->diverged || m->n < STILL_EPOCHS || !report_method_is_cgalr(r->method))
        return 0;
    size_t k = m->n;
    while (k > 0 && m->rec[k - 1].has_ctrl && m->rec[k - 1].d == 0.0)
        k--;
    return m->n - k >= STILL_EPOCHS ? m->rec[k].epoch : 0;
}

void report_still_runs(sbuf *md, const run *runs, size_t n, const char *top)
{
    size_t count = 0;
    for (size_t i = 0; i < n; i++)
        count += still_since(&runs[i]) > 0;
    if (count == 0)
        return;
    report_printf(md, "## CG-ALR runs whose distance stopped moving\n\n"
                      "%zu run%s did not diverge but logged d = 0 at every controller step of at least their last "
                      "%d epochs: the distance saw no change at all from one step to the next, as when every "
                      "signal of the probe layer is constant over the probe set (dead units) or, for WD and "
                      "SWK, when both persistence diagrams are empty. The gate reads that as a perfectly "
                      "stable organisation and holds, so the rate is the envelope's times a frozen rho. Their numbers are in the tables "
                      "above like every other run's.\n\n"
                      "| run directory | d = 0 from epoch | of | final test acc |\n| --- | --- | --- | --- |\n",
                  count, count == 1 ? "" : "s", STILL_EPOCHS);
    for (size_t i = 0; i < n; i++) {
        int from = still_since(&runs[i]);
        if (from == 0)
            continue;
        report_printf(md, "| %s | %d | %d | ", report_rel_dir(top, runs[i].dir), from, runs[i].epochs);
        if (isnan(runs[i].final_test_acc))
            report_printf(md, "n/a |\n");
        else
            report_printf(md, "%.4f |\n", runs[i].final_test_acc);
    }
    report_printf(md, "\n");
}
