"""Peer for bench/bench_ctrl.c: the same CG-ALR controller step (connectome of N x P activations,
summary, distance to the previous step, robust score and gate) in NumPy/SciPy (TOP) and GUDHI +
NumPy (WD, SWK), on activations of the same shapes and distribution; runs the C benchmark too and
prints per-step milliseconds and the ratio peer / cgalr.
  /usr/bin/python3 bench/bench_ctrl_peer.py BUILD/bench/bench_ctrl [--steps S] [--n N]"""
import argparse
import re
import subprocess
import time

import gudhi
import gudhi.wasserstein
import numpy as np
from scipy.sparse.csgraph import minimum_spanning_tree


def activations(n, p, step, rng_load, rng):
    w = rng_load.normal(size=(p, 8)) * (1.0 + 0.1 * step)
    f = rng.normal(size=(n, 8))
    a = rng.normal(size=(n, p)) + 0.3 * f @ w.T
    return np.maximum(a, 0).astype(np.float32)


def connectome(a):
    m = np.abs(np.corrcoef(a.astype(np.float64), rowvar=False))
    m = np.nan_to_num(m)
    np.fill_diagonal(m, 0)
    return m


def top_summary(m):
    p = m.shape[0]
    tree = minimum_spanning_tree(2.0 - m).toarray()  # maximum spanning tree of M
    mask = (tree != 0)
    mask = mask | mask.T
    iu = np.triu_indices(p, 1)
    w = m[iu]
    in_tree = mask[iu]
    return np.sort(w[in_tree]), np.sort(w[~in_tree])


def top_distance(a, b):
    return float(np.sum((a[0] - b[0]) ** 2) + np.sum((a[1] - b[1]) ** 2))


def h1_diagram(m, idx):
    d = np.sqrt(np.maximum(1.0 - m[np.ix_(idx, idx)], 0))
    st = gudhi.RipsComplex(distance_matrix=d).create_simplex_tree(max_dimension=2)
    st.compute_persistence()
    return np.array(st.persistence_intervals_in_dimension(1)).reshape(-1, 2)


def sliced_w(a, b, n_dirs=50):
    def proj_diag(x):
        mid = (x[:, 0] + x[:, 1]) / 2
        return np.stack([mid, mid], axis=1)
    a2 = np.vstack([a, proj_diag(b)])
    b2 = np.vstack([b, proj_diag(a)])
    th = -np.pi / 2 + np.pi * np.arange(n_dirs) / n_dirs
    dirs = np.stack([np.cos(th), np.sin(th)])
    pa = np.sort(a2 @ dirs, axis=0)
    pb = np.sort(b2 @ dirs, axis=0)
    return float(np.mean(np.sum(np.abs(pa - pb), axis=0)))


def controller(hist, d, state):
    h = np.array(hist[-8:])
    m = np.median(h)
    mad = np.median(np.abs(h - m))
    z = (d - m) / (1.4826 * mad + 1e-12 + 1e-9 * abs(m))
    hist.append(d)
    return z


def peer(kind, n, p, steps):
    rng_load = np.random.default_rng(7)
    acts = [activations(n, p, s, np.random.default_rng(7), np.random.default_rng(100 + s)) for s in (0, 1)]
    del rng_load
    idx = np.sort(np.random.default_rng(0).choice(p, size=min(p, 128), replace=False))

    def summarize(m):
        return top_summary(m) if kind == "cgalr-top" else h1_diagram(m, idx)

    def dist(a, b):
        if kind == "cgalr-top":
            return top_distance(a, b)
        if kind == "cgalr-wd":
            return gudhi.wasserstein.wasserstein_distance(a, b, order=1, internal_p=2)
        return sliced_w(a, b)

    prev = summarize(connectome(acts[0]))
    hist = [1.0, 1.1, 0.9]
    tc, tk = [], []
    for t in range(1, steps + 1):
        t0 = time.perf_counter()
        m = connectome(acts[t % 2])
        t1 = time.perf_counter()
        cur = summarize(m)
        d = dist(prev, cur)
        controller(hist, d, None)
        prev = cur
        t2 = time.perf_counter()
        tc.append(t1 - t0)
        tk.append(t2 - t1)
    return np.median(tc) * 1e3, np.median(tk) * 1e3


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("bench_ctrl")
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--n", type=int, default=1024)
    args = ap.parse_args()
    out = subprocess.run([args.bench_ctrl, "--steps", str(args.steps), "--n", str(args.n)], capture_output=True,
                         text=True, check=True).stdout
    print(out, end="")
    pat = re.compile(r"^(\S+)\s+N=(\d+)\s+P=(\d+)\s+P_ph=(\d+)\s+connectome\s+([\d.]+) ms\s+summary\+distance\+"
                     r"controller\s+([\d.]+) ms\s+total\s+([\d.]+)")
    print("\npeer (NumPy corrcoef; SciPy MST for TOP; GUDHI Rips + GUDHI/POT W1 or NumPy SW), same shapes:")
    for line in out.splitlines():
        mt = pat.match(line)
        if not mt:
            continue
        kind, n, p = mt.group(1), int(mt.group(2)), int(mt.group(3))
        cc, ck, ct = float(mt.group(5)), float(mt.group(6)), float(mt.group(7))
        pc, pk = peer(kind, n, p, args.steps)
        print("%-10s N=%-5d P=%-4d peer connectome %9.3f ms (x%.2f)  summary+distance+controller %9.3f ms (x%.2f)"
              "  total x%.2f" % (kind, n, p, pc, pc / cc, pk, pk / ck, (pc + pk) / ct))


if __name__ == "__main__":
    main()
