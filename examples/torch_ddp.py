"""ConnectomeLR under DistributedDataParallel: 2 CPU processes (gloo, loopback). Each rank
trains on its share of the data and runs its share of the probe; the probe's activations are
gathered, so both ranks compute the same connectome and the same rate.
    CGALR_LIBRARY=build/libcgalr.so PYTHONPATH=python /usr/bin/python3 examples/torch_ddp.py"""
import os
import socket

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from cgalr.torch import ConnectomeLR

EPOCHS, STEPS, WORLD = 4, 8, 2


def worker(rank, port):
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=WORLD)
    torch.set_num_threads(1)
    g = torch.Generator().manual_seed(1)
    x = torch.randn(1024, 20, generator=g)
    y = (x[:, :10].sum(1) > x[:, 10:].sum(1)).long()
    torch.manual_seed(0)  # same initial weights on every rank
    net = torch.nn.Sequential(torch.nn.Linear(20, 64), torch.nn.ReLU(), torch.nn.Linear(64, 2))
    model = torch.nn.parallel.DistributedDataParallel(net)
    opt = torch.optim.SGD(model.parameters(), lr=0.2, momentum=0.9)
    sched = ConnectomeLR(opt, net, x[:256], EPOCHS, STEPS)  # the probe is split over the ranks
    mine = torch.arange(rank, len(x), WORLD)
    for epoch in range(EPOCHS):
        for i in range(STEPS):
            b = mine[i * 64:(i + 1) * 64]
            opt.zero_grad()
            torch.nn.functional.cross_entropy(model(x[b]), y[b]).backward()
            opt.step()
            sched.step()
        t = sched.trace[-1]
        print("rank %d epoch %d  d %.6g  gate %s  rho %.4g  lr %.6g" % (rank, epoch, t["d"], t["state"], t["rho"],
                                                                       sched.get_last_lr()[0]))
    dist.destroy_process_group()


if __name__ == "__main__":
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    mp.spawn(worker, args=(port,), nprocs=WORLD)
