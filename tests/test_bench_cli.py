"""`cgalr bench`: every section reports finite positive times for the kernels it names, the JSON
form is valid and consistent (rate = items / time), and bad options are refused with exit 2 and
a message naming the option, before any work."""
import json
import math
import os
import subprocess
import sys

BIN = os.environ["CGALR_BIN"]


def run(*args):
    return subprocess.run([BIN, "bench", *args], capture_output=True, text=True, timeout=600)


def main():
    r = run("--quick", "--seconds", "0.01", "--json")
    assert r.returncode == 0, r.stderr
    rows = json.loads(r.stdout)
    sections = {x["section"] for x in rows}
    assert sections == {"topo", "rips", "dgm", "ctrl", "nn"}, sections
    for x in rows:
        assert math.isfinite(x["ms"]) and x["ms"] > 0, x
    whats = " | ".join(x["what"] for x in rows)
    for needle in ("connectome N=1024 P=128", "TOP step", "Rips H0+H1", "exact W1", "sliced Wasserstein",
                   "cgalr-top step", "cgalr-wd step", "cgalr-swk step", "mlp train step", "gin train step"):
        assert needle in whats, (needle, whats)
    for x in rows:
        if x.get("unit") == "images/s":
            assert abs(x["rate"] - 128 / (x["ms"] / 1e3)) <= 1e-3 * x["rate"], x
        if x.get("unit") == "graphs/s":
            assert abs(x["rate"] - 32 / (x["ms"] / 1e3)) <= 1e-3 * x["rate"], x
        if x.get("unit") == "GFLOP/s":
            assert abs(x["rate"] - 1024 * 128 * 129 / (x["ms"] / 1e3) / 1e9) <= 1e-3 * x["rate"], x

    r = run("--only", "ctrl", "--quick", "--seconds", "0.01")
    assert r.returncode == 0, r.stderr
    lines = [l for l in r.stdout.splitlines() if l.startswith("  ")]
    assert lines and all(l.split()[0] == "ctrl" for l in lines), r.stdout

    for args, needle in ((["--only", "topo,nope"], "nope"), (["--threads", "0"], "--threads"),
                         (["--seconds", "nan"], "--seconds"), (["--bogus"], "--bogus"), (["extra"], "extra"),
                         (["--only", ""], "--only")):
        r = run(*args)
        assert r.returncode == 2, (args, r.returncode, r.stdout, r.stderr)
        assert needle in r.stderr, (args, r.stderr)
        assert r.stdout == "", (args, r.stdout)

    r = run("--help")
    assert r.returncode == 0 and "usage: cgalr bench" in r.stdout
    print("bench cli ok:", len(rows), "measurements")


if __name__ == "__main__":
    sys.exit(main())
