"""The connectome accumulator (src/topo/connectome.c) against numpy.corrcoef on the concatenated
rows, within 1e-12: batches of uneven sizes, dead units, a constant signal that becomes alive,
float input, the dense form, a save/load in mid-stream (bit-identical), and 10^6 rows of
large-mean data, the case where sums of raw values lose every digit (checked to be so here: the
naive formula is also computed and must fail, so the case discriminates); then the sliding-set
form: thousands of single-row replacements, a signal that dies row by row, a dead signal revived,
a save/load between replacements, a non-finite replacement."""
import os
import subprocess
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from topo_ref import ref_connectome  # noqa: E402

TOOL = os.path.join(os.environ["CGALR_TOOLS"], "tool_topo_acc")
TMP = os.environ["CGALR_TMP"]
os.makedirs(TMP, exist_ok=True)
failures = []


def check(cond, msg):
    if not cond:
        failures.append(msg)
        print("FAIL:", msg)


def run(name, a, sizes, *opts):
    n, p = a.shape
    src = os.path.join(TMP, name + ".in")
    dst = os.path.join(TMP, name + ".out")
    np.ascontiguousarray(a, dtype=np.float64).tofile(src)
    r = subprocess.run([TOOL, src, str(n), str(p), ",".join(map(str, sizes)), dst, *opts],
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"{name}: tool_topo_acc exit {r.returncode}: {r.stderr}")
    m = np.fromfile(dst, dtype=np.float64).reshape(p, p)
    os.remove(src)
    return m


def compare(name, a, sizes, *opts, tol=1e-12):
    m = run(name, a, sizes, *opts)
    ref = ref_connectome(a.astype(np.float32).astype(np.float64) if "--float" in opts else a)
    err = np.max(np.abs(m - ref))
    check(err <= tol, f"{name}: max |M - corrcoef| = {err:.3g} > {tol}")
    check(np.array_equal(m, m.T), f"{name}: not symmetric")
    print(f"{name}: n={a.shape[0]} p={a.shape[1]} max err {err:.3g}")
    return m


rng = np.random.default_rng(12)


def correlated(n, p, offset=0.0):
    f = rng.standard_normal((n, 3))
    a = 0.8 * f[:, np.arange(p) % 3] + rng.standard_normal((n, p))
    return a + offset * (1 + np.arange(p))


uneven = [1, 7, 300, 2, 33, 256, 257, 1000, 3]
a = correlated(3000, 40, offset=3.0)
m_stream = compare("uneven", a, uneven)
compare("uneven-float", a, uneven, "--float")
m_dense = compare("dense", a, [1], "--dense")
compare("dense-float", a, [1], "--dense", "--float")
m_saved = run("saved", a, uneven, "--save-at", "4")
check(np.array_equal(m_saved, m_stream), "save/load in mid-stream: not bit-identical to the unbroken stream")

# dead units: exactly constant signals, one not representable in binary, one zero
d = correlated(2000, 12)
d[:, 2] = 0.1
d[:, 5] = -7.0
d[:, 9] = 0.0
m = compare("dead", d, [32, 17, 5])
check(np.all(m[[2, 5, 9], :] == 0) and np.all(m[:, [2, 5, 9]] == 0), "dead: dead units not exactly 0")

# a constant signal that becomes alive: constant over many whole batches, then varying
c = correlated(4000, 10, offset=100.0)
c[:2500, 3] = 123.25
c[:3100, 7] = -0.3
m = compare("becomes-alive", c, [32, 64, 250])
check(np.all(m[3, [0, 1, 2, 4, 5, 6, 8, 9]] > 0), "becomes-alive: the revived signal still reads as dead")
# and still dead when the stream stops before it moves
compare("still-dead", c[:2400], [32, 64, 250])

# 10^6 rows of large-mean data (mean 1e8, unit noise): naive sums of squares near 1e22 hold
# nothing of a variance of 1e6 in total
n, p = 1_000_000, 6
big = correlated(n, p) + 1e8
m = compare("large-mean", big, [32, 7, 128])
s = big.sum(axis=0)
q = big.T @ big
cov = (q - np.outer(s, s) / n)
with np.errstate(invalid="ignore", divide="ignore"):
    sd = np.sqrt(np.abs(np.diag(cov)))
    naive = np.nan_to_num(np.abs(cov / np.outer(sd, sd)), nan=0.0)
np.fill_diagonal(naive, 0.0)
naive_err = np.max(np.abs(naive - ref_connectome(big)))
print(f"large-mean: the naive formula's error is {naive_err:.3g}")
check(naive_err > 1e-6, f"large-mean: the naive formula is accurate ({naive_err:.3g}): the case does not discriminate")

# ---- the sliding-set form: rows replaced one at a time (inline probe rows under --ctrl-every) ----
def run_replace(name, a, reps, *opts):
    """a: the initial set; reps: list of (row index, new row). The oracle applies the same
    replacements to the float32 rows and takes corrcoef of the final set."""
    n, p = a.shape
    src, dst, rp = (os.path.join(TMP, name + e) for e in (".in", ".out", ".rep"))
    np.ascontiguousarray(a, dtype=np.float64).tofile(src)
    np.array([[i, *r] for i, r in reps], dtype=np.float64).tofile(rp)
    r = subprocess.run([TOOL, src, str(n), str(p), "64", dst, "--replace", rp, str(len(reps)), *opts],
                       capture_output=True, text=True)
    if r.returncode != 0:
        return None, None, r
    m = np.fromfile(dst, dtype=np.float64).reshape(p, p)
    cur = a.astype(np.float32).astype(np.float64)
    for i, row in reps:
        cur[i] = np.float32(row)
    return m, cur, r


def compare_replace(name, a, reps, *opts, tol=1e-12):
    m, cur, r = run_replace(name, a, reps, *opts)
    check(m is not None, f"{name}: tool exit {r.returncode}: {r.stderr}")
    if m is None:
        return None, r
    err = np.max(np.abs(m - ref_connectome(cur)))
    check(err <= tol, f"{name}: max |M - corrcoef| = {err:.3g} > {tol}")
    print(f"{name}: {len(reps)} replacements, {r.stdout.strip()}, max err {err:.3g}")
    return m, r


# 5,000 replacements into a 1,024-row set of large-mean data (the probe set's shape): each one is
# a downdate, and the rebuild every n replacements keeps the error at the dense form's level
base = correlated(1024, 40, offset=1e3)
new = correlated(5000, 40, offset=1e3) * 1.3
reps = [(int(i), new[k]) for k, i in enumerate(rng.integers(0, 1024, 5000))]
m_rep, r = compare_replace("replace", base, reps)
check(r.stdout.strip() == "rebuilds 4", f"replace: expected a rebuild every 1024 replacements: {r.stdout}")
m_rep_saved, _, r2 = run_replace("replace-saved", base, reps, "--save-at", "2500")
check(m_rep is not None and m_rep_saved is not None and np.array_equal(m_rep, m_rep_saved) and r2.stdout == r.stdout,
      "replace: a save/load between replacements is not bit-identical to the unbroken run")
# a signal dying row by row (a ReLU unit switching off): once every row is 0 it must read as
# exactly dead, which only a rebuild can tell; the fall of its variance is what triggers it
# (fewer replacements than rows, so only the variance rule can ask for the rebuild)
dying = correlated(300, 8)
dying[:200, 4] = 0.0
reps = []
for k, i in enumerate(200 + rng.permutation(100)):
    row = correlated(1, 8)[0]
    row[4] = 0.0
    reps.append((int(i), row))
m, r = compare_replace("dying", dying, reps)
check(m is not None and np.all(m[4] == 0) and np.all(m[:, 4] == 0), "dying: a signal 0 in every row is not dead")
check(r.stdout.strip() != "rebuilds 0", f"dying: no rebuild: {r.stdout}")
# and a dead signal revived by one replacement
dead = correlated(200, 6)
dead[:, 2] = 0.5
row = correlated(1, 6)[0]
m, r = compare_replace("revived", dead, [(7, row)])
check(m is not None and np.all(m[2, [0, 1, 3, 4, 5]] > 0), "revived: a signal alive in one row still reads as dead")
# a non-finite replacement is refused, naming it
bad = correlated(1, 6)[0]
bad[3] = np.nan
m, cur, r = run_replace("nan", dead, [(0, bad)])
check(m is None and r.returncode == 1 and "column 3" in r.stderr, f"nan replacement: {r.returncode} {r.stderr}")

if failures:
    print(f"{len(failures)} failure(s)")
    sys.exit(1)
print("ok")
