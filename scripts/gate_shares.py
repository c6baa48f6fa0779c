#!/usr/bin/python3
"""What the CG-ALR gate did at each learning rate, read from committed run records.

usage: /usr/bin/python3 scripts/gate_shares.py GRID_DIR... [--method cgalr-top]

For each grid directory and each rate of the grid: the number of runs, the share of controller
steps (epochs) in DECEL, HOLD and ACCEL, the median z and the median d over every step of every
run, and how many runs that did not diverge end with d = 0 for their last 20 epochs (a probe layer
whose connectome stopped moving: dead units). Markdown table rows on standard output."""
import argparse
import glob
import json
import os
import statistics

ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
ap.add_argument("grids", nargs="+")
ap.add_argument("--method", default="cgalr-top")
args = ap.parse_args()

print("| grid | lr | runs | DECEL | HOLD | ACCEL | median z | median d | still (d = 0, last 20 epochs) |")
print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
for grid in args.grids:
    by_lr = {}
    for path in glob.glob(os.path.join(grid, "**", f"{args.method}_lr*", "metrics.jsonl"), recursive=True):
        lr = os.path.basename(os.path.dirname(path))[len(args.method) + 3:].split("_s")[0]
        rows = [json.loads(line) for line in open(path) if line.strip()]
        by_lr.setdefault(lr, []).append(rows)
    for lr in sorted(by_lr, key=float, reverse=True):
        states = {"decel": 0, "hold": 0, "accel": 0}
        zs, ds, still = [], [], 0
        for rows in by_lr[lr]:
            epochs = [r for r in rows if "epoch" in r]
            for r in epochs:
                if r.get("state") in states:
                    states[r["state"]] += 1
                if isinstance(r.get("z"), (int, float)):
                    zs.append(r["z"])
                if isinstance(r.get("d"), (int, float)):
                    ds.append(r["d"])
            tail = [r.get("d") for r in epochs[-20:] if isinstance(r.get("d"), (int, float))]
            if not any("diverged" in r for r in rows) and tail and all(d == 0 for d in tail):
                still += 1
        total = sum(states.values()) or 1
        share = " | ".join(f"{100 * states[k] / total:.0f}%" for k in ("decel", "hold", "accel"))
        med = lambda v, f: format(statistics.median(v), f) if v else "-"
        print(f"| {os.path.normpath(grid)} | {lr} | {len(by_lr[lr])} | {share} | {med(zs, '+.2f')} | "
              f"{med(ds, '.3g')} | {still} |")
