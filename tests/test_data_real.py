"""The real datasets of ../shared/data and Debian's Fashion-MNIST, checked against published
statistics and against independent readers written here with numpy/gzip/hashlib: TU statistics
and graph batches (structure, labels, features, shuffling), Fashion-MNIST pixels and labels, and the
decoded CIFAR-10 JPEG copy's sha256 from shared/data/README.md (through the decode cache, twice, and
a --limit decode of part of it)."""
import gzip
import hashlib
import json
import os
import shutil
import subprocess
import sys

import numpy as np

BIN = os.environ["CGALR_BIN"]
TOOLS = os.environ["CGALR_TOOLS"]
SHARED = os.environ.get("CGALR_SHARED", "../shared")
TMP = os.environ.get("CGALR_TMP", "/tmp/cgalr-test-data-real")
SAN = os.environ.get("CGALR_SANITIZED", "0") == "1"
DATA = os.path.join(SHARED, "data")
TU = os.path.join(DATA, "TU")
FMNIST = "/usr/share/datasets/fashion-mnist"
os.makedirs(TMP, exist_ok=True)
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what)


def cli(*args):
    return subprocess.run([BIN, "data", *args], capture_output=True, text=True)


# ---- published TU statistics through `cgalr data --json` ----------------------------------
PUBLISHED = {"mutag": (188, 17.93, 19.79, 2, 7, None), "enzymes": (600, 32.63, 62.14, 6, 3, 21),
             "proteins": (1113, 39.06, 72.82, 2, 3, 4)}
for name, (g, n, e, c, fd, fd_attr) in PUBLISHED.items():
    r = cli(name, "--json", "--data-dir", DATA)
    check(r.returncode == 0, f"cgalr data {name}: rc {r.returncode} {r.stderr}")
    if r.returncode:
        continue
    j = json.loads(r.stdout)
    check(j["graphs"] == g, f"{name} graphs {j['graphs']} != {g}")
    check(round(j["avg_nodes"], 2) == n, f"{name} avg_nodes {j['avg_nodes']} != {n}")
    check(round(j["avg_edges"], 2) == e, f"{name} avg_edges {j['avg_edges']} != {e}")
    check(j["classes"] == c, f"{name} classes {j['classes']} != {c}")
    check(j["feature_dim"] == fd, f"{name} feature_dim {j['feature_dim']} != {fd}")
    check(sum(j["samples"].values()) == g, f"{name} samples {j['samples']} do not add up to {g}")
    # 80/10/10 stratified: each class's share of test within one graph of 10%
    for k in range(c):
        tot = sum(j["class_counts"][s][k] for s in ("train", "val", "test"))
        check(abs(j["class_counts"]["test"][k] - 0.1 * tot) <= 1, f"{name} class {k} test share")
    if fd_attr:
        r = cli(name, "--json", "--node-attr", "--data-dir", DATA)
        check(r.returncode == 0 and json.loads(r.stdout)["feature_dim"] == fd_attr, f"{name} --node-attr width")

# different split seeds give different, still stratified splits; k-fold partitions
r1 = json.loads(cli("mutag", "--json", "--data-dir", DATA, "--split-seed", "1").stdout)
check(r1["samples"] == {"train": 151, "val": 18, "test": 19}, f"mutag split sizes {r1['samples']}")
folds = [json.loads(cli("mutag", "--json", "--data-dir", DATA, "--folds", "10", "--fold", str(f)).stdout)
         for f in range(10)]
check(sum(f["samples"]["test"] for f in folds) == 188, "10-fold test sets cover MUTAG once")

# text output and help
r = cli("mutag", "--data-dir", DATA)
check(r.returncode == 0 and "17.93 per graph" in r.stdout and "19.79 per graph" in r.stdout and "MUTAG_A.txt" in r.stdout,
      f"text output: {r.stdout}")
r = cli("--help")
check(r.returncode == 0 and "--data-dir" in r.stdout, "cgalr data --help")

# bad usage
r = cli("mutag", "--bogus")
check(r.returncode == 2 and "--bogus" in r.stderr, f"unknown option: rc {r.returncode} {r.stderr}")
r = cli("mutag", "--limit", "-3")
check(r.returncode == 2, f"--limit -3: rc {r.returncode}")
r = cli("mutag", "--val-fraction", "abc")
check(r.returncode == 2, f"--val-fraction abc: rc {r.returncode}")
r = cli()
check(r.returncode == 2, f"no dataset name: rc {r.returncode}")
r = cli("nosuchset", "--data-dir", DATA)
check(r.returncode == 2 and "valid names" in r.stderr, f"unknown name: rc {r.returncode} {r.stderr}")
r = cli("tu:NOPE", "--data-dir", DATA)
check(r.returncode == 1 and "not found" in r.stderr, f"missing TU dataset: rc {r.returncode} {r.stderr}")
r = cli("mutag", "--folds", "1", "--data-dir", DATA)
check(r.returncode == 2, f"--folds 1: rc {r.returncode}")
r = cli("mutag", "--node-attr", "--data-dir", DATA)
check(r.returncode == 2 and "attributes" in r.stderr, f"mutag --node-attr: rc {r.returncode} {r.stderr}")


# ---- graph batches against an independent reading of the TU files --------------------------
def read_tu(name):
    d = os.path.join(TU, name)
    ind = np.loadtxt(os.path.join(d, f"{name}_graph_indicator.txt"), dtype=np.int64) - 1
    A = np.loadtxt(os.path.join(d, f"{name}_A.txt"), delimiter=",", dtype=np.int64) - 1
    gl = np.loadtxt(os.path.join(d, f"{name}_graph_labels.txt"), dtype=np.int64)
    nl = np.loadtxt(os.path.join(d, f"{name}_node_labels.txt"), dtype=np.int64)
    ap = os.path.join(d, f"{name}_node_attributes.txt")
    attr = np.loadtxt(ap, delimiter=",", ndmin=2) if os.path.exists(ap) else None
    return ind, A, np.searchsorted(np.unique(gl), gl), np.searchsorted(np.unique(nl), nl), attr


def dump_graphs(name, split, batch, seed, epoch, attr=False):
    cmd = [os.path.join(TOOLS, "tool_data_dump"), "graphs", name, DATA, split, str(batch), str(seed), str(epoch)]
    if attr:
        cmd.append("node-attr")
    r = subprocess.run(cmd, capture_output=True, text=True)
    check(r.returncode == 0, f"tool_data_dump graphs {name}: {r.stderr}")
    return [json.loads(l) for l in r.stdout.splitlines()]


for name, attr in (("mutag", False), ("proteins", True)):
    tname = name.upper()
    ind, A, gl, nl, at = read_tu(tname)
    first = np.searchsorted(ind, np.arange(ind.max() + 1))
    last = np.append(first[1:], len(ind))
    L = nl.max() + 1
    batches = dump_graphs(name, "train", 32, 7, 3, attr)
    ids = [i for b in batches for i in b["ids"]]
    pos = [i for b in batches for i in b["index"]]
    check(sorted(pos) == list(range(len(pos))), f"{name}: epoch visits every training graph once")
    check(pos != sorted(pos), f"{name}: training order is shuffled")
    train_nodes = np.concatenate([np.arange(first[g], last[g]) for g in ids])
    if attr:
        mu, sd = at[train_nodes].mean(0), at[train_nodes].std(0)
    for b in batches:
        x = np.array(b["x"], dtype=np.float64).reshape(-1, b["feat_dim"])
        rp, col, npt = b["row_ptr"], b["col"], b["node_ptr"]
        for k, g in enumerate(b["ids"]):
            lo, hi = npt[k], npt[k + 1]
            check(hi - lo == last[g] - first[g], f"{name} graph {g}: node count")
            check(b["labels"][k] == gl[g], f"{name} graph {g}: label")
            check(all(v == k for v in b["graph_of_node"][lo:hi]), f"{name} graph {g}: graph_of_node")
            mine = {(v - lo, col[j] - lo) for v in range(lo, hi) for j in range(rp[v], rp[v + 1])}
            sel = (A[:, 0] >= first[g]) & (A[:, 0] < last[g])
            ref = {(int(i - first[g]), int(j - first[g])) for i, j in A[sel]}
            ref |= {(j, i) for i, j in ref}
            check(mine == ref, f"{name} graph {g}: edges differ")
            onehot = np.eye(L)[nl[first[g]:last[g]]]
            want = np.hstack([(at[first[g]:last[g]] - mu) / sd, onehot]) if attr else onehot
            check(np.allclose(x[lo:hi], want, atol=1e-5), f"{name} graph {g}: features differ")
    again = dump_graphs(name, "train", 32, 7, 3, attr)
    check(again == batches, f"{name}: same (seed, epoch) gives identical batches")
    other = dump_graphs(name, "train", 32, 7, 4, attr)
    check([b["index"] for b in other] != [b["index"] for b in batches], f"{name}: next epoch reshuffles")


# ---- Fashion-MNIST pixels and labels against a numpy reading of the IDX files ---------------
def dump_images(name, split, cache):
    r = subprocess.run([os.path.join(TOOLS, "tool_data_dump"), "images", name, DATA, cache, split],
                       capture_output=True)
    check(r.returncode == 0, f"tool_data_dump images {name} {split}: {r.stderr.decode()[-300:]}")
    return r.stdout


if os.path.isdir(FMNIST):
    with gzip.open(os.path.join(FMNIST, "t10k-images-idx3-ubyte.gz")) as f:
        imgs = np.frombuffer(f.read()[16:], dtype=np.uint8).reshape(-1, 784)
    with gzip.open(os.path.join(FMNIST, "t10k-labels-idx1-ubyte.gz")) as f:
        labs = np.frombuffer(f.read()[8:], dtype=np.uint8)
    out = np.frombuffer(dump_images("fashion-mnist", "test", ""), dtype=np.uint8).reshape(-1, 785)
    check(out.shape[0] == 10000, f"fashion-mnist test has {out.shape[0]} records")
    check(np.array_equal(out[:, 0], labs), "fashion-mnist test labels")
    check(np.array_equal(out[:, 1:], imgs), "fashion-mnist test pixels")
    j = json.loads(cli("fashion-mnist", "--json", "--data-dir", TMP).stdout)
    check(j["samples"] == {"train": 54000, "val": 6000, "test": 10000}, f"fashion-mnist splits {j['samples']}")
    check(j["class_counts"]["val"] == [600] * 10, "fashion-mnist validation is stratified")
else:
    print("Fashion-MNIST not installed: skipped")

# ---- CIFAR-10 JPEG copy: decoded bytes equal the README's sha256, before and after caching ----
if os.path.exists(os.path.join(DATA, "cifar10-jpg", "cifar10-jpg.tar.gz")):
    cache = os.path.join(TMP, "cache")
    for f in os.listdir(cache) if os.path.isdir(cache) else []:
        os.remove(os.path.join(cache, f))
    ref = {"train": "fb1ee981abf5e8bf78f49a6f1bf84dcc9e5860c134f8a3900dafce77e7caac60",
           "test": "cf28711b3059b27ed8a78d6529b5ba5b5c94130096ca62a1a924268a9a9ec05b"}
    # Under the sanitizers only the test split is hashed (the whole archive is still decoded
    # once, to build the cache); the optimised build hashes both.
    whole = {}
    for split in (("test",) if SAN else ("test", "train")):
        whole[split] = dump_images("cifar10", split, cache)
        h = hashlib.sha256(whole[split]).hexdigest()
        check(h == ref[split], f"cifar10 JPEG copy {split} sha256 {h}")
    # --limit decodes only the images it samples (no cache involved): the same bytes as above
    r = subprocess.run([os.path.join(TOOLS, "tool_data_dump"), "images", "cifar10", DATA, "", "test", "300"],
                       capture_output=True)
    check(r.returncode == 0 and len(r.stdout) == 300 * 3077, f"cifar10 --limit 300 dump: {r.stderr.decode()[-300:]}")
    for k in range(len(r.stdout) // 3077 if r.returncode == 0 else 0):
        i = int.from_bytes(r.stdout[k * 3077:k * 3077 + 4], "little") - 50000
        check(0 <= i < 10000 and r.stdout[k * 3077 + 4:(k + 1) * 3077] == whole["test"][i * 3073:(i + 1) * 3073],
              f"cifar10 --limit test record {k} (test sample {i}) differs from the full decode")
    check(len(os.listdir(cache)) == 1, f"one cache file written: {os.listdir(cache)}")
    j = json.loads(cli("cifar10", "--json", "--data-dir", DATA, "--cache-dir", cache).stdout)
    check(j["display_name"] == "CIFAR-10 (JPEG q75 copy)", f"display name {j['display_name']}")
    check(j["cache_file"] is not None and j["samples"] == {"train": 45000, "val": 5000, "test": 10000},
          f"cifar10 splits {j['samples']}")
    check(all(abs(a - b) < 2e-3 for a, b in zip(j["mean"], (0.4913, 0.4821, 0.4465))), f"cifar10 mean {j['mean']}")
else:
    print("CIFAR-10 JPEG archive absent: skipped")

# ---- an image folder through the CLI: class order, JSON escaping of odd class names -----------
def png(w, h, seed):
    import struct
    import zlib
    raw = b"".join(b"\x00" + bytes((x * 30 + y * 5 + c * 40 + seed) % 256 for x in range(w) for c in range(3))
                   for y in range(h))

    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)) +
            chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


folder = os.path.join(TMP, "folder")
shutil.rmtree(folder, ignore_errors=True)
classes = ['z"quote', "a\\back", "m space", "\u00e9t\u00e9"]
for i, c in enumerate(classes):
    for split, n in (("train", 3), ("test", 1)):
        d = os.path.join(folder, split, c)
        os.makedirs(d, exist_ok=True)
        for k in range(n):
            with open(os.path.join(d, f"{k}.png"), "wb") as f:
                f.write(png(5, 4, i * 10 + k))
r = cli(f"folder:{folder}", "--json", "--cache-dir", os.path.join(TMP, "fcache"), "--val-fraction", "0")
check(r.returncode == 0, f"folder: rc {r.returncode} {r.stderr}")
if r.returncode == 0:
    j = json.loads(r.stdout)
    want = sorted(classes, key=lambda s: s.encode())
    check(j["class_names"] == want, f"folder classes {j['class_names']} != {want}")
    check(j["samples"] == {"train": 12, "val": 0, "test": 4} and j["shape"] == [3, 4, 5], f"folder {j}")
with open(os.path.join(folder, "train", classes[0], "9.png"), "wb") as f:
    f.write(png(5, 4, 0)[:40])
r = cli(f"folder:{folder}", "--cache-dir", "")
check(r.returncode == 2 and "9.png" in r.stderr, f"truncated PNG: rc {r.returncode} {r.stderr}")

print("failures:", len(failures))
sys.exit(1 if failures else 0)
