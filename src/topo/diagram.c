/* Persistence diagrams: ownership (free) and the canonical (birth, death) order every producer
 * hands back, so diagrams compare and serialise the same way everywhere. */
#include <math.h>
#include <stdlib.h>

#include "cgalr/topo.h"
#include "topo/topo_internal.h"

void cgalr_diagram_free(cgalr_diagram_t *d)
{
    if (!d)
        return;
    free(d->pairs);
    d->pairs = NULL;
    d->n = 0;
}

static int pair_cmp(const void *pa, const void *pb)
{
    const cgalr_pair_t *a = pa, *b = pb;
    if (a->birth != b->birth)
        return a->birth < b->birth ? -1 : 1;
    if (a->death != b->death)
        return a->death < b->death ? -1 : 1;
    return 0;
}

void cgalr_diagram_sort(cgalr_diagram_t *d)
{
    if (!d || d->n < 2 || !d->pairs)
        return;
    qsort(d->pairs, d->n, sizeof *d->pairs, pair_cmp);
}

cgalr_status_t topo_diagram_check(const cgalr_diagram_t *d, const char *fn, const char *name, size_t *n_ess)
{
    if (!d)
        return cgalr_fail(CGALR_EINVAL, "%s: diagram %s is NULL", fn, name);
    if (d->n > 0 && !d->pairs)
        return cgalr_fail(CGALR_EINVAL, "%s: diagram %s has n = %zu but pairs = NULL", fn, name, d->n);
    size_t ess = 0;
    for (size_t i = 0; i < d->n; i++) {
        double b = d->pairs[i].birth, e = d->pairs[i].death;
        if (!isfinite(b))
            return cgalr_fail(CGALR_ENONFINITE, "%s: diagram %s, point %zu: birth = %g, expected a finite number", fn,
                              name, i, b);
        if (isnan(e))
            return cgalr_fail(CGALR_ENONFINITE, "%s: diagram %s, point %zu: death is NaN", fn, name, i);
        if (b > e)
            return cgalr_fail(CGALR_EINVAL, "%s: diagram %s, point %zu: birth %.17g > death %.17g, expected birth <= death",
                              fn, name, i, b, e);
        if (isinf(e) && !n_ess)
            return cgalr_fail(CGALR_EINVAL, "%s: diagram %s, point %zu: death = inf; essential points are not supported",
                              fn, name, i);
        if (fabs(b) > 1e100 || (isfinite(e) && fabs(e) > 1e100))
            return cgalr_fail(CGALR_EINVAL, "%s: diagram %s, point %zu: (%g, %g) exceeds 1e100 in magnitude", fn, name,
                              i, b, e);
        ess += isinf(e) != 0;
    }
    if (n_ess)
        *n_ess = ess;
    return CGALR_OK;
}
