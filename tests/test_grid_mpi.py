"""`cgalr grid` under Open MPI (issue 17): `mpirun -np 2` makes the same run directories with the
same metrics (timing fields aside) as the local grid; more ranks than runs is fine; SIGKILL of a
worker rank in the middle, then the same command again, completes the grid with the same
results; a rank that cannot see the grid directory hands its run back and the grid completes on
the others; a command that runs on one process only is refused once on several ranks. Skipped, with a message, when
the tool was built without MPI or mpirun is missing. MUTAG with gin: each run is a second or
less."""
import json
import os
import shutil
import signal
import subprocess
import sys
import time

from runlib import BIN, check, finish, mpi_or_skip, metrics_without_timing, run, scratch

TMP = scratch(os.path.join(os.getcwd(), "test-tmp", "test_grid_mpi"))
MPIRUN, ENV = mpi_or_skip()


def grid_args(out, methods="constant,cgalr-top,dog", epochs=3, extra=()):
    return ["grid", "--data", "mutag", "--model", "gin", "--methods", methods, "--lrs", "0.1,0.01", "--seeds",
            "0", "--epochs", str(epochs), "--batch", "16", "--threads", "1", "--out", out, *extra]


def mpirun(np, args, cwd=None, timeout=600):
    return subprocess.run([MPIRUN, "-np", str(np), BIN, *args], capture_output=True, text=True, env=ENV, cwd=cwd,
                          timeout=timeout)


def runs_of(d):
    return sorted(x for x in os.listdir(d) if os.path.isdir(os.path.join(d, x)))


def summary_without_timing(path):
    o = json.load(open(path))
    for k in list(o):
        if "seconds" in k or k == "ctrl_share":
            o.pop(k)
    return o


def same_results(a, b, what):
    ra, rb = runs_of(a), runs_of(b)
    check(ra == rb and ra, f"{what}: run directories differ: {ra} vs {rb}")
    for r in ra:
        if r not in rb:
            continue
        ma = metrics_without_timing(os.path.join(a, r, "metrics.jsonl"), missing_ok=True)
        mb = metrics_without_timing(os.path.join(b, r, "metrics.jsonl"), missing_ok=True)
        check(ma == mb and ma, f"{what}: {r}: metrics.jsonl differs (timing aside)")
        ca = json.load(open(os.path.join(a, r, "config.json")))
        cb = json.load(open(os.path.join(b, r, "config.json")))
        ca.pop("out", None)
        cb.pop("out", None)
        check(ca == cb, f"{what}: {r}: config.json differs")
        sa = summary_without_timing(os.path.join(a, r, "summary.json"))
        sb = summary_without_timing(os.path.join(b, r, "summary.json"))
        sa.pop("out", None)
        sb.pop("out", None)
        check(sa == sb, f"{what}: {r}: summary.json differs: {sa} vs {sb}")


# 1. the local grid, the reference
local = os.path.join(TMP, "local")
p = run(*grid_args(local))
check(p.returncode == 0, f"local grid: {p.returncode} {p.stderr}")

# 2. the same grid on two ranks: both ranks run, rank 0 reports, the files are the same
two = os.path.join(TMP, "two")
p = mpirun(2, grid_args(two))
check(p.returncode == 0, f"mpirun -np 2 grid: {p.returncode} {p.stdout} {p.stderr}")
check("on 2 ranks x 1 job" in p.stdout, f"rank 0 should announce the ranks: {p.stdout}")
check("[rank 1]" in p.stdout and "[rank 0]" in p.stdout, f"both ranks should run some: {p.stdout}")
check(p.stdout.count("done ") == 5 and "5 done" in p.stdout, f"5 runs done, reported once: {p.stdout}")
check(p.stdout.count("grid " + two + ":") == 2, f"one plan line and one summary line (rank 0 only): {p.stdout}")
same_results(local, two, "np 2")
check(os.path.exists(os.path.join(two, "grid.json")), "grid.json written by rank 0")
# rerun: everything is skipped
p = mpirun(2, grid_args(two))
check(p.returncode == 0 and "5 skipped" in p.stdout, f"rerun under mpirun should skip all: {p.stdout} {p.stderr}")

# 3. more ranks than runs: the spare ranks get nothing and leave
three = os.path.join(TMP, "three")
p = mpirun(3, grid_args(three, methods="constant", extra=("--lrs", "0.01")))
check(p.returncode == 0 and "1 done" in p.stdout, f"np 3, one run: {p.returncode} {p.stdout} {p.stderr}")

# 4. a bad option: refused once (rank 0), every rank leaves with the usage code
p = mpirun(2, grid_args(os.path.join(TMP, "bad"), extra=("--epochs", "0")))
check(p.returncode == 2, f"bad option under mpirun: exit {p.returncode}")
check(p.stderr.count("--epochs") == 1, f"the message once, not once per rank: {p.stderr}")

# 5. a command that runs on one process only, on two ranks: refused with a message, once
# (data-parallel `cgalr train` is tests/test_train_mpi.py's)
p = mpirun(2, ["report", os.path.join(TMP, "local")])
check(p.returncode == 2 and p.stderr.count("run on several ranks") == 1,
      f"report under mpirun: {p.returncode} {p.stderr}")

# 6. SIGKILL of the worker rank while it runs something: the job dies, the same command resumes it
killed = os.path.join(TMP, "killed")
ref = os.path.join(TMP, "ref-long")
LONG = dict(methods="constant,cgalr-top", epochs=40)
p = run(*grid_args(ref, **LONG))
check(p.returncode == 0, f"local long grid: {p.stderr}")
proc = subprocess.Popen([MPIRUN, "-np", "2", BIN, *grid_args(killed, **LONG)], stdout=subprocess.PIPE,
                        stderr=subprocess.PIPE, text=True, env=ENV)


def worker_pid():
    """The pid of rank 1's cgalr grid process (its environment names its rank)."""
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            cmd = open(f"/proc/{d}/cmdline", "rb").read().split(b"\0")
            env = open(f"/proc/{d}/environ", "rb").read().split(b"\0")
        except OSError:
            continue
        if len(cmd) > 1 and cmd[0] == BIN.encode() and cmd[1] == b"grid" and b"OMPI_COMM_WORLD_RANK=1" in env \
                and killed.encode() in b" ".join(cmd):
            return int(d)
    return None


victim, t0 = None, time.time()
while time.time() - t0 < 60 and proc.poll() is None:
    victim = worker_pid()
    # wait until rank 1's run has written an epoch, so that the kill lands in the middle of it
    busy = [r for r in (os.listdir(killed) if os.path.isdir(killed) else [])
            if os.path.exists(os.path.join(killed, r, "metrics.jsonl"))]
    if victim and busy:
        break
    time.sleep(0.05)
check(victim is not None, "rank 1's process should be found")
if victim:
    os.kill(victim, signal.SIGKILL)
out, err = proc.communicate(timeout=120)
check(proc.returncode != 0, f"mpirun after a rank was killed should fail: {proc.returncode} {out}")
p = mpirun(2, grid_args(killed, **LONG))
check(p.returncode == 0, f"rerun after the kill: {p.returncode} {p.stdout} {p.stderr}")
same_results(ref, killed, "after SIGKILL of rank 1 and a rerun")

# 7. a rank that does not see --out (two working directories, a relative --out): its run goes back
#    to the queue, rank 0 runs everything, the grid completes; the reason is printed
wa, wb = os.path.join(TMP, "wa"), os.path.join(TMP, "wb")
os.makedirs(wa)
os.makedirs(wb)
args = grid_args("g", methods="constant")
p = subprocess.run([MPIRUN, "-np", "1", "-wdir", wa, BIN, *args, ":", "-np", "1", "-wdir", wb, BIN, *args],
                   capture_output=True, text=True, env=ENV, timeout=300)
check(p.returncode == 0 and "2 done" in p.stdout, f"unshared directory: {p.returncode} {p.stdout} {p.stderr}")
check("rank 1 cannot see g" in p.stdout and "every rank sees" in p.stderr,
      f"the reason should be named: {p.stdout} {p.stderr}")
check(not os.listdir(wb), f"rank 1 should have written nothing in its own directory: {os.listdir(wb)}")

finish()
