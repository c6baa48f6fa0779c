#!/bin/sh
# The topology of real data (the first demo, before training existed). Pixel-correlation connectomes of
# Fashion-MNIST classes (196 pooled pixels over 1000 images each) and the TOP / WD / SWK distances
# between them, all computed by `cgalr topo`. Usage: scripts/demo_topo.sh [BUILD_DIR]
set -eu

BUILD=${1:-build}
BIN=$BUILD/cgalr
OUT=${CGALR_DEMO_OUT:-demo-out/topo}
N=${CGALR_DEMO_N:-1000}
if [ ! -x "$BIN" ]; then
    echo "demo: $BIN not found; build first (make build)" >&2
    exit 2
fi
DATA=""
for d in ${CGALR_DATA:+"$CGALR_DATA/fashion-mnist"} data/fashion-mnist /usr/share/datasets/fashion-mnist; do
    if [ -f "$d/train-images-idx3-ubyte.gz" ]; then
        DATA=$d
        break
    fi
done
if [ -z "$DATA" ]; then
    echo "demo: Fashion-MNIST not found (looked in \$CGALR_DATA/fashion-mnist, data/fashion-mnist," \
        "/usr/share/datasets/fashion-mnist); install Debian's dataset-fashion-mnist" >&2
    exit 2
fi
mkdir -p "$OUT"
start=$(date +%s)

echo "[1/3] reading Fashion-MNIST from $DATA: $N training images per class, 28x28 pooled 2x2 to 14x14 = 196 signals"
# One activation matrix per class (rows = images, columns = pooled pixels); tshirt-b is a second,
# disjoint sample of the same class: the distance within a class, for scale.
/usr/bin/python3 - "$DATA" "$OUT" "$N" <<'EOF'
import gzip, struct, sys
import numpy as np

data, out, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
def idx(path, magic):
    with gzip.open(path, "rb") as f:
        raw = f.read()
    m, count = struct.unpack(">II", raw[:8])
    if m != magic:
        sys.exit(f"demo: {path}: magic {m:#x}, expected {magic:#x}")
    if magic == 2051:
        rows, cols = struct.unpack(">II", raw[8:16])
        return np.frombuffer(raw, np.uint8, count * rows * cols, 16).reshape(count, rows, cols)
    return np.frombuffer(raw, np.uint8, count, 8)
images = idx(f"{data}/train-images-idx3-ubyte.gz", 2051).astype(np.float64) / 255.0
labels = idx(f"{data}/train-labels-idx1-ubyte.gz", 2049)
pooled = images.reshape(-1, 14, 2, 14, 2).mean(axis=(2, 4)).reshape(-1, 196)
classes = {"tshirt": 0, "trouser": 1, "pullover": 2, "sandal": 5, "sneaker": 7, "boot": 9}
for name, c in classes.items():
    rows = pooled[labels == c]
    np.savetxt(f"{out}/act_{name}.csv", rows[:n], delimiter=",", fmt="%.6g")
    if name == "tshirt":
        np.savetxt(f"{out}/act_tshirt-b.csv", rows[n:2 * n], delimiter=",", fmt="%.6g")
    print(f"      {name:9s} {min(n, len(rows))} images", flush=True)
EOF

NAMES="tshirt tshirt-b trouser pullover sandal sneaker boot"
echo "[2/3] connectomes (|Pearson| between pooled pixels; constant pixels correlate 0)"
for c in $NAMES; do
    "$BIN" topo --connectome "$OUT/act_$c.csv" > "$OUT/conn_$c.csv"
    echo "      $c -> $OUT/conn_$c.csv"
done

echo "[3/3] distances between classes (TOP on all 196 signals; WD and SWK on H1 diagrams of sqrt(1 - M), 128 signals)"
for kind in top wd swk; do
    files=""
    for c in $NAMES; do
        files="$files $OUT/conn_$c.csv"
    done
    # one call per kind: each connectome is summarised once, the pairwise matrix comes back as CSV
    # shellcheck disable=SC2086
    "$BIN" topo --distance "$kind" $files > "$OUT/dist_$kind.csv"
    echo "      $kind -> $OUT/dist_$kind.csv"
done
/usr/bin/python3 - "$OUT" "$NAMES" <<'EOF'
import sys
out, names = sys.argv[1], sys.argv[2].split()
for kind, title in (("top", "TOP (squared L2 between sorted MST/non-MST weights)"),
                    ("wd", "WD (exact 1-Wasserstein between H1 diagrams)"),
                    ("swk", "SWK (sliced Wasserstein distance between H1 diagrams, 50 directions)")):
    rows = [[float(v) for v in line.split(",")] for line in open(f"{out}/dist_{kind}.csv")]
    d = {(a, b): rows[i][j] for i, a in enumerate(names) for j, b in enumerate(names)}
    print(f"\n{title}")
    print(" " * 10 + "".join(f"{n:>10s}" for n in names))
    for a in names:
        print(f"{a:>10s}" + "".join(f"{d[a, b]:10.4f}" for b in names))
print("\ntshirt-b is a second, disjoint sample of T-shirts: its row shows the distance within a class.")
EOF
echo "\nfiles in $OUT; $(($(date +%s) - start)) s"
