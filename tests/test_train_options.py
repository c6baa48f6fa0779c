"""`cgalr train` data options: stratified k-fold on MUTAG (test split size and per-fold results),
augmentation on Fashion-MNIST (changes training, deterministic by seed, never touches validation or
test, SIGKILL + --resume stays bit-identical), one-hot degree features, image-folder resize and
cache directory, what config.json records and what --resume refuses, and bad combinations."""
import json
import os
import shutil
import signal
import struct
import subprocess
import sys
import time
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from runlib import BIN, SAN, check, finish, metrics_without_timing, run, scratch  # noqa: E402

TMP = scratch("/tmp/cgalr-test-train-options")


def rows(d):
    return metrics_without_timing(os.path.join(d, "metrics.jsonl"), missing_ok=True)


def load(d, name):
    p = os.path.join(d, name)
    return json.load(open(p)) if os.path.exists(p) else {}


# ---- MUTAG: stratified 10-fold ------------------------------------------------------------
E = 2 if SAN else 3
MB = ["--data", "mutag", "--model", "gin", "--sched", "constant", "--lr", "0.01", "--epochs", str(E), "--batch", "16",
      "--seed", "1", "--quiet"]
fold_rows = {}
for fold in (3, 4):
    p = run("data", "mutag", "--folds", "10", "--fold", str(fold), "--json")
    check(p.returncode == 0, f"cgalr data --folds 10 --fold {fold}: {p.returncode} {p.stderr}")
    want = json.loads(p.stdout)["samples"] if p.returncode == 0 else {}
    check(want.get("test") in (18, 19) and sum(want.values()) == 188, f"fold {fold}: data layer splits {want}")
    d = os.path.join(TMP, f"mutag-f{fold}")
    p = run("train", *MB, "--folds", "10", "--fold", str(fold), "--out", d)
    check(p.returncode == 0, f"train --folds 10 --fold {fold}: exit {p.returncode}: {p.stderr}")
    s = load(d, "summary.json").get("samples", {})
    check(s == want, f"fold {fold}: the run's splits {s}, cgalr data says {want}")
    cfg = load(d, "config.json")
    check(cfg.get("folds") == 10 and cfg.get("fold") == fold and "--folds 10 --fold %d" % fold in cfg.get("command", ""),
          f"fold {fold}: config.json {cfg}")
    fold_rows[fold] = rows(d)
    check(len(fold_rows[fold]) == E, f"fold {fold}: {len(fold_rows[fold])} metrics lines")
    n = s.get("test", 0)
    for r in fold_rows[fold]:  # accuracies over the fold's graphs: k / n
        check(n and abs(r["test_acc"] * n - round(r["test_acc"] * n)) < 1e-9, f"fold {fold}: test_acc {r['test_acc']} "
              f"is not a multiple of 1/{n}")
check(fold_rows[3] != fold_rows[4] and fold_rows[3] and fold_rows[4]
      and [r["train_loss"] for r in fold_rows[3]] != [r["train_loss"] for r in fold_rows[4]],
      "folds 3 and 4 gave the same training (the fold is not reaching the data)")
# the default is the 80/10/10 split, recorded as such
p = run("data", "mutag", "--json")
want = json.loads(p.stdout)["samples"] if p.returncode == 0 else None
d = os.path.join(TMP, "mutag-default")
p = run("train", *MB, "--epochs", "1", "--out", d)
cfg = load(d, "config.json")
check(p.returncode == 0 and load(d, "summary.json").get("samples") == want, f"default split: {p.stderr} {want}")
check(cfg.get("folds") == 0 and cfg.get("fold") is None and cfg.get("augment_crop") is False
      and cfg.get("normalize") is True and cfg.get("resize") == 0, f"default config.json: {cfg}")
# summary.json names the kernels the run computed with: OpenBLAS's core as OpenBLAS itself reports
# it in a process with the same environment (ctypes, the oracle), and the engine's instruction set;
# both follow OPENBLAS_CORETYPE and CGALR_ISA when they are forced
def blas_core(env):
    code = ("import ctypes; l = ctypes.CDLL('libopenblas.so.0'); l.openblas_get_corename.restype = ctypes.c_char_p; "
            "print(l.openblas_get_corename().decode())")
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env).stdout.strip()
env0 = {e: v for e, v in os.environ.items() if e not in ("OPENBLAS_CORETYPE", "CGALR_ISA")}
dk = os.path.join(TMP, "mutag-kernels-auto")
p = run("train", *MB, "--epochs", "1", "--out", dk, env=env0)
k = load(dk, "summary.json").get("kernels", {})
check(k.get("blas") == blas_core(env0) and k.get("engine") in ("generic", "avx2", "avx512"),
      f"default kernels {k} against OpenBLAS's {blas_core(env0)!r}")
forced = dict(env0, OPENBLAS_CORETYPE="Sandybridge", CGALR_ISA="generic")
dk = os.path.join(TMP, "mutag-kernels")
p = run("train", *MB, "--epochs", "1", "--out", dk, env=forced)
k = load(dk, "summary.json").get("kernels")
check(p.returncode == 0 and k == {"blas": "Sandybridge", "engine": "generic"} and blas_core(forced) == "Sandybridge",
      f"forced kernels: {p.returncode} {p.stderr} {k}")
# resume refuses another fold, naming it
p = run("train", *MB, "--folds", "10", "--fold", "4", "--out", os.path.join(TMP, "mutag-f3"), "--resume")
check(p.returncode == 2 and "fold" in p.stderr, f"resume of fold 3 as fold 4: {p.returncode} {p.stderr}")
# a config.json written before these keys existed still resumes (absent = the default)
old = os.path.join(TMP, "mutag-default", "config.json")
o = json.load(open(old))
for k in ("augment_crop", "augment_flip", "cache_dir", "folds", "fold", "degree_features", "normalize",
          "cifar100_coarse", "resize"):
    o.pop(k, None)
json.dump(o, open(old, "w"))
p = run("train", *MB, "--epochs", "1", "--out", d, "--resume")
check(p.returncode == 0, f"resume of a run from before the data options: {p.returncode} {p.stderr}")
p = run("train", *MB, "--epochs", "1", "--folds", "5", "--fold", "0", "--out", d, "--resume")
check(p.returncode == 2 and "folds" in p.stderr, f"old config resumed with --folds: {p.returncode} {p.stderr}")

# ---- one-hot degree features on a TU dataset without node labels ---------------------------
nolab = os.path.join(TMP, "data", "TU", "NOLAB")
os.makedirs(nolab)
src = os.path.join(os.environ["CGALR_DATA"], "TU", "MUTAG")
for part in ("A", "graph_indicator", "graph_labels"):
    shutil.copy(os.path.join(src, f"MUTAG_{part}.txt"), os.path.join(nolab, f"NOLAB_{part}.txt"))
params = {}
for deg in (0, 1):
    d = os.path.join(TMP, f"nolab-{deg}")
    p = run("train", "--data", "tu:NOLAB", "--data-dir", os.path.join(TMP, "data"), "--model", "gin", "--sched",
            "constant", "--epochs", "1", "--quiet", "--out", d, *(["--degree-features"] if deg else []))
    check(p.returncode == 0, f"tu:NOLAB degree {deg}: {p.returncode} {p.stderr}")
    params[deg] = load(d, "summary.json").get("params")
    check(load(d, "config.json").get("degree_features") is bool(deg), f"degree_features {deg} not in config.json")
check(params[0] and params[1] and params[1] > params[0],
      f"--degree-features should widen the input (one-hot degree instead of a constant): params {params}")

# ---- Fashion-MNIST: augmentation -----------------------------------------------------------
L = "400" if SAN else "1000"
FB = ["--data", "fashion-mnist", "--model", "mlp", "--sched", "constant", "--lr", "0.05", "--epochs", "2", "--limit", L,
      "--seed", "5", "--quiet"]
res = {}
for name, extra in (("plain", []), ("augment", ["--augment"]), ("augment2", ["--augment"]), ("crop", ["--crop"]),
                    ("flip", ["--flip"])):
    d = os.path.join(TMP, f"fm-{name}")
    p = run("train", *FB, *extra, "--out", d)
    check(p.returncode == 0, f"fashion-mnist {name}: exit {p.returncode}: {p.stderr}")
    res[name] = rows(d)
    check(len(res[name]) == 2, f"fashion-mnist {name}: {len(res[name])} metrics lines")
    cfg = load(d, "config.json")
    check(cfg.get("augment_crop") is ("crop" in name or "augment" in name)
          and cfg.get("augment_flip") is ("flip" in name or "augment" in name), f"{name}: config.json {cfg}")
tl = {k: [r["train_loss"] for r in v] for k, v in res.items()}
check(tl["augment"] != tl["plain"], f"--augment did not change the training loss: {tl['augment']} {tl['plain']}")
check(res["augment"] == res["augment2"], "two --augment runs with the same seed differ")
check(len({tuple(tl[k]) for k in ("plain", "crop", "flip", "augment")}) == 4,
      f"plain, crop, flip and both should train differently: {tl}")
check("--augment" in load(os.path.join(TMP, "fm-augment"), "config.json").get("command", ""),
      "config.json's command lacks --augment")

# validation and test are never augmented: at a rate too small to move a float32 weight the model
# stays put, so validation and test must be the same with and without --augment while training
# (augmented) differs
tiny = {}
for name, extra in (("plain", []), ("augment", ["--augment"])):
    d = os.path.join(TMP, f"fm-tiny-{name}")
    p = run("train", *[a if a != "0.05" else "1e-12" for a in FB], *extra, "--out", d)
    check(p.returncode == 0, f"tiny lr {name}: {p.returncode} {p.stderr}")
    tiny[name] = rows(d)
if tiny["plain"] and tiny["augment"]:
    for a, b in zip(tiny["plain"], tiny["augment"]):
        check((a["val_loss"], a["val_acc"], a["test_acc"]) == (b["val_loss"], b["val_acc"], b["test_acc"]),
              f"validation/test changed with --augment (they must never be augmented): {a} {b}")
    check(tiny["plain"][0]["train_loss"] != tiny["augment"][0]["train_loss"], "tiny lr: training was not augmented")

# resume takes the run's options (augmentation included) from its config.json; an option given
# that contradicts them is refused, naming it
p = run("train", "--out", os.path.join(TMP, "fm-augment"), "--resume")
check(p.returncode == 0 and "already finished" in p.stdout, f"resume with the options of config.json: {p.returncode} {p.stdout} {p.stderr}")
p = run("train", *[a if a != "0.05" else "0.07" for a in FB], "--out", os.path.join(TMP, "fm-augment"), "--resume")
check(p.returncode == 2 and "lr" in p.stderr and "0.05" in p.stderr, f"resume with another --lr: {p.returncode} {p.stderr}")

# SIGKILL in the middle of a run with augmentation, then --resume: the uninterrupted run's metrics
KE = 3
KB = ["--data", "fashion-mnist", "--model", "mlp", "--sched", "cgalr-top", "--lr", "0.05", "--epochs", str(KE),
      "--limit", "1000" if SAN else "2000", "--seed", "7", "--augment", "--probe", "256", "--quiet"]
ref = os.path.join(TMP, "kill-ref")
p = run("train", *KB, "--out", ref)
check(p.returncode == 0, f"augmented cgalr-top run: {p.returncode} {p.stderr}")
ref_rows = rows(ref)
mid_run = 0
for k in (1,):
    d = os.path.join(TMP, f"kill{k}")
    proc = subprocess.Popen([BIN, "train", *KB, "--out", d], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    mpath = os.path.join(d, "metrics.jsonl")
    t0 = time.time()
    while proc.poll() is None and time.time() - t0 < 120:
        if os.path.exists(mpath) and sum(1 for _ in open(mpath)) >= k:
            time.sleep(0.02)  # into the next epoch
            break
        time.sleep(0.002)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    if proc.returncode == -signal.SIGKILL and not os.path.exists(os.path.join(d, "summary.json")):
        mid_run += 1
    p = run("train", *KB, "--out", d, "--resume")
    check(p.returncode == 0 and rows(d) == ref_rows,
          f"augmented run killed after {k} epochs and resumed differs: {p.returncode} {p.stderr}")
check(mid_run >= 1, "no SIGKILL landed in the middle of a run: the resume check proved nothing")

# ---- an image folder: --resize and --cache-dir ---------------------------------------------


def png(path, w, h, pix):
    raw = b"".join(b"\x00" + bytes(pix[y * w * 3:(y + 1) * w * 3]) for y in range(h))

    def chunk(t, data):
        return struct.pack(">I", len(data)) + t + data + struct.pack(">I", zlib.crc32(t + data) & 0xFFFFFFFF)

    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
                + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


root = os.path.join(TMP, "imgs")
for split, n in (("train", 10), ("test", 4)):
    for ci, cls in enumerate(("dark", "light")):
        os.makedirs(os.path.join(root, split, cls))
        for i in range(n):
            base = 40 + 150 * ci
            png(os.path.join(root, split, cls, f"{i}.png"), 12, 10,
                [(base + 7 * i + 3 * j) % 256 for j in range(12 * 10 * 3)])
os.chmod(root, 0o555)  # nothing may be written beside the images: the cache must go to --cache-dir
try:
    params = {}
    for rs in (0, 8):
        d = os.path.join(TMP, f"folder-r{rs}")
        cache = os.path.join(TMP, f"cache-r{rs}")
        p = run("train", "--data", "folder:" + root, "--model", "mlp", "--sched", "constant", "--epochs", "1", "--batch",
                "4", "--augment", "--quiet", "--cache-dir", cache, "--out", d, *(["--resize", str(rs)] if rs else []))
        check(p.returncode == 0, f"folder resize {rs}: {p.returncode} {p.stderr}")
        params[rs] = load(d, "summary.json").get("params")
        cfg = load(d, "config.json")
        check(cfg.get("resize") == rs and cfg.get("cache_dir") == cache, f"folder resize {rs}: config.json {cfg}")
        check(os.path.isdir(cache) and any(x.endswith(".cgalr-cache") for x in os.listdir(cache)),
              f"no decoded-image cache in --cache-dir {cache}")
        # the cache only holds decoded pixels: a resume may name another one
        p = run("train", "--data", "folder:" + root, "--model", "mlp", "--sched", "constant", "--epochs", "1",
                "--batch", "4", "--augment", "--quiet", "--cache-dir", "", "--out", d, "--resume",
                *(["--resize", str(rs)] if rs else []))
        check(p.returncode == 0, f"resume with another --cache-dir: {p.returncode} {p.stderr}")
    # mlp input 3 x 10 x 12 kept vs 3 x 8 x 8 resized: the first layer's width tells
    check(params[0] and params[8] and params[0] > params[8] and (params[0] - params[8]) % (360 - 192) == 0,
          f"--resize 8 did not reach the data: params {params}")
finally:
    os.chmod(root, 0o755)

# ---- bad combinations: exit 2 naming the option, before any work ----------------------------
bad = os.path.join(TMP, "bad")
G = ["--data", "mutag", "--model", "gin", "--sched", "constant", "--out", bad]
I = ["--data", "fashion-mnist", "--model", "mlp", "--sched", "constant", "--out", bad]
cases = [
    (G + ["--fold", "3"], "--fold"),
    (G + ["--folds", "10"], "--fold"),
    (G + ["--folds", "10", "--fold", "10"], "--fold"),
    (G + ["--folds", "1", "--fold", "0"], "--folds"),
    (G + ["--folds", "101", "--fold", "0"], "--folds"),
    (G + ["--augment"], "--augment"),
    (G + ["--crop"], "--crop"),
    (G + ["--flip"], "--flip"),
    (G + ["--no-normalize"], "--no-normalize"),
    (G + ["--cache-dir", "x"], "--cache-dir"),
    (G + ["--coarse"], "--coarse"),
    (G + ["--resize", "32"], "--resize"),
    (I + ["--folds", "5", "--fold", "0"], "--folds"),
    (I + ["--degree-features"], "--degree-features"),
    (I + ["--node-attr"], "--node-attr"),
    (I + ["--coarse"], "--coarse"),
    (I + ["--resize", "32"], "--resize"),
    (I + ["--resize", "x"], "--resize"),
]
for args, needle in cases:
    p = run("train", *args)
    check(p.returncode == 2 and needle in p.stderr, f"bad input {args}: exit {p.returncode}, stderr {p.stderr!r}")
check(not os.path.exists(bad), "a rejected command left a run directory behind")
p = run("train", *G, "--folds", "10", "--fold", "9", "--check")
check(p.returncode == 0 and not os.path.exists(bad), f"train --check of valid options: {p.returncode} {p.stderr}")
p = run("train", *I, "--augment", "--folds", "10", "--check")
check(p.returncode == 2 and "--folds" in p.stderr, f"train --check of bad options: {p.returncode} {p.stderr}")
# a grid refuses bad options after -- before any run directory exists
gbad = os.path.join(TMP, "grid-bad")
p = run("grid", "--data", "mutag", "--model", "gin", "--methods", "constant,cosine", "--lrs", "0.01", "--seeds", "0,1",
        "--epochs", "1", "--out", gbad, "--", "--augment")
check(p.returncode == 2 and "--augment" in p.stderr and not os.path.exists(gbad),
      f"grid with -- --augment on mutag: {p.returncode} {p.stderr}")
# the grid passes them on to every run
p = run("grid", "--data", "mutag", "--model", "gin", "--methods", "constant", "--lrs", "0.01", "--seeds", "0",
        "--epochs", "1", "--out", os.path.join(TMP, "grid"), "--", "--split-seed", "3", "--batch", "17")
check(p.returncode == 0, f"grid with -- --batch: {p.returncode} {p.stdout} {p.stderr}")
gcfg = load(os.path.join(TMP, "grid", "constant_lr0.01_s0"), "config.json")
check(gcfg.get("batch") == 17 and gcfg.get("split_seed") == "3", f"grid run config.json: {gcfg}")
# folds are the grid's own dimension: a single fold after -- points to --folds
p = run("grid", "--data", "mutag", "--model", "gin", "--methods", "constant", "--lrs", "0.01", "--seeds", "0",
        "--epochs", "1", "--out", os.path.join(TMP, "grid-f"), "--", "--fold", "2")
check(p.returncode == 2 and "--fold" in p.stderr, f"grid with -- --fold: {p.returncode} {p.stderr}")

# one strict integer parser (cli_parse_uint) everywhere: decimal only, no sign, blank or hex, and
# a leading 0 is not octal
for args, needle in [(G + ["--seed", "+5"], "--seed"), (G + ["--seed", " 5"], "--seed"), (G + ["--seed", "0x10"], "--seed"),
                     (G + ["--batch", "1e3"], "--batch"), (G + ["--seed", "18446744073709551616"], "--seed")]:
    p = run("train", *args, "--check")
    check(p.returncode == 2 and needle in p.stderr, f"strict integers: {args}: exit {p.returncode}, {p.stderr!r}")
p = run("train", *G, "--seed", "010", "--folds", "10", "--fold", "0", "--out", os.path.join(TMP, "oct"), "--epochs", "1")
oc = load(os.path.join(TMP, "oct"), "config.json") if p.returncode == 0 else {}
check(oc.get("seed_exact") == "10", f"--seed 010 is ten, not octal eight: {p.returncode} {p.stderr} {oc.get('seed_exact')}")
for opt, val in [("--jobs", " 2"), ("--jobs", "+2"), ("--folds", "010x"), ("--epochs", "-1"), ("--seeds", "0,+1")]:
    p = run("grid", "--data", "mutag", "--model", "gin", "--methods", "constant", "--lrs", "0.01", "--seeds", "0",
            "--epochs", "1", "--out", gbad, opt, val)
    check(p.returncode == 2 and opt in p.stderr and not os.path.exists(gbad), f"grid {opt} {val!r}: {p.returncode} {p.stderr}")
p = run("topo", "--help")
for opt, val in [("--dim", "+1"), ("--dim", "01x")]:
    p = run("topo", "--distance", "top", opt, val)
    check(p.returncode == 2 and opt in p.stderr, f"topo {opt} {val!r}: {p.returncode} {p.stderr}")

finish()
