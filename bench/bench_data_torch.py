"""Peer for bench_data: the same CIFAR-shaped training epoch (45,000 uint8 3x32x32 images, batch
128, shuffled; normalise, random crop with 4-pixel zero padding, horizontal flip) done with PyTorch
tensor ops on one thread, batch-vectorised (faster than torchvision's per-image PIL transforms).
Run with /usr/bin/python3 bench/bench_data_torch.py; compare its images/s with bench_data's
cifar10 crop+flip row (same machine, same moment)."""
import time

import torch

torch.set_num_threads(1)
g = torch.Generator().manual_seed(1)
N, B = 45000, 128
data = torch.randint(0, 256, (N, 3, 32, 32), dtype=torch.uint8, generator=g)
mean = torch.tensor([0.4913, 0.4821, 0.4465]).view(1, 3, 1, 1)
std = torch.tensor([0.2452, 0.2428, 0.2606]).view(1, 3, 1, 1)


def epoch(aug):
    perm = torch.randperm(N, generator=g)
    s = 0.0
    for b in range(0, N, B):
        x = data[perm[b:b + B]].float().div_(255).sub_(mean).div_(std)
        if aug:
            n = x.shape[0]
            pad = torch.nn.functional.pad(x, (4, 4, 4, 4), value=0.0)
            dy = torch.randint(0, 9, (n,), generator=g)
            dx = torch.randint(0, 9, (n,), generator=g)
            iy = (dy.view(n, 1) + torch.arange(32)).view(n, 1, 32, 1).expand(n, 3, 32, 40)
            pad = pad.gather(2, iy)
            ix = (dx.view(n, 1) + torch.arange(32)).view(n, 1, 1, 32).expand(n, 3, 32, 32)
            x = pad.gather(3, ix)
            flip = torch.rand(n, generator=g) < 0.5
            x[flip] = x[flip].flip(3)
        s += float(x[0, 0, 0, 0])
    return s


for aug in (False, True):
    best = 1e30
    for _ in range(3):
        t0 = time.process_time()
        epoch(aug)
        best = min(best, time.process_time() - t0)
    print(f"torch peer  cifar-shaped  augment={'crop+flip' if aug else 'none':9s}  {N / best:10.0f} images/s")
