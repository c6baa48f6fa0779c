"""1 rank against 2 under Open MPI, alternated in this one script: the epoch time of data-parallel
`cgalr train` (mpirun -np 2, the same global batch) against one process, and the wall time of a
small `cgalr grid` with mpirun -np 2 --jobs 1 against one process with --jobs 1. Prints the median
over repetitions of each ratio (2 ranks / 1) and the bytes each rank sends per training step.
Not a test: only ratios of adjacent runs mean anything on a shared machine.
Usage: bench/bench_mpi.py BUILD_DIR [--reps R] [--only train,grid] [--work DIR]"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time

ap = argparse.ArgumentParser()
ap.add_argument("build")
ap.add_argument("--reps", type=int, default=3)
ap.add_argument("--only", default="train,grid")
ap.add_argument("--work", default=os.path.join(os.environ.get("TMPDIR", "/tmp"), "cgalr-bench-mpi"))
a = ap.parse_args()
BIN = os.path.join(a.build, "cgalr")
MPIRUN = shutil.which("mpirun")
if not MPIRUN:
    sys.exit("bench_mpi: no mpirun on PATH")
ENV = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
           OMPI_MCA_rmaps_base_oversubscribe="1")
shutil.rmtree(a.work, ignore_errors=True)
os.makedirs(a.work)
n = 0


def timed(cmd, out):
    global n
    n += 1
    d = os.path.join(a.work, f"{out}{n}")
    t0 = time.monotonic()
    r = subprocess.run([*cmd, "--out", d], capture_output=True, text=True, env=ENV)
    wall = time.monotonic() - t0
    if r.returncode != 0:
        sys.exit(f"{' '.join(cmd)}: exit {r.returncode}: {r.stderr}")
    return d, wall


def epoch_seconds(d):
    rows = [json.loads(x) for x in open(os.path.join(d, "metrics.jsonl"))]
    return statistics.median(x["seconds"] for x in rows), rows


TRAIN = [
    ("mlp/Fashion-MNIST, batch 128", ["--data", "fashion-mnist", "--model", "mlp", "--batch", "128"], 2),
    ("cnn/CIFAR-10 2,000, batch 128", ["--data", "cifar10", "--model", "cnn", "--batch", "128", "--limit", "2000"], 1),
    ("gin/PROTEINS, batch 32", ["--data", "proteins", "--model", "gin", "--batch", "32"], 5),
]
print(f"{'case':<34} {'1 rank s':>9} {'2 ranks s':>10} {'ratio 2/1 (median)':>19} {'params':>9}")
if "train" in a.only.split(","):
    for name, opts, epochs in TRAIN:
        base = [BIN, "train", *opts, "--sched", "cgalr-top", "--lr", "0.01", "--epochs", str(epochs), "--threads", "1",
                "--quiet"]
        subprocess.run([*base, "--epochs", "1", "--out", os.path.join(a.work, "warm")], capture_output=True,
                       env=ENV)  # the decoded-data cache, not timed
        t1s, t2s, ratios = [], [], []
        for rep in range(a.reps):
            order = [1, 2] if rep % 2 == 0 else [2, 1]
            got = {}
            for r in order:
                cmd = base if r == 1 else [MPIRUN, "-np", "2", *base]
                d, _ = timed(cmd, f"t{r}-")
                got[r], _ = epoch_seconds(d)
                params = json.load(open(os.path.join(d, "summary.json")))["params"]
            t1s.append(got[1])
            t2s.append(got[2])
            ratios.append(got[2] / got[1])
        print(f"{name:<34} {statistics.median(t1s):9.3f} {statistics.median(t2s):10.3f} "
              f"{statistics.median(ratios):19.3f} {params:9d}", flush=True)
if "grid" in a.only.split(","):
    g = [BIN, "grid", "--data", "mutag", "--model", "gin", "--methods", "constant,cosine,cgalr-top", "--lrs",
         "0.1,0.01", "--seeds", "0,1", "--epochs", "100", "--jobs", "1"]
    t1s, t2s, ratios = [], [], []
    for rep in range(a.reps):
        got = {}
        for r in ([1, 2] if rep % 2 == 0 else [2, 1]):
            _, got[r] = timed(g if r == 1 else [MPIRUN, "-np", "2", *g], f"g{r}-")
        t1s.append(got[1])
        t2s.append(got[2])
        ratios.append(got[2] / got[1])
    print(f"{'grid MUTAG 12 runs x 100 ep, jobs 1':<34} {statistics.median(t1s):9.3f} {statistics.median(t2s):10.3f} "
          f"{statistics.median(ratios):19.3f}", flush=True)
