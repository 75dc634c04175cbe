"""The `pymemcg` command: run as `python -m pymemcg` in a subprocess where the process
boundary matters (exit status, stdout JSON, stderr), and through pymemcg.cli.main([...])
in-process elsewhere (faster)."""
import argparse
import gzip
import json
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest

import pymemcg
from pymemcg import workloads
from pymemcg import trace as T
from pymemcg.cli import build_parser, main
from pymemcg.trace import OP

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
SUBCOMMANDS = ("demo", "replay", "gen", "import", "plot", "stat")
SUMMARY_KEYS = {"events", "seconds", "events_per_s", "leaks", "counters", "strategy_counters", "meminfo", "stats"}


def run(*args, cwd=None):
    """python -m pymemcg ARGS; returns the CompletedProcess."""
    return subprocess.run([sys.executable, "-m", "pymemcg", *map(str, args)], cwd=cwd, capture_output=True,
                          text=True, timeout=60)


def subparsers():
    p = build_parser()
    action = next(a for a in p._actions if isinstance(a, argparse._SubParsersAction))
    return action.choices


def options(parser):
    """(option strings, or the name --help shows for a positional; help) of every argument but -h."""
    out = []
    for a in parser._actions:
        if isinstance(a, argparse._HelpAction):
            continue
        if a.option_strings:
            names = a.option_strings
        elif a.metavar:
            names = [a.metavar]
        elif a.choices:
            names = ["{" + ",".join(a.choices) + "}"]
        else:
            names = [a.dest]
        out.append((names, a.help))
    return out


# -- help ------------------------------------------------------------------------------------------

def test_top_level_help_lists_every_command():
    r = run("--help")
    assert r.returncode == 0 and r.stderr == ""
    assert r.stdout.startswith("usage: pymemcg")
    for cmd in SUBCOMMANDS:
        assert f"\n    {cmd} " in r.stdout, cmd
    assert set(SUBCOMMANDS) <= set(subparsers())


@pytest.mark.parametrize("cmd", SUBCOMMANDS)
def test_subcommand_help_exits_0_and_mentions_every_option(cmd, capsys):
    with pytest.raises(SystemExit) as ex:
        main([cmd, "--help"])
    assert ex.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: pymemcg {cmd}")
    opts = options(subparsers()[cmd])
    assert opts
    for names, _ in opts:
        for name in names:
            assert name in out, (cmd, name)


def test_replay_help_names_the_documented_options(capsys):
    with pytest.raises(SystemExit):
        main(["replay", "--help"])
    out = capsys.readouterr().out
    for opt in ("--ram", "--swap", "--kernel", "--hook", "--strategy", "--cpus", "--seed", "--json", "{2.6.30,2.6.31}",
                "{none,seed,uncharge-at-free}"):
        assert opt in out, opt
    with pytest.raises(SystemExit):
        main(["import", "--help"])
    assert "{oracleGeneral,csv,lackey,address,blockids}" in capsys.readouterr().out


def test_every_option_has_help_text():
    missing = [(cmd, names) for cmd in SUBCOMMANDS for names, text in options(subparsers()[cmd]) if not text]
    assert missing == []


@pytest.mark.skipif(shutil.which("pymemcg") is None, reason="console script not on PATH")
def test_console_script():
    r = subprocess.run(["pymemcg", "gen", "--help"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stdout.startswith("usage: pymemcg gen")


# -- gen, replay, plot, stat --------------------------------------------------------------------------

def test_gen_then_replay_json(tmp_path):
    r = run("gen", "zipf", "--events", 2000, "--pages", 500, "out.npy", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "2001 events -> out.npy\n"
    tr = T.load(tmp_path / "out.npy")
    assert np.array_equal(tr, workloads.zipf(2000, 500, 1.0, seed=0))
    r = run("replay", "out.npy", "--ram", "1M", "--swap", "4M", "--json", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert set(doc) == SUMMARY_KEYS
    assert doc["events"] == 2001 and doc["seconds"] > 0
    assert doc["events_per_s"] == pytest.approx(doc["events"] / doc["seconds"])
    # the same replay in-process: defaults are 2.6.30, hook none, 2 CPUs, rr, seed 0
    eng = pymemcg.Engine("1M", "4M")
    res = eng.replay(tr, cpus=2)
    assert doc["counters"] == res.counters and doc["leaks"] == res.leaks and doc["meminfo"] == res.meminfo
    assert doc["stats"] == res.stats
    assert doc["counters"]["pgfault"] == 2000 and doc["counters"]["pswpout"] > 0
    assert doc["meminfo"]["MemTotal"] == 1 << 20
    assert doc["meminfo"]["SwapTotal"] == (4 << 20) - 2 * 4096     # swapon skips the header and last page


def test_replay_options_reach_the_engine(tmp_path, capsys):
    T.save(workloads.churn(rounds=60), tmp_path / "c.csv")
    args = ["replay", str(tmp_path / "c.csv"), "--ram", "64M", "--swap", "64M", "--json"]
    assert main(args + ["--hook", "seed", "--kernel", "2.6.31", "--cpus", "2"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["counters"]["hook_calls"] == 9880 and doc["leaks"]["stale_swapcache_type2"] == 0
    assert main(args + ["--cpus", "1"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["stats"]["interleavings"] == 1 and doc["leaks"]["stale_swapcache"] == 0
    assert main(args + ["--sched", "random", "--seed", "1"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["stats"]["interleavings"] == 508939 and doc["leaks"]["stale_swapcache_type2"] == 71
    assert main(args[:-1]) == 0                                  # the human-readable report
    out = capsys.readouterr().out
    assert out.startswith("611 events in ")
    assert "stale swap cache 99 (type-1 0, type-2 99)" in out
    assert "hook calls 0  freed 0" in out


def test_save_result_then_plot_writes_a_png(tmp_path, capsys):
    T.save(workloads.churn(rounds=30), tmp_path / "c.npy")
    assert main(["replay", str(tmp_path / "c.npy"), "--ram", "64M", "--swap", "64M", "--sample-every", "20",
                 "--save-result", str(tmp_path / "r.json"), "--series-csv", str(tmp_path / "s.csv"),
                 "--no-progress"]) == 0
    doc = json.loads((tmp_path / "r.json").read_text())
    assert SUMMARY_KEYS <= set(doc) and doc["events"] == 311
    ev = doc["series"]["events"]
    assert len(ev) == 311 // 20 and all(e >= 20 * (k + 1) for k, e in enumerate(ev))
    assert ev == sorted(ev) and ev[-1] <= 311
    assert "usage[/churn]" in doc["series"]
    assert (tmp_path / "s.csv").read_text().splitlines()[0].startswith("events,now_ns,")
    assert len((tmp_path / "s.csv").read_text().splitlines()) == 1 + 15
    capsys.readouterr()
    assert main(["plot", str(tmp_path / "r.json"), "-o", str(tmp_path / "r.png")]) == 0
    assert capsys.readouterr().out == f"plot -> {tmp_path / 'r.png'}\n"
    assert (tmp_path / "r.png").read_bytes()[:8] == PNG_MAGIC
    assert main(["plot", str(tmp_path / "r.json")]) == 0            # default: next to the JSON
    assert (tmp_path / "r.png").read_bytes()[:8] == PNG_MAGIC


def test_save_engine_then_stat(tmp_path, capsys):
    T.save(workloads.churn(rounds=10), tmp_path / "c.npy")
    assert main(["replay", str(tmp_path / "c.npy"), "--ram", "64M", "--swap", "64M", "--json",
                 "--save-engine", str(tmp_path / "e.npz")]) == 0
    replayed = json.loads(capsys.readouterr().out)
    eng = pymemcg.load(tmp_path / "e.npz")
    assert eng.counters() == replayed["counters"] and eng.meminfo() == replayed["meminfo"]
    r = run("stat", tmp_path / "e.npz", "--json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["cgroup"] == "/"
    assert doc["memory.stat"] == eng.root.stat()
    assert doc["meminfo"] == replayed["meminfo"] and doc["leaks"] == replayed["leaks"]
    assert doc["usage_in_bytes"] == eng.root.usage_in_bytes
    assert main(["stat", str(tmp_path / "e.npz"), "--cgroup", "churn", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    churn = eng.cgroup("churn")
    assert doc["cgroup"] == "/churn" and doc["limit_in_bytes"] == 2 << 20
    assert doc["memory.stat"] == churn.stat()
    assert doc["usage_in_bytes"] == churn.usage_in_bytes
    assert doc["memsw.usage_in_bytes"] == churn.memsw_usage_in_bytes
    assert main(["stat", str(tmp_path / "e.npz")]) == 0
    out = capsys.readouterr().out
    assert out.startswith("/: usage ") and "meminfo:" in out and "MemTotal:" in out


@pytest.mark.parametrize("args, expected", [
    (["loop", "--events", "50", "--pages", "7", "--seed", "2"], lambda: workloads.loop(50, 7, seed=2)),
    (["churn", "--rounds", "5", "--cpus", "3", "--seed", "1"], lambda: workloads.churn(5, seed=1, cpus=3)),
    (["fork_heavy", "--rounds", "3"], lambda: workloads.fork_heavy(3, seed=0, cpus=2)),
    (["mixed", "--pages", "16384", "--rounds", "1"], lambda: workloads.mixed(16384, seed=0, cpus=2, rounds=1)),
    (["zipf", "--events", "100", "--pages", "10", "--alpha", "1.5"], lambda: workloads.zipf(100, 10, 1.5)),
])
@pytest.mark.parametrize("ext", ["npy", "csv"])
def test_gen_writes_the_generator_trace(tmp_path, capsys, args, expected, ext):
    out = tmp_path / f"t.{ext}"
    assert main(["gen", args[0], str(out), *args[1:]]) == 0
    want = expected()
    assert capsys.readouterr().out == f"{len(want)} events -> {out}\n"
    assert np.array_equal(T.load(out), want)


def test_import_blockids(tmp_path, capsys):
    (tmp_path / "ids.txt").write_text("10\n7\n10\n42\n7\n")
    with gzip.open(tmp_path / "ids.txt.gz", "wt") as f:
        f.write("10\n7\n10\n42\n7\n")
    for src in ("ids.txt", "ids.txt.gz"):
        out = tmp_path / f"{src}.npy"
        assert main(["import", "--format", "blockids", str(tmp_path / src), str(out)]) == 0
        assert capsys.readouterr().out == f"6 events -> {out}\n"
        tr = T.load(out)
        assert [tuple(int(x) for x in e) for e in tr] == [(OP["spawn"], 0, 0, 0, 0, 0)] + [
            (OP["fault"], 0, 0, 0, v, 1) for v in (0, 1, 0, 2, 1)]     # dense in order of first use
    assert main(["import", "--format", "blockids", "--sparse", "--limit-events", "3", str(tmp_path / "ids.txt"),
                 str(tmp_path / "s.csv")]) == 0
    assert T.load(tmp_path / "s.csv")["vpn"][1:].tolist() == [10, 7, 10]
    capsys.readouterr()
    assert main(["replay", str(tmp_path / "ids.txt.npy"), "--ram", "1M", "--swap", "1M", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["events"] == 6 and doc["counters"]["pgfault"] == 5 and doc["counters"]["anon_faults"] == 3


def test_demo_prints_one_column_per_strategy_and_writes_the_plot(tmp_path, capsys):
    plot = tmp_path / "d.png"
    assert main(["demo", "--pages", "65536", "--cpus", "2", "--plot", str(plot), "--no-progress"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == ("workload: 2,506 events, 7 cgroups x 5 tasks churning over 65,536 pages; "
                        "RAM 320M, swap 256M, 2 CPUs")
    assert lines[1].split() == ["2.6.30", "hook=none", "2.6.30", "hook=seed", "2.6.30", "hook=uncharge-at-free",
                                "2.6.31", "hook=none"]
    rows = {cells[0]: cells[1:] for cells in (re.split(r"\s{2,}", line.strip()) for line in lines[2:-1])}
    assert all(len(v) == 4 for v in rows.values())
    assert rows["stale type-2 (pages)"] == ["19", "0", "0", "19"]
    assert rows["stale type-1 (pages)"] == ["0", "0", "0", "0"]
    assert rows["leaked swap entries"] == ["19", "0", "0", "19"]
    assert rows["leaked memsw (pages)"] == ["0", "0", "0", "0"]
    assert rows["hook calls"][0] == "0" and int(rows["hook calls"][1]) > 0 and rows["hook calls"][2:] == ["0", "0"]
    assert rows["hook freed (pages)"] == ["0", "70", "0", "0"]
    for key in ("swap used (MB)", "SwapCached (MB)", "pages reclaimed", "reclaim throughput (pages/s)",
                "replay (s)", "ns per scanned page", "RAM held by stale (MB)"):
        assert len(rows[key]) == 4, key
    assert lines[-1] == f"plot: {plot}"
    assert plot.read_bytes()[:8] == PNG_MAGIC


def test_demo_json(tmp_path, capsys):
    assert main(["demo", "--pages", "16384", "--cpus", "2", "--plot", str(tmp_path / "d.png"), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["plot"] == str(tmp_path / "d.png")
    assert [r["config"] for r in doc["rows"]] == ["2.6.30 hook=none", "2.6.30 hook=seed",
                                                  "2.6.30 hook=uncharge-at-free", "2.6.31 hook=none"]
    assert doc["rows"][1]["stale type-2 (pages)"] == 0
    assert (tmp_path / "d.png").read_bytes()[:8] == PNG_MAGIC


# -- bad arguments ---------------------------------------------------------------------------------

def test_missing_trace_file_exits_2_with_a_message(tmp_path):
    r = run("replay", tmp_path / "missing.npy")
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr.startswith("pymemcg replay: ") and "missing.npy" in r.stderr
    assert "Traceback" not in r.stderr


def test_unknown_kernel_exits_2_with_a_message(tmp_path):
    T.save(workloads.zipf(10, 5), tmp_path / "t.npy")
    r = run("replay", tmp_path / "t.npy", "--kernel", "2.6.32")
    assert r.returncode == 2 and r.stdout == ""
    assert "argument --kernel: invalid choice: '2.6.32'" in r.stderr
    assert r.stderr.startswith("usage: pymemcg replay")


@pytest.mark.parametrize("args, message", [
    (["replay", "{t}", "--ram", "1X"], "cannot parse size '1X'"),
    (["replay", "{t}", "--cpus", "0"], "cpus must be an int in 1..256"),
    (["replay", "{bad}"], "unknown op 99"),
    (["replay", "{dir}/missing.csv"], "missing.csv"),
    (["gen", "zipf", "{dir}/out.txt", "--events", "5"], "end in .npy or .csv"),
    (["import", "--format", "blockids", "{dir}/missing.txt", "{dir}/o.npy"], "missing.txt"),
    (["import", "--format", "blockids", "{dir}/words.txt", "{dir}/o.npy"], "words.txt"),
    (["plot", "{dir}/missing.json"], "missing.json"),
    (["plot", "{t}"], ""),
    (["stat", "{dir}/missing.npz"], "missing.npz"),
])
def test_runtime_errors_return_2_with_a_message(tmp_path, capsys, args, message):
    T.save(workloads.zipf(10, 5), tmp_path / "t.npy")
    bad = T.empty(1)
    bad["op"] = 99
    T.save(np.concatenate([workloads.zipf(10, 5), bad]), tmp_path / "bad.npy")
    (tmp_path / "words.txt").write_text("12\nnot-a-number\n")
    subst = {"{t}": str(tmp_path / "t.npy"), "{bad}": str(tmp_path / "bad.npy"), "{dir}": str(tmp_path)}
    argv = [a.replace("{dir}", str(tmp_path)) if "{dir}" in a else subst.get(a, a) for a in args]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"pymemcg {args[0]}: ") and message in err
    assert not (tmp_path / "o.npy").exists() and not (tmp_path / "out.txt").exists()


@pytest.mark.parametrize("args", [
    ["replay"], ["frobnicate"], ["import", "in.txt", "o.npy"], ["replay", "t.npy", "--hook", "bogus"],
    ["replay", "t.npy", "--sched", "fifo"], ["gen", "zipf"], ["gen", "nope", "o.npy"],
    ["replay", "t.npy", "--cpus", "two"], [],
])
def test_usage_errors_exit_2(args, capsys):
    with pytest.raises(SystemExit) as ex:
        main(args)
    assert ex.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: pymemcg") and "error:" in err
