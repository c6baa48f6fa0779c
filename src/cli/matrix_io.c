/* Text matrices for the cgalr tool: a strict reader of CSV / whitespace-separated numbers that says
 * exactly where a file is wrong, the checks `cgalr topo` needs, and a lossless CSV writer. */
#include "cli/cli.h"
#include "cli/matrix_io.h"
#include "core/files.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

void cli_matrix_free(cli_matrix_t *m)
{
    if (!m)
        return;
    free(m->data);
    free(m->line);
    free(m->path);
    memset(m, 0, sizeof *m);
}

static int is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

/* A short, printable excerpt of the offending text for messages. */
static void excerpt(const char *s, char *dst, size_t cap)
{
    size_t k = 0;
    while (s[k] && s[k] != '\n' && s[k] != ',' && !is_blank(s[k]) && k + 1 < cap) {
        unsigned char c = (unsigned char)s[k];
        dst[k] = (c >= 32 && c < 127) ? (char)c : '?';
        k++;
    }
    dst[k] = '\0';
}

cgalr_status_t cli_matrix_read(const char *path, cli_matrix_t *out)
{
    if (!out)
        return cgalr_fail(CGALR_EINVAL, "matrix read: NULL output");
    memset(out, 0, sizeof *out);
    if (!path)
        return cgalr_fail(CGALR_EINVAL, "matrix read: NULL path");
    char *text = NULL;
    size_t len = 0;
    cgalr_status_t st = core_read_text(path, SIZE_MAX, &text, &len);
    if (st != CGALR_OK)
        return st;
    st = cli_matrix_parse(text, len, path, out);
    free(text);
    return st;
}

cgalr_status_t cli_matrix_parse(char *text, size_t len, const char *path, cli_matrix_t *out)
{
    if (!out)
        return cgalr_fail(CGALR_EINVAL, "matrix parse: NULL output");
    memset(out, 0, sizeof *out);
    if (!text || !path)
        return cgalr_fail(CGALR_EINVAL, "matrix parse: NULL %s", !text ? "text" : "name");
    cgalr_status_t st = CGALR_OK;
    if (text[len] != '\0')
        return cgalr_fail(CGALR_EINVAL, "%s: text not NUL-terminated", path);
    if (memchr(text, '\0', len))
        st = cgalr_fail(CGALR_EFORMAT, "%s: contains a NUL byte; expected a text file of numbers", path);

    size_t cap = 1024, n = 0, rcap = 64;
    double *data = malloc(cap * sizeof *data);
    size_t *lines = malloc(rcap * sizeof *lines);
    out->path = strdup(path);
    if (st == CGALR_OK && (!data || !lines || !out->path))
        st = cgalr_fail(CGALR_ENOMEM, "%s: out of memory", path);
    size_t rows = 0, cols = 0, lineno = 0;
    char *s = text;
    while (st == CGALR_OK && *s) {
        lineno++;
        char *eol = strchr(s, '\n');
        char *next = eol ? eol + 1 : s + strlen(s);
        if (eol)
            *eol = '\0';
        char *q = s;
        while (is_blank(*q))
            q++;
        if (*q == '\0' || *q == '#') {
            s = next;
            continue;
        }
        size_t col = 0;
        for (;;) {
            while (is_blank(*q))
                q++;
            if (*q == '\0')
                break;
            col++;
            if (*q == ',') {
                st = cgalr_fail(CGALR_EFORMAT, "%s: line %zu, column %zu: empty field; expected a number",
                                path, lineno, col);
                break;
            }
            char *end;
            errno = 0;
            double v = strtod(q, &end);
            /* the number must end at a separator: "1.5x" or "0x" are not numbers here */
            if (end == q || !(*end == '\0' || *end == ',' || is_blank(*end))) {
                char ex[32];
                excerpt(q, ex, sizeof ex);
                st = cgalr_fail(CGALR_EFORMAT, "%s: line %zu, column %zu: \"%s\" is not a number%s", path,
                                lineno, col, ex,
                                rows == 0 ? " (a header line? start it with '#')" : "");
                break;
            }
            if (!isfinite(v)) {
                char ex[32];
                excerpt(q, ex, sizeof ex);
                st = cgalr_fail(CGALR_ENONFINITE, "%s: line %zu, column %zu: \"%s\" is not finite; "
                                "expected a finite number", path, lineno, col, ex);
                break;
            }
            if (n == cap) {
                double *nd = cap > SIZE_MAX / 2 / sizeof *data ? NULL : realloc(data, 2 * cap * sizeof *data);
                if (!nd) {
                    st = cgalr_fail(CGALR_ENOMEM, "%s: out of memory at line %zu", path, lineno);
                    break;
                }
                data = nd;
                cap *= 2;
            }
            data[n++] = v;
            q = end;
            while (is_blank(*q))
                q++;
            if (*q == ',') {
                q++;
                while (is_blank(*q))
                    q++;
                if (*q == '\0') { /* "1,2," : a trailing separator leaves an empty last field */
                    st = cgalr_fail(CGALR_EFORMAT, "%s: line %zu, column %zu: empty field after a "
                                    "trailing comma; expected a number", path, lineno, col + 1);
                    break;
                }
            }
        }
        if (st != CGALR_OK)
            break;
        if (rows == 0)
            cols = col;
        else if (col != cols) {
            st = cgalr_fail(CGALR_EFORMAT, "%s: line %zu: %zu columns; expected %zu like the first row "
                            "(line %zu)", path, lineno, col, cols, lines[0]);
            break;
        }
        if (rows == rcap) {
            size_t *nl = realloc(lines, 2 * rcap * sizeof *lines);
            if (!nl) {
                st = cgalr_fail(CGALR_ENOMEM, "%s: out of memory at line %zu", path, lineno);
                break;
            }
            lines = nl;
            rcap *= 2;
        }
        lines[rows++] = lineno;
        s = next;
    }
    if (st == CGALR_OK && rows == 0)
        st = cgalr_fail(CGALR_EFORMAT, "%s: no numbers found; expected rows of comma- or blank-separated "
                        "numbers", path);
    if (st != CGALR_OK) {
        free(data);
        free(lines);
        cli_matrix_free(out);
        return st;
    }
    out->rows = rows;
    out->cols = cols;
    out->data = data;
    out->line = lines;
    return CGALR_OK;
}

cgalr_status_t cli_matrix_require_square(const cli_matrix_t *m)
{
    if (m->rows != m->cols)
        return cgalr_fail(CGALR_EFORMAT, "%s: %zu rows of %zu columns; expected a square matrix", m->path,
                          m->rows, m->cols);
    return CGALR_OK;
}

cgalr_status_t cli_matrix_require_symmetric(const cli_matrix_t *m, double tol)
{
    size_t p = m->cols;
    for (size_t i = 0; i < m->rows; i++)
        for (size_t j = i + 1; j < p && j < m->rows; j++) {
            double a = m->data[i * p + j], b = m->data[j * p + i];
            if (!(fabs(a - b) <= tol))
                return cgalr_fail(CGALR_EFORMAT,
                                  "%s: not symmetric: row %zu (line %zu), column %zu is %.17g but row %zu "
                                  "(line %zu), column %zu is %.17g", m->path, i + 1, m->line[i], j + 1, a,
                                  j + 1, m->line[j], i + 1, b);
        }
    return CGALR_OK;
}

cgalr_status_t cli_matrix_require_range(const cli_matrix_t *m, double lo, double hi, int offdiag_only)
{
    for (size_t i = 0; i < m->rows; i++)
        for (size_t j = 0; j < m->cols; j++) {
            double v = m->data[i * m->cols + j];
            if (offdiag_only && i == j)
                continue;
            if (!(v >= lo && v <= hi))
                return cgalr_fail(CGALR_EFORMAT, "%s: row %zu (line %zu), column %zu is %.17g; expected a "
                                  "value in [%g, %g]", m->path, i + 1, m->line[i], j + 1, v, lo, hi);
        }
    return CGALR_OK;
}

int cli_matrix_write_csv(FILE *f, const double *a, size_t rows, size_t cols)
{
    for (size_t i = 0; i < rows; i++)
        for (size_t j = 0; j < cols; j++)
            if (fprintf(f, "%.17g%c", a[i * cols + j], j + 1 < cols ? ',' : '\n') < 0)
                return -1;
    return 0;
}
