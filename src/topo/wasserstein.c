/* Exact 1-Wasserstein distance between persistence diagrams (Euclidean ground metric, diagonal
 * allowed): the classical reduction to a square assignment problem, solved by shortest
 * augmenting paths with dual potentials (Jonker-Volgenant / Hungarian), in double. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cgalr/topo.h"

#define FN "cgalr_topo_wasserstein1"

/* Checks every pair and counts the essential ones (death = +inf). */
static cgalr_status_t check_diagram(const cgalr_diagram_t *d, const char *name, size_t *n_ess)
{
    if (!d)
        return cgalr_fail(CGALR_EINVAL, FN ": diagram %s is NULL", name);
    if (d->n > 0 && !d->pairs)
        return cgalr_fail(CGALR_EINVAL, FN ": diagram %s has n = %zu but pairs = NULL", name, d->n);
    size_t ess = 0;
    for (size_t i = 0; i < d->n; i++) {
        double b = d->pairs[i].birth, e = d->pairs[i].death;
        if (!isfinite(b))
            return cgalr_fail(CGALR_ENONFINITE, FN ": diagram %s, point %zu: birth = %g, expected a finite number",
                              name, i, b);
        if (isnan(e))
            return cgalr_fail(CGALR_ENONFINITE, FN ": diagram %s, point %zu: death is NaN", name, i);
        if (b > e)
            return cgalr_fail(CGALR_EINVAL, FN ": diagram %s, point %zu: birth %.17g > death %.17g, expected birth <= death",
                              name, i, b, e);
        /* Keeps every squared difference finite in the cost matrix. */
        if (fabs(b) > 1e100 || (isfinite(e) && fabs(e) > 1e100))
            return cgalr_fail(CGALR_EINVAL, FN ": diagram %s, point %zu: (%g, %g) exceeds 1e100 in magnitude",
                              name, i, b, e);
        if (isinf(e))
            ess++;
    }
    *n_ess = ess;
    return CGALR_OK;
}

static int cmp_double(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

/* Minimum-cost perfect assignment of the dense nn x nn matrix c (row-major), by successive
 * shortest augmenting paths (Dijkstra on reduced costs, dual potentials u, v). Exact up to the
 * rounding of the sums; O(nn^3) worst case, far less when short paths exist. Returns the cost
 * of the assignment, summed from the original entries. */
typedef struct lap_work {
    double *u, *v, *dist;
    ptrdiff_t *col4row, *row4col, *pred, *todo;
    unsigned char *row_seen, *col_done;
} lap_work_t;

static double lap_solve(const double *c, ptrdiff_t nn, lap_work_t *w)
{
    double *u = w->u, *v = w->v, *dist = w->dist;
    ptrdiff_t *col4row = w->col4row, *row4col = w->row4col, *pred = w->pred, *todo = w->todo;
    unsigned char *row_seen = w->row_seen, *col_done = w->col_done;

    for (ptrdiff_t k = 0; k < nn; k++) {
        u[k] = 0.0;
        v[k] = 0.0;
        col4row[k] = -1;
        row4col[k] = -1;
    }
    /* Column reduction: v_j = min_i c_ij keeps every reduced cost non-negative and lets a row
     * take its cheapest free column at once when there is one. */
    for (ptrdiff_t j = 0; j < nn; j++) {
        double m = c[j];
        for (ptrdiff_t i = 1; i < nn; i++)
            if (c[i * nn + j] < m)
                m = c[i * nn + j];
        v[j] = m;
    }

    for (ptrdiff_t cur = 0; cur < nn; cur++) {
        ptrdiff_t n_todo = nn;
        for (ptrdiff_t j = 0; j < nn; j++) {
            todo[j] = j;
            dist[j] = INFINITY;
            col_done[j] = 0;
            row_seen[j] = 0;
        }
        double min_val = 0.0;
        ptrdiff_t i = cur, sink = -1;
        while (sink < 0) {
            row_seen[i] = 1;
            const double *ci = c + i * nn;
            double ui = u[i], lowest = INFINITY;
            ptrdiff_t best = -1;
            for (ptrdiff_t t = 0; t < n_todo; t++) {
                ptrdiff_t j = todo[t];
                double r = min_val + ci[j] - ui - v[j];
                if (r < dist[j]) {
                    dist[j] = r;
                    pred[j] = i;
                }
                /* Among equal distances prefer a free column: the path ends there. */
                if (dist[j] < lowest || (dist[j] == lowest && row4col[j] < 0)) {
                    lowest = dist[j];
                    best = t;
                }
            }
            if (best < 0)
                return NAN; /* unreachable with finite costs */
            ptrdiff_t j = todo[best];
            min_val = lowest;
            col_done[j] = 1;
            todo[best] = todo[--n_todo];
            if (row4col[j] < 0)
                sink = j;
            else
                i = row4col[j];
        }
        /* Dual update keeps reduced costs >= 0 on every scanned edge and 0 along the path. */
        u[cur] += min_val;
        for (ptrdiff_t r = 0; r < nn; r++)
            if (row_seen[r] && r != cur)
                u[r] += min_val - dist[col4row[r]];
        for (ptrdiff_t jj = 0; jj < nn; jj++)
            if (col_done[jj])
                v[jj] -= min_val - dist[jj];
        /* Flip the alternating path back to `cur`. */
        ptrdiff_t j = sink;
        for (;;) {
            ptrdiff_t r = pred[j];
            row4col[j] = r;
            ptrdiff_t prev = col4row[r];
            col4row[r] = j;
            if (r == cur)
                break;
            j = prev;
        }
    }
    double total = 0.0;
    for (ptrdiff_t r = 0; r < nn; r++)
        total += c[r * nn + col4row[r]];
    return total;
}

cgalr_status_t cgalr_topo_wasserstein1(const cgalr_diagram_t *a, const cgalr_diagram_t *b, double *out)
{
    if (!out)
        return cgalr_fail(CGALR_EINVAL, FN ": out is NULL");
    size_t ea = 0, eb = 0;
    cgalr_status_t st = check_diagram(a, "a", &ea);
    if (st != CGALR_OK)
        return st;
    st = check_diagram(b, "b", &eb);
    if (st != CGALR_OK)
        return st;
    if (ea != eb) {
        /* No finite-cost matching pairs essential classes with finite points. */
        *out = INFINITY;
        return CGALR_OK;
    }
    size_t na = a->n - ea, nb = b->n - eb;
    size_t nn = na + nb;
    if (nn > 0 && (nn > (size_t)PTRDIFF_MAX / sizeof(double) / nn))
        return cgalr_fail(CGALR_ENOMEM, FN ": %zu + %zu points: assignment matrix too large", na, nb);

    double essential = 0.0;
    if (ea > 0) {
        double *sa = malloc(ea * sizeof *sa), *sb = malloc(eb * sizeof *sb);
        if (!sa || !sb) {
            free(sa);
            free(sb);
            return cgalr_fail(CGALR_ENOMEM, FN ": out of memory for %zu essential points", ea);
        }
        size_t ka = 0, kb = 0;
        for (size_t i = 0; i < a->n; i++)
            if (isinf(a->pairs[i].death))
                sa[ka++] = a->pairs[i].birth;
        for (size_t i = 0; i < b->n; i++)
            if (isinf(b->pairs[i].death))
                sb[kb++] = b->pairs[i].birth;
        /* On the line, the optimal matching pairs sorted order statistics. */
        qsort(sa, ea, sizeof *sa, cmp_double);
        qsort(sb, eb, sizeof *sb, cmp_double);
        for (size_t k = 0; k < ea; k++)
            essential += fabs(sa[k] - sb[k]);
        free(sa);
        free(sb);
    }
    if (nn == 0) {
        *out = essential;
        return CGALR_OK;
    }

    /* Rows: A's finite points, then nb diagonal slots; columns: B's finite points, then na
     * diagonal slots. A point may take any diagonal slot at its own diagonal cost (all slots are
     * interchangeable, so this equals the one-slot-per-point formulation); slot-to-slot is 0. */
    double *c = malloc(nn * nn * sizeof *c);
    double *da = malloc((na ? na : 1) * sizeof *da);
    double *ax = malloc((na ? na : 1) * 2 * sizeof *ax);
    double *bx = malloc((nb ? nb : 1) * 2 * sizeof *bx);
    lap_work_t w;
    w.u = malloc(nn * sizeof(double));
    w.v = malloc(nn * sizeof(double));
    w.dist = malloc(nn * sizeof(double));
    w.col4row = malloc(nn * sizeof(ptrdiff_t));
    w.row4col = malloc(nn * sizeof(ptrdiff_t));
    w.pred = malloc(nn * sizeof(ptrdiff_t));
    w.todo = malloc(nn * sizeof(ptrdiff_t));
    w.row_seen = malloc(nn);
    w.col_done = malloc(nn);
    if (!c || !da || !ax || !bx || !w.u || !w.v || !w.dist || !w.col4row || !w.row4col || !w.pred || !w.todo ||
        !w.row_seen || !w.col_done) {
        st = cgalr_fail(CGALR_ENOMEM, FN ": out of memory for a %zu x %zu assignment", nn, nn);
        goto done;
    }
    const double inv_sqrt2 = 0.70710678118654752440;
    size_t k = 0;
    for (size_t i = 0; i < a->n; i++)
        if (!isinf(a->pairs[i].death)) {
            ax[2 * k] = a->pairs[i].birth;
            ax[2 * k + 1] = a->pairs[i].death;
            k++;
        }
    k = 0;
    for (size_t i = 0; i < b->n; i++)
        if (!isinf(b->pairs[i].death)) {
            bx[2 * k] = b->pairs[i].birth;
            bx[2 * k + 1] = b->pairs[i].death;
            k++;
        }
    for (size_t i = 0; i < na; i++)
        da[i] = (ax[2 * i + 1] - ax[2 * i]) * inv_sqrt2;
    for (size_t i = 0; i < na; i++) {
        double *ci = c + i * nn;
        double x = ax[2 * i], y = ax[2 * i + 1];
        for (size_t j = 0; j < nb; j++) {
            double dx = x - bx[2 * j], dy = y - bx[2 * j + 1];
            ci[j] = sqrt(dx * dx + dy * dy);
        }
        for (size_t j = nb; j < nn; j++)
            ci[j] = da[i];
    }
    for (size_t i = na; i < nn; i++) {
        double *ci = c + i * nn;
        for (size_t j = 0; j < nb; j++)
            ci[j] = (bx[2 * j + 1] - bx[2 * j]) * inv_sqrt2;
        for (size_t j = nb; j < nn; j++)
            ci[j] = 0.0;
    }
    *out = lap_solve(c, (ptrdiff_t)nn, &w) + essential;
    st = CGALR_OK;
done:
    free(c);
    free(da);
    free(ax);
    free(bx);
    free(w.u);
    free(w.v);
    free(w.dist);
    free(w.col4row);
    free(w.row4col);
    free(w.pred);
    free(w.todo);
    free(w.row_seen);
    free(w.col_done);
    return st;
}
