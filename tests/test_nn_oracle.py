"""PyTorch as the oracle of the nn engine: for every model, the same initial weights (dumped by
tests/tool_nn_oracle) and the same batch must give the same logits, loss, gradients, running
statistics, inference logits and probe activations, and the same parameters after several steps of
SGD with momentum (plain and Nesterov, weight decay) and of Adam/AdamW.
Tolerance: 1e-4 relative to each tensor's scale (max |a - b| / max |b|)."""
import os
import subprocess
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.set_num_threads(1)
torch.use_deterministic_algorithms(True)
TOOLS = os.environ.get("CGALR_TOOLS", "build/tests")
TMP = os.environ.get("CGALR_TMP", "/tmp/cgalr-test-nn-oracle")
SAN = os.environ.get("CGALR_SANITIZED", "0") == "1"
os.makedirs(TMP, exist_ok=True)
TOL = 1e-4
failures = []


def rel_err(a, b):
    a = np.asarray(a, dtype=np.float64).ravel()
    b = np.asarray(b, dtype=np.float64).ravel()
    if a.shape != b.shape:
        return float("inf")
    scale = max(np.max(np.abs(b)) if b.size else 0.0, 1e-6)
    return float(np.max(np.abs(a - b)) / scale) if a.size else 0.0


def check(tag, a, b, tol=TOL):
    e = rel_err(a, b)
    ok = e <= tol
    print(f"  {'ok  ' if ok else 'FAIL'} {tag}: rel err {e:.2e}")
    if not ok:
        failures.append((tag, e))


def read_out(path):
    arrs = []
    with open(path, "rb") as f:
        data = f.read()
    off = 0
    while off < len(data):
        n = int(np.frombuffer(data, np.int64, 1, off)[0])
        off += 8
        arrs.append(np.frombuffer(data, np.float32, n, off).copy())
        off += 4 * n
    return arrs


def read_tensors(path):
    out = []
    for line in open(path):
        p = line.split()
        out.append((p[0], int(p[1]), int(p[2]), [int(v) for v in p[3:7]]))
    return out


# ---- reference models (parameter registration order = the engine's tensor order) ----------

class MLP(nn.Module):
    def __init__(self, nin, hidden, C):
        super().__init__()
        layers = [nn.Flatten()]
        prev = nin
        for h in hidden:
            layers += [nn.Linear(prev, h), nn.ReLU()]
            prev = h
        layers.append(nn.Linear(prev, C))
        self.net = nn.Sequential(*layers)
        self.probe_layer = layers[-2] if hidden else None

    def forward(self, x):
        return self.net(x)

    def probe(self, x):
        return self.net[:-1](x)


class CNN(nn.Module):
    def __init__(self, cin, hw, C):
        super().__init__()
        widths = [32, 32, 64, 64, 128, 128]
        layers = []
        prev = cin
        for i, w in enumerate(widths):
            layers += [nn.Conv2d(prev, w, 3, padding=1, bias=False), nn.BatchNorm2d(w), nn.ReLU()]
            if i % 2 == 1:
                layers.append(nn.MaxPool2d(2))
                hw //= 2
            prev = w
        self.features = nn.Sequential(*layers)
        self.fc = nn.Sequential(nn.Flatten(), nn.Linear(128 * hw * hw, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU())
        self.out = nn.Linear(128, C)

    def forward(self, x):
        return self.out(self.fc(self.features(x)))

    def probe(self, x):
        return self.fc(self.features(x))


class Block(nn.Module):
    def __init__(self, cin, planes, stride, option_a):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.kind = "id"
        if stride != 1 or cin != planes:
            if option_a:
                self.kind = "a"
                self.pad = planes // 4
            else:
                self.kind = "b"
                self.shortcut = nn.Sequential(nn.Conv2d(cin, planes, 1, stride, bias=False), nn.BatchNorm2d(planes))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.kind == "a":
            sc = F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, self.pad, self.pad))
        elif self.kind == "b":
            sc = self.shortcut(x)
        else:
            sc = x
        return F.relu(out + sc)


class ResNet(nn.Module):
    def __init__(self, cin, C, is18):
        super().__init__()
        widths = [64, 128, 256, 512] if is18 else [16, 32, 64]
        blocks = 2 if is18 else 3
        self.conv1 = nn.Conv2d(cin, widths[0], 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        layers = []
        prev = widths[0]
        for s, w in enumerate(widths):
            for b in range(blocks):
                layers.append(Block(prev, w, 2 if (s > 0 and b == 0) else 1, not is18))
                prev = w
        self.layers = nn.Sequential(*layers)
        self.linear = nn.Linear(prev, C)

    def probe(self, x):
        out = self.layers(F.relu(self.bn1(self.conv1(x))))
        return out.mean(dim=(2, 3))

    def forward(self, x):
        return self.linear(self.probe(x))


class GINLayer(nn.Module):
    def __init__(self, fin, H, learn_eps, eps):
        super().__init__()
        if learn_eps:
            self.eps = nn.Parameter(torch.tensor([eps]))
        else:
            self.register_buffer("eps", torch.tensor([eps]))
        self.mlp0 = nn.Linear(fin, H)
        self.bn1 = nn.BatchNorm1d(H)
        self.mlp3 = nn.Linear(H, H)
        self.bn = nn.BatchNorm1d(H)

    def forward(self, h, src, dst):
        agg = (1 + self.eps) * h
        agg = agg.index_add(0, dst, h[src])
        return F.relu(self.bn(self.mlp3(F.relu(self.bn1(self.mlp0(agg))))))


class GIN(nn.Module):
    def __init__(self, fin, H, L, C, learn_eps, eps):
        super().__init__()
        self.layers = nn.ModuleList([GINLayer(fin if l == 0 else H, H, learn_eps, eps) for l in range(L)])
        self.preds = nn.ModuleList([nn.Linear(fin if l == 0 else H, C) for l in range(L + 1)])

    def pooled(self, x, src, dst, gon, G):
        hs = [x]
        for layer in self.layers:
            hs.append(layer(hs[-1], src, dst))
        return [torch.zeros(G, h.shape[1]).index_add(0, gon, h) for h in hs]

    def forward(self, x, src, dst, gon, G):
        ps = self.pooled(x, src, dst, gon, G)
        return sum(p(v) for p, v in zip(self.preds, ps))

    def probe(self, x, src, dst, gon, G):
        return self.pooled(x, src, dst, gon, G)[-1]


class Seq(nn.Module):
    """The engine's test-only sequential models (nn_model_create_seq): one layer kind at a time."""

    def __init__(self, spec, shape, C):
        super().__init__()
        c, h, w = shape
        flat = False
        self.steps = []
        self.mods = nn.ModuleList()
        self.last_probe = None

        def add(mod):
            self.mods.append(mod)
            return ("mod", len(self.mods) - 1)
        for i, tok in enumerate(spec.split(",")):
            p = tok.split(":")
            if p[0] == "conv":
                oc, k, st, pd = (int(v) for v in p[1:5])
                self.steps.append(add(nn.Conv2d(c, oc, k, st, pd, bias=len(p) > 5)))
                c, h, w = oc, (h + 2 * pd - k) // st + 1, (w + 2 * pd - k) // st + 1
            elif p[0] == "bn":
                self.steps.append(add(nn.BatchNorm1d(c * h * w) if flat else nn.BatchNorm2d(c)))
            elif p[0] in ("relu", "lrelu"):
                self.steps.append(add(nn.ReLU() if p[0] == "relu" else nn.LeakyReLU(0.01)))
                self.last_probe = len(self.steps) - 1
            elif p[0] in ("maxpool", "avgpool"):
                k, st = int(p[1]), int(p[2])
                self.steps.append(add(nn.MaxPool2d(k, st) if p[0] == "maxpool" else nn.AvgPool2d(k, st)))
                h, w = (h - k) // st + 1, (w - k) // st + 1
            elif p[0] == "gap":
                self.steps.append(("gap", 0))
                h = w = 1
                self.last_probe = len(self.steps) - 1
            elif p[0] == "flatten":
                self.steps.append(("flatten", 0))
                c, h, w, flat = c * h * w, 1, 1, True
            elif p[0] == "fc":
                self.steps.append(("flatten", 0))
                self.steps.append(add(nn.Linear(c * h * w, int(p[1]))))
                c, h, w, flat = int(p[1]), 1, 1, True
            elif p[0] == "dropout":
                self.steps.append(add(nn.Dropout(float(p[1]))))
            elif p[0] == "mark":
                self.steps.append(("mark", 0))
            elif p[0] == "add":
                self.steps.append(("add", 0))
            elif p[0] == "shortcut_a":
                self.steps.append(("shortcut_a", c // 2))
                c, h, w = 2 * c, (h + 1) // 2, (w + 1) // 2
            else:
                raise ValueError(tok)
        self.head = nn.Linear(c * h * w, C)

    def run(self, x, upto=None):
        mark = None
        for i, (kind, arg) in enumerate(self.steps):
            if kind == "mod":
                x = self.mods[arg](x)
            elif kind == "gap":
                x = x.mean(dim=(2, 3), keepdim=True)
            elif kind == "flatten":
                x = x.flatten(1)
            elif kind == "mark":
                mark = x
            elif kind == "add":
                x = x + mark
            elif kind == "shortcut_a":
                x = F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, arg, arg))
            if upto is not None and i == upto:
                return x
        return x

    def forward(self, x):
        return self.head(self.run(x).flatten(1))

    def probe(self, x):
        y = self.run(x, self.last_probe)
        return y.mean(dim=(2, 3)) if y.dim() == 4 else y


def bn_buffers(model):
    out = []
    for mod in model.modules():
        if isinstance(mod, (nn.BatchNorm1d, nn.BatchNorm2d)):
            out += [mod.running_mean.detach().numpy(), mod.running_var.detach().numpy()]
    return np.concatenate(out) if out else np.zeros(0, np.float32)


def load_params(model, flat, tensors):
    params = list(model.parameters())
    assert len(params) == len(tensors), f"{len(params)} torch parameters vs {len(tensors)} engine tensors"
    with torch.no_grad():
        for p, (name, off, numel, shape) in zip(params, tensors):
            assert p.numel() == numel, f"{name}: torch {tuple(p.shape)} vs engine {shape}"
            p.copy_(torch.from_numpy(flat[off:off + numel]).view_as(p))


def flat_of(model, grads=False):
    return np.concatenate([(p.grad if grads else p).detach().numpy().ravel() for p in model.parameters()])


def run_case(tag, model_name, optim, steps, model, batch, args, lr, optkw):
    rng_path = os.path.join(TMP, f"{tag}.bin")
    out_path = os.path.join(TMP, f"{tag}.out")
    is_graph = model_name == "gin"
    with open(rng_path, "wb") as f:
        if not is_graph:
            x, y = batch
            f.write(np.int32(x.shape[0]).tobytes())
            f.write(x.astype(np.float32).tobytes())
            f.write(y.astype(np.int32).tobytes())
        else:
            x, rp, col, nptr, gon, y = batch
            f.write(np.array([len(y), x.shape[0], len(col)], np.int32).tobytes())
            for a in (x.astype(np.float32), rp, col, nptr, gon, y):
                f.write(np.ascontiguousarray(a).astype(a.dtype if a.dtype == np.float32 else np.int32).tobytes())
    cmd = [os.path.join(TOOLS, "tool_nn_oracle"), model_name, optim, str(steps), rng_path, out_path] + args + [f"lr={lr}"]
    for k, v in optkw.items():
        cmd.append(f"{k}={v}")
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        print(r.stdout, r.stderr)
        failures.append((tag, "tool failed"))
        return
    arrs = read_out(out_path)
    tensors = read_tensors(out_path + ".tensors")
    p0, logits, loss, grads, bufs, elogits, probe, p_end, b_end = arrs
    load_params(model, p0, tensors)
    print(f"{tag}: {len(tensors)} tensors, {p0.size} parameters")

    if is_graph:
        x, rp, col, nptr, gon, y = batch
        deg = np.diff(rp)
        dst = torch.from_numpy(np.repeat(np.arange(x.shape[0]), deg).astype(np.int64))
        src = torch.from_numpy(col.astype(np.int64))
        gon_t = torch.from_numpy(gon.astype(np.int64))
        G = len(y)
        xt = torch.from_numpy(x.astype(np.float32))
        fwd = lambda: model(xt, src, dst, gon_t, G)
        prb = lambda: model.probe(xt, src, dst, gon_t, G)
    else:
        x, y = batch
        xt = torch.from_numpy(x.astype(np.float32))
        fwd = lambda: model(xt)
        prb = lambda: model.probe(xt)
    yt = torch.from_numpy(y.astype(np.int64))

    if optim == "sgd":
        opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=optkw.get("momentum", 0.9),
                              nesterov=bool(optkw.get("nesterov", 0)), weight_decay=optkw.get("wd", 0.0))
    elif optim == "adam":
        opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=optkw.get("wd", 0.0))
    else:
        opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=optkw.get("wd", 0.01))

    model.train()
    opt.zero_grad()
    out = fwd()
    l = F.cross_entropy(out, yt)
    l.backward()
    check(f"{tag} logits", logits, out.detach().numpy())
    check(f"{tag} loss", loss, [l.item()])
    g = flat_of(model, grads=True)
    # per-tensor gradient check, so a wrong layer is named; the floor keeps gradients that are zero
    # in exact arithmetic (a bias right before batch norm) from comparing rounding noise
    floor = 1e-2 * float(np.max(np.abs(g)))
    for name, off, numel, _ in tensors:
        e = float(np.max(np.abs(grads[off:off + numel] - g[off:off + numel]))) / max(
            float(np.max(np.abs(g[off:off + numel]))), floor)
        if e > TOL:
            check(f"{tag} grad {name}", grads[off:off + numel], g[off:off + numel])
    check(f"{tag} grads (all)", grads, g)
    check(f"{tag} running stats", bufs, bn_buffers(model))
    model.eval()
    with torch.no_grad():
        check(f"{tag} eval logits", elogits, fwd().numpy())
        check(f"{tag} probe", probe, prb().numpy())
    model.train()
    for s in range(steps):
        if s > 0:
            opt.zero_grad()
            F.cross_entropy(fwd(), yt).backward()
        opt.step()
    # Adam divides by sqrt(v): a gradient that is zero in exact arithmetic (a bias right before
    # batch norm) turns rounding noise into full-size steps of either sign, so such tensors are
    # compared for Adam only when their gradient is above the floor
    pe = flat_of(model)
    keep = np.ones(pe.size, bool)
    if optim != "sgd":
        for name, off, numel, _ in tensors:
            if float(np.max(np.abs(g[off:off + numel]))) < floor:
                keep[off:off + numel] = False
    # per tensor for information (rounding differences grow over the steps, most in small tensors);
    # the assertion is on the whole parameter vector
    for name, off, numel, _ in tensors:
        e = rel_err(p_end[off:off + numel], pe[off:off + numel])
        if keep[off] and e > TOL:
            print(f"  note {tag} param {name} after {steps} steps: rel err {e:.2e} (per tensor)")
    check(f"{tag} params after {steps} {optim} steps", p_end[keep], pe[keep], tol=TOL)
    if optim == "sgd":  # under Adam the noisy biases above shift the running means too
        # running variances integrate squared activations over the steps: looser than the params
        check(f"{tag} running stats after {steps} steps", b_end, bn_buffers(model), tol=1e-3)


def random_graphs(rng, G, F_, lo=3, hi=8):
    sizes = rng.integers(lo, hi, G)
    n = int(sizes.sum())
    nptr = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int32)
    adj = [set() for _ in range(n)]
    for g in range(G):
        a, b = nptr[g], nptr[g + 1]
        for v in range(a, b):
            for u in range(v + 1, b):
                if rng.random() < 0.4:
                    adj[v].add(u)
                    adj[u].add(v)
    rp = np.zeros(n + 1, np.int32)
    col = []
    for v in range(n):
        nb = sorted(adj[v])
        col += nb
        rp[v + 1] = rp[v] + len(nb)
    gon = np.repeat(np.arange(G), sizes).astype(np.int32)
    x = np.zeros((n, F_), np.float32)
    x[np.arange(n), rng.integers(0, F_, n)] = 1.0
    y = rng.integers(0, 2, G).astype(np.int32)
    return x, rp, np.array(col, np.int32), nptr, gon, y


def main():
    rng = np.random.default_rng(7)
    # every layer on its own (test-only sequential models + a Linear head)
    x = rng.standard_normal((4, 3, 8, 8)).astype(np.float32)
    y = rng.integers(0, 4, 4).astype(np.int32)
    for i, spec in enumerate(["conv:5:3:1:1:b,relu", "conv:4:3:2:1,bn,lrelu", "conv:4:1:2:0:b,maxpool:2:2,relu",
                              "conv:4:3:1:0,avgpool:2:2,relu", "conv:6:1:1:0,bn,relu,gap",
                              "conv:3:3:1:1:b,mark,conv:3:3:1:1,bn,add,relu", "conv:4:3:1:1,shortcut_a,relu",
                              "fc:12,bn,relu,dropout:0,fc:7,lrelu",
                              # 16 channels: the direct convolution (forward with bias, input gradient)
                              "conv:16:3:1:1:b,bn,relu,conv:16:3:1:1:b,relu,conv:32:3:1:1,relu"]):
        run_case(f"layer{i}", "seq", "sgd", 10, Seq(spec, (3, 8, 8), 4), (x, y),
                 ["in=3,8,8", "classes=4", f"seed={20 + i}", f"spec={spec}"], 0.05, {"momentum": 0.9, "wd": 1e-3})
    # 32x32 maps with 16 channels (and a 3-channel first layer: 27 taps, not a multiple of the
    # 6-tap tile): the direct weight gradient, used from 1024 positions up
    rng32 = np.random.default_rng(32)  # its own generator: the shared draws below stay as they were
    x32 = rng32.standard_normal((2, 3, 32, 32)).astype(np.float32)
    y32 = rng32.integers(0, 4, 2).astype(np.int32)
    spec = "conv:16:3:1:1:b,bn,relu,conv:16:3:1:1:b,relu,maxpool:2:2"
    run_case("layer_direct32", "seq", "sgd", 10, Seq(spec, (3, 32, 32), 4), (x32, y32),
             ["in=3,32,32", "classes=4", "seed=40", f"spec={spec}"], 0.05, {"momentum": 0.9, "wd": 1e-3})
    # odd map sizes (7x19, then 3x9 after pooling): Winograd tiles that overhang the map, a row of
    # 10 tiles (a vector block of 8 and 2 more), 9 samples in groups of 3 (40 tiles each), bias,
    # input gradient and weight gradient
    rngo = np.random.default_rng(79)
    xo = rngo.standard_normal((9, 3, 7, 19)).astype(np.float32)
    yo = rngo.integers(0, 4, 9).astype(np.int32)
    spec = "conv:16:3:1:1:b,bn,relu,conv:16:3:1:1:b,relu,conv:32:3:1:1,bn,relu,maxpool:2:2,conv:16:3:1:1:b,relu"
    run_case("layer_wino_odd", "seq", "sgd", 10, Seq(spec, (3, 7, 19), 4), (xo, yo),
             ["in=3,7,19", "classes=4", "seed=41", f"spec={spec}"], 0.05, {"momentum": 0.9, "wd": 1e-3})
    # strided convolutions inside the network (their input gradients), on odd maps: 3x3 stride 2
    # over 7x19 (the general column scatter) and 1x1 stride 2 over 4x10
    spec = "conv:8:3:1:1,relu,conv:8:3:2:1:b,relu,conv:6:1:2:0,relu"
    run_case("layer_stride_odd", "seq", "sgd", 10, Seq(spec, (3, 7, 19), 4), (xo, yo),
             ["in=3,7,19", "classes=4", "seed=42", f"spec={spec}"], 0.05, {"momentum": 0.9, "wd": 1e-3})
    # mlp: default sizes (784-256-128-10) and a small custom one
    x = rng.standard_normal((16, 1, 28, 28)).astype(np.float32)
    y = rng.integers(0, 10, 16).astype(np.int32)
    run_case("mlp_sgd", "mlp", "sgd", 10, MLP(784, [256, 128], 10), (x, y), ["in=1,28,28", "classes=10", "seed=3"],
             0.05, {"momentum": 0.9, "wd": 5e-4})
    x = rng.standard_normal((8, 3, 4, 4)).astype(np.float32)
    y = rng.integers(0, 5, 8).astype(np.int32)
    run_case("mlp_nesterov", "mlp", "sgd", 10, MLP(48, [20, 12, 9], 5), (x, y),
             ["in=3,4,4", "classes=5", "hidden=20,12,9", "seed=4"], 0.05, {"momentum": 0.9, "nesterov": 1, "wd": 1e-3})
    run_case("mlp_adamw", "mlp", "adamw", 10, MLP(48, [20, 12], 5), (x, y),
             ["in=3,4,4", "classes=5", "hidden=20,12", "seed=5"], 1e-3, {"wd": 0.01})
    run_case("mlp_adam", "mlp", "adam", 10, MLP(48, [20, 12], 5), (x, y),
             ["in=3,4,4", "classes=5", "hidden=20,12", "seed=6"], 1e-3, {"wd": 1e-4})
    # gin: fixed and learnable eps
    batch = random_graphs(rng, 6, 7)
    run_case("gin_sgd", "gin", "sgd", 10, GIN(7, 64, 5, 2, False, 0.0), batch,
             ["nf=7", "classes=2", "dropout=0", "seed=8"], 0.01, {"momentum": 0.9, "wd": 1e-4})
    batch = random_graphs(rng, 5, 4)
    run_case("gin_eps_adamw", "gin", "adamw", 10, GIN(4, 16, 3, 2, True, 0.1), batch,
             ["nf=4", "classes=2", "dropout=0", "learn_eps=1", "eps=0.1", "layers=3", "ghidden=16", "seed=9"],
             1e-3, {"wd": 0.01})
    # cnn, resnet20 (option A), resnet18 (1x1 conv shortcuts)
    n = 3 if SAN else 4
    x = rng.standard_normal((n, 3, 16, 16)).astype(np.float32)
    y = rng.integers(0, 10, n).astype(np.int32)
    run_case("cnn_sgd", "cnn", "sgd", 10, CNN(3, 16, 10), (x, y), ["in=3,16,16", "classes=10", "seed=10"], 0.01,
             {"momentum": 0.9, "wd": 5e-4})
    # resnet20 has its own generator for the same reason as resnet18 below: with the shared draw,
    # one residual sum (layer1.2, before its ReLU) lands at +6e-8 with im2col+OpenBLAS arithmetic
    # and at -5e-7 with the engine's direct convolution (a different, equally exact summation
    # order), so the masks differ and the gradients below it by ~3%. Seed 21 was checked with
    # both convolution paths (CGALR_NN_DIRECT=0/1) at n = 3 and 4.
    rng20 = np.random.default_rng(21)
    x = rng20.standard_normal((n, 3, 16, 16)).astype(np.float32)
    y = rng20.integers(0, 10, n).astype(np.int32)
    run_case("resnet20_sgd", "resnet20", "sgd", 10, ResNet(3, 10, False), (x, y),
             ["in=3,16,16", "classes=10", "seed=11"], 0.01, {"momentum": 0.9, "wd": 5e-4})
    # Its own generator: with a draw where one ReLU input lands within rounding of 0 (seen once: one
    # of 8192 values at -1.9e-6 here, positive in PyTorch) the two implementations mask different
    # elements and the gradients below it differ by far more than rounding. Not a bug, but not a
    # comparison of arithmetic either.
    rng18 = np.random.default_rng(18)
    x = rng18.standard_normal((2, 3, 16, 16)).astype(np.float32)
    y = rng18.integers(0, 10, 2).astype(np.int32)
    # (SGD: with 11M parameters, Adam's per-element normalisation turns the rounding noise of the
    # many near-zero gradient entries into +-lr steps; AdamW is checked on mlp and gin above)
    run_case("resnet18_sgd", "resnet18", "sgd", 3, ResNet(3, 10, True), (x, y),
             ["in=3,16,16", "classes=10", "seed=12"], 0.01, {"momentum": 0.9, "nesterov": 1, "wd": 5e-4})
    if failures:
        print("FAILURES:", failures)
        sys.exit(1)
    print("all oracle comparisons within", TOL)


if __name__ == "__main__":
    main()
