/* Ascending sorts of doubles shared by the topology, controller, report and bench code (private to
 * the library). */
#ifndef CGALR_CORE_SORT_H
#define CGALR_CORE_SORT_H

#include <stddef.h>

/* qsort comparator for doubles in ascending order (NaN compares equal to everything). */
int core_cmp_f64(const void *x, const void *y);

/* Sorts a[0..n) ascending in place. Insertion sort while the input is nearly sorted (the common
 * case: barcodes built in order, short history windows), with a budget of 16 n + 1024 element moves
 * after which it hands the rest to qsort, so an adversarial order costs O(n log n), not O(n^2). */
void core_sort_f64(double *a, size_t n);

#endif
