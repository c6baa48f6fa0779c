"""Runs nobody can corrupt (issue 11): one writer per run and per grid, no orphans after a grid is
killed, --force reruns what differs and the report's provenance comes from the runs, one
definition of "finished" (a damaged metrics.jsonl is reported and rerun), --resume without a
checkpoint refused, --check as strict as the run, train options given to the grid directly with
progress, --resume reading the run's options from config.json, --val-fraction refused where it
cannot act. MUTAG (../shared/data/TU) with gin: each run is well under a second."""
import json
import os
import signal
import subprocess
import time

from runlib import BIN, SAN, check, finish, metrics_without_timing, run, scratch

TMP = scratch(os.path.join(os.getcwd(), "test-tmp", "test_grid_writers"))
E = 3
GRID = ["grid", "--data", "mutag", "--model", "gin", "--methods", "constant,cgalr-top", "--lrs", "0.01",
        "--seeds", "0,1", "--epochs", str(E), "--batch", "16", "--threads", "1"]


def runs_of(d):
    return sorted(os.path.join(d, x) for x in os.listdir(d) if os.path.isdir(os.path.join(d, x)))


def metrics_valid(path, epochs):
    """Every line a JSON object, epochs 1 .. epochs in order."""
    try:
        rows = [json.loads(line) for line in open(path)]
    except (OSError, ValueError):
        return False
    return [r.get("epoch") for r in rows] == list(range(1, epochs + 1))


def children_of(pid):
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
    return [int(x) for x in out]


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


# ---- 1. two grids at once on one directory: exactly one runs, every metrics file intact ----
G1 = os.path.join(TMP, "two")
E1 = 40
GRID1 = [x if x != str(E) else str(E1) for x in GRID]
a = subprocess.Popen([BIN, *GRID1, "--jobs", "2", "--out", G1], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
for _ in range(400):  # the first grid is running its runs
    if children_of(a.pid):
        break
    time.sleep(0.02)
b = subprocess.Popen([BIN, *GRID1, "--jobs", "2", "--out", G1], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
oa, ea = a.communicate(timeout=300)
ob, eb = b.communicate(timeout=300)
codes = sorted([a.returncode, b.returncode])
refused = eb if b.returncode else ea
check(codes == [0, 1], f"two grids: exit codes {a.returncode} {b.returncode}: {ea} {eb}")
check("in use" in refused and f"pid {a.pid}" in refused, f"the second grid names the holder's pid {a.pid}: {refused}")
for d in runs_of(G1):
    check(metrics_valid(os.path.join(d, "metrics.jsonl"), E1), f"{d}: metrics.jsonl not valid and complete")

# one writer per run directory, also for cgalr train by hand
R = os.path.join(TMP, "busy")
slow = subprocess.Popen([BIN, "train", "--data", "mutag", "--model", "gin", "--sched", "constant", "--epochs", "400",
                         "--out", R, "--quiet"], stderr=subprocess.PIPE, text=True)
for _ in range(200):
    if os.path.exists(os.path.join(R, "metrics.jsonl")):
        break
    time.sleep(0.05)
p = run("train", "--out", R, "--resume")
check(p.returncode == 2 and f"pid {slow.pid}" in p.stderr, f"a second writer on a live run: {p.returncode} {p.stderr}")
p = run("report", R, "--no-figures")
check(p.returncode == 2 and "busy" in p.stderr and f"pid {slow.pid}" in p.stderr, f"report on a run being written: {p.stderr}")
slow.send_signal(signal.SIGINT)
slow.wait(timeout=60)

# ---- 2. SIGKILL of a grid leaves no child writing ----
G2 = os.path.join(TMP, "killed")
g = subprocess.Popen([BIN, "grid", "--data", "mutag", "--model", "gin", "--methods", "constant", "--lrs", "0.01",
                      "--seeds", "0,1", "--epochs", "300", "--jobs", "2", "--out", G2], stdout=subprocess.PIPE,
                     stderr=subprocess.PIPE, text=True)
kids = []
for _ in range(400):
    kids = [k for k in children_of(g.pid) if alive(k)]
    if len(kids) == 2:
        break
    time.sleep(0.05)
check(len(kids) == 2, f"grid children before the kill: {kids}")
time.sleep(0.3)
g.send_signal(signal.SIGKILL)
g.wait()
deadline = time.time() + 5
while time.time() < deadline and any(alive(k) for k in kids):
    time.sleep(0.05)
check(not any(alive(k) for k in kids), f"children of a killed grid still running: {[k for k in kids if alive(k)]}")
left = subprocess.run(["pgrep", "-f", G2], capture_output=True, text=True).stdout.split()
check(not left, f"pgrep finds processes writing {G2}: {left}")
# an immediate rerun meets no live writer and continues the runs (fewer epochs to keep it short
# is a different command; the same command resumes)
sizes = {d: os.path.getsize(os.path.join(d, "metrics.jsonl")) for d in runs_of(G2)
         if os.path.exists(os.path.join(d, "metrics.jsonl"))}
time.sleep(0.5)
check(all(os.path.getsize(os.path.join(d, "metrics.jsonl")) == n for d, n in sizes.items()),
      "a metrics file grew after the grid was killed")

# ---- 3. --force with changed options reruns the runs; the report's provenance follows the runs ----
G3 = os.path.join(TMP, "force")
p = run(*GRID, "--out", G3)
check(p.returncode == 0, f"grid: {p.returncode} {p.stderr}")
check("[4/4] done" in p.stdout and "test acc" in p.stdout and "ETA" in p.stdout,
      f"grid progress shows k/N, the accuracy and an ETA: {p.stdout}")
cfg = json.load(open(os.path.join(G3, "constant_lr0.01_s0", "config.json")))
check(cfg["batch"] == 16, f"--batch given to the grid directly reaches the runs: {cfg['batch']}")
changed = [x if x != str(E) else str(E + 1) for x in GRID]
p = run(*changed, "--out", G3)
check(p.returncode == 2 and "different grid command" in p.stderr, f"changed --epochs without --force: {p.returncode} {p.stderr}")
p = run(*changed, "--force", "--out", G3)
check(p.returncode == 0 and "4 done" in p.stdout, f"--force with changed --epochs reruns every run: {p.stdout} {p.stderr}")
for d in runs_of(G3):
    check(json.load(open(os.path.join(d, "config.json")))["epochs"] == E + 1 and
          metrics_valid(os.path.join(d, "metrics.jsonl"), E + 1), f"{d}: not rerun with {E + 1} epochs")
# a run someone swapped in with other options: the report says the runs differ, not the grid's line
p = run("train", "--data", "mutag", "--model", "gin", "--sched", "constant", "--lr", "0.01", "--seed", "5",
        "--epochs", str(E + 1), "--batch", "8", "--out", os.path.join(G3, "extra"), "--quiet")
p = run("report", G3, "--no-figures")
md = open(os.path.join(G3, "report.md")).read()
check("one grid per line" in md and "--seeds 5 --epochs 4 --batch 8" in md and "--seeds 0,1 --epochs 4 --batch 16" in md,
      f"report provenance from the runs: {md[:1500]}")
os.system(f"rm -rf '{os.path.join(G3, 'extra')}'")
p = run("report", G3, "--no-figures")
md = open(os.path.join(G3, "report.md")).read()
check(f"--epochs {E + 1}" in md and "--batch 16" in md and "--methods constant,cgalr-top" in md,
      f"report reproduce line states what the runs used: {md[:1500]}")

# ---- 4. one definition of finished: a damaged metrics.jsonl is reported and rerun ----
victim = os.path.join(G3, "cgalr-top_lr0.01_s1")
mp = os.path.join(victim, "metrics.jsonl")
lines = open(mp).read().splitlines(True)
with open(mp, "w") as f:
    f.write(lines[0] + '{"epoch": 2, "train_loss": 0.5, "val\n' + "".join(lines[1:]))
p = run("report", G3, "--no-figures")
md = open(os.path.join(G3, "report.md")).read()
check("damaged" in md and "line 2" in md, f"report lists the damaged run with its reason: {md[-800:]}")
p = run(*changed, "--out", G3)
check(p.returncode == 0 and "1 done" in p.stdout and "3 skipped" in p.stdout, f"grid reruns the damaged run: {p.stdout} {p.stderr}")
check(metrics_valid(mp, E + 1) and os.path.exists(mp + ".old"), "damaged run rerun, old metrics kept beside it")

# ---- 5. --resume with the checkpoint missing is refused; --restart starts again ----
r5 = os.path.join(G3, "constant_lr0.01_s0")
before = open(os.path.join(r5, "metrics.jsonl")).read()
os.remove(os.path.join(r5, "checkpoint.bin"))
os.remove(os.path.join(r5, "summary.json"))
p = run("train", "--out", r5, "--resume")
check(p.returncode == 2 and "checkpoint.bin is missing" in p.stderr and "--restart" in p.stderr,
      f"--resume without checkpoint: {p.returncode} {p.stderr}")
check(open(os.path.join(r5, "metrics.jsonl")).read() == before, "a refused resume changed metrics.jsonl")
p = run("train", "--out", r5, "--restart", "--quiet")
check(p.returncode == 0 and metrics_without_timing(os.path.join(r5, "metrics.jsonl")) ==
      [{k: v for k, v in json.loads(x).items() if k not in ("seconds", "ctrl_seconds")} for x in before.splitlines()],
      f"--restart trains again to the same metrics: {p.returncode} {p.stderr}")

# ---- 6. the grid reruns a run whose logged epochs lost their checkpoint (train alone refuses it) ----
r6 = os.path.join(G3, "cgalr-top_lr0.01_s0")
mp6 = os.path.join(r6, "metrics.jsonl")
first = open(mp6).read().splitlines(True)[0]
with open(mp6, "w") as f:
    f.write(first)
for name in ("summary.json", "checkpoint.bin"):
    if os.path.exists(os.path.join(r6, name)):
        os.remove(os.path.join(r6, name))
p = run(*changed, "--out", G3)
check(p.returncode == 0 and "1 done" in p.stdout and "3 skipped" in p.stdout and "checkpoint.bin is missing" in p.stdout,
      f"grid reruns the run without its checkpoint: {p.returncode} {p.stdout} {p.stderr}")
check(metrics_valid(mp6, E + 1) and open(mp6 + ".old").read() == first,
      "the rerun logged every epoch and kept the old metrics beside it")

# ---- 7. --check runs every validation of the real run ----
base = ["--model", "gin", "--sched", "cgalr-top", "--epochs", "2"]
for args, want in ((["--data", "nosuch", *base, "--out", os.path.join(TMP, "c1")], "nosuch"),
                   (["--data", "mutag", "--model", "mlp", "--sched", "constant", "--out", os.path.join(TMP, "c2")], "gin"),
                   (["--data", "mutag", *base, "--probe-layer", "nosuch", "--out", os.path.join(TMP, "c3")], "nosuch"),
                   (["--data", "mutag", "--model", "gin", "--sched", "constant", "--lr", "0.01", "--seed", "0",
                     "--epochs", str(E + 1), "--batch", "16", "--out", r5], "already holds a run")):
    p = run("train", *args, "--check")
    check(p.returncode == 2 and want in p.stderr, f"--check {args}: {p.returncode} {p.stderr}")
for d in ("c1", "c2", "c3"):
    check(not os.path.exists(os.path.join(TMP, d)), f"--check wrote {d}")
p = run("grid", "--data", "mutag", "--model", "mlp", "--methods", "constant", "--lrs", "0.1", "--seeds", "0",
        "--epochs", "1", "--out", os.path.join(TMP, "g-bad"))
check(p.returncode == 2 and "gin" in p.stderr and not os.path.exists(os.path.join(TMP, "g-bad")),
      f"a grid that cannot run refuses before writing: {p.returncode} {p.stderr}")
p = run("grid", "--data", "mutag", "--model", "gin", "--methods", "constant", "--seeds", "0", "--lr", "0.1",
        "--out", os.path.join(TMP, "g-bad"))
check(p.returncode == 2 and "--lrs" in p.stderr, f"--lr given to the grid points to --lrs: {p.returncode} {p.stderr}")

# ---- 10. --resume reads the options from config.json ----
r10, ref = os.path.join(TMP, "r10"), os.path.join(TMP, "r10-ref")
opts = ["--data", "mutag", "--model", "gin", "--sched", "cgalr-top", "--lr", "0.01", "--epochs", "60", "--batch", "8",
        "--seed", "3", "--quiet"]
p = run("train", *opts, "--out", ref)
check(p.returncode == 0, f"reference run: {p.stderr}")
interrupted = False
for wait_lines in (2, 1):
    os.system(f"rm -rf '{r10}'")
    t = subprocess.Popen([BIN, "train", *opts, "--out", r10], stderr=subprocess.PIPE, text=True)
    mp = os.path.join(r10, "metrics.jsonl")
    while t.poll() is None:
        if os.path.exists(mp) and open(mp).read().count("\n") >= wait_lines:
            t.send_signal(signal.SIGINT)
            break
        time.sleep(0.01)
    t.wait(timeout=120)
    if t.returncode == 1:
        interrupted = True
        break
check(interrupted, "could not interrupt the run to resume it")
p = run("train", "--out", r10, "--resume", "--quiet")
check(p.returncode == 0 and metrics_without_timing(os.path.join(r10, "metrics.jsonl")) ==
      metrics_without_timing(os.path.join(ref, "metrics.jsonl")),
      f"resume with only --out: {p.returncode} {p.stderr}")

# ---- 11. --val-fraction where it cannot act ----
p = run("train", "--data", "mutag", "--model", "gin", "--sched", "constant", "--val-fraction", "0.3",
        "--out", os.path.join(TMP, "v1"), "--check")
check(p.returncode == 2 and "--val-fraction" in p.stderr and "--folds" in p.stderr, f"val-fraction on graphs: {p.stderr}")
p = run("train", "--data", "mutag", "--model", "gin", "--sched", "constant", "--val-fraction", "0.3", "--folds", "5",
        "--fold", "0", "--out", os.path.join(TMP, "v2"), "--check")
check(p.returncode == 0, f"val-fraction with folds is used: {p.returncode} {p.stderr}")
p = run("train", "--data", "fashion-mnist", "--model", "mlp", "--sched", "plateau", "--val-fraction", "0",
        "--out", os.path.join(TMP, "v3"), "--check")
check(p.returncode == 2 and "plateau" in p.stderr, f"plateau without validation: {p.returncode} {p.stderr}")

# ---- folds as a grid dimension: one run per fold, the report pairs by (fold, seed) ----
GF = os.path.join(TMP, "folds")
p = run("grid", "--data", "mutag", "--model", "gin", "--methods", "constant,cgalr-top", "--lrs", "0.01", "--seeds", "0,1",
        "--folds", "3", "--epochs", "2", "--jobs", "2", "--out", GF)
check(p.returncode == 0 and "[12/12]" in p.stdout, f"grid --folds 3: {p.returncode} {p.stdout} {p.stderr}")
seen = set()
for d in runs_of(GF):
    c = json.load(open(os.path.join(d, "config.json")))
    seen.add((c["sched"], c["seed"], c["folds"], c["fold"]))
    check(d.endswith(f"_f{c['fold']}"), f"{d}: run directory names its fold")
check(seen == {(m, s, 3, f) for m in ("constant", "cgalr-top") for s in (0, 1) for f in range(3)}, f"fold runs: {seen}")
p = run("report", GF, "--no-figures")
md = open(os.path.join(GF, "report.md")).read()
row = [l for l in md.splitlines() if l.startswith("| cgalr-top | constant |")]
check(len(row) == 1 and row[0].split("|")[5].strip() == "6", f"RED pairs over (fold, seed): {row}")
check("--folds 3" in md and "--fold 0" not in md, "reproduce line names --folds, not one fold")
p = run("grid", "--data", "mutag", "--model", "gin", "--methods", "constant", "--seeds", "0", "--folds", "1",
        "--out", os.path.join(TMP, "gf-bad"))
check(p.returncode == 2 and "--folds" in p.stderr, f"--folds 1: {p.returncode} {p.stderr}")

# --train-subset: absurd values and graph datasets are refused before anything is read
for args, want in ((["--data", "fashion-mnist", "--model", "mlp", "--train-subset", "1"], "--train-subset"),
                   (["--data", "fashion-mnist", "--model", "mlp", "--train-subset", "-5"], "--train-subset"),
                   (["--data", "fashion-mnist", "--model", "mlp", "--train-subset", "12x"], "--train-subset"),
                   (["--data", "mutag", "--model", "gin", "--train-subset", "50"], "image datasets")):
    p = run("train", *args, "--sched", "constant", "--out", os.path.join(TMP, "ts"), "--check")
    check(p.returncode == 2 and want in p.stderr, f"--train-subset {args}: {p.returncode} {p.stderr}")

finish()
