/* libFuzzer target: JPEG/PNG decoding through libjpeg and libpng, then a resize. */
#include <stdlib.h>

#include "data/data_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *pix;
    size_t h, w;
    if (data_image_decode("fuzz", data, size, &pix, &h, &w) == CGALR_OK) {
        uint8_t out[3 * 7 * 5];
        data_image_resize(pix, h, w, out, 7, 5);
        free(pix);
    }
    return 0;
}
