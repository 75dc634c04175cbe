"""Honest outcomes: OOM kills are reported (which task, when, what was skipped) and make
`pymemcg replay` fail unless --allow-oom; a machine too small to run a trace is refused
with the trace's footprint; a foreign file is imported on the fly or the message names the
`pymemcg import` command to run."""
import gzip
import json
import subprocess
import sys

import numpy as np
import pytest

import pymemcg
from pymemcg import importers
from pymemcg.tools.cli import main
from pymemcg.errors import TraceError
from pymemcg.trace import Builder, save


def oom_trace():
    """Task 0 outgrows a 64K+64K mem+swap limit; task 1 keeps faulting beside it."""
    b = Builder()
    b.mkdir("a", limit="64K", memsw_limit="128K")
    t, u = b.spawn("a"), b.spawn("a", cpu=1)
    for i in range(10):
        b.fault(t, i * 10, 10)
        b.fault(u, i, 1)
    b.exit(t)
    b.exit(u)
    return b.build()


def test_the_result_names_the_killed_task():
    eng = pymemcg.Engine("64M", "64M")
    res = eng.replay(oom_trace(), cpus=2)
    assert res.oom == [{"task": 0, "pid": eng.trace_task(0).pid, "cgroup": "/a", "event": 20, "events_skipped": 7}]
    assert res.stats["skipped_dead"] == 7
    t = eng.trace_task(0)
    assert t.oom_killed and t.oom_event == 20 and t.events_skipped == 7
    assert eng.trace_task(1).oom_event is None and eng.trace_task(1).events_skipped == 0
    assert "after 20 of the 27 events had been dispatched; 7 of its events were skipped" in res.oom_lines()[0]
    assert res.summary()["oom"] == res.oom
    assert "1 OOM-killed" in repr(res)


def test_a_task_killed_outside_a_replay_has_no_event():
    eng = pymemcg.Engine("64M", "64M")
    cg = eng.mkdir("a")
    cg.write("memory.limit_in_bytes", "64K")
    cg.write("memory.memsw.limit_in_bytes", "64K")
    t = eng.spawn(cg)
    t.fault(range(100))
    assert t.oom_killed and t.oom_event is None


def test_a_resumed_replay_reports_only_its_own_kills():
    eng = pymemcg.Engine("64M", "64M")
    tr = oom_trace()
    cut = int(np.flatnonzero(tr["op"] == pymemcg.trace.OP["exit"])[0])
    assert len(eng.replay(tr[:cut], cpus=2).oom) == 1
    assert eng.replay(tr[cut:], cpus=2, resume=True).oom == []


def test_replay_fails_on_oom_unless_allowed(tmp_path, capsys):
    save(oom_trace(), tmp_path / "t.npy")
    assert main(["replay", str(tmp_path / "t.npy"), "--ram", "64M", "--swap", "64M"]) == 1
    err = capsys.readouterr().err
    assert "trace task 0 (pid 1, cgroup /a) was OOM-killed after 20 of the 27 events" in err
    assert "--allow-oom" in err
    assert main(["replay", str(tmp_path / "t.npy"), "--ram", "64M", "--swap", "64M", "--allow-oom", "--json"]) == 0
    captured = capsys.readouterr()
    doc = json.loads(captured.out)
    assert doc["oom"][0]["events_skipped"] == 7 and "OOM-killed" in captured.err


def test_a_machine_too_small_is_refused_with_the_footprint(tmp_path):
    path = tmp_path / "t.npy"
    save(pymemcg.workloads.from_accesses(np.arange(3000)), path)
    r = subprocess.run([sys.executable, "-m", "pymemcg", "replay", str(path), "--ram", "4K"], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 2 and r.stdout == ""
    assert "RAM of 4.0 KiB is too small to run this trace" in r.stderr
    assert "3,000 distinct pages (11.7 MiB" in r.stderr and "try --ram 15M" in r.stderr
    eng = pymemcg.Engine("4K", "1M")
    assert pymemcg.replay.too_small(eng, pymemcg.trace.load(path), 2) is not None
    assert pymemcg.replay.too_small(pymemcg.Engine("1M", "1M"), pymemcg.trace.load(path), 2) is None


def test_a_foreign_file_replays_after_an_import_on_the_fly(tmp_path, capsys):
    path = tmp_path / "ids.txt.gz"
    with gzip.open(path, "wt") as f:
        f.write("\n".join(str(i % 50) for i in range(400)) + "\n")
    assert main(["replay", str(path), "--ram", "64M", "--swap", "64M", "--json"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["faults"]["accesses"] == 400
    assert f"read {path} as blockids" in captured.err
    assert f"pymemcg import --format blockids {path} ids.npy" in captured.err


def test_a_file_of_no_clear_format_names_the_import_command(tmp_path, capsys):
    path = tmp_path / "odd.dat"
    path.write_text("hello world\nthis is not a trace\n")
    assert main(["replay", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"pymemcg import --format FORMAT {path} odd.dat.npy" in err and "oracleGeneral, csv" in err
    with pytest.raises(TraceError, match="--format"):
        importers.load_any(path)
    with pytest.raises(TraceError, match="odd.dat:1"):
        importers.load_any(path, "blockids")          # told the format, it says what is wrong where


@pytest.mark.parametrize("text, fmt", [
    ("version,time,op,size,lbn\n1,5,2a,512,42\n", "csv"),
    ("==1== Lackey\nI  04000000,3\n L 7ff000,8\n", "lackey"),
    ("l 0x1fffff50 1\ns 0x1fffff58 2\n", "address"),
    ("17\n4\n-3\n", "blockids"),
    ("op,cpu,task,vpn,count,flags,name\nspawn,0,0,0,0,0,\n", None),
    ("just words\n", None)])
def test_detect_format_of_text(tmp_path, text, fmt):
    path = tmp_path / "t"
    path.write_text(text)
    assert importers.detect_format(path) == fmt


def test_detect_format_of_binary(tmp_path):
    rec = np.zeros(10, importers.ORACLE_DTYPE)
    rec["time"] = np.arange(10)
    rec["obj_id"] = np.arange(10) * 7 + 1
    rec["next_access_vtime"] = -1
    (tmp_path / "o.bin").write_bytes(rec.tobytes())
    assert importers.detect_format(tmp_path / "o.bin") == "oracleGeneral"
    (tmp_path / "i.bin").write_bytes(np.arange(1, 11, dtype="<i4").tobytes() * 3)
    assert importers.detect_format(tmp_path / "i.bin") == "blockids"
    np.save(tmp_path / "t.npy", pymemcg.workloads.from_accesses([1, 2]))
    assert importers.detect_format(tmp_path / "t.npy") is None
