/* What the topology layer's files share and nobody outside it sees. */
#ifndef CGALR_TOPO_INTERNAL_H
#define CGALR_TOPO_INTERNAL_H

#include <stddef.h>

#include "cgalr/topo.h"

/* The input check of a diagram distance: d not NULL, pairs where n > 0, every birth finite, no
 * NaN death, birth <= death, and no finite value beyond 1e100 in magnitude (so every difference
 * the distances form stays finite). A death of +inf (an essential point) is counted into *n_ess
 * when n_ess is given and refused when it is NULL. fn names the caller in the message, name the
 * argument. */
cgalr_status_t topo_diagram_check(const cgalr_diagram_t *d, const char *fn, const char *name, size_t *n_ess);

#endif
