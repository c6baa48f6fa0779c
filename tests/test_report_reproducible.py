"""`cgalr report` remakes every committed report.md under results/ byte for byte, wherever the
grid directory lies: the grids are copied to a scratch directory of another name and reported
there (issue 14: no absolute or machine paths, no timestamps in report.md)."""
import os
import shutil
import subprocess

from runlib import BIN, check, finish, scratch

TMP = scratch(os.path.join(os.getcwd(), "test-tmp", "test_report_reproducible"))
ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "results")
KEEP = ("config.json", "metrics.jsonl", "summary.json", "report.md")
grids = []
for dp, dn, fn in os.walk(ROOT):
    dn[:] = [d for d in dn if d != "figures"]
    if "report.md" in fn:
        grids.append(dp)
check(grids, f"no committed report.md under {ROOT}")
for g in sorted(grids):
    rel = os.path.relpath(g, ROOT)
    dst = os.path.join(TMP, "elsewhere", rel.replace(os.sep, "_") + "-copy")
    for dp, dn, fn in os.walk(g):
        dn[:] = [d for d in dn if d != "figures"]
        for f in fn:
            if f in KEEP:
                out = os.path.join(dst, os.path.relpath(dp, g))
                os.makedirs(out, exist_ok=True)
                shutil.copy(os.path.join(dp, f), out)
    want = open(os.path.join(g, "report.md"), "rb").read()
    p = subprocess.run([BIN, "report", dst, "--quiet"], capture_output=True, text=True, timeout=600)
    check(p.returncode == 0, f"{rel}: report exit {p.returncode}: {p.stderr}")
    got = open(os.path.join(dst, "report.md"), "rb").read() if p.returncode == 0 else b""
    if got != want:
        a, b = want.decode(errors="replace").splitlines(), got.decode(errors="replace").splitlines()
        first = next((i for i in range(min(len(a), len(b))) if a[i] != b[i]), min(len(a), len(b)))
        check(False, f"{rel}: report.md differs from the committed one at line {first + 1}: "
                     f"{a[first] if first < len(a) else '<end>'!r} vs {b[first] if first < len(b) else '<end>'!r}")
finish()
