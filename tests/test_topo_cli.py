"""`cgalr topo` on bad input and bad usage: every case must exit 2 (never crash) with a message
that names the file and the line/row and column; plus the input formats that must be accepted."""
import os
import subprocess
import sys

BIN = os.environ["CGALR_BIN"]
TMP = os.environ["CGALR_TMP"]
os.makedirs(TMP, exist_ok=True)
failures = []


def f(name, text, mode="w"):
    path = os.path.join(TMP, name)
    with open(path, mode) as fh:
        fh.write(text)
    return path


def topo(*args, stdin=None):
    return subprocess.run([BIN, "topo", *args], capture_output=True, text=stdin is not None or True,
                          input=stdin)


def expect(args, code, *needles):
    r = topo(*args)
    ok = r.returncode == code and all(n in r.stderr for n in needles)
    if not ok:
        failures.append(args)
        print(f"FAIL: cgalr topo {' '.join(args)}: exit {r.returncode} (want {code}); stderr: {r.stderr!r}; "
              f"want {needles!r}")
    return r


CONN = "0,0.5,0.2\n0.5,0,0.3\n0.2,0.3,0\n"
good = f("good.csv", CONN)
act = f("act.csv", "1,2,3\n2,1,5\n3,7,1\n4,0,0\n")

# --- the reader ---
expect(["--barcode", f("ragged.csv", "0,0.5,0.2\n0.5,0\n0.2,0.3,0\n")], 2, "ragged.csv", "line 2", "2 columns",
       "expected 3")
expect(["--barcode", f("text.csv", "0,0.5,0.2\n0.5,0,zz\n0.2,0.3,0\n")], 2, "text.csv", "line 2, column 3",
       '"zz" is not a number')
expect(["--barcode", f("nan.csv", "0,0.5,0.2\n0.5,0,0.3\nnan,0.3,0\n")], 2, "line 3, column 1", "not finite")
expect(["--connectome", f("inf.csv", "1 2\n3 -inf\n")], 2, "line 2, column 2", "not finite")
expect(["--connectome", f("header.csv", "a,b\n1,2\n3,4\n")], 2, "line 1, column 1", "header")
expect(["--connectome", f("suffix.csv", "1,2\n3,4x\n")], 2, "line 2, column 2", '"4x"')
expect(["--connectome", f("empty.csv", "")], 2, "empty.csv", "no numbers")
expect(["--connectome", f("blank.csv", "\n  \n# only a comment\n")], 2, "no numbers")
expect(["--connectome", f("emptyfield.csv", "1,,2\n3,4,5\n")], 2, "line 1, column 2", "empty field")
expect(["--connectome", f("trailing.csv", "1,2,\n3,4,5\n")], 2, "line 1, column 3", "trailing comma")
expect(["--connectome", f("binary.bin", "1,2\n\0\0\x07\n", "w")], 2, "NUL")
# a file that cannot be opened is a runtime failure (exit 1, cli_exit_code), like every subcommand's
expect(["--connectome", os.path.join(TMP, "does-not-exist.csv")], 1, "does-not-exist.csv", "cannot open")

# --- matrix-level checks ---
expect(["--barcode", act], 2, "act.csv", "4 rows of 3 columns", "square")
expect(["--barcode", f("asym.csv", "0,0.5,0.2\n0.5,0,0.3\n0.2,0.31,0\n")], 2, "not symmetric", "row 2",
       "column 3", "row 3")
expect(["--barcode", f("range.csv", "0,1.5,0.2\n1.5,0,0.3\n0.2,0.3,0\n")], 2, "row 1", "column 2",
       "[0, 1]")
expect(["--barcode", f("neg.csv", "0,-0.1\n-0.1,0\n")], 2, "[0, 1]")
expect(["--barcode", f("one.csv", "0\n")], 2, "at least 2")
expect(["--distance", "top", good, f("two.csv", "0,0.5\n0.5,0\n")], 2, "3 signals", "2", "same number")
expect(["--distance", "top", act, f("act2.csv", "1,2\n3,4\n5,1\n"), "--activations"], 2, "same number")
expect(["--distance", "top", act, f("act1row.csv", "1,2,3\n"), "--activations"], 2, "act1row.csv",
       "at least 2 rows")
expect(["--connectome", f("act1row.csv", "1,2,3\n")], 2, "at least 2 rows")
expect(["--diagram", f("negd.csv", "0,-1\n-1,0\n")], 2, "negd.csv", "row 1", "column 2")
expect(["--diagram", act], 2, "square")
expect(["--diagram", f("range2.csv", "0,2\n2,0\n"), "--from-connectome"], 2, "[0, 1]")

# --- usage ---
expect([], 2, "nothing to do")
expect(["--frobnicate"], 2, "unknown option")
expect(["--barcode"], 2, "needs a value")
expect(["--barcode", good, "--connectome", act], 2, "only one")
expect(["--barcode", good, "extra"], 2, "unexpected argument")
expect(["--distance", "l2", good, good], 2, "'l2'", "top, wd or swk")
expect(["--distance", "top", good], 2, "two files")
expect(["--diagram", good, "--dim", "2"], 2, "--dim")
expect(["--diagram", good, "--threshold", "-1"], 2, "--threshold")
expect(["--diagram", good, "--threshold", "abc"], 2, "--threshold")
expect(["--barcode", good, "--dim", "1"], 2, "go with --diagram")
expect(["--barcode", good, "--activations"], 2, "go with --distance")
expect(["--distance", "wd", good, good, "--p-ph", "1"], 2, "--p-ph")
expect(["--distance", "swk", good, good, "--directions", "0"], 2, "--directions")
expect(["--distance", "wd", good, good, "--seed", "-3"], 2, "--seed")

# --- accepted forms ---
r = expect(["--help"], 0)
if "usage: cgalr topo" not in r.stdout:
    failures.append("help")
    print("FAIL: --help does not print usage")
# whitespace, tabs, CRLF, comments, blank lines, '-' for stdin: same connectome as plain CSV
plain = topo("--connectome", act).stdout
fancy = f("fancy.txt", "# activations\r\n1 2\t3\r\n\r\n2  1 5\n 3,7 , 1\n4 0 0\n")
check = topo("--connectome", fancy)
if check.returncode != 0 or check.stdout != plain:
    failures.append("fancy")
    print("FAIL: whitespace/CRLF/comment input differs:", check.stdout, check.stderr)
r = topo("--connectome", "-", stdin=open(act).read())
if r.returncode != 0 or r.stdout != plain:
    failures.append("stdin")
    print("FAIL: reading '-' from stdin:", r.stderr)
# a connectome that is symmetric only up to 1e-12 (another tool's rounding) is accepted
near = f("near.csv", "0,0.5,0.2\n0.500000000001,0,0.3\n0.2,0.3,0\n")
r = topo("--barcode", near)
if r.returncode != 0 or not r.stdout.startswith("births 2\n"):
    failures.append("near-symmetric")
    print("FAIL: near-symmetric connectome:", r.stderr)
for kind in ("top", "wd", "swk"):
    r = topo("--distance", kind, good, good)
    if r.returncode != 0 or float(r.stdout) != 0.0:
        failures.append(kind)
        print(f"FAIL: {kind}(M, M) = {r.stdout!r} {r.stderr!r}")

# more than two files: the matrix of pairwise distances, equal to the pairwise calls
c2 = f("c2.csv", "0,0.1,0.9\n0.1,0,0.4\n0.9,0.4,0\n")
c3 = f("c3.csv", "0,0.7,0.7\n0.7,0,0.6\n0.7,0.6,0\n")
for kind in ("top", "wd", "swk"):
    r = topo("--distance", kind, good, c2, c3)
    rows = [[float(v) for v in line.split(",")] for line in r.stdout.split()] if r.returncode == 0 else []
    pair = lambda a, b: float(topo("--distance", kind, a, b).stdout)
    ok = (len(rows) == 3 and all(rows[i][i] == 0.0 for i in range(3)) and rows[0][1] == pair(good, c2)
          and rows[1][2] == pair(c2, c3) and rows[2][0] == pair(good, c3) and rows[1][0] == rows[0][1])
    if not ok:
        failures.append(f"matrix {kind}")
        print(f"FAIL: --distance {kind} with 3 files: {r.stdout!r} {r.stderr!r}")
expect(["--distance", "top", good, c2, f("two2.csv", "0,0.5\n0.5,0\n")], 2, "two2.csv", "same number")

if failures:
    print(f"{len(failures)} failure(s)")
    sys.exit(1)
print("ok")
