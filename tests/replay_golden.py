"""Golden replays: what a set of replays decides, recorded once and kept bit-identical.

A speed-up of the core (the scheduler, the hit path, the incremental leak figures) must not
change a single decision.  Every case below replays a small workload that reclaims, swaps
and races, and reduces everything the engine exposes afterwards to one digest: every
per-frame and per-slot array, counters, meminfo, io() (simulated time included), leaks, each
cgroup's counters and stat, each task's info, the replay's stats and its whole time series.
The digests were recorded before the speed work began (``python tests/replay_golden.py
--record``) and tests/test_replay_golden.py checks that every case still gives its digest.

The engine's internal snapshot blob is left out on purpose: its layout is the core's own
business and may change; everything it holds that decides anything shows up in the arrays,
the counters or the clock.
"""
import hashlib
import json
import os
import sys

import numpy as np

import pymemcg
from pymemcg import workloads

GOLDEN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "golden", "replays.json")

KERNELS = ("2.6.30", "2.6.31")
HOOKS = ("none", "seed")
SCHEDS = ("rr", "random")
CPUS = (1, 2, 4)


def _zipf4(n_events, n_pages, seed):
    """The zipf stream cut into 4 tasks, one per CPU, each in its own quarter of the stream."""
    from pymemcg.trace import Builder
    stream = workloads.zipf_stream(n_events, n_pages, 1.0, seed)
    b = Builder()
    tasks = [b.spawn("", cpu=c) for c in range(4)]
    for i, vpn in enumerate(stream.tolist()):
        b.fault(tasks[i % 4], vpn, 1, write=bool(i % 3 == 0))
    return b.build()


# name -> (trace builder, engine settings); small machines so that everything reclaims
WORKLOADS = {
    "churn": (lambda: workloads.churn(rounds=30, cpus=4, seed=3, jitter=0.3),
              dict(ram="8M", swap="6M", page_cluster=2)),
    "zipf": (lambda: workloads.zipf(40_000, 3000, 1.0, seed=1, write=True),
             dict(ram="4M", swap="16M")),
    "zipf4": (lambda: _zipf4(20_000, 3000, seed=2), dict(ram="4M", swap="64M")),
    "mixed": (lambda: workloads.mixed(3000, task_size="256K", ntasks=4, cpus=4, rounds=1, seed=5),
              dict(ram="16M", swap="8M", page_cluster=1)),
    "fork_heavy": (lambda: workloads.fork_heavy(10, pages="2M", children=3, cpus=4, limit="1M", seed=4),
                   dict(ram="4M", swap="4M")),
    "steady": (lambda: workloads.steady(2048, cgroups=4, passes=2, chunk=32, cpus=4, seed=6)[0],
               dict(ram="16M", swap="16M")),
}


def cases():
    """Every (workload, cpus, sched, kernel, hook) the golden file covers."""
    return [(w, c, s, k, h) for w in WORKLOADS for c in CPUS for s in SCHEDS for k in KERNELS for h in HOOKS]


def case_id(case):
    w, c, s, k, h = case
    return f"{w}-cpus{c}-{s}-{k}-{h}"


_traces = {}


def _trace(name):
    if name not in _traces:
        _traces[name] = WORKLOADS[name][0]()
    return _traces[name]


def observe(eng, res):
    """Everything observable after a replay, as plain values (no snapshot blob: see above)."""
    out = {"array_" + k: np.array(v) for k, v in sorted(eng._np.items())}
    out["counters"] = eng.counters()
    out["meminfo"] = eng.meminfo()
    out["io"] = eng.io()
    out["leaks"] = eng.leaks()
    cgs = {}
    for path, cg in sorted(eng._cgroups.items()):
        info = cg._info_raw()
        cgs[path] = (cg._id, info.removed, cg.stat(), info.res.usage, info.res.max_usage, info.res.failcnt,
                     info.memsw.usage, info.memsw.max_usage, info.memsw.failcnt, info.refcnt, info.nr_tasks)
    out["cgroups"] = cgs
    tasks = {}
    pid = 1
    while True:
        try:
            info = eng._task(pid)._info()
        except (ValueError, pymemcg.Error):
            eng._tasks.pop(pid, None)
            break
        tasks[pid] = tuple(getattr(info, f) for f in ("alive", "oom_killed", "memcg", "anon_vma", "rss",
                                                       "swap_ptes", "gather_nr", "locked_ptes"))
        pid += 1
    out["tasks"] = tasks
    out["stats"] = res.stats
    for k, v in sorted(res.series_table().items()):
        out["series_" + k] = np.array(v)
    return out


def schema(obs):
    """The names of everything an observation holds: the digest covers these and no others, so
    that a field added to the engine later (a new counter, a new sample column) leaves the
    recorded digests valid."""
    return {k: sorted(v) if isinstance(v, dict) and k not in ("cgroups", "tasks") else None
            for k, v in obs.items()}


def digest(obs, names):
    """sha256 over the fields `names` (a schema) of an observation."""
    h = hashlib.sha256()
    for k in sorted(names):
        v = obs[k]
        if names[k] is not None:
            v = {f: v[f] for f in names[k]}
        h.update(k.encode())
        if isinstance(v, np.ndarray):
            h.update(str(v.dtype).encode() + str(v.shape).encode() + v.tobytes())
        else:
            h.update(json.dumps(v, sort_keys=True, default=str).encode())
    return h.hexdigest()


def run_case(case, names=None, slow=False):
    """Replay one case (slow: without the replay's fast paths); returns (digest over the schema
    `names`, or over everything observed when None, a few readable figures, the schema)."""
    w, cpus, sched, kernel, hook = case
    eng = pymemcg.Engine(kernel=kernel, hook=hook, seed=11, **WORKLOADS[w][1])
    eng._set_replay_slow(slow)
    res = eng.replay(_trace(w), cpus=cpus, sched=sched, progress=False)
    eng.check()
    obs = observe(eng, res)
    names = schema(obs) if names is None else names
    c = res.counters
    brief = {"events": res.events, "steps": res.stats["steps"], "now_ns": eng.io()["now_ns"],
             "pgfault": c["pgfault"], "pgmajfault": c["pgmajfault"], "swapouts": c["swapouts"],
             "pgsteal": c["pgsteal"], "hook_freed": c["hook_freed"], "oom_kills": c["oom_kills"],
             "stale": res.leaks["stale_swapcache"], "leaked_memsw": res.leaks["leaked_memsw"],
             "interleavings": res.stats["interleavings"]}
    return digest(obs, names), brief, names


def load():
    """({workload: the recorded schema}, {case id: recorded figures and digest})."""
    with open(GOLDEN) as f:
        doc = json.load(f)
    return doc.pop("_schema"), doc


def record():
    out = {"_schema": {}}
    for case in cases():
        d, brief, names = run_case(case)
        out["_schema"][case[0]] = names
        out[case_id(case)] = dict(brief, digest=d)
        print(case_id(case), brief, file=sys.stderr)
    os.makedirs(os.path.dirname(GOLDEN), exist_ok=True)
    with open(GOLDEN, "w") as f:
        json.dump(out, f, indent=1, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    if sys.argv[1:] != ["--record"]:
        sys.exit("usage: python tests/replay_golden.py --record   (only to re-record on purpose)")
    record()
