"""The methods that own the update against NumPy transcriptions of their published algorithms,
written here from the papers (not from our C): Prodigy (Mishchenko and Defazio 2024, the Adam
form), D-Adaptation SGD with momentum and Adam (Defazio and Mishchenko 2023), Schedule-Free SGD and
AdamW (Defazio et al. 2024, linear warm-up, averaging weights lr_max^2). Each runs 50 steps on a
quadratic (gradient at the current iterate) and on a small network's recorded gradients (an MLP
trained with torch SGD); final parameters, Schedule-Free's x and the per-step d must agree within
1e-5 relative, and d must never decrease (the papers' d_{k+1} = max(d_k, d-hat))."""
import os
import subprocess
import sys

import numpy as np
import torch

TOOLS = os.environ.get("CGALR_TOOLS", "build/tests")
TMP = os.environ.get("CGALR_TMP", "/tmp/cgalr-test-adapt")
TOOL = os.path.join(TOOLS, "tool_ctrl_adapt")
STEPS = 50
failures = []


def check(cond, msg):
    if not cond:
        failures.append(msg)
        print("FAIL:", msg)


# ---- the published algorithms, float64, state kept as float32 like the engine's parameters ----
# (the C keeps its per-parameter state in float32 and accumulates in double; without the rounding
# of the stored state the two would drift apart by float32 noise, not by a different algorithm)

f32 = lambda a: a.astype(np.float32).astype(np.float64)


def prodigy(x, grad, steps, lr=1.0, b1=0.9, b2=0.999, eps=1e-8, d0=1e-6, wd=0.0):
    """Algorithm (Adam form): m, v with d_k; r, s with weight lr d_k^2 and beta3 = sqrt(beta2);
    d_{k+1} = max(d_k, r / ||s||_1); x <- x - lr d_k m / (sqrt(v) + d_k eps)."""
    b3 = np.sqrt(b2)
    x0 = x.copy()
    m = np.zeros_like(x); v = np.zeros_like(x); s = np.zeros_like(x)
    r, d, ds, lrs = 0.0, d0, [], []
    for k in range(steps):
        g = grad(x, k)
        r = b3 * r + (1 - b3) * lr * d * d * np.dot(g, x0 - x)
        s = f32(b3 * s + (1 - b3) * lr * d * d * g)
        m = f32(b1 * m + (1 - b1) * d * g)
        v = f32(b2 * v + (1 - b2) * d * d * g * g)
        x = f32(x * (1 - lr * d * wd) - lr * d * m / (np.sqrt(v) + d * eps))
        lrs.append(lr * d)
        l1 = np.abs(s).sum()
        if l1 > 0:
            d = max(d, r / l1)
        ds.append(d)
    return x, x, lrs, ds


def dadapt_sgd(x, grad, steps, lr=1.0, beta=0.9, d0=1e-6):
    """SGD with momentum: lambda_k = lr d_k / ||g_0||, s_{k+1} = s_k + lambda_k g_k,
    d-hat = 2 sum lambda_i <g_i, s_i> / ||s_{k+1}||, z = x0 - s, x <- beta x + (1 - beta) z."""
    x0 = x.copy(); s = np.zeros_like(x)
    num, d, g0, ds, lrs = 0.0, d0, None, [], []
    for k in range(steps):
        g = grad(x, k)
        if g0 is None:
            g0 = np.linalg.norm(g)
        lam = lr * d / g0
        num += lam * np.dot(g, s)
        s = f32(s + lam * g)
        x = f32(beta * x + (1 - beta) * (x0 - s))
        lrs.append(lam)
        d = max(d, 2 * num / np.linalg.norm(s))
        ds.append(d)
    return x, x, lrs, ds


def dadapt_adam(x, grad, steps, lr=1.0, b1=0.9, b2=0.999, eps=1e-8, d0=1e-6):
    """Adam form: r weighted by sqrt(beta2) with <g, s>_{A^-1} at the previous v, m with lr d_k,
    s <- sqrt(b2) s + (1 - sqrt(b2)) lr d_k g, d-hat = r / ((1 - sqrt(b2)) ||s||_1),
    x <- x - m / (sqrt(v) + eps)."""
    sb2 = np.sqrt(b2)
    m = np.zeros_like(x); v = np.zeros_like(x); s = np.zeros_like(x)
    r, d, ds, lrs = 0.0, d0, [], []
    for k in range(steps):
        g = grad(x, k)
        dl = lr * d
        r = sb2 * r + (1 - sb2) * dl * np.dot(g, s / (np.sqrt(v) + eps))
        m = f32(b1 * m + (1 - b1) * dl * g)
        v = f32(b2 * v + (1 - b2) * g * g)
        s = f32(sb2 * s + (1 - sb2) * dl * g)
        x = f32(x - m / (np.sqrt(v) + eps))
        lrs.append(dl)
        d = max(d, r / ((1 - sb2) * np.abs(s).sum()))
        ds.append(d)
    return x, x, lrs, ds


def schedule_free(x, grad, steps, lr, warmup, beta, adam=False, b2=0.999, eps=1e-8):
    """y is where the gradient is taken; z <- z - lr_k g (AdamW: g / (sqrt(v) + eps), lr_k with
    sqrt(1 - b2^(k+1))); c = lr_max^2 / sum lr_max^2; x <- (1 - c) x + c z; y = beta x + (1 - beta) z."""
    y = x.copy(); z = x.copy(); xs = x.copy(); v = np.zeros_like(x)
    lr_max, wsum, lrs = -1.0, 0.0, []
    for k in range(steps):
        g = grad(y, k)
        lk = lr * (min(1.0, (k + 1) / warmup) if warmup > 0 else 1.0)
        if adam:
            lk *= np.sqrt(1 - b2 ** (k + 1))
            v = f32(b2 * v + (1 - b2) * g * g)
            step = g / (np.sqrt(v) + eps)
        else:
            step = g
        lr_max = max(lr_max, lk)
        wsum += lr_max ** 2
        c = lr_max ** 2 / wsum
        z = f32(z - lk * step)
        xs = f32((1 - c) * xs + c * z)
        y = f32(beta * xs + (1 - beta) * z)
        lrs.append(lk)
    return y, xs, lrs, [np.nan] * steps


# ---- the C side ----

def run_c(mode, method, opts, x0, extra, steps):
    os.makedirs(TMP, exist_ok=True)
    fin, fout = os.path.join(TMP, "in.bin"), os.path.join(TMP, "out.bin")
    np.concatenate([x0] + extra).astype(np.float32).tofile(fin)
    n = x0.size
    p = subprocess.run([TOOL, mode, method, opts, str(n), str(steps), fin, fout], capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError("%s %s: %s" % (method, mode, p.stderr))
    out = np.fromfile(fout, dtype=np.float64)
    per = out[2 * n:].reshape(steps, 2)
    return out[:n], out[n:2 * n], per[:, 0], per[:, 1]


def rel_err(a, b):
    a = np.asarray(a, dtype=np.float64); b = np.asarray(b, dtype=np.float64)
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-30))


def compare(name, c, ref):
    (cx, ce, clr, cd), (rx, re_, rlr, rd) = c, ref
    for what, a, b in (("parameters", cx, rx), ("evaluation point", ce, re_), ("rates", clr, rlr)):
        e = rel_err(a, b)
        print("%-28s %-17s max rel err %.2e" % (name, what, e))
        check(e <= 1e-5, "%s: %s differ by %.3g relative (> 1e-5)" % (name, what, e))
    if not np.all(np.isnan(rd)):
        e = rel_err(cd, rd)
        print("%-28s %-17s max rel err %.2e" % (name, "d", e))
        check(e <= 1e-5, "%s: d differs by %.3g relative" % (name, e))
        check(bool(np.all(np.diff(cd) >= 0)), "%s: d decreased: %s" % (name, cd))
        check(cd[-1] > cd[0], "%s: d never grew from d0 over %d steps (%g)" % (name, STEPS, cd[-1]))


def main():
    rng = np.random.default_rng(13)
    # a quadratic, condition number 100, optimum away from the start
    n = 40
    x0 = rng.normal(size=n).astype(np.float32).astype(np.float64)
    a = np.logspace(-1, 1, n).astype(np.float32).astype(np.float64)
    b = (3 + rng.normal(size=n)).astype(np.float32).astype(np.float64)
    quad = lambda x, k: f32(f32(a) * (f32(x) - f32(b)))

    # a small network's recorded gradients: an MLP 8-16-3 trained 50 steps by torch SGD
    torch.manual_seed(13)
    net = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.Tanh(), torch.nn.Linear(16, 3))
    X = torch.randn(256, 8)
    Y = (X[:, 0] + X[:, 1] > 0).long() + (X[:, 2] > 1).long()
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    w0 = torch.cat([p.detach().flatten() for p in net.parameters()]).numpy().astype(np.float64)
    G = []
    for k in range(STEPS):
        idx = torch.randint(0, 256, (32,))
        opt.zero_grad()
        torch.nn.functional.cross_entropy(net(X[idx]), Y[idx]).backward()
        G.append(torch.cat([p.grad.flatten() for p in net.parameters()]).numpy().astype(np.float64))
        opt.step()
    G = np.array(G)
    rec = lambda x, k: G[k]

    warm = 10  # sf_warmup 0.2 of a 50-iteration run
    sf_opts = "epochs=1,iters_per_epoch=%d,sf_warmup=0.2" % STEPS
    cases = [
        ("prodigy", "-", lambda x, g: prodigy(x, g, STEPS)),
        ("dadapt-sgd", "-", lambda x, g: dadapt_sgd(x, g, STEPS)),
        ("dadapt-adam", "-", lambda x, g: dadapt_adam(x, g, STEPS)),
        ("sf-sgd", "lr=0.05," + sf_opts, lambda x, g: schedule_free(x, g, STEPS, 0.05, warm, 0.9)),
        ("sf-adamw", "lr=0.02," + sf_opts, lambda x, g: schedule_free(x, g, STEPS, 0.02, warm, 0.9, adam=True)),
        # a non-default setting of each family, so the options reach the arithmetic
        ("prodigy", "lr=0.5,beta1=0.8,weight_decay=0.01", None),
        ("sf-sgd", "lr=0.1,momentum=0.5,epochs=1,iters_per_epoch=50,sf_warmup=0", lambda x, g: schedule_free(x, g, STEPS, 0.1, 0, 0.5)),
    ]
    for method, opts, ref in cases:
        if ref is None:
            ref = lambda x, g: prodigy(x, g, STEPS, lr=0.5, b1=0.8, wd=0.01)
        compare("%s quadratic %s" % (method, opts if opts != "-" else ""),
                run_c("quad", method, opts, x0, [a, b], STEPS), ref(x0.copy(), quad))
        if "weight_decay" in opts:
            continue  # recorded gradients do not shrink with the decayed weights: the quadratic only
        compare("%s recorded %s" % (method, opts if opts != "-" else ""),
                run_c("grads", method, opts, w0, [G.reshape(-1)], STEPS), ref(w0.copy(), rec))
    if failures:
        print("%d failure(s)" % len(failures))
        sys.exit(1)
    print("ok")


main()
