"""Trace facts (pymemcg.facts, `pymemcg stat TRACE`, `pymemcg import`): what one needs to size
a machine, checked on hand-built traces whose answer is known, and against replay."""
import json
import pathlib

import numpy as np
import pytest

import pymemcg
from pymemcg import workloads
from pymemcg.tools.cli import main
from pymemcg.facts import count_events, distinct_pages, trace_facts
from pymemcg.trace import Builder, save

TRACES = (pathlib.Path(__file__).resolve().parent.parent / ".." / "shared" / "traces").resolve()
needs_traces = pytest.mark.skipif(not TRACES.is_dir(),
                                  reason=f"real traces not found at {TRACES} (../shared/traces from the project root)")


def test_distinct_pages_of_overlapping_ranges():
    task = np.array([0, 0, 0, 1, 1, 0])
    start = np.array([10, 0, 5, 10, 10, 100])
    count = np.array([10, 8, 10, 1, 1, 1])          # task 0: [0, 20) and 100; task 1: page 10
    assert distinct_pages(task, start, count) == {0: 21, 1: 1}
    assert distinct_pages(np.zeros(0), np.zeros(0), np.zeros(0)) == {}


def hand_trace():
    b = Builder()
    b.mkdir("a")
    b.mkdir("a/b")
    t = b.spawn("a/b")
    u = b.spawn("", cpu=1)
    b.fault(t, 0, 100)                              # 100 written
    b.fault(t, 50, 100, write=False)                # 100 read, 50 of them new
    b.fault(u, 7, 1, write=False)
    child = b.fork(t)
    b.fault(child, 0, 10)                           # the child's own 10 (COW copies)
    b.exit(t)
    b.mlock(u, 1000, 4)                             # mlock touches for writing
    v = b.spawn("a")
    b.fault(v, 0, 30)
    b.exit(child)
    return b.build()


def test_facts_of_a_hand_built_trace():
    tr = hand_trace()
    f = trace_facts(tr)
    assert f["per_task"] == {0: 150, 1: 5, 2: 10, 3: 30}
    assert f["footprint_pages"] == 195 and f["footprint_bytes"] == 195 * 4096
    assert (f["touches"], f["reads"], f["writes"]) == (245, 101, 144)
    assert f["tasks"] == 4 and f["cgroups"] == 2 and f["fault_events"] == 6
    # alive together: 0, 1 and 2 (165), then 1, 2 and 3 after 0 exits (45)
    assert f["peak_pages"] == 165
    assert f["per_cgroup"] == {"/a/b": 160, "/": 5, "/a": 30}


def test_events_are_counted_as_replay_counts_them():
    tr = workloads.churn(rounds=5)                 # a mkdir with its name event
    res = pymemcg.Engine("64M", "64M").replay(tr)
    assert count_events(tr) == res.events == len(tr) - 1
    assert trace_facts(tr)["events"] == res.events


def test_the_footprint_is_what_the_replay_touches():
    tr = hand_trace()
    eng = pymemcg.Engine("64M", "64M")
    eng.replay(tr, cpus=1)
    c = eng.counters()
    assert c["anon_faults"] + c["cow_faults"] == trace_facts(tr)["footprint_pages"]


def test_stat_on_a_trace_labels_every_unit(tmp_path, capsys):
    save(hand_trace(), tmp_path / "t.npy")
    assert main(["stat", str(tmp_path / "t.npy")]) == 0
    out = capsys.readouterr().out
    assert "events (as replay counts them)" in out and "4 task(s)" in out
    assert "195 distinct pages = 780.0 KiB" in out and "(4096 B pages)" in out and "at most 660.0 KiB" in out
    assert "101 read, 144 written" in out and "0: 600.0 KiB" in out
    assert main(["stat", str(tmp_path / "t.npy"), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["footprint_pages"] == 195 and doc["per_task"] == {"0": 150, "1": 5, "2": 10, "3": 30}


@needs_traces
def test_import_prints_the_facts(tmp_path, capsys):
    out = tmp_path / "cp.npy"
    assert main(["import", "--format", "oracleGeneral", str(TRACES / "cloudPhysicsIO.oracleGeneral.bin"), str(out),
                 "--limit-events", "2000", "--cgroup", "vm", "--limit", "50%", "--memsw-limit", "2M"]) == 0
    text = capsys.readouterr().out
    tr = pymemcg.trace.load(out)
    f = trace_facts(tr)
    assert f"{f['footprint_pages']:,} distinct pages" in text and "2,000 (2,000 read, 0 written)" in text
    assert "/vm" in text
    eng = pymemcg.Engine("64M", "64M")
    eng.replay(tr)
    assert eng.cgroup("vm").limit_in_bytes == -(-f["footprint_pages"] // 2) * 4096
    assert eng.cgroup("vm").memsw_limit_in_bytes == 2 << 20
