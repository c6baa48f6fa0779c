"""python/cgalr (ctypes over libcgalr) and cgalr.torch.ConnectomeLR inside a PyTorch loop:
the NumPy functions against NumPy oracles (|Pearson| connectome, maximum-spanning-tree barcode
written here), d_t of the controller against TOP of connectomes computed here from hooked
activations, the rate sequence against the C scheduler driven by tests/tool_ctrl_sched with the
same distances, per-group rates, a state_dict round trip mid-run, and bad arguments."""
import math
import os
import subprocess
import sys

SRC = os.environ.get("CGALR_SRC", os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.environ.get("CGALR_BIN", os.path.join(SRC, "build", "cgalr"))
TOOLS = os.environ.get("CGALR_TOOLS", os.path.join(SRC, "build", "tests"))
if os.environ.get("CGALR_SANITIZED", "0") == "1":
    # the ASan runtime must be the first library of the process; preloading it into Python is
    # fragile (the interpreter's own allocations, torch's), so the package is checked in Release only
    print("SKIP: the sanitizer build of libcgalr.so is not loaded into Python (ASan must come first)")
    sys.exit(0)
os.environ["CGALR_LIBRARY"] = os.path.join(os.path.dirname(BIN), "libcgalr.so")
sys.path.insert(0, os.path.join(SRC, "python"))

import numpy as np  # noqa: E402
import torch  # noqa: E402

import cgalr  # noqa: E402
from cgalr.torch import ConnectomeLR  # noqa: E402

torch.set_num_threads(1)
failures = []


def check(cond, msg):
    if not cond:
        failures.append(msg)
        print("FAIL:", msg)


# ---- oracles written from METHOD.md sections 2 and 3 -------------------------------------------
def np_connectome(a):
    a = np.asarray(a, dtype=np.float64)
    c = a - a.mean(axis=0)
    ss = np.sqrt((c * c).sum(axis=0))
    with np.errstate(invalid="ignore", divide="ignore"):
        r = (c.T @ c) / np.outer(ss, ss)
    r = np.where(np.outer(ss, ss) > 0, np.abs(r), 0.0)
    np.fill_diagonal(r, 0.0)
    return r


def np_barcode(m):
    """Kruskal on descending weights: tree edges are births, the rest deaths (sorted ascending)."""
    p = m.shape[0]
    edges = sorted(((m[i, j], i, j) for i in range(p) for j in range(i + 1, p)), reverse=True)
    parent = list(range(p))

    def find(x):
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    births, deaths = [], []
    for w, i, j in edges:
        ri, rj = find(i), find(j)
        if ri != rj:
            parent[ri] = rj
            births.append(w)
        else:
            deaths.append(w)
    return np.sort(births), np.sort(deaths)


def np_top(m1, m2):
    b1, d1 = np_barcode(m1)
    b2, d2 = np_barcode(m2)
    return float(((b1 - b2) ** 2).sum() + ((d1 - d2) ** 2).sum())


# ---- NumPy functions -----------------------------------------------------------------------------
rng = np.random.default_rng(5)
A = rng.normal(size=(40, 9))
A[:, 3] = 2.0  # a constant signal: correlation 0 with everything
M = cgalr.connectome(A)
check(np.allclose(M, np_connectome(A), atol=1e-12), "connectome vs NumPy |Pearson|")
Mf = cgalr.connectome(A.astype(np.float32))
check(np.allclose(Mf, np_connectome(A.astype(np.float32)), atol=1e-6), "float32 connectome vs NumPy")
b, d = cgalr.barcode(M)
ob, od = np_barcode(M)
check(b.shape == (8,) and d.shape == (28,) and np.allclose(b, ob, atol=1e-15) and np.allclose(d, od, atol=1e-15),
      "barcode vs Kruskal maximum spanning tree")
M2 = cgalr.connectome(rng.normal(size=(40, 9)))
check(abs(cgalr.top_distance(M, M2) - np_top(M, M2)) < 1e-12, "top_distance vs NumPy TOP")
def np_sw(a, b, m):
    """Carriere, Cuturi, Oudot 2017, Algorithm 1: diagonal projections added crosswise, M directions."""
    pa = np.repeat(a.mean(axis=1, keepdims=True), 2, axis=1)
    pb = np.repeat(b.mean(axis=1, keepdims=True), 2, axis=1)
    u, v = np.vstack([a, pb]), np.vstack([b, pa])
    th = -np.pi / 2 + np.arange(m) * np.pi / m
    e = np.stack([np.cos(th), np.sin(th)])
    return float(np.abs(np.sort(u @ e, axis=0) - np.sort(v @ e, axis=0)).sum(axis=0).mean())


# diagrams: W1 against GUDHI, sliced Wasserstein against the published algorithm, on H1 of D = sqrt(1 - M)
from gudhi.wasserstein import wasserstein_distance as gudhi_w1  # noqa: E402
g1 = cgalr.rips_diagram(np.sqrt(1 - cgalr.connectome(rng.normal(size=(30, 14)))), dim=1)
g2 = cgalr.rips_diagram(np.sqrt(1 - cgalr.connectome(rng.normal(size=(30, 14)))), dim=1)
check(g1.ndim == 2 and g1.shape[1] == 2 and len(g1) > 0 and len(g2) > 0, "rips_diagram: H1 diagrams %r %r" % (g1, g2))
check(abs(cgalr.wasserstein(g1, g2) - gudhi_w1(g1, g2, order=1, internal_p=2)) < 1e-9, "wasserstein vs GUDHI")
check(abs(cgalr.wasserstein(g1, np.empty((0, 2))) - gudhi_w1(g1, np.empty((0, 2)), order=1, internal_p=2)) < 1e-9,
      "wasserstein to the empty diagram vs GUDHI")
check(abs(cgalr.sliced_wasserstein(g1, g2, 50) - np_sw(g1, g2, 50)) < 1e-9, "sliced_wasserstein vs NumPy")
for bad, what in ((lambda: cgalr.connectome(np.ones((1, 4))), "one sample"),
                  (lambda: cgalr.connectome(np.array([[1.0, np.nan], [2.0, 3.0]])), "NaN"),
                  (lambda: cgalr.top_distance(M, M2[:5, :5]), "different p"),
                  (lambda: cgalr.barcode(np.ones(3)), "1-d matrix"),
                  (lambda: cgalr.rips_diagram(np.sqrt(1 - M), dim=2), "dim 2")):
    try:
        bad()
        check(False, "%s: no error" % what)
    except cgalr.Error as e:
        check(len(str(e)) > 10, "%s: message %r" % (what, str(e)))


# ---- ConnectomeLR in a small training loop -------------------------------------------------------
EPOCHS, SPE, HID = 5, 4, 12
OPTS = dict(K=3, s0=2.0, tau_enter=0.8, tau_exit=0.2)
X = torch.tensor(rng.normal(size=(64, 6)), dtype=torch.float32)
Y = (X[:, 0] * X[:, 1] > 0).long()
PROBE = X[:24]


def make(seed=0):
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(6, HID), torch.nn.Tanh(), torch.nn.Linear(HID, 2))
    opt = torch.optim.SGD([{"params": model[0].parameters(), "lr": 0.5},
                           {"params": model[2].parameters(), "lr": 0.1}], momentum=0.9)
    return model, opt


def hooked(model):
    out = []
    h = model[1].register_forward_hook(lambda m, i, o: out.append(o.detach().numpy().astype(np.float64)))
    model.eval()
    with torch.no_grad():
        model(PROBE)
    model.train()
    h.remove()
    return out[0]


def train(model, opt, sched, start, stop, record):
    lrs, ms = [], []
    for it in range(start, stop):
        xb = X[(it % SPE) * 16:(it % SPE + 1) * 16]
        yb = Y[(it % SPE) * 16:(it % SPE + 1) * 16]
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(xb), yb).backward()
        opt.step()
        if record and (it + 1) % SPE == 0:
            ms.append(np_connectome(hooked(model)))  # the parameters the controller will see
        sched.step()
        lrs.append(sched.get_last_lr())
    return lrs, ms


model, opt = make()
m0 = np_connectome(hooked(model))
sched = ConnectomeLR(opt, model, PROBE, EPOCHS, SPE, layers="1", **OPTS)
lrs, ms = train(model, opt, sched, 0, EPOCHS * SPE, True)
tr = sched.trace
check(len(tr) == EPOCHS + 1 and tr[0]["t"] == 0 and math.isnan(tr[0]["d"]), "trace: M_0 then one step per epoch")
prev = m0
for k, m in enumerate(ms, start=1):
    want = np_top(prev, m)
    check(abs(tr[k]["d"] - want) <= 1e-9 * max(1.0, want), "d_%d = %r, NumPy TOP %r" % (k, tr[k]["d"], want))
    prev = m

# the C scheduler on the same distances (lr = 1: the factor a(s) rho)
opts = ",".join("%s=%r" % kv for kv in OPTS.items()) + ",lr=1"
out = subprocess.run([os.path.join(TOOLS, "tool_ctrl_sched"), "trace", opts] + ["%.17g" % r["d"] for r in tr[1:]],
                     capture_output=True, text=True)
check(out.returncode == 0, "tool_ctrl_sched: %s" % out.stderr)
rows = [ln.split() for ln in out.stdout.splitlines()]
rho = [1.0] + [float(r[6]) for r in rows]
check([r[5] for r in rows] == [t["state"] for t in tr[1:]], "gate states equal the C scheduler's")
check(any(r != 1.0 for r in rho), "the controller never moved rho: the run checks too little")
for it, lr in enumerate(lrs, start=1):
    s = it / SPE
    factor = (1 + s / OPTS["s0"]) ** -1.0 * rho[it // SPE]
    check(abs(lr[0] - 0.5 * factor) <= 1e-12 and abs(lr[1] - 0.1 * factor) <= 1e-12,
          "iteration %d: rates %r, want %r (C scheduler rho %r)" % (it, lr, [0.5 * factor, 0.1 * factor], rho[it // SPE]))
check(opt.param_groups[0]["lr"] == lrs[-1][0] and opt.param_groups[1]["lr"] == lrs[-1][1],
      "the param groups hold the last rates")
print("rho sequence:", rho)

# state_dict round trip after epoch 2: a fresh model/optimizer/scheduler continues identically
model_b, opt_b = make()
sched_b = ConnectomeLR(opt_b, model_b, PROBE, EPOCHS, SPE, layers="1", **OPTS)
lrs_b1, _ = train(model_b, opt_b, sched_b, 0, 2 * SPE, False)
saved = (model_b.state_dict(), opt_b.state_dict(), sched_b.state_dict())
del sched_b
model_c, opt_c = make(seed=99)  # different initial weights: everything must come from the state
model_c.load_state_dict(saved[0])
opt_c.load_state_dict(saved[1])
sched_c = ConnectomeLR(opt_c, model_c, PROBE, EPOCHS, SPE, layers="1", **OPTS)
sched_c.load_state_dict(saved[2])
lrs_c, _ = train(model_c, opt_c, sched_c, 2 * SPE, EPOCHS * SPE, False)
check(lrs_b1 + lrs_c == lrs, "state_dict round trip: rates differ from the uninterrupted run")
check([(t["d"], t["state"], t["rho"]) for t in sched_c.trace[1:]] == [(t["d"], t["state"], t["rho"]) for t in tr[1:]],
      "state_dict round trip: the trace differs from the uninterrupted run")

# bad arguments
model_d, opt_d = make()
bads = [(lambda: ConnectomeLR(opt_d, model_d, PROBE, EPOCHS, SPE, layers="nope"), "unknown layer"),
        (lambda: ConnectomeLR(opt_d, model_d, PROBE[:1], EPOCHS, SPE), "probe of one sample"),
        (lambda: ConnectomeLR(opt_d, model_d, PROBE, EPOCHS, SPE, K=1), "K = 1"),
        (lambda: ConnectomeLR(opt_d, model_d, PROBE, EPOCHS, SPE, no_such_option=3), "unknown option"),
        (lambda: ConnectomeLR(opt_d, model_d, PROBE, 0, SPE), "epochs 0"),
        (lambda: ConnectomeLR(opt_d, model_d, PROBE, EPOCHS, SPE, distance="l2"), "distance l2")]
with torch.no_grad():
    model_n, opt_n = make()
    model_n[0].weight[0, 0] = float("nan")
bads.append((lambda: ConnectomeLR(opt_n, model_n, PROBE, EPOCHS, SPE), "NaN activations"))
for bad, what in bads:
    try:
        bad()
        check(False, "%s: no error" % what)
    except cgalr.Error as e:
        print("%s -> %s" % (what, e))
        check(len(str(e)) > 10, "%s: message %r" % (what, str(e)))

if failures:
    print("%d failure(s)" % len(failures))
    sys.exit(1)
print("ok")
