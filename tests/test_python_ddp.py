"""ConnectomeLR under torch.distributed: two processes (gloo, loopback) split the probe, and both
compute the same rates and distances, equal to a one-process run over the same probe (given as
the same two batches, so every row's activations come from the same forward pass shapes)."""
import json
import os
import socket
import subprocess
import sys

SRC = os.environ.get("CGALR_SRC", os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.environ.get("CGALR_BIN", os.path.join(SRC, "build", "cgalr"))
TMP = os.environ.get("CGALR_TMP", "/tmp/cgalr-test-python-ddp")
if os.environ.get("CGALR_SANITIZED", "0") == "1":
    print("SKIP: the sanitizer build of libcgalr.so is not loaded into Python (ASan must come first)")
    sys.exit(0)
os.environ["CGALR_LIBRARY"] = os.path.join(os.path.dirname(os.path.abspath(BIN)), "libcgalr.so")
sys.path.insert(0, os.path.join(SRC, "python"))

EPOCHS, SPE = 4, 3


def run(rank):
    """Trains the same small MLP on every rank; returns (rates per iteration, distances)."""
    import torch
    from cgalr.torch import ConnectomeLR
    torch.set_num_threads(1)
    g = torch.Generator().manual_seed(3)
    x = torch.randn(48, 5, generator=g)
    y = (x[:, 0] > x[:, 1]).long()
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(5, 10), torch.nn.ReLU(), torch.nn.Linear(10, 2))
    opt = torch.optim.SGD(model.parameters(), lr=0.3, momentum=0.9)
    probe = [x[:10], x[10:20]] if rank is None else x[:20]
    sched = ConnectomeLR(opt, model, probe, EPOCHS, SPE, K=3, s0=1.0, tau_enter=0.5)
    lrs = []
    for it in range(EPOCHS * SPE):
        b = slice((it % SPE) * 16, (it % SPE + 1) * 16)
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(x[b]), y[b]).backward()
        opt.step()
        sched.step()
        lrs.append(sched.get_last_lr()[0])
    return lrs, [t["d"] for t in sched.trace[1:]]


if len(sys.argv) == 2:  # a worker rank
    import torch.distributed as dist
    rank = int(sys.argv[1])
    dist.init_process_group("gloo", rank=rank, world_size=2)
    lrs, ds = run(rank)
    with open(os.path.join(TMP, "rank%d.json" % rank), "w") as f:
        json.dump({"lrs": lrs, "d": ds}, f)
    dist.destroy_process_group()
    sys.exit(0)

os.makedirs(TMP, exist_ok=True)
s = socket.socket()
s.bind(("127.0.0.1", 0))
port = s.getsockname()[1]
s.close()
env = dict(os.environ, MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), GLOO_SOCKET_IFNAME="lo",
           OMP_NUM_THREADS="1")
procs = [subprocess.Popen([sys.executable, os.path.abspath(__file__), str(r)], env=env) for r in range(2)]
rcs = []
for p in procs:
    try:
        rcs.append(p.wait(timeout=120))
    except subprocess.TimeoutExpired:
        p.kill()
        rcs.append("timeout")
if rcs != [0, 0]:
    print("FAIL: ranks exited with", rcs)
    sys.exit(1)
res = [json.load(open(os.path.join(TMP, "rank%d.json" % r))) for r in range(2)]
one_lrs, one_d = run(None)
fail = False
if res[0] != res[1]:
    print("FAIL: the ranks differ:", res)
    fail = True
if res[0]["lrs"] != one_lrs or res[0]["d"] != one_d:
    print("FAIL: two ranks vs one process:", res[0], one_lrs, one_d)
    fail = True
if len(set(one_lrs)) < 3 or len(one_d) != EPOCHS:
    print("FAIL: the run checks too little:", one_lrs, one_d)
    fail = True
print("rates:", one_lrs)
sys.exit(1 if fail else 0)
