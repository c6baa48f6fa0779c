/* What the figure files of the report layer share (private to src/report): one dataset/model
 * pair's figure context and the helpers that write a figure's .dat, .gp and rendered files.
 * figures.c draws the learning-rate and loss figures, figure_ctrl.c the controller traces. */
#ifndef CGALR_REPORT_FIGURES_INTERNAL_H
#define CGALR_REPORT_FIGURES_INTERNAL_H

#include "report/report_internal.h"

/* One dataset/model pair's figures: what each needs, and names shared by their files. */
typedef struct {
    figctx *fx;
    sbuf *md;
    const run *runs;
    const cell *cells;
    const mgroup *mg;
    const dgroup *dg;
    char base[256];  /* file-name stem: data_model */
    char t2[200];    /* the dataset's name, safe in a gnuplot title */
    char model[100]; /* the model's, likewise */
} figset;

/* a_b with every character outside [A-Za-z0-9-] replaced by '_': a file-name stem. */
void report_fig_slug(char *out, size_t cap, const char *a, const char *b);
/* s made safe inside a gnuplot double-quoted title. */
void report_fig_safe(char *out, size_t cap, const char *s);
/* Writes figdir/name.dat and name.gp (body wrapped for PNG and SVG, `rows` panels tall), renders
 * them, and appends the markdown image and caption to md. */
void report_fig_write(figctx *fx, sbuf *md, const char *name, const char *caption, sbuf *dat, const char *body,
                      int rows);
/* gnuplot line options for a curve of `method` (its colour and dash; lw <= 0: its own width). */
void report_fig_style(sbuf *b, const char *method, double lw);
/* The controller figure of CG-ALR method g at its best grid value (figure_ctrl.c); nothing for a
 * method without controller records. */
void report_ctrl_figure(const figset *f, const mgroup *g);

#endif
