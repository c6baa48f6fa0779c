"""Benchmark: cgalr's exact W1 and sliced Wasserstein (M = 50) between persistence diagrams against
GUDHI (POT network simplex behind gudhi.wasserstein; GUDHI's NumPy sliced Wasserstein) and POT's
ot.emd2 on the same square assignment, on the same random diagrams, in one run; prints ratios.
Two more rows use realistic inputs: the H1 diagrams (from the `ripser` command) of D = sqrt(1 - M)
for the connectomes of two random activation matrices with P = 64 and P = 128 signals.
Usage: /usr/bin/python3 bench/bench_diagram.py [BUILD_DIR] [--sizes 50,100,200,400]
(BUILD_DIR defaults to build; the helper is BUILD_DIR/tests/tool_topo_dgm, or $CGALR_TOOLS)."""
import ast
import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # CPU times below assume one thread
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np
import gudhi
import gudhi.wasserstein
import ot


def gudhi_sw():
    try:
        from gudhi.representations.metrics import _sliced_wasserstein_distance
        return _sliced_wasserstein_distance
    except ImportError:  # gudhi.representations needs scikit-learn; the function itself is NumPy
        path = os.path.join(os.path.dirname(gudhi.__file__), "representations", "metrics.py")
        for node in ast.parse(open(path).read()).body:
            if isinstance(node, ast.FunctionDef) and node.name == "_sliced_wasserstein_distance":
                ns = {"np": np}
                exec(compile(ast.Module(body=[node], type_ignores=[]), path, "exec"), ns)
                return ns[node.name]
    return None


def diagram(rng, n):
    # H1-like: births in [0.3, 0.9], short lifetimes, some near the diagonal.
    b = rng.uniform(0.3, 0.9, n)
    return np.stack([b, b + rng.exponential(0.05, n)], 1)


def ripser_h1(p, seed, tmp):
    """H1 diagram of the correlation distance of random mixed activations (256 x p)."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((256, p)) @ (np.eye(p) + 0.3 * rng.standard_normal((p, p)))
    m = np.abs(np.corrcoef(x.T))
    np.fill_diagonal(m, 1.0)
    path = os.path.join(tmp, "dist.csv")
    np.savetxt(path, np.sqrt(np.clip(1.0 - m, 0.0, None)), fmt="%.17g", delimiter=",")
    out = subprocess.run(["ripser", "--format", "distance", "--dim", "1", "--threshold", "10", path],
                         capture_output=True, text=True, check=True).stdout
    body = out.split("persistence intervals in dim 1:")[1]
    pts = [tuple(float(v) for v in line.strip().strip(" [)").split(","))
           for line in body.strip().split("\n") if line.strip()]
    return np.array(pts).reshape(-1, 2)


def pot_square(a, b):
    """The (n+m) x (n+m) assignment solved by POT's exact EMD (uniform weights)."""
    na, nb = len(a), len(b)
    n = na + nb
    c = np.zeros((n, n))
    c[:na, :nb] = np.sqrt(((a[:, None, :] - b[None, :, :]) ** 2).sum(-1))
    c[:na, nb:] = ((a[:, 1] - a[:, 0]) / np.sqrt(2))[:, None]
    c[na:, :nb] = ((b[:, 1] - b[:, 0]) / np.sqrt(2))[None, :]
    w = np.ones(n)
    return ot.emd2(w, w, c)


def timeit(f, min_time=0.3):
    """Fastest single call, in CPU seconds of this process, over repeats filling min_time; and the
    value. CPU time, like the C helper's, is steadier than wall time on a shared machine."""
    v = f()
    best, total = float("inf"), 0.0
    while total < min_time:
        t0 = time.process_time()
        f()
        dt = time.process_time() - t0
        best, total = min(best, dt), total + dt
    return best, v


def main():
    args = sys.argv[1:]
    sizes = [50, 100, 200, 400]
    if "--sizes" in args:
        i = args.index("--sizes")
        sizes = [int(s) for s in args[i + 1].split(",")]
        del args[i:i + 2]
    build = args[0] if args else "build"
    tool = os.path.join(os.environ.get("CGALR_TOOLS", os.path.join(build, "tests")), "tool_topo_dgm")
    if not os.path.exists(tool):
        sys.exit("bench_diagram: %s not found (build the tool_topo_dgm target)" % tool)
    gsw = gudhi_sw()
    rng = np.random.default_rng(1)
    tmp = tempfile.mkdtemp(prefix="cgalr-bench-dgm-")
    print("W1 (exact, internal_p = 2) and SW (M = 50); fastest call in CPU seconds over ~0.3 s of repeats; "
          "ratio = peer / cgalr")
    print("%17s | %10s %10s %10s %7s %7s | %10s %10s %7s" % (
        "n", "cgalr W1", "GUDHI W1", "POT emd2", "GUDHI/c", "POT/c", "cgalr SW", "GUDHI SW", "GUDHI/c"))
    cases = [(str(n), diagram(rng, n), diagram(rng, n)) for n in sizes]
    if shutil.which("ripser"):
        for p in (64, 128):
            cases.append(("H1/P%d" % p, ripser_h1(p, 1, tmp), ripser_h1(p, 2, tmp)))
    for label, a, b in cases:
        n = "%s(%d,%d)" % (label, len(a), len(b)) if label.startswith("H1") else label
        pa, pb = os.path.join(tmp, "a.txt"), os.path.join(tmp, "b.txt")
        for path, d in ((pa, a), (pb, b)):
            np.savetxt(path, d, fmt="%.17g")
        # Enough repetitions in C for ~0.3 s of work, measured inside the process.
        est = subprocess.run([tool, "--repeat", "1", pa, pb], capture_output=True, text=True, check=True)
        vals = dict(line.split() for line in est.stdout.split("\n") if line.strip())
        rw = max(1, int(0.3 / max(float(vals["w1_seconds"]), 1e-7)))
        rs = max(1, int(0.3 / max(float(vals["sw_seconds"]), 1e-7)))
        res = {}
        for only, r in (("w1", rw), ("sw", rs)):
            out = subprocess.run([tool, "--only", only, "--repeat", str(r), pa, pb], capture_output=True,
                                 text=True, check=True).stdout
            res.update(dict(line.split() for line in out.split("\n") if line.strip()))
        cw, cs = float(res["w1_seconds"]), float(res["sw_seconds"])
        tg, vg = timeit(lambda: gudhi.wasserstein.wasserstein_distance(a, b, order=1, internal_p=2))
        tp, vp = timeit(lambda: pot_square(a, b))
        ts, vs = timeit(lambda: gsw(a, b, 50)) if gsw else (float("nan"), float("nan"))
        for name, v, ref in (("W1 vs GUDHI", float(res["w1"]), vg), ("W1 vs POT", float(res["w1"]), vp),
                             ("SW vs GUDHI", float(res["sw"]), vs)):
            if abs(v - ref) > 1e-9 * abs(ref):
                print("  warning: n=%s %s differ: %r vs %r" % (n, name, v, ref))
        print("%17s | %10.3e %10.3e %10.3e %7.2f %7.2f | %10.3e %10.3e %7.2f" % (
            n, cw, tg, tp, tg / cw, tp / cw, cs, ts, ts / cs))
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
