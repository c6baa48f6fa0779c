"""Where the decoded-image cache goes and what --limit decodes (issue 11 item 6): a data folder's
listing (names, sizes, mtimes, modes) is unchanged by `cgalr data` and a short `cgalr train`; the
cache lands in --cache-dir, else $CGALR_CACHE_DIR, else $XDG_CACHE_HOME/cgalr, else
~/.cache/cgalr; two data folders never share an entry; a damaged entry is rebuilt, never used;
an unwritable cache directory only means decoding in memory; concurrent decoders publish one
complete file; --limit decodes only the images its splits use (the `decoded` counter of `cgalr
data --json`, compared with the split sizes), caches nothing, and yields the same pixels as a full
decode."""
import json
import os
import shutil
import stat
import struct
import subprocess
import sys
import zlib

import numpy as np

BIN = os.environ["CGALR_BIN"]
TOOLS = os.environ["CGALR_TOOLS"]
SHARED = os.environ.get("CGALR_SHARED", "../shared")
TMP = os.environ.get("CGALR_TMP", "/tmp/cgalr-test-data-cache")
SAN = os.environ.get("CGALR_SANITIZED", "0") == "1"
ARCHIVE = os.path.join(SHARED, "data", "cifar10-jpg", "cifar10-jpg.tar.gz")
shutil.rmtree(TMP, ignore_errors=True)
os.makedirs(TMP)
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what)


def env(**kv):
    """The environment with only the given cache variables set (HOME always inside TMP)."""
    e = {k: v for k, v in os.environ.items() if k not in ("CGALR_CACHE_DIR", "XDG_CACHE_HOME", "CGALR_DATA")}
    e["HOME"] = os.path.join(TMP, "home")
    for k, v in kv.items():
        if v is None:
            e.pop(k, None)
        else:
            e[k] = v
    return e


def data(name, *args, **kv):
    r = subprocess.run([BIN, "data", name, "--json", *args], capture_output=True, text=True, env=env(**kv))
    check(r.returncode == 0, f"cgalr data {name} {args} {kv}: rc {r.returncode} {r.stderr}")
    return json.loads(r.stdout) if r.returncode == 0 else None


def listing(root):
    """Every entry below root with its size, mtime (ns) and mode: what must not change."""
    out = []
    for d, dirs, files in os.walk(root):
        for n in sorted(dirs + files):
            st = os.lstat(os.path.join(d, n))
            out.append((os.path.relpath(os.path.join(d, n), root), st.st_size, st.st_mtime_ns, st.st_mode))
    st = os.lstat(root)
    return sorted(out) + [(".", st.st_mtime_ns, st.st_mode)]


def files_under(root):
    return sorted(os.path.relpath(os.path.join(d, n), root) for d, _, fs in os.walk(root) for n in fs) \
        if os.path.isdir(root) else []


def png(w, h, seed):
    raw = b"".join(b"\x00" + bytes((x * 31 + y * 7 + c * 50 + seed * 13) % 256 for x in range(w) for c in range(3))
                   for y in range(h))

    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)) +
            chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def dump(name, cache, split, limit=None, data_dir=TMP):
    r = subprocess.run([os.path.join(TOOLS, "tool_data_dump"), "images", name, data_dir, cache, split,
                        *([str(limit)] if limit else [])], capture_output=True, env=env())
    check(r.returncode == 0, f"tool_data_dump {name} {split} {limit}: {r.stderr.decode()[-300:]}")
    return r.stdout


# ---- an image folder of PNGs: 3 classes x 12 training + 4 test images of 8 x 6 --------------
F = os.path.join(TMP, "pngs")
for ci, cls in enumerate(("ant", "bee", "cat")):
    for split, n in (("train", 12), ("test", 4)):
        os.makedirs(os.path.join(F, split, cls))
        for k in range(n):
            with open(os.path.join(F, split, cls, f"{k:02d}.png"), "wb") as f:
                f.write(png(8, 6, ci * 20 + k + (100 if split == "test" else 0)))
N = 3 * 16
for d, _, fs in os.walk(F):  # a read-only data folder, as ../shared/data is
    for n in fs:
        os.chmod(os.path.join(d, n), 0o444)
before = listing(F)
FOLDER = "folder:" + F

# CGALR_CACHE_DIR wins over XDG_CACHE_HOME and HOME; a second open reads the cache
c1, xdg = os.path.join(TMP, "c1"), os.path.join(TMP, "xdg")
j = data(FOLDER, CGALR_CACHE_DIR=c1, XDG_CACHE_HOME=xdg)
if j:
    check(j.get("decoded") == N, f"first open decodes all {N} images: {j.get('decoded')}")
    check(j["cache_file"] and os.path.dirname(j["cache_file"]) == c1, f"cache under $CGALR_CACHE_DIR: {j['cache_file']}")
    check(files_under(c1) == [os.path.basename(j["cache_file"])], f"one cache file in {c1}: {files_under(c1)}")
    check(not os.path.exists(xdg) and not os.path.exists(os.path.join(TMP, "home")), "nothing under XDG/HOME")
    j2 = data(FOLDER, CGALR_CACHE_DIR=c1, XDG_CACHE_HOME=xdg)
    check(j2 and j2.get("decoded") == 0 and j2["cache_file"] == j["cache_file"], f"second open from the cache: {j2}")
    check(j2 and j2["mean"] == j["mean"] and j2["samples"] == j["samples"], "cache gives the same dataset")
CACHE1 = j["cache_file"] if j else None

# $XDG_CACHE_HOME/cgalr, then ~/.cache/cgalr (a relative XDG_CACHE_HOME is ignored, as the spec says)
j = data(FOLDER, XDG_CACHE_HOME=xdg)
check(j and os.path.dirname(j["cache_file"]) == os.path.join(xdg, "cgalr"), f"cache under XDG_CACHE_HOME: {j}")
j = data(FOLDER, XDG_CACHE_HOME="relative/dir")
home_cache = os.path.join(TMP, "home", ".cache", "cgalr")
check(j and os.path.dirname(j["cache_file"]) == home_cache, f"cache under ~/.cache/cgalr: {j}")
check(not os.path.exists("relative"), "a relative XDG_CACHE_HOME is not used")
# --cache-dir beats the environment; "" turns the cache off
c2 = os.path.join(TMP, "c2")
j = data(FOLDER, "--cache-dir", c2, CGALR_CACHE_DIR=c1)
check(j and os.path.dirname(j["cache_file"]) == c2 and j.get("decoded") == N, f"--cache-dir wins: {j}")
j = data(FOLDER, "--cache-dir", "", CGALR_CACHE_DIR=c1)
check(j and j["cache_file"] is None and j.get("decoded") == N, f"--cache-dir '' decodes in memory: {j}")
check(listing(F) == before, "the data folder is unchanged after `cgalr data`")

# two data folders with identical names, sizes and mtimes never share a cache entry
F2 = os.path.join(TMP, "copy", "pngs")
shutil.copytree(F, F2, copy_function=shutil.copy2)
j = data("folder:" + F2, CGALR_CACHE_DIR=c1)
check(j and j.get("decoded") == N and j["cache_file"] != CACHE1 and os.path.dirname(j["cache_file"]) == c1,
      f"a copy of the folder gets its own cache entry: {j} vs {CACHE1}")
check(len(files_under(c1)) == 2, f"two cache files: {files_under(c1)}")

# a damaged cache entry is detected and rebuilt, never used: one flipped pixel byte, then a cut
ref = dump(FOLDER, c1, "train")
check(len(ref) == 36 * (1 + 3 * 8 * 6), f"train dump size {len(ref)}")
for damage in ("flip", "truncate", "garbage"):
    with open(CACHE1, "r+b") as f:
        size = os.path.getsize(CACHE1)
        if damage == "flip":
            f.seek(size - 8 - 100)  # inside the last image's pixels
            b = f.read(1)
            f.seek(size - 8 - 100)
            f.write(bytes([b[0] ^ 0x10]))
        elif damage == "truncate":
            f.truncate(size - 1)
        else:
            f.write(b"not a cache")
    j = data(FOLDER, CGALR_CACHE_DIR=c1)
    check(j and j.get("decoded") == N and j["cache_file"] == CACHE1, f"damaged cache ({damage}) rebuilt: {j}")
    check(dump(FOLDER, c1, "train") == ref, f"pixels after a damaged cache ({damage}) equal the files'")
    j = data(FOLDER, CGALR_CACHE_DIR=c1)
    check(j and j.get("decoded") == 0, f"the rebuilt cache ({damage}) is used next time: {j}")

# a cache directory that cannot be written: no error, no message, decoded in memory
ro = os.path.join(TMP, "ro")
os.makedirs(ro)
os.chmod(ro, 0o555)
r = subprocess.run([BIN, "data", FOLDER, "--json"], capture_output=True, text=True, env=env(CGALR_CACHE_DIR=ro))
check(r.returncode == 0 and r.stderr == "", f"read-only cache dir: rc {r.returncode} {r.stderr}")
if r.returncode == 0:
    j = json.loads(r.stdout)
    check(j["cache_file"] is None and j.get("decoded") == N, f"read-only cache dir: decoded in memory {j}")
check(os.listdir(ro) == [], f"nothing written into the read-only cache dir: {os.listdir(ro)}")
rohome = os.path.join(TMP, "rohome")
os.makedirs(rohome)
os.chmod(rohome, 0o555)
r = subprocess.run([BIN, "data", FOLDER, "--json"], capture_output=True, text=True, env=env(HOME=rohome))
check(r.returncode == 0 and json.loads(r.stdout)["cache_file"] is None and os.listdir(rohome) == [],
      f"read-only HOME: {r.returncode} {r.stderr} {os.listdir(rohome)}")
os.chmod(ro, 0o755)
os.chmod(rohome, 0o755)

# --limit: only the images of the (limited) splits are decoded, nothing is cached, same pixels
c3 = os.path.join(TMP, "c3")
j = data(FOLDER, "--limit", "5", "--val-fraction", "0", CGALR_CACHE_DIR=c3)
if j:
    used = sum(j["samples"].values())
    check(j["samples"] == {"train": 5, "val": 0, "test": 5}, f"--limit 5 splits {j['samples']}")
    check(j.get("decoded") == used, f"--limit decodes only the {used} images it uses: {j.get('decoded')}")
    check(j["cache_file"] is None and files_under(c3) == [], f"a partial decode is not cached: {files_under(c3)}")
full = dump(FOLDER, "", "test")
rec = 1 + 3 * 8 * 6
for split, first, whole in (("train", 0, ref), ("test", 36, full)):
    part = dump(FOLDER, "", split, limit=5)
    check(len(part) == 5 * (4 + rec), f"--limit 5 {split} dump size {len(part)}")
    for k in range(len(part) // (4 + rec)):
        i = struct.unpack("<I", part[k * (4 + rec):k * (4 + rec) + 4])[0] - first
        check(0 <= i < len(whole) // rec and part[k * (4 + rec) + 4:(k + 1) * (4 + rec)] == whole[i * rec:(i + 1) * rec],
              f"--limit {split} record {k} (sample {i}) differs from the full decode")
# with a complete cache present, --limit reads it instead of decoding
j = data(FOLDER, "--limit", "5", CGALR_CACHE_DIR=c1)
check(j and j.get("decoded") == 0 and j["cache_file"] == CACHE1, f"--limit uses a complete cache: {j}")

# concurrent decoders on one empty cache directory: each succeeds, one complete file, no temporaries
c4 = os.path.join(TMP, "c4")
procs = [subprocess.Popen([BIN, "data", FOLDER, "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          env=env(CGALR_CACHE_DIR=c4)) for _ in range(4)]
outs = [p.communicate() + (p.returncode,) for p in procs]
check(all(rc == 0 for _, _, rc in outs), f"concurrent decoders: {[(rc, e[-200:]) for _, e, rc in outs]}")
check(len(files_under(c4)) == 1 and files_under(c4)[0].endswith(".cgalr-cache"), f"one cache file: {files_under(c4)}")
j = data(FOLDER, CGALR_CACHE_DIR=c4)
check(j and j.get("decoded") == 0, f"the concurrently written cache is complete: {j}")
check(listing(F) == before, "the data folder is unchanged after every `cgalr data` above")

# ---- the real CIFAR-10 JPEG archive in a data folder of its own ------------------------------
if os.path.exists(ARCHIVE):
    D = os.path.join(TMP, "data")
    os.makedirs(os.path.join(D, "cifar10-jpg"))
    shutil.copy2(ARCHIVE, os.path.join(D, "cifar10-jpg"))
    before = listing(D)
    x5 = os.path.join(TMP, "xdg5")
    j = data("cifar10", "--data-dir", D, "--limit", "100", XDG_CACHE_HOME=x5)
    if j:
        check(j["samples"] == {"train": 100, "val": 100, "test": 100}, f"cifar10 --limit 100 splits {j['samples']}")
        check(j.get("decoded") == 300, f"cifar10 --limit 100 decodes 300 of 60000 images: {j.get('decoded')}")
        check(j["cache_file"] is None and files_under(x5) == [], f"no partial cache: {files_under(x5)}")
    check(listing(D) == before, "cifar10 data folder unchanged after `cgalr data --limit 100`")
    # a short training run on the same folder
    out = os.path.join(TMP, "run")
    r = subprocess.run([BIN, "train", "--data", "cifar10", "--data-dir", D, "--model", "mlp", "--sched", "constant",
                        "--epochs", "1", "--limit", "64", "--batch", "32", "--probe", "32", "--quiet", "--out", out],
                       capture_output=True, text=True, env=env(XDG_CACHE_HOME=x5))
    check(r.returncode == 0, f"short cifar10 train: rc {r.returncode} {r.stderr[-400:]}")
    check(listing(D) == before, "cifar10 data folder unchanged after a short `cgalr train`")
    check(files_under(x5) == [], f"a --limit train caches no partial decode: {files_under(x5)}")
    check(not os.path.exists(os.path.join(TMP, "home", ".cache", "cgalr", "cifar10-jpg.tar.gz")), "no stray cache")
else:
    print("CIFAR-10 JPEG archive absent: skipped")

print("failures:", len(failures))
sys.exit(1 if failures else 0)
