"""Synthetic workloads, all seeded: the same arguments give the same trace.

Large streams (zipf, loop) are built with numpy in one go; the churn and mixed
generators lay out tasks and cgroups event by event, which is cheap next to
replaying them.
"""
import numpy as np

from .mix import Source, Stream, mix, sequential_writes
from .sizes import PAGE_SIZE, parse_size
from .trace import FLAG_WRITE, OP, Builder, empty

__all__ = ["from_accesses", "zipf", "loop", "churn", "fork_heavy", "mixed", "steady", "mix", "Source", "Stream",
           "GENERATORS"]


def _one_task(vpns, write, cgroup, limit, cpu, tasks=1):
    """spawn + one fault per access (a task in `cgroup`, made with `limit` if given).  With
    tasks > 1 the pages are shared out: page p belongs to task p % tasks (at p // tasks in
    its own address space), task k on CPU cpu + k, so the accesses and the footprint are
    those of the one-task trace, in the same order."""
    if isinstance(tasks, bool) or not isinstance(tasks, int) or not 1 <= tasks <= 256:
        raise ValueError(f"tasks must be an int in 1..256, got {tasks!r}")
    b = Builder()
    if cgroup:
        b.mkdir(cgroup, limit=limit)
    ids = [b.spawn(cgroup or "", cpu=(cpu + k) % 256) for k in range(tasks)]
    head = b.build()
    vpns = np.asarray(vpns)
    if vpns.ndim != 1 or (vpns.size and vpns.dtype.kind not in "iu"):
        raise TypeError("vpns must be a 1-D integer sequence")
    if vpns.size and (vpns.min() < 0 or vpns.max() >= 1 << 36):
        raise ValueError("vpns must lie in [0, 2**36)")
    ev = empty(len(vpns))
    ev["op"] = OP["fault"]
    if tasks == 1:
        ev["cpu"] = cpu
        ev["task"] = ids[0]
        ev["vpn"] = vpns
    else:
        owner = vpns % tasks
        ev["cpu"] = (cpu + owner) % 256
        ev["task"] = np.asarray(ids, np.uint32)[owner]
        ev["vpn"] = vpns // tasks
    ev["count"] = 1
    ev["flags"] = np.where(np.asarray(write, dtype=bool), FLAG_WRITE, 0) if np.ndim(write) else (
        FLAG_WRITE if write else 0)
    return np.concatenate([head, ev])


def from_accesses(vpns, *, write=False, cgroup=None, limit=None, cpu=0):
    """A one-task trace that touches `vpns` in order (write may be a bool or a per-access array)."""
    return _one_task(vpns, write, cgroup, limit, cpu)


def zipf_stream(n_events, n_pages, alpha=1.0, seed=0):
    """n_events page numbers in [0, n_pages) with P(rank k) ~ 1/k**alpha; ranks are
    scattered over the pages by a seeded permutation."""
    rng = np.random.default_rng(seed)
    weights = 1.0 / np.arange(1, n_pages + 1, dtype=np.float64) ** alpha
    cdf = np.cumsum(weights)
    cdf /= cdf[-1]
    ranks = np.searchsorted(cdf, rng.random(n_events), side="right")
    np.minimum(ranks, n_pages - 1, out=ranks)
    return rng.permutation(n_pages)[ranks]


def zipf(n_events=10_000_000, n_pages=1 << 20, alpha=1.0, *, seed=0, write=False, cgroup=None, limit=None,
         tasks=1):
    """One task touching n_pages with zipf(alpha) popularity; with tasks > 1 the same
    accesses cut into that many tasks, each owning a share of the pages, one per CPU."""
    return _one_task(zipf_stream(n_events, n_pages, alpha, seed), write, cgroup, limit, 0, tasks)


def loop(n_events=1_000_000, n_pages=1 << 16, *, seed=0, write=False, cgroup=None, limit=None):
    """One task scanning n_pages in order, over and over (LRU's worst case); seed picks the start."""
    start = np.random.default_rng(seed).integers(n_pages)
    return _one_task((np.arange(n_events) + start) % n_pages, write, cgroup, limit, 0)


def churn(rounds=40, *, limit="2M", task_size="1M", ntasks=3, cpus=2, chunk=32, touches=1, cgroup="churn",
          prefix="", seed=0, jitter=0.0, builder=None, base_cpu=0):
    """The 2009 reproducer: a memcg (limit 2M) running `ntasks` tasks of `task_size` at
    once, each writing its memory `touches` times and then killed and replaced, so
    that exits land while the others' charges reclaim (Nishimura ran five ltp page01
    of 8MB under a 32MB limit).  `rounds` counts kills.

    A mix (pymemcg.mix) of one synthetic source restarted until `rounds` replacements:
    tasks write `chunk` pages per event, task slot s on CPU s % cpus, all started
    together as the reproducer's script does; `seed` shuffles the order in which the
    slots issue their events each round, and `jitter` (a fraction) shortens each
    slot's task size by a seeded amount so that their lives drift apart."""
    rng = np.random.default_rng(seed)
    pages = parse_size(task_size, "task_size") // PAGE_SIZE
    if pages < 1:
        raise ValueError("task_size must be at least one page")
    sizes = [max(1, pages - int(rng.integers(int(pages * jitter) + 1))) for _ in range(ntasks)]
    src = Source([sequential_writes(n, chunk, touches) for n in sizes], name=cgroup, limit=limit, tasks=ntasks,
                 cpus=[(base_cpu + s % cpus) % 256 for s in range(ntasks)], restarts=None)
    return mix([src], kills=rounds, burst=1, shuffle=bool(seed), rng=rng, prefix=prefix, builder=builder)


def fork_heavy(generations=50, *, pages="4M", children=4, cpus=2, limit="8M", seed=0):
    """A parent that forks children which write part of the shared memory (COW) and exit."""
    rng = np.random.default_rng(seed)
    b = Builder()
    b.mkdir("forks", limit=limit)
    n = parse_size(pages, "pages") // PAGE_SIZE
    parent = b.spawn("forks", cpu=0)
    b.fault(parent, 0, n)
    for _ in range(generations):
        kids = [b.fork(parent, cpu=(i + 1) % cpus) for i in range(children)]
        for k in kids:
            start = int(rng.integers(n))
            b.fault(k, start, min(n - start, int(rng.integers(1, n // 4 + 2))), write=True)
        b.fault(parent, int(rng.integers(n)), 1)
        for k in kids:
            b.exit(k)
    b.exit(parent)
    return b.build()


def mixed(n_pages=1 << 20, *, task_size="8M", ntasks=5, cpus=4, rounds=2, seed=0):
    """A multi-cgroup machine whose tasks hold at least n_pages at once: as many
    cgroups as that takes each run Nishimura's reproducer (five tasks of 8MB under a
    32MB limit: 80% of their memory), and the cgroups' streams are interleaved so
    they run side by side.  `rounds` counts how often each task slot is replaced."""
    b = Builder()
    task_pages = parse_size(task_size, "task_size") // PAGE_SIZE
    if task_pages < 1:
        raise ValueError("task_size must be at least one page")
    cgroups = -(-n_pages // (ntasks * task_pages))
    limit = (ntasks * task_pages * 4 // 5) * PAGE_SIZE
    for c in range(cgroups):
        churn(rounds * ntasks, limit=limit, task_size=task_pages * PAGE_SIZE, ntasks=ntasks, cpus=cpus,
              chunk=64, cgroup=f"job{c:03d}", seed=seed * 1000 + c, builder=b, base_cpu=c)
    return _interleave(b.build())


def steady(n_pages=1 << 20, *, cgroups=16, passes=3, chunk=64, cpus=2, limit_ratio=0.75, seed=0):
    """Reclaim with no exits: each cgroup runs one task that writes its memory in order,
    `passes` times, under a limit of limit_ratio of it, so every pass reclaims and swaps
    back in.  Nothing is unmapped while reclaim runs, so a reclaim hook that frees only
    unmapped pages cannot change a decision: the workload of `bench overhead`.
    Returns (trace, warm_events): the first warm_events fill every cgroup to its limit."""
    rng = np.random.default_rng(seed)
    per = -(-n_pages // cgroups)
    b = Builder()
    tasks = []
    for c in range(cgroups):
        b.mkdir(f"steady{c:03d}", limit=int(per * limit_ratio) * PAGE_SIZE)
        tasks.append(b.spawn(f"steady{c:03d}", cpu=c % cpus))
    order = rng.permutation(cgroups)
    for start in range(0, per, chunk):          # pass 0: populate up to the limits
        for c in order:
            b.fault(tasks[c], start, min(chunk, per - start))
    warm_events = len(b.build())
    for _ in range(passes):
        for start in range(0, per, chunk):
            for c in order:
                b.fault(tasks[c], start, min(chunk, per - start))
    return b.build(), warm_events


def _interleave(trace, burst=256):
    """Interleave the per-cgroup streams in bursts of `burst` events, round-robin:
    within a burst a cgroup's tasks run side by side on the CPUs (as in a cpuset),
    across bursts the cgroups take turns.  Each cgroup's own order is kept, and
    every cgroup is made (mkdir and limits) before any work starts."""
    ops = trace["op"]
    starts = np.flatnonzero(ops == OP["mkdir"])
    bounds = list(starts) + [len(trace)]
    head = trace[:bounds[0]]
    preludes, works = [], []
    for i in range(len(starts)):
        s = trace[bounds[i]:bounds[i + 1]]
        first_spawn = int(np.flatnonzero(s["op"] == OP["spawn"])[0])
        preludes.append(s[:first_spawn])
        works.append(s[first_spawn:])
    if not works:
        return trace
    block = np.concatenate([np.arange(len(w)) // burst for w in works])
    stream = np.repeat(np.arange(len(works)), [len(w) for w in works])
    order = np.lexsort((np.arange(len(block)), stream, block))
    return np.concatenate([head] + preludes + [np.concatenate(works)[order]])


GENERATORS = {"zipf": zipf, "loop": loop, "churn": churn, "fork_heavy": fork_heavy, "mixed": mixed}
