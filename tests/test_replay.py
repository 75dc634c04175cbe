"""Replay (Engine.replay): what a trace does to the engine, the result and its time series,
determinism across runs, copies and saved engines, the races a 2-CPU churn produces on its
own, the workload generators, and replay from a memory-mapped .npy.

Exact numbers below were measured on this engine and are deterministic (the same trace,
seed and settings replay bit-identically); conftest.py runs eng.check() on every engine."""
import csv
import json

import numpy as np
import pytest

import pymemcg
from pymemcg import workloads
from pymemcg import trace as T
from pymemcg.trace import OP, TRACE_DTYPE, Builder

K = 1024
M = 1 << 20
P = pymemcg.PAGE_SIZE


def state(eng):
    """Every array and dict of machine state, copied."""
    s = {f"pages.{k}": np.array(eng.pages[k]) for k in eng.pages.keys()}
    s["swap_map"] = np.array(eng.swap_map)
    s["swap_cgroup"] = np.array(eng.swap_cgroup)
    s["counters"] = eng.counters()
    s["leaks"] = eng.leaks()
    s["meminfo"] = eng.meminfo()
    s["io"] = eng.io()
    return s


def assert_same(a, b, skip=()):
    assert a.keys() == b.keys()
    for k in a:
        if k in skip:
            continue
        if isinstance(a[k], np.ndarray):
            assert a[k].dtype == b[k].dtype and np.array_equal(a[k], b[k]), k
        else:
            assert a[k] == b[k], k


def assert_same_result(r1, r2):
    assert r1.events == r2.events
    assert r1.stats == r2.stats
    assert r1.counters == r2.counters and r1.leaks == r2.leaks and r1.meminfo == r2.meminfo
    assert r1.series.keys() == r2.series.keys()
    for k in r1.series:
        assert np.array_equal(r1.series[k], r2.series[k]), k
    assert r1.cgroups.keys() == r2.cgroups.keys()
    for path in r1.cgroups:
        for k in ("usage", "memsw_usage"):
            assert np.array_equal(r1.cgroups[path][k], r2.cgroups[path][k]), (path, k)


# -- the trace does what the Python API does -------------------------------------------------------

def scripted_trace():
    b = Builder()
    b.mkdir("a", limit=M)
    b.write("a", "memory.memsw.limit_in_bytes", 4 * M)
    b.mkdir("a/b")
    b.write("a/b", "memory.swappiness", 100)
    t = b.spawn("a", cpu=0)
    b.fault(t, 0, 400)                  # over the 1M limit: memcg reclaim swaps
    b.fault(t, 0, 50, write=False)      # swap-ins with readahead
    c = b.fork(t)
    b.fault(c, 10, 30)                  # COW
    b.munmap(t, 100, 50)
    b.mlock(c, 0, 4)
    b.move(c, "a/b")
    b.fault(c, 500, 10)
    b.reclaim("a", nr=16)
    b.reclaim(None, nr=32)
    b.exit(c)
    b.exit(t)
    b.rmdir("a/b")
    return b.build()


def scripted_by_api(eng):
    a = eng.mkdir("a")
    a.write("memory.limit_in_bytes", M)
    a.write("memory.memsw.limit_in_bytes", 4 * M)
    ab = eng.mkdir("a/b")
    ab.write("memory.swappiness", "100")
    t = eng.spawn(a)
    t.fault(range(0, 400))
    t.fault(range(0, 50), write=False)
    c = t.fork()
    c.fault(range(10, 40))
    t.munmap(range(100, 150))
    c.mlock(range(0, 4))
    c.move(ab)
    c.fault(range(500, 510))
    eng.reclaim(a, nr=16)
    eng.reclaim(None, nr=32)
    c.exit()
    t.exit()
    ab.rmdir()
    eng.end_writeback()                 # a replay ends quiescent


def test_one_cpu_replay_equals_the_same_operations_through_the_api():
    by_trace = pymemcg.Engine("32M", "32M")
    res = by_trace.replay(scripted_trace(), cpus=1)
    by_api = pymemcg.Engine("32M", "32M")
    scripted_by_api(by_api)
    assert res.stats == {"events": 19, "steps": 20775, "skipped_dead": 0, "refused": 0, "max_task": 2,
                         "max_cgroup": 3, "interleavings": 1}
    c = res.counters
    assert (c["pgfault"], c["swapins"], c["cow_faults"], c["forks"], c["exits"], c["mlocked"], c["munlocked"],
            c["memcg_reclaims"], c["direct_reclaims"]) == (494, 50, 34, 1, 2, 4, 4, 14, 1)
    assert res.counters == by_api.counters() == by_trace.counters()
    assert res.leaks == by_api.leaks() and res.meminfo == by_api.meminfo()
    # everything but the clock (a replay charges a dispatch cost per event)
    assert_same(state(by_trace), state(by_api), skip=("io",))
    assert by_trace.cgroup("a").stat() == by_api.cgroup("a").stat()
    assert by_trace.cgroup("a").memsw_usage_in_bytes == by_api.cgroup("a").memsw_usage_in_bytes == 111 * P


def test_trace_cgroups_are_reachable_by_path_with_their_usage():
    b = Builder()
    b.mkdir("a", limit="64M")
    b.mkdir("a/b", limit="64M")
    b.mkdir("a/b/ünï-名前-a-long-cgroup-name")
    b.mkdir("gone")
    t = b.spawn("a/b", cpu=0)
    u = b.spawn("a/b/ünï-名前-a-long-cgroup-name", cpu=1)
    v = b.spawn("a", cpu=1)
    b.fault(t, 0, 10)
    b.fault(u, 100, 3)
    b.fault(v, 7, 1, write=False)
    b.rmdir("gone")
    eng = pymemcg.Engine("16M", "16M")
    res = eng.replay(b.build(), cpus=2)
    assert res.stats["refused"] == 0
    assert eng.cgroup("a/b").usage_in_bytes == 10 * P
    assert eng.cgroup("/a/b/ünï-名前-a-long-cgroup-name").usage_in_bytes == 3 * P
    assert eng.cgroup("a").usage_in_bytes == 1 * P
    assert eng.cgroup("a").limit_in_bytes == eng.cgroup("a/b").limit_in_bytes == 64 * M
    assert eng.cgroup("a/b").path == "/a/b" and eng.cgroup("a/b").parent is eng.cgroup("a")
    assert [x.pid for x in eng.cgroup("a/b").tasks] == [eng.trace_task(t).pid]
    with pytest.raises(pymemcg.CgroupError) as err:
        eng.cgroup("gone")
    assert err.value.errno == 2
    assert res.cgroup_paths == ["/", "/a", "/a/b", "/a/b/ünï-名前-a-long-cgroup-name", "/gone"]
    # the Python API can keep working on them
    eng.cgroup("a/b").limit_in_bytes = 4 * P
    assert eng.cgroup("a/b").usage_in_bytes <= 4 * P
    eng.mkdir("a/b/c")


def test_trace_task_maps_trace_ids_to_tasks():
    b = Builder()
    b.mkdir("x")
    t = b.spawn("x")
    u = b.spawn("")
    b.fault(t, 0, 5)
    c = b.fork(t)
    b.fault(c, 0, 2)                    # COW of 2 pages
    b.fault(u, 0, 3)
    b.exit(u)
    eng = pymemcg.Engine("8M", "8M")
    eng.replay(b.build(), cpus=2)
    tt, tu, tc = eng.trace_task(t), eng.trace_task(u), eng.trace_task(c)
    assert all(isinstance(x, pymemcg.Task) for x in (tt, tu, tc))
    assert len({tt.pid, tu.pid, tc.pid}) == 3
    assert tt.alive and tc.alive and not tu.alive
    assert (tt.rss, tc.rss) == (5, 5)
    assert tt.cgroup is eng.cgroup("x") and tc.cgroup is eng.cgroup("x")
    assert eng.trace_task(t) is tt                       # the same Task object each time
    assert eng.trace_task(3) is None and eng.trace_task(10**6) is None and eng.trace_task(-1) is None
    tc.fault(range(5, 8))                                # they are ordinary tasks afterwards
    assert tc.rss == 8
    tt.exit()
    tc.exit()


def test_oom_killed_tasks_later_events_are_skipped_not_errors():
    b = Builder()
    b.mkdir("x", limit=64 * K)          # 16 pages and no swap: the 17th page OOM-kills
    t = b.spawn("x", cpu=0)
    u = b.spawn("", cpu=1)
    b.fault(u, 0, 8)
    b.fault(t, 0, 32)
    b.fault(t, 40, 1)                   # skipped
    b.munmap(t, 0, 4)                   # skipped
    c = b.fork(t)                       # skipped: the child is never made
    b.fault(c, 0, 1)                    # skipped
    b.mlock(t, 0, 1)                    # skipped
    b.move(t, "")                       # skipped
    b.exit(c)                           # skipped
    b.exit(t)                           # skipped
    b.exit(u)
    eng = pymemcg.Engine("8M", "0")
    res = eng.replay(b.build(), cpus=2)
    assert res.stats["skipped_dead"] == 8
    assert res.stats["refused"] == 0 and res.stats["events"] == 15
    assert res.counters["oom_kills"] == 1 and res.counters["pgfault"] == 8 + 16
    dead = eng.trace_task(t)
    assert not dead.alive and dead.oom_killed
    assert eng.trace_task(c) is None
    assert not eng.trace_task(u).alive and not eng.trace_task(u).oom_killed
    assert eng.cgroup("x").usage_in_bytes == 0 and eng.cgroup("x").failcnt == 6
    assert res.leaks["stale_swapcache"] == 0


def test_refused_writes_and_rmdirs_are_counted():
    b = Builder()
    b.mkdir("p")
    b.mkdir("p/q")
    b.write("p", "memory.use_hierarchy", 1)                 # EBUSY: p has a child
    b.write("p/q", "memory.swappiness", 101)                # EINVAL
    b.write("p/q", "memory.swappiness", 30)                 # fine
    b.mkdir("m", limit="1M")
    b.write("m", "memory.memsw.limit_in_bytes", 512 * K)    # EINVAL: below the memory limit
    t = b.spawn("p/q")
    b.fault(t, 0, 4)
    b.rmdir("p/q")                                          # EBUSY: a task is in it
    b.exit(t)
    eng = pymemcg.Engine("8M", "8M")
    res = eng.replay(b.build(), cpus=1)
    assert res.stats["refused"] == 4 and res.stats["skipped_dead"] == 0
    assert eng.cgroup("p").use_hierarchy == 0
    assert eng.cgroup("p/q").swappiness == 30
    assert eng.cgroup("m").limit_in_bytes == M and eng.cgroup("m").memsw_limit_in_bytes == 2**63 - 1
    assert eng.cgroup("p/q").path == "/p/q"                 # the refused rmdir left it in place


def test_builder_mkdir_with_both_limits_sets_both():
    b = Builder()
    b.mkdir("a", limit="1M", memsw_limit="2M")
    eng = pymemcg.Engine("8M", "8M")
    res = eng.replay(b.build(), cpus=1)
    assert eng.cgroup("a").limit_in_bytes == M
    assert eng.cgroup("a").memsw_limit_in_bytes == 2 * M
    assert res.stats["refused"] == 0


def test_second_replay_mkdir_of_an_existing_path():
    eng = pymemcg.Engine("64M", "64M")
    eng.replay(workloads.churn(rounds=6), cpus=1)
    b = Builder()
    b.mkdir("churn")
    t = b.spawn("churn")
    b.fault(t, 0, 10)
    eng.replay(b.build(), cpus=1)
    assert eng.trace_task(t).cgroup is eng.cgroup("churn")


# -- results and the time series -------------------------------------------------------------------

def test_result_summary_and_series_of_a_one_cpu_replay():
    tr = workloads.from_accesses(np.arange(1000) % 300, write=True)
    eng = pymemcg.Engine("8M", "8M")
    res = eng.replay(tr, cpus=1, sample_every=100)
    assert res.events == 1001 and res.seconds > 0 and res.events_per_s == res.events / res.seconds
    assert res.summary().keys() == {"events", "seconds", "events_per_s", "leaks", "counters", "strategy_counters",
                                     "meminfo", "stats", "faults", "oom"}
    assert res.counters == eng.counters() and res.leaks == eng.leaks() and res.meminfo == eng.meminfo()
    s = res.series
    assert set(s) == {"events", "now_ns", "mem_free", "swap_used", "swap_cached", "stale", "stale_type1",
                      "stale_type2", "leaked_swap_entries", "orphan_charged_swapcache", "leaked_memsw",
                      "hook_calls", "hook_freed", "pgscan", "pgsteal", "oom_kills", "pswpout", "pswpin",
                      "pgfault", "anon_faults", "swapins", "swapin_cache_hits", "pgmajfault", "swap_used_bytes",
                      "hits", "minor_faults", "major_faults", "hit_ratio", "minor_ratio", "major_ratio", "miss_ratio"}
    assert all(v.dtype == (np.float64 if k.endswith("ratio") else np.int64) and v.shape == (10,) for k, v in s.items())
    assert s["events"].tolist() == list(range(100, 1001, 100))
    # a sample is taken when the event reaching the count is dispatched, before it runs:
    # spawn + (events - 2) completed faults over 300 distinct pages
    used = [min(e - 2, 300) for e in range(100, 1001, 100)]
    assert (res.cgroups["/"]["usage"] // P).tolist() == used
    assert (res.cgroups["/"]["memsw_usage"] // P).tolist() == used
    assert s["mem_free"].tolist() == [2048 - u for u in used]
    assert s["pgfault"].tolist() == [e - 2 for e in range(100, 1001, 100)]
    assert s["anon_faults"].tolist() == used and not s["swapins"].any() and not s["pgmajfault"].any()
    assert s["hits"].tolist() == [e - 2 - u for e, u in zip(range(100, 1001, 100), used)]
    assert np.array_equal(s["stale"], s["stale_type1"] + s["stale_type2"])
    assert not s["swap_used"].any() and not s["pgscan"].any()
    assert (np.diff(s["now_ns"]) > 0).all()
    assert list(res.cgroups) == ["/"]


def test_series_of_a_two_cpu_churn():
    eng = pymemcg.Engine("64M", "64M", hook="seed")
    res = eng.replay(workloads.churn(rounds=60), cpus=2, sample_every=50)
    s = res.series
    assert res.events == 611
    # a sample is taken once 50 more events have started (a dispatch may start two at once)
    assert len(s["events"]) == 12 and all(0 <= e - 50 * (i + 1) <= 1 for i, e in enumerate(s["events"]))
    assert list(res.cgroups) == ["/", "/churn"]
    for path in res.cgroups:
        assert res.cgroups[path]["usage"].shape == res.cgroups[path]["memsw_usage"].shape == (12,)
    assert (res.cgroups["/churn"]["usage"] <= 2 * M).all()
    assert (res.cgroups["/churn"]["usage"] <= res.cgroups["/churn"]["memsw_usage"]).all()
    assert np.array_equal(s["swap_used_bytes"], s["swap_used"] * P)
    for k in ("now_ns", "hook_calls", "hook_freed", "pgscan", "pgsteal", "pswpout", "pswpin", "oom_kills"):
        assert (np.diff(s[k]) >= 0).all(), k
        assert s[k][-1] <= (res.counters[k] if k in res.counters else s[k][-1])
    assert s["hook_calls"][-1] > 0 and s["hook_freed"][-1] > 0
    # every sample count is a multiple, even for a step of 1 (several events may start at once)
    r1 = pymemcg.Engine("64M", "64M").replay(workloads.churn(rounds=60), cpus=2, sample_every=1)
    assert len(r1.series["events"]) == 611 and (np.diff(r1.series["events"]) >= 0).all()
    assert r1.series["events"][-1] == 611


def test_sample_every_zero_gives_no_samples_and_default_is_bounded():
    tr = workloads.churn(rounds=20)
    res = pymemcg.Engine("64M", "64M").replay(tr, cpus=2, sample_every=0)
    assert all(v.shape == (0,) for v in res.series.values())
    assert all(d["usage"].shape == (0,) for d in res.cgroups.values())
    assert res.events == (tr["op"] != OP["name"]).sum()
    # default: every max(n // 200, 1) events, so about 200 samples
    res = pymemcg.Engine("64M", "64M").replay(tr, cpus=2)
    assert len(res.series["events"]) == res.events // max(len(tr) // 200, 1)
    big = workloads.from_accesses(np.arange(5000) % 100)
    res = pymemcg.Engine("8M", "8M").replay(big, cpus=1)
    assert res.series["events"].tolist() == list(range(25, 5001, 25))


def test_series_export_to_csv_and_json_parses_back(tmp_path):
    eng = pymemcg.Engine("64M", "64M", hook="seed")
    res = eng.replay(workloads.churn(rounds=30), cpus=2, sample_every=40)
    table = res.series_table()
    names = list(res.series) + ["usage[/]", "memsw_usage[/]", "usage[/churn]", "memsw_usage[/churn]"]
    assert list(table) == names
    res.to_csv(tmp_path / "s.csv")
    with open(tmp_path / "s.csv", newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == names
    got = np.array(rows[1:], dtype=np.float64)
    assert got.shape == (len(res.series["events"]), len(names))
    for i, n in enumerate(names):
        assert np.array_equal(got[:, i], table[n], equal_nan=True), n
    text = res.to_json(tmp_path / "r.json")
    doc = json.loads((tmp_path / "r.json").read_text())
    assert json.loads(text) == doc
    assert doc["events"] == res.events and doc["seconds"] == res.seconds
    assert doc["counters"] == res.counters and doc["leaks"] == res.leaks and doc["meminfo"] == res.meminfo
    assert doc["stats"] == res.stats
    assert list(doc["series"]) == names
    for n in names:
        assert doc["series"][n] == [None if x != x else x for x in table[n].tolist()], n


def test_series_csv_quotes_cgroup_paths(tmp_path):
    b = Builder()
    b.mkdir("a,b", limit="1M")
    t = b.spawn("a,b")
    b.fault(t, 0, 300)
    b.exit(t)
    res = pymemcg.Engine("8M", "8M").replay(b.build(), cpus=1, sample_every=1)
    res.to_csv(tmp_path / "s.csv")
    with open(tmp_path / "s.csv", newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0][-2:] == ["usage[/a,b]", "memsw_usage[/a,b]"]
    assert {len(r) for r in rows} == {len(rows[0])}


# -- determinism -----------------------------------------------------------------------------------

CHURN = workloads.churn(rounds=60)


@pytest.mark.parametrize("sched", ["rr", "random"])
def test_same_trace_seed_and_settings_replay_bit_identically(sched):
    runs = []
    for _ in range(2):
        eng = pymemcg.Engine("64M", "64M")
        res = eng.replay(CHURN, cpus=2, sched=sched, seed=7, sample_every=25)
        runs.append((eng, res))
    (e1, r1), (e2, r2) = runs
    assert_same(state(e1), state(e2))
    assert_same_result(r1, r2)
    assert r1.stats["interleavings"] > 1000


def test_seeds_give_different_random_interleavings():
    got = {}
    for seed in (0, 1, 2):
        eng = pymemcg.Engine("64M", "64M")
        res = eng.replay(CHURN, cpus=2, sched="random", seed=seed, sample_every=0)
        got[seed] = (res.stats["interleavings"], res.stats["steps"], res.leaks["stale_swapcache_type2"])
    assert got == {0: (521441, 809091, 61), 1: (508939, 785517, 71), 2: (706781, 845804, 91)}
    # the round-robin scheduler ignores the seed
    rr = [pymemcg.Engine("64M", "64M").replay(CHURN, cpus=2, seed=s, sample_every=0).stats for s in (0, 1)]
    assert rr[0] == rr[1] and rr[0]["interleavings"] == 636757
    # the engine's seed is the default
    a = pymemcg.Engine("64M", "64M", seed=5).replay(CHURN, cpus=2, sched="random", sample_every=0)
    b = pymemcg.Engine("64M", "64M").replay(CHURN, cpus=2, sched="random", seed=5, sample_every=0)
    assert a.stats == b.stats


def warmed():
    eng = pymemcg.Engine("64M", "64M")
    eng.replay(workloads.churn(rounds=20), cpus=2)
    return eng


def continuation():
    """A second trace for a warmed engine (its cgroup names are new; the root is shared)."""
    b = Builder()
    b.mkdir("more", limit="1M")
    t = b.spawn("more", cpu=0)
    u = b.spawn("", cpu=1)
    b.fault(t, 0, 600)
    b.fault(u, 0, 300)
    b.fault(t, 0, 100, write=False)
    b.exit(t)
    b.exit(u)
    return b.build()


def test_copy_is_identical_and_independent():
    eng = warmed()
    before = state(eng)
    cp = eng.copy()
    assert cp is not eng and cp.settings == eng.settings
    assert_same(state(cp), before)
    assert cp.cgroup("churn").stat() == eng.cgroup("churn").stat()
    r_cp = cp.replay(continuation(), cpus=2, sample_every=10)
    assert_same(state(eng), before)                          # the original did not move
    r_eng = eng.replay(continuation(), cpus=2, sample_every=10)
    assert_same(state(cp), state(eng))
    assert_same_result(r_cp, r_eng)
    assert r_eng.counters["pswpout"] == 2534 and r_eng.stats["interleavings"] == 1207


def test_copy_may_change_only_the_hook_and_friends():
    eng = warmed()
    cp = eng.copy(hook="seed")
    assert eng.leaks()["stale_swapcache_type2"] == cp.leaks()["stale_swapcache_type2"] == 30
    assert cp.hook == "seed" and eng.hook == "none"
    assert {k: v for k, v in cp.settings.items() if k != "hook"} == \
           {k: v for k, v in eng.settings.items() if k != "hook"}
    assert_same(state(cp), state(eng))
    second = workloads.churn(rounds=60, cgroup="second")
    r_seed = cp.replay(second, cpus=2, sample_every=0)
    r_none = eng.replay(second, cpus=2, sample_every=0)
    assert r_seed.counters["hook_calls"] > 0 and r_none.counters["hook_calls"] == 0
    # the warm-up (hook none) left 30 stale pages that no memcg reclaim can reach: the seed
    # hook adds none to them, the original keeps leaking
    assert r_seed.leaks["stale_swapcache_type2"] == 30
    assert r_none.leaks["stale_swapcache_type2"] == 129
    for bad in (dict(kernel="2.6.31"), dict(ram="128M"), dict(swap_account=False), dict(bogus=1)):
        with pytest.raises(ValueError):
            eng.copy(**bad)
    with pytest.raises(ValueError):
        eng.copy(hook="other")


def test_save_and_load_round_trip_every_array(tmp_path):
    eng = warmed()
    cg = eng.mkdir("extra")
    cg.limit_in_bytes = 256 * K
    t = eng.spawn(cg)
    t.fault(range(200))                         # leaves swap slots charged to "extra"
    eng.save(tmp_path / "e.npz")
    back = pymemcg.load(tmp_path / "e.npz")
    assert back.settings == eng.settings
    assert_same(state(back), state(eng))
    assert back.swap_cgroup.any() and back.swap_map.any()
    for path in ("", "churn", "extra"):
        a, b = eng.cgroup(path), back.cgroup(path)
        assert a.stat() == b.stat() and a._id == b._id
        for f in ("memory.usage_in_bytes", "memory.memsw.usage_in_bytes", "memory.limit_in_bytes",
                  "memory.max_usage_in_bytes", "memory.failcnt", "memory.memsw.failcnt"):
            assert a.read(f) == b.read(f), (path, f)
    assert np.array_equal(back._trace_tasks, eng._trace_tasks)
    assert eng.trace_task(0).pid == back.trace_task(0).pid
    # the pages arrays are read-only views, as on any engine
    assert not back.pages.flags.flags.writeable and not back.swap_map.flags.writeable
    assert np.array_equal(back._trace_cgroups, eng._trace_cgroups)
    # continuing from the loaded engine equals continuing from the original: a new trace, and a
    # resumed one whose ids mean what they meant in the warm-up (cgroup 1 is "churn")
    r_back = back.replay(continuation(), cpus=2, sample_every=10)
    r_eng = eng.replay(continuation(), cpus=2, sample_every=10)
    assert_same(state(back), state(eng))
    assert_same_result(r_back, r_eng)
    resumed = [back.replay(resumed_segment(), cpus=2, sample_every=1, resume=True),
               eng.replay(resumed_segment(), cpus=2, sample_every=1, resume=True)]
    assert_same(state(back), state(eng))
    assert_same_result(*resumed)
    assert resumed[0].stats["refused"] == resumed[0].stats["skipped_dead"] == 0


def raw(op, cpu=0, flags=0, task=0, vpn=0, count=0):
    e = T.empty(1)
    e[0] = (OP[op], cpu, flags, task, vpn, count)
    return e


def resumed_segment():
    """Two new tasks in the warm-up's cgroup 1, for replay(..., resume=True)."""
    return np.concatenate([raw("spawn", task=50, vpn=1), raw("spawn", cpu=1, task=51, vpn=1),
                           raw("fault", flags=1, task=50, count=400), raw("fault", cpu=1, flags=1, task=51, count=400),
                           raw("exit", task=50), raw("exit", cpu=1, task=51)])


def test_resume_keeps_the_trace_ids(unchanged):
    eng = warmed()
    with unchanged(eng):
        with pytest.raises(pymemcg.TraceError) as err:          # without resume, cgroup 1 is unknown
            eng.replay(resumed_segment(), cpus=2)
        assert err.value.index == 0
        with pytest.raises(pymemcg.TraceError) as err:          # warm-up task 0 has exited
            eng.replay(raw("fault", task=0, count=1), cpus=2, resume=True)
        assert "after its exit" in str(err.value)
    res = eng.replay(resumed_segment(), cpus=2, sample_every=0, resume=True)
    assert res.counters["pgfault"] - warmed().counters()["pgfault"] == 800
    assert eng.trace_task(50) is not None and not eng.trace_task(50).alive


def oom_then_more():
    """Task 0 is OOM-killed by its 16-page memcg in the first part; the trace, which cannot
    know that, goes on using it in the second part and then exits it."""
    b = Builder()
    b.mkdir("small", limit="64K")
    t = b.spawn("small")
    b.fault(t, 0, 40)
    first = len(b.build())
    b.fault(t, 0, 4)
    b.exit(t)
    return b.build(), first


def test_resume_skips_an_oom_killed_task_like_one_replay_does(tmp_path):
    trace, first = oom_then_more()
    whole = pymemcg.Engine(ram="4M", swap=0)
    r = whole.replay(trace, cpus=1, sample_every=0)
    assert r.counters["oom_kills"] == 1 and r.stats["skipped_dead"] == 2
    split = pymemcg.Engine(ram="4M", swap=0)
    split.replay(trace[:first], cpus=1, sample_every=0)
    assert not split.trace_task(0).alive
    split.save(tmp_path / "e.npz")
    for eng in (split, split.copy(), pymemcg.load(tmp_path / "e.npz")):
        r2 = eng.replay(trace[first:], cpus=1, sample_every=0, resume=True)
        assert r2.stats["skipped_dead"] == 2
        assert eng.counters() == whole.counters()
        # and once the trace has exited the task, naming it again is an error
        with pytest.raises(pymemcg.TraceError, match="after its exit"):
            eng.replay(raw("fault", task=0, count=1), cpus=1, resume=True)


def test_resumed_replay_reports_the_usage_of_earlier_cgroups():
    eng = warmed()
    res = eng.replay(resumed_segment(), cpus=2, sample_every=1, resume=True)
    assert "/churn" in res.cgroups
    assert res.cgroups["/churn"]["usage"].max() > 0


def test_load_refuses_what_is_not_a_saved_engine(tmp_path):
    np.savez(tmp_path / "x.npz", a=np.arange(3))
    (tmp_path / "junk.npz").write_bytes(b"junk")
    for name in ("x.npz", "missing.npz"):
        with pytest.raises(ValueError, match=name):
            pymemcg.load(tmp_path / name)
    with pytest.raises(ValueError):
        pymemcg.load(tmp_path / "junk.npz")


# -- races happen on their own ---------------------------------------------------------------------

def churn_run(kernel, hook, cpus):
    eng = pymemcg.Engine(ram="64M", swap="64M", kernel=kernel, hook=hook)
    return eng, eng.replay(CHURN, cpus=cpus, sample_every=0)


NO_STALE = dict(stale_swapcache=0, stale_swapcache_type1=0, stale_swapcache_type2=0, leaked_swap_entries=0,
                leaked_memsw=0)


def test_two_cpu_churn_on_2_6_30_leaks_stale_swap_cache():
    eng, res = churn_run("2.6.30", "none", 2)
    assert res.leaks == dict(stale_swapcache=99, stale_swapcache_type1=0, stale_swapcache_type2=99,
                             leaked_swap_entries=99, leaked_memsw=0, orphan_charged_swapcache=104)
    assert res.counters["hook_calls"] == 0
    # the stale pages hold swap and RAM outside every memcg (semantics.md K4.5)
    assert res.meminfo["SwapTotal"] - res.meminfo["SwapFree"] >= 99 * P
    assert eng.leaks() == res.leaks


def test_the_seed_hook_prevents_the_leak():
    _, res = churn_run("2.6.30", "seed", 2)
    assert {k: res.leaks[k] for k in NO_STALE} == NO_STALE
    assert res.counters["hook_calls"] == 9880 and res.counters["hook_freed"] == 113


@pytest.mark.parametrize("kernel, hook", [("2.6.30", "none"), ("2.6.30", "seed"), ("2.6.31", "none")])
def test_one_cpu_has_no_race(kernel, hook):
    _, res = churn_run(kernel, hook, 1)
    assert {k: res.leaks[k] for k in NO_STALE} == NO_STALE
    assert res.stats["interleavings"] == 1
    assert res.counters["hook_freed"] == 0


def test_2_6_31_leaks_no_memsw():
    _, res = churn_run("2.6.31", "none", 2)
    assert res.leaks["leaked_memsw"] == 0
    assert res.leaks["stale_swapcache_type1"] == 0
    assert res.leaks["stale_swapcache_type2"] == 99     # Type-2 is not fixed by 2.6.31 (K4.1)


# -- generators ------------------------------------------------------------------------------------

GEN_ARGS = {
    "zipf": dict(n_events=2000, n_pages=300),
    "loop": dict(n_events=2000, n_pages=300),
    "churn": dict(rounds=10),
    "fork_heavy": dict(generations=5),
    "mixed": dict(n_pages=1 << 14),
}


@pytest.mark.parametrize("name", list(GEN_ARGS))
def test_generators_are_deterministic(name):
    gen = workloads.GENERATORS[name]
    a, b = gen(seed=3, **GEN_ARGS[name]), gen(seed=3, **GEN_ARGS[name])
    assert a.dtype == TRACE_DTYPE and len(a) > 10
    assert np.array_equal(a, b)


@pytest.mark.parametrize("name", list(GEN_ARGS))
def test_generators_differ_for_another_seed(name):
    gen = workloads.GENERATORS[name]
    a, b = gen(seed=0, **GEN_ARGS[name]), gen(seed=1, **GEN_ARGS[name])
    assert not (a.shape == b.shape and np.array_equal(a, b))


def test_churn_with_jitter_uses_the_seed():
    a, b = workloads.churn(10, seed=0, jitter=0.3), workloads.churn(10, seed=1, jitter=0.3)
    assert not (a.shape == b.shape and np.array_equal(a, b))
    assert np.array_equal(a, workloads.churn(10, seed=0, jitter=0.3))


def test_from_accesses_is_one_spawn_and_one_fault_per_access():
    vpns = np.array([5, 0, 5, 2**36 - 1, 7])
    tr = workloads.from_accesses(vpns)
    assert [tuple(int(x) for x in e) for e in tr] == [
        (OP["spawn"], 0, 0, 0, 0, 0)] + [(OP["fault"], 0, 0, 0, int(v), 1) for v in vpns]
    w = workloads.from_accesses([1, 2, 3], write=True)
    assert (w["flags"][1:] == 1).all()
    mix = workloads.from_accesses([1, 2, 3], write=np.array([True, False, True]))
    assert mix["flags"][1:].tolist() == [1, 0, 1]
    assert len(workloads.from_accesses(np.array([], np.int64))) == 1
    cg = workloads.from_accesses([4], cgroup="t", limit="1M", cpu=3)
    assert [int(e["op"]) for e in cg] == [OP["mkdir"], OP["name"], OP["write"], OP["spawn"], OP["fault"]]
    assert cg["cpu"][-2:].tolist() == [3, 3]
    with pytest.raises(ValueError):
        workloads.from_accesses([2**36])
    with pytest.raises(ValueError):
        workloads.from_accesses([-1])
    with pytest.raises(TypeError):
        workloads.from_accesses([1.5])
    with pytest.raises(TypeError):
        workloads.from_accesses(np.zeros((2, 2), int))
    eng = pymemcg.Engine("1M", "1M")
    res = eng.replay(tr, cpus=1)
    assert res.counters["pgfault"] == 5 and eng.trace_task(0).rss == 4


def test_zipf_frequencies():
    n, pages = 100_000, 1000
    tr = workloads.zipf(n, pages, 1.0, seed=0)
    f = tr[1:]
    assert (f["op"] == OP["fault"]).all() and (f["count"] == 1).all() and (f["flags"] == 0).all()
    assert f["vpn"].min() >= 0 and f["vpn"].max() < pages
    counts = np.sort(np.bincount(f["vpn"], minlength=pages))[::-1]
    harmonic = (1.0 / np.arange(1, pages + 1)).sum()
    assert abs(counts[0] - n / harmonic) < 0.05 * n / harmonic           # ~13,360
    assert abs(counts[1] - n / harmonic / 2) < 0.1 * n / harmonic / 2
    steep = np.bincount(workloads.zipf(n, pages, 2.0, seed=0)["vpn"][1:]).max()
    assert steep > 0.55 * n                                              # 1/zeta(2) ~ 0.61
    assert workloads.zipf(10, 5, write=True)["flags"][1:].tolist() == [1] * 10


def test_loop_scans_in_order():
    tr = workloads.loop(25, 10, seed=4)
    v = tr["vpn"][1:]
    start = int(v[0])
    assert v.tolist() == [(start + i) % 10 for i in range(25)]


def test_churn_is_the_2009_reproducer():
    tr = workloads.churn(rounds=6)
    ops = tr["op"]
    assert (ops == OP["exit"]).sum() == 6 + 3 and (ops == OP["spawn"]).sum() == 6 + 3
    w = tr[ops == OP["write"]]
    assert w["count"].tolist() == [2 * M] and w["flags"].tolist() == [T.WRITE_FILE["memory.limit_in_bytes"]]
    f = tr[ops == OP["fault"]]
    assert (f["flags"] == 1).all() and f["count"].max() == 32 and (f["vpn"] + f["count"]).max() == 256
    assert set(tr["cpu"][ops == OP["spawn"]].tolist()) == {0, 1}
    assert T.mkdir_names(tr) == {0: "churn"}


def alive_pages(tr):
    """The largest sum, over the trace, of the sizes of the tasks alive at once."""
    f = tr[tr["op"] == OP["fault"]]
    size = np.zeros(int(tr["task"].max()) + 1, np.int64)
    np.maximum.at(size, f["task"].astype(np.int64), f["vpn"] + f["count"])
    delta = np.zeros(len(tr), np.int64)
    sp = np.flatnonzero(tr["op"] == OP["spawn"])
    ex = np.flatnonzero(tr["op"] == OP["exit"])
    delta[sp] += size[tr["task"][sp]]
    delta[ex] -= size[tr["task"][ex]]
    return int(np.cumsum(delta).max())


def test_mixed_holds_a_million_pages_of_task_memory():
    tr = workloads.mixed(1 << 20)
    assert alive_pages(tr) == 103 * 5 * 2048 >= 1 << 20
    assert (tr["op"] == OP["mkdir"]).sum() == 103
    assert set((tr["cpu"] % 4).tolist()) == {0, 1, 2, 3}     # cgroup c starts at CPU c; replay takes cpu % cpus
    # every cgroup is made before any work starts
    first_spawn = int(np.flatnonzero(tr["op"] == OP["spawn"])[0])
    assert (tr["op"][first_spawn:] != OP["mkdir"]).all()


def test_small_mixed_replays():
    tr = workloads.mixed(1 << 14, cpus=2)
    assert alive_pages(tr) >= 1 << 14
    ram, swap = (1 << 14) * P * 5 // 4, (1 << 14) * P     # swap for everything: nothing is OOM-killed
    runs = [pymemcg.Engine(ram, swap).replay(tr, cpus=2, sample_every=200) for _ in range(2)]
    res = runs[0]
    assert_same_result(runs[0], runs[1])
    assert res.stats["skipped_dead"] == 0 and res.stats["refused"] == 0
    assert res.events == (tr["op"] != OP["name"]).sum()
    assert list(res.cgroups) == ["/", "/job000", "/job001"]
    assert res.counters["pswpout"] > 0 and res.counters["exits"] == (tr["op"] == OP["exit"]).sum()


# -- a memory-mapped trace ---------------------------------------------------------------------------

def test_replay_of_a_memory_mapped_npy_equals_the_array(tmp_path):
    n = 300_000
    path = tmp_path / "big.npy"
    mm = np.lib.format.open_memmap(path, mode="w+", dtype=TRACE_DTYPE, shape=(n + 1,))
    mm[:1] = workloads.from_accesses(np.array([], np.int64))
    rng = np.random.default_rng(7)
    for a in range(1, n + 1, 50_000):               # written in chunks, never whole in memory
        part = mm[a:a + 50_000]
        part["op"] = OP["fault"]
        part["vpn"] = rng.integers(0, 1500, len(part))
        part["count"] = 1
        part["flags"] = rng.integers(0, 2, len(part))
    mm.flush()
    del mm, part
    mapped = T.load(path)
    assert isinstance(mapped, np.memmap) and len(mapped) == n + 1
    whole = np.array(mapped)
    e1, e2 = pymemcg.Engine("4M", "8M"), pymemcg.Engine("4M", "8M")
    r1 = e1.replay(mapped, cpus=2, progress=False)
    r2 = e2.replay(whole, cpus=2, progress=False)
    assert r1.events == n + 1 and r1.counters["pgfault"] == n
    assert len(r1.series["events"]) == 200                # max(n // 200, 1000) = 1500 events a sample
    assert_same_result(r1, r2)
    assert_same(state(e1), state(e2))


def test_a_memory_mapped_trace_is_not_kept_resident(tmp_path):
    """A replay gives a memory-mapped trace's pages back to the kernel chunk by chunk, so a
    trace far larger than the chunk does not end up resident: a child process replaying a
    240 MB trace peaks far below that (VmHWM is the child's own high-water mark)."""
    import subprocess
    import sys
    from pymemcg import trace as T
    n = 10_000_000
    path = tmp_path / "big.npy"
    out = np.lib.format.open_memmap(path, mode="w+", dtype=T.TRACE_DTYPE, shape=(n,))
    out[0] = workloads.from_accesses(np.zeros(1, np.int64))[0]
    for a in range(1, n, 1 << 22):
        b = min(a + (1 << 22), n)
        out["op"][a:b] = T.OP["fault"]
        out["vpn"][a:b] = np.arange(a, b) % 4096
        out["count"][a:b] = 1
    out.flush()
    del out
    child = ("import sys, pymemcg\nfrom pymemcg import trace\n"
             "res = pymemcg.Engine('64M', '64M').replay(trace.load(sys.argv[1]), cpus=1, progress=False)\n"
             "assert res.events == %d and res.counters['anon_faults'] == 4096\n"
             "print([l for l in open('/proc/self/status') if l.startswith('VmHWM:')][0].split()[1])" % n)
    peak_kib = int(subprocess.run([sys.executable, "-c", child, str(path)], capture_output=True, text=True,
                                  check=True).stdout)
    assert peak_kib * 1024 < 120 << 20, f"peak RSS {peak_kib} KiB replaying a {n * 24 >> 20} MiB trace"
