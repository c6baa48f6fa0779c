"""`--probe-mode` on the command line: bad values and misuse exit 2 with a message naming the
option, config.json records the source a CG-ALR run used (left out for pass, so older run
directories still resume) and the version of the defaults (a run of the first defaults is refused,
not resumed as one of today's), the rerun command names a source other than the default inline, a
run is not resumed in another mode, and `cgalr grid`
passes the option to every run after `--` (and refuses a bad value before starting any)."""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from runlib import check, finish, run, scratch  # noqa: E402

TMP = scratch("/tmp/cgalr-test-probe-cli")
BASE = ["--data", "mutag", "--model", "gin", "--epochs", "2", "--batch", "16", "--quiet"]

p = run("train", *BASE, "--sched", "cgalr-top", "--probe-mode", "fast", "--out", os.path.join(TMP, "bad"))
check(p.returncode == 2 and "probe_mode = 'fast' (--probe-mode)" in p.stderr and "pass, inline, stream" in p.stderr,
      f"bad --probe-mode: {p.returncode} {p.stderr}")
check(not os.path.exists(os.path.join(TMP, "bad")), "a refused run left a directory")
p = run("train", *BASE, "--sched", "cosine", "--probe-mode", "inline", "--out", os.path.join(TMP, "bad2"))
check(p.returncode == 2 and "probe_mode = inline (--probe-mode)" in p.stderr and "CG-ALR" in p.stderr,
      f"--probe-mode on a schedule: {p.returncode} {p.stderr}")
p = run("train", *BASE, "--sched", "cgalr-top", "--out", os.path.join(TMP, "x"), "--probe-mode")
check(p.returncode == 2 and "probe-mode" in p.stderr, f"--probe-mode without a value: {p.returncode} {p.stderr}")
p = run("train", "--help")
check("--probe-mode" in p.stdout + p.stderr, "--help does not list --probe-mode")

d = os.path.join(TMP, "stream")
p = run("train", *BASE, "--sched", "cgalr-top", "--probe-mode", "stream", "--out", d)
check(p.returncode == 0, f"stream run: {p.returncode} {p.stderr}")
cfg = json.load(open(os.path.join(d, "config.json")))
check(cfg.get("probe_mode") == "stream" and "--probe-mode stream" in cfg.get("command", ""),
      f"config.json of a stream run: {cfg.get('probe_mode')} {cfg.get('command')}")
p = run("train", *BASE, "--sched", "cgalr-top", "--probe-mode", "inline", "--out", d, "--resume")
check(p.returncode == 2, f"resume in another mode: {p.returncode} {p.stderr}")
# the default source is inline (docs/ABLATION.md): recorded in config.json, left out of the command
d2 = os.path.join(TMP, "default")
p = run("train", *BASE, "--sched", "cgalr-top", "--out", d2)
cfg = json.load(open(os.path.join(d2, "config.json")))
check(p.returncode == 0 and cfg.get("probe_mode") == "inline" and cfg.get("cgalr_defaults") == 2 and
      "--probe-mode" not in cfg["command"], f"default run's config.json: {cfg}")
p = run("train", *BASE, "--sched", "cgalr-top", "--probe-mode", "inline", "--out", d2, "--resume")
check(p.returncode == 0, f"--probe-mode inline resumes a run made without the option: {p.returncode} {p.stderr}")
# pass: the key is left out (a config of before the option), the command names it
d3 = os.path.join(TMP, "pass")
p = run("train", *BASE, "--sched", "cgalr-top", "--probe-mode", "pass", "--out", d3)
cfg = json.load(open(os.path.join(d3, "config.json")))
check(p.returncode == 0 and "probe_mode" not in cfg and "--probe-mode pass" in cfg["command"],
      f"pass run's config.json: {cfg}")
p = run("train", *BASE, "--sched", "cgalr-top", "--out", d3, "--resume")
check(p.returncode == 0, f"a resume keeps the run's own source (its command names pass): {p.returncode} {p.stderr}")
p = run("train", *BASE, "--sched", "cgalr-top", "--probe-mode", "inline", "--out", d3, "--resume")
check(p.returncode == 2 and "probe_mode" in p.stderr, f"inline resuming a pass run: {p.returncode} {p.stderr}")
# a run of the first defaults (no cgalr_defaults key: s0 = T/10) is never taken for one of today's
del cfg["cgalr_defaults"]
json.dump(cfg, open(os.path.join(d3, "config.json"), "w"))
p = run("train", *BASE, "--sched", "cgalr-top", "--probe-mode", "pass", "--out", d3, "--resume")
check(p.returncode == 2 and "defaults of version 1" in p.stderr and "version 2" in p.stderr,
      f"resume of a version-1 run: {p.returncode} {p.stderr}")
# a baseline has no connectome: neither key, no --probe-mode in its command
d4 = os.path.join(TMP, "constant")
p = run("train", *BASE, "--sched", "constant", "--out", d4)
cfg = json.load(open(os.path.join(d4, "config.json")))
check(p.returncode == 0 and "probe_mode" not in cfg and "cgalr_defaults" not in cfg and
      "--probe-mode" not in cfg["command"], f"constant run's config.json: {cfg}")

g = os.path.join(TMP, "grid")
p = run("grid", "--data", "mutag", "--model", "gin", "--methods", "cgalr-top", "--lrs", "0.01", "--seeds", "0",
        "--epochs", "1", "--out", g, "--", "--batch", "16", "--probe-mode", "inline")
check(p.returncode == 0, f"grid with --probe-mode inline: {p.returncode} {p.stderr}")
cfgs = [os.path.join(g, x, "config.json") for x in os.listdir(g) if os.path.isdir(os.path.join(g, x))] \
    if os.path.isdir(g) else []
check(len(cfgs) == 1 and all(json.load(open(c)).get("probe_mode") == "inline" for c in cfgs),
      f"grid runs' probe_mode: {cfgs}")
p = run("grid", "--data", "mutag", "--model", "gin", "--methods", "cgalr-top", "--lrs", "0.01", "--seeds", "0",
        "--epochs", "1", "--out", os.path.join(TMP, "grid2"), "--", "--probe-mode", "sometimes")
check(p.returncode == 2 and "sometimes" in p.stderr, f"grid with a bad --probe-mode: {p.returncode} {p.stderr}")
finish()
