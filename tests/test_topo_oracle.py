"""Oracle test of `cgalr topo`: connectome vs numpy.corrcoef (1e-12), barcode and TOP vs a
NumPy/SciPy evaluation (scipy minimum_spanning_tree, sort; 1e-9 relative), on random and
structured inputs (P from 2 to 200, ties, dead units, block structure, duplicated signals)."""
import os
import re
import shutil
import subprocess
import sys

import numpy as np
from scipy.sparse.csgraph import minimum_spanning_tree

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from topo_ref import ref_connectome  # noqa: E402

BIN = os.environ["CGALR_BIN"]
TMP = os.environ["CGALR_TMP"]
SAN = os.environ.get("CGALR_SANITIZED") == "1"
os.makedirs(TMP, exist_ok=True)
failures = []


def run(*args):
    r = subprocess.run([BIN, "topo", *args], capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"cgalr topo {' '.join(args)}: exit {r.returncode}: {r.stderr}")
    return r.stdout


def write(name, a, sep=","):
    path = os.path.join(TMP, name)
    with open(path, "w") as f:
        for row in np.atleast_2d(a):
            f.write(sep.join(repr(float(v)) for v in row) + "\n")
    return path


def check(cond, msg):
    if not cond:
        failures.append(msg)
        print("FAIL:", msg)


def ref_barcode(m):
    """Births: weights of scipy's minimum spanning tree of -M (read back from M so that no
    arithmetic touches them); deaths: every other upper-triangle weight. scipy treats a zero as a
    missing edge, so the MST runs on -(M + 1): a constant shift leaves the tree optimal."""
    p = m.shape[0]
    w = -(m + 1.0)
    np.fill_diagonal(w, 0.0)
    t = minimum_spanning_tree(w).tocoo()
    assert t.nnz == p - 1, (t.nnz, p)
    births = np.sort(m[t.row, t.col])
    tree = np.zeros((p, p), bool)
    tree[t.row, t.col] = True
    tree = tree | tree.T
    iu = np.triu_indices(p, 1)
    deaths = np.sort(m[iu][~tree[iu]])
    return births, deaths


def ref_top(m1, m2):
    b1, d1 = ref_barcode(m1)
    b2, d2 = ref_barcode(m2)
    return float(np.sum((b1 - b2) ** 2) + np.sum((d1 - d2) ** 2))


def parse_barcode(text):
    lines = text.split("\n")
    assert lines[0].startswith("births "), lines[0]
    nb = int(lines[0].split()[1])
    births = np.array([float(x) for x in lines[1:1 + nb]])
    assert lines[1 + nb].startswith("deaths "), lines[1 + nb]
    nd = int(lines[1 + nb].split()[1])
    deaths = np.array([float(x) for x in lines[2 + nb:2 + nb + nd]])
    return births, deaths


def rel_close(x, y, rtol):
    return abs(x - y) <= rtol * max(abs(x), abs(y)) + 1e-300


def make_cases(rng):
    cases = []
    for p in [2, 3, 5, 17, 64] + ([] if SAN else [200]):
        n = max(3, 2 * p + 7)
        cases.append((f"gauss p={p}", rng.standard_normal((n, p))))
    # latent-factor blocks: strong correlations inside blocks, weak across
    p, n = 60, 150
    f = rng.standard_normal((n, 4))
    a = f[:, np.arange(p) % 4] * 2.0 + rng.standard_normal((n, p))
    cases.append(("blocks p=60", a))
    # dead units (constant columns, one of them 0.1 whose mean is inexact) and a large offset
    a = rng.standard_normal((80, 30)) + 1e3
    a[:, 3] = 0.1
    a[:, 17] = -4.0
    cases.append(("dead units p=30", a))
    # ties: small integers make many equal correlations; duplicated and negated columns give 1
    a = rng.integers(0, 3, size=(12, 25)).astype(float)
    a[:, 5] = a[:, 4]
    a[:, 6] = -a[:, 4]
    a[:, 0] = 7.0  # and one dead unit
    cases.append(("ties p=25", a))
    # everything dead: the all-zero connectome
    cases.append(("all dead p=6", np.ones((5, 6))))
    return cases


def main():
    rng = np.random.default_rng(2026)
    cases = make_cases(rng)
    conns = {}
    for i, (name, a) in enumerate(cases):
        sep = "," if i % 2 == 0 else " \t"  # exercise both input formats
        path = write(f"act{i}.txt", a, sep)
        m = np.loadtxt(run("--connectome", path).splitlines(), delimiter=",", ndmin=2)
        ref = ref_connectome(a)
        err = float(np.max(np.abs(m - ref)))
        check(m.shape == ref.shape and err <= 1e-12, f"{name}: connectome max error {err:.3g}")
        check(np.array_equal(m, m.T) and np.all(np.diag(m) == 0), f"{name}: not symmetric/zero diagonal")
        mpath = write(f"m{i}.csv", m)
        conns[name] = (a, m, path, mpath)
        if a.shape[1] < 2:
            continue
        births, deaths = parse_barcode(run("--barcode", mpath))
        rb, rd = ref_barcode(m)
        check(len(births) == len(rb) and len(deaths) == len(rd), f"{name}: barcode sizes")
        if len(births) == len(rb) and len(deaths) == len(rd):
            eb = float(np.max(np.abs(births - rb))) if len(rb) else 0.0
            ed = float(np.max(np.abs(deaths - rd))) if len(rd) else 0.0
            check(eb == 0.0 and ed == 0.0, f"{name}: barcode differs from scipy by {eb:.3g} / {ed:.3g}")

    # TOP between pairs of the same P, from connectomes and from activations
    by_p = {}
    for name, (a, m, path, mpath) in conns.items():
        by_p.setdefault(m.shape[0], []).append((name, a, m, path, mpath))
    extra = []
    for p in [2, 5, 17, 64, 25] + ([] if SAN else [200]):
        n = 3 * p
        a = rng.standard_normal((n, p)) + (rng.standard_normal((n, 1)) if p != 25 else 0)
        m = ref_connectome(a)
        extra.append((p, ("extra", a, m, write(f"xa{p}.csv", a), write(f"xm{p}.csv", m))))
    for p, item in extra:
        by_p.setdefault(p, []).append(item)
    npairs = 0
    for p, items in by_p.items():
        for (n1, a1, m1, ap1, mp1), (n2, a2, m2, ap2, mp2) in zip(items, items[1:]):
            want = ref_top(m1, m2)
            got = float(run("--distance", "top", mp1, mp2))
            check(rel_close(got, want, 1e-9), f"TOP {n1} vs {n2}: {got!r} vs scipy {want!r}")
            got_a = float(run("--distance", "top", ap1, ap2, "--activations"))
            want_a = ref_top(ref_connectome(a1), ref_connectome(a2))
            check(rel_close(got_a, want_a, 1e-9), f"TOP from activations {n1} vs {n2}: {got_a!r} vs {want_a!r}")
            npairs += 1
    check(npairs >= 3, f"only {npairs} TOP pairs compared")

    # properties through the tool: TOP(M, M) = 0 and invariance under relabelling the nodes
    a, m, path, mpath = conns["blocks p=60"]
    check(float(run("--distance", "top", mpath, mpath)) == 0.0, "TOP(M, M) != 0")
    perm = rng.permutation(m.shape[0])
    ppath = write("perm.csv", m[np.ix_(perm, perm)])
    check(float(run("--distance", "top", mpath, ppath)) == 0.0, "TOP not invariant under relabelling")

    # --diagram is a thin front end over the Rips layer (tested in depth by its own oracle test):
    # check the plumbing (file reading, --dim, --from-connectome, output format) against ripser
    ndgm = 0
    if shutil.which("ripser"):
        pts = rng.standard_normal((25, 3))
        dist = np.sqrt(((pts[:, None] - pts[None]) ** 2).sum(-1))
        dpath = write("dist.csv", dist)
        _, m, _, mpath = conns["blocks p=60"]
        cdist = np.sqrt(np.maximum(1.0 - m, 0.0))
        cpath = write("cdist.csv", cdist)
        for label, args, ref_path, dim in (("points dim 1", [dpath], dpath, 1),
                                           ("points dim 0", [dpath, "--dim", "0"], dpath, 0),
                                           ("connectome dim 1", [mpath, "--from-connectome"], cpath, 1)):
            got = sorted(tuple(float(v) for v in line.split())
                         for line in run("--diagram", *args).splitlines() if line.strip())
            text = subprocess.run(["ripser", "--format", "distance", "--dim", "1", "--threshold", "1e6",
                                   ref_path], capture_output=True, text=True, check=True).stdout
            section = text.split(f"persistence intervals in dim {dim}:")[1].split("persistence intervals")[0]
            want = sorted((float(b), float(d) if d.strip() else float("inf"))
                          for b, d in re.findall(r"\[([^,]+),([^)]*)\)", section))
            want = [w for w in want if w[1] > w[0]]
            ok = len(got) == len(want) and all(
                abs(g[0] - w[0]) <= 1e-5 * max(1.0, abs(w[0])) and
                (g[1] == w[1] or abs(g[1] - w[1]) <= 1e-5 * max(1.0, abs(w[1]))) for g, w in zip(got, want))
            check(ok, f"--diagram {label}: {len(got)} pairs vs ripser's {len(want)}: {got[:4]} vs {want[:4]}")
            ndgm += 1

    if failures:
        print(f"{len(failures)} failure(s)")
        sys.exit(1)
    print(f"ok: {len(cases)} connectomes and barcodes, {npairs} TOP pairs, {ndgm} diagrams checked")


main()
