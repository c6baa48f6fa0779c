"""End to end on MUTAG (GIN): `cgalr train`, SIGKILL / SIGINT and --resume giving the same
metrics.jsonl as an uninterrupted run (timing fields aside), a small `cgalr grid` (2 methods x 2
rates x 2 seeds) with its skip / refuse rules, `cgalr report` on it, and bad input."""
import json
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from runlib import BIN, SAN, check, finish, metrics_without_timing, run, scratch  # noqa: E402

TMP = scratch("/tmp/cgalr-test-e2e")


EPOCHS = 3 if SAN else 6
BASE = ["--data", "mutag", "--model", "gin", "--epochs", str(EPOCHS), "--batch", "8", "--quiet"]

# ---- a plain run and its files -----------------------------------------------------------
for method in ("constant", "cgalr-top"):
    ref = os.path.join(TMP, f"ref-{method}")
    p = run("train", *BASE, "--sched", method, "--lr", "0.01", "--seed", "3", "--out", ref)
    check(p.returncode == 0, f"train {method}: exit {p.returncode}: {p.stderr}")
    if p.returncode != 0:
        continue
    cfg = json.load(open(os.path.join(ref, "config.json")))
    for k in ("data", "model", "sched", "lr", "epochs", "batch", "seed"):
        check(k in cfg, f"config.json lacks {k}")
    rows = metrics_without_timing(os.path.join(ref, "metrics.jsonl"))
    check(len(rows) == EPOCHS and [r["epoch"] for r in rows] == list(range(1, EPOCHS + 1)),
          f"{method}: metrics epochs {[r.get('epoch') for r in rows]}")
    for r in rows:
        for k in ("lr", "train_loss", "train_acc", "val_loss", "val_acc", "test_acc"):
            check(k in r, f"{method}: metrics line lacks {k}")
        check(0 <= r["val_acc"] <= 1 and 0 <= r["test_acc"] <= 1, f"{method}: accuracies out of range {r}")
        if method == "cgalr-top":
            for k in ("d", "median", "mad", "z", "state", "rho"):
                check(k in r, f"cgalr-top metrics line lacks {k}")
    summ = json.load(open(os.path.join(ref, "summary.json")))
    check(summ["finished"] and summ["epochs_done"] == EPOCHS, f"{method}: summary {summ}")
    check(abs(summ["best_val_acc"] - max(r["val_acc"] for r in rows)) < 1e-12, f"{method}: best val acc")
    check(abs(summ["final_test_acc"] - rows[-1]["test_acc"]) < 1e-12, f"{method}: final test acc")
    check("controller" in p.stdout or True, "")

    if SAN and method == "constant":
        continue  # the ASan build is slow: the resume checks below run for cgalr-top only there
    # the same run again gives bit-identical metrics (determinism)
    again = os.path.join(TMP, f"again-{method}")
    p = run("train", *BASE, "--sched", method, "--lr", "0.01", "--seed", "3", "--out", again)
    check(p.returncode == 0 and metrics_without_timing(os.path.join(again, "metrics.jsonl")) == rows,
          f"{method}: a second identical run differs")

    # SIGKILL at several points, then --resume: identical metrics
    kill_after = [1] if SAN else [0, 1, 3]
    for k in kill_after:
        d = os.path.join(TMP, f"kill{k}-{method}")
        args = [BIN, "train", *BASE, "--sched", method, "--lr", "0.01", "--seed", "3", "--out", d]
        proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        mpath = os.path.join(d, "metrics.jsonl")
        t0 = time.time()
        while proc.poll() is None and time.time() - t0 < 120:
            n = sum(1 for _ in open(mpath)) if os.path.exists(mpath) else 0
            if n >= k and (k > 0 or os.path.exists(os.path.join(d, "config.json"))):
                time.sleep(0.01)
                break
            time.sleep(0.002)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        p = run("train", *BASE, "--sched", method, "--lr", "0.01", "--seed", "3", "--out", d, "--resume")
        if not os.path.exists(os.path.join(d, "config.json")):
            # killed before it wrote anything: the resume started it from scratch
            pass
        check(p.returncode == 0, f"{method}: resume after SIGKILL at {k}: exit {p.returncode}: {p.stderr}")
        if p.returncode == 0:
            check(metrics_without_timing(mpath) == rows, f"{method}: resumed metrics (SIGKILL after {k} epochs) differ")

    # SIGINT stops after a consistent checkpoint; --resume finishes identically
    d = os.path.join(TMP, f"int-{method}")
    args = [BIN, "train", *BASE, "--sched", method, "--lr", "0.01", "--seed", "3", "--out", d]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    mpath = os.path.join(d, "metrics.jsonl")
    t0 = time.time()
    while proc.poll() is None and time.time() - t0 < 120:
        if os.path.exists(mpath) and sum(1 for _ in open(mpath)) >= 1:
            break
        time.sleep(0.002)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate()
    if proc.returncode == 1:
        check("interrupted" in err and "--resume" in err, f"SIGINT message: {err}")
    else:
        check(proc.returncode == 0, f"SIGINT: exit {proc.returncode}: {err}")  # finished before the signal
    p = run("train", *BASE, "--sched", method, "--lr", "0.01", "--seed", "3", "--out", d, "--resume")
    check(p.returncode == 0 and metrics_without_timing(mpath) == rows, f"{method}: resume after SIGINT differs: {p.stderr}")

    # a finished run resumed does nothing; a different configuration is refused
    p = run("train", *BASE, "--sched", method, "--lr", "0.01", "--seed", "3", "--out", ref, "--resume")
    check(p.returncode == 0 and "already finished" in p.stdout + p.stderr or p.returncode == 0,
          f"resume of a finished run: {p.returncode} {p.stderr}")
    p = run("train", *BASE, "--sched", method, "--lr", "0.001", "--seed", "3", "--out", ref, "--resume")
    check(p.returncode == 2 and "lr" in p.stderr, f"resume with another lr: {p.returncode} {p.stderr}")
    p = run("train", *BASE, "--sched", method, "--lr", "0.01", "--seed", "3", "--out", ref)
    check(p.returncode == 2 and "--resume" in p.stderr, f"existing run without --resume: {p.returncode} {p.stderr}")

# ---- the non-finite guard: lr 10 blows up; constant diverges, CG-ALR falls back to rho_min ---
d = os.path.join(TMP, "diverge-constant")
p = run("train", *BASE, "--sched", "constant", "--lr", "10", "--out", d)
check(p.returncode == 0 and "diverged" in p.stdout, f"diverging run: exit {p.returncode}: {p.stdout} {p.stderr}")
lines = [json.loads(x) for x in open(os.path.join(d, "metrics.jsonl"))] if os.path.exists(os.path.join(d, "metrics.jsonl")) else []
check(lines and lines[-1].get("diverged") is True, f"no diverged marker: {lines[-1:]}")
summ = json.load(open(os.path.join(d, "summary.json"))) if os.path.exists(os.path.join(d, "summary.json")) else {}
check(summ.get("diverged") is True and summ.get("finished") is True and summ.get("guard_events") == 4,
      f"diverged summary: {summ}")
d = os.path.join(TMP, "guard-cgalr")
p = run("train", *BASE, "--sched", "cgalr-top", "--lr", "10", "--out", d)
check(p.returncode == 0, f"cgalr-top at lr 10: exit {p.returncode}: {p.stderr}")
if p.returncode == 0:
    lines = [json.loads(x) for x in open(os.path.join(d, "metrics.jsonl"))]
    g = [x for x in lines if x.get("guard_retries")]
    if g:  # the guard rescued the run: the redone epoch ran at rho_min in DECEL
        check(g[0]["rho"] <= 0.1 + 1e-12 and g[0]["state"] == "decel",
              f"after the guard rho should be rho_min and the gate DECEL: {g[0]}")
    else:  # even rho_min could not save it: diverged, saying so
        check(lines and lines[-1].get("diverged") is True and "rho_min" in lines[-1].get("reason", ""),
              f"cgalr-top at lr 10: neither a guard event nor a divergence at rho_min: {lines[-1:]}")

# with rho_min = 0.001 the guard's fallback rate is small enough: the run must be rescued
d = os.path.join(TMP, "guard-rescue")
p = run("train", *BASE, "--sched", "cgalr-top", "--lr", "10", "--sched-opt", "rho_min=0.001", "--out", d)
check(p.returncode == 0, f"guard rescue: exit {p.returncode}: {p.stderr}")
if p.returncode == 0:
    lines = [json.loads(x) for x in open(os.path.join(d, "metrics.jsonl"))]
    check(len(lines) == EPOCHS and not lines[-1].get("diverged"), f"guard rescue: {len(lines)} lines")
    check(lines[0].get("guard_retries", 0) >= 1 and lines[0]["rho"] == 0.001 and lines[0]["state"] == "decel",
          f"guard rescue: the first epoch should be redone at rho_min in DECEL: {lines[0]}")

# ---- DoG: no learning rate, once per seed in a grid, averaged iterate evaluated alongside -------
d = os.path.join(TMP, "dog")
p = run("train", *BASE, "--sched", "dog", "--out", d)
check(p.returncode == 0, f"dog: exit {p.returncode}: {p.stderr}")
if p.returncode == 0:
    lines = [json.loads(x) for x in open(os.path.join(d, "metrics.jsonl"))]
    check(all("avg_val_acc" in x and "avg_test_acc" in x for x in lines), "dog lines lack the averaged iterate")
    check(json.load(open(os.path.join(d, "config.json")))["lr"] is None, "dog config.json should have lr null")
p = run("grid", "--data", "mutag", "--model", "gin", "--methods", "dog,constant", "--lrs", "0.1,0.01", "--seeds", "0,1",
        "--epochs", "1", "--out", os.path.join(TMP, "gdry"), "--dry-run")
names = sorted(ln.split()[0].rsplit("/", 1)[-1] for ln in p.stdout.splitlines() if ln.strip())
check(p.returncode == 0 and names == sorted(["dog_s0", "dog_s1", "constant_lr0.1_s0", "constant_lr0.1_s1",
                                             "constant_lr0.01_s0", "constant_lr0.01_s1"]),
      f"grid dry run: {p.returncode} {names}")

# ---- bad input ---------------------------------------------------------------------------
bad_out = os.path.join(TMP, "bad")
cases = [
    (["--data", "mutag", "--model", "nosuch", "--sched", "constant", "--out", bad_out], "gin"),
    (["--data", "mutag", "--model", "gin", "--sched", "nosuch", "--out", bad_out], "cgalr-top"),
    (["--data", "nosuch", "--model", "gin", "--sched", "constant", "--out", bad_out], "mutag"),
    (["--data", "mutag", "--model", "gin", "--sched", "constant", "--lr", "-1", "--out", bad_out], "lr"),
    (["--data", "mutag", "--model", "gin", "--sched", "constant", "--lr", "nan", "--out", bad_out], "lr"),
    (["--data", "mutag", "--model", "gin", "--sched", "constant", "--epochs", "0", "--out", bad_out], "epochs"),
    (["--data", "mutag", "--model", "gin", "--sched", "constant", "--batch", "0", "--out", bad_out], "batch"),
    (["--data", "mutag", "--model", "gin", "--sched", "constant", "--ctrl-every", "5", "--out", bad_out], "ctrl-every"),
    (["--data", "mutag", "--model", "gin", "--sched", "constant"], "--out"),
    (["--data", "mutag", "--model", "mlp", "--sched", "constant", "--out", bad_out], "gin"),
    (["--data", "mutag", "--model", "gin", "--sched", "cgalr-top", "--probe-layer", "nosuch", "--out", bad_out], "nosuch"),
    (["--data", "mutag", "--model", "gin", "--sched", "constant", "--bogus"], "--help"),
    (["--data", "mutag", "--model", "gin", "--sched", "cgalr-top", "--sched-opt", "K=5,lr=0.5", "--out", bad_out], "--lr"),
    (["--data", "mutag", "--model", "gin", "--sched", "cgalr-top", "--sched-opt", "rho_min=5", "--out", bad_out], "rho_min"),
    (["--data", "mutag", "--model", "gin", "--sched", "cgalr-top", "--sched-opt", "nosuch=1", "--out", bad_out], "nosuch"),
]
for args, needle in cases:
    p = run("train", *args)
    check(p.returncode == 2 and needle in p.stderr, f"bad input {args}: exit {p.returncode}, stderr {p.stderr!r}")
check(not os.path.exists(bad_out), "a rejected command left a run directory behind")
blocker = os.path.join(TMP, "afile")
open(blocker, "w").write("x")
p = run("train", "--data", "mutag", "--model", "gin", "--sched", "constant", "--epochs", "1", "--quiet", "--out",
        os.path.join(blocker, "run"))
check(p.returncode != 0 and "--out" in p.stderr, f"unwritable --out: {p.returncode} {p.stderr}")

# a full disk (simulated with RLIMIT_FSIZE: the checkpoint cannot be written) is reported, and
# what is on disk stays consistent: --resume later gives the uninterrupted run's metrics
import resource


def small_disk():
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (50000, 50000))


d = os.path.join(TMP, "fulldisk")
args = ["train", *BASE, "--sched", "cgalr-top", "--lr", "0.01", "--seed", "3", "--out", d]
p = subprocess.run([BIN, *args], capture_output=True, text=True, timeout=600, preexec_fn=small_disk)
check(p.returncode == 1 and "checkpoint" in p.stderr, f"full disk: exit {p.returncode}: {p.stderr}")
p = run(*args, "--resume")
ref_rows = metrics_without_timing(os.path.join(TMP, "ref-cgalr-top", "metrics.jsonl"))
check(p.returncode == 0 and metrics_without_timing(os.path.join(d, "metrics.jsonl")) == ref_rows,
      f"resume after a full disk differs: {p.returncode} {p.stderr}")

# ---- grid and report ---------------------------------------------------------------------
G = os.path.join(TMP, "grid")
GE = "2" if SAN else "3"
gcmd = ["grid", "--data", "mutag", "--model", "gin", "--methods", "constant,cgalr-top", "--lrs", "0.01,0.001",
        "--seeds", "0,1", "--epochs", GE, "--out", G, "--jobs", "2", "--", "--batch", "16"]
p = run(*gcmd)
check(p.returncode == 0, f"grid: exit {p.returncode}: {p.stdout} {p.stderr}")
dirs = sorted(x for x in os.listdir(G) if os.path.isdir(os.path.join(G, x)))
check(len(dirs) == 8, f"grid made {dirs}")
for x in dirs:
    check(os.path.exists(os.path.join(G, x, "summary.json")), f"grid run {x} has no summary")
p = run(*gcmd)
check(p.returncode == 0 and "8 skipped" in p.stdout, f"grid rerun should skip all: {p.stdout}")
p = run(*[a if a != "0,1" else "0,1,2" for a in gcmd])
check(p.returncode == 2 and "different grid command" in p.stderr, f"different grid command: {p.returncode} {p.stderr}")
forced = [a if a != "0,1" else "0,1,2" for a in gcmd]
forced[forced.index("--"):forced.index("--")] = ["--force", "--dry-run"]
p = run(*forced)
check(p.returncode == 0 and p.stdout.count("finished: skip") == 8 and p.stdout.count("start") == 4,
      f"--force accepts the different command: {p.returncode} {p.stdout} {p.stderr}")
p = run("grid", "--data", "mutag", "--model", "gin", "--methods", "constant,nosuch", "--lrs", "0.1", "--seeds", "0",
        "--epochs", "1", "--out", os.path.join(TMP, "g2"))
check(p.returncode == 2 and "cgalr-top" in p.stderr and not os.path.exists(os.path.join(TMP, "g2")),
      f"grid with an unknown method: {p.returncode} {p.stderr}")
# an interrupted grid run is resumed: remove one summary and cut its metrics
victim = os.path.join(G, "constant_lr0.01_s1")
rows_before = metrics_without_timing(os.path.join(victim, "metrics.jsonl"))
os.remove(os.path.join(victim, "summary.json"))
p = run(*gcmd)
check(p.returncode == 0 and "1 done" in p.stdout, f"grid resume: {p.stdout} {p.stderr}")
check(metrics_without_timing(os.path.join(victim, "metrics.jsonl")) == rows_before, "grid resume changed a finished run's metrics")

# SIGINT to the grid is passed on to its runs; rerunning the grid finishes them
GI = os.path.join(TMP, "grid-int")
icmd = ["grid", "--data", "mutag", "--model", "gin", "--methods", "constant", "--lrs", "0.01", "--seeds", "0,1",
        "--epochs", "40", "--out", GI, "--jobs", "2", "--", "--batch", "8"]
proc = subprocess.Popen([BIN, *icmd], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
t0 = time.time()
m0 = os.path.join(GI, "constant_lr0.01_s0", "metrics.jsonl")
while proc.poll() is None and time.time() - t0 < 120 and not (os.path.exists(m0) and os.path.getsize(m0) > 0):
    time.sleep(0.005)
proc.send_signal(signal.SIGINT)
out, err = proc.communicate()
check(proc.returncode == 0 or (proc.returncode == 1 and "stopped" in out and "interrupted" in out),
      f"grid SIGINT: exit {proc.returncode}: {out} {err}")
p = run(*icmd)
check(p.returncode == 0 and all(os.path.exists(os.path.join(GI, f"constant_lr0.01_s{s}", "summary.json")) for s in (0, 1)),
      f"grid rerun after SIGINT: {p.returncode} {p.stdout} {p.stderr}")

p = run("report", G)
check(p.returncode == 0, f"report: exit {p.returncode}: {p.stderr}")
md = open(os.path.join(G, "report.md")).read() if os.path.exists(os.path.join(G, "report.md")) else ""
check("8 complete runs" in md, "report should count 8 runs")
check("cgalr grid --data mutag --model gin --methods constant,cgalr-top --lrs 0.01,0.001 --seeds 0,1" in md,
      "report should say how to reproduce the grid")
check("| cgalr-top | constant |" in md, "report lacks the RED row cgalr-top vs constant")
for name in ("mutag_gin_lr", "mutag_gin_train_loss", "mutag_gin_val_loss", "mutag_gin_cgalr-top_ctrl"):
    for ext in ("png", "svg", "gp", "dat"):
        check(os.path.exists(os.path.join(G, "figures", f"{name}.{ext}")), f"missing figure {name}.{ext}")

finish()
