"""The exploration: every schedule of a scenario's actors over the engine's stop points, with
at most K preemptions, by stateless re-execution (docs/explore.md).

The schedules form a tree.  A run follows its prefix of choices and then the default (which
never preempts); its children are the schedules that follow it up to one of its own choice
points past the prefix and then choose another actor there, while the preemptions stay within
the bound.  Depth-first search runs each node once.  With pruning, a choice point past the
prefix whose state (csrc/state_hash.c, with the actor that may go on) was already met with no
more preemptions ends its run there: every continuation from it was, or will be, explored from
the first meeting, so the run is counted as pruned and nothing past that point is branched.

For parallelism the tree is cut at a fixed depth (`split`, default 1): the nodes above it run
here, and each node at that depth is an independent subtree, searched on its own with its own
set of explored states.  The results are merged in the subtrees' order, so an exploration gives
the same figures on any executor and any number of workers.
"""
import time

from .._ffi import ffi, lib
from .executors import run_tasks
from .outcome import label
from .run import Runner

DEFAULT_MAX_STEPS = 100_000


class Tally:
    """What part of an exploration found: schedules run to their end, runs pruned, the distinct
    final states (their state hashes), and per outcome how many schedules reached it and the
    shortest of them: (preemptions, steps, prefix), the least such tuple."""

    def __init__(self):
        self.schedules = 0
        self.pruned = 0
        self.finals = set()
        self.outcomes = {}
        self.steps = 0

    def add(self, run):
        self.steps += run.nsteps
        if run.outcome is None:
            self.pruned += 1
            return
        self.schedules += 1
        self.finals.add(run.final_hash)
        entry = self.outcomes.setdefault(run.outcome, [0, None])
        entry[0] += 1
        best = (run.preemptions, run.nsteps, run.prefix)
        if entry[1] is None or best < entry[1]:
            entry[1] = best

    def merge(self, other):
        self.schedules += other.schedules
        self.pruned += other.pruned
        self.finals |= other.finals
        self.steps += other.steps
        for outcome, (count, best) in other.outcomes.items():
            entry = self.outcomes.setdefault(outcome, [0, None])
            entry[0] += count
            if entry[1] is None or best < entry[1]:
                entry[1] = best
        return self


def children(run, bound):
    """The prefixes of the schedules that deviate from `run` at one of its choice points past
    its prefix, whose preemptions stay within `bound` (None: unbounded)."""
    ch = run.choices
    chosen = [int(c) for c in ch["chosen"]]
    used = int(ch["preempted"][:len(run.prefix)].sum())
    out = []
    for i in range(len(run.prefix), len(ch)):
        mask, keep, prev = int(ch["runnable"][i]), bool(ch["keep"][i]), int(ch["prev"][i])
        for alt in range(mask.bit_length()):
            if mask >> alt & 1 and alt != chosen[i]:
                if bound is None or used + (keep and alt != prev) <= bound:
                    out.append(tuple(chosen[:i]) + (alt,))
        used += int(ch["preempted"][i])
    return out


def search(runner, root, bound, prune):
    """Depth-first search of the subtree under the schedule `root`; returns its Tally."""
    seen = ffi.gc(lib.pmc_seen_new(), lib.pmc_seen_free) if prune else None
    if prune and seen == ffi.NULL:
        raise MemoryError("cannot allocate the set of explored states")
    tally = Tally()
    stack = [root]
    while stack:
        run = runner.run(stack.pop(), seen)
        tally.add(run)
        stack.extend(reversed(children(run, bound)))
    return tally


def explore_subtree(task):
    """One subtree, on whichever worker: task is (settings, strategy spec, trace, cpus, max_steps,
    bound, prune, root); a strategy that is not shipped is registered in the worker first."""
    from .. import strategies
    settings, spec, trace, cpus, max_steps, bound, prune, root = task
    strategies.ensure(spec)
    t0 = time.perf_counter()
    tally = search(Runner(settings, trace, cpus, max_steps), root, bound, prune)
    tally.seconds = time.perf_counter() - t0
    return tally


def check_bound(preemptions):
    if preemptions is not None and (isinstance(preemptions, bool) or not isinstance(preemptions, int)
                                    or preemptions < 0):
        raise ValueError(f"preemptions must be a non-negative int or None (unbounded), got {preemptions!r}")
    return preemptions


def explore(scenario, kernel="2.6.30", hook="none", preemptions=2, *, prune=True, max_steps=DEFAULT_MAX_STEPS,
            split=1, executor=None, workers=None, progress=False):
    """Explore every schedule of `scenario` under one kernel and strategy with at most
    `preemptions` preemptions (None: unbounded).  prune: cut runs at states already explored;
    max_steps: the step bound of a schedule (a livelock or lost wake-up is reported, never
    waited for); split: the depth at which the tree is cut into subtrees for the executor
    (0: one subtree); executor: None (a local process pool of `workers` processes), "inline"
    (this process), a concurrent.futures.Executor, or a Dask Client or scheduler address.
    Returns an Exploration."""
    from . import scenario as load_scenario
    from .. import strategies
    from ..engine import Engine
    from .exploration import Exploration
    bound = check_bound(preemptions)
    scenario = load_scenario(scenario)
    if isinstance(split, bool) or not isinstance(split, int) or split < 0:
        raise ValueError(f"split must be a non-negative int, got {split!r}")
    if isinstance(max_steps, bool) or not isinstance(max_steps, int) or max_steps < 1:
        raise ValueError(f"max_steps must be a positive int, got {max_steps!r}")
    built = scenario.build()
    settings = scenario.engine_settings(kernel, hook)
    Engine(**settings)                       # an unknown kernel or strategy fails here, before any worker starts
    t0 = time.perf_counter()
    runner = Runner(settings, built.trace, scenario.cpus, max_steps)
    tally = Tally()
    level = [()]
    for _ in range(split):                   # the nodes above the cut, here and without pruning
        below = []
        for prefix in level:
            run = runner.run(prefix)
            tally.add(run)
            below += children(run, bound)
        level = below
    spec = None if executor == "inline" else strategies.spec(hook)     # how a worker gets a user's strategy
    tasks = [(settings, spec, built.trace, scenario.cpus, max_steps, bound, prune, root) for root in level]
    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(unit="schedule", desc=f"{scenario.name} {kernel} {hook}", leave=False,
                   initial=tally.schedules + tally.pruned)
    parts = [None] * len(tasks)
    try:
        for i, part in run_tasks(explore_subtree, tasks, executor, workers):
            parts[i] = part
            if bar is not None:
                bar.update(part.schedules + part.pruned)
    finally:
        if bar is not None:
            bar.close()
    for part in parts:                      # in the subtrees' order: the same on every executor
        tally.merge(part)
    seconds = time.perf_counter() - t0
    return Exploration(scenario, built, settings, bound, prune, split, max_steps, tally, seconds,
                       len(tasks))


__all__ = ["explore", "search", "children", "Tally", "label", "DEFAULT_MAX_STEPS"]
