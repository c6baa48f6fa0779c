#!/bin/sh
# The controller's share of training time (probe forward + connectome + distance + gate), measured
# as CG-ALR (cgalr-top) against its peer, the same run under the constant schedule, in one script:
# gin on PROTEINS and cnn on CIFAR-10. Prints epoch times, their ratio and the controller share.
# Usage: bench/train_ctrl_share.sh <builddir> [work dir]
#   env: PROTEINS_EPOCHS (3), CIFAR_EPOCHS (1), CIFAR_LIMIT (3000 samples per split; 0 = the full
#   45k/5k/10k split, about half an hour per epoch on one core), THREADS (1)
set -eu
BIN="${1:-build}/cgalr"
WORK="${2:-${TMPDIR:-/tmp}/cgalr-bench-ctrl}"
THREADS=${THREADS:-1}
rm -rf "$WORK"
mkdir -p "$WORK"
one() { # name data model epochs extra...
    name=$1 data=$2 model=$3 epochs=$4
    shift 4
    for m in constant cgalr-top; do
        "$BIN" train --data "$data" --model "$model" --sched $m --lr 0.01 --epochs "$epochs" --threads "$THREADS" \
            --quiet --out "$WORK/$name-$m" "$@"
    done
    /usr/bin/python3 - "$WORK/$name" "$name" <<'PY'
import json, sys
base, name = sys.argv[1], sys.argv[2]
def lines(m):
    return [json.loads(x) for x in open(f"{base}-{m}/metrics.jsonl")]
c, g = lines("constant"), lines("cgalr-top")
s = json.load(open(f"{base}-cgalr-top/summary.json"))
tc = sum(x["seconds"] for x in c) / len(c)
tg = sum(x["seconds"] for x in g) / len(g)
per_epoch = sum(x["ctrl_seconds"] for x in g) / sum(x["seconds"] for x in g)
print(f"{name:<13} epoch: constant {tc:8.3f}s cgalr-top {tg:8.3f}s ratio {tg / tc:5.3f} | controller: "
      f"{100 * per_epoch:5.2f}% of epoch time, {100 * s['ctrl_share']:5.2f}% of the run incl. M_0 "
      f"(probe N={s['probe_n']}, P={s['probe_p']})")
PY
}
one proteins-gin proteins gin "${PROTEINS_EPOCHS:-3}" --batch 32
one cifar10-cnn cifar10 cnn "${CIFAR_EPOCHS:-1}" --batch 128 --limit "${CIFAR_LIMIT:-3000}"
