"""Cost of cgalr.torch.ConnectomeLR inside a PyTorch loop, against peers run in the same script:
  - the ctypes crossing of one sched.step() without a controller step, next to torch's
    CosineAnnealingLR.step() (ratio);
  - the share of the epoch spent in sched.step() (controller steps included) for an MLP and a
    small CNN on Debian's Fashion-MNIST (1 thread).
    CGALR_LIBRARY=build/libcgalr.so PYTHONPATH=python /usr/bin/python3 bench/bench_torch_ctrl.py [--limit 6000] [--repeat 2]"""
import argparse
import gzip
import time
import warnings

import numpy as np
import torch

from cgalr.torch import ConnectomeLR

DIR = "/usr/share/datasets/fashion-mnist"


def load(limit):
    with gzip.open(DIR + "/train-images-idx3-ubyte.gz") as f:
        x = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 784)[:limit]
    with gzip.open(DIR + "/train-labels-idx1-ubyte.gz") as f:
        y = np.frombuffer(f.read(), np.uint8, offset=8)[:limit]
    return torch.tensor(x, dtype=torch.float32) / 255.0, torch.tensor(y, dtype=torch.long)


def mlp():
    return torch.nn.Sequential(torch.nn.Linear(784, 256), torch.nn.ReLU(), torch.nn.Linear(256, 128), torch.nn.ReLU(),
                               torch.nn.Linear(128, 10))


def cnn():
    return torch.nn.Sequential(torch.nn.Unflatten(1, (1, 28, 28)), torch.nn.Conv2d(1, 16, 3, padding=1), torch.nn.ReLU(),
                               torch.nn.MaxPool2d(2), torch.nn.Conv2d(16, 32, 3, padding=1), torch.nn.ReLU(),
                               torch.nn.AdaptiveAvgPool2d(4), torch.nn.Flatten(), torch.nn.Linear(512, 10))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--limit", type=int, default=6000)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(1)
    warnings.filterwarnings("ignore", message="Detected call of")
    m = mlp()
    s = ConnectomeLR(torch.optim.SGD(m.parameters(), lr=0.1), m, torch.randn(64, 784), 10, 10 ** 9)
    c = torch.optim.lr_scheduler.CosineAnnealingLR(torch.optim.SGD(m.parameters(), lr=0.1), T_max=10 ** 9)
    for _ in range(a.repeat):
        t = time.perf_counter()
        for _ in range(20000):
            s.step()
        ts = (time.perf_counter() - t) / 20000
        t = time.perf_counter()
        for _ in range(20000):
            c.step()
        tc = (time.perf_counter() - t) / 20000
        print("step without controller: ConnectomeLR %.2f us, CosineAnnealingLR %.2f us, ratio %.2f" %
              (ts * 1e6, tc * 1e6, ts / tc))
    x, y = load(a.limit)
    bs = 128
    steps = (len(x) + bs - 1) // bs
    for name, make, layer in (("mlp", mlp, None), ("cnn", cnn, "5")):
        for rep in range(a.repeat):
            torch.manual_seed(0)
            model = make()
            opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
            sched = ConnectomeLR(opt, model, x[:512], a.epochs, steps, layers=layer)
            t_s, t0 = 0.0, time.perf_counter()
            for _ in range(a.epochs):
                for i in range(steps):
                    b = slice(i * bs, (i + 1) * bs)
                    opt.zero_grad()
                    torch.nn.functional.cross_entropy(model(x[b]), y[b]).backward()
                    opt.step()
                    t = time.perf_counter()
                    sched.step()
                    t_s += time.perf_counter() - t
            total = time.perf_counter() - t0
            print("%s rep %d: %d epochs x %d steps in %.2f s, sched.step %.3f s = %.2f%% (%d controller steps, "
                  "probe 512)" % (name, rep, a.epochs, steps, total, t_s, 100 * t_s / total, len(sched.trace) - 1))


if __name__ == "__main__":
    main()
