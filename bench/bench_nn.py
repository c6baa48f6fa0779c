#!/usr/bin/python3
"""Engine vs PyTorch: one training epoch of the same model, same batch size, same thread count, each
side in its own process (so ru_maxrss is each side's own peak), at 1 and 2 threads; prints the ratio
of epoch times (engine / PyTorch, < 1 = engine faster) and of peak memory.
  mlp: Fashion-MNIST train (60,000, batch 128); cnn, resnet20: 5,000 random CIFAR-10-shaped images
  (batch 128; random pixels: timing only); gin: PROTEINS (1,113 graphs, batch 32).
usage: /usr/bin/python3 bench/bench_nn.py [--build build] [--models mlp,cnn,resnet20,gin]
       [--threads 1,2] [--epochs 2] [--repeat 1]
  (the time of the last epoch is reported, the first warms up; with --repeat R the engine and PyTorch
  runs alternate R times and the median ratio follows the R rows: on a shared machine one pair can be
  off by 10-20%)"""
import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(HERE)


def cpu_seconds():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def torch_side(model, threads, batch, epochs, shared, limit):
    os.environ["OMP_WAIT_POLICY"] = "passive"
    import numpy as np
    import torch
    import torch.nn.functional as F
    sys.path.insert(0, os.path.join(SRC, "tests"))
    import test_nn_oracle as ref
    torch.set_num_threads(threads)
    torch.manual_seed(1)
    rng = np.random.default_rng(5)
    if model == "mlp":
        import gzip
        d = "/usr/share/datasets/fashion-mnist"
        with gzip.open(f"{d}/train-images-idx3-ubyte.gz") as f:
            x = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 1, 28, 28)
        with gzip.open(f"{d}/train-labels-idx1-ubyte.gz") as f:
            y = np.frombuffer(f.read(), np.uint8, offset=8).astype(np.int64)
        x = torch.from_numpy(((x.astype(np.float32) / 255.0) - 0.2860) / 0.3530)
        y = torch.from_numpy(y)
        net = ref.MLP(784, [256, 128], 10)
    elif model in ("cnn", "resnet20", "resnet18"):
        x = torch.from_numpy(rng.standard_normal((5000, 3, 32, 32)).astype(np.float32))
        y = torch.from_numpy(rng.integers(0, 10, 5000))
        net = ref.CNN(3, 32, 10) if model == "cnn" else ref.ResNet(3, 10, model == "resnet18")
    else:
        tu = os.path.join(shared, "data/TU/PROTEINS/PROTEINS")
        gi = np.loadtxt(tu + "_graph_indicator.txt", dtype=np.int64) - 1
        nl = np.loadtxt(tu + "_node_labels.txt", dtype=np.int64)
        gl = np.loadtxt(tu + "_graph_labels.txt", dtype=np.int64)
        A = np.loadtxt(tu + "_A.txt", delimiter=",", dtype=np.int64) - 1
        gl = (gl != gl.min()).astype(np.int64)
        G = len(gl)
        nf = int(nl.max()) + 1
        X = np.zeros((len(gi), nf), np.float32)
        X[np.arange(len(gi)), nl] = 1.0
        starts = np.concatenate([[0], np.cumsum(np.bincount(gi, minlength=G))])
        edges_of = [[] for _ in range(G)]
        eg = gi[A[:, 0]]
        order = np.argsort(eg, kind="stable")
        A = A[order]
        eg = eg[order]
        estarts = np.concatenate([[0], np.cumsum(np.bincount(eg, minlength=G))])

        class GINDrop(ref.GIN):
            def forward(self, x, src, dst, gon, G):
                ps = self.pooled(x, src, dst, gon, G)
                return sum(F.dropout(p(v), 0.5, self.training) for p, v in zip(self.preds, ps))
        net = GINDrop(nf, 64, 5, 2, False, 0.0)
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    net.train()
    n = len(gl) if model == "gin" else x.shape[0]
    if limit:
        n = min(n, limit)
    t_epoch = cpu_epoch = 0.0
    for e in range(epochs):
        perm = np.random.default_rng(e).permutation(n)
        t0 = time.perf_counter()
        c0 = cpu_seconds()
        for s in range(0, n, batch):
            idx = perm[s:s + batch]
            if model == "gin":
                xs, srcs, dsts, gons, off = [], [], [], [], 0
                for i, g in enumerate(idx):
                    a, b = starts[g], starts[g + 1]
                    xs.append(X[a:b])
                    ea, eb = estarts[g], estarts[g + 1]
                    srcs.append(A[ea:eb, 1] - a + off)
                    dsts.append(A[ea:eb, 0] - a + off)
                    gons.append(np.full(b - a, i))
                    off += b - a
                xb = torch.from_numpy(np.concatenate(xs))
                out = net(xb, torch.from_numpy(np.concatenate(srcs)), torch.from_numpy(np.concatenate(dsts)),
                          torch.from_numpy(np.concatenate(gons)), len(idx))
                yb = torch.from_numpy(gl[idx])
            else:
                it = torch.from_numpy(idx)
                out = net(x[it])
                yb = y[it]
            loss = F.cross_entropy(out, yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
        t_epoch = time.perf_counter() - t0
        cpu_epoch = cpu_seconds() - c0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"side": "torch", "model": model, "threads": threads, "batch": batch, "samples": n,
                      "epoch_s": round(t_epoch, 4), "cpu_s": round(cpu_epoch, 4), "maxrss_kb": rss}))


def run(cmd, env):
    r = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if r.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{r.stderr}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(SRC, "build"))
    ap.add_argument("--models", default="mlp,cnn,resnet20,gin")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--shared", default=os.environ.get("CGALR_SHARED", "/work/shared"))
    ap.add_argument("--limit", type=int, default=0, help="samples per epoch (0 = all)")
    ap.add_argument("--repeat", type=int, default=1, help="engine/PyTorch pairs per model and thread count")
    ap.add_argument("--torch-side", nargs=3, metavar=("MODEL", "THREADS", "BATCH"))
    a = ap.parse_args()
    if a.torch_side:
        torch_side(a.torch_side[0], int(a.torch_side[1]), int(a.torch_side[2]), a.epochs, a.shared, a.limit)
        return
    env = dict(os.environ, OMP_WAIT_POLICY="passive")
    engine = os.path.join(a.build, "bench", "bench_nn")
    print("wall = epoch wall-clock seconds, cpu = user+system CPU seconds of the epoch (robust to a loaded "
          "machine); ratios are engine / PyTorch")
    print(f"{'model':9} {'thr':>3} {'engine s':>9} {'torch s':>9} {'time ratio':>10} {'eng cpu':>8} {'trc cpu':>8} "
          f"{'cpu ratio':>9} {'engine MB':>9} {'torch MB':>9} {'mem ratio':>9}")
    for model in a.models.split(","):
        batch = 32 if model == "gin" else 128
        for t in [int(v) for v in a.threads.split(",")]:
            # Debian's torch runs its BLAS (OpenBLAS) in OpenBLAS's own threads, which
            # torch.set_num_threads does not limit: pin every pool to the same count on both sides
            env = dict(env, OMP_NUM_THREADS=str(t), OPENBLAS_NUM_THREADS=str(t), MKL_NUM_THREADS=str(t))
            ratios = []
            for _ in range(max(1, a.repeat)):
                e = run([engine, model, str(t), "--batch", str(batch), "--epochs", str(a.epochs), "--shared",
                         a.shared, "--limit", str(a.limit)], env)
                p = run([sys.executable, os.path.abspath(__file__), "--torch-side", model, str(t), str(batch),
                         "--epochs", str(a.epochs), "--shared", a.shared, "--limit", str(a.limit)], env)
                ratios.append((e["epoch_s"] / p["epoch_s"], e["cpu_s"] / p["cpu_s"], e["maxrss_kb"] / p["maxrss_kb"]))
                print(f"{model:9} {t:>3} {e['epoch_s']:9.3f} {p['epoch_s']:9.3f} {ratios[-1][0]:10.3f} "
                      f"{e['cpu_s']:8.3f} {p['cpu_s']:8.3f} {ratios[-1][1]:9.3f} "
                      f"{e['maxrss_kb'] / 1024:9.1f} {p['maxrss_kb'] / 1024:9.1f} {ratios[-1][2]:9.3f}", flush=True)
            if len(ratios) > 1:
                med = [statistics.median(r[k] for r in ratios) for k in range(3)]
                print(f"{model:9} {t:>3} {'median of ' + str(len(ratios)):>19} {med[0]:10.3f} {'':17} {med[1]:9.3f} "
                      f"{'':19} {med[2]:9.3f}", flush=True)


if __name__ == "__main__":
    main()
