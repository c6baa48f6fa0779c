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


def finish():
    if failures:
        print(f"{len(failures)} failures")
        sys.exit(1)
    print("ok")
