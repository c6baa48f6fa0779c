/* libFuzzer target: CIFAR-10 and CIFAR-100 binary records (fine and coarse labels). */
#include "data/data_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    for (int mode = 0; mode < 3; mode++) {
        img_set_t s = {0};
        data_cifar_parse("fuzz", data, size, mode == 0 ? 1 : 2, mode == 2, 0, &s);
        data_img_set_free(&s);
    }
    return 0;
}
