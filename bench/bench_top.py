#!/usr/bin/python3
"""Connectome + barcode + TOP: cgalr (bench/bench_top.c) against the NumPy/SciPy pipeline on the
same activation matrices, N = 1024 and P in {128, 256, 512, 1024}; prints the median time of each and
the ratio (best of R runs each: the stable estimate on a shared machine). Both sides use the same BLAS thread count (--threads, default 1).

usage: /usr/bin/python3 bench/bench_top.py BUILD_DIR [--threads T] [--reps R] [--n N] [--p 128,256]
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time

ap = argparse.ArgumentParser()
ap.add_argument("build")
ap.add_argument("--threads", type=int, default=1)
ap.add_argument("--reps", type=int, default=15)
ap.add_argument("--n", type=int, default=1024)
ap.add_argument("--p", default="128,256,512,1024")
ap.add_argument("--clock", choices=["cpu", "wall"], default=None)
args = ap.parse_args()
if args.clock is None:
    args.clock = "cpu" if args.threads == 1 else "wall"
# Must be set before numpy loads its BLAS.
for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = str(args.threads)

import numpy as np  # noqa: E402
from scipy.sparse.csgraph import minimum_spanning_tree  # noqa: E402

prog = os.path.join(args.build, "bench", "bench_top")
if not os.access(prog, os.X_OK):
    sys.exit(f"bench_top.py: {prog} not found; build it with cmake --build {args.build} --target bench_top")


def barcode(m):
    p = m.shape[0]
    w = -(m + 1.0)  # scipy drops zero weights; a constant shift keeps the maximum tree
    np.fill_diagonal(w, 0.0)
    t = minimum_spanning_tree(w).tocoo()
    births = np.sort(m[t.row, t.col])
    tree = np.zeros((p, p), bool)
    tree[t.row, t.col] = True
    tree |= tree.T
    iu = np.triu_indices(p, 1)
    deaths = np.sort(m[iu][~tree[iu]])
    return births, deaths


def connectome(a):
    m = np.abs(np.corrcoef(a, rowvar=False))
    np.fill_diagonal(m, 0.0)
    return np.nan_to_num(m, nan=0.0)


def numpy_step(a_new, prev):
    m = connectome(a_new)
    b, d = barcode(m)
    return float(np.sum((b - prev[0]) ** 2) + np.sum((d - prev[1]) ** 2))


clock = time.process_time if args.clock == "cpu" else time.perf_counter
rng = np.random.default_rng(7)
print("TOP step = connectome of N x P activations + barcode + TOP against the previous barcode;")
print("(conn) = the connectome alone on each side: both are one BLAS product (cgalr: dsyrk, half the")
print("flops of NumPy's corrcoef GEMM), which bounds the whole step's ratio at one thread")
print(f"N = {args.n}, BLAS threads = {args.threads} (both sides), {args.clock} time, best of {args.reps} runs, "
      f"cgalr phases in ms: connectome / barcode / TOP")
print(f"{'P':>5} {'cgalr ms':>9} {'(conn':>7} {'bar':>6} {'top)':>6} {'numpy ms':>9} {'(conn)':>7} "
      f"{'ratio':>7} {'conn ratio':>10}  agree")
with tempfile.TemporaryDirectory() as tmp:
    for p in [int(x) for x in args.p.split(",")]:
        n = args.n
        # activations with structure: a few latent factors plus noise (a trained layer's look)
        f = rng.standard_normal((n, 8))
        load = rng.standard_normal((8, p)) * (rng.random(p) < 0.5)
        a = f @ load + rng.standard_normal((n, p))
        b = a + 0.3 * rng.standard_normal((n, p))
        pa, pb = os.path.join(tmp, "a.f64"), os.path.join(tmp, "b.f64")
        a.astype("<f8").tofile(pa)
        b.astype("<f8").tofile(pb)
        out = subprocess.run([prog, pa, pb, str(n), str(p), str(args.reps), args.clock], capture_output=True,
                             text=True, env=os.environ)
        if out.returncode != 0:
            sys.exit(f"bench_top failed: {out.stderr}")
        tc, tb, tt, ts, top_c = [float(x) for x in out.stdout.split()]
        prev = barcode(connectome(a))
        times = []
        for _ in range(args.reps):
            t0 = clock()
            top_np = numpy_step(b, prev)
            times.append(clock() - t0)
        tn = 1e3 * min(times)
        conn_times = []
        for _ in range(args.reps):
            t0 = clock()
            connectome(b)
            conn_times.append(clock() - t0)
        tnc = 1e3 * min(conn_times)
        agree = abs(top_c - top_np) <= 1e-9 * abs(top_np)
        print(f"{p:>5} {ts:>9.2f} {tc:>7.2f} {tb:>6.2f} {tt:>6.2f} {tn:>9.2f} {tnc:>7.2f} {tn / ts:>6.1f}x "
              f"{tnc / tc:>9.1f}x  {'yes' if agree else f'NO ({top_c!r} vs {top_np!r})'}")
