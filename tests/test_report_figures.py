"""`cgalr report` figures, checked by reading the gnuplot scripts and data files it writes: every
method of the tool's list (and a name it does not know) has one (colour, dash) pair of its own,
the same in every report; CG-ALR colours are not used by any baseline; a diverged run gets a
cross at its last finite point and "(diverged k/n)" in the legend; the controller figure has the
run's tau_enter / tau_exit, one x range and fixed margins for its panels, and the warm-up shaded.
Then the logging side: a short real cgalr-top run writes z as null in its warm-up epochs, and the
report loads it (and an older file whose warm-up z is a number)."""
import glob
import json
import os
import re
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from runlib import check, finish, run, scratch  # noqa: E402

TMP = scratch("/tmp/cgalr-test-report-figures")
E = 6
CGALR = {"cgalr-top", "cgalr-wd", "cgalr-swk"}
PARAM_FREE = {"dog", "prodigy", "dadapt-sgd", "dadapt-adam"}

# the methods as the tool lists them, so a method added later is checked too
p = run("train", "--help")
m = re.search(r"^\s+--sched S +(\S.+)$", p.stdout + p.stderr, re.M)
METHODS = [x.strip() for x in m.group(1).split(",")] if m else []
check(len(METHODS) >= 16 and CGALR <= set(METHODS), f"method list from train --help: {METHODS}")
UNKNOWN = "zz-future"


def run_dir(root, method, lr, seed, epochs=E, diverge_at=None, opts=None, z_warm=None):
    """A run directory with made-up but well-formed metrics; returns its epoch records."""
    d = os.path.join(root, f"{method}_lr{lr}_s{seed}")
    os.makedirs(d)
    cfg = {"data": "mutag", "model": "gin", "sched": method, "lr": lr, "epochs": epochs, "batch": 8, "seed": seed}
    if opts is not None:
        cfg["sched_opts"] = opts
    json.dump(cfg, open(os.path.join(d, "config.json"), "w"))
    recs, last = [], epochs if diverge_at is None else diverge_at - 1
    for e in range(1, last + 1):
        k = (sum(map(ord, method)) % 7 + 1) * (seed + 1)
        r = {"epoch": e, "lr": lr * 0.9 ** e * (1 + 0.01 * k), "train_loss": 2.0 / e + 0.01 * k,
             "train_acc": 0.6, "val_loss": 2.5 / e + 0.013 * k, "val_acc": 0.6, "test_acc": 0.6, "seconds": 0.1}
        if method in CGALR:
            warm = e <= 3
            r.update({"d": 1.0 / e, "median": None if e == 1 else 0.5, "mad": None if e == 1 else 0.1,
                      "z": (z_warm if warm else 0.3 * (e - 4)), "state": "hold", "rho": 1.0})
        recs.append(r)
    lines = [json.dumps(r) for r in recs]
    if diverge_at is not None:
        lines.append(json.dumps({"diverged": True, "epoch": diverge_at, "reason": "non-finite loss"}))
    open(os.path.join(d, "metrics.jsonl"), "w").write("\n".join(lines) + "\n")
    return recs


def report(root):
    p = run("report", root)
    check(p.returncode == 0, f"report {root}: exit {p.returncode}: {p.stderr}")
    return os.path.join(root, "figures")


def script(path):
    """The PNG half of a figure script (the SVG half repeats it)."""
    text = open(path).read()
    return text.split("set terminal svg")[0]


CLAUSE = re.compile(r'"[^"]+\.dat" index (\d+) using \S+ with (.*?) ([lf]c) rgb "(#[0-9a-f]{6})"(.*?)'
                    r'(?: title "([^"]*)"| notitle)')


def clauses(gp):
    out = []
    for mm in CLAUSE.finditer(gp):
        dt = re.search(r"dt (\d+)", mm.group(5))
        out.append(dict(block=int(mm.group(1)), how=mm.group(2), colour=mm.group(4),
                        dash=int(dt.group(1)) if dt else None, title=mm.group(6)))
    return out


def blocks(dat_path):
    text = open(dat_path).read()
    out = []
    for b in text.split("\n\n\n"):
        rows = [ln.split() for ln in b.splitlines() if ln and not ln.startswith("#")]
        if rows:
            out.append(rows)
    return out


def styles(figdir):
    """method -> set of (colour, dash) over its curves in the lr and loss figures, and every colour
    each method uses (curves, bands, crosses)."""
    pairs, colours = {}, {}
    for f in sorted(glob.glob(os.path.join(figdir, "*_lr.gp")) + glob.glob(os.path.join(figdir, "*_loss.gp"))):
        cl = clauses(script(f))
        check(cl, f"{f}: no plot clauses parsed")
        # a band or a cross has no title: it belongs to the titled curve that owns its colour
        owner = {c["colour"]: c["title"].split()[0] for c in cl if c["title"]}
        for c in cl:
            method = c["title"].split()[0] if c["title"] else owner.get(c["colour"])
            check(method is not None, f"{f}: untitled clause {c} with a colour no curve has")
            colours.setdefault(method, set()).add(c["colour"])
            if c["title"]:
                pairs.setdefault(method, set()).add((c["colour"], c["dash"]))
    return pairs, colours


# ---- a grid with every method ----------------------------------------------------------
G1 = os.path.join(TMP, "all")
recs = {}
for method in METHODS + [UNKNOWN]:
    lrs = [0.01] if method in PARAM_FREE else ([0.1, 0.01] if method in ("constant", "cgalr-top") else [0.05])
    for lr in lrs:
        for seed in (0, 1):
            div = None
            if method == "constant" and lr == 0.1 and seed == 1:
                div = 3            # worst cell of constant: cross at epoch 2 in the loss figures
            if method == "sf-sgd" and seed == 0:
                div = 5            # its only cell: a cross in the lr figure too, at epoch 4
            if method == "cgalr-wd" and seed == 1:
                div = 1            # no finite point: counted in the legend, no cross
            opts = {"cgalr-top": "tau_enter=1.7,tau_exit=0.4", "cgalr-wd": "tau_exit=0.1"}.get(method)
            recs[(method, lr, seed)] = run_dir(G1, method, lr, seed, diverge_at=div, opts=opts)
fig1 = report(G1)
pairs, colours = styles(fig1)
for method in METHODS + [UNKNOWN]:
    check(len(pairs.get(method, ())) == 1, f"{method}: curve styles {pairs.get(method)} (expected exactly one)")
one = {mm: next(iter(s)) for mm, s in pairs.items() if len(s) == 1}
seen = {}
for mm, pr in sorted(one.items()):
    check(pr[1] is not None, f"{mm}: no dash type in its curves")
    check(pr not in seen, f"{mm} and {seen.get(pr)} share colour+dash {pr}")
    seen[pr] = mm
cg_colours = {c for mm in CGALR for c in colours.get(mm, ())}
for mm, cs in colours.items():
    if mm not in CGALR:
        check(not (cs & cg_colours), f"baseline {mm} uses a CG-ALR colour: {cs & cg_colours}")
check(len({one[mm][0] for mm in CGALR if mm in one}) == 3, f"CG-ALR variants share a colour: {[one.get(x) for x in CGALR]}")

# stable across reports: another grid, other methods, other order of appearance
G2 = os.path.join(TMP, "subset")
for method in ["sf-adamw", UNKNOWN, "cgalr-swk", "cosine"]:
    run_dir(G2, method, 0.05, 0)
pairs2, _ = styles(report(G2))
for mm, s in sorted(pairs2.items()):
    check(s == pairs.get(mm), f"{mm}: style {s} in one report, {pairs.get(mm)} in another")
check(len(pairs2) == 4, f"subset report: methods {sorted(pairs2)}")

# diverged runs: legend count and a cross at the last finite point
for fig, which, field in [("mutag_gin_val_loss", "(worst)", "val_loss"), ("mutag_gin_train_loss", "(worst)", "train_loss")]:
    cl = clauses(script(os.path.join(fig1, fig + ".gp")))
    bl = blocks(os.path.join(fig1, fig + ".dat"))
    t = [c for c in cl if c["title"] and c["title"].startswith("constant lr=0.1 ")]
    check(len(t) == 1 and "(diverged 1/2)" in t[0]["title"], f"{fig}: constant lr=0.1 title {t}")
    crosses = [c for c in cl if c["how"].startswith("points pt 2") and c["colour"] == one.get("constant", ("",))[0]]
    check(len(crosses) == 1, f"{fig}: constant's crosses {crosses}")
    if crosses and crosses[0]["block"] < len(bl):
        want = [[2, recs[("constant", 0.1, 1)][1][field], 1]]
        got = [[int(r[0]), float(r[1]), int(r[2])] for r in bl[crosses[0]["block"]]]
        check(len(got) == 1 and got[0][0] == 2 and abs(got[0][1] - want[0][1]) < 1e-9 and got[0][2] == 1,
              f"{fig}: cross at {got}, expected {want}")
    wd = [c for c in cl if c["title"] and c["title"].startswith("cgalr-wd")]
    check(wd and all("(diverged 1/2)" in c["title"] for c in wd), f"{fig}: cgalr-wd titles {wd}")
    check(not [c for c in cl if c["how"].startswith("points pt 2") and c["colour"] == one.get("cgalr-wd", ("",))[0]],
          f"{fig}: cgalr-wd diverged in epoch 1 and has no finite point to cross")
    fine = [c for c in cl if c["title"] and c["title"].startswith("cosine")]
    check(fine and all("diverged" not in c["title"] for c in fine), f"{fig}: cosine never diverged: {fine}")
cl = clauses(script(os.path.join(fig1, "mutag_gin_lr.gp")))
bl = blocks(os.path.join(fig1, "mutag_gin_lr.dat"))
sf = [c for c in cl if c["how"].startswith("points pt 2") and c["colour"] == one.get("sf-sgd", ("",))[0]]
check(len(sf) == 1 and [c for c in cl if c["title"] and c["title"].startswith("sf-sgd") and "(diverged 1/2)" in c["title"]],
      f"lr figure: sf-sgd cross {sf}")
if len(sf) == 1:
    got = bl[sf[0]["block"]]
    check(len(got) == 1 and int(got[0][0]) == 4 and abs(float(got[0][1]) - recs[("sf-sgd", 0.05, 0)][3]["lr"]) < 1e-12,
          f"lr figure: sf-sgd cross at {got}")


# ---- the controller figures ------------------------------------------------------------
def controller(gp_path, tau_enter, tau_exit, warm):
    gp = script(gp_path)
    te = re.search(r"^tau_enter = (\S+)$", gp, re.M)
    tx = re.search(r"^tau_exit = (\S+)$", gp, re.M)
    check(te and float(te.group(1)) == tau_enter and tx and float(tx.group(1)) == tau_exit,
          f"{gp_path}: tau {te and te.group(1)}, {tx and tx.group(1)}, expected {tau_enter}, {tau_exit}")
    plots = [ln for ln in gp.split("\nplot ")[1:]]
    check(len(plots) == 4, f"{gp_path}: {len(plots)} panels")
    if len(plots) == 4:
        z = plots[1]
        for t in ("tau_enter with lines", "-tau_enter with lines", "tau_exit with lines", "-tau_exit with lines"):
            check(t in z, f"{gp_path}: z panel lacks {t}")
        check(all("tau_" not in p for i, p in enumerate(plots) if i != 1), f"{gp_path}: tau lines outside the z panel")
    head = gp.split("\nplot ")[0]
    # one x range and fixed margins, set before the first panel and never changed
    check(gp.count("set xrange") == 1 and re.search(r"set xrange \[1:%d\]" % E, head), f"{gp_path}: xrange")
    for side in ("lmargin", "rmargin"):
        check(gp.count(f"set {side}") == 1 and re.search(rf"set {side} at screen [\d.]+", head), f"{gp_path}: {side}")
    shaded = set()
    for a, b in re.findall(r"set object \d+ rect from first ([\d.]+), graph 0 to first ([\d.]+), graph 1", head):
        shaded |= {e for e in range(1, E + 1) if float(a) <= e <= float(b)}
    check(shaded == warm, f"{gp_path}: shaded epochs {sorted(shaded)}, expected {sorted(warm)}")


controller(os.path.join(fig1, "mutag_gin_cgalr-top_ctrl.gp"), 1.7, 0.4, {1, 2, 3})
controller(os.path.join(fig1, "mutag_gin_cgalr-wd_ctrl.gp"), 1.0, 0.1, {1, 2, 3})
controller(os.path.join(fig1, "mutag_gin_cgalr-swk_ctrl.gp"), 1.0, 0.25, {1, 2, 3})

# byte-deterministic: a second report writes the same files
before = {f: open(f, "rb").read() for f in glob.glob(os.path.join(fig1, "*.gp")) + glob.glob(os.path.join(fig1, "*.dat"))}
before["md"] = open(os.path.join(G1, "report.md"), "rb").read()
report(G1)
after = {f: open(f, "rb").read() for f in before if f != "md"}
after["md"] = open(os.path.join(G1, "report.md"), "rb").read()
check(before == after, f"second report differs: {[f for f in before if before[f] != after.get(f)]}")

# ---- logging: a real cgalr-top run's warm-up z is null, and the report reads it ---------
REAL = os.path.join(TMP, "real")
out = os.path.join(REAL, "top")
p = run("train", "--data", "mutag", "--model", "gin", "--epochs", "5", "--batch", "8", "--quiet", "--sched",
        "cgalr-top", "--lr", "0.01", "--seed", "3", "--sched-opt", "tau_enter=1.3", "--probe-mode", "pass", "--out", out)
# (pass: M_0 before the first step, so d from epoch 1; inline's first connectome is epoch 1's)
check(p.returncode == 0, f"train cgalr-top: exit {p.returncode}: {p.stderr}")
if p.returncode == 0:
    rows = [json.loads(ln) for ln in open(os.path.join(out, "metrics.jsonl"))]
    check([r["z"] is None for r in rows] == [True, True, True, False, False],
          f"z per epoch {[r['z'] for r in rows]}: null exactly in the warm-up (|H| < 3: epochs 1-3)")
    check(rows[0]["median"] is None and rows[0]["mad"] is None and all(r["median"] is not None for r in rows[1:]),
          f"median per epoch {[r['median'] for r in rows]}: null only before the first distance")
    check(all(isinstance(r["z"], float) and abs(r["z"]) < 1e6 for r in rows[3:]), f"z after warm-up {rows[3:]}")
    # an older file: warm-up z written as a number (a score of a 1-2 distance history)
    old = os.path.join(REAL, "old")
    run_dir(old, "cgalr-top", 0.01, 4, epochs=5, z_warm=-788014927.854184)
    p = run("report", REAL)
    md = open(os.path.join(REAL, "report.md")).read() if os.path.exists(os.path.join(REAL, "report.md")) else ""
    check(p.returncode == 0 and "2 complete runs" in md and "## Runs left out" not in md,
          f"report of a null-z run and an old sentinel run: {p.returncode} {p.stderr} {md[:200]}")
    gp = os.path.join(REAL, "figures", "mutag_gin_cgalr-top_ctrl.gp")
    if os.path.exists(gp):
        # warm-up shaded where any seed's z is undefined: the real run's epochs 1-3
        controller_text = script(gp)
        check("tau_enter = 1.3" in controller_text, "real run: tau_enter from config.json's sched_opts")
        bl = blocks(os.path.join(REAL, "figures", "mutag_gin_cgalr-top_ctrl.dat"))
        check(len(bl) == 2 and [r[2].lower() for r in bl[0][:3]] == ["nan"] * 3 and float(bl[1][1][2]) < -1e8,
              f"controller data: z of the real run NaN in warm-up, the old file's number kept: {bl}")
    else:
        check(False, "real run: no controller figure")
finish()
