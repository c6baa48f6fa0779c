#!/bin/sh
# The engine's other convolution paths against PyTorch: the same oracle cases with Winograd off
# (direct AVX2 convolutions where they apply) and with the kernels' instruction set forced to the
# baseline (CGALR_ISA=generic: im2col + OpenBLAS everywhere and the portable BatchNorm sums, what
# a CPU without AVX2 runs). The default paths are tests/test_nn_oracle.py. Then a CGALR_ISA the
# engine does not know is refused with a message naming it (exit 2), not ignored.
set -e
mkdir -p "$CGALR_TMP"
echo "== CGALR_NN_WINO=0"
CGALR_NN_WINO=0 /usr/bin/python3 "$CGALR_SRC/tests/test_nn_oracle.py"
echo "== CGALR_ISA=generic"
CGALR_ISA=generic /usr/bin/python3 "$CGALR_SRC/tests/test_nn_oracle.py"
# refused ISA MESSAGE: a short training with CGALR_ISA=ISA exits 2 with MESSAGE on stderr
refused() {
    echo "== CGALR_ISA=$1 (refused)"
    rc=0
    CGALR_ISA=$1 "$CGALR_BIN" train --data fashion-mnist --model mlp --sched constant --epochs 1 --limit 8 \
        --quiet --out "$CGALR_TMP/isa-$1" 2>"$CGALR_TMP/isa-$1.err" || rc=$?
    cat "$CGALR_TMP/isa-$1.err"
    if [ "$rc" -ne 2 ] || ! grep -q "$2" "$CGALR_TMP/isa-$1.err"; then
        echo "FAIL: CGALR_ISA=$1 gave exit $rc (expected 2 and '$2')"
        exit 1
    fi
}
refused sse9 "CGALR_ISA=sse9: unknown instruction set"
if ! grep -q avx512f /proc/cpuinfo; then
    refused avx512 "CGALR_ISA=avx512: this CPU does not support it"
fi
echo ok
