#include <stdlib.h>

#include "core/sort.h"

int core_cmp_f64(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

void core_sort_f64(double *a, size_t n)
{
    size_t budget = 16 * n + 1024;
    for (size_t i = 1; i < n; i++) {
        double v = a[i];
        size_t j = i;
        while (j > 0 && a[j - 1] > v) {
            a[j] = a[j - 1];
            j--;
        }
        a[j] = v;
        budget -= budget > i - j ? i - j : budget;
        if (budget == 0) {
            /* The prefix is sorted; qsort of the whole array is still correct and simplest. */
            qsort(a, n, sizeof *a, core_cmp_f64);
            return;
        }
    }
}
