"""libcgalr.so exports exactly the public API: every defined dynamic symbol starts with cgalr_
(nothing of a layer's internals can clash with a program that embeds the library), every function
include/cgalr declares with CGALR_API is exported, and so is every function the Python package
calls through ctypes."""
import glob
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from runlib import check, finish  # noqa: E402

SRC = os.environ.get("CGALR_SRC", ".")
lib = os.path.join(os.path.dirname(os.environ["CGALR_BIN"]), "libcgalr.so")
check(os.path.exists(lib), f"{lib} not built")
if os.path.exists(lib):
    out = subprocess.run(["nm", "-D", "--defined-only", lib], capture_output=True, text=True)
    check(out.returncode == 0, f"nm: {out.stderr}")
    syms = {ln.split()[-1] for ln in out.stdout.splitlines() if ln.strip()}
    # the toolchain's own (_init, _fini, __bss_start...) are not ours to name
    ours = {s for s in syms if not s.startswith("_")}
    stray = sorted(s for s in ours if not s.startswith("cgalr_"))
    check(not stray, f"{len(stray)} exported symbols without the cgalr_ prefix: {stray[:20]}")
    declared = set()
    for h in glob.glob(os.path.join(SRC, "include", "cgalr", "*.h")):
        declared |= set(re.findall(r"^CGALR_API [^;(]*?\b(cgalr_\w+)\(", open(h).read(), re.M))
    check(len(declared) > 100, f"only {len(declared)} CGALR_API declarations found")
    missing = sorted(declared - syms)
    check(not missing, f"declared CGALR_API but not exported: {missing[:20]}")
    extra = sorted(s for s in ours - declared)
    check(not extra, f"exported but not declared CGALR_API in include/cgalr: {extra[:20]}")
    used = set()
    for f in glob.glob(os.path.join(SRC, "python", "cgalr", "*.py")):
        used |= {u for u in re.findall(r"\b(cgalr_[a-z0-9_]+)\b", open(f).read()) if not u.endswith("_t")}
    check(used and not (used - syms), f"the Python package calls what the library hides: {sorted(used - syms)}")
finish()
