#!/bin/sh
# Runs every grid of docs/PROTOCOL.md into results/<dataset>-<model>/ and ends with the reports.
# Resumable: `cgalr grid` skips finished runs and resumes interrupted ones, so this script can be
# stopped at any moment and rerun, here or on another machine holding the committed records.
#
#   scripts/reproduce.sh [--quick] [--jobs J] [--build DIR] [--report-build DIR] [--out DIR] [GRID...]
#
# --build names the build whose cgalr trains (the evaluation uses a frozen build of the commit its
# defaults come from); --report-build the one whose cgalr writes the reports (default: --build),
# which should be the checkout's own build, since the committed reports are checked against it.
#
# GRID names (default: all, in this order): mutag-gin enzymes-gin proteins-gin fashion-mnist-mlp
# fashion-mnist-cnn cifar10-cnn cifar10-resnet20. --quick is a minutes-long version for a newcomer
# (2 folds or a 2,000-sample subset, 1 seed, 3 epochs) written under results-quick/ so it never
# mixes with the real records.
set -eu

usage() {
    sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'
}

# The whole script is one function called on its last line, so the shell has read all of it
# before the first grid starts: editing or updating this file (git pull) while a long run is in
# progress cannot change what that run does next.
main() {
quick=0
jobs=2
build=build
report_build=
out=
grids=
while [ $# -gt 0 ]; do
    case "$1" in
    --quick) quick=1 ;;
    --jobs) jobs=$2; shift ;;
    --build) build=$2; shift ;;
    --report-build) report_build=$2; shift ;;
    --out) out=$2; shift ;;
    -h|--help) usage; exit 0 ;;
    -*) echo "reproduce.sh: unknown option $1 (--help lists them)" >&2; exit 2 ;;
    *) grids="$grids $1" ;;
    esac
    shift
done
all="mutag-gin enzymes-gin proteins-gin fashion-mnist-mlp fashion-mnist-cnn cifar10-cnn cifar10-resnet20"
[ -n "$grids" ] || grids=$all
for g in $grids; do
    case " $all " in
    *" $g "*) ;;
    *) echo "reproduce.sh: unknown grid '$g'; expected one of: $all" >&2; exit 2 ;;
    esac
done
case "$jobs" in
''|*[!0-9]*) echo "reproduce.sh: --jobs '$jobs': expected a positive integer" >&2; exit 2 ;;
esac
cgalr=$build/cgalr
if [ ! -x "$cgalr" ]; then
    echo "reproduce.sh: $cgalr not found: run 'make build' first (or pass --build DIR)" >&2
    exit 2
fi
reporter=${report_build:-$build}/cgalr
if [ ! -x "$reporter" ]; then
    echo "reproduce.sh: $reporter not found: run 'make build' first (or pass --report-build DIR)" >&2
    exit 2
fi
[ -n "$out" ] || { [ $quick = 1 ] && out=results-quick || out=results; }

# The method families of the protocol. Methods with another grid of rates, and the parameter-free
# ones (run once per seed whatever --lrs says), get their own sub-grid so that each sub-grid is
# one `cgalr grid` command; `cgalr report` reads the run directories of all of them.
SGD_METHODS=constant,cosine,step,exp,plateau,sf-sgd,cgalr-top,cgalr-swk
FREE_METHODS=dog,prodigy,dadapt-sgd
ADAMW_METHODS=adamw-cosine
SGD_LRS=0.1,0.01,0.001
ADAMW_LRS=0.01,0.001,0.0001

if [ $quick = 1 ]; then
    seeds=0; graph_folds=2; graph_epochs=3; img_epochs=2; subset="--limit 2000"; img_subset="--limit 2000"
else
    seeds=0,1,2; graph_folds=10; graph_epochs=100; img_epochs=; subset=; img_subset="--train-subset 5000" # img_subset: CIFAR-10 and Fashion-MNIST cnn (docs/PROTOCOL.md)
fi

n_grids=$(echo $grids | wc -w)
i=0
t0=$(date +%s)
for g in $grids; do
    i=$((i + 1))
    case $g in
    mutag-gin|enzymes-gin|proteins-gin)
        data=${g%-gin}; model=gin; epochs=$graph_epochs
        extra="--folds $graph_folds --batch 32" ;;
    fashion-mnist-mlp)
        data=fashion-mnist; model=mlp; epochs=${img_epochs:-20}
        extra="--batch 128 $subset" ;;
    fashion-mnist-cnn)
        data=fashion-mnist; model=cnn; epochs=${img_epochs:-15}
        extra="--batch 128 $img_subset" ;;
    cifar10-cnn|cifar10-resnet20)
        data=cifar10; model=${g#cifar10-}; epochs=${img_epochs:-15}
        extra="--batch 128 --augment $img_subset" ;;
    esac
    dir=$out/$g
    elapsed=$(( $(date +%s) - t0 ))
    echo "== [$i/$n_grids] $g -> $dir (elapsed ${elapsed}s)"
    # shellcheck disable=SC2086
    "$cgalr" grid --data $data --model $model --methods $SGD_METHODS --lrs $SGD_LRS --seeds $seeds \
        --epochs $epochs --jobs "$jobs" --out "$dir/sgd" $extra
    # shellcheck disable=SC2086
    "$cgalr" grid --data $data --model $model --methods $ADAMW_METHODS --lrs $ADAMW_LRS --seeds $seeds \
        --epochs $epochs --jobs "$jobs" --out "$dir/adamw" $extra
    # shellcheck disable=SC2086
    "$cgalr" grid --data $data --model $model --methods $FREE_METHODS --seeds $seeds \
        --epochs $epochs --jobs "$jobs" --out "$dir/free" $extra
    "$reporter" report "$dir" --quiet
    echo "   report: $dir/report.md"
done
echo "done in $(( $(date +%s) - t0 ))s: $(for g in $grids; do printf '%s/%s/report.md ' "$out" "$g"; done)"
}

main "$@"
