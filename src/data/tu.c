/* TU-Dortmund graph datasets (NAME_A.txt, NAME_graph_indicator.txt, NAME_graph_labels.txt, and
 * optional NAME_node_labels.txt / NAME_node_attributes.txt), parsed from memory into a global
 * CSR with labels remapped to 0..C-1 in sorted order of their raw values. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "data/data_internal.h"

typedef struct lines {
    const tu_text_t *t;
    const char *p, *end;
    size_t line; /* 1-based number of the line last returned */
} lines_t;

static void lines_init(lines_t *L, const tu_text_t *t)
{
    L->t = t;
    L->p = t->buf;
    L->end = t->buf + t->len;
    L->line = 0;
}

/* Next line without its terminator; a final empty line (file ends with '\n') is not a line. */
static int next_line(lines_t *L, const char **s, const char **e)
{
    if (L->p >= L->end)
        return 0;
    const char *q = memchr(L->p, '\n', (size_t)(L->end - L->p));
    const char *stop = q ? q : L->end;
    *s = L->p;
    *e = stop;
    if (*e > *s && (*e)[-1] == '\r')
        (*e)--;
    L->p = q ? q + 1 : L->end;
    L->line++;
    return 1;
}

static size_t count_lines(const tu_text_t *t)
{
    lines_t L;
    const char *s, *e;
    lines_init(&L, t);
    size_t n = 0;
    while (next_line(&L, &s, &e))
        n++;
    return n;
}

static const char *skip_ws(const char *s, const char *e)
{
    while (s < e && (*s == ' ' || *s == '\t'))
        s++;
    return s;
}

/* A decimal integer with optional sign; |value| < 10^15 keeps every later step exact. */
static int parse_int(const char **sp, const char *e, long *v)
{
    const char *s = skip_ws(*sp, e);
    int neg = 0;
    if (s < e && (*s == '-' || *s == '+'))
        neg = *s++ == '-';
    if (s >= e || *s < '0' || *s > '9')
        return 0;
    long x = 0;
    int digits = 0;
    while (s < e && *s >= '0' && *s <= '9') {
        if (++digits > 15)
            return 0;
        x = x * 10 + (*s++ - '0');
    }
    *v = neg ? -x : x;
    *sp = s;
    return 1;
}

static int at_end(const char *s, const char *e)
{
    return skip_ws(s, e) == e;
}

static cgalr_status_t bad_line(const lines_t *L, const char *s, const char *e, const char *expected)
{
    int n = (int)(e - s > 40 ? 40 : e - s);
    return cgalr_fail(CGALR_EFORMAT, "tu '%s' line %zu: '%.*s%s', expected %s", L->t->name, L->line, n, s,
                      e - s > 40 ? "..." : "", expected);
}

/* One integer per line, exactly `want` lines (0: any number, returned in *n). */
static cgalr_status_t read_ints(const tu_text_t *t, size_t want, long **out, size_t *n)
{
    size_t lines = count_lines(t);
    if (lines == 0)
        return cgalr_fail(CGALR_EFORMAT, "tu '%s': empty file", t->name);
    if (want && lines != want)
        return cgalr_fail(CGALR_EFORMAT, "tu '%s': %zu lines, expected %zu (one per %s)", t->name, lines, want,
                          strstr(t->name, "graph_labels") ? "graph" : "node");
    long *v = malloc(lines * sizeof *v);
    if (!v)
        return cgalr_fail(CGALR_ENOMEM, "tu '%s': out of memory for %zu lines", t->name, lines);
    lines_t L;
    const char *s, *e;
    lines_init(&L, t);
    size_t i = 0;
    while (next_line(&L, &s, &e)) {
        const char *p = s;
        if (!parse_int(&p, e, &v[i]) || !at_end(p, e)) {
            free(v);
            return bad_line(&L, s, e, "one integer");
        }
        i++;
    }
    *out = v;
    *n = lines;
    return CGALR_OK;
}

static int cmp_long(const void *a, const void *b)
{
    long x = *(const long *)a, y = *(const long *)b;
    return (x > y) - (x < y);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* Remaps raw values to their rank among the distinct values (sorted order). */
static cgalr_status_t remap(const char *name, const long *raw, size_t n, int32_t **out, long **values,
                            size_t *distinct)
{
    long *sorted = malloc(n * sizeof *sorted);
    int32_t *m = malloc(n * sizeof *m);
    if (!sorted || !m) {
        free(sorted);
        free(m);
        return cgalr_fail(CGALR_ENOMEM, "tu '%s': out of memory", name);
    }
    memcpy(sorted, raw, n * sizeof *sorted);
    qsort(sorted, n, sizeof *sorted, cmp_long);
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (i == 0 || sorted[i] != sorted[k - 1])
            sorted[k++] = sorted[i];
    for (size_t i = 0; i < n; i++) {
        long *hit = bsearch(&raw[i], sorted, k, sizeof *sorted, cmp_long);
        m[i] = (int32_t)(hit - sorted);
    }
    *out = m;
    *distinct = k;
    if (values)
        *values = sorted;
    else
        free(sorted);
    return CGALR_OK;
}

void data_tu_raw_free(tu_raw_t *t)
{
    if (!t)
        return;
    free(t->node_ptr);
    free(t->adj_ptr);
    free(t->adj);
    free(t->graph_label);
    free(t->class_values);
    free(t->node_label);
    free(t->node_attr);
    memset(t, 0, sizeof *t);
}

static cgalr_status_t parse_indicator(const tu_text_t *t, tu_raw_t *r, long **gi)
{
    size_t n;
    cgalr_status_t st = read_ints(t, 0, gi, &n);
    if (st)
        return st;
    long *g = *gi;
    /* Nodes of a graph must be contiguous and graphs numbered 1, 2, ... without gaps, else a
     * graph would be empty or split. */
    if (g[0] != 1)
        return cgalr_fail(CGALR_EFORMAT, "tu '%s' line 1: graph id %ld, expected 1", t->name, g[0]);
    for (size_t i = 1; i < n; i++)
        if (g[i] != g[i - 1] && g[i] != g[i - 1] + 1)
            return cgalr_fail(CGALR_EFORMAT, "tu '%s' line %zu: graph id %ld after %ld, expected %ld or %ld "
                              "(nodes of a graph contiguous, graphs numbered without gaps)", t->name, i + 1,
                              g[i], g[i - 1], g[i - 1], g[i - 1] + 1);
    r->n_nodes = n;
    r->n_graphs = (size_t)g[n - 1];
    r->node_ptr = calloc(r->n_graphs + 1, sizeof *r->node_ptr);
    if (!r->node_ptr)
        return cgalr_fail(CGALR_ENOMEM, "tu '%s': out of memory", t->name);
    for (size_t i = 0; i < n; i++)
        r->node_ptr[g[i]]++;
    for (size_t k = 0; k < r->n_graphs; k++)
        r->node_ptr[k + 1] += r->node_ptr[k];
    return CGALR_OK;
}

static cgalr_status_t parse_edges(const tu_text_t *t, const long *gi, tu_raw_t *r)
{
    size_t lines = count_lines(t);
    /* An edge list may be empty (graphs of isolated nodes) but the file must exist. */
    uint64_t *pairs = malloc((2 * lines + 1) * sizeof *pairs);
    if (!pairs)
        return cgalr_fail(CGALR_ENOMEM, "tu '%s': out of memory for %zu edges", t->name, lines);
    lines_t L;
    const char *s, *e;
    lines_init(&L, t);
    size_t m = 0, self = 0;
    while (next_line(&L, &s, &e)) {
        const char *p = s;
        long i, j;
        if (!parse_int(&p, e, &i)) {
            free(pairs);
            return bad_line(&L, s, e, "'i, j' (two node ids)");
        }
        p = skip_ws(p, e);
        if (p >= e || *p != ',') {
            free(pairs);
            return bad_line(&L, s, e, "'i, j' (two node ids)");
        }
        p++;
        if (!parse_int(&p, e, &j) || !at_end(p, e)) {
            free(pairs);
            return bad_line(&L, s, e, "'i, j' (two node ids)");
        }
        if (i < 1 || j < 1 || (size_t)i > r->n_nodes || (size_t)j > r->n_nodes) {
            free(pairs);
            return cgalr_fail(CGALR_EFORMAT, "tu '%s' line %zu: edge (%ld, %ld) out of range, nodes are 1..%zu",
                              t->name, L.line, i, j, r->n_nodes);
        }
        if (gi[i - 1] != gi[j - 1]) {
            free(pairs);
            return cgalr_fail(CGALR_EFORMAT, "tu '%s' line %zu: edge (%ld, %ld) joins graph %ld and graph %ld",
                              t->name, L.line, i, j, gi[i - 1], gi[j - 1]);
        }
        if (i == j) { /* the batch format has no self loops; count them with the dropped lines */
            self++;
            continue;
        }
        pairs[m++] = (uint64_t)(i - 1) << 32 | (uint64_t)(j - 1);
    }
    qsort(pairs, m, sizeof *pairs, cmp_u64);
    size_t u = 0;
    for (size_t k = 0; k < m; k++)
        if (k == 0 || pairs[k] != pairs[u - 1])
            pairs[u++] = pairs[k];
    r->duplicates = (m - u) + self;
    /* Symmetrise: files list each undirected edge once or twice; the batch wants both directions. */
    size_t n2 = u;
    for (size_t k = 0; k < u; k++)
        pairs[n2++] = (pairs[k] & 0xffffffffu) << 32 | pairs[k] >> 32;
    qsort(pairs, n2, sizeof *pairs, cmp_u64);
    size_t v = 0;
    for (size_t k = 0; k < n2; k++)
        if (k == 0 || pairs[k] != pairs[v - 1])
            pairs[v++] = pairs[k];
    r->adj_ptr = calloc(r->n_nodes + 1, sizeof *r->adj_ptr);
    r->adj = malloc((v + 1) * sizeof *r->adj);
    if (!r->adj_ptr || !r->adj) {
        free(pairs);
        return cgalr_fail(CGALR_ENOMEM, "tu '%s': out of memory for %zu edges", t->name, v);
    }
    for (size_t k = 0; k < v; k++) {
        r->adj_ptr[(pairs[k] >> 32) + 1]++;
        r->adj[k] = (int32_t)(pairs[k] & 0xffffffffu);
    }
    for (size_t k = 0; k < r->n_nodes; k++)
        r->adj_ptr[k + 1] += r->adj_ptr[k];
    r->n_edges = v / 2;
    free(pairs);
    return CGALR_OK;
}

static cgalr_status_t parse_attrs(const tu_text_t *t, tu_raw_t *r)
{
    size_t lines = count_lines(t);
    if (lines != r->n_nodes)
        return cgalr_fail(CGALR_EFORMAT, "tu '%s': %zu lines, expected %zu (one per node)", t->name, lines,
                          r->n_nodes);
    lines_t L;
    const char *s, *e;
    lines_init(&L, t);
    char tmp[64];
    size_t dim = 0, cap = 0;
    float *a = NULL;
    while (next_line(&L, &s, &e)) {
        size_t k = 0;
        const char *p = s;
        for (;;) {
            const char *q = memchr(p, ',', (size_t)(e - p));
            const char *fe = q ? q : e;
            const char *fs = skip_ws(p, fe);
            size_t fl = (size_t)(fe - fs);
            while (fl && (fs[fl - 1] == ' ' || fs[fl - 1] == '\t'))
                fl--;
            if (fl == 0 || fl >= sizeof tmp) {
                free(a);
                return bad_line(&L, s, e, "comma-separated numbers");
            }
            memcpy(tmp, fs, fl);
            tmp[fl] = 0;
            char *endp;
            double x = strtod(tmp, &endp);
            if (*endp || !isfinite(x) || fabs(x) > 3.0e38) {
                free(a);
                return bad_line(&L, s, e, "comma-separated finite numbers");
            }
            if (L.line == 1) {
                if (dim >= 4096) {
                    free(a);
                    return bad_line(&L, s, e, "at most 4096 attributes");
                }
                if (k == cap) {
                    cap = cap ? cap * 2 : 8;
                    float *na = realloc(a, cap * sizeof *na);
                    if (!na) {
                        free(a);
                        return cgalr_fail(CGALR_ENOMEM, "tu '%s': out of memory", t->name);
                    }
                    a = na;
                }
                dim++;
            } else if (k >= dim) {
                free(a);
                return cgalr_fail(CGALR_EFORMAT, "tu '%s' line %zu: more than the %zu values of line 1",
                                  t->name, L.line, dim);
            }
            a[(L.line - 1) * dim + k] = (float)x;
            k++;
            if (!q)
                break;
            p = q + 1;
        }
        if (L.line == 1) {
            float *na = realloc(a, r->n_nodes * dim * sizeof *na);
            if (!na) {
                free(a);
                return cgalr_fail(CGALR_ENOMEM, "tu '%s': out of memory", t->name);
            }
            a = na;
        } else if (k != dim) {
            free(a);
            return cgalr_fail(CGALR_EFORMAT, "tu '%s' line %zu: %zu values, expected %zu like line 1", t->name,
                              L.line, k, dim);
        }
    }
    r->node_attr = a;
    r->attr_dim = dim;
    return CGALR_OK;
}

cgalr_status_t data_tu_parse(const tu_text_t *indicator, const tu_text_t *a, const tu_text_t *glabels,
                        const tu_text_t *nlabels, const tu_text_t *nattr, tu_raw_t *out)
{
    memset(out, 0, sizeof *out);
    if (!indicator || !indicator->buf || !a || !a->buf || !glabels || !glabels->buf)
        return cgalr_fail(CGALR_EINVAL, "tu: graph_indicator, A and graph_labels are required");
    long *gi = NULL, *gl = NULL, *nl = NULL;
    size_t n;
    cgalr_status_t st = parse_indicator(indicator, out, &gi);
    if (!st)
        st = read_ints(glabels, out->n_graphs, &gl, &n);
    if (!st)
        st = remap(glabels->name, gl, out->n_graphs, &out->graph_label, &out->class_values, &out->classes);
    if (!st && nlabels && nlabels->buf) {
        st = read_ints(nlabels, out->n_nodes, &nl, &n);
        if (!st)
            st = remap(nlabels->name, nl, out->n_nodes, &out->node_label, NULL, &out->node_label_values);
    }
    if (!st)
        st = parse_edges(a, gi, out);
    if (!st && nattr && nattr->buf)
        st = parse_attrs(nattr, out);
    free(gi);
    free(gl);
    free(nl);
    if (st)
        data_tu_raw_free(out);
    return st;
}
