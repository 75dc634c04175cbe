"""The `pymemcg` command: run as `python -m pymemcg` in a subprocess where the process
boundary matters (exit status, stdout JSON, stderr), and through pymemcg.tools.cli.main([...])
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
from pymemcg.tools.cli import build_parser, main
from pymemcg.trace import OP

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
SUBCOMMANDS = ("demo", "replay", "gen", "import", "plot", "stat", "mix", "mrc", "bench", "sweep", "explore")
SUMMARY_KEYS = {"events", "seconds", "events_per_s", "leaks", "counters", "strategy_counters", "meminfo", "stats",
                "faults", "oom"}


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
    assert out.startswith("/: usage ") and "meminfo (kB, as /proc/meminfo shows it):" in out and "MemTotal:" in out
    # every figure says its unit
    assert "limit unlimited" in out and "memory.stat (bytes, but pgpgin/pgpgout: events):" in out
    assert re.search(r"\n  rss: +\d+ B\n", out) and re.search(r"\n  pgpgin: +\d+\n", out)
    assert "leaks (pages or swap slots):" in out
    assert main(["stat", str(tmp_path / "e.npz"), "--cgroup", "churn"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("/churn: usage ") and "limit 2.0 MiB (2097152 B)" in out


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
    # counted as replay counts them: a mkdir's name events are part of it
    assert capsys.readouterr().out == f"{len(want) - np.count_nonzero(want['op'] == OP['name'])} events -> {out}\n"
    assert np.array_equal(T.load(out), want)


def test_import_blockids(tmp_path, capsys):
    (tmp_path / "ids.txt").write_text("10\n7\n10\n42\n7\n")
    with gzip.open(tmp_path / "ids.txt.gz", "wt") as f:
        f.write("10\n7\n10\n42\n7\n")
    for src in ("ids.txt", "ids.txt.gz"):
        out = tmp_path / f"{src}.npy"
        assert main(["import", "--format", "blockids", str(tmp_path / src), str(out)]) == 0
        text = capsys.readouterr().out
        assert text.startswith(f"{out}: 6 events (as replay counts them), 1 task(s)")
        assert "5 (5 read, 0 written)" in text and "3 distinct pages = 12.0 KiB" in text
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
    assert main(["demo", "--pages", "262144", "--cpus", "4", "--plot", str(plot), "--no-progress"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == ("workload: 9,308 events, 26 cgroups x 5 tasks churning over 262,144 pages; "
                        "RAM 1280M, swap 16M, 4 CPUs")
    assert lines[1].split() == ["2.6.30", "hook=none", "2.6.30", "hook=seed", "2.6.30", "hook=uncharge-at-free",
                                "2.6.31", "hook=none"]
    end = lines.index("why the columns differ:")
    rows = {cells[0]: cells[1:] for cells in (re.split(r"\s{2,}", line.strip()) for line in lines[2:end])}
    assert all(len(v) == 4 for v in rows.values())
    # every column differs from the others, for the reason its line states
    assert rows["stale type-2 (pages)"] == ["287", "0", "0", "8"]
    assert rows["stale slots reused (2.6.31)"] == ["0", "0", "0", "3338"]
    assert rows["hook freed (pages)"] == ["0", "378", "0", "0"]
    assert rows["stale type-1 (pages)"] == ["0"] * 4 and rows["leaked memsw (pages)"] == ["0"] * 4
    assert rows["hook calls"][0] == "0" and int(rows["hook calls"][1]) > 0 and rows["hook calls"][2:] == ["0", "0"]
    # uncharge-at-free keeps unmapped swap-cache pages charged until reclaim frees them; with the swap
    # device full that once leaves a cgroup nothing to reclaim
    assert rows["OOM kills"] == ["0", "0", "1", "0"]
    for key in ("swap used (MB)", "SwapCached (MB)", "pages reclaimed", "reclaim throughput (pages/s)",
                "replay (s)", "ns per scanned page", "RAM held by stale (MB)", "swap used at peak (%)"):
        assert len(rows[key]) == 4, key
    why = lines[end + 1:-1]
    assert [w.split(":")[0].strip() for w in why] == ["2.6.30 hook=none", "2.6.30 hook=seed",
                                                      "2.6.30 hook=uncharge-at-free", "2.6.31 hook=none"]
    assert "287 of type-2: tasks exited while reclaim held their pages" in why[0]
    assert "the seed strategy: freed 378 pages" in why[1]
    assert "the uncharge-at-free strategy: " in why[2] and "deferred at unmap" in why[2] and "1 OOM kill(s)" in why[2]
    assert "the swap allocator reused 3,338 cache-only slots" in why[3]
    assert lines[-1] == f"plot: {plot}"
    assert plot.read_bytes()[:8] == PNG_MAGIC


def test_demo_json(tmp_path, capsys):
    assert main(["demo", "--pages", "16384", "--cpus", "2", "--plot", str(tmp_path / "d.png"), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["plot"] == str(tmp_path / "d.png")
    assert [r["config"] for r in doc["rows"]] == ["2.6.30 hook=none", "2.6.30 hook=seed",
                                                  "2.6.30 hook=uncharge-at-free", "2.6.31 hook=none"]
    assert doc["rows"][1]["stale type-2 (pages)"] == 0
    assert [w.split(":")[0] for w in doc["why"]] == [r["config"] for r in doc["rows"]]
    assert (tmp_path / "d.png").read_bytes()[:8] == PNG_MAGIC


def test_demo_reasons_follow_the_figures():
    """A 2.6.31 column whose swap never got half full says so instead of claiming a reuse."""
    from pymemcg import demo, workloads
    res = pymemcg.Engine("64M", "64M", kernel="2.6.31").replay(workloads.churn(rounds=20), cpus=2)
    line = demo.reason("2.6.31", "none", res)
    assert res.counters["swap_reuse"] == 0 and "swap never got half full" in line
    assert line.startswith(f"2.6.31 hook=none: {res.leaks['stale_swapcache']:,} stale swap-cache pages")


def test_coinciding_lines_stay_visible_and_empty_panels_say_none(tmp_path):
    from pymemcg import plot
    plt = plot._figure()
    a = {"events": np.arange(5), "stale": np.array([0, 1, 2, 3, 4]), "zero": np.zeros(5)}
    c = {"events": np.arange(5), "stale": np.array([0, 1, 1, 1, 1]), "zero": np.zeros(5)}
    runs = {"A": a, "B": dict(a), "C": c}
    fig, (ax, empty) = plt.subplots(1, 2)
    plot.draw_runs(ax, runs, "stale", "stale")
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["A", "B (same as A)", "C"]
    lines = ax.get_lines()
    assert len({(ln.get_linestyle(), ln.get_marker()) for ln in lines}) == 3   # each run its own dash, marker
    assert lines[0].get_linewidth() > lines[1].get_linewidth() > lines[2].get_linewidth()
    plot.draw_runs(empty, runs, "zero", "zero")
    assert empty.get_lines() == [] and [t.get_text() for t in empty.texts] == ["none, in every run"]
    plt.close(fig)
    plot.plot_series(runs, tmp_path / "p.png", panels=(("stale", "s"), ("zero", "z")))
    assert (tmp_path / "p.png").read_bytes()[:8] == PNG_MAGIC


# -- fixed along the way (issue 14, item 7): each reproduced as it was reported -------------------------

def test_stat_of_a_trace_file_gives_its_facts(tmp_path, capsys):
    """It crashed: "'numpy.ndarray' object does not support the context manager protocol"."""
    T.save(workloads.churn(rounds=5), tmp_path / "c.npy")
    assert main(["stat", str(tmp_path / "c.npy")]) == 0
    assert "distinct pages" in capsys.readouterr().out
    with pytest.raises(ValueError, match="not an .npz archive"):
        pymemcg.load(tmp_path / "c.npy")


def test_stat_of_a_missing_cgroup_names_the_cgroups(tmp_path, capsys):
    """It said "[Errno 2] no cgroup /nope"."""
    eng = pymemcg.Engine("16M", "16M")
    eng.mkdir("a")
    eng.save(tmp_path / "e.npz")
    assert main(["stat", str(tmp_path / "e.npz"), "--cgroup", "nope"]) == 2
    err = capsys.readouterr().err
    assert err == "pymemcg stat: no cgroup /nope; the engine's cgroups: /, /a\n"
    assert main(["replay", str(tmp_path / "missing.npy")]) == 2
    assert "[Errno" not in capsys.readouterr().err


@pytest.mark.parametrize("cmd", SUBCOMMANDS)
def test_help_has_a_description_and_no_doubled_percent(cmd, capsys):
    """`bench --help` printed "95%%"; `plot` and `stat --help` had no description."""
    with pytest.raises(SystemExit):
        main([cmd, "--help"])
    out = capsys.readouterr().out
    assert "%%" not in out
    parser = subparsers()[cmd]
    assert parser.description and len(parser.description) > 40


def test_gen_counts_events_as_replay_does(tmp_path, capsys):
    """gen reported one event more than replay: it counted a mkdir's name event."""
    assert main(["gen", "churn", str(tmp_path / "c.npy"), "--rounds", "5"]) == 0
    said = int(capsys.readouterr().out.split()[0])
    assert main(["replay", str(tmp_path / "c.npy"), "--ram", "64M", "--swap", "64M", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["events"] == said


def test_bench_overhead_names_its_two_estimators(capsys):
    """It printed equal ns/page next to a +1.31% overhead without saying why they may differ."""
    from pymemcg import bench
    r = {"workload": "w", "hook": "seed", "rounds": 3, "overhead_pct": 1.31, "ci95": [0.5, 2.0],
         "total_ratio_pct": 0.02, "ns_per_page_none": 400.0, "ns_per_page_hook": 400.1, "ns_per_swapout_none": 900.0,
         "ns_per_swapout_hook": 900.2, "hook_calls": 10, "hook_freed": 0, "identical_state": True}
    bench.print_overhead(r)
    out = capsys.readouterr().out
    assert "rounds compared whole: +0.02%" in out and "overhead of the seed strategy: +1.31%" in out
    assert "another estimator" in out and "need not agree" in out


def test_version(capsys):
    with pytest.raises(SystemExit) as ex:
        main(["--version"])
    assert ex.value.code == 0 and capsys.readouterr().out == f"pymemcg {pymemcg.__version__}\n"


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
