"""Benchmark: cgalr's Vietoris-Rips persistence (dims 0 and 1, full filtration) against the Debian
`ripser` command on the same correlation-distance matrices sqrt(1 - |corr|) of random activations
(N = 1024 samples, P signals), in one run; prints times and ratios.
Both are timed the same way: the whole process (start, reading the text matrix, computing, printing),
best of --repeat runs, as wall-clock time and as CPU time (user + system of the child, steadier on
a busy machine); cgalr's in-process compute time (wall, no I/O) is printed beside it.
Usage: /usr/bin/python3 bench/bench_rips.py [BUILD_DIR] [--sizes 64,128,256] [--repeat R] [--n 1024]
(BUILD_DIR defaults to build; the helper is BUILD_DIR/tests/tool_topo_rips, or $CGALR_TOOLS)."""
import os
import resource
import subprocess
import sys
import tempfile
import time

import numpy as np


def corr_distance(rng, n, p):
    act = rng.standard_normal((n, p))
    m = np.abs(np.corrcoef(act, rowvar=False))
    np.fill_diagonal(m, 1.0)
    d = np.sqrt(np.clip(1.0 - m, 0.0, None))
    np.fill_diagonal(d, 0.0)
    return d


def timed(cmd):
    """(wall seconds, CPU seconds of the child, result)."""
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    res = subprocess.run(cmd, check=True, capture_output=True, text=True)
    wall = time.perf_counter() - t
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime), res


def h1_count_ripser(out):
    lines = out.splitlines()
    start = next(i for i, s in enumerate(lines) if s.startswith("persistence intervals in dim 1"))
    return sum(1 for s in lines[start + 1:] if s.strip().startswith("["))


def main():
    args = sys.argv[1:]
    build, sizes, repeat, n = "build", [64, 128, 256], 3, 1024
    i = 0
    while i < len(args):
        if args[i] == "--sizes":
            sizes = [int(x) for x in args[i + 1].split(",")]
            i += 2
        elif args[i] == "--repeat":
            repeat = int(args[i + 1])
            i += 2
        elif args[i] == "--n":
            n = int(args[i + 1])
            i += 2
        else:
            build = args[i]
            i += 1
    tools = os.environ.get("CGALR_TOOLS", os.path.join(build, "tests"))
    tool = os.path.join(tools, "tool_topo_rips")
    if not os.access(tool, os.X_OK):
        sys.exit(f"bench_rips: {tool} not found: build the tool_topo_rips target first")
    rng = np.random.default_rng(2026)
    tmp = tempfile.mkdtemp(prefix="bench_rips_")
    print(f"Rips persistence dims 0-1, D = sqrt(1 - |corr|) of {n} x P Gaussian activations")
    print("times: whole process incl. reading the text matrix, best of runs; compute = cgalr in-process")
    print(f"{'P':>5} {'H1 pairs':>9} | {'wall: cgalr':>11} {'(compute)':>10} {'ripser':>9} {'ratio':>7} |"
          f" {'cpu: cgalr':>10} {'ripser':>9} {'ratio':>7}")
    for p in sizes:
        path = os.path.join(tmp, f"corr{p}.txt")
        np.savetxt(path, corr_distance(rng, n, p), fmt="%.17g")
        reps = repeat if p <= 128 else max(1, repeat // 3)
        inf = float("inf")
        best_c, best_in, best_r, cpu_c, cpu_r = inf, inf, inf, inf, inf
        for _ in range(reps):
            t, cpu, res = timed([tool, "--dim", "1", "--time", path])
            best_c, cpu_c = min(best_c, t), min(cpu_c, cpu)
            best_in = min(best_in, float(res.stderr.split()[3]))
            n1 = sum(1 for s in res.stdout.splitlines() if s.startswith("1 "))
            t, cpu, rres = timed(["ripser", "--format", "distance", "--dim", "1", "--threshold", "10", path])
            best_r, cpu_r = min(best_r, t), min(cpu_r, cpu)
            nr = h1_count_ripser(rres.stdout)
        flag = "" if n1 == nr else f"  (ripser found {nr} H1 pairs!)"
        print(f"{p:>5} {n1:>9} | {best_c:>11.4f} {best_in:>10.4f} {best_r:>9.4f} {best_c / best_r:>7.3f} |"
              f" {cpu_c:>10.4f} {cpu_r:>9.4f} {cpu_c / max(cpu_r, 1e-9):>7.3f}{flag}")
    print("ratio = cgalr / ripser (whole process, seconds); <= 1.0 means cgalr is at least as fast")


main()
