#!/bin/sh
# Installs from Debian's archive whatever cgalr needs to build, test and run the demo.
# Idempotent and silent when everything is already there. Needs root (or sudo) only when
# something is missing.
set -eu

PKGS="build-essential cmake pkg-config gnuplot-nox
libopenblas-dev zlib1g-dev libjpeg62-turbo-dev libpng-dev libcjson-dev libcmocka-dev
libopenmpi-dev openmpi-bin
clang libclang-rt-14-dev valgrind
ripser python3-gudhi python3-pot python3-scipy python3-numpy python3-torch
dataset-fashion-mnist"

missing=""
for p in $PKGS; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done
[ -z "$missing" ] && exit 0

echo "deps.sh: installing:$missing" >&2
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then SUDO=sudo; else
        echo "deps.sh: missing packages:$missing; run as root or install them" >&2; exit 1
    fi
fi
export DEBIAN_FRONTEND=noninteractive
# Refresh the package lists once if they are missing or older than a day.
if [ -z "$(find /var/lib/apt/lists -maxdepth 1 -name '*Packages*' -mtime -1 2>/dev/null | head -n 1)" ]; then
    $SUDO apt-get update -q >/dev/null
fi
# shellcheck disable=SC2086
$SUDO apt-get install -y -q --no-install-recommends $missing >/dev/null
