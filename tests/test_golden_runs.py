"""Golden runs, one per model (mlp, cnn, resnet20 and gin, each under CG-ALR so the controller's
trace is in them): a short run's metrics.jsonl, timing fields aside, against the copy committed
in tests/golden/. A refactor that changes what a run computes fails here. The learning rate,
every number must be the same. Short runs are chaotic (another CPU's BLAS kernels round a batch's
matrix products differently by 1e-7, and a few epochs turn that into a different gin), so the
runs pin the kernels: OpenBLAS's Haswell kernels (OPENBLAS_CORETYPE) and the engine's AVX2 ones
(CGALR_ISA), which any AVX2 CPU runs with the same instructions, one thread. Skipped, with a
message, on a CPU without AVX2.
Regenerate the files only for a change meant to alter results, and say so in the commit:
    CGALR_BIN=build/cgalr CGALR_DATA=../shared/data /usr/bin/python3 tests/test_golden_runs.py --update"""
import json
import os
import sys

from runlib import check, finish, metrics_without_timing, run, scratch

GOLDEN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "golden")
TMP = scratch(os.path.join(os.getcwd(), "test-tmp", "test_golden_runs"))
RUNS = {
    "mlp": ["--data", "fashion-mnist", "--model", "mlp", "--limit", "1000", "--batch", "64", "--epochs", "3",
            "--sched", "cgalr-top", "--lr", "0.05"],
    "cnn": ["--data", "fashion-mnist", "--model", "cnn", "--limit", "400", "--batch", "64", "--epochs", "2",
            "--sched", "cgalr-swk", "--lr", "0.01"],
    "resnet20": ["--data", "cifar10", "--model", "resnet20", "--limit", "200", "--batch", "64", "--epochs", "2",
                 "--augment", "--sched", "cgalr-top", "--lr", "0.1"],
    "gin": ["--data", "mutag", "--model", "gin", "--folds", "10", "--fold", "3", "--batch", "32", "--epochs", "6",
            "--sched", "cgalr-top", "--lr", "0.001"],
}
update = "--update" in sys.argv
if "avx2" not in open("/proc/cpuinfo").read():
    print("SKIP: this CPU has no AVX2; the golden runs pin the AVX2 kernels")
    sys.exit(0)
os.environ["OPENBLAS_CORETYPE"] = "Haswell"
os.environ["CGALR_ISA"] = "avx2"
os.environ["OPENBLAS_NUM_THREADS"] = "1"


for name, opts in RUNS.items():
    out = os.path.join(TMP, name)
    p = run("train", *opts, "--threads", "1", "--quiet", "--out", out)
    check(p.returncode == 0, f"{name}: exit {p.returncode}: {p.stderr}")
    if p.returncode != 0:
        continue
    got = metrics_without_timing(os.path.join(out, "metrics.jsonl"))
    gold = os.path.join(GOLDEN, name + ".jsonl")
    if update:
        os.makedirs(GOLDEN, exist_ok=True)
        with open(gold, "w") as f:
            for o in got:
                f.write(json.dumps(o, sort_keys=True) + "\n")
        print(f"wrote {gold}")
        continue
    want = metrics_without_timing(gold)
    check(len(got) == len(want), f"{name}: {len(got)} epochs, golden {len(want)}")
    for g, w in zip(got, want):
        check(g == w, f"{name}: epoch {w.get('epoch')}: {json.dumps(g, sort_keys=True)} against the golden "
                      f"{json.dumps(w, sort_keys=True)}")
finish()
