"""`cmake --install` into a temporary prefix installs the Python package with its library in
Debian's dist-packages layout, and the installed copy imports and computes without the build
tree or CGALR_LIBRARY; a package without any library raises ImportError naming what it tried."""
import os
import shutil
import subprocess
import sys
import tempfile

BIN = os.environ.get("CGALR_BIN", "build/cgalr")
BUILD = os.path.dirname(os.path.abspath(BIN))
if os.environ.get("CGALR_SANITIZED", "0") == "1":
    print("SKIP: the sanitizer build of libcgalr.so is not loaded into Python (ASan must come first)")
    sys.exit(0)
base = os.environ.get("CGALR_TMP")
if base:
    os.makedirs(base, exist_ok=True)
tmp = tempfile.mkdtemp(prefix="cgalr-install-", dir=base)
failures = []


def check(cond, msg):
    if not cond:
        failures.append(msg)
        print("FAIL:", msg)


try:
    r = subprocess.run(["cmake", "--install", BUILD, "--prefix", os.path.join(tmp, "usr")],
                       capture_output=True, text=True)
    check(r.returncode == 0, "cmake --install: %s" % r.stderr)
    pkg = os.path.join(tmp, "usr", "lib", "python3", "dist-packages")
    for f in ("cgalr/__init__.py", "cgalr/torch.py", "cgalr/libcgalr.so"):
        check(os.path.isfile(os.path.join(pkg, f)), "installed %s" % f)
    env = {k: v for k, v in os.environ.items() if k != "CGALR_LIBRARY"}
    env["PYTHONPATH"] = pkg
    code = ("import cgalr, numpy as np; assert cgalr.library_path.startswith(%r), cgalr.library_path; "
            "m = cgalr.connectome(np.arange(12.0).reshape(4, 3) ** 2); print(round(m[0, 1], 6))  # NumPy: 0.998726" % pkg)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=tmp)
    check(r.returncode == 0 and r.stdout.strip() == "0.998726", "installed package: %r %r" % (r.stdout, r.stderr))
    # without the library: a clear ImportError naming the paths it looked at
    os.remove(os.path.join(pkg, "cgalr", "libcgalr.so"))
    env["CGALR_LIBRARY"] = os.path.join(tmp, "missing.so")
    r = subprocess.run([sys.executable, "-c", "import cgalr"], capture_output=True, text=True, env=env, cwd=tmp)
    check(r.returncode != 0 and "ImportError" in r.stderr and "missing.so" in r.stderr and "CGALR_LIBRARY" in r.stderr,
          "missing library: %r" % r.stderr[-400:])
finally:
    shutil.rmtree(tmp, ignore_errors=True)
if failures:
    sys.exit(1)
print("ok")
