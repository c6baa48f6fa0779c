"""The adaptive methods on the command line: every name in --help, the grid running the
parameter-free ones (prodigy, dadapt-*) once per seed and Schedule-Free at every grid rate, the
report ordering and counting them, and bad option values refused with exit 2 and a message naming
the option."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from runlib import check, finish, run, scratch  # noqa: E402

TMP = scratch("/tmp/cgalr-test-adapt-cli")
NEW = ("prodigy", "dadapt-sgd", "dadapt-adam", "sf-sgd", "sf-adamw")

for cmd in ("train", "grid"):
    p = run(cmd, "--help")
    for m in NEW:
        check(m in p.stdout, f"cgalr {cmd} --help does not list {m}")

out = os.path.join(TMP, "grid")
p = run("grid", "--data", "mutag", "--model", "gin", "--methods", ",".join(NEW), "--lrs", "0.1,0.01",
        "--seeds", "0,1", "--epochs", "2", "--out", out, "--dry-run")
check(p.returncode == 0, f"grid --dry-run: {p.returncode} {p.stderr}")
dirs = sorted(os.path.basename(line.split()[0]) for line in p.stdout.splitlines() if line.strip())
want = sorted([f"{m}_s{s}" for m in ("prodigy", "dadapt-sgd", "dadapt-adam") for s in (0, 1)] +
              [f"{m}_lr{lr}_s{s}" for m in ("sf-sgd", "sf-adamw") for lr in ("0.1", "0.01") for s in (0, 1)])
check(dirs == want, f"grid runs {dirs}, expected {want}")

base = ["train", "--data", "mutag", "--model", "gin", "--out", os.path.join(TMP, "x"), "--check"]
for method, opt, name in (("prodigy", "d0=0", "d0"), ("dadapt-adam", "beta2=1", "beta2"),
                          ("dadapt-sgd", "growth_rate=0.5", "growth_rate"), ("sf-sgd", "momentum=0", "momentum"),
                          ("sf-adamw", "sf_warmup=2", "sf_warmup"), ("prodigy", "beta3=x", "beta3"),
                          ("sf-adamw", "eps=-1", "eps")):
    p = run(*base, "--sched", method, "--sched-opt", opt)
    check(p.returncode == 2 and name in p.stderr, f"{method} --sched-opt {opt}: exit {p.returncode}, {p.stderr!r}")
p = run(*base, "--sched", "sf-sgd", "--lr", "0")
check(p.returncode == 2 and "--lr" in p.stderr, f"sf-sgd --lr 0: exit {p.returncode}, {p.stderr!r}")
for m in NEW:
    p = run(*base, "--sched", m)
    check(p.returncode == 0, f"{m} --check: exit {p.returncode}, {p.stderr!r}")

# a real two-epoch grid of two of them, then the report sees both
p = run("grid", "--data", "mutag", "--model", "gin", "--methods", "prodigy,sf-sgd", "--lrs", "0.01",
        "--seeds", "0", "--epochs", "2", "--out", out, "--", "--batch", "32")
check(p.returncode == 0, f"grid: {p.returncode} {p.stderr}")
p = run("report", out)
check(p.returncode in (0, 1), f"report: {p.returncode} {p.stderr}")
md = open(os.path.join(out, "report.md")).read() if os.path.exists(os.path.join(out, "report.md")) else ""
check("prodigy" in md and "sf-sgd" in md, "report.md lacks prodigy or sf-sgd")
finish()
