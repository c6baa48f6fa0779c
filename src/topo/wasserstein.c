/* Exact 1-Wasserstein distance between persistence diagrams (Euclidean ground metric, diagonal
 * allowed): the classical reduction to an assignment problem, with the diagonal slots merged,
 * solved by shortest augmenting paths with dual potentials (Hungarian / Jonker-Volgenant). */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cgalr/topo.h"
#include "core/sort.h"
#include "topo/topo_internal.h"

#define FN "cgalr_topo_wasserstein1"

/* The transport problem left after pruning, in compressed form (ma + 1) x (mb + 1): rows are the
 * kept A points then DA, the diagonal as a supplier of mb units; columns are the kept B points
 * then DB, the diagonal as a consumer of ma units. cost(A_i, B_j) = ||a_i - b_j||,
 * cost(A_i, DB) = diag(a_i), cost(DA, B_j) = diag(b_j), cost(DA, DB) = 0. It is the square
 * assignment of size ma + mb with the interchangeable diagonal slots merged into one node each,
 * which keeps shortest-path searches from wading through identical slots. Solved exactly by
 * successive shortest augmenting paths (Dijkstra on reduced costs c - u - v >= 0, one unit per
 * path, dual update as in Jonker-Volgenant), after a greedy start on tight edges. */
typedef struct flow {
    size_t ma, mb, w;      /* w = mb + 1: row stride of c */
    const double *c;       /* (ma + 1) x (mb + 1) */
    double *u, *v;         /* duals of rows, columns */
    double *dist;          /* per column */
    ptrdiff_t *match_a;    /* A row -> column (mb = DB), -1 free */
    ptrdiff_t *match_b;    /* B column -> row (ma = DA), -1 free */
    ptrdiff_t *pred;       /* per column: the row it was reached from */
    ptrdiff_t *via;        /* per row: the column it was reached through */
    double *key, *vv;      /* per column, search state */
    ptrdiff_t *rows;       /* stack of rows to scan */
    ptrdiff_t *free_cols;  /* columns with demand left */
    unsigned char *seen;   /* per row */
    unsigned char *done;   /* per column */
    size_t f0;             /* flow DA -> DB */
    size_t a_to_db, b_from_da;
} flow_t;

static int is_sink(const flow_t *f, ptrdiff_t col)
{
    if ((size_t)col < f->mb)
        return f->match_b[col] < 0;
    return f->a_to_db + f->f0 < f->ma;
}

/* Smallest key[0..n) and its index, in four independent lanes. */
static double lane_min(const double *key, size_t n, ptrdiff_t *arg)
{
    double lo[4] = {INFINITY, INFINITY, INFINITY, INFINITY};
    ptrdiff_t li[4] = {-1, -1, -1, -1};
    size_t j = 0;
    for (; j + 4 <= n; j += 4)
        for (int q = 0; q < 4; q++) {
            int lt = key[j + q] < lo[q];
            lo[q] = lt ? key[j + q] : lo[q];
            li[q] = lt ? (ptrdiff_t)(j + q) : li[q];
        }
    for (; j < n; j++)
        if (key[j] < lo[0]) {
            lo[0] = key[j];
            li[0] = (ptrdiff_t)j;
        }
    int q0 = 0;
    for (int q = 1; q < 4; q++)
        if (lo[q] < lo[q0])
            q0 = q;
    *arg = li[q0];
    return lo[q0];
}

/* One shortest path from source row s (a free A row, or DA with supply left) to the nearest
 * column with demand left; pushes one unit along it. Returns -1 if no column is reachable,
 * which finite costs rule out. */
static int augment(flow_t *f, ptrdiff_t s)
{
    const size_t ma = f->ma, mb = f->mb, w = f->w;
    const ptrdiff_t da_row = (ptrdiff_t)ma, db_col = (ptrdiff_t)mb;
    double *u = f->u, *v = f->v, *dist = f->dist, *key = f->key, *vv = f->vv;
    ptrdiff_t *rows = f->rows, *pred = f->pred, *free_cols = f->free_cols;
    size_t n_rows = 0;
    /* key: tentative distance of unsettled columns (+inf once settled); vv: v, or -inf once
     * settled so that later scans can never lower a settled column. No index lists: the scans
     * run over contiguous arrays. */
    for (size_t j = 0; j <= mb; j++) {
        key[j] = INFINITY;
        vv[j] = v[j];
        f->done[j] = 0;
    }
    memset(f->seen, 0, ma + 1);
    double min_val = 0.0;
    ptrdiff_t sink = -1;
    f->seen[s] = 1;
    f->via[s] = -1;
    rows[n_rows++] = s;
    /* The columns with demand left, for the tie-break below: few when paths get long. */
    size_t n_free = 0;
    for (size_t j = 0; j < mb; j++)
        if (f->match_b[j] < 0)
            free_cols[n_free++] = (ptrdiff_t)j;
    if (is_sink(f, db_col))
        free_cols[n_free++] = db_col;
    for (;;) {
        double lowest = INFINITY;
        ptrdiff_t best = -1;
        /* Relax from the rows reached in this round, branch-free so that it vectorises (these
         * scans are nearly all of the time), then find the closest column. */
        while (n_rows > 0) {
            ptrdiff_t r = rows[--n_rows];
            const double *cr = f->c + (size_t)r * w;
            double off = min_val - u[r];
            for (size_t j = 0; j <= mb; j++) {
                double d = off + cr[j] - vv[j];
                int lt = d < key[j];
                key[j] = lt ? d : key[j];
                pred[j] = lt ? r : pred[j];
            }
        }
        lowest = lane_min(key, mb + 1, &best);
        /* Among equally close columns prefer one with demand left: the path ends there. */
        if (best >= 0 && !is_sink(f, best))
            for (size_t t = 0; t < n_free; t++)
                if (key[free_cols[t]] == lowest) {
                    best = free_cols[t];
                    break;
                }
        if (best < 0)
            return -1;
        ptrdiff_t j = best;
        min_val = lowest;
        dist[j] = lowest;
        key[j] = INFINITY;
        vv[j] = -INFINITY;
        f->done[j] = 1;
        if (is_sink(f, j)) {
            sink = j;
            break;
        }
        /* Rows holding flow into j are reached at j's distance, through j. */
        if (j < db_col) {
            ptrdiff_t r = f->match_b[j];
            if (!f->seen[r]) {
                f->seen[r] = 1;
                f->via[r] = j;
                rows[n_rows++] = r;
            }
        } else {
            for (size_t i = 0; i < ma; i++)
                if (f->match_a[i] == db_col && !f->seen[i]) {
                    f->seen[i] = 1;
                    f->via[i] = j;
                    rows[n_rows++] = (ptrdiff_t)i;
                }
            if (f->f0 > 0 && !f->seen[da_row]) {
                f->seen[da_row] = 1;
                f->via[da_row] = j;
                rows[n_rows++] = da_row;
            }
        }
    }
    /* Duals: reduced costs stay >= 0 everywhere and 0 on every edge carrying flow. */
    for (size_t r = 0; r <= ma; r++)
        if (f->seen[r])
            u[r] += (ptrdiff_t)r == s ? min_val : min_val - dist[f->via[r]];
    for (size_t j = 0; j <= mb; j++)
        if (f->done[j])
            v[j] -= min_val - dist[j];
    /* Push one unit back along the path: each row moves one unit from `via` to the next column. */
    ptrdiff_t col = sink;
    for (;;) {
        ptrdiff_t r = f->pred[col];
        ptrdiff_t prev = r == s ? -1 : f->via[r];
        if (r < da_row) {
            if (f->match_a[r] == db_col)
                f->a_to_db--;
            f->match_a[r] = col;
            if (col == db_col)
                f->a_to_db++;
        } else {
            if (prev == db_col)
                f->f0--;
            else if (prev >= 0)
                f->b_from_da--;
            if (col == db_col)
                f->f0++;
            else
                f->b_from_da++;
        }
        if (col < db_col)
            f->match_b[col] = r;
        if (prev < 0)
            break;
        col = prev;
    }
    return 0;
}

static double flow_solve(flow_t *f)
{
    const size_t ma = f->ma, mb = f->mb, w = f->w;
    const ptrdiff_t da_row = (ptrdiff_t)ma;
    const double *c = f->c;
    for (size_t i = 0; i < ma; i++)
        f->match_a[i] = -1;
    for (size_t j = 0; j < mb; j++)
        f->match_b[j] = -1;
    f->f0 = f->a_to_db = f->b_from_da = 0;
    /* Column reduction: v_j = min_r c_rj, u = 0; a B column takes its cheapest row when that
     * row is free (or is DA), an edge that is then tight. */
    for (size_t r = 0; r <= ma; r++)
        f->u[r] = 0.0;
    for (size_t j = 0; j <= mb; j++) {
        double m = c[j];
        size_t arg = 0;
        for (size_t r = 1; r <= ma; r++)
            if (c[r * w + j] < m) {
                m = c[r * w + j];
                arg = r;
            }
        f->v[j] = m;
        if (j == mb)
            continue;
        if (arg == ma) {
            f->match_b[j] = da_row;
            f->b_from_da++;
        } else if (f->match_a[arg] < 0) {
            f->match_a[arg] = (ptrdiff_t)j;
            f->match_b[j] = (ptrdiff_t)arg;
        }
    }
    /* DA -> DB costs 0 = u_DA + v_DB (v_DB = min(0, diag costs) = 0): tight, fill it. */
    size_t left = mb - f->b_from_da;
    f->f0 = left < ma ? left : ma;
    /* Row reduction: a free A row raises u_i to its least reduced cost and takes that column
     * when it still has demand. */
    for (size_t i = 0; i < ma; i++) {
        if (f->match_a[i] >= 0)
            continue;
        const double *ci = c + i * w;
        double m = INFINITY;
        size_t arg = 0;
        for (size_t j = 0; j <= mb; j++) {
            double h = ci[j] - f->v[j];
            if (h < m) {
                m = h;
                arg = j;
            }
        }
        f->u[i] = m;
        if (is_sink(f, (ptrdiff_t)arg)) {
            f->match_a[i] = (ptrdiff_t)arg;
            if (arg == mb)
                f->a_to_db++;
            else
                f->match_b[arg] = (ptrdiff_t)i;
        }
    }
    for (size_t i = 0; i < ma; i++)
        if (f->match_a[i] < 0 && augment(f, (ptrdiff_t)i) != 0)
            return NAN;
    while (f->b_from_da + f->f0 < mb)
        if (augment(f, da_row) != 0)
            return NAN;
    double total = 0.0;
    for (size_t i = 0; i < ma; i++)
        total += c[i * w + f->match_a[i]];
    for (size_t j = 0; j < mb; j++)
        if (f->match_b[j] == da_row)
            total += c[ma * w + j];
    return total;
}

/* W1 between the finite diagrams ax (na points) and bx (nb points), both as (birth, death) pairs.
 *
 * Pruning first: if ||a - b|| >= diag(a) + diag(b) the pair (a, b) can always be replaced by
 * (a, diagonal) + (diagonal, b) at no extra cost, so a point all of whose cross pairs are like
 * that goes to the diagonal in some optimal matching; it leaves the problem with its diagonal
 * cost. Points on the diagonal always go. */
static cgalr_status_t finite_w1(const double *ax, size_t na, const double *bx, size_t nb, double *out)
{
    const double inv_sqrt2 = 0.70710678118654752440;
    cgalr_status_t st = CGALR_OK;
    double *dm = malloc((na && nb ? na * nb : 1) * sizeof *dm);
    double *da = malloc((na + nb + 1) * sizeof *da), *db = da + na;
    unsigned char *keep = calloc(na + nb + 1, 1), *keep_a = keep, *keep_b = keep + na;
    size_t *ka = malloc((na + nb + 1) * sizeof *ka), *kb = ka + na;
    double *c = NULL, *dbl = NULL;
    ptrdiff_t *idx = NULL;
    unsigned char *flags = NULL;
    if (!dm || !da || !keep || !ka) {
        st = cgalr_fail(CGALR_ENOMEM, FN ": out of memory for %zu x %zu points", na, nb);
        goto done;
    }
    for (size_t i = 0; i < na; i++)
        da[i] = (ax[2 * i + 1] - ax[2 * i]) * inv_sqrt2;
    for (size_t j = 0; j < nb; j++)
        db[j] = (bx[2 * j + 1] - bx[2 * j]) * inv_sqrt2;
    for (size_t i = 0; i < na; i++) {
        double x = ax[2 * i], y = ax[2 * i + 1], di = da[i];
        double *row = dm + i * nb;
        for (size_t j = 0; j < nb; j++) {
            double dx = x - bx[2 * j], dy = y - bx[2 * j + 1];
            double d = sqrt(dx * dx + dy * dy);
            row[j] = d;
            if (d < di + db[j]) {
                keep_a[i] = 1;
                keep_b[j] = 1;
            }
        }
    }
    double pruned = 0.0;
    size_t ma = 0, mb = 0;
    for (size_t i = 0; i < na; i++) {
        if (keep_a[i])
            ka[ma++] = i;
        else
            pruned += da[i];
    }
    for (size_t j = 0; j < nb; j++) {
        if (keep_b[j])
            kb[mb++] = j;
        else
            pruned += db[j];
    }
    if (ma + mb == 0) {
        *out = pruned;
        goto done;
    }
    size_t w = mb + 1, nr = ma + 1;
    c = malloc(nr * w * sizeof *c);
    dbl = malloc((nr + 4 * w) * sizeof *dbl);
    idx = malloc((ma + 3 * w + 2 * nr + mb) * sizeof *idx);
    flags = malloc(nr + w);
    if (!c || !dbl || !idx || !flags) {
        st = cgalr_fail(CGALR_ENOMEM, FN ": out of memory for a %zu x %zu transport problem", nr, w);
        goto done;
    }
    for (size_t r = 0; r < ma; r++) {
        double *cr = c + r * w;
        const double *row = dm + ka[r] * nb;
        for (size_t q = 0; q < mb; q++)
            cr[q] = row[kb[q]];
        cr[mb] = da[ka[r]];
    }
    for (size_t q = 0; q < mb; q++)
        c[ma * w + q] = db[kb[q]];
    c[ma * w + mb] = 0.0;
    flow_t f = {
        .ma = ma, .mb = mb, .w = w, .c = c,
        .u = dbl, .v = dbl + nr, .dist = dbl + nr + w,
        .match_a = idx, .match_b = idx + ma, .pred = idx + ma + mb, .via = idx + ma + mb + w,
        .rows = idx + ma + mb + w + nr, .free_cols = idx + ma + mb + w + 2 * nr, .key = dbl + nr + 2 * w, .vv = dbl + nr + 3 * w,
        .seen = flags, .done = flags + nr,
    };
    double total = flow_solve(&f);
    if (isnan(total)) {
        st = cgalr_fail(CGALR_EINTERNAL, FN ": no augmenting path in a %zu x %zu transport problem", nr, w);
        goto done;
    }
    *out = total + pruned;
done:
    free(dm);
    free(da);
    free(keep);
    free(ka);
    free(c);
    free(dbl);
    free(idx);
    free(flags);
    return st;
}

cgalr_status_t cgalr_topo_wasserstein1(const cgalr_diagram_t *a, const cgalr_diagram_t *b, double *out)
{
    if (!out)
        return cgalr_fail(CGALR_EINVAL, FN ": out is NULL");
    size_t ea = 0, eb = 0;
    cgalr_status_t st = topo_diagram_check(a, FN, "a", &ea);
    if (st != CGALR_OK)
        return st;
    st = topo_diagram_check(b, FN, "b", &eb);
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
        qsort(sa, ea, sizeof *sa, core_cmp_f64);
        qsort(sb, eb, sizeof *sb, core_cmp_f64);
        for (size_t k = 0; k < ea; k++)
            essential += fabs(sa[k] - sb[k]);
        free(sa);
        free(sb);
    }
    if (nn == 0) {
        *out = essential;
        return CGALR_OK;
    }

    double *ax = malloc((na ? na : 1) * 2 * sizeof *ax);
    double *bx = malloc((nb ? nb : 1) * 2 * sizeof *bx);
    if (!ax || !bx) {
        free(ax);
        free(bx);
        return cgalr_fail(CGALR_ENOMEM, FN ": out of memory for %zu + %zu points", na, nb);
    }
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
    double finite = 0.0;
    st = finite_w1(ax, na, bx, nb, &finite);
    free(ax);
    free(bx);
    if (st == CGALR_OK)
        *out = finite + essential;
    return st;
}
