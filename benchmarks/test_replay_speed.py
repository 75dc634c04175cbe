"""Replay speed (issues 4 and 11), everything side by side in one run, the ratios printed at
the end and kept in each benchmark's extra_info.

* zipf(1.0) over 1M pages of one task, RAM holding 10% of them, swap all: the kernel's
  defaults (page_cluster=3) and page_cluster=0, on one CPU, against libcachesim's LRU with a
  cache of the same size on the same accesses (its C++ process_trace over an oracleGeneral
  file, and its Python API);
* the same accesses cut into 4 tasks (each owning a quarter of the pages) on 4 CPUs;
* hits: 10M events on one present page, and uniform over 1M present pages, against
  Task.fault of the same vpns in one call;
* the default time series (200 samples) against none (sample_every=0), A/B in turns;
* a 100M-event trace replayed from a memory-mapped .npy in a child process: its peak RSS
  against the engine's arrays plus 64 MiB.

10M events when timing (100M for the memory-mapped trace); small slices when benchmarks are
disabled (CI), which run every body once for correctness."""
import os
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

import pymemcg
from pymemcg import trace as trace_mod
from pymemcg import workloads

PAGES = 1 << 20
RAM_PAGES = PAGES // 10
P = pymemcg.PAGE_SIZE
_rates = {}      # name -> events (or pages) per second, this run


def _n(benchmark, full=10_000_000, small=200_000):
    return small if benchmark.disabled else int(os.environ.get("PYMEMCG_BENCH_EVENTS", full))


@pytest.fixture(scope="module")
def traces():
    return {}


def _zipf(traces, n, tasks=1):
    key = ("zipf", n, tasks)
    if key not in traces:
        traces[key] = workloads.zipf(n, PAGES, 1.0, seed=0, tasks=tasks)
    return traces[key]


def _record(benchmark, name, n, res=None, **extra):
    rate = n / benchmark.stats.stats.median if benchmark.stats else 0
    _rates[name] = rate
    benchmark.extra_info.update(events=n, events_per_s=round(rate), **extra)
    if res is not None:
        benchmark.extra_info.update(steps=res.stats["steps"], major_faults=res.counters["pgmajfault"],
                                    pgsteal=res.counters["pgsteal"])


def _replay_bench(benchmark, tr, n, cpus, page_cluster, name):
    last = {}

    def setup():
        last["eng"] = pymemcg.Engine(ram=RAM_PAGES * P, swap=2 * PAGES * P, page_cluster=page_cluster)
        return (last["eng"],), {}

    res = benchmark.pedantic(lambda eng: eng.replay(tr, cpus=cpus, sample_every=0, progress=False),
                             setup=setup, rounds=1 if n > 1_000_000 else 3)
    assert res.counters["pgfault"] == n
    assert res.counters["pgmajfault"] > 0 or n < 1_000_000      # a short slice fits in RAM
    last["eng"].check()
    _record(benchmark, name, n, res)


@pytest.mark.benchmark(group="replay")
@pytest.mark.parametrize("page_cluster", [3, 0])
def test_replay_zipf(benchmark, traces, page_cluster):
    n = _n(benchmark)
    _replay_bench(benchmark, _zipf(traces, n), n, 1, page_cluster, f"zipf pc={page_cluster}, 1 CPU")


@pytest.mark.benchmark(group="replay")
def test_replay_zipf_4_tasks_4_cpus(benchmark, traces):
    n = _n(benchmark)
    _replay_bench(benchmark, _zipf(traces, n, tasks=4), n, 4, 3, "zipf pc=3, 4 tasks on 4 CPUs")


def _lcs():
    return pytest.importorskip("libcachesim", reason="libcachesim is not installed (pip install libcachesim)")


def _ids(traces, n):
    return _zipf(traces, n)["vpn"][1:]


@pytest.mark.benchmark(group="replay")
def test_libcachesim_lru_python_api(benchmark, traces):
    lcs = _lcs()
    n = min(_n(benchmark), 2_000_000)          # one request per Python call: a slice is enough
    ids = _ids(traces, _n(benchmark))[:n].tolist()

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
    _record(benchmark, "libcachesim LRU, Python API", len(ids), hit_ratio=round(hits / len(ids), 4))


@pytest.mark.benchmark(group="replay")
def test_libcachesim_lru_process_trace(benchmark, traces, tmp_path):
    lcs = _lcs()
    n = _n(benchmark)
    ids = _ids(traces, n)
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
    _record(benchmark, "libcachesim LRU, process_trace", len(ids), miss_ratio=round(miss_ratio[0], 4))


# -- hits: a replay of present pages against Task.fault of the same vpns -----------------------

def _hit_vpns(kind, n):
    return np.zeros(n, np.int64) if kind == "one page" else np.random.default_rng(0).integers(0, PAGES, n)


@pytest.mark.benchmark(group="hits")
@pytest.mark.parametrize("kind", ["one page", "uniform over 1M"])
def test_replay_hits(benchmark, kind):
    n = _n(benchmark)
    vpns = _hit_vpns(kind, n)
    warm = np.arange(PAGES) if kind != "one page" else np.zeros(1, np.int64)
    tr = workloads.from_accesses(np.concatenate([warm, vpns]))
    first, body = tr[:1 + len(warm)], tr[1 + len(warm):]

    def setup():
        eng = pymemcg.Engine(ram="8G", swap="1G")
        eng.replay(first, cpus=1, sample_every=0, progress=False)
        return (eng,), {}

    res = benchmark.pedantic(lambda eng: eng.replay(body, cpus=1, sample_every=0, progress=False, resume=True),
                             setup=setup, rounds=3)
    assert res.counters["pgmajfault"] == 0 and res.counters["anon_faults"] == len(warm)
    _record(benchmark, f"replay hits, {kind}", n, res)


@pytest.mark.benchmark(group="hits")
@pytest.mark.parametrize("kind", ["one page", "uniform over 1M"])
def test_fault_hits(benchmark, kind):
    n = _n(benchmark)
    vpns = _hit_vpns(kind, n)
    eng = pymemcg.Engine(ram="8G", swap="1G")
    t = eng.spawn()
    t.fault(np.arange(PAGES) if kind != "one page" else [0])
    touched = benchmark.pedantic(lambda: t.fault(vpns), rounds=3)
    assert touched == n
    _record(benchmark, f"Task.fault hits, {kind}", n)


# -- the time series ----------------------------------------------------------------------------

@pytest.mark.benchmark(group="series")
def test_time_series_cost(benchmark, traces):
    """The default 200 samples against none, on the same zipf replay, in turns (A/B) so that
    the machine's drift hits both; the ratio is the median of the pairs."""
    n = min(_n(benchmark), 2_000_000)
    tr = _zipf(traces, n)
    ratios, times = [], {0: [], None: []}

    def once(every):
        eng = pymemcg.Engine(ram=RAM_PAGES * P, swap=2 * PAGES * P)
        t0 = time.perf_counter()
        res = eng.replay(tr, cpus=1, sample_every=every, progress=False)
        times[every].append(time.perf_counter() - t0)
        return res

    def pairs():
        ratios.clear()
        for k in range(5 if n > 1_000_000 else 2):
            order = (None, 0) if k % 2 else (0, None)
            res = {every: once(every) for every in order}
            ratios.append(times[None][-1] / times[0][-1])
        return res

    res = benchmark.pedantic(pairs, rounds=1)
    assert len(res[None].series["events"]) >= 200 and res[None].counters == res[0].counters
    ratio = float(np.median(ratios))
    benchmark.extra_info.update(events=n, samples=len(res[None].series["events"]),
                                ratio_sampled_over_none=round(ratio, 4))
    _rates["time series: sampled / none"] = ratio


# -- a trace bigger than memory -----------------------------------------------------------------

# the child's own peak: VmHWM belongs to its address space (ru_maxrss would carry the parent's
# peak across fork and exec)
_CHILD = textwrap.dedent("""
    import sys
    import pymemcg
    from pymemcg import trace
    tr = trace.load(sys.argv[1])                     # memory-mapped
    eng = pymemcg.Engine(ram="64M", swap="64M")
    arrays = sum(a.nbytes for a in eng._np.values())
    res = eng.replay(tr, cpus=1, progress=False)
    assert res.events == len(tr), res.events
    hwm = [l for l in open("/proc/self/status") if l.startswith("VmHWM:")][0].split()
    print(arrays, int(hwm[1]) * 1024)
""")


@pytest.mark.benchmark(group="memory")
def test_memory_mapped_100m_events(benchmark, tmp_path):
    """The peak RSS of a process replaying a 100M-event .npy (2.4 GB) stays within the
    engine's arrays plus 64 MiB: the trace is read in memory-mapped chunks."""
    n = _n(benchmark, full=100_000_000)
    path = tmp_path / "big.npy"
    head = workloads.from_accesses(np.zeros(1, np.int64))
    out = np.lib.format.open_memmap(path, mode="w+", dtype=trace_mod.TRACE_DTYPE, shape=(n,))
    out[0] = head[0]
    step = 1 << 22
    for a in range(1, n, step):                      # faults over 4096 pages, written in pieces
        b = min(a + step, n)
        out["op"][a:b] = trace_mod.OP["fault"]
        out["vpn"][a:b] = np.arange(a, b) % 4096
        out["count"][a:b] = 1
    out.flush()
    del out

    def run():
        p = subprocess.run([sys.executable, "-c", _CHILD, str(path)], capture_output=True, text=True, check=True)
        return [int(x) for x in p.stdout.split()]

    arrays, rss = benchmark.pedantic(run, rounds=1)
    budget = arrays + (64 << 20)
    benchmark.extra_info.update(events=n, peak_rss=rss, engine_arrays=arrays, budget=budget)
    _rates["100M mmap: peak RSS / budget"] = rss / budget
    if not benchmark.disabled:
        print(f"\n100M-event memory-mapped replay: peak RSS {rss / 2**20:.0f} MiB, "
              f"engine arrays {arrays / 2**20:.0f} MiB, budget {budget / 2**20:.0f} MiB")


def test_report_replay_ratios(record_property):
    """Runs after the benchmarks above (file order): the ratios of this run, with the targets."""
    r = _rates
    if not r or not all(r.values()):
        pytest.skip("timings not collected (--benchmark-disable or libcachesim missing)")
    lines = []

    def ratio(label, a, b, target):
        if a in r and b in r:
            x = r[a] / r[b]
            record_property(label, round(x, 3))
            lines.append(f"{label}: {x:.2f} ({target})")

    ratio("zipf pc=3 / libcachesim process_trace", "zipf pc=3, 1 CPU", "libcachesim LRU, process_trace", ">= 1.0")
    ratio("zipf pc=0 / libcachesim process_trace", "zipf pc=0, 1 CPU", "libcachesim LRU, process_trace", ">= 2.0")
    ratio("zipf pc=3 / libcachesim Python API", "zipf pc=3, 1 CPU", "libcachesim LRU, Python API", "-")
    ratio("4 CPUs cost per event / 1 CPU's", "zipf pc=3, 1 CPU", "zipf pc=3, 4 tasks on 4 CPUs", "<= 1.5")
    ratio("replay hit / Task.fault, one page", "Task.fault hits, one page", "replay hits, one page", "<= 3")
    ratio("replay hit / Task.fault, uniform 1M", "Task.fault hits, uniform over 1M",
          "replay hits, uniform over 1M", "<= 2")
    for key, target in (("time series: sampled / none", "<= 1.03"), ("100M mmap: peak RSS / budget", "<= 1")):
        if key in r:
            record_property(key, round(r[key], 4))
            lines.append(f"{key}: {r[key]:.3f} ({target})")
    print("\n" + "\n".join(lines))
