#!/bin/sh
# `make demo`: a short real comparison on Fashion-MNIST (MLP; CG-ALR with TOP, cosine and constant;
# learning rates 0.1 and 0.01; one seed; a few epochs), then the report with its figures.
# Usage: scripts/demo.sh <builddir>   (env: DEMO_OUT=dir, DEMO_EPOCHS=n, DEMO_JOBS=j)
set -eu
BUILD=${1:-build}
BIN="$BUILD/cgalr"
OUT=${DEMO_OUT:-demo-out}
EPOCHS=${DEMO_EPOCHS:-10}
JOBS=${DEMO_JOBS:-2}
if [ ! -x "$BIN" ]; then
    echo "demo: $BIN not found: build first (make build)" >&2
    exit 1
fi
# Fashion-MNIST comes from Debian's dataset-fashion-mnist (scripts/deps.sh installs it).
if [ ! -d /usr/share/datasets/fashion-mnist ] && [ -z "${CGALR_DATA:-}" ]; then
    ./scripts/deps.sh
fi
echo "demo: Fashion-MNIST, mlp, methods cgalr-top,cosine,constant, lr 0.1 and 0.01, seed 0, $EPOCHS epochs, $JOBS jobs"
echo "demo: runs go to $OUT/ (rerunning skips finished runs)"
"$BIN" grid --data fashion-mnist --model mlp --methods cgalr-top,cosine,constant --lrs 0.1,0.01 --seeds 0 \
    --epochs "$EPOCHS" --out "$OUT" --jobs "$JOBS" -- --batch 64 --threads 1
"$BIN" report "$OUT"
echo
echo "demo: report:  $OUT/report.md"
echo "demo: figures: $OUT/figures/ (PNG and SVG, each with its .gp script and .dat data)"
