"""Oracle test for the diagram distances: cgalr's exact W1 against GUDHI/POT
(gudhi.wasserstein.wasserstein_distance, order=1, internal_p=2) and its sliced Wasserstein against
a direct NumPy evaluation of the definition and GUDHI's own _sliced_wasserstein_distance."""
import ast
import math
import os
import subprocess
import sys

import numpy as np
import gudhi.wasserstein

TOOLS = os.environ.get("CGALR_TOOLS", "build/tests")
TMP = os.environ.get("CGALR_TMP", "/tmp/cgalr-test-wasserstein")
SANITIZED = os.environ.get("CGALR_SANITIZED", "0") == "1"
TOOL = os.path.join(TOOLS, "tool_topo_dgm")
os.makedirs(TMP, exist_ok=True)
failures = []


def write(path, d):
    with open(path, "w") as f:
        for b, e in d:
            f.write("%r %r\n" % (float(b), float(e)))


def run_tool(a, b, *opts, expect_rc=0):
    pa, pb = os.path.join(TMP, "a.txt"), os.path.join(TMP, "b.txt")
    write(pa, a)
    write(pb, b)
    r = subprocess.run([TOOL, *opts, pa, pb], capture_output=True, text=True)
    if r.returncode != expect_rc:
        raise AssertionError("tool rc %d (expected %d): %s %s" % (r.returncode, expect_rc, r.stdout, r.stderr))
    out = {}
    for line in r.stdout.split("\n"):
        if line.strip():
            k, v = line.split()
            out[k] = float(v)
    return out, r.stderr


def sw_numpy(a, b, m):
    """The definition (METHOD.md section 3), written directly: augment, project, sort, L1, mean."""
    a = np.asarray(a, dtype=float).reshape(-1, 2)
    b = np.asarray(b, dtype=float).reshape(-1, 2)
    mid_a = (a[:, 0] + a[:, 1]) / 2
    mid_b = (b[:, 0] + b[:, 1]) / 2
    aug_a = np.concatenate([a, np.stack([mid_b, mid_b], 1)])
    aug_b = np.concatenate([b, np.stack([mid_a, mid_a], 1)])
    total = 0.0
    for k in range(m):
        th = -math.pi / 2 + k * math.pi / m
        u = np.array([math.cos(th), math.sin(th)])
        total += np.abs(np.sort(aug_a @ u) - np.sort(aug_b @ u)).sum()
    return total / m


def gudhi_sw():
    """GUDHI's _sliced_wasserstein_distance. gudhi.representations needs scikit-learn, which is not
    installed here; then the function is taken from GUDHI's source file itself (it only uses numpy)."""
    try:
        from gudhi.representations.metrics import _sliced_wasserstein_distance
        print("GUDHI SW: gudhi.representations.metrics._sliced_wasserstein_distance")
        return _sliced_wasserstein_distance
    except ImportError:
        pass
    path = os.path.join(os.path.dirname(gudhi.__file__), "representations", "metrics.py")
    if not os.path.exists(path):
        return None
    tree = ast.parse(open(path).read())
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == "_sliced_wasserstein_distance":
            ns = {"np": np}
            exec(compile(ast.Module(body=[node], type_ignores=[]), path, "exec"), ns)
            print("GUDHI SW: _sliced_wasserstein_distance taken from", path, "(no scikit-learn)")
            return ns[node.name]
    return None


def close(x, ref, rel=1e-9, abs_tol=1e-12):
    if math.isinf(ref) or math.isinf(x):
        return x == ref
    return abs(x - ref) <= rel * abs(ref) + abs_tol


def random_diagram(rng, n, style):
    if n == 0:
        return np.zeros((0, 2))
    if style == "grid":
        # Integer grid: many equal costs, degenerate optimal assignments.
        b = rng.integers(0, 5, n).astype(float)
        d = b + rng.integers(0, 4, n)
    elif style == "h1":
        # Like the H1 diagrams of correlation distances: a dense cluster near the diagonal.
        b = rng.uniform(0.85, 0.93, n)
        d = b + rng.exponential(0.02, n)
    else:
        scale = {"unit": 1.0, "big": 1e3, "tiny": 1e-6}[style]
        b = rng.uniform(0, 1, n) * scale
        d = b + rng.exponential(0.2, n) * scale
    dg = np.stack([b, d], 1)
    # Points on the diagonal and duplicated points are valid input.
    k = rng.integers(0, max(1, n // 5) + 1)
    idx = rng.choice(n, size=min(k, n), replace=False)
    dg[idx, 1] = dg[idx, 0]
    k = rng.integers(0, max(1, n // 5) + 1)
    src = rng.choice(n, size=min(k, n), replace=False)
    dst = rng.choice(n, size=min(k, n), replace=False)
    dg[dst] = dg[src]
    return dg


def check(name, ok, detail):
    if not ok:
        failures.append("%s: %s" % (name, detail))


def main():
    rng = np.random.default_rng(20231125)
    gsw = gudhi_sw()
    if gsw is None:
        print("GUDHI SW: not available, compared with the NumPy definition only")
    sizes = [0, 1, 2, 3, 5, 10, 20, 40, 75, 100, 150]
    n_cases = 25 if SANITIZED else 70
    styles = ["unit", "h1", "grid", "big", "tiny", "h1"]
    worst_w, worst_s = 0.0, 0.0
    for case in range(n_cases):
        na = int(rng.choice(sizes))
        nb = int(rng.choice(sizes)) if case % 3 else na
        style = styles[case % len(styles)]
        a = random_diagram(rng, na, style)
        b = random_diagram(rng, nb, style) if case % 7 else a.copy()
        m = int(rng.choice([1, 2, 7, 50]))
        out, _ = run_tool(a, b, "--dirs", str(m))
        ref_w = gudhi.wasserstein.wasserstein_distance(a, b, order=1, internal_p=2)
        ref_s = sw_numpy(a, b, m)
        tag = "case %d (na=%d nb=%d %s M=%d)" % (case, na, nb, style, m)
        check(tag + " W1", close(out["w1"], ref_w), "cgalr %r gudhi %r" % (out["w1"], ref_w))
        check(tag + " SW", close(out["sw"], ref_s), "cgalr %r numpy %r" % (out["sw"], ref_s))
        if gsw is not None:
            ref_g = gsw(a, b, m)
            check(tag + " SW vs GUDHI", close(out["sw"], ref_g), "cgalr %r gudhi %r" % (out["sw"], ref_g))
        if ref_w > 0:
            worst_w = max(worst_w, abs(out["w1"] - ref_w) / ref_w)
        if ref_s > 0:
            worst_s = max(worst_s, abs(out["sw"] - ref_s) / ref_s)
    print("worst relative error: W1 %.3g, SW %.3g" % (worst_w, worst_s))

    # Essential points (death = inf): matched by sorted birth; unequal counts give inf (as GUDHI).
    for case in range(8):
        a = random_diagram(rng, int(rng.integers(0, 30)), "unit")
        b = random_diagram(rng, int(rng.integers(0, 30)), "unit")
        ka = int(rng.integers(1, 4))
        kb = ka if case < 6 else ka + 1
        a = np.concatenate([a, np.stack([rng.uniform(0, 1, ka), np.full(ka, np.inf)], 1)])
        b = np.concatenate([b, np.stack([rng.uniform(0, 1, kb), np.full(kb, np.inf)], 1)])
        out, _ = run_tool(a, b, "--only", "w1")
        ref = gudhi.wasserstein.wasserstein_distance(a, b, order=1, internal_p=2)
        check("essential case %d" % case, close(out["w1"], ref), "cgalr %r gudhi %r" % (out["w1"], ref))
        # SW is defined for finite points only: a clear error, exit code 2.
        _, err = run_tool(a, b, "--only", "sw", expect_rc=2)
        check("essential SW error", "essential" in err, err)

    # Bad input gets a clear message and exit code 2, never a crash.
    good = np.array([[0.0, 1.0], [0.2, 0.5]])
    for bad, word in [(np.array([[0.5, 0.2]]), "birth"), (np.array([[np.nan, 1.0]]), "birth"),
                      (np.array([[0.1, np.nan]]), "NaN"), (np.array([[-np.inf, 1.0]]), "birth")]:
        for only in ("w1", "sw"):
            _, err = run_tool(good, bad, "--only", only, expect_rc=2)
            check("bad input %r %s" % (bad.tolist(), only), word in err and "point 0" in err, err)
    _, err = run_tool(good, good, "--dirs", "0", "--only", "sw", expect_rc=2)
    check("n_dirs = 0", "n_dirs" in err, err)

    # The helper's reader: malformed files are exit code 2 with the file and line.
    pa, pb = os.path.join(TMP, "bad_a.txt"), os.path.join(TMP, "bad_b.txt")
    write(pb, good)
    for text, word in [("0.1 0.5\n0.2 abc\n", ":2: expected two numbers"), ("0.1 0.5 0.7\n", ":1: trailing text"),
                       ("0.3\n", ":1: expected two numbers")]:
        with open(pa, "w") as f:
            f.write(text)
        r = subprocess.run([TOOL, pa, pb], capture_output=True, text=True)
        check("malformed file %r" % text, r.returncode == 2 and word in r.stderr, "rc %d: %s" % (r.returncode, r.stderr))
    r = subprocess.run([TOOL, os.path.join(TMP, "missing.txt"), pb], capture_output=True, text=True)
    check("missing file", r.returncode == 2 and "cannot open" in r.stderr, r.stderr)
    # Comments, commas and blank lines are accepted.
    with open(pa, "w") as f:
        f.write("# birth death\n\n0.0, 1.0\n0.2,0.5  # a comment\n")
    r = subprocess.run([TOOL, "--only", "w1", pa, pb], capture_output=True, text=True)
    check("comments and commas", r.returncode == 0 and float(r.stdout.split()[1]) == 0.0, r.stdout + r.stderr)

    if failures:
        print("\n".join(failures))
        print("%d failures" % len(failures))
        return 1
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
