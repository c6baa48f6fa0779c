"""Rips persistence (dims 0 and 1) of cgalr against the Debian `ripser` command and GUDHI, on
random point clouds, random symmetric matrices, correlation distances and tie-heavy matrices."""
import os
import subprocess
import sys

import numpy as np

TOOLS = os.environ.get("CGALR_TOOLS", "build/tests")
TMP = os.environ.get("CGALR_TMP", "/tmp/cgalr_test_topo_rips_oracle")
SAN = os.environ.get("CGALR_SANITIZED", "0") == "1"
TOOL = os.path.join(TOOLS, "tool_topo_rips")
os.makedirs(TMP, exist_ok=True)
failures = []


def write(d, name):
    path = os.path.join(TMP, name)
    np.savetxt(path, d, fmt="%.17g")
    return path


def cgalr(path, dim=1, threshold=None):
    cmd = [TOOL, "--dim", str(dim), path]
    if threshold is not None:
        cmd[1:1] = ["--threshold", repr(threshold)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    dg = {0: [], 1: []}
    for line in out.splitlines():
        k, b, e = line.split()
        dg[int(k)].append((float(b), float(e)))
    return dg


def ripser(path, threshold):
    out = subprocess.run(["ripser", "--format", "distance", "--dim", "1", "--threshold", repr(threshold), path],
                         check=True, capture_output=True, text=True).stdout
    dg, cur = {0: [], 1: []}, None
    for line in out.splitlines():
        line = line.strip()
        if line.startswith("persistence intervals in dim"):
            cur = int(line.split()[-1].rstrip(":"))
        elif line.startswith("[") and cur is not None:
            b, e = line.strip("[)").split(",")
            dg[cur].append((float(b), float(e) if e.strip() else float("inf")))
    return dg


def same(a, b, rtol, what):
    """Multisets equal within rtol: each pair of a matched greedily to a close unmatched pair of b
    (ripser prints 6 significant digits, so near-equal pairs may sort in another order)."""
    a, b = sorted(a), sorted(b)
    if len(a) != len(b):
        failures.append(f"{what}: {len(a)} pairs vs {len(b)}: {a[:6]} vs {b[:6]}")
        return

    def close(x, y):
        if np.isinf(x) or np.isinf(y):
            return x == y
        return abs(x - y) <= rtol * max(1.0, abs(x), abs(y))

    used = [False] * len(b)
    for x0, x1 in a:
        hit = next((i for i, (y0, y1) in enumerate(b) if not used[i] and close(x0, y0) and close(x1, y1)), None)
        if hit is None:
            failures.append(f"{what}: pair ({x0!r}, {x1!r}) has no match in the reference")
            return
        used[hit] = True


def drop_short(dg, scale, rtol):
    """ripser's single precision may merge or split pairs whose persistence is at rounding level."""
    return [(b, e) for b, e in dg if not (e - b <= 4 * rtol * max(1.0, scale))]


def check_ripser(d, name, threshold=None):
    path = write(d, name + ".txt")
    mine = cgalr(path, 1, threshold)
    ref = ripser(path, threshold if threshold is not None else 10 * (d.max() + 1))
    scale = float(d.max()) if d.size else 1.0
    rtol = 1e-5  # ripser: single precision, printed with 6 digits
    for k in (0, 1):
        same(drop_short(mine[k], scale, rtol), drop_short(ref[k], scale, rtol), rtol,
             f"{name} dim {k} vs ripser")
    return mine


def check_gudhi(d, name):
    import gudhi
    path = write(d, name + ".txt")
    mine = cgalr(path, 1)
    rc = gudhi.RipsComplex(distance_matrix=d, max_edge_length=10 * (d.max() + 1))
    st = rc.create_simplex_tree(max_dimension=2)
    st.compute_persistence(homology_coeff_field=2, min_persistence=0)
    for k in (0, 1):
        ref = [(b, e) for b, e in st.persistence_intervals_in_dimension(k) if e > b]
        same(mine[k], ref, 1e-12, f"{name} dim {k} vs gudhi")


def corr_dist(rng, n, p, blocks=1):
    act = rng.standard_normal((n, p))
    if blocks > 1:
        z = rng.standard_normal((n, blocks))
        act += 1.5 * z[:, rng.integers(0, blocks, p)]
    m = np.abs(np.corrcoef(act, rowvar=False))
    np.fill_diagonal(m, 1.0)
    d = np.sqrt(np.clip(1.0 - m, 0.0, None))
    np.fill_diagonal(d, 0.0)
    return d


def main():
    rng = np.random.default_rng(20261125)
    big = 60 if SAN else 150
    cases = []
    for p in (2, 3, 4, 5, 8, 17, 40, big):
        x = rng.standard_normal((p, 3))
        cases.append((f"cloud{p}", np.sqrt(((x[:, None, :] - x[None, :, :]) ** 2).sum(-1))))
    for p in (6, 30, 90 if not SAN else 40):
        a = rng.random((p, p))
        d = np.triu(a, 1)
        cases.append((f"random{p}", d + d.T))
    for p in (20, 64, 128 if not SAN else 48):
        cases.append((f"corr{p}", corr_dist(rng, 256, p)))
    cases.append(("corrblocks50", corr_dist(rng, 128, 50, blocks=4)))
    cases.append(("corr150", corr_dist(rng, 1024, 150 if not SAN else 50)))
    for p, levels in ((12, 2), (40, 3), (100 if not SAN else 40, 5)):
        a = rng.integers(1, levels + 1, (p, p)).astype(float)
        d = np.triu(a, 1)
        cases.append((f"ints{p}_{levels}", d + d.T))
    # Duplicate points (zero distances) and a circle (one long H1 class).
    x = rng.standard_normal((10, 2))
    x = np.vstack([x, x[:4]])
    cases.append(("dups", np.sqrt(((x[:, None, :] - x[None, :, :]) ** 2).sum(-1))))
    t = np.linspace(0, 2 * np.pi, 24, endpoint=False)
    x = np.stack([np.cos(t), np.sin(t)], 1)
    cases.append(("circle", np.sqrt(((x[:, None, :] - x[None, :, :]) ** 2).sum(-1))))

    for name, d in cases:
        check_ripser(d, name)
    # Thresholds: essential classes in dim 0 and dim 1.
    check_ripser(cases[6][1], "cloud40_thr", threshold=float(np.median(cases[6][1])) * 0.6)
    circ = cases[-1][1]
    check_ripser(circ, "circle_thr", threshold=float(np.sort(circ[0])[2]) * 1.01)
    # A different, double-precision oracle (exact comparison) on a few, ties included.
    exact = ("cloud17", "random30", "corr20", "corr64", "corrblocks50", "ints40_3", "ints100_5", "circle", "dups")
    for name, d in cases:
        if name in exact:
            check_gudhi(d, name)
    # -0.0 entries are zeros.
    d = dict(cases)["dups"].copy()
    d[d == 0] = -0.0
    same(cgalr(write(d, "negzero.txt"))[1], cgalr(write(dict(cases)["dups"], "poszero.txt"))[1], 0, "-0.0 vs 0")
    # Bad matrices: a clear message and exit code 2 from the library's validation.
    for name, d, needle in (("asym", np.array([[0, 1, 2], [1, 0, 3], [2, 3.5, 0]]), "symmetric"),
                            ("neg", np.array([[0, -1], [-1, 0]]), ">= 0"),
                            ("nan", np.array([[0, np.nan], [np.nan, 0]]), "finite")):
        res = subprocess.run([TOOL, write(d, name + ".txt")], capture_output=True, text=True)
        if res.returncode != 2 or needle not in res.stderr:
            failures.append(f"{name}: rc {res.returncode}, stderr {res.stderr!r}: expected 2 and '{needle}'")
    # Sanity that the cases are not trivial: the correlation case has H1 classes.
    for name in ("corr128", "corr48", "ints100_5", "ints40_5"):
        if name in dict(cases):
            n1 = len(cgalr(write(dict(cases)[name], "c.txt"))[1])
            if n1 < 3:
                failures.append(f"{name}: only {n1} H1 pairs, the test is too weak")

    if failures:
        for f in failures:
            print("FAIL", f)
        sys.exit(1)
    print(f"ok: {len(cases) + 2} matrices vs ripser, {len(exact)} vs gudhi")


main()
