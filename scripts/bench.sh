#!/bin/sh
# Every benchmark of bench/, each printing ratios against its peer run in the same script
# (these machines are shared and noisy: compare ratios, not absolute times). Not a test.
# Usage: scripts/bench.sh [BUILD_DIR] [SECTION ...]
#   sections: topo rips diagram ctrl update nn data share probe (default: all; nn, share and probe
#   take minutes)
set -eu
BUILD="${1:-build}"
[ $# -gt 0 ] && shift
SECTIONS="${*:-topo rips diagram ctrl update data nn share probe}"
PY=/usr/bin/python3
if [ ! -x "$BUILD/cgalr" ]; then
    echo "bench: $BUILD/cgalr not found; run 'make build' first" >&2
    exit 2
fi
# One BLAS thread on both sides unless a benchmark sets its own thread counts.
export OPENBLAS_NUM_THREADS="${OPENBLAS_NUM_THREADS:-1}" OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"
head() { printf '\n== %s ==\n' "$*"; }
for s in $SECTIONS; do
    case "$s" in
    topo) head "connectome + barcode + TOP vs NumPy/SciPy (N = 1024)"
          $PY bench/bench_top.py "$BUILD" --reps 11 ;;
    rips) head "Rips H1 vs the ripser command"
          $PY bench/bench_rips.py "$BUILD" --repeat 3 ;;
    diagram) head "W1 and sliced Wasserstein vs GUDHI / POT"
          $PY bench/bench_diagram.py "$BUILD" ;;
    ctrl) head "controller step vs a NumPy/SciPy/GUDHI peer"
          $PY bench/bench_ctrl_peer.py "$BUILD/bench/bench_ctrl" --steps 5 ;;
    update) head "parameter step of the methods that own it (and Adam) vs SGD-momentum, same block"
          "$BUILD/bench/bench_update" --reps 7 --steps 20 ;;
    data) head "data loading + augmentation (images/s, graphs/s) vs PyTorch tensor ops"
          "$BUILD/bench/bench_data"
          $PY bench/bench_data_torch.py ;;
    nn) head "training epoch vs PyTorch (time and peak memory, 1 and 2 threads)"
          $PY bench/bench_nn.py --build "$BUILD" --models mlp,gin,cnn,resnet20 --threads 1,2 --epochs 1 ;;
    share) head "controller share of the run time (cgalr-top vs constant)"
          sh bench/train_ctrl_share.sh "$BUILD" ;;
    probe) head "epoch time of cgalr-top vs constant per --probe-mode, per epoch and --ctrl-every 1"
          $PY bench/train_probe_modes.py "$BUILD" ;;
    *) echo "bench: unknown section '$s' (valid: topo rips diagram ctrl update data nn share probe)" >&2
       exit 2 ;;
    esac
done
