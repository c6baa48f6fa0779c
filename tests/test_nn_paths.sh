#!/bin/sh
# The engine's other convolution paths against PyTorch: the same oracle cases with Winograd off
# (direct AVX2 convolutions where they apply) and with the kernels' instruction set forced to the
# baseline (CGALR_ISA=generic: im2col + OpenBLAS everywhere and the portable BatchNorm sums, what
# a CPU without AVX2 runs), and with CGALR_ISA=avx2 where the CPU has AVX-512 (the default paths,
# tests/test_nn_oracle.py, then run the AVX-512 tiles). Then a CGALR_ISA the engine does not know
# is refused with a message naming it (exit 2), not ignored.
set -e
rm -rf "$CGALR_TMP"
mkdir -p "$CGALR_TMP"
echo "== CGALR_NN_WINO=0"
CGALR_NN_WINO=0 /usr/bin/python3 "$CGALR_SRC/tests/test_nn_oracle.py"
echo "== CGALR_ISA=generic"
CGALR_ISA=generic /usr/bin/python3 "$CGALR_SRC/tests/test_nn_oracle.py"
if grep -q avx512f /proc/cpuinfo; then
    echo "== CGALR_ISA=avx2"
    CGALR_ISA=avx2 /usr/bin/python3 "$CGALR_SRC/tests/test_nn_oracle.py"
fi
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
# The AVX-512 tiles keep every output's fused multiply-add chain of the AVX2 ones: a short cnn and
# resnet20 training (direct, stride-2 and Winograd convolutions, forward and weight gradient) must
# give bit-identical metrics on the two levels.
if grep -q avx512f /proc/cpuinfo; then
    for model in cnn resnet20; do
        echo "== CGALR_ISA=avx2 and avx512: $model, the same bits"
        for isa in avx2 avx512; do
            CGALR_ISA=$isa "$CGALR_BIN" train --data fashion-mnist --model $model --sched constant --epochs 1 \
                --limit 96 --batch 32 --seed 4 --quiet --out "$CGALR_TMP/$model-$isa"
        done
        /usr/bin/python3 - "$CGALR_TMP/$model-avx2" "$CGALR_TMP/$model-avx512" <<'PY'
import json, sys
def rows(d):
    out = []
    for line in open(d + "/metrics.jsonl"):
        o = json.loads(line)
        out.append({k: v for k, v in o.items() if "seconds" not in k})
    return out
a, b = rows(sys.argv[1]), rows(sys.argv[2])
if not a or a != b:
    print("FAIL: avx2 and avx512 metrics differ:", a, b)
    sys.exit(1)
print("identical:", a[0].get("train_loss"), a[0].get("val_loss"))
PY
    done
else
    echo "(no AVX-512 here: the avx2/avx512 bit-identity check is skipped)"
fi
refused sse9 "CGALR_ISA=sse9: unknown instruction set"
if ! grep -q avx512f /proc/cpuinfo; then
    refused avx512 "CGALR_ISA=avx512: this CPU does not support it"
fi
echo ok
