#!/bin/sh
# The controller ablation of issue 14 on the development sets only: MUTAG (gin, stratified 10-fold
# x 3 seeds, 100 epochs) and Fashion-MNIST (mlp, 3 seeds, 20 epochs), cgalr-top at lr 0.1, 0.01,
# 0.001, one factor at a time from METHOD.md's SPEC values, plus the baselines once. Resumable:
# every variant is one `cgalr grid` (finished runs are skipped). Then the table:
# scripts/ablation_table.py results/ablation > docs/ABLATION-table.md
#
#   scripts/ablation.sh [--jobs J] [--build DIR] [--out DIR] [--only mutag|fmnist] [--set v1|v2] [VARIANT...]
#
# --set v2 (the third pass): the extensions and factors after version 2, each against version 2
# itself (variant "v2"), with a build of version 2 or later, into results/ablation-v2; the
# baselines do not depend on the CG-ALR defaults and are read from results/ablation:
#   scripts/ablation.sh --set v2 && scripts/ablation_table.py results/ablation-v2 --baselines results/ablation
#
# "spec" and every variant's unnamed options mean the CG-ALR defaults of version 1 (METHOD.md's
# first SPEC: --probe-mode pass, s0 = T/10), the ones the committed records under results/ablation
# were made with (build of commit 733df91). This ablation chose version 2 (inline, s0 = 1), and a
# build of version 2 refuses those run directories (config.json's cgalr_defaults) rather than mix
# them, so rerun it with a version-1 build:
#   git worktree add /tmp/cgalr-v1 733df91 && make -C /tmp/cgalr-v1 build
#   scripts/ablation.sh --build /tmp/cgalr-v1/build
set -eu
jobs=2
build=build
out=results/ablation
only=
sel=
set_name=v1
while [ $# -gt 0 ]; do
    case "$1" in
    --jobs) jobs=$2; shift ;;
    --build) build=$2; shift ;;
    --out) out=$2; shift ;;
    --only) only=$2; shift ;;
    --set) set_name=$2; shift ;;
    -h|--help) sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "ablation.sh: unknown option $1" >&2; exit 2 ;;
    *) sel="$sel $1" ;;
    esac
    shift
done
cgalr=$build/cgalr
[ -x "$cgalr" ] || { echo "ablation.sh: $cgalr not found: run 'make build' first" >&2; exit 2; }

# name  grid options (one factor changed from SPEC; "-" = SPEC itself; "@METHOD" first: that CG-ALR
# distance instead of cgalr-top). Every variant on both sets.
VARIANTS="spec -
score-log --sched-opt score=log
gamma-0.8-1.25 --sched-opt gamma_dec=0.8,gamma_inc=1.25
gamma-0.9-1.1 --sched-opt gamma_dec=0.9,gamma_inc=1.1
tau-1.5-0.5 --sched-opt tau_enter=1.5,tau_exit=0.5
tau-0.5-0.1 --sched-opt tau_enter=0.5,tau_exit=0.1
K-4 --sched-opt K=4
K-16 --sched-opt K=16
rho-0.01-10 --sched-opt rho_min=0.01,rho_max=10
rho-0.001-100 --sched-opt rho_min=0.001,rho_max=100
alpha-0.75 --sched-opt alpha=0.75
s0-1 --sched-opt s0=1
envelope-none --sched-opt s0=1e9
probe-inline --probe-mode inline
probe-stream --probe-mode stream
stream-s0-1 --probe-mode stream --sched-opt s0=1
stream-s0-1-rho-0.01-10 --probe-mode stream --sched-opt s0=1,rho_min=0.01,rho_max=10
inline-s0-1 --probe-mode inline --sched-opt s0=1
inline-s0-1-rho-0.01-10 --probe-mode inline --sched-opt s0=1,rho_min=0.01,rho_max=10"
# per-dataset variants: the controller every K iterations instead of after every epoch (METHOD.md:
# "at each training iteration"; MUTAG: 5 iterations per epoch at batch 32; Fashion-MNIST: 422)
EXTRA_mutag="ctrl-every-1 --ctrl-every 1
ctrl-every-2 --ctrl-every 2
stream-every-1 --probe-mode stream --ctrl-every 1
stream-every-1-s0-1 --probe-mode stream --ctrl-every 1 --sched-opt s0=1"
EXTRA_fmnist="ctrl-every-42 --ctrl-every 42
stream-every-42 --probe-mode stream --ctrl-every 42
stream-every-42-s0-1 --probe-mode stream --ctrl-every 42 --sched-opt s0=1"

# the third pass: one change each from version 2 (inline, s0 = 1), and their combinations
VARIANTS_V2="v2 -
calm-0.25 --sched-opt calm_clock=0.25
calm-0.1 --sched-opt calm_clock=0.1
wide-1.5 --sched-opt rho_max=100,gamma_inc=1.5
wide-1.5-calm-0.25 --sched-opt rho_max=100,gamma_inc=1.5,calm_clock=0.25
wide-1.5-calm-0.1 --sched-opt rho_max=100,gamma_inc=1.5,calm_clock=0.1
calm-0.03 --sched-opt calm_clock=0.03
calm-0.1-rho-4-1.2 --sched-opt calm_clock=0.1,rho_max=4,gamma_inc=1.2
dist-wd @cgalr-wd
dist-swk @cgalr-swk"
case $set_name in
v1) ;;
v2) VARIANTS=$VARIANTS_V2; EXTRA_mutag=; EXTRA_fmnist=; no_baselines=1
    [ "$out" != results/ablation ] || out=results/ablation-v2 ;;
*) echo "ablation.sh: --set '$set_name': expected v1 or v2" >&2; exit 2 ;;
esac

run_grid() { # key dataset-dir data model epochs extra... : every variant, then the baselines
    key=$1; ddir=$2; data=$3; model=$4; epochs=$5; shift 5
    eval "extra=\$EXTRA_$key"
    list=$(printf '%s\n%s\n' "$VARIANTS" "$extra")
    set -f # options are split on blanks, never globbed
    printf '%s\n' "$list" | while read -r name opts; do
        [ -n "$name" ] || continue
        if [ -n "$sel" ]; then case " $sel " in *" $name "*) ;; *) continue ;; esac; fi
        echo "== $ddir/$name ($opts)"
        [ "$opts" = "-" ] && opts=
        # "@METHOD" first: the variant is another CG-ALR distance with the same defaults
        method=cgalr-top
        case $opts in @*) method=${opts%% *}; method=${method#@}; opts=${opts#@"$method"}; opts=${opts# } ;; esac
        # shellcheck disable=SC2086 # word splitting of $opts is the point
        "$cgalr" grid --data "$data" --model "$model" --methods "$method" --lrs 0.1,0.01,0.001 --seeds 0,1,2 \
            --epochs "$epochs" --jobs "$jobs" --out "$out/$ddir/$name" $opts "$@"
    done
    set +f
    [ -z "${no_baselines:-}" ] || return 0
    if [ -z "$sel" ] || case " $sel " in *" baselines "*) true ;; *) false ;; esac; then
        echo "== $ddir/baselines"
        "$cgalr" grid --data "$data" --model "$model" --methods constant,cosine,step,exp,plateau,dog \
            --lrs 0.1,0.01,0.001 --seeds 0,1,2 --epochs "$epochs" --jobs "$jobs" --out "$out/$ddir/baselines" "$@"
    fi
}

[ "$only" = fmnist ] || run_grid mutag mutag-gin mutag gin 100 --folds 10 --batch 32
[ "$only" = mutag ] || run_grid fmnist fashion-mnist-mlp fashion-mnist mlp 20 --batch 128
if [ "$set_name" = v2 ]; then
    echo "done: /usr/bin/python3 scripts/ablation_table.py $out --baselines results/ablation"
else
    echo "done: /usr/bin/python3 scripts/ablation_table.py $out"
fi
