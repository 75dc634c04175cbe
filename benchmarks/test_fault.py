"""How fast (issue 2): faulting 1M fresh pages into one task in one call, side by
side with the "streaming floor", a numpy streaming write of the same per-page
state bytes (one array per page field, 48 bytes per frame).  The budget is 5x
the floor; the end-of-session summary prints the ratio.

Also: memory per frame (<= 64 bytes) and per mapped virtual page.
"""
import gc

import numpy as np
import pytest

import pymemcg
from pymemcg.engine import _PAGE_FIELDS, _SWAP_FIELDS

NR_PAGES = 1 << 20   # pages faulted per call
RAM = "8G"           # 2M frames: room for the 1M pages
PAGE = pymemcg.PAGE_SIZE
STATE_BYTES_PER_FRAME = sum(np.dtype(dt).itemsize for _, dt in _PAGE_FIELDS)
STATE_BYTES_PER_SLOT = sum(np.dtype(dt).itemsize for _, dt in _SWAP_FIELDS)
FAULT_ROUNDS = 10
FLOOR_ROUNDS = 30


class _Round:
    """One round's engine and task.  teardown() drops the task from the argument list
    pytest-benchmark keeps, so the next setup() can free the engine before making another."""

    def __init__(self):
        self.eng = pymemcg.Engine(ram=RAM, swap="0")
        self.task = self.eng.spawn()


def _check_faulted(eng, task, pages):
    assert task.rss == pages
    info = eng.meminfo()
    assert info["MemFree"] == info["MemTotal"] - pages * PAGE
    assert info["Active(anon)"] == pages * PAGE
    assert eng.root.usage_in_bytes == pages * PAGE
    assert eng.counters()["pgalloc"] == pages
    eng.check()


@pytest.mark.benchmark(group="fault")
def test_fault_1m_fresh_pages(benchmark, per_page):
    """t.fault(range(1M)) on a fresh engine each round (engine creation is not timed)."""
    last = {}

    def setup():
        last.clear()
        gc.collect()   # the previous round's engine (Engine <-> Task is a cycle)
        r = _Round()
        last["round"] = r
        return ([r.task],), {}

    def fault(box):
        return box[0].fault(range(NR_PAGES))

    def teardown(box):
        box.clear()

    touched = benchmark.pedantic(fault, setup=setup, teardown=teardown, rounds=FAULT_ROUNDS, warmup_rounds=1)
    assert touched == NR_PAGES
    r = last["round"]
    _check_faulted(r.eng, r.task, NR_PAGES)
    per_page("fault", NR_PAGES)


@pytest.mark.benchmark(group="fault")
def test_fault_1m_pages_warm_engine(benchmark, per_page):
    """The same fault on an engine whose arrays were touched before (the previous round's
    task exited in setup): what is left once the host's first-touch page faults are gone."""
    eng = pymemcg.Engine(ram=RAM, swap="0")
    eng.spawn().fault(range(2 * NR_PAGES - 1))   # every frame and array touched once
    tasks = list(eng._tasks.values())

    def setup():
        for t in tasks:
            if t.alive:
                t.exit()
        tasks.append(eng.spawn())
        return (tasks[-1],), {}

    touched = benchmark.pedantic(lambda t: t.fault(range(NR_PAGES)), setup=setup, rounds=FAULT_ROUNDS,
                                 warmup_rounds=1)
    assert touched == NR_PAGES
    assert tasks[-1].rss == NR_PAGES
    eng.check()
    per_page("fault (warm engine)", NR_PAGES)


@pytest.mark.benchmark(group="fault")
def test_streaming_floor(benchmark, per_page):
    """arr[:] = 1 over 1M entries of each page field: the bytes a fault must at least write."""
    arrays = [np.zeros(NR_PAGES, dt) for _, dt in _PAGE_FIELDS]
    assert sum(a.itemsize for a in arrays) == STATE_BYTES_PER_FRAME

    def write():
        for a in arrays:
            a[:] = 1

    benchmark.pedantic(write, rounds=FLOOR_ROUNDS, warmup_rounds=2)
    assert all((a == 1).all() for a in arrays)
    per_page("floor", NR_PAGES)


# --- memory --------------------------------------------------------------------

def test_memory_per_frame_and_vpn(record_memory):
    eng = pymemcg.Engine(ram=RAM, swap="64M")
    per_frame = sum(eng.pages[name].itemsize for name in eng.pages.keys())
    per_slot = eng.swap_map.itemsize + eng.swap_cgroup.itemsize + eng._np["swap_cache"].itemsize
    assert per_frame == STATE_BYTES_PER_FRAME
    assert per_slot == STATE_BYTES_PER_SLOT
    record_memory("bytes per frame", per_frame)
    record_memory("bytes per swap slot", per_slot)
    assert per_frame <= 64
    assert per_slot <= 8

    # A mapped vpn costs its pte (8 bytes) plus a share of the page-table pages above it
    # (meminfo's PageTables; the pages come from a pool made ready with the engine).
    dense = eng.spawn()
    before = eng.meminfo()["PageTables"]
    dense.fault(range(NR_PAGES))
    per_vpn_dense = (eng.meminfo()["PageTables"] - before) / NR_PAGES
    record_memory("bytes per mapped vpn (dense)", round(per_vpn_dense, 3))
    assert 8 <= per_vpn_dense <= 8.1   # the pte, 1/512 of a pmd page

    # One vpn per pte page is the worst case: a whole 4 KiB pte page for 8 bytes of it.
    sparse = eng.spawn()
    n = 1024
    before = eng.meminfo()["PageTables"]
    sparse.fault(np.arange(n, dtype=np.int64) * 512)
    per_vpn_sparse = (eng.meminfo()["PageTables"] - before) / n
    record_memory("bytes per mapped vpn (1 per 512)", round(per_vpn_sparse, 1))
    assert per_vpn_sparse >= 4096
    eng.check()
