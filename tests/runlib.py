"""Scaffolding shared by the script tests that drive the cgalr tool end to end (a module, not a
test: only tests/test_*.py are registered). Importing it reads the test environment of
cmake/tests.cmake and points CGALR_DATA at ../shared/data, where TU/MUTAG is."""
import json
import os
import shutil
import subprocess
import sys

BIN = os.environ["CGALR_BIN"]
SAN = os.environ.get("CGALR_SANITIZED", "0") == "1"
if os.environ.get("CGALR_SHARED") and "CGALR_DATA" not in os.environ:
    os.environ["CGALR_DATA"] = os.path.join(os.environ["CGALR_SHARED"], "data")
failures = []


def scratch(default):
    """The test's empty scratch directory: CGALR_TMP, else `default`."""
    tmp = os.environ.get("CGALR_TMP", default)
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    return tmp


def check(cond, msg):
    if not cond:
        failures.append(msg)
        print("FAIL:", msg, flush=True)


def run(*args, **kw):
    return subprocess.run([BIN, *args], capture_output=True, text=True, timeout=600, **kw)


def metrics_without_timing(path, missing_ok=False):
    """The records of a metrics.jsonl without its timing fields (which differ between reruns)."""
    if missing_ok and not os.path.exists(path):
        return []
    out = []
    for line in open(path):
        o = json.loads(line)
        o.pop("seconds", None)
        o.pop("ctrl_seconds", None)
        out.append(o)
    return out


def mpi_or_skip():
    """mpirun and the environment the MPI tests run it with; exits with a SKIP line when the tool
    was built without MPI or there is no mpirun."""
    version = run("--version").stdout
    mpirun = shutil.which("mpirun")
    if "MPI: yes" not in version or not mpirun:
        print(f"SKIP: cgalr built without MPI ({version.strip()}) or no mpirun on PATH")
        sys.exit(0)
    env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
               OMPI_MCA_rmaps_base_oversubscribe="1", OMPI_MCA_btl="self,vader", OMPI_MCA_plm="isolated",
               OMPI_MCA_btl_vader_single_copy_mechanism="none")
    # ASan reports Open MPI's own allocations at exit as leaks (they are not ours): suppressed by
    # their stacks, which the fast unwinder cuts short at the components Open MPI loads and unloads
    env["LSAN_OPTIONS"] = "suppressions=" + os.path.join(os.path.dirname(os.path.abspath(__file__)), "lsan_mpi.supp")
    if env.get("ASAN_OPTIONS") is not None or os.environ.get("CGALR_SANITIZED") == "1":
        env["ASAN_OPTIONS"] = env.get("ASAN_OPTIONS", "") + ":fast_unwind_on_malloc=0"
    return mpirun, env


def finish():
    if failures:
        print(f"{len(failures)} failures")
        sys.exit(1)
    print("ok")
