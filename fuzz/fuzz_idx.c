/* libFuzzer target: IDX parsing. The first byte picks where the input splits into an images file
 * and a labels file for data_idx_load_pair; the whole input is also parsed as each kind alone. */
#include <stdlib.h>

#include "data/data_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t n, r, c;
    const uint8_t *payload;
    data_idx_parse("fuzz", data, size, 1, &n, &r, &c, &payload);
    data_idx_parse("fuzz", data, size, 3, &n, &r, &c, &payload);
    if (size < 2)
        return 0;
    size_t cut = 1 + (size - 1) * data[0] / 256;
    img_set_t s = {0};
    data_idx_load_pair("img", data + 1, cut - 1, "lab", data + cut, size - cut, 0, &s);
    data_img_set_free(&s);
    return 0;
}
