"""End-to-end epoch time of cgalr-top against its peer, the same run (model, seed, data, batch)
under the constant schedule, alternated in this one script, for each --probe-mode (pass, inline,
stream), at the default cadence (a controller step after every epoch) and with --ctrl-every 1 (a
step every iteration). Prints per case the median over repetitions of the epoch-time ratio
cgalr-top / constant (each ratio from one adjacent pair of runs) and the controller's share of
the CG-ALR epoch time (ctrl_seconds / seconds in metrics.jsonl: every cost the controller adds).
Not a test: the machine is shared, so only ratios of adjacent runs mean anything.
Usage: bench/train_probe_modes.py BUILD_DIR [--reps R] [--only mlp,gin,cnn] [--cases inline:1,...] [--work DIR]"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys

ap = argparse.ArgumentParser()
ap.add_argument("build")
ap.add_argument("--reps", type=int, default=3)
ap.add_argument("--only", default="mlp,gin,cnn")
ap.add_argument("--work", default=os.path.join(os.environ.get("TMPDIR", "/tmp"), "cgalr-bench-probe"))
ap.add_argument("--threads", default="1")
ap.add_argument("--cases", default="", help="only these mode:ctrl_every cases, e.g. inline:1,stream:0")
a = ap.parse_args()
BIN = os.path.join(a.build, "cgalr")
shutil.rmtree(a.work, ignore_errors=True)
os.makedirs(a.work)

# name, train options, epochs, cases (mode, ctrl_every)
ALL = [
    ("mlp", "mlp/fashion-mnist", ["--data", "fashion-mnist", "--model", "mlp", "--batch", "32"], 2,
     [("pass", 0), ("inline", 0), ("stream", 0), ("inline", 1), ("stream", 1)]),
    ("gin", "gin/PROTEINS", ["--data", "proteins", "--model", "gin", "--batch", "32"], 5,
     [("pass", 0), ("inline", 0), ("stream", 0), ("pass", 1), ("inline", 1), ("stream", 1)]),
    ("cnn", "cnn/CIFAR-10 3k", ["--data", "cifar10", "--model", "cnn", "--batch", "128", "--limit", "3000"], 1,
     [("pass", 0), ("inline", 0), ("stream", 0)]),
]
run_no = 0


def train(opts, epochs, sched, extra):
    global run_no
    run_no += 1
    out = os.path.join(a.work, f"r{run_no}")
    r = subprocess.run([BIN, "train", *opts, "--sched", sched, "--lr", "0.01", "--epochs", str(epochs), "--seed",
                        "0", "--threads", a.threads, "--quiet", "--out", out, *extra], capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"train {' '.join(opts)} {sched} {extra}: exit {r.returncode}: {r.stderr}")
    rows = [json.loads(x) for x in open(os.path.join(out, "metrics.jsonl"))]
    shutil.rmtree(out)
    secs = sum(x["seconds"] for x in rows)
    ctrl = sum(x.get("ctrl_seconds", 0.0) or 0.0 for x in rows)
    return secs / len(rows), ctrl / secs


print(f"{'case':<34} {'constant s/ep':>13} {'cgalr-top s/ep':>14} {'ratio (median)':>15} {'ctrl share':>10}")
for key, name, opts, epochs, cases in ALL:
    if key not in a.only.split(","):
        continue
    train(opts, 1, "constant", [])  # warm the data cache and the page cache, not timed
    for mode, every in cases:
        if a.cases and f"{mode}:{every}" not in a.cases.split(","):
            continue
        ratios, shares, tcs, tgs = [], [], [], []
        extra = ["--probe-mode", mode] + (["--ctrl-every", str(every)] if every else [])
        for rep in range(a.reps):
            # alternate which of the pair goes first, so drift in the machine's load cancels
            if rep % 2 == 0:
                tc, _ = train(opts, epochs, "constant", [])
                tg, sh = train(opts, epochs, "cgalr-top", extra)
            else:
                tg, sh = train(opts, epochs, "cgalr-top", extra)
                tc, _ = train(opts, epochs, "constant", [])
            ratios.append(tg / tc)
            shares.append(sh)
            tcs.append(tc)
            tgs.append(tg)
        label = f"{name} {mode}" + (f" ctrl-every {every}" if every else "")
        print(f"{label:<34} {statistics.median(tcs):13.3f} {statistics.median(tgs):14.3f} "
              f"{statistics.median(ratios):15.3f} {100 * statistics.median(shares):9.2f}%", flush=True)
