#!/bin/sh
# Puts the evaluation's datasets where `cgalr` looks for them (DATA_DIR, default $CGALR_DATA or
# ./data). Without a network: unpacks the local copies in ../shared/data (TU text files, CIFAR-10
# JPEG archive). With --download: fetches the official archives and checks each one's published
# checksum before unpacking. What is checked, exactly:
#   TU zips (MUTAG, ENZYMES, PROTEINS): no official checksum exists; the unpacked data files are
#     checked against the sha256 list of ../shared/data/README.md (when that file is present).
#   CIFAR-10 binary: sha256 (and the publisher's md5 c32a1d4ab5d03f1284b67883e8d87530).
#   CIFAR-100 binary: the publisher's md5 only (no published sha256 known to us).
#   Fashion-MNIST: sha256 of the four .gz files (the same bytes Debian's dataset-fashion-mnist ships).
#   MNIST: the md5 sums torchvision uses (mirror ossci-datasets.s3.amazonaws.com).
# Usage: scripts/fetch-data.sh [--download] [DATA_DIR]
set -eu
DOWNLOAD=0
if [ "${1:-}" = "--download" ]; then DOWNLOAD=1; shift; fi
DATA=${1:-${CGALR_DATA:-data}}
HERE=$(cd "$(dirname "$0")/.." && pwd)
SHARED=${CGALR_SHARED:-$HERE/../shared}/data
mkdir -p "$DATA"

say() { printf 'fetch-data: %s\n' "$*"; }
die() { printf 'fetch-data: %s\n' "$*" >&2; exit 1; }
# check FILE ALGO HEX
check() {
    got=$("${2}sum" "$1" | cut -d' ' -f1)
    [ "$got" = "$3" ] || die "$1: $2 $got, expected $3 (corrupt or different file; not unpacked)"
    say "$1: $2 ok"
}
fetch() { # URL OUT
    if command -v curl >/dev/null; then curl -fL --retry 3 -o "$2" "$1"; else wget -O "$2" "$1"; fi
}
# Checks unpacked TU files against the sha256 list in shared/data/README.md.
check_tu() {
    [ -f "$SHARED/README.md" ] || { say "no $SHARED/README.md: TU files of $1 not checked"; return; }
    grep -E "^TU/$1/[^ ]+ +[0-9]+ +[0-9a-f]{64}$" "$SHARED/README.md" | grep -v README.txt |
    while read -r f _ sum; do check "$DATA/$f" sha256 "$sum"; done
}

# ---- local copies --------------------------------------------------------------------------
if [ -d "$SHARED/TU" ]; then
    for n in MUTAG ENZYMES PROTEINS; do
        [ -d "$SHARED/TU/$n" ] || continue
        mkdir -p "$DATA/TU/$n"
        cp "$SHARED/TU/$n"/*.txt "$DATA/TU/$n"/
        chmod u+w "$DATA/TU/$n"/*.txt
        check_tu "$n"
    done
fi
if [ -f "$SHARED/cifar10-jpg/cifar10-jpg.tar.gz" ] && [ ! -d "$DATA/cifar10-jpg/train" ]; then
    check "$SHARED/cifar10-jpg/cifar10-jpg.tar.gz" sha256 097287809041e0a666355dfce11470ba1b3f2631fe910d8793c716253f10b297
    mkdir -p "$DATA/cifar10-jpg"
    tar -xzf "$SHARED/cifar10-jpg/cifar10-jpg.tar.gz" -C "$DATA/cifar10-jpg"
    cp "$SHARED/cifar10-jpg/classes.txt" "$DATA/cifar10-jpg/" 2>/dev/null || true
    say "CIFAR-10 JPEG copy unpacked into $DATA/cifar10-jpg (decoded once into ~/.cache/cgalr on first use)"
fi

[ "$DOWNLOAD" = 1 ] || { say "done (local copies only; --download fetches the official archives)"; exit 0; }

# ---- official archives ---------------------------------------------------------------------
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
for n in MUTAG ENZYMES PROTEINS; do
    [ -f "$DATA/TU/$n/${n}_A.txt" ] && continue
    fetch "https://www.chrsmrrs.com/graphkerneldatasets/$n.zip" "$TMP/$n.zip"
    mkdir -p "$DATA/TU"
    (cd "$DATA/TU" && unzip -oq "$TMP/$n.zip")
    check_tu "$n"
done
if [ ! -d "$DATA/cifar-10-batches-bin" ]; then
    fetch https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz "$TMP/c10.tgz"
    check "$TMP/c10.tgz" sha256 c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd
    tar -xzf "$TMP/c10.tgz" -C "$DATA"
fi
if [ ! -d "$DATA/cifar-100-binary" ]; then
    fetch https://www.cs.toronto.edu/~kriz/cifar-100-binary.tar.gz "$TMP/c100.tgz"
    check "$TMP/c100.tgz" md5 03b5dce01913d631647c71ecec9e9cb8
    tar -xzf "$TMP/c100.tgz" -C "$DATA"
fi
mkdir -p "$DATA/fashion-mnist" "$DATA/mnist"
while read -r f sum; do
    [ -f "$DATA/fashion-mnist/$f" ] && continue
    fetch "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/$f" "$TMP/$f"
    check "$TMP/$f" sha256 "$sum" && mv "$TMP/$f" "$DATA/fashion-mnist/"
done <<EOF
train-images-idx3-ubyte.gz b0564c3eedabfbf835052cff8503ea422014ce006caf5b757f851416ee8300c7
train-labels-idx1-ubyte.gz 0ae29f65d86684f32d1b9c85147786c547b9c6aebcaf235f0400a0cce308b056
t10k-images-idx3-ubyte.gz cc1d090a38ace84dfa1aa66e3ada7c336ef481a96936906477e6dd344da56eaa
t10k-labels-idx1-ubyte.gz 8d3605d196f4be44669e46906da9733c8131fef761fdbfec72c424d5222f1a05
EOF
while read -r f sum; do
    [ -f "$DATA/mnist/$f" ] && continue
    fetch "https://ossci-datasets.s3.amazonaws.com/mnist/$f" "$TMP/$f"
    check "$TMP/$f" md5 "$sum" && mv "$TMP/$f" "$DATA/mnist/"
done <<EOF
train-images-idx3-ubyte.gz f68b3c2dcbeaaa9fbdd348bbdeb94873
train-labels-idx1-ubyte.gz d53e105ee54ea40749a09fcbcd1e9432
t10k-images-idx3-ubyte.gz 9fb629c4189551a2d022fa330f9573f3
t10k-labels-idx1-ubyte.gz ec29112dd5afa0611ce80d1b7f02629c
EOF
say "done. Mini-ImageNet has no official archive: place images/ and train.csv, val.csv, test.csv in $DATA/mini-imagenet/"
