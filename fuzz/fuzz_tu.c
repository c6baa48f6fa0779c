/* libFuzzer target: TU text files. The input is cut at form feeds into graph_indicator, A,
 * graph_labels, node_labels and node_attributes (the last two optional). */
#include <string.h>

#include "data/data_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const names[5] = {"indicator", "A", "graph_labels", "node_labels", "node_attributes"};
    tu_text_t t[5];
    memset(t, 0, sizeof t);
    const char *base = (const char *)data;
    size_t off = 0;
    for (int k = 0; k < 5 && off <= size; k++) {
        t[k].name = names[k];
        const char *ff = k < 4 ? memchr(base + off, '\f', size - off) : NULL;
        size_t stop = ff ? (size_t)(ff - base) : size;
        t[k].buf = base + off;
        t[k].len = stop - off;
        off = stop + 1;
    }
    tu_raw_t r;
    if (data_tu_parse(&t[0], &t[1], &t[2], &t[3], &t[4], &r) == CGALR_OK)
        data_tu_raw_free(&r);
    return 0;
}
