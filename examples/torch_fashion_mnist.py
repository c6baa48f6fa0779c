"""An MLP on Debian's Fashion-MNIST (/usr/share/datasets/fashion-mnist) trained twice, with
cgalr.torch.ConnectomeLR and with torch's CosineAnnealingLR; prints test accuracy and the time
the controller took, and plots both rate sequences (rates.png, when matplotlib is present).
    CGALR_LIBRARY=build/libcgalr.so PYTHONPATH=python /usr/bin/python3 examples/torch_fashion_mnist.py [--epochs 5] [--limit 12000]"""
import argparse
import gzip
import time

import numpy as np
import torch

from cgalr.torch import ConnectomeLR

DIR = "/usr/share/datasets/fashion-mnist"


def idx(path, images):
    with gzip.open(path, "rb") as f:
        raw = f.read()
    return np.frombuffer(raw, np.uint8, offset=16 if images else 8)


def load(split, limit):
    x = idx("%s/%s-images-idx3-ubyte.gz" % (DIR, split), True).reshape(-1, 784)[:limit]
    y = idx("%s/%s-labels-idx1-ubyte.gz" % (DIR, split), False)[:limit]
    return torch.tensor(x, dtype=torch.float32) / 255.0, torch.tensor(y, dtype=torch.long)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--limit", type=int, default=12000)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--plot", default="rates.png")
    a = ap.parse_args()
    x, y = load("train", a.limit)
    xt, yt = load("t10k", 10000)
    steps = (len(x) + a.batch - 1) // a.batch
    results = {}
    for name in ("cgalr-top", "cosine"):
        torch.manual_seed(0)
        model = torch.nn.Sequential(torch.nn.Linear(784, 256), torch.nn.ReLU(), torch.nn.Linear(256, 128),
                                    torch.nn.ReLU(), torch.nn.Linear(128, 10))
        opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        if name == "cosine":
            sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=a.epochs * steps)
        else:
            sched = ConnectomeLR(opt, model, x[:512], a.epochs, steps)
        rates, t_sched, t0 = [], 0.0, time.perf_counter()
        for epoch in range(a.epochs):
            perm = torch.randperm(len(x))
            for i in range(steps):
                b = perm[i * a.batch:(i + 1) * a.batch]
                opt.zero_grad()
                torch.nn.functional.cross_entropy(model(x[b]), y[b]).backward()
                opt.step()
                ts = time.perf_counter()
                sched.step()
                t_sched += time.perf_counter() - ts
                rates.append(sched.get_last_lr()[0])
        total = time.perf_counter() - t0
        with torch.no_grad():
            acc = (model(xt).argmax(1) == yt).float().mean().item()
        results[name] = rates
        print("%-9s test accuracy %.4f  train %.2f s  scheduler %.3f s (%.2f%%)" %
              (name, acc, total, t_sched, 100 * t_sched / total))
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        for name, r in results.items():
            plt.plot(np.arange(len(r)) / steps, r, label=name)
        plt.xlabel("epoch")
        plt.ylabel("learning rate")
        plt.legend()
        plt.savefig(a.plot, dpi=100)
        print("wrote", a.plot)
    except ImportError:
        print("matplotlib not found: no plot")


if __name__ == "__main__":
    main()
