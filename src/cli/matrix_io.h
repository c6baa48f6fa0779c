/* Numeric matrices as text for the cgalr tool: CSV or whitespace-separated numbers in, CSV out.
 * Every failure message names the file, its line and column, the value and what was expected. */
#ifndef CGALR_CLI_MATRIX_IO_H
#define CGALR_CLI_MATRIX_IO_H

#include <stddef.h>
#include <stdio.h>

#include "cgalr/status.h"

typedef struct cli_matrix {
    size_t rows, cols;
    double *data;  /* rows x cols, row-major */
    size_t *line;  /* the file line (from 1) each row came from, for messages */
    char *path;    /* copy of the path, for messages */
} cli_matrix_t;

/* Reads `path` ("-" = standard input). Fields are separated by commas and/or blanks; empty lines
 * and lines starting with '#' are skipped. Ragged rows, empty fields, non-numeric text and NaN/Inf
 * are errors (CGALR_EFORMAT / CGALR_ENONFINITE) naming line and column; CGALR_EIO when the file
 * cannot be read. On failure *out is left empty (safe to free). */
cgalr_status_t cli_matrix_read(const char *path, cli_matrix_t *out);
/* The same on text[0..len) (text[len] must be '\0'; the parser writes into text). path names the
 * source in messages. */
cgalr_status_t cli_matrix_parse(char *text, size_t len, const char *path, cli_matrix_t *out);
void cli_matrix_free(cli_matrix_t *m);

/* Square check: "FILE: 3 rows of 4 columns; expected a square matrix". */
cgalr_status_t cli_matrix_require_square(const cli_matrix_t *m);
/* |m_ij - m_ji| <= tol for all i, j; the message names both entries. */
cgalr_status_t cli_matrix_require_symmetric(const cli_matrix_t *m, double tol);
/* Off-diagonal entries (or all, with offdiag_only = 0) in [lo, hi]. */
cgalr_status_t cli_matrix_require_range(const cli_matrix_t *m, double lo, double hi, int offdiag_only);

/* rows x cols as CSV with 17 significant digits (round-trips doubles exactly). */
int cli_matrix_write_csv(FILE *f, const double *a, size_t rows, size_t cols);

#endif
