/* Vietoris-Rips persistence in dimensions 0 and 1 over Z/2 (first, plain version): H0 by
 * union-find over the sorted edges, H1 by reducing the explicit coboundary matrix with clearing. */
#include "cgalr/topo.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Edge (i > j) in the combinatorial number system: C(i,2) + j. */
static inline uint64_t edge_index(uint32_t i, uint32_t j) { return (uint64_t)i * (i - 1) / 2 + j; }

typedef struct edge {
    double d;
    uint64_t idx;
    uint32_t i, j; /* i > j */
} edge_t;

/* Filtration order: diameter ascending, then larger combinatorial index first (as ripser). */
static int edge_cmp(const void *pa, const void *pb)
{
    const edge_t *a = pa, *b = pb;
    if (a->d != b->d)
        return a->d < b->d ? -1 : 1;
    return a->idx > b->idx ? -1 : (a->idx < b->idx);
}

static uint32_t uf_find(uint32_t *parent, uint32_t x)
{
    while (parent[x] != x) {
        parent[x] = parent[parent[x]];
        x = parent[x];
    }
    return x;
}

static cgalr_status_t push_pair(cgalr_diagram_t *d, size_t *cap, double b, double e)
{
    if (d->n == *cap) {
        size_t nc = *cap ? 2 * *cap : 16;
        cgalr_pair_t *np = realloc(d->pairs, nc * sizeof *np);
        if (!np)
            return cgalr_fail(CGALR_ENOMEM, "rips: out of memory growing a diagram to %zu pairs", nc);
        d->pairs = np;
        *cap = nc;
    }
    d->pairs[d->n].birth = b;
    d->pairs[d->n].death = e;
    d->n++;
    return CGALR_OK;
}

static int u64_cmp(const void *pa, const void *pb)
{
    uint64_t a = *(const uint64_t *)pa, b = *(const uint64_t *)pb;
    return a < b ? -1 : (a > b);
}

static cgalr_status_t validate(const double *dist, size_t p, int maxdim, double threshold,
                               cgalr_diagram_t *dgm0, cgalr_diagram_t *dgm1)
{
    if (!dist)
        return cgalr_fail(CGALR_EINVAL, "rips: distance matrix is NULL");
    if (!dgm0)
        return cgalr_fail(CGALR_EINVAL, "rips: dgm0 is NULL");
    if (p < 1)
        return cgalr_fail(CGALR_EINVAL, "rips: p = 0: need at least 1 point");
    if (p > 8192)
        return cgalr_fail(CGALR_EINVAL, "rips: p = %zu: at most 8192 points are supported", p);
    if (maxdim != 0 && maxdim != 1)
        return cgalr_fail(CGALR_EINVAL, "rips: maxdim = %d: expected 0 or 1", maxdim);
    if (maxdim == 1 && !dgm1)
        return cgalr_fail(CGALR_EINVAL, "rips: maxdim = 1 but dgm1 is NULL");
    if (isnan(threshold))
        return cgalr_fail(CGALR_EINVAL, "rips: threshold is NaN");
    for (size_t i = 0; i < p; i++)
        for (size_t j = 0; j < i; j++) {
            double a = dist[i * p + j], b = dist[j * p + i];
            if (!isfinite(a) || !isfinite(b))
                return cgalr_fail(CGALR_ENONFINITE, "rips: entry (%zu, %zu) = %g: distances must be finite",
                                  isfinite(a) ? j : i, isfinite(a) ? i : j, isfinite(a) ? b : a);
            if (a < 0 || b < 0)
                return cgalr_fail(CGALR_EINVAL, "rips: entry (%zu, %zu) = %g: distances must be >= 0",
                                  a < 0 ? i : j, a < 0 ? j : i, a < 0 ? a : b);
            if (fabs(a - b) > 1e-12 * fmax(a, b))
                return cgalr_fail(CGALR_EINVAL,
                                  "rips: entries (%zu, %zu) = %.17g and (%zu, %zu) = %.17g differ: "
                                  "the matrix must be symmetric",
                                  i, j, a, j, i, b);
        }
    return CGALR_OK;
}

cgalr_status_t cgalr_topo_rips(const double *dist, size_t p, int maxdim, double threshold,
                               cgalr_diagram_t *dgm0, cgalr_diagram_t *dgm1)
{
    if (dgm0)
        *dgm0 = (cgalr_diagram_t){0, NULL};
    if (dgm1)
        *dgm1 = (cgalr_diagram_t){0, NULL};
    cgalr_status_t st = validate(dist, p, maxdim, threshold, dgm0, dgm1);
    if (st)
        return st;

    size_t ne_all = p * (p - 1) / 2, ne = 0, cap0 = 0, cap1 = 0;
    edge_t *edges = malloc((ne_all ? ne_all : 1) * sizeof *edges);
    uint32_t *parent = malloc(p * sizeof *parent);
    unsigned char *cleared = calloc(ne_all ? ne_all : 1, 1);
    if (!edges || !parent || !cleared) {
        st = cgalr_fail(CGALR_ENOMEM, "rips: out of memory for %zu edges", ne_all);
        goto done;
    }
    for (uint32_t i = 1; i < p; i++)
        for (uint32_t j = 0; j < i; j++) {
            double d = dist[(size_t)i * p + j];
            if (d <= threshold)
                edges[ne++] = (edge_t){d, edge_index(i, j), i, j};
        }
    qsort(edges, ne, sizeof *edges, edge_cmp);

    /* H0: an edge joining two components kills the younger one (all are born at 0). */
    for (uint32_t v = 0; v < p; v++)
        parent[v] = v;
    for (size_t e = 0; e < ne; e++) {
        uint32_t a = uf_find(parent, edges[e].i), b = uf_find(parent, edges[e].j);
        if (a == b)
            continue;
        parent[a > b ? a : b] = a > b ? b : a;
        cleared[e] = 1;
        if (edges[e].d > 0 && (st = push_pair(dgm0, &cap0, 0.0, edges[e].d)))
            goto done;
    }
    for (uint32_t v = 0; v < p; v++)
        if (uf_find(parent, v) == v && (st = push_pair(dgm0, &cap0, 0.0, INFINITY)))
            goto done;
    cgalr_diagram_sort(dgm0);
    if (maxdim == 0)
        goto done;

    /* H1 (plain): explicit coboundary columns of the non-tree edges, in reverse filtration
     * order; a triangle's key orders it by diameter, then larger index first. */
    {
        double *tdiam = NULL;
        uint64_t *keys = NULL;
        size_t nt = 0, ntcap = 0;
        /* Map each triangle to its filtration position by collecting and sorting all triangles. */
        typedef struct { double d; uint64_t idx; } tri_t;
        tri_t *tris = NULL;
        for (uint32_t i = 2; i < p && !st; i++)
            for (uint32_t j = 1; j < i && !st; j++)
                for (uint32_t k = 0; k < j; k++) {
                    double dij = dist[(size_t)i * p + j], dik = dist[(size_t)i * p + k],
                           djk = dist[(size_t)j * p + k];
                    if (dij > threshold || dik > threshold || djk > threshold)
                        continue;
                    if (nt == ntcap) {
                        size_t nc = ntcap ? 2 * ntcap : 1024;
                        tri_t *nw = realloc(tris, nc * sizeof *nw);
                        if (!nw) {
                            st = cgalr_fail(CGALR_ENOMEM, "rips: out of memory for triangles");
                            break;
                        }
                        tris = nw;
                        ntcap = nc;
                    }
                    uint64_t idx = (uint64_t)i * (i - 1) * (i - 2) / 6 + (uint64_t)j * (j - 1) / 2 + k;
                    tris[nt++] = (tri_t){fmax(dij, fmax(dik, djk)), idx};
                }
        (void)tdiam;
        (void)keys;
        /* position -> triangle: sort by (d asc, idx desc) */
        if (!st && nt) {
            /* sort with the edge comparator layout (d, idx) */
            edge_t *tmp = malloc(nt * sizeof *tmp);
            if (!tmp) {
                st = cgalr_fail(CGALR_ENOMEM, "rips: out of memory for triangles");
            } else {
                for (size_t t = 0; t < nt; t++)
                    tmp[t] = (edge_t){tris[t].d, tris[t].idx, 0, 0};
                qsort(tmp, nt, sizeof *tmp, edge_cmp);
                for (size_t t = 0; t < nt; t++)
                    tris[t] = (tri_t){tmp[t].d, tmp[t].idx};
                free(tmp);
            }
        }
        /* Columns as sorted arrays of triangle positions. */
        uint64_t **cols = NULL;
        size_t *clen = NULL;
        int64_t *pivot_owner = NULL;
        if (!st) {
            cols = calloc(ne ? ne : 1, sizeof *cols);
            clen = calloc(ne ? ne : 1, sizeof *clen);
            pivot_owner = malloc((nt ? nt : 1) * sizeof *pivot_owner);
            if (!cols || !clen || !pivot_owner)
                st = cgalr_fail(CGALR_ENOMEM, "rips: out of memory for columns");
            else
                for (size_t t = 0; t < nt; t++)
                    pivot_owner[t] = -1;
        }
        /* idx -> position lookup by binary search over a copy sorted by idx */
        uint64_t *byidx = NULL;
        if (!st && nt) {
            byidx = malloc(nt * 2 * sizeof *byidx);
            if (!byidx)
                st = cgalr_fail(CGALR_ENOMEM, "rips: out of memory for triangles");
            else {
                uint64_t *pairs = byidx;
                /* pack (idx, pos) as two arrays: sort idx with positions by sorting idx<<? is not
                 * possible in general, so sort an index array. */
                for (size_t t = 0; t < nt; t++)
                    pairs[t] = tris[t].idx;
                qsort(pairs, nt, sizeof *pairs, u64_cmp);
                for (size_t t = 0; t < nt; t++) {
                    /* find pos of pairs[t] */
                    pairs[nt + t] = 0;
                }
                for (size_t t = 0; t < nt; t++) {
                    size_t lo = 0, hi = nt;
                    while (lo < hi) {
                        size_t mid = (lo + hi) / 2;
                        if (pairs[mid] < tris[t].idx)
                            lo = mid + 1;
                        else
                            hi = mid;
                    }
                    pairs[nt + lo] = t;
                }
            }
        }
        uint64_t *work = NULL, *tmp2 = NULL;
        if (!st) {
            work = malloc((p + 1) * sizeof *work);
            if (!work)
                st = cgalr_fail(CGALR_ENOMEM, "rips: out of memory");
        }
        for (size_t c = ne; c-- > 0 && !st;) {
            if (cleared[c])
                continue;
            uint32_t i = edges[c].i, j = edges[c].j;
            size_t n = 0;
            for (uint32_t k = 0; k < p; k++) {
                if (k == i || k == j)
                    continue;
                uint32_t a = i, b = j, x = k;
                /* sort a > b > x */
                if (x > a) { uint32_t t = x; x = b; b = a; a = t; }
                else if (x > b) { uint32_t t = x; x = b; b = t; }
                uint64_t idx = (uint64_t)a * (a - 1) * (a - 2) / 6 + (uint64_t)b * (b - 1) / 2 + x;
                size_t lo = 0, hi = nt;
                while (lo < hi) {
                    size_t mid = (lo + hi) / 2;
                    if (byidx[mid] < idx)
                        lo = mid + 1;
                    else
                        hi = mid;
                }
                if (lo < nt && byidx[lo] == idx)
                    work[n++] = byidx[nt + lo];
            }
            qsort(work, n, sizeof *work, u64_cmp);
            uint64_t *col = malloc((n ? n : 1) * sizeof *col);
            if (!col) {
                st = cgalr_fail(CGALR_ENOMEM, "rips: out of memory");
                break;
            }
            memcpy(col, work, n * sizeof *col);
            while (n && pivot_owner[col[0]] >= 0) {
                size_t o = (size_t)pivot_owner[col[0]];
                tmp2 = malloc((n + clen[o]) * sizeof *tmp2);
                if (!tmp2) {
                    st = cgalr_fail(CGALR_ENOMEM, "rips: out of memory");
                    break;
                }
                size_t x = 0, y = 0, m = 0;
                while (x < n || y < clen[o]) {
                    if (y == clen[o] || (x < n && col[x] < cols[o][y]))
                        tmp2[m++] = col[x++];
                    else if (x == n || cols[o][y] < col[x])
                        tmp2[m++] = cols[o][y++];
                    else {
                        x++;
                        y++;
                    }
                }
                free(col);
                col = tmp2;
                tmp2 = NULL;
                n = m;
            }
            if (st) {
                free(col);
                break;
            }
            cols[c] = col;
            clen[c] = n;
            if (n) {
                pivot_owner[col[0]] = (int64_t)c;
                if (tris[col[0]].d > edges[c].d)
                    st = push_pair(dgm1, &cap1, edges[c].d, tris[col[0]].d);
            } else {
                st = push_pair(dgm1, &cap1, edges[c].d, INFINITY);
            }
        }
        if (cols)
            for (size_t c = 0; c < ne; c++)
                free(cols[c]);
        free(cols);
        free(clen);
        free(pivot_owner);
        free(byidx);
        free(work);
        free(tris);
        if (!st)
            cgalr_diagram_sort(dgm1);
    }

done:
    free(edges);
    free(parent);
    free(cleared);
    if (st) {
        cgalr_diagram_free(dgm0);
        if (dgm1)
            cgalr_diagram_free(dgm1);
    }
    return st;
}
