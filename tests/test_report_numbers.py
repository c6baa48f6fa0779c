"""`cgalr report` on synthetic run directories: every number in report.md is recomputed here
independently from the metrics.jsonl files (numpy/scipy), and the figures are checked to be
valid PNG (signature, IHDR) and SVG (parses as XML)."""
import json
import math
import os
import re
import shutil
import struct
import subprocess
import sys
import xml.etree.ElementTree as ET

import numpy as np
from scipy import stats

BIN = os.environ["CGALR_BIN"]
TMP = os.environ.get("CGALR_TMP", "/tmp/cgalr-test-report")
shutil.rmtree(TMP, ignore_errors=True)
os.makedirs(TMP)
rng = np.random.default_rng(12345)
failures = []


def check(cond, msg):
    if not cond:
        failures.append(msg)


def write_run(root, data, model, method, lr, seed, epochs, diverge_at=None, stop_at=None, nan_val=False,
              test_acc=True):
    d = os.path.join(root, f"{data}-{model}", f"{method}_lr{lr}_s{seed}")
    os.makedirs(d)
    cfg = {"data": data, "model": model, "sched": method, "lr": lr, "epochs": epochs, "batch": 32, "seed": seed}
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(cfg, f)
    lines = []
    last = epochs if stop_at is None else stop_at
    if diverge_at is not None:
        last = diverge_at - 1
    base = rng.uniform(0.3, 1.2)
    for e in range(1, last + 1):
        rec = {"epoch": e, "lr": (lr if lr else 0.05) * (0.9 ** e), "train_loss": base / e + rng.uniform(0, .05),
               "train_acc": float(rng.uniform(0.5, 1.0)), "val_loss": base / math.sqrt(e) + rng.uniform(0, .1),
               "val_acc": float(rng.uniform(0.5, 1.0)), "seconds": float(rng.uniform(0.05, 0.2))}
        if nan_val and e == last:
            rec["val_loss"] = None
        if test_acc:
            rec["test_acc"] = float(rng.choice([rng.uniform(0.5, 0.95), 1.0]) if rng.uniform() < 0.1 else rng.uniform(0.5, 0.95))
        if method.startswith("cgalr"):
            z = float(rng.normal()) if e > 3 else None
            rec.update({"d": float(rng.uniform(0, 1)), "median": None if e <= 3 else 0.5, "mad": None if e <= 3 else 0.1,
                        "z": z, "state": ["hold", "decel", "accel"][e % 3], "rho": float(rng.uniform(0.1, 2)),
                        "ctrl_seconds": float(rng.uniform(0, 0.01))})
        lines.append(json.dumps(rec))
    if diverge_at is not None:
        lines.append(json.dumps({"diverged": True, "epoch": diverge_at, "reason": "non-finite loss after 3 retries"}))
    with open(os.path.join(d, "metrics.jsonl"), "w") as f:
        f.write("\n".join(lines) + "\n")
    return d


GRID = os.path.join(TMP, "grid")
E = 6
# dataset 1: three lrs, three seeds, a diverged run, a DoG run, a CG-ALR variant
for method, lrs in [("constant", [0.1, 0.01, 0.001]), ("cosine", [0.1, 0.01]), ("dog", [None]),
                    ("cgalr-top", [0.1, 0.01, 0.001])]:
    for lr in lrs:
        for seed in (0, 1, 2):
            write_run(GRID, "mutag", "gin", method, lr, seed, E,
                      diverge_at=3 if (method == "constant" and lr == 0.1 and seed == 1) else None,
                      nan_val=(method == "cosine" and lr == 0.1 and seed == 2))
# dataset 2: two seeds, one seed unfinished (left out), one CG-ALR variant with a single seed pairing
for method, lrs in [("constant", [0.1, 0.01]), ("cgalr-swk", [0.01])]:
    for lr in lrs:
        for seed in (0, 1):
            write_run(GRID, "fashion-mnist", "mlp", method, lr, seed, 4,
                      stop_at=2 if (method == "constant" and lr == 0.01 and seed == 1) else None)
# a run whose metrics file is corrupt: left out with a reason
bad = write_run(GRID, "fashion-mnist", "mlp", "cosine", 0.1, 0, 4)
with open(os.path.join(bad, "metrics.jsonl"), "a") as f:
    f.write("{not json\n")

p = subprocess.run([BIN, "report", GRID], capture_output=True, text=True)
check(p.returncode == 0, f"report exit {p.returncode}: {p.stderr}")
md = open(os.path.join(GRID, "report.md")).read()


# ---- independent recomputation ----------------------------------------------------------
def load(root):
    runs = []
    for dp, dn, fn in os.walk(root):
        if "config.json" in fn and "metrics.jsonl" in fn:
            cfg = json.load(open(os.path.join(dp, "config.json")))
            recs, div = [], False
            try:
                for line in open(os.path.join(dp, "metrics.jsonl")):
                    if not line.strip():
                        continue
                    o = json.loads(line)
                    if o.get("diverged"):
                        div = True
                    else:
                        recs.append(o)
            except json.JSONDecodeError:
                runs.append(dict(cfg=cfg, ok=False, dir=dp))
                continue
            ok = div or len(recs) == cfg["epochs"]
            runs.append(dict(cfg=cfg, recs=recs, div=div, ok=ok, dir=dp))
    return runs


def nz(v):
    return float("nan") if v is None else v


runs = load(GRID)
complete = [r for r in runs if r["ok"]]
check(f"{len(complete)} complete runs, {len(runs) - len(complete)} left out" in md,
      f"run counts: expected {len(complete)} complete, {len(runs) - len(complete)} left out")

groups = {}
for r in complete:
    c = r["cfg"]
    lr = None if c["sched"] == "dog" else c["lr"]
    groups.setdefault((c["data"], c["model"]), {}).setdefault(c["sched"], {}).setdefault(lr, []).append(r)


def final_val_loss(r):
    if r["div"] or not r["recs"]:
        return math.inf
    v = nz(r["recs"][-1]["val_loss"])
    return v if math.isfinite(v) else math.inf


def final_test(r):
    if r["div"]:
        return 0.0  # METHOD.md section 6: non-finite logits count as wrong
    return nz(r["recs"][-1].get("test_acc")) if r["recs"] else float("nan")


def final_val_acc(r):
    if r["div"] or not r["recs"] or r["recs"][-1]["val_acc"] is None:
        return 0.0
    v = nz(r["recs"][-1]["val_acc"])
    return 0.0 if math.isnan(v) else v


def best_val(r):
    v = [nz(x["val_acc"]) for x in r["recs"] if x["val_acc"] is not None]
    return max(v) if v else float("nan")


def num(s):
    s = s.strip()
    return math.inf if s == "inf" else float(s)


def close(a, b, tol):
    if math.isinf(a) or math.isinf(b):
        return a == b
    return abs(a - b) <= tol


def parse_summary(cell):
    m = re.match(r"([-\d.]+) ± ([-\d.]+) \[([-\d.]+), ([-\d.]+)\]", cell.strip())
    return tuple(float(x) for x in m.groups()) if m else None


def expect_summary(vals):
    v = np.array([x for x in vals if not math.isnan(x)])
    sd = float(np.std(v, ddof=1)) if len(v) > 1 else 0.0
    return (float(v.mean()), sd, float(v.min()), float(v.max()))


def rows_of(section, header_start):
    i = section.find(header_start)
    if i < 0:
        return []
    out = []
    for line in section[i:].splitlines()[2:]:
        if not line.startswith("|"):
            break
        out.append([c.strip() for c in line.strip().strip("|").split("|")])
    return out


sections = re.split(r"^## Dataset ", md, flags=re.M)[1:]
check(len(sections) == len(groups), f"{len(sections)} dataset sections, expected {len(groups)}")
n_checked = 0
for sec in sections:
    m = re.match(r"(\S+), model (\S+)", sec)
    key = (m.group(1), m.group(2))
    check(key in groups, f"unexpected dataset section {key}")
    if key not in groups:
        continue
    G = groups[key]
    best, worst = {}, {}
    # grid values
    for row in rows_of(sec, "| method | lr | runs |"):
        method, lrs, nseed, ndiv, mva, mvl = row
        lr = None if lrs == "-" else float(lrs)
        rs = G[method][lr]
        check(int(nseed) == len(rs), f"{key} {method} {lr}: seeds {nseed} != {len(rs)}")
        check(int(ndiv) == sum(r["div"] for r in rs), f"{key} {method} {lr}: diverged count")
        exp = float(np.mean([final_val_loss(r) for r in rs]))
        check(close(num(mvl), exp, 1e-5 * abs(exp) + 1e-12), f"{key} {method} {lr}: mean val loss {mvl} vs {exp}")
        expa = float(np.mean([final_val_acc(r) for r in rs]))
        check(abs(float(mva) - expa) <= 6e-5, f"{key} {method} {lr}: mean val acc {mva} vs {expa}")
        n_checked += 4
    by_loss = {}
    for method, cells in G.items():
        # METHOD.md section 6: mean final val accuracy, ties by mean final val loss, then the rate
        acc = {lr: float(np.mean([final_val_acc(r) for r in rs])) for lr, rs in cells.items()}
        means = {lr: float(np.mean([final_val_loss(r) for r in rs])) for lr, rs in cells.items()}
        asc = sorted(means, key=lambda x: -1 if x is None else x)
        best[method] = sorted(asc, key=lambda lr: (-acc[lr], means[lr]))[0]
        worst[method] = sorted(reversed(asc), key=lambda lr: (acc[lr], -means[lr]))[0]
        lo = min(means.values())
        hi = max(means.values())
        by_loss[method] = ([lr for lr in asc if means[lr] == lo][0], [lr for lr in asc if means[lr] == hi][-1])
    # best and worst
    seen = set()
    for row in rows_of(sec, "| method | which | lr |"):
        method, which, lrs, nseed, ndiv, mva, mvl, tacc, vacc, lr_loss = row
        lr = None if lrs == "-" else float(lrs)
        want = best[method] if which == "best" else worst[method]
        check(lr == want, f"{key} {method} {which}: lr {lr}, expected {want}")
        want_l = by_loss[method][0 if which == "best" else 1]
        check((None if lr_loss == "-" else float(lr_loss)) == want_l, f"{key} {method} {which}: lr by loss {lr_loss}, expected {want_l}")
        seen.add((method, which))
        rs = G[method][want]
        for cell, vals, what in [(tacc, [final_test(r) for r in rs], "test acc"),
                                 (vacc, [best_val(r) for r in rs], "best val acc")]:
            got = parse_summary(cell)
            exp = expect_summary(vals)
            check(got is not None and all(abs(a - b) <= 6e-5 for a, b in zip(got, exp)),
                  f"{key} {method} {which} {what}: {cell} vs {exp}")
            n_checked += 4
    check(seen == {(mm, w) for mm in G for w in ("best", "worst")}, f"{key}: best/worst rows {seen}")
    # RED
    reds = rows_of(sec, "| CG-ALR | baseline |")
    pairs = [(a, b) for a in G if a.startswith("cgalr") for b in G if not b.startswith("cgalr")]
    check(len(reds) == len(pairs), f"{key}: {len(reds)} RED rows, expected {len(pairs)}")
    for row in reds:
        a, b, la, lb, n, red_mean_err, red_paired, ci = row
        ra = {r["cfg"]["seed"]: final_test(r) for r in G[a][best[a]]}
        rb = {r["cfg"]["seed"]: final_test(r) for r in G[b][best[b]]}
        per, ea_l, eb_l = [], [], []
        for s in sorted(set(ra) & set(rb)):
            if math.isnan(ra[s]) or math.isnan(rb[s]) or rb[s] == 1.0:
                continue
            ea, eb = 1 - ra[s], 1 - rb[s]
            per.append((ea - eb) / eb)
            ea_l.append(ea)
            eb_l.append(eb)
        check(int(n) == len(per), f"{key} {a} vs {b}: paired n {n} vs {len(per)}")
        if not per:
            check(red_paired == "n/a", f"{key} {a} vs {b}: expected n/a")
            continue
        exp_me = (sum(ea_l) - sum(eb_l)) / sum(eb_l)
        check(abs(float(red_mean_err) - exp_me) <= 6e-5, f"{key} {a} vs {b}: RED of means {red_mean_err} vs {exp_me}")
        mean = float(np.mean(per))
        check(abs(float(red_paired) - mean) <= 6e-5, f"{key} {a} vs {b}: paired RED {red_paired} vs {mean}")
        if len(per) >= 2:
            half = stats.t.ppf(0.975, len(per) - 1) * np.std(per, ddof=1) / math.sqrt(len(per))
            mm = re.match(r"\[([-\d.]+), ([-\d.]+)\]", ci)
            check(mm and abs(float(mm.group(1)) - (mean - half)) <= 6e-5 and abs(float(mm.group(2)) - (mean + half)) <= 6e-5,
                  f"{key} {a} vs {b}: CI {ci} vs {mean - half}, {mean + half}")
        else:
            check(ci == "n/a", f"{key} {a} vs {b}: CI for n=1 should be n/a, got {ci}")
        n_checked += 4
    # time per epoch
    trows = rows_of(sec, "| method | runs | epochs |")
    check(len(trows) == len(G), f"{key}: {len(trows)} timing rows, expected {len(G)}")
    for row in trows:
        method, nr, ne, mean_s, share = row
        lines = [x for rs in G[method].values() for r in rs for x in r["recs"]]
        check(int(nr) == sum(len(rs) for rs in G[method].values()), f"{key} {method}: timing run count")
        check(int(ne) == len(lines), f"{key} {method}: timing epoch count {ne} vs {len(lines)}")
        exp = float(np.mean([x["seconds"] for x in lines]))
        check(abs(float(mean_s) - exp) <= 5e-4 * exp, f"{key} {method}: mean epoch seconds {mean_s} vs {exp}")
        cl = [x for x in lines if x.get("ctrl_seconds") is not None]
        if cl:
            exp = 100 * sum(x["ctrl_seconds"] for x in cl) / sum(x["seconds"] for x in cl)
            check(abs(float(share.rstrip("%")) - exp) <= 0.006, f"{key} {method}: controller share {share} vs {exp}")
        else:
            check(share == "-", f"{key} {method}: controller share should be '-', got {share}")
        n_checked += 2
check(n_checked > 100, f"only {n_checked} numbers checked")
check("unfinished: 2 of 4 epochs" in md, "unfinished run not listed")
check("different numbers of epochs" not in md, "false warning about mixed run lengths")
check("not a JSON object" in md, "corrupt run not listed with its reason")


# ---- figures ----------------------------------------------------------------------------
def png_ok(path):
    b = open(path, "rb").read()
    if b[:8] != b"\x89PNG\r\n\x1a\n" or b[12:16] != b"IHDR":
        return False
    w, h = struct.unpack(">II", b[16:24])
    return w > 0 and h > 0 and b[-8:-4] == b"IEND"


figs = re.findall(r"!\[[^\]]*\]\(figures/([^)]+)\.png\)", md)
check(len(figs) == 2 * 3 + 2, f"{len(figs)} figures, expected 8 (lr, train, val per dataset + 2 controller)")
for name in figs:
    base = os.path.join(GRID, "figures", name)
    for ext in (".gp", ".dat", ".png", ".svg"):
        check(os.path.isfile(base + ext), f"missing {name}{ext}")
    if os.path.isfile(base + ".png"):
        check(png_ok(base + ".png"), f"{name}.png is not a valid PNG")
    if os.path.isfile(base + ".svg"):
        try:
            root = ET.parse(base + ".svg").getroot()
            check(root.tag.endswith("svg"), f"{name}.svg root is {root.tag}")
        except ET.ParseError as e:
            check(False, f"{name}.svg does not parse: {e}")
# the lr figure's data: per-epoch mean over seeds of the best cell of the first method
dat = open(os.path.join(GRID, "figures", "mutag_gin_lr.dat")).read().split("\n\n\n")[0]
rows = [list(map(float, ln.split())) for ln in dat.splitlines() if ln and not ln.startswith("#")]
rs = groups[("mutag", "gin")]["constant"][best_c] if (best_c := None) else None
cells = groups[("mutag", "gin")]["constant"]
means = {lr: float(np.mean([final_val_loss(r) for r in v])) for lr, v in cells.items()}
accs = {lr: float(np.mean([final_val_acc(r) for r in v])) for lr, v in cells.items()}
b = sorted(sorted(means), key=lambda x: (-accs[x], means[x]))[0]
for row in rows:
    e = int(row[0])
    vals = [r["recs"][e - 1]["lr"] for r in cells[b] if len(r["recs"]) >= e]
    check(abs(row[1] - np.mean(vals)) <= 1e-9 * max(1, abs(row[1])), f"lr.dat epoch {e}: {row[1]} vs {np.mean(vals)}")

# mixed run lengths in one dataset are pointed out
mixed = os.path.join(TMP, "mixed")
write_run(mixed, "mutag", "gin", "constant", 0.1, 0, 2)
write_run(mixed, "mutag", "gin", "constant", 0.1, 1, 3)
p = subprocess.run([BIN, "report", mixed, "--no-figures"], capture_output=True, text=True)
check(p.returncode == 0 and "different numbers of epochs (2 to 3)" in open(os.path.join(mixed, "report.md")).read(),
      f"mixed run lengths: {p.returncode} {p.stderr}")

# ---- bad input --------------------------------------------------------------------------
empty = os.path.join(TMP, "empty")
os.makedirs(empty)
p = subprocess.run([BIN, "report", empty], capture_output=True, text=True)
check(p.returncode == 2 and "no run directories" in p.stderr, f"empty dir: {p.returncode} {p.stderr}")
p = subprocess.run([BIN, "report", os.path.join(TMP, "does-not-exist")], capture_output=True, text=True)
check(p.returncode != 0 and "not a directory" in p.stderr, f"missing dir: {p.returncode} {p.stderr}")
p = subprocess.run([BIN, "report"], capture_output=True, text=True)
check(p.returncode == 2, f"no argument: {p.returncode}")
dup = os.path.join(TMP, "dup")
write_run(dup, "mutag", "gin", "constant", 0.1, 0, 2)
d2 = write_run(os.path.join(dup, "copy"), "mutag", "gin", "constant", 0.1, 0, 2)
p = subprocess.run([BIN, "report", dup], capture_output=True, text=True)
check(p.returncode == 2 and "same run" in p.stderr, f"duplicate runs: {p.returncode} {p.stderr}")
# gnuplot missing: the tables are still written, the exit status says figures failed
shutil.rmtree(os.path.join(dup, "copy"))
p = subprocess.run([BIN, "report", dup, "--gnuplot", "/nonexistent/gnuplot"], capture_output=True, text=True)
check(p.returncode == 1 and os.path.isfile(os.path.join(dup, "report.md")), f"no gnuplot: {p.returncode} {p.stderr}")
check("not all rendered" in open(os.path.join(dup, "report.md")).read(), "report.md should say figures failed")

# runs whose distance stopped moving: CG-ALR, not diverged, d = 0 at every step of the last 10
# epochs or more; listed with the epoch from which d stays 0
still = os.path.join(TMP, "still")
def set_d(run_dir, d_of_epoch):
    mp = os.path.join(run_dir, "metrics.jsonl")
    out = []
    for line in open(mp):
        o = json.loads(line)
        if "epoch" in o and "d" in o and not o.get("diverged"):
            o["d"] = d_of_epoch(o["epoch"])
        out.append(json.dumps(o))
    open(mp, "w").write("\n".join(out) + "\n")
set_d(write_run(still, "mutag", "gin", "cgalr-top", 0.1, 0, 14), lambda e: 0.0 if e >= 5 else 0.3)  # 10 still epochs
set_d(write_run(still, "mutag", "gin", "cgalr-top", 0.1, 1, 14), lambda e: 0.0 if e >= 6 else 0.3)  # 9: not listed
set_d(write_run(still, "mutag", "gin", "cgalr-top", 0.1, 2, 14, diverge_at=13), lambda e: 0.0)  # diverged: not listed
set_d(write_run(still, "mutag", "gin", "cgalr-swk", 0.01, 0, 14), lambda e: 0.0 if e != 14 else 1e-9)  # moved last
write_run(still, "mutag", "gin", "constant", 0.1, 0, 14)
p = subprocess.run([BIN, "report", still, "--no-figures"], capture_output=True, text=True)
smd = open(os.path.join(still, "report.md")).read() if p.returncode == 0 else ""
rows = re.findall(r"^\| (mutag-gin/[^ ]+) \| (\d+) \| (\d+) \| [0-9.]+ \|$", smd, re.M)
check(p.returncode == 0 and "1 run did not diverge" in smd and rows == [("mutag-gin/cgalr-top_lr0.1_s0", "5", "14")],
      f"still runs: {p.returncode} {p.stderr} {rows} {smd[-600:]!r}")
p = subprocess.run([BIN, "report", GRID, "--no-figures"], capture_output=True, text=True)
check("distance stopped moving" not in open(os.path.join(GRID, "report.md")).read(), "a grid without still runs lists some")

# the compute kernels the runs recorded in summary.json: counted per kernel pair in the order first
# met, runs without them counted apart, a malformed entry treated as not recorded; nothing at all
# when no run recorded them (the committed grids' reports stay as they are)
kern = os.path.join(TMP, "kernels")
def set_kernels(run_dir, kernels):
    with open(os.path.join(run_dir, "summary.json"), "w") as f:
        json.dump({"finished": True, "diverged": False, **({"kernels": kernels} if kernels is not None else {})}, f)
for seed, k in enumerate([{"blas": "Zen", "engine": "avx512"}, {"blas": "Haswell", "engine": "avx2"},
                          {"blas": "Zen", "engine": "avx512"}, None, {"blas": 7, "engine": "avx2"}]):
    d = write_run(kern, "mutag", "gin", "constant", 0.1, seed, 6)
    if k is not None or seed == 3:
        set_kernels(d, k)
p = subprocess.run([BIN, "report", kern, "--no-figures"], capture_output=True, text=True)
kmd = open(os.path.join(kern, "report.md")).read() if p.returncode == 0 else ""
want = ("Compute kernels (summary.json; OpenBLAS core / engine instruction set): Zen/avx512 for 2 runs; "
        "Haswell/avx2 for 1 run; not recorded for 2 runs.")
check(want in kmd and kmd.count("Compute kernels") == 1, f"kernels line: {p.returncode} {p.stderr} {kmd[:900]!r}")
check("Compute kernels" not in open(os.path.join(GRID, "report.md")).read(), "a grid without recorded kernels lists some")

if failures:
    print("\n".join(failures))
    sys.exit(1)
print(f"ok: {n_checked} numbers recomputed, {len(figs)} figures valid")
