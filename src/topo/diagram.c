/* Persistence diagrams: ownership (free) and the canonical (birth, death) order every producer
 * hands back, so diagrams compare and serialise the same way everywhere. */
#include "cgalr/topo.h"

#include <stdlib.h>

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
