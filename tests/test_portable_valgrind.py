"""The default build is portable: a short `cgalr train` (mlp on 128 Fashion-MNIST images, 1 epoch,
CG-ALR with its topology probe: data loading, the engine, the probe's persistence and the
controller) runs to the end under Debian's valgrind (memcheck), about 15 s. A -march=native build
dies there with SIGILL at its first AVX-512 instruction (valgrind emulates a CPU with AVX2 at
most, and reports that to the run-time dispatch of src/nn/isa.c), and memcheck fails the run on
any invalid read or write or use of uninitialised memory. On that CPU CGALR_ISA=avx512 is refused. (A cnn takes minutes under valgrind; the
convolution kernels' paths are checked against PyTorch by tests/test_nn_paths.sh.) Skipped
without valgrind and under ASan (valgrind cannot run a sanitized binary)."""
import json
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from runlib import BIN, SAN, check, finish, scratch  # noqa: E402

VALGRIND = shutil.which("valgrind") or ("/usr/bin/valgrind" if os.path.exists("/usr/bin/valgrind") else None)
if not VALGRIND:
    print("SKIP: valgrind is not installed (scripts/deps.sh installs it)")
    sys.exit(0)
if SAN:
    print("SKIP: valgrind cannot run an AddressSanitizer build; the Release build runs this test")
    sys.exit(0)

TMP = scratch("/tmp/cgalr-test-portable-valgrind")
ERR = 99  # valgrind's exit status when memcheck found an error


def vg_train(name, model, env_extra):
    out = os.path.join(TMP, name)
    log = os.path.join(TMP, name + ".valgrind")
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", **env_extra)
    cmd = [VALGRIND, "--error-exitcode=%d" % ERR, "--log-file=" + log, BIN, "train", "--data", "fashion-mnist",
           "--model", model, "--sched", "cgalr-top", "--lr", "0.05", "--epochs", "1", "--limit", "128", "--batch",
           "32", "--probe", "32", "--threads", "1", "--seed", "3", "--quiet", "--out", out]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=240, env=env)
    text = open(log).read() if os.path.exists(log) else ""
    tag = f"{name} ({' '.join(f'{k}={v}' for k, v in env_extra.items()) or 'default ISA'})"
    check(p.returncode == 0, f"{tag}: exit {p.returncode} under valgrind (-4: killed by SIGILL, {ERR}: memcheck errors); "
          f"stderr: {p.stderr[-2000:]}\nvalgrind log tail:\n{text[-3000:]}")
    for bad in ("Illegal opcode", "unhandled instruction", "Invalid read", "Invalid write",
                "uninitialised value", "Process terminating"):
        check(bad not in text, f"{tag}: valgrind reports '{bad}':\n{text[-3000:]}")
    check("ERROR SUMMARY: 0 errors" in text, f"{tag}: no clean ERROR SUMMARY in the valgrind log:\n{text[-2000:]}")
    # the run finished: its summary and the one epoch's metrics line are there
    summ = os.path.join(out, "summary.json")
    check(os.path.exists(summ), f"{tag}: no summary.json")
    rows = [json.loads(line) for line in open(os.path.join(out, "metrics.jsonl"))] \
        if os.path.exists(os.path.join(out, "metrics.jsonl")) else []
    check(len(rows) == 1 and rows[0].get("epoch") in (0, 1), f"{tag}: metrics.jsonl rows {rows}")
    if rows:
        check(isinstance(rows[0].get("train_loss"), float) and rows[0]["train_loss"] == rows[0]["train_loss"],
              f"{tag}: train_loss {rows[0].get('train_loss')}")
    return rows


vg_train("mlp", "mlp", {})

# valgrind's CPU has no AVX-512: forcing it there is refused with a message (exit 2), not a SIGILL
p = subprocess.run([VALGRIND, "-q", BIN, "train", "--data", "fashion-mnist", "--model", "mlp", "--sched", "constant",
                    "--epochs", "1", "--limit", "8", "--quiet", "--out", os.path.join(TMP, "avx512")],
                   capture_output=True, text=True, timeout=240, env=dict(os.environ, CGALR_ISA="avx512"))
check(p.returncode == 2 and "CGALR_ISA=avx512: this CPU does not support it (best here: avx2)" in p.stderr,
      f"CGALR_ISA=avx512 under valgrind: exit {p.returncode}, stderr {p.stderr[-1500:]}")
finish()
