"""`cgalr report` figure data on a grid the size of the committed 10-fold CV grids (10 folds x 3
seeds = 30 runs per cell), checked against oracles computed here from the runs' metrics.jsonl:
the controller figure's summary block (per-epoch median and 10-90% quantiles of d, z and rho, the
share of runs per gate state, the runs still training), its representative run (the one of median
final validation accuracy, named by fold and seed), and the loss figures' clipped y axis (100x the
95th percentile of the best grid values' per-epoch means, rounded up to 1, 2 or 5 x 10^k) with
off-scale triangles only for the curves that go above it."""
import json
import math
import os
import random
import re
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from runlib import check, finish, run, scratch  # noqa: E402

TMP = scratch("/tmp/cgalr-test-report-figure-data")
G = os.path.join(TMP, "cv")
E = 12
FOLDS, SEEDS = range(10), range(3)
STATES = ("decel", "hold", "accel")


def write_run(method, lr, seed, fold, recs, diverge_at=None):
    d = os.path.join(G, f"{method}_lr{lr}_s{seed}_f{fold}")
    os.makedirs(d)
    cfg = {"data": "mutag", "model": "gin", "sched": method, "lr": lr, "epochs": E, "batch": 8, "seed": seed,
           "folds": 10, "fold": fold}
    json.dump(cfg, open(os.path.join(d, "config.json"), "w"))
    lines = [json.dumps(r) for r in recs]
    if diverge_at is not None:
        lines.append(json.dumps({"diverged": True, "epoch": diverge_at, "reason": "non-finite loss"}))
    open(os.path.join(d, "metrics.jsonl"), "w").write("\n".join(lines) + "\n")


def records(rng, method, last, blow_up=False):
    out = []
    for e in range(1, last + 1):
        loss = 2.0 / e + rng.uniform(0, 0.3)
        if blow_up and e > 2:
            loss = 10.0 ** (5 * e)  # a diverging run: 1e15, 1e20, ... up to 1e60
        # a blowing-up rate is also the worst by accuracy, so the best rates are known here
        r = {"epoch": e, "lr": 0.01, "train_loss": loss, "train_acc": 0.6, "val_loss": loss * 1.1,
             "val_acc": 0.1 if blow_up else rng.uniform(0.5, 0.9), "test_acc": 0.6, "seconds": 0.1}
        if method == "cgalr-top":
            r.update({"d": None if e == 1 else math.exp(rng.gauss(0, 1.5)), "median": None if e == 1 else 0.5,
                      "mad": None if e == 1 else 0.1, "z": None if e <= 3 else rng.gauss(0, 3),
                      "state": "hold" if e <= 3 else rng.choice(STATES), "rho": rng.uniform(0.1, 2.0)})
        out.append(r)
    return out


# cgalr-top: 30 runs at one rate, three of them diverging (after epochs 5, 8, 10) so the later
# epochs count fewer runs; a worse rate beside it so the best one has a controller figure
rng = random.Random(7)
runs = {}
for seed in SEEDS:
    for fold in FOLDS:
        stop = {(0, 3): 6, (1, 5): 9, (2, 8): 11}.get((seed, fold))
        recs = records(rng, "cgalr-top", E if stop is None else stop - 1)
        runs[(seed, fold)] = (recs, stop)
        write_run("cgalr-top", 0.01, seed, fold, recs, stop)
        write_run("cgalr-top", 0.1, seed, fold, records(rng, "cgalr-top", 2), 3)
# constant: a best rate and a worst one whose runs blow up to 1e60 (the clipping case)
for seed in SEEDS:
    for fold in FOLDS:
        write_run("constant", 0.01, seed, fold, records(rng, "constant", E))
        write_run("constant", 1.0, seed, fold, records(rng, "constant", E, blow_up=True))

p = run("report", G)
check(p.returncode == 0, f"report: exit {p.returncode}: {p.stderr}")
FIG = os.path.join(G, "figures")
md = open(os.path.join(G, "report.md")).read() if p.returncode == 0 else ""


def blocks(path):
    out = []
    for b in open(path).read().split("\n\n\n"):
        lines = [ln for ln in b.splitlines() if ln]
        if lines:
            out.append(lines)
    return out


def num(s):
    return float("nan") if s.lower() == "nan" else float(s)


def close(a, b):
    return (math.isnan(a) and math.isnan(b)) or abs(a - b) <= 1e-8 * max(1.0, abs(b))


def oracle(values):
    """median, 10% and 90% quantiles (linear between order statistics), NaN for no value."""
    if not values:
        return [float("nan")] * 3
    if len(values) == 1:
        return [values[0]] * 3
    q = statistics.quantiles(values, n=10, method="inclusive")
    return [statistics.median(values), q[0], q[-1]]


# ---- the controller figure: a summary block and one representative run ----------------------
dat = os.path.join(FIG, "mutag_gin_cgalr-top_ctrl.dat")
bl = blocks(dat) if os.path.exists(dat) else []
check(len(bl) == 2, f"controller .dat: {len(bl)} blocks, expected the summary and one run")
if len(bl) == 2:
    head = [ln for ln in bl[0] if ln.startswith("# epoch")]
    want_cols = ["epoch", "runs", "d_med", "d_q10", "d_q90", "z_med", "z_q10", "z_q90", "rho_med", "rho_q10",
                 "rho_q90", "decel", "hold", "accel"]
    check(head and head[0][2:].split() == want_cols, f"summary columns {head}")
    rows = [[num(x) for x in ln.split()] for ln in bl[0] if not ln.startswith("#")]
    check([int(r[0]) for r in rows] == list(range(1, E + 1)), f"summary epochs {[r[0] for r in rows]}")
    for r in rows:
        e = int(r[0])
        recs = [rs[0][e - 1] for rs in runs.values() if e <= len(rs[0])]
        check(int(r[1]) == len(recs), f"epoch {e}: runs {r[1]}, expected {len(recs)}")
        for k, field in enumerate(("d", "z", "rho")):
            vals = [x[field] for x in recs if x[field] is not None]
            want = oracle(vals)
            got = r[2 + 3 * k:5 + 3 * k]
            check(all(close(g, w) for g, w in zip(got, want)), f"epoch {e} {field}: {got}, oracle {want}")
        for k, s in enumerate(STATES):
            want = sum(x["state"] == s for x in recs) / len(recs)
            check(close(r[11 + k], want), f"epoch {e} share {s}: {r[11 + k]}, oracle {want}")
    # the representative: median final val acc over the 30 runs (lower middle), by fold and seed
    order = sorted(runs, key=lambda sf: (runs[sf][0][-1]["val_acc"] if runs[sf][1] is None else 0.0, sf))
    seed, fold = order[(len(order) - 1) // 2]
    label = f"fold {fold} seed {seed}"
    check(bl[1][0] == f"# {label}", f"representative {bl[1][0]!r}, expected {label!r}")
    got = [[num(x) for x in ln.split()] for ln in bl[1] if not ln.startswith("#")]
    want = [[x["epoch"], x["d"] if x["d"] is not None else float("nan")] for x in runs[(seed, fold)][0]]
    check(len(got) == len(want) and all(close(g[1], w[1]) for g, w in zip(got, want)),
          f"representative's d {got[:3]}, expected {want[:3]}")
    gp = open(os.path.join(FIG, "mutag_gin_cgalr-top_ctrl.gp")).read().split("set terminal svg")[0]
    titles = re.findall(r'title "([^"]*)"', gp)
    check(f'title "{label}"' in gp and "median" in titles and "seed 0" not in titles,
          f"controller legend {titles}")
    check(len(gp.split("\nplot ")) == 5, "controller figure: four panels")
    check("over its 30 runs (folds x seeds)" in md and f"thin grey: {label}, the run of median final" in md,
          "controller caption names the summary and the representative run")

# ---- the loss figures: the clipped axis -------------------------------------------------------
for which, field in (("train_loss", "train_loss"), ("val_loss", "val_loss")):
    gp_path = os.path.join(FIG, f"mutag_gin_{which}.gp")
    gp = open(gp_path).read().split("set terminal svg")[0] if os.path.exists(gp_path) else ""
    # best rates: cgalr-top 0.01 (0.1 diverged in every run), constant 0.01; the per-epoch means
    # over the finite values pooled, then 100x their 95th percentile rounded up to 1/2/5 x 10^k
    means = []
    for method in ("cgalr-top", "constant"):
        cell = [rs[0] for rs in runs.values()] if method == "cgalr-top" else None
        if method == "constant":
            cell = []
            for seed in SEEDS:
                for fold in FOLDS:
                    path = os.path.join(G, f"constant_lr0.01_s{seed}_f{fold}", "metrics.jsonl")
                    cell.append([json.loads(ln) for ln in open(path) if '"epoch"' in ln and "diverged" not in ln])
        for e in range(1, E + 1):
            v = [r[e - 1][field] for r in cell if e <= len(r)]
            if v:
                means.append(sum(v) / len(v))
    q95 = statistics.quantiles(means, n=20, method="inclusive")[-1]
    x = 100 * q95
    p10 = 10 ** math.floor(math.log10(x))
    ceiling = p10 * next(m for m in (1, 2, 5, 10) if x / p10 <= m)
    got = re.search(r"^ymax = (\S+)$", gp, re.M)
    check(got and close(float(got.group(1)), ceiling) and "set yrange [*:ymax]" in gp,
          f"{which}: ymax {got and got.group(1)}, oracle {ceiling}")
    tri = re.findall(r'"[^"]+\.dat" index (\d+) using 1:\(\$2>ymax\?ymax:1/0\) with points pt 8', gp)
    check(len(tri) == 1, f"{which}: off-scale triangles for {len(tri)} curves, expected one (constant lr=1)")
    check(f"the axis stops at {ceiling:g}" in md, f"{which}: caption states the ceiling {ceiling:g}")
finish()
