/* Vietoris-Rips persistence in dimensions 0 and 1 over Z/2, exact (double precision) and fast.
 * H0: union-find over the edges in filtration order. H1: persistent cohomology, columns = edges in
 * reverse filtration order, with clearing (spanning-tree edges are skipped), implicit coboundaries
 * (the cofacet triangles of an edge are enumerated from its vertices), a shortcut for columns
 * whose first pivot is still free (apparent/emergent pairs), and column additions as a heap of
 * cursors into per-edge coboundaries sorted in filtration order, cancelling equal entries lazily.
 *
 * Order of simplices (as ripser): diameter ascending, ties broken by the larger combinatorial index
 * first. Diameters are replaced by their rank among the distinct edge lengths, so a triangle's
 * place in the filtration is one 64-bit key: rank << ib | (max_index - index). */
#include "cgalr/topo.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define RANK_NONE UINT32_MAX /* an edge longer than the threshold: not in the complex */
#define MAX_POINTS 8192
/* Cached sorted coboundaries are dropped between columns once they hold this many entries
 * (512 MB); tests lower it through the hook below to exercise that path. */
static size_t cache_budget = (size_t)64 << 20;

/* Internal test hook (not in the public header): sets the cache budget, returns the old one. */
size_t cgalr_topo_rips_cache_budget_(size_t entries);
size_t cgalr_topo_rips_cache_budget_(size_t entries)
{
    size_t old = cache_budget;
    cache_budget = entries;
    return old;
}

typedef struct edge {
    double d;
    uint32_t i, j; /* i > j */
} edge_t;

/* A cursor into one edge's sorted coboundary: the working column is the Z/2 sum of these. */
typedef struct cursor {
    uint64_t key;
    uint32_t pos, end; /* into the pool */
    uint32_t e;        /* edge index */
} cursor_t;

/* Per-edge state within one column reduction. Adding an edge twice cancels (Z/2), and a cursor
 * added after the current pivot is at the same place as an older cursor of that edge, so an
 * edge keeps at most one cursor: cancelled ones stay in the heap, dead, until they surface or
 * the edge is added again (then the same cursor is live again, still in the right place). */
enum { F_ODD = 1, F_CURSOR = 2, F_TOUCHED = 4 };

typedef struct edge_state {
    uint32_t off;
    uint16_t len; /* <= p - 2 < 8192 */
} edge_state_t;

typedef struct rips {
    size_t p;
    const uint32_t *rank; /* p x p ranks of the edge lengths, RANK_NONE off the complex */
    const uint64_t *c2, *c3; /* binomials C(n,2), C(n,3) for n <= p */
    unsigned ib;          /* bits of a triangle index */
    unsigned rb;          /* bits of a rank */
    uint64_t imask;
    /* per edge index: its sorted coboundary is pool[off-1 .. off-1+len) (off 0: not cached) */
    edge_state_t *es;
    /* per edge index: its F_* state in the working column; apart from es, so that the hot
     * loop walks 1 byte per edge (fits in cache up to large p) */
    uint8_t *flag;
    uint64_t *pool;
    size_t pool_n, pool_cap;
    uint64_t *scratch; /* 2p entries */
    /* the working column */
    cursor_t *heap;
    size_t heap_n, heap_cap;
    uint32_t *vlist; /* distinct edges (i << 16 | j) added to the working column */
    size_t vlist_n, vlist_cap;
    /* reduced columns: the edges whose coboundaries sum to each pivot's column */
    uint32_t *vpool;
    size_t vpool_n, vpool_cap;
    /* pivot map: triangle key -> column number (open addressing) */
    uint64_t *hkeys;
    uint32_t *hcol;
    size_t hmask;
    unsigned hbits;
    uint64_t *filter; /* 2^fbits bits, set for the hashes of taken pivots */
    unsigned fbits;
    size_t *col_off;
    uint32_t *col_len;
    size_t ncols;
} rips_t;

static inline uint64_t tri_index(const rips_t *r, uint32_t a, uint32_t b, uint32_t k)
{
    /* a > b; k anywhere else */
    if (k > a)
        return r->c3[k] + r->c2[a] + b;
    if (k > b)
        return r->c3[a] + r->c2[k] + b;
    return r->c3[a] + r->c2[b] + k;
}

static inline uint64_t tri_key(const rips_t *r, uint32_t rank, uint64_t idx)
{
    return ((uint64_t)rank << r->ib) | (r->imask - idx);
}

static int grow(void **ptr, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return 0;
    size_t nc = *cap ? *cap : 64;
    while (nc < need)
        nc *= 2;
    void *np = realloc(*ptr, nc * elem);
    if (!np)
        return -1;
    *ptr = np;
    *cap = nc;
    return 0;
}

/* Stable LSD radix sort of keys by their bits [shift, shift + bits), 8 at a time; tmp holds n. */
static void radix_sort(uint64_t *a, uint64_t *tmp, size_t n, unsigned shift, unsigned bits)
{
    uint64_t *src = a, *dst = tmp;
    for (unsigned s = shift; s < shift + bits; s += 8) {
        size_t cnt[256] = {0};
        for (size_t i = 0; i < n; i++)
            cnt[(src[i] >> s) & 255]++;
        if (cnt[(src[0] >> s) & 255] == n)
            continue; /* this digit is the same everywhere */
        size_t sum = 0;
        for (int d = 0; d < 256; d++) {
            size_t c = cnt[d];
            cnt[d] = sum;
            sum += c;
        }
        for (size_t i = 0; i < n; i++)
            dst[cnt[(src[i] >> s) & 255]++] = src[i];
        uint64_t *t = src;
        src = dst;
        dst = t;
    }
    if (src != a)
        memcpy(a, src, n * sizeof *a);
}

/* The coboundary of edge (a, b) sorted in filtration order; returns its offset in the pool. */
static cgalr_status_t coboundary(rips_t *r, uint32_t a, uint32_t b, size_t *off, size_t *n)
{
    uint64_t e = r->c2[a] + b;
    if (r->es[e].off) {
        *off = r->es[e].off - 1;
        *n = r->es[e].len;
        return CGALR_OK;
    }
    if (r->pool_n + r->p >= UINT32_MAX ||
        grow((void **)&r->pool, &r->pool_cap, r->pool_n + r->p, sizeof *r->pool))
        return cgalr_fail(CGALR_ENOMEM, "rips: out of memory caching coboundaries (%zu entries)", r->pool_n);
    const uint32_t *ra = r->rank + (size_t)a * r->p, *rb = r->rank + (size_t)b * r->p;
    uint32_t re = ra[b];
    uint64_t *low = r->pool + r->pool_n, *high = r->scratch;
    size_t nl = 0, nh = 0;
    /* Cofacets where (a, b) is the longest edge share its rank and come first, larger index
     * (larger k) first; the others need sorting. */
    for (uint32_t k = (uint32_t)r->p; k-- > 0;) {
        uint32_t x = ra[k], y = rb[k];
        if (k == a || k == b || x == RANK_NONE || y == RANK_NONE)
            continue;
        uint32_t m = x > y ? x : y;
        uint64_t idx = tri_index(r, a, b, k);
        if (m <= re)
            low[nl++] = tri_key(r, re, idx);
        else
            high[nh++] = tri_key(r, m, idx);
    }
    /* the keys are in decreasing index order, so a stable sort on the rank bits alone orders them */
    if (nh > 1)
        radix_sort(high, r->scratch + r->p, nh, r->ib, r->rb);
    memcpy(low + nl, high, nh * sizeof *high);
    *off = r->pool_n;
    *n = nl + nh;
    r->es[e].off = (uint32_t)(r->pool_n + 1);
    r->es[e].len = (uint16_t)(nl + nh);
    r->pool_n += nl + nh;
    return CGALR_OK;
}

static void heap_down(cursor_t *h, size_t n, size_t i)
{
    cursor_t x = h[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n)
            break;
        if (c + 1 < n && h[c + 1].key < h[c].key)
            c++;
        if (h[c].key >= x.key)
            break;
        h[i] = h[c];
        i = c;
    }
    h[i] = x;
}

static void heap_up(cursor_t *h, size_t i)
{
    cursor_t x = h[i];
    while (i > 0) {
        size_t q = (i - 1) / 2;
        if (h[q].key <= x.key)
            break;
        h[i] = h[q];
        i = q;
    }
    h[i] = x;
}

/* Gives edge e = (a, b), now odd in the working column and without a cursor, a cursor at its
 * coboundary's first entry after `after`. */
static cgalr_status_t push_cursor(rips_t *r, uint32_t packed, uint32_t e, uint64_t after)
{
    size_t off = 0, n = 0;
    cgalr_status_t st = coboundary(r, packed >> 16, packed & 0xffff, &off, &n);
    if (st)
        return st;
    /* The first entry after the pivot is nearly always among the first few (the pivot is small
     * in this edge's coboundary): scan, then bisect if it is further. */
    const uint64_t *c = r->pool + off;
    size_t lo = 0;
    while (lo < n && lo < 16 && c[lo] <= after)
        lo++;
    if (lo == 16) {
        size_t hi = n;
        while (lo < hi) {
            size_t mid = (lo + hi) / 2;
            if (c[mid] <= after)
                lo = mid + 1;
            else
                hi = mid;
        }
    }
    if (lo == n)
        return CGALR_OK;
    if (grow((void **)&r->heap, &r->heap_cap, r->heap_n + 1, sizeof *r->heap))
        return cgalr_fail(CGALR_ENOMEM, "rips: out of memory in a column reduction");
    r->heap[r->heap_n] = (cursor_t){c[lo], (uint32_t)(off + lo), (uint32_t)(off + n), e};
    heap_up(r->heap, r->heap_n++);
    r->flag[e] |= F_CURSOR;
    return CGALR_OK;
}

/* Adds the coboundaries of edges[0..m) (packed i << 16 | j), from their first entries after
 * `after`, to the working column. Most additions cancel an earlier one, so the common path is
 * free of unpredictable branches: toggle the parity, append to vlist if new. */
static cgalr_status_t add_edges(rips_t *r, const uint32_t *edges, size_t m, uint64_t after)
{
    if (grow((void **)&r->vlist, &r->vlist_cap, r->vlist_n + m, sizeof *r->vlist))
        return cgalr_fail(CGALR_ENOMEM, "rips: out of memory in a column reduction");
    uint32_t *vl = r->vlist;
    size_t vn = r->vlist_n;
    cgalr_status_t st = CGALR_OK;
    for (size_t q = 0; q < m && !st; q++) {
        uint32_t pk = edges[q];
        uint32_t e = (uint32_t)(r->c2[pk >> 16] + (pk & 0xffff));
        uint8_t f = r->flag[e];
        uint8_t nf = (uint8_t)((f ^ F_ODD) | F_TOUCHED);
        r->flag[e] = nf;
        vl[vn] = pk;
        vn += !(f & F_TOUCHED);
        if ((nf & (F_ODD | F_CURSOR)) == F_ODD)
            st = push_cursor(r, pk, e, after);
    }
    r->vlist_n = vn;
    return st;
}

static inline void heap_pop_top(rips_t *r)
{
    r->flag[r->heap[0].e] &= (uint8_t)~F_CURSOR;
    r->heap[0] = r->heap[--r->heap_n];
    heap_down(r->heap, r->heap_n, 0);
}

/* Drops cancelled cursors from the top of the heap. */
static inline void heap_clean(rips_t *r)
{
    while (r->heap_n && !(r->flag[r->heap[0].e] & F_ODD))
        heap_pop_top(r);
}

static inline void heap_advance_top(rips_t *r)
{
    cursor_t *h = r->heap;
    if (++h[0].pos == h[0].end) {
        heap_pop_top(r);
    } else {
        h[0].key = r->pool[h[0].pos];
        heap_down(h, r->heap_n, 0);
    }
}

/* Smallest entry of the working column with odd multiplicity, consumed; 0 if the column is zero. */
static int pop_pivot(rips_t *r, uint64_t *pivot)
{
    for (;;) {
        heap_clean(r);
        if (!r->heap_n)
            return 0;
        uint64_t k = r->heap[0].key;
        heap_advance_top(r);
        heap_clean(r);
        if (r->heap_n && r->heap[0].key == k) {
            heap_advance_top(r);
            continue;
        }
        *pivot = k;
        return 1;
    }
}

/* Fibonacci hashing: the top bits of the product depend on every bit of the key. */
static inline size_t hslot(const rips_t *r, uint64_t key)
{
    return (size_t)((key * 0x9E3779B97F4A7C15ull) >> (64 - r->hbits));
}

static int64_t map_find(const rips_t *r, uint64_t key)
{
    /* most first pivots are free: a small bit filter answers those without touching the table */
    size_t f = (size_t)((key * 0xD6E8FEB86659FD93ull) >> (64 - r->fbits));
    if (!(r->filter[f >> 6] >> (f & 63) & 1))
        return -1;
    for (size_t s = hslot(r, key);; s = (s + 1) & r->hmask) {
        if (r->hkeys[s] == key)
            return r->hcol[s];
        if (r->hkeys[s] == UINT64_MAX)
            return -1;
    }
}

static int u32_cmp(const void *pa, const void *pb)
{
    uint32_t a = *(const uint32_t *)pa, b = *(const uint32_t *)pb;
    return a < b ? -1 : (a > b);
}

/* Clears the per-edge state of the working column; with keep, compacts vlist to the edges added
 * an odd number of times (they sum to the reduced column). */
static void column_reset(rips_t *r, int keep)
{
    size_t m = 0;
    for (size_t i = 0; i < r->vlist_n; i++) {
        uint32_t pk = r->vlist[i];
        uint32_t e = (uint32_t)(r->c2[pk >> 16] + (pk & 0xffff));
        if (keep && (r->flag[e] & F_ODD))
            r->vlist[m++] = pk;
        r->flag[e] = 0;
    }
    r->vlist_n = m;
    r->heap_n = 0;
    /* in edge-index order, later additions of this column walk the per-edge records forwards */
    if (keep && m > 1)
        qsort(r->vlist, m, sizeof *r->vlist, u32_cmp);
}

/* Records a reduced column: its pivot and the edges in vlist whose coboundaries sum to it. */
static cgalr_status_t map_insert(rips_t *r, uint64_t key)
{
    size_t m = r->vlist_n;
    if (grow((void **)&r->vpool, &r->vpool_cap, r->vpool_n + m, sizeof *r->vpool))
        return cgalr_fail(CGALR_ENOMEM, "rips: out of memory storing reduced columns");
    memcpy(r->vpool + r->vpool_n, r->vlist, m * sizeof *r->vlist);
    r->col_off[r->ncols] = r->vpool_n;
    r->col_len[r->ncols] = (uint32_t)m;
    r->vpool_n += m;
    size_t f = (size_t)((key * 0xD6E8FEB86659FD93ull) >> (64 - r->fbits));
    r->filter[f >> 6] |= (uint64_t)1 << (f & 63);
    size_t s = hslot(r, key);
    while (r->hkeys[s] != UINT64_MAX)
        s = (s + 1) & r->hmask;
    r->hkeys[s] = key;
    r->hcol[s] = (uint32_t)r->ncols++;
    return CGALR_OK;
}

/* Edges in filtration order: edges[0..ne) come listed by decreasing index; a stable LSD radix
 * sort (11-bit digits) on the bit patterns of the lengths, which order like the values for
 * doubles >= +0, keeps that order among equal lengths. */
static cgalr_status_t sort_edges(edge_t *edges, size_t ne)
{
    uint64_t *key = malloc(2 * (ne ? ne : 1) * sizeof *key);
    uint32_t *ends = malloc(2 * (ne ? ne : 1) * sizeof *ends);
    size_t *cnt = malloc(2048 * sizeof *cnt);
    if (!key || !ends || !cnt) {
        free(key);
        free(ends);
        free(cnt);
        return cgalr_fail(CGALR_ENOMEM, "rips: out of memory sorting %zu edges", ne);
    }
    uint64_t *ks = key, *kd = key + ne;
    uint32_t *ps = ends, *pd = ends + ne; /* i << 16 | j */
    for (size_t e = 0; e < ne; e++) {
        memcpy(&ks[e], &edges[e].d, sizeof ks[e]);
        ps[e] = edges[e].i << 16 | edges[e].j;
    }
    for (unsigned sh = 0; sh < 64; sh += 11) {
        memset(cnt, 0, 2048 * sizeof *cnt);
        for (size_t e = 0; e < ne; e++)
            cnt[(ks[e] >> sh) & 2047]++;
        if (ne == 0 || cnt[(ks[0] >> sh) & 2047] == ne)
            continue;
        size_t sum = 0;
        for (int d = 0; d < 2048; d++) {
            size_t c = cnt[d];
            cnt[d] = sum;
            sum += c;
        }
        for (size_t e = 0; e < ne; e++) {
            size_t q = cnt[(ks[e] >> sh) & 2047]++;
            kd[q] = ks[e];
            pd[q] = ps[e];
        }
        uint64_t *tk = ks;
        ks = kd;
        kd = tk;
        uint32_t *tp = ps;
        ps = pd;
        pd = tp;
    }
    for (size_t e = 0; e < ne; e++) {
        memcpy(&edges[e].d, &ks[e], sizeof edges[e].d);
        edges[e].i = ps[e] >> 16;
        edges[e].j = ps[e] & 0xffff;
    }
    free(key);
    free(ends);
    free(cnt);
    return CGALR_OK;
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
    if (grow((void **)&d->pairs, cap, d->n + 1, sizeof *d->pairs))
        return cgalr_fail(CGALR_ENOMEM, "rips: out of memory growing a diagram to %zu pairs", d->n + 1);
    d->pairs[d->n].birth = b;
    d->pairs[d->n].death = e;
    d->n++;
    return CGALR_OK;
}

static cgalr_status_t validate(const double *dist, size_t p, int maxdim, double threshold,
                               const cgalr_diagram_t *dgm0, const cgalr_diagram_t *dgm1)
{
    if (!dist)
        return cgalr_fail(CGALR_EINVAL, "rips: distance matrix is NULL");
    if (!dgm0)
        return cgalr_fail(CGALR_EINVAL, "rips: dgm0 is NULL");
    if (p < 1)
        return cgalr_fail(CGALR_EINVAL, "rips: p = 0: need at least 1 point");
    if (p > MAX_POINTS)
        return cgalr_fail(CGALR_EINVAL, "rips: p = %zu: at most %d points are supported", p, MAX_POINTS);
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
                                  "rips: entries (%zu, %zu) = %.17g and (%zu, %zu) = %.17g differ by more "
                                  "than 1e-12 relative: the matrix must be symmetric",
                                  i, j, a, j, i, b);
        }
    return CGALR_OK;
}

static unsigned bits_for(uint64_t n)
{
    unsigned b = 0;
    while (b < 64 && (n >> b))
        b++;
    return b;
}

/* H1 from the columns (non-tree edges in reverse filtration order). */
static cgalr_status_t rips_h1(rips_t *r, const edge_t *cols, size_t ncols, const double *vals,
                              cgalr_diagram_t *dgm1)
{
    size_t cap1 = 0, p = r->p;
    cgalr_status_t st = CGALR_OK;
    for (size_t c = 0; c < ncols && !st; c++) {
        uint32_t a = cols[c].i, b = cols[c].j;
        const uint32_t *ra = r->rank + (size_t)a * p, *rb = r->rank + (size_t)b * p;
        uint32_t re = ra[b];
        /* The first pivot: the smallest cofacet. Scanning k downwards, the first triangle where
         * (a, b) is the longest edge is the smallest of all. */
        uint32_t best = RANK_NONE, bk = 0;
        for (uint32_t k = (uint32_t)p; k-- > 0;) {
            uint32_t x = ra[k], y = rb[k];
            if (k == a || k == b || x == RANK_NONE || y == RANK_NONE)
                continue;
            uint32_t m = x > y ? x : y;
            if (m <= re) {
                best = re;
                bk = k;
                break;
            }
            if (m < best) {
                best = m;
                bk = k;
            }
        }
        uint64_t pivot = 0;
        int has = best != RANK_NONE;
        if (has)
            pivot = tri_key(r, best, tri_index(r, a, b, bk));
        r->vlist_n = 0;
        r->heap_n = 0;
        if (r->vlist_cap == 0 && grow((void **)&r->vlist, &r->vlist_cap, 64, sizeof *r->vlist))
            return cgalr_fail(CGALR_ENOMEM, "rips: out of memory");
        r->vlist[r->vlist_n++] = a << 16 | b;
        int64_t owner;
        if (has && (owner = map_find(r, pivot)) >= 0) {
            /* Reduce: the working column is this edge's coboundary past the pivot plus those of
             * the owner's edges; repeat while the pivot is taken. */
            if (r->pool_n > cache_budget) {
                memset(r->es, 0, r->c2[p] * sizeof *r->es);
                r->pool_n = 0;
            }
            r->vlist_n = 0;
            uint32_t self = a << 16 | b;
            if ((st = add_edges(r, &self, 1, pivot)))
                break;
            for (;;) {
                size_t o = r->col_off[owner], m = r->col_len[owner];
                if ((st = add_edges(r, r->vpool + o, m, pivot)))
                    break;
                has = pop_pivot(r, &pivot);
                if (!has || (owner = map_find(r, pivot)) < 0)
                    break;
            }
            if (st)
                break;
            column_reset(r, 1);
        }
        if (has) {
            st = map_insert(r, pivot);
            uint32_t rd = (uint32_t)(pivot >> r->ib);
            if (!st && rd != re)
                st = push_pair(dgm1, &cap1, vals[re], vals[rd]);
        } else {
            st = push_pair(dgm1, &cap1, vals[re], INFINITY);
        }
    }
    return st;
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

    size_t ne_all = p * (p - 1) / 2, ne = 0, cap0 = 0, nr = 0, ncols = 0;
    edge_t *edges = malloc((ne_all ? ne_all : 1) * sizeof *edges);
    uint32_t *parent = malloc(p * sizeof *parent);
    double *vals = malloc((ne_all ? ne_all : 1) * sizeof *vals);
    uint32_t *rank = malloc(p * p * sizeof *rank);
    uint64_t *c2 = malloc((p + 1) * sizeof *c2), *c3 = malloc((p + 1) * sizeof *c3);
    rips_t r = {0};
    if (!edges || !parent || !vals || !rank || !c2 || !c3) {
        st = cgalr_fail(CGALR_ENOMEM, "rips: out of memory for %zu points", p);
        goto done;
    }
    for (uint32_t i = (uint32_t)p; i-- > 1;)
        for (uint32_t j = i; j-- > 0;) {
            double d = dist[(size_t)i * p + j];
            if (d == 0)
                d = 0; /* -0.0 would sort last by its bits */
            if (d <= threshold)
                edges[ne++] = (edge_t){d, i, j};
        }
    if ((st = sort_edges(edges, ne)))
        goto done;
    for (size_t q = 0; q < p * p; q++)
        rank[q] = RANK_NONE;
    for (size_t e = 0; e < ne; e++) {
        if (e == 0 || edges[e].d != edges[e - 1].d)
            vals[nr++] = edges[e].d;
        rank[(size_t)edges[e].i * p + edges[e].j] = rank[(size_t)edges[e].j * p + edges[e].i] =
            (uint32_t)(nr - 1);
    }

    /* H0: an edge joining two components kills one (all are born at 0); the others are the
     * H1 columns, in reverse filtration order (clearing: tree edges cannot create H1). */
    for (uint32_t v = 0; v < p; v++)
        parent[v] = v;
    for (size_t e = 0; e < ne; e++) {
        uint32_t x = uf_find(parent, edges[e].i), y = uf_find(parent, edges[e].j);
        if (x == y) {
            edges[ncols++] = edges[e];
            continue;
        }
        parent[x > y ? x : y] = x > y ? y : x;
        if (edges[e].d > 0 && (st = push_pair(dgm0, &cap0, 0.0, edges[e].d)))
            goto done;
    }
    for (uint32_t v = 0; v < p; v++)
        if (uf_find(parent, v) == v && (st = push_pair(dgm0, &cap0, 0.0, INFINITY)))
            goto done;
    cgalr_diagram_sort(dgm0);
    if (maxdim == 0 || p < 3)
        goto done;
    for (size_t lo = 0, hi = ncols; lo + 1 < hi; lo++, hi--) {
        edge_t t = edges[lo];
        edges[lo] = edges[hi - 1];
        edges[hi - 1] = t;
    }

    for (uint64_t n = 0; n <= p; n++) {
        c2[n] = n * (n - (n > 0)) / 2;
        c3[n] = n >= 3 ? n * (n - 1) * (n - 2) / 6 : 0;
    }
    r.p = p;
    r.rank = rank;
    r.c2 = c2;
    r.c3 = c3;
    r.ib = bits_for(c3[p]);
    r.imask = ((uint64_t)1 << r.ib) - 1;
    r.rb = bits_for(nr);
    if (r.ib + bits_for(nr) > 63) {
        st = cgalr_fail(CGALR_EINVAL, "rips: p = %zu with %zu distinct distances: too large for 64-bit keys", p, nr);
        goto done;
    }
    size_t hcap = 16;
    while (hcap < 2 * ncols)
        hcap *= 2;
    r.hmask = hcap - 1;
    r.hbits = bits_for(r.hmask);
    r.fbits = r.hbits + 3; /* 16 bits per column: few false positives */
    r.filter = calloc(((size_t)1 << r.fbits) / 64 + 1, sizeof *r.filter);
    r.es = calloc(ne_all, sizeof *r.es);
    r.flag = calloc(ne_all, 1);
    r.scratch = malloc(2 * p * sizeof *r.scratch);
    r.hkeys = malloc(hcap * sizeof *r.hkeys);
    r.hcol = malloc(hcap * sizeof *r.hcol);
    r.col_off = malloc((ncols + 1) * sizeof *r.col_off);
    r.col_len = malloc((ncols + 1) * sizeof *r.col_len);
    if (!r.es || !r.flag || !r.filter || !r.scratch || !r.hkeys || !r.hcol || !r.col_off || !r.col_len) {
        st = cgalr_fail(CGALR_ENOMEM, "rips: out of memory for %zu columns", ncols);
        goto done;
    }
    memset(r.hkeys, 0xff, hcap * sizeof *r.hkeys);
    st = rips_h1(&r, edges, ncols, vals, dgm1);
    if (!st)
        cgalr_diagram_sort(dgm1);

done:
    free(r.es);
    free(r.flag);
    free(r.filter);
    free(r.pool);
    free(r.scratch);
    free(r.heap);
    free(r.vlist);
    free(r.vpool);
    free(r.hkeys);
    free(r.hcol);
    free(r.col_off);
    free(r.col_len);
    free(edges);
    free(parent);
    free(vals);
    free(rank);
    free(c2);
    free(c3);
    if (st) {
        cgalr_diagram_free(dgm0);
        if (dgm1)
            cgalr_diagram_free(dgm1);
    }
    return st;
}
