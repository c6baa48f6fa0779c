/* --train-subset: a fixed training subset with equal numbers per class, validation carved from
 * it, the test split whole; the same subset for the same split seed, another for another seed.
 * On Debian's Fashion-MNIST (skipped when it is not installed). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cgalr/data.h"

static cgalr_dataset_t *open_fm(size_t subset, uint64_t split_seed)
{
    cgalr_data_config_t cfg;
    cgalr_data_config_default(&cfg);
    cfg.name = "fashion-mnist";
    cfg.train_subset = subset;
    cfg.split_seed = split_seed;
    cgalr_dataset_t *ds = NULL;
    if (cgalr_dataset_open(&cfg, &ds) != CGALR_OK)
        return NULL;
    return ds;
}

static void test_balanced(void **state)
{
    (void)state;
    cgalr_dataset_t *ds = open_fm(1003, 0);
    if (!ds)
        skip(); /* Debian's dataset-fashion-mnist is not installed */
    const cgalr_data_info_t *in = cgalr_dataset_info(ds);
    assert_int_equal(in->samples[CGALR_SPLIT_TRAIN] + in->samples[CGALR_SPLIT_VAL], 1003);
    assert_int_equal(in->samples[CGALR_SPLIT_TEST], 10000);
    /* 1003 over 10 classes: 100 each and 3 classes with one more, across train + val */
    size_t extra = 0;
    for (size_t c = 0; c < in->classes; c++) {
        size_t n = in->class_counts[CGALR_SPLIT_TRAIN][c] + in->class_counts[CGALR_SPLIT_VAL][c];
        assert_true(n == 100 || n == 101);
        extra += n == 101;
        /* validation is a stratified 10% of the subset */
        assert_true(in->class_counts[CGALR_SPLIT_VAL][c] == 10);
    }
    assert_int_equal(extra, 3);

    /* the same split seed draws the same subset; another seed another one */
    cgalr_dataset_t *again = open_fm(1003, 0), *other = open_fm(1003, 1);
    assert_non_null(again);
    assert_non_null(other);
    size_t n = in->samples[CGALR_SPLIT_TRAIN];
    const size_t *a = cgalr_dataset_split_ids(ds, CGALR_SPLIT_TRAIN);
    const size_t *b = cgalr_dataset_split_ids(again, CGALR_SPLIT_TRAIN);
    const size_t *o = cgalr_dataset_split_ids(other, CGALR_SPLIT_TRAIN);
    assert_memory_equal(a, b, n * sizeof *a);
    assert_true(memcmp(a, o, n * sizeof *a) != 0);
    cgalr_dataset_free(ds);
    cgalr_dataset_free(again);
    cgalr_dataset_free(other);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_balanced)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
