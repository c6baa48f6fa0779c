#!/bin/sh
# The engine's other convolution paths against PyTorch: the same oracle cases with Winograd off
# (direct AVX2 convolutions where they apply) and with both fast paths off (im2col + OpenBLAS
# everywhere, what a machine without AVX2 runs). The default paths are tests/test_nn_oracle.py.
set -e
echo "== CGALR_NN_WINO=0"
CGALR_NN_WINO=0 /usr/bin/python3 "$CGALR_SRC/tests/test_nn_oracle.py"
echo "== CGALR_NN_DIRECT=0"
CGALR_NN_DIRECT=0 /usr/bin/python3 "$CGALR_SRC/tests/test_nn_oracle.py"
