"""The replay's fast paths change no decision (issue 11).

The scheduler keeps stepping the actor it picked while the scan would pick it again, does a
futile retry of a lock wait as bookkeeping, starts the next event itself on one CPU, does runs
of hits in one go and dispatches to the one idle CPU without the full window walk.  Each is an
exact shortcut of the reference scheduler (`eng._set_replay_slow()`: one step per pick through
the scan, the general dispatch).  Here random workloads, settings, sample rates and chunk sizes
are replayed both ways and must end in the same observable state, bit for bit: every array,
counter, clock, leak figure, cgroup, task, replay statistic and time-series sample.

CI settings: a derandomized run of 150 examples (about 5 s); PYMEMCG_LONG=1 runs 30 times as
many with random seeds.
"""
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pymemcg
from pymemcg import workloads
from pymemcg.replay import replay
from replay_golden import observe
from test_determinism import race_trace

LONG = os.environ.get("PYMEMCG_LONG") == "1"
EXAMPLES = 150


def _settings():
    if LONG:
        return settings(max_examples=EXAMPLES * 30, deadline=None, suppress_health_check=list(HealthCheck))
    return settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                    suppress_health_check=list(HealthCheck))


@st.composite
def workload(draw):
    """(trace, engine settings): small machines where reclaim, swap-in, readahead, OOM kills,
    exits during reclaim and long runs of hits all happen."""
    kind = draw(st.sampled_from(["race", "zipf", "hits", "churn", "fork"]))
    seed = draw(st.integers(0, 2**16))
    if kind == "race":
        return race_trace(seed), dict(ram="2M", swap="1M", page_cluster=draw(st.integers(0, 3)))
    if kind in ("zipf", "hits"):
        pages = draw(st.integers(200, 3000))
        tasks = draw(st.integers(1, 4))
        tr = workloads.zipf(draw(st.integers(1000, 8000)), pages, draw(st.sampled_from([0.6, 1.0, 1.3])),
                            seed=seed, write=draw(st.booleans()), tasks=tasks)
        # "hits": RAM just short of the footprint, so most events find their page and kswapd
        # comes and goes between runs of hits
        frames = pages + pages // 8 if kind == "hits" else pages // draw(st.integers(2, 8))
        return tr, dict(ram=max(frames, 64) * pymemcg.PAGE_SIZE, swap=4 * pages * pymemcg.PAGE_SIZE,
                        page_cluster=draw(st.integers(0, 3)))
    if kind == "churn":
        return (workloads.churn(rounds=draw(st.integers(3, 12)), cpus=draw(st.integers(1, 4)), seed=seed,
                                jitter=0.3, ntasks=draw(st.integers(2, 5))),
                dict(ram="8M", swap=draw(st.sampled_from(["1M", "6M"])), page_cluster=2))
    return (workloads.fork_heavy(draw(st.integers(2, 6)), pages="1M", children=draw(st.integers(1, 4)),
                                 cpus=4, limit="512K", seed=seed),
            dict(ram="4M", swap="2M"))


def _run(trace, eng_settings, kernel, hook, cpus, sched, sample_every, chunk, slow):
    eng = pymemcg.Engine(kernel=kernel, hook=hook, seed=5, **eng_settings)
    eng._set_replay_slow(slow)
    res = replay(eng, trace, cpus=cpus, sched=sched, sample_every=sample_every, progress=False, chunk=chunk)
    eng.check()
    return observe(eng, res)


@_settings()
@given(w=workload(), kernel=st.sampled_from(["2.6.30", "2.6.31"]), hook=st.sampled_from(["none", "seed"]),
       cpus=st.integers(1, 4), sched=st.sampled_from(["rr", "random"]),
       sample_every=st.sampled_from([0, 1, 7, 50, None]), chunk=st.sampled_from([150, 257, 1 << 20]))
def test_fast_paths_give_the_reference_replay(w, kernel, hook, cpus, sched, sample_every, chunk):
    trace, eng_settings = w
    fast = _run(trace, eng_settings, kernel, hook, cpus, sched, sample_every, chunk, slow=False)
    slow = _run(trace, eng_settings, kernel, hook, cpus, sched, sample_every, chunk, slow=True)
    assert fast.keys() == slow.keys()
    for k in fast:
        if isinstance(fast[k], np.ndarray):
            assert fast[k].dtype == slow[k].dtype and fast[k].tobytes() == slow[k].tobytes(), k
        else:
            assert fast[k] == slow[k], k


@pytest.mark.parametrize("cpus", [63, 64])
@pytest.mark.parametrize("sched", ["rr", "random"])
def test_the_widest_machines_give_the_reference_replay(cpus, sched):
    """The several-CPU fast path keeps up to 63 CPUs and kswapd in 64-bit masks (63: every bit
    used); past that the reference scheduler runs.  A zipf trace with a task on every CPU, short
    of memory, on both sides of the edge."""
    trace = workloads.zipf(4000, 1500, 1.0, seed=3, tasks=cpus)
    settings = dict(ram=200 * pymemcg.PAGE_SIZE, swap=6000 * pymemcg.PAGE_SIZE, page_cluster=2)
    fast = _run(trace, settings, "2.6.30", "none", cpus, sched, 50, 1 << 20, slow=False)
    slow = _run(trace, settings, "2.6.30", "none", cpus, sched, 50, 1 << 20, slow=True)
    assert fast["stats"]["interleavings"] > 1000          # the CPUs did interleave
    for k in fast:
        if isinstance(fast[k], np.ndarray):
            assert fast[k].tobytes() == slow[k].tobytes(), k
        else:
            assert fast[k] == slow[k], k
