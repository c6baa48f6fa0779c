"""Every subcommand's --help and its option parser agree (both come from one table, src/cli/optable.c,
and this keeps it so): each option the parser knows is listed in --help and each listed option is
known to the parser, as a flag or with a value as --help shows it, within the range --help gives.
The parser's own list is its answer to "--=", an abbreviation of every option (ambiguous: it names
them all); values are probed before a trailing "--=", so nothing ever runs."""
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from runlib import check, finish, run  # noqa: E402

COMMANDS = ["train", "grid", "topo", "bench", "data", "report"]
# an option row of --help: "  [-k, ]--name[ METAVAR]" then two blanks and its help (or the end)
ROW = re.compile(r"^  (?:-(\w), )?--([a-z][a-z0-9-]*)(?: (\S+))?(?: {2,}(.*)|$)")
AMBIGUOUS = re.compile(r"ambiguous option '--=' \(could be (.*)\)$", re.M)


def help_rows(cmd):
    """{name: (metavar or None, short key or None, the row's help lines joined)} from --help."""
    p = run(cmd, "--help")
    check(p.returncode == 0 and p.stderr == "" and p.stdout.startswith(f"usage: cgalr {cmd}"),
          f"cgalr {cmd} --help: exit {p.returncode}, stderr {p.stderr!r}, stdout {p.stdout[:80]!r}")
    h = run(cmd, "-h")
    check(h.returncode == 0 and h.stdout == p.stdout, f"cgalr {cmd} -h differs from --help")
    rows, last = {}, None
    for line in p.stdout.splitlines():
        m = ROW.match(line)
        if m:
            last = m.group(2)
            check(last not in rows, f"cgalr {cmd} --help lists --{last} twice")
            rows[last] = [m.group(3), m.group(1), m.group(4) or ""]
        elif last and line.startswith(" " * 23) and line.strip():
            rows[last][2] += " " + line.strip()  # a continuation line of the row
        else:
            last = None
    return {k: tuple(v) for k, v in rows.items()}, p.stdout


def parser_options(cmd):
    p = run(cmd, "--=")
    m = AMBIGUOUS.search(p.stderr)
    check(p.returncode == 2 and m and p.stdout == "",
          f"cgalr {cmd} --=: expected the ambiguity message naming every option: {p.returncode} {p.stderr!r}")
    return set(re.findall(r"--([a-z][a-z0-9-]*)", m.group(1))) if m else set()


def parses(cmd, *args):
    """True when the parser takes args (and so reaches the trailing --=)."""
    p = run(cmd, *args, "--=")
    return p.returncode == 2 and "ambiguous option '--='" in p.stderr


def number(s):
    m = re.fullmatch(r"(\d+)\^(\d+)", s)
    return int(m.group(1)) ** int(m.group(2)) if m else int(s)


def probe_range(cmd, name, text):
    """The bounds --help gives are the parser's: the ends inside it parse, the values past them do not.
    (Gaps inside the hull, "0 or 2 .. N", are the library's to refuse.)"""
    m = re.search(r"range (\d+(?:\^\d+)?)(?: or \d+)? \.\. (\d+(?:\^\d+)?)(?:,|$)", text)
    if m:
        lo, hi = number(m.group(1)), number(m.group(2))
        check(parses(cmd, f"--{name}", str(lo)) and parses(cmd, f"--{name}", str(hi)),
              f"cgalr {cmd} --{name}: the ends of its range {lo} .. {hi} should parse")
        check(not parses(cmd, f"--{name}", str(hi + 1)), f"cgalr {cmd} --{name} {hi + 1}: past its range, parsed")
        if lo > 0:
            check(not parses(cmd, f"--{name}", str(lo - 1)), f"cgalr {cmd} --{name} {lo - 1}: below its range, parsed")
        return
    m = re.search(r"range >= (\d+)", text)
    if m:
        lo = int(m.group(1))
        check(parses(cmd, f"--{name}", str(lo)) and not parses(cmd, f"--{name}", str(lo - 1)),
              f"cgalr {cmd} --{name}: range >= {lo} is not what parses")
        return
    m = re.search(r"range ([\[(])([^,]+), ([^\])]+)([\])])", text)
    if m:
        for value, closed in ((m.group(2), m.group(1) == "["), (m.group(3), m.group(4) == "]")):
            check(parses(cmd, f"--{name}", value) == closed,
                  f"cgalr {cmd} --{name} {value}: an {'closed' if closed else 'open'} end of {m.group(0)}, "
                  f"but it {'did not parse' if closed else 'parsed'}")


def probe(cmd, name, metavar, text):
    """The parser takes --name as --help says: with a value (METAVAR shown) or as a flag."""
    if metavar:
        p = run(cmd, f"--{name}")
        check(p.returncode == 2 and f"--{name} needs a value" in p.stderr,
              f"cgalr {cmd} --{name} (shown with {metavar}): {p.returncode} {p.stderr!r}")
        probe_range(cmd, name, text)
    else:
        p = run(cmd, f"--{name}=x")
        check(p.returncode == 2 and f"--{name} takes no value" in p.stderr,
              f"cgalr {cmd} --{name} (shown as a flag): {p.returncode} {p.stderr!r}")


helps = {}
for cmd in COMMANDS:
    rows, text = help_rows(cmd)
    helps[cmd] = (rows, text)
    known = parser_options(cmd)
    listed = set(rows)
    if cmd == "grid":
        # the grid takes every train option too, passing it on (its --help says so); its own win
        check("cgalr train option" in text, "cgalr grid --help does not say it takes the train options")
        listed |= set(helps["train"][0])
    check(known == listed, f"cgalr {cmd}: parsed but not in --help: {sorted(known - listed)}; "
                           f"in --help but not parsed: {sorted(listed - known)}")
    for name, (metavar, key, row_help) in rows.items():
        probe(cmd, name, metavar, row_help)
    p = run(cmd, "--no-such-option")
    check(p.returncode == 2 and "unknown option '--no-such-option'" in p.stderr and f"cgalr {cmd} --help" in p.stderr
          and p.stdout == "", f"cgalr {cmd} --no-such-option: {p.returncode} {p.stderr!r} {p.stdout!r}")
    check(len(rows) >= 2 and "help" in rows, f"cgalr {cmd} --help: option rows {sorted(rows)}")

# a near miss is named: a swap, a slip, a missing letter; a far one is not guessed at
for argv, want in ((["trian"], "did you mean 'train'?"), (["train", "--modle", "gin"], "did you mean --model?"),
                   (["train", "--bacth", "8"], "did you mean --batch?"), (["grid", "--methds", "x"], "did you mean --methods?"),
                   (["train", "--seeds", "1"], "did you mean --seed?"), (["topo", "--distanse", "top"], "did you mean --distance?")):
    p = run(*argv)
    check(p.returncode == 2 and want in p.stderr, f"cgalr {' '.join(argv)}: {p.returncode} {p.stderr!r}")
for argv in (["rep"], ["train", "--no-such-option"], ["train", "--xyz"]):
    p = run(*argv)
    check(p.returncode == 2 and "unknown" in p.stderr and "did you mean" not in p.stderr,
          f"cgalr {' '.join(argv)} guessed: {p.returncode} {p.stderr!r}")

# the train options a grid sets per run itself, as its --help lists them, are train options it refuses
m = re.search(r"for each run itself:((?: --[a-z-]+,?)+)\.", helps["grid"][1])
owned = re.findall(r"--([a-z-]+)", m.group(1)) if m else []
check(len(owned) >= 5, f"cgalr grid --help: the options the grid sets itself: {owned}")
for name in owned:
    check(name in helps["train"][0], f"cgalr grid --help names --{name}, which is no train option")
    metavar = helps["train"][0].get(name, (None,))[0]
    value = ["1"] if metavar else []
    if name in helps["grid"][0]:  # the grid's own option of that name wins; after -- it is refused
        p = run("grid", "--", f"--{name}", *value)
    else:
        p = run("grid", f"--{name}", *value)
    check(p.returncode == 2 and f"--{name} " in p.stderr and "set by the grid" in p.stderr,
          f"cgalr grid --{name}: {p.returncode} {p.stderr!r}")

finish()
