/* libFuzzer target: the tar reader behind the CIFAR-10 JPEG archive; every entry is decoded as
 * an image, as the loader does. */
#include <stdlib.h>

#include "data/data_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static cgalr_status_t entry(void *ctx, const char *path, const uint8_t *d, size_t len)
{
    (void)ctx;
    uint8_t *pix;
    size_t h, w;
    if (data_image_decode(path, d, len, &pix, &h, &w) == CGALR_OK)
        free(pix);
    return CGALR_OK;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    data_tar_walk("fuzz", data, size, entry, NULL);
    return 0;
}
