"""Multi-tenant mixes (pymemcg.mix, workloads.mix, `pymemcg mix`): hand-built streams whose
event order is known, restarts and kills that never lose an access, time-stamp merging,
limits as shares of a footprint, churn as a mix of one synthetic source, and a mix of two
real traces whose exits race with reclaim: stale swap cache on 2.6.30 without the hook and
none with it."""
import hashlib
import pathlib

import numpy as np
import pytest

import pymemcg
from pymemcg import workloads
from pymemcg.tools.cli import main
from pymemcg.errors import TraceError
from pymemcg.mix import Source, Stream, mix, place, stream_of
from pymemcg.trace import OP, OPS, Builder

TRACES = (pathlib.Path(__file__).resolve().parent.parent / ".." / "shared" / "traces").resolve()
needs_traces = pytest.mark.skipif(not TRACES.is_dir(),
                                  reason=f"real traces not found at {TRACES} (../shared/traces from the project root)")


def events(tr):
    """(op, task, vpn) of every event but mkdir's names and control writes."""
    keep = ~np.isin(tr["op"], (OP["name"], OP["write"], OP["mkdir"]))
    return [(OPS[int(e["op"]) - 1], int(e["task"]), int(e["vpn"])) for e in tr[keep]]


def test_round_robin_turns_restarts_and_exits():
    a, b = Stream(np.arange(5)), Stream(np.arange(10, 13))
    tr = mix([Source(a, name="a", restarts=1), Source(b, name="b", restarts=1)], burst=2, cpus=2)
    f = lambda t, *v: [("fault", t, x) for x in v]
    want = ([("spawn", 0, 1), ("spawn", 1, 2)] + f(0, 0, 1) + f(1, 10, 11) + f(0, 2, 3) + f(1, 12)
            + f(0, 4) + [("exit", 1, 0), ("spawn", 2, 2)] + f(2, 10, 11)            # b restarts
            + [("exit", 0, 0), ("spawn", 3, 1)] + f(3, 0, 1) + f(2, 12)             # a restarts
            + f(3, 2, 3) + [("exit", 2, 0)] + f(3, 4) + [("exit", 3, 0)])           # then each exits at its end
    assert events(tr) == want
    f = tr[tr["op"] == OP["fault"]]
    assert f["cpu"].tolist() == (f["vpn"] >= 10).astype(int).tolist()
    pymemcg.Engine("16M", "16M").replay(tr)


def test_every_task_runs_on_its_slots_cpu():
    tr = mix([Source(Stream(np.arange(4)), tasks=3), Source(Stream(np.arange(4)), tasks=1, cpus=[7])], cpus=2)
    spawns = tr[tr["op"] == OP["spawn"]]
    assert spawns["cpu"].tolist() == [0, 1, 0, 7]
    for t, cpu in zip(spawns["task"], spawns["cpu"]):
        assert set(tr["cpu"][(tr["task"] == t) & (tr["op"] == OP["fault"])].tolist()) == {cpu}


def test_kills_replace_the_task_and_lose_no_access():
    stream = Stream(np.arange(1000) % 300, write=np.arange(1000) % 7 == 0)
    tr = mix([Source(stream, tasks=2, restarts=2, kill_every=150)], burst=16, seed=4)
    op = tr["op"]
    spawns, exits = np.count_nonzero(op == OP["spawn"]), np.count_nonzero(op == OP["exit"])
    assert spawns == exits > 2 * 3 + 5            # 2 slots x 3 passes, and the kills on top
    faults = tr[op == OP["fault"]]
    slot_of = {}                                   # a task's slot: the cpu it runs on (slot k on cpu k)
    for cpu in (0, 1):
        mine = faults[faults["cpu"] == cpu]
        assert mine["vpn"].tolist() == (np.arange(1000) % 300).tolist() * 3
        assert ((mine["flags"] & 1) != 0).tolist() == (np.arange(1000) % 7 == 0).tolist() * 3
        slot_of.update(dict.fromkeys(mine["task"].tolist(), cpu))
    assert len(slot_of) == spawns
    # the kill points are seeded: another seed kills elsewhere, the same seed at the same places
    assert np.array_equal(tr, mix([Source(stream, tasks=2, restarts=2, kill_every=150)], burst=16, seed=4))
    assert not np.array_equal(tr, mix([Source(stream, tasks=2, restarts=2, kill_every=150)], burst=16, seed=5))


def test_time_stamps_merge_the_sources():
    # a pass spans [0, 1): the last of n accesses at (n-1)/n, the others as their time stamps are
    a = Stream(np.array([0, 1, 2, 3]), time=[5.0, 5.0, 13.0, 21.0])     # at 0, 0, 3/8, 3/4
    b = Stream(np.array([10, 11, 12, 13]))                              # no time stamps: 0, 1/4, 2/4, 3/4
    tr = mix([Source(a, name="a"), Source(b, name="b")], interleave="time")
    faults = [v for op, _, v in events(tr) if op == "fault"]
    # at a tie the slots take turns, each keeping its own order: a0 b10 a1 (all at 0), then b11,
    # a2, b12, and a3 b13 at 3/4, each task exiting after its last fault
    assert faults == [0, 10, 1, 11, 2, 12, 3, 13]
    ev = events(tr)
    assert ev[:2] == [("spawn", 0, 1), ("spawn", 1, 2)] and ev[-2:] == [("exit", 0, 0), ("exit", 1, 0)]


def test_time_mode_restarts_and_kills_keep_each_slots_order():
    stream = Stream(np.arange(50), time=np.sort(np.random.default_rng(1).integers(0, 20, 50)).astype(float))
    tr = mix([Source(stream, tasks=2, restarts=1, kill_every=20), Source(Stream(np.arange(100, 130)), restarts=2)],
             interleave="time", seed=2, cpus=3)
    for cpu, want in ((0, list(range(50)) * 2), (1, list(range(50)) * 2), (2, list(range(100, 130)) * 3)):
        f = tr[(tr["op"] == OP["fault"]) & (tr["cpu"] == cpu)]
        assert f["vpn"].tolist() == want
    pymemcg.Engine("16M", "16M").replay(tr, cpus=3)       # valid: every task spawned before use, exited once


def test_limits_are_sizes_or_shares_of_the_footprint():
    s = Stream(np.arange(1000) % 400)
    tr = mix([Source(s, name="a", limit="25%", memsw_limit=0.5), Source(s, name="b", limit="1M")])
    w = tr[tr["op"] == OP["write"]]
    assert w["count"].tolist() == [100 * 4096, 200 * 4096, 1 << 20]
    eng = pymemcg.Engine("64M", "64M")
    eng.replay(tr)
    assert eng.cgroup("a").limit_in_bytes == 100 * 4096 and eng.cgroup("a").memsw_limit_in_bytes == 200 * 4096
    assert eng.cgroup("a").max_usage_in_bytes <= 100 * 4096 < 400 * 4096
    with pytest.raises(ValueError, match="25%"):
        mix([Source(s, limit="0.25")])


@pytest.mark.parametrize("kw, match", [
    (dict(tasks=0), "tasks"), (dict(restarts=-1), "restarts"), (dict(kill_every=0), "kill_every"),
    (dict(cpus=[300]), "cpus")])
def test_bad_sources_are_refused(kw, match):
    with pytest.raises(ValueError, match=match):
        Source(Stream([1]), **kw)


def test_bad_streams_are_refused():
    with pytest.raises(TypeError, match="integers"):
        Stream(np.array([1.5]))
    with pytest.raises(ValueError, match="one length"):
        Stream([1, 2], count=[1])
    with pytest.raises(ValueError, match="2\\*\\*36"):
        Stream([(1 << 36) - 1], count=[2])
    with pytest.raises(ValueError, match="at least one"):
        Stream(np.zeros(0, np.int64))


def test_bad_mixes_are_refused():
    assert workloads.mix is mix                    # pymemcg.workloads.mix(...) is the same function
    s = Stream(np.arange(3))
    with pytest.raises(ValueError, match="share of the footprint"):
        mix([Source(s, limit="lots%")])
    with pytest.raises(ValueError, match="interleave"):
        mix([s], interleave="zip")
    with pytest.raises(ValueError, match="kills"):
        mix([Source(s, restarts=None)])
    with pytest.raises(ValueError, match="restarts"):
        mix([Source(s, restarts=None)], kills=3, interleave="time")
    b = Builder()
    t = b.spawn("")
    b.fault(t, 0)
    b.munmap(t, 0)
    with pytest.raises(TraceError, match="munmap"):
        stream_of(b.build())
    two = Builder()
    two.fault(two.spawn(""), 0)
    two.fault(two.spawn(""), 1)
    with pytest.raises(TraceError, match="2 tasks"):
        stream_of(two.build())


# churn: a mix of one synthetic source, event for event what it was before (sha256 of the
# trace bytes recorded from the generator as it was written before it became a mix)
CHURN_DIGESTS = [
    (dict(rounds=40), "c7c8778d79736208"),
    (dict(rounds=30, cpus=4, seed=3, jitter=0.3), "cf55d62d80502268"),
    (dict(rounds=7, seed=1, touches=3, chunk=50), "1d5f86cf09ed092a"),
    (dict(rounds=12, ntasks=5, task_size="64K", chunk=7, cpus=3, seed=2, jitter=0.9, base_cpu=254),
     "4701fa3ad598b10d"),
    (dict(rounds=5, task_size="4K", chunk=32, touches=2, seed=9), "d3cd2c79ab91a046"),
]


@pytest.mark.parametrize("kw, digest", CHURN_DIGESTS)
def test_churn_is_a_mix_of_one_synthetic_source(kw, digest):
    assert hashlib.sha256(workloads.churn(**kw).tobytes()).hexdigest()[:16] == digest


def test_mixed_still_builds_on_churn():
    tr = workloads.mixed(3000, task_size="256K", ntasks=4, cpus=4, rounds=1, seed=5)
    assert hashlib.sha256(tr.tobytes()).hexdigest()[:16] == "1de4ea31b55813d4"


def test_place_moves_a_trace_into_a_limited_cgroup():
    tr = workloads.from_accesses(np.arange(800) % 200)
    placed = place(tr, "a/b", limit="50%")
    eng = pymemcg.Engine("64M", "64M")
    eng.replay(placed)
    cg = eng.cgroup("a/b")
    assert cg.limit_in_bytes == 100 * 4096 and eng.cgroup("a").limit_in_bytes > 1 << 60
    assert cg.max_usage_in_bytes == 100 * 4096 and eng.counters()["pgfault"] == 800
    with pytest.raises(TraceError, match="cgroups of its own"):
        place(placed, "c")


@needs_traces
def test_a_mix_of_real_traces_leaks_on_2_6_30_and_not_with_the_hook():
    """Two shared traces, three tasks each under 10% of their footprint, restarted once
    and killed every 250 faults on average: exits race with the siblings' memcg reclaim.
    Readahead is off (page_cluster=0): with it, Type-1 stale pages (readahead racing with
    an exit), which the seed hook does not address, come on top."""
    def run(hook):
        srcs = [Source(str(TRACES / name), limit="10%", tasks=3, restarts=1, kill_every=250, limit_events=5000)
                for name in ("cloudPhysicsIO.oracleGeneral.bin", "cloud_physics_w106.trace.xz")]
        tr = mix(srcs, cpus=4, burst=16)
        eng = pymemcg.Engine("256M", "256M", hook=hook, page_cluster=0)
        return eng.replay(tr, cpus=4)
    none, seed = run("none"), run("seed")
    assert none.leaks["stale_swapcache_type2"] > 5 and none.leaks["leaked_swap_entries"] > 5
    assert seed.leaks["stale_swapcache"] == 0 and seed.counters["hook_freed"] > 0
    assert none.counters["exits"] == seed.counters["exits"] > 2 * 3 * 2
    assert not none.oom and not seed.oom


@needs_traces
def test_the_mix_command(tmp_path, capsys):
    out = tmp_path / "m.npy"
    rc = main(["mix", str(TRACES / "lirs_sprite.trace.gz") + ",limit=1M,tasks=2,name=sprite",
               str(TRACES / "address_gcc.trace.gz"), "--limit-events", "3000", "--restarts", "1",
               "--cpus", "2", "-o", str(out), "--no-progress"])
    text = capsys.readouterr().out
    assert rc == 0
    assert "/sprite: blockids, 3,000 faults" in text and "limit 1.0 MiB" in text and "2 task(s)" in text
    assert "/address_gcc: address" in text and "limit none" in text
    assert "stale swap cache" in text and "pages touched 18,000" in text
    tr = pymemcg.trace.load(out)
    assert np.count_nonzero(tr["op"] == OP["spawn"]) == (2 + 1) * 2
    rc = main(["mix", str(TRACES / "lirs_sprite.trace.gz") + ",bogus=1"])
    assert rc == 2 and "bogus" in capsys.readouterr().err
