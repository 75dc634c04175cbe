"""Hits, minor and major faults (pymemcg.faults) on hand-built sequences whose answer is
known page by page: every touched page is a hit (present), a first touch (empty pte) or a
swap-in, minor when the swap cache still held the page and major when it was read."""
import json

import numpy as np
import pytest

import pymemcg
from pymemcg import workloads
from pymemcg.faults import classify
from pymemcg.trace import Builder


def figures(eng):
    f = classify(eng.counters())
    return {k: f[k] for k in ("accesses", "hits", "first_touches", "swapin_cache_hits", "major")}


def swapped_out(eng, cg, t, n, free=True):
    """Push the task's n pages out to swap; free=False leaves them in the swap cache
    (written, unmapped), free=True frees them from it too."""
    eng.shrink_active_list(cg, n)
    eng.reclaim(cg, n)
    assert t.rss == 0 and t.swap_ptes == n
    if free:
        eng.end_writeback()
        eng.reclaim(cg, n)
        assert eng.meminfo()["SwapCached"] == 0
    else:
        assert eng.meminfo()["SwapCached"] > 0


@pytest.fixture
def machine():
    eng = pymemcg.Engine("64M", "64M", page_cluster=0)      # no readahead unless a test asks
    cg = eng.mkdir("a")
    return eng, cg, eng.spawn(cg)


def test_first_touches_then_hits(machine):
    eng, cg, t = machine
    t.fault(range(16))
    t.fault(range(16), write=False)
    t.fault(range(4, 8))
    assert figures(eng) == dict(accesses=36, hits=20, first_touches=16, swapin_cache_hits=0, major=0)


def test_a_copy_on_write_of_a_present_page_is_a_hit(machine):
    eng, cg, t = machine
    t.fault(range(4))
    child = t.fork()
    child.fault(range(4), write=True)            # copies: the pte was present (read-only)
    assert eng.counters()["cow_faults"] == 4
    assert figures(eng) == dict(accesses=8, hits=4, first_touches=4, swapin_cache_hits=0, major=0)


def test_pages_read_back_are_major(machine):
    eng, cg, t = machine
    t.fault(range(16))
    swapped_out(eng, cg, t, 16)
    t.fault(range(8))
    assert figures(eng) == dict(accesses=24, hits=0, first_touches=16, swapin_cache_hits=0, major=8)
    t.fault(range(8))                             # mapped again: hits
    assert figures(eng)["hits"] == 8


def test_pages_still_in_the_swap_cache_are_minor(machine):
    eng, cg, t = machine
    t.fault(range(16))
    swapped_out(eng, cg, t, 16, free=False)
    cached = eng.meminfo()["SwapCached"] // pymemcg.PAGE_SIZE
    t.fault(range(16))
    f = figures(eng)
    assert f["swapin_cache_hits"] == cached and f["major"] == 16 - cached
    assert f["accesses"] == 32 and f["first_touches"] == 16 and f["hits"] == 0


def test_readahead_makes_the_neighbours_minor():
    eng = pymemcg.Engine("64M", "64M", page_cluster=2)     # a window of 4 slots
    cg = eng.mkdir("a")
    t = eng.spawn(cg)
    t.fault(range(16))
    swapped_out(eng, cg, t, 16)
    slot = {v: t.pte(v) >> pymemcg.PTE_SHIFT for v in range(16)}
    window = slot[5] & ~3                         # the aligned window around vpn 5's slot
    neighbours = [v for v in range(16) if v != 5 and window <= slot[v] < window + 4]
    assert len(neighbours) == 3
    t.fault(5)                                    # one fault reads the whole window
    assert eng.counters()["readahead_pages"] == 4
    t.fault(neighbours)
    f = classify(eng.counters())
    assert (f["major"], f["swapin_cache_hits"]) == (1, 3)
    assert f["minor"] == 16 + 3 and f["minor_ratio"] == 19 / 20 and f["major_ratio"] == 1 / 20
    assert f["miss_ratio"] == 17 / 20            # first touches and reads: the page was in no memory


def test_no_accesses_give_zero_ratios():
    f = classify(pymemcg.Engine("1M", 0).counters())
    assert f["accesses"] == 0 and f["hit_ratio"] == f["miss_ratio"] == 0.0


def hand_trace():
    """16 first touches (one range fault), 16 hits, under no pressure."""
    b = Builder()
    t = b.spawn("")
    b.fault(t, 0, 16)
    for v in range(16):
        b.fault(t, v, 1, write=False)
    return b.build()


def test_a_replay_reports_the_split_everywhere(tmp_path):
    eng = pymemcg.Engine("64M", "64M")
    res = eng.replay(hand_trace(), cpus=1, sample_every=1)
    want = dict(accesses=32, hits=16, minor=16, major=0, first_touches=16, swapin_cache_hits=0,
                hit_ratio=0.5, minor_ratio=0.5, major_ratio=0.0, miss_ratio=0.5)
    assert res.faults == want
    assert res.summary()["faults"] == want
    s = res.series                                # a sample sees the events before the one dispatched
    assert s["hits"].tolist() == [0, 0, 0] + list(range(1, 16))
    assert s["minor_faults"].tolist() == [0, 0] + [16] * 16 and not s["major_faults"].any()
    assert s["hit_ratio"][-1] == 15 / 31
    assert np.isnan(s["hit_ratio"][0])            # nothing touched yet
    doc = json.loads(res.to_json())
    assert doc["faults"] == want and doc["series"]["hit_ratio"][0] is None
    res.to_csv(tmp_path / "s.csv")
    assert "minor_faults" in (tmp_path / "s.csv").read_text().splitlines()[0]


def test_a_reclaiming_replay_splits_every_touch():
    """Under a tight limit with readahead: the figures add up to the pages touched and agree
    with the engine's own counters."""
    eng = pymemcg.Engine("64M", "64M")
    res = eng.replay(workloads.loop(20_000, 600, cgroup="l", limit="1M"), cpus=2)
    f, c = res.faults, res.counters
    assert f["hits"] + f["minor"] + f["major"] == f["accesses"] == c["pgfault"] == 20_000
    assert f["major"] == c["pgmajfault"] > 0 and f["swapin_cache_hits"] == c["swapin_cache_hits"] > 0
    assert f["first_touches"] == 600


def test_sweep_rows_carry_the_split():
    from pymemcg import sweep
    row = sweep.run_cell(sweep.plan({"ram": "64M", "swap": "64M", "cpus": 1},
                                    [{"generator": "loop", "n_events": 3000, "n_pages": 300}])[0])
    assert row["error"] is None
    assert row["faults.first_touches"] == 300 and row["faults.hits"] == 2700
    assert row["faults.hit_ratio"] == 0.9 and set(sweep.COLUMNS) >= {f"faults.{k}" for k in sweep.FAULT_FIELDS}
