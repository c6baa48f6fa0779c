/* libFuzzer target: the text-matrix reader of `cgalr topo` and, when the text is a valid
 * connectome, the barcode and TOP. scripts/fuzz.sh links only src/data and src/core, so the two
 * sources this target needs (no BLAS in either) are compiled in here. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cli/matrix_io.c"
#include "topo/barcode.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    cli_matrix_t m;
    if (cli_matrix_parse(text, size, "fuzz", &m) == CGALR_OK && cli_matrix_require_square(&m) == CGALR_OK &&
        cli_matrix_require_range(&m, 0.0, 1.0, 1) == CGALR_OK &&
        cli_matrix_require_symmetric(&m, 1e-9) == CGALR_OK && m.rows >= 2) {
        cgalr_barcode_t b;
        double d;
        if (cgalr_topo_barcode(m.data, m.rows, &b) == CGALR_OK) {
            if (cgalr_topo_top(&b, &b, &d) != CGALR_OK || d != 0.0)
                abort(); /* TOP(M, M) must be 0 */
            cgalr_barcode_free(&b);
        }
    }
    cli_matrix_free(&m);
    free(text);
    return 0;
}
