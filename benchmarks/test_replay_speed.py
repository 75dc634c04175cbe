"""Replay speed (issue 4): a zipf(1.0) trace over 1M distinct pages of one task, RAM
holding 10% of them and swap holding all, against libcachesim's LRU (PyPI libcachesim)
on the same access sequence with a cache of the same size, in the same run: through its
Python API one request at a time, and through its C++ trace loop (process_trace over an
oracleGeneral file).  10M events when timing; a 200k slice when benchmarks are disabled."""
import os

import numpy as np
import pytest

import pymemcg
from pymemcg import workloads

PAGES = 1 << 20
RAM_PAGES = PAGES // 10
_rates = {}


def _events(benchmark):
    return 200_000 if benchmark.disabled else int(os.environ.get("PYMEMCG_BENCH_EVENTS", 10_000_000))


@pytest.fixture(scope="module")
def traces():
    return {}


def _trace(traces, n):
    if n not in traces:
        traces[n] = workloads.zipf(n, PAGES, 1.0, seed=0)
    return traces[n]


@pytest.mark.benchmark(group="replay")
def test_replay_zipf(benchmark, traces):
    n = _events(benchmark)
    tr = _trace(traces, n)
    last = {}

    def setup():
        last["eng"] = pymemcg.Engine(ram=RAM_PAGES * pymemcg.PAGE_SIZE, swap=2 * PAGES * pymemcg.PAGE_SIZE)
        return (last["eng"],), {}

    res = benchmark.pedantic(lambda eng: eng.replay(tr, cpus=1, sample_every=0, progress=False),
                             setup=setup, rounds=1 if n > 1_000_000 else 3)
    assert res.counters["pgfault"] == n
    last["eng"].check()
    rate = n / benchmark.stats.stats.median if benchmark.stats else res.events_per_s
    _rates["pymemcg"] = rate
    benchmark.extra_info.update(events=n, events_per_s=round(rate), pages=PAGES, ram_pages=RAM_PAGES,
                                major_faults=res.counters["pgmajfault"])


def _lcs():
    return pytest.importorskip("libcachesim", reason="libcachesim is not installed (pip install libcachesim)")


@pytest.mark.benchmark(group="replay")
def test_libcachesim_lru_python_api(benchmark, traces):
    lcs = _lcs()
    n = _events(benchmark)
    ids = _trace(traces, n)["vpn"][1:].tolist()

    def run():
        cache = lcs.LRU(cache_size=RAM_PAGES)
        req = lcs.Request()
        req.obj_size = 1
        hits = 0
        for x in ids:
            req.obj_id = x
            hits += cache.get(req)
        return hits

    hits = benchmark.pedantic(run, rounds=1)
    assert 0 < hits < len(ids)
    rate = len(ids) / benchmark.stats.stats.median if benchmark.stats else 0
    _rates["libcachesim (python API)"] = rate
    benchmark.extra_info.update(events=len(ids), events_per_s=round(rate), hit_ratio=round(hits / len(ids), 4))


@pytest.mark.benchmark(group="replay")
def test_libcachesim_lru_process_trace(benchmark, traces, tmp_path):
    lcs = _lcs()
    n = _events(benchmark)
    ids = _trace(traces, n)["vpn"][1:]
    rec = np.zeros(len(ids), dtype=[("t", "<u4"), ("id", "<u8"), ("size", "<u4"), ("next", "<i8")])
    rec["t"] = np.arange(len(ids))
    rec["id"] = ids
    rec["size"] = 1
    rec["next"] = -1
    path = tmp_path / "zipf.oracleGeneral.bin"
    rec.tofile(path)

    def run():
        reader = lcs.TraceReader(str(path), lcs.TraceType.ORACLE_GENERAL_TRACE)
        return lcs.LRU(cache_size=RAM_PAGES).process_trace(reader)

    miss_ratio = benchmark.pedantic(run, rounds=1 if n > 1_000_000 else 3)
    assert 0 < miss_ratio[0] < 1
    rate = len(ids) / benchmark.stats.stats.median if benchmark.stats else 0
    _rates["libcachesim (process_trace)"] = rate
    benchmark.extra_info.update(events=len(ids), events_per_s=round(rate), miss_ratio=round(miss_ratio[0], 4))


def test_report_replay_ratios(record_property):
    """Runs after the three above (file order): the ratios of the same run."""
    if "pymemcg" not in _rates or not all(_rates.values()):
        pytest.skip("timings not collected (--benchmark-disable or libcachesim missing)")
    for name, rate in _rates.items():
        if name != "pymemcg":
            record_property(f"pymemcg / {name}", round(_rates["pymemcg"] / rate, 2))
            print(f"replay: pymemcg {_rates['pymemcg']:,.0f} events/s = {_rates['pymemcg'] / rate:.2f}x {name}")
