#!/bin/sh
# The controller ablation of issue 14 on the development sets only: MUTAG (gin, stratified 10-fold
# x 3 seeds, 100 epochs) and Fashion-MNIST (mlp, 3 seeds, 20 epochs), cgalr-top at lr 0.1, 0.01,
# 0.001, one factor at a time from METHOD.md's SPEC values, plus the baselines once. Resumable:
# every variant is one `cgalr grid` (finished runs are skipped). Then the table:
# scripts/ablation_table.py results/ablation > docs/ABLATION-table.md
#
#   scripts/ablation.sh [--jobs J] [--build DIR] [--out DIR] [--only mutag|fmnist] [VARIANT...]
set -eu
jobs=2
build=build
out=results/ablation
only=
sel=
while [ $# -gt 0 ]; do
    case "$1" in
    --jobs) jobs=$2; shift ;;
    --build) build=$2; shift ;;
    --out) out=$2; shift ;;
    --only) only=$2; shift ;;
    -h|--help) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "ablation.sh: unknown option $1" >&2; exit 2 ;;
    *) sel="$sel $1" ;;
    esac
    shift
done
cgalr=$build/cgalr
[ -x "$cgalr" ] || { echo "ablation.sh: $cgalr not found: run 'make build' first" >&2; exit 2; }

# name  scheduler options (one factor changed from SPEC; "-" = SPEC itself)
VARIANTS="spec -
score-log score=log
gamma-0.8-1.25 gamma_dec=0.8,gamma_inc=1.25
gamma-0.9-1.1 gamma_dec=0.9,gamma_inc=1.1
tau-1.5-0.5 tau_enter=1.5,tau_exit=0.5
tau-0.5-0.1 tau_enter=0.5,tau_exit=0.1
K-4 K=4
K-16 K=16
rho-0.01-10 rho_min=0.01,rho_max=10
rho-0.001-100 rho_min=0.001,rho_max=100
alpha-0.75 alpha=0.75
s0-1 s0=1
envelope-none s0=1e9"
# the controller every K iterations instead of after every epoch (METHOD.md: "at each training
# iteration"); name  K per dataset (MUTAG: 5 iterations per epoch at batch 32; Fashion-MNIST: 422)
CADENCE_mutag="ctrl-every-1 1
ctrl-every-2 2"
CADENCE_fmnist="ctrl-every-42 42"

run_grid() { # key dataset-dir data model epochs extra... : every variant, then the baselines
    key=$1; ddir=$2; data=$3; model=$4; epochs=$5; shift 5
    echo "$VARIANTS" | while read -r name opts; do
        if [ -n "$sel" ]; then case " $sel " in *" $name "*) ;; *) continue ;; esac; fi
        echo "== $ddir/$name ($opts)"
        if [ "$opts" = "-" ]; then
            "$cgalr" grid --data "$data" --model "$model" --methods cgalr-top --lrs 0.1,0.01,0.001 --seeds 0,1,2 \
                --epochs "$epochs" --jobs "$jobs" --out "$out/$ddir/$name" "$@"
        else
            "$cgalr" grid --data "$data" --model "$model" --methods cgalr-top --lrs 0.1,0.01,0.001 --seeds 0,1,2 \
                --epochs "$epochs" --jobs "$jobs" --out "$out/$ddir/$name" --sched-opt "$opts" "$@"
        fi
    done
    eval "cad=\$CADENCE_$key"
    echo "$cad" | while read -r name k; do
        [ -n "$name" ] || continue
        if [ -n "$sel" ]; then case " $sel " in *" $name "*) ;; *) continue ;; esac; fi
        echo "== $ddir/$name (--ctrl-every $k)"
        "$cgalr" grid --data "$data" --model "$model" --methods cgalr-top --lrs 0.1,0.01,0.001 --seeds 0,1,2 \
            --epochs "$epochs" --jobs "$jobs" --out "$out/$ddir/$name" --ctrl-every "$k" "$@"
    done
    if [ -z "$sel" ] || case " $sel " in *" baselines "*) true ;; *) false ;; esac; then
        echo "== $ddir/baselines"
        "$cgalr" grid --data "$data" --model "$model" --methods constant,cosine,step,exp,plateau,dog \
            --lrs 0.1,0.01,0.001 --seeds 0,1,2 --epochs "$epochs" --jobs "$jobs" --out "$out/$ddir/baselines" "$@"
    fi
}

[ "$only" = fmnist ] || run_grid mutag mutag-gin mutag gin 100 --folds 10 --batch 32
[ "$only" = mutag ] || run_grid fmnist fashion-mnist-mlp fashion-mnist mlp 20 --batch 128
echo "done: /usr/bin/python3 scripts/ablation_table.py $out"
