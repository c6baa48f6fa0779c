"""Data-parallel `cgalr train` under Open MPI (issue 17): `mpirun -np 2` against one process with the
same global batch, on an mlp (no batch norm, no dropout, so the two compute the same function and
differ only by float32 rounding: each rank's part of a batch goes through other matrix shapes,
and the gradients are summed in another order). Per epoch: the learning rate the same within 1e-9
relative (CG-ALR's gate sees the same connectome distances up to rounding), losses within 1e-5,
accuracies within one sample in 500; inline (every epoch and every iteration), pass and stream;
and with a batch of one sample, where rank 1's part is always empty. Rank 0 alone writes: the run directory holds the
same files as one process's. A SIGINT to mpirun stops both ranks at the same batch, and the run
resumes on one process, ending as the uninterrupted run does. gin on MUTAG (batch norm per rank,
as PyTorch's DDP) runs to the end; the cnn with --sync-bn follows one process (and without it
does not), and --sync-bn with a batch that leaves a rank empty is refused once. Bad input: a bad option refused once; an existing run without
--resume refused once, with no rank left waiting; a resume on a rank that cannot see the
checkpoint ends the job with a message naming the shared directory. Skipped, with a message,
when the tool was built without MPI or mpirun is missing."""
import json
import os
import shutil
import signal
import subprocess
import sys
import time

from runlib import BIN, check, finish, mpi_or_skip, run, scratch

TMP = scratch(os.path.join(os.getcwd(), "test-tmp", "test_train_mpi"))
MPIRUN, ENV = mpi_or_skip()


def mlp(out, epochs=3, extra=()):
    return ["train", "--data", "fashion-mnist", "--model", "mlp", "--limit", "3000", "--batch", "64", "--epochs",
            str(epochs), "--threads", "1", "--quiet", "--out", out, *extra]


def mpirun(np, args, timeout=600):
    return subprocess.run([MPIRUN, "-np", str(np), BIN, *args], capture_output=True, text=True, env=ENV,
                          timeout=timeout)


def lines(d):
    return [json.loads(x) for x in open(os.path.join(d, "metrics.jsonl"))]


def rel(a, b):
    return abs(a - b) / max(abs(a), abs(b), 1e-300)


def same_training(a, b, what, loss_tol=1e-5, acc_tol=0.002, d_tol=1e-4):
    la, lb = lines(a), lines(b)
    check(len(la) == len(lb) and la, f"{what}: {len(la)} epochs against {len(lb)}")
    for x, y in zip(la, lb):
        e = x["epoch"]
        check(y["epoch"] == e, f"{what}: epoch {e} against {y['epoch']}")
        check(rel(x["lr"], y["lr"]) <= 1e-9, f"{what}: epoch {e}: lr {x['lr']!r} against {y['lr']!r}")
        for k in ("train_loss", "val_loss"):
            check(rel(x[k], y[k]) <= loss_tol, f"{what}: epoch {e}: {k} {x[k]!r} against {y[k]!r}")
        for k in ("train_acc", "val_acc", "test_acc"):
            check(abs(x[k] - y[k]) <= acc_tol, f"{what}: epoch {e}: {k} {x[k]!r} against {y[k]!r}")
        for k in ("state", "rho"):
            if k in x:
                check(x[k] == y.get(k), f"{what}: epoch {e}: {k} {x[k]!r} against {y.get(k)!r}")
        if x.get("d") is not None:
            check(y.get("d") is not None and rel(x["d"], y["d"]) <= d_tol,
                  f"{what}: epoch {e}: d {x['d']!r} against {y.get('d')!r}")


# 1. CG-ALR (inline, after every epoch), then every iteration, then batch 1 (rank 1 gets nothing)
for name, extra, epochs in [("epoch", ("--sched", "cgalr-top", "--lr", "0.05"), 3),
                            ("every1", ("--sched", "cgalr-top", "--lr", "0.05", "--ctrl-every", "1"), 2),
                            ("pass", ("--sched", "cgalr-swk", "--lr", "0.05", "--probe-mode", "pass"), 2),
                            ("stream", ("--sched", "cgalr-top", "--lr", "0.05", "--probe-mode", "stream"), 2),
                            ("stream-every", ("--sched", "cgalr-top", "--lr", "0.05", "--probe-mode", "stream",
                                              "--ctrl-every", "5"), 2),
                            ("batch1", ("--sched", "constant", "--lr", "0.01", "--batch", "1", "--limit", "400"), 1)]:
    one, two = os.path.join(TMP, name + "-1"), os.path.join(TMP, name + "-2")
    p = run(*mlp(one, epochs, extra))
    check(p.returncode == 0, f"{name}: one process: {p.stderr}")
    p = mpirun(2, mlp(two, epochs, extra))
    check(p.returncode == 0, f"{name}: mpirun -np 2: exit {p.returncode}: {p.stderr}")
    if p.returncode == 0:
        same_training(one, two, name)
        check(sorted(os.listdir(one)) == sorted(os.listdir(two)),
              f"{name}: files {sorted(os.listdir(two))} against one process's {sorted(os.listdir(one))}")
        ca, cb = (json.load(open(os.path.join(d, "config.json"))) for d in (one, two))
        ca.pop("out", None)
        cb.pop("out", None)
        check(ca == cb, f"{name}: config.json differs from one process's")

# 2. SIGINT to mpirun after 2 epochs: both ranks stop, the run resumes on one process and ends as
#    the uninterrupted run does (lr the same; losses drift by rounding over the epochs)
def interrupt_after(cmd, run_dir, epochs, cwd=None):
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV, cwd=cwd)
    m = os.path.join(cwd or "", run_dir, "metrics.jsonl")
    t0 = time.time()
    while time.time() - t0 < 300 and proc.poll() is None:
        if os.path.exists(m) and sum(1 for _ in open(m)) >= epochs:
            break
        time.sleep(0.05)
    # Ctrl-C reaches every process of the job; mpirun's launcher here (plm isolated) does not pass
    # it on, so it goes to each process whose command line names the run (mpirun's too)
    for pid in os.listdir("/proc"):
        try:
            cmd = open(f"/proc/{pid}/cmdline", "rb").read().split(b"\0")
        except OSError:
            continue
        if pid.isdigit() and int(pid) != os.getpid() and run_dir.encode() in cmd:
            try:
                os.kill(int(pid), signal.SIGINT)
            except OSError:
                pass
    out, err = proc.communicate(timeout=300)
    return proc.returncode, err, sum(1 for _ in open(m))


ref, cut = os.path.join(TMP, "ref"), os.path.join(TMP, "cut")
LONG = ("--sched", "cgalr-top", "--lr", "0.05", "--limit", "6000")
p = run(*mlp(ref, 8, LONG))
check(p.returncode == 0, f"reference run: {p.stderr}")
rc, err, done = interrupt_after([MPIRUN, "-np", "2", BIN, *mlp(cut, 8, LONG)], cut, 2)
check(rc != 0 and err.count("interrupted after") == 1 and done < 8,
      f"SIGINT: exit {rc}, {done} epochs, stderr {err}")
p = run("train", "--out", cut, "--resume", "--quiet")
check(p.returncode == 0, f"resume on one process: {p.stderr}")
same_training(ref, cut, "interrupted on 2 ranks, resumed on 1", loss_tol=1e-2, acc_tol=0.01, d_tol=0.1)

# 3. gin on MUTAG: graphs, batch norm per rank
g1, g2 = os.path.join(TMP, "gin-1"), os.path.join(TMP, "gin-2")
GIN = ["train", "--data", "mutag", "--model", "gin", "--sched", "constant", "--lr", "0.01", "--epochs", "4",
       "--batch", "16", "--threads", "1", "--quiet"]
p = run(*GIN, "--out", g1)
check(p.returncode == 0, f"gin one process: {p.stderr}")
p = mpirun(2, GIN + ["--out", g2])
check(p.returncode == 0, f"gin on 2 ranks: exit {p.returncode}: {p.stderr}")
if p.returncode == 0:
    lg = lines(g2)
    check(len(lg) == 4 and all(0 <= x["val_acc"] <= 1 and x["train_loss"] > 0 for x in lg),
          f"gin on 2 ranks: {lg}")
    check([x["lr"] for x in lg] == [x["lr"] for x in lines(g1)], "gin: constant rate differs")

# 3b. --sync-bn on the cnn (batch norm after every convolution): the statistics of the whole batch,
#     so the run follows one process's (losses within 1e-5, lr within 1e-9); without it each rank's
#     part has its own statistics and the losses differ from the first epoch on (the control)
CNN = ["train", "--data", "fashion-mnist", "--model", "cnn", "--limit", "200", "--batch", "64", "--epochs", "3",
       "--sched", "cgalr-top", "--lr", "0.001", "--threads", "1", "--quiet"]
c1, c2, c3 = (os.path.join(TMP, f"cnn-{k}") for k in ("1", "sync", "part"))
p = run(*CNN, "--out", c1)
check(p.returncode == 0, f"cnn one process: {p.stderr}")
p = mpirun(2, CNN + ["--sync-bn", "--out", c2])
check(p.returncode == 0, f"cnn --sync-bn on 2 ranks: exit {p.returncode}: {p.stderr}")
if p.returncode == 0:
    same_training(c1, c2, "cnn --sync-bn", d_tol=1e-2)
p = mpirun(2, CNN + ["--out", c3])
check(p.returncode == 0, f"cnn on 2 ranks: exit {p.returncode}: {p.stderr}")
if p.returncode == 0:
    a, b = lines(c1)[0]["train_loss"], lines(c3)[0]["train_loss"]
    check(rel(a, b) > 1e-4, f"cnn without --sync-bn should differ from one process: {a!r} against {b!r}")
p = mpirun(2, CNN + ["--sync-bn", "--batch", "1", "--out", os.path.join(TMP, "sync-empty")])
check(p.returncode == 2 and p.stderr.count("--sync-bn on 2 ranks") == 1 and "MPI_ABORT" not in p.stderr,
      f"--sync-bn with empty parts: refused once: {p.returncode} {p.stderr}")

# 4. bad input, reported once
p = mpirun(2, mlp(os.path.join(TMP, "bad"), 1, ("--sched", "cgalr-top", "--probe-mode", "streem")))
check(p.returncode == 2 and p.stderr.count("streem") == 1, f"bad probe mode on 2 ranks: {p.returncode} {p.stderr}")
check(not os.path.exists(os.path.join(TMP, "bad")), "a bad option should write nothing")
p = mpirun(2, mlp(os.path.join(TMP, "epoch-2"), 3, ("--sched", "cgalr-top", "--lr", "0.05")))
check(p.returncode == 3 or p.returncode == 1 or p.returncode == 2, f"existing run: exit {p.returncode}")
check(p.stderr.count("already holds a run") == 1 and "MPI_ABORT" not in p.stderr,
      f"existing run: the message once, no rank aborted: {p.stderr}")

# 5. resume where rank 1 cannot see the run directory (each rank in its own working directory,
#    a relative --out): the job ends with the reason; rank 1 writes nothing
wa, wb = os.path.join(TMP, "wa"), os.path.join(TMP, "wb")
os.makedirs(wa)
os.makedirs(wb)
args = mlp("r", 8, LONG)
rc, err, done = interrupt_after([BIN, *args], "r", 1, cwd=wa)
check(rc != 0 and done < 8, f"single-process run to resume: exit {rc}, {done} epochs, {err}")
args = args + ["--resume"]
p = subprocess.run([MPIRUN, "-np", "1", "-wdir", wa, BIN, *args, ":", "-np", "1", "-wdir", wb, BIN, *args],
                   capture_output=True, text=True, env=ENV, timeout=300)
check(p.returncode != 0 and "every rank shares" in p.stderr, f"unshared directory: {p.returncode} {p.stderr}")
check(not os.listdir(wb), f"rank 1 wrote into its own directory: {os.listdir(wb)}")
# mpirun may return while the killed ranks are still going (ASan makes their exit slow): the
# run's lock names its holder until it is gone
t0 = time.time()
while time.time() - t0 < 60:
    p = run("train", "--out", os.path.join(wa, "r"), "--resume", "--quiet")
    if "being written by a running process" not in p.stderr:
        break
    time.sleep(0.5)
check(p.returncode == 0 and len(lines(os.path.join(wa, "r"))) == 8, f"rank 0's run should resume: {p.stderr}")

finish()
