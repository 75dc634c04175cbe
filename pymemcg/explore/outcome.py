"""What a schedule ends in: the bad outcomes the exploration looks for (docs/explore.md).

An outcome is a tuple of (what, value) pairs, empty when nothing went wrong:
  - each leak figure of ``eng.leaks()`` that is not zero, by type (stale swap cache Type-1
    and Type-2, leaked swap entries, leaked memsw charges; orphan charged swap cache is
    not a leak, docs/semantics.md, so it does not count);
  - ``check``: the invariant ``eng.check()`` found broken;
  - ``oom_kills``: tasks the OOM killer ended;
  - ``unfinished``: an operation that never ended, ``step-bound`` (a livelock) or
    ``deadlock`` (every operation waits and no I/O is in flight: a lost wake-up).
"""
from .._ffi import lib
from ..errors import InvariantError

LEAKS = ("stale_swapcache_type1", "stale_swapcache_type2", "leaked_swap_entries", "leaked_memsw")
UNFINISHED = {lib.PMC_STOP_BOUND: "step-bound", lib.PMC_STOP_DEADLOCK: "deadlock"}


def classify(eng, stop=0):
    """The outcome of a replay that ended with `stop` (enum pmc_stop) on eng."""
    if stop in UNFINISHED:
        return (("unfinished", UNFINISHED[stop]),)
    leaks = eng.leaks()
    out = [(k, leaks[k]) for k in LEAKS if leaks[k]]
    try:
        eng.check()
    except InvariantError as e:
        out.append(("check", e.invariant))
    c = eng.counters()
    if c["oom_kills"] + c["global_oom_kills"]:
        out.append(("oom_kills", c["oom_kills"] + c["global_oom_kills"]))
    return tuple(out)


def label(outcome):
    """One line for people: "stale_swapcache_type2=1 leaked_swap_entries=1", or "clean"."""
    return " ".join(f"{k}={v}" for k, v in outcome) or "clean"


def from_label(text):
    """The outcome a label names (the inverse of label, for JSON)."""
    if text == "clean":
        return ()
    out = []
    for part in text.split():
        k, _, v = part.partition("=")
        out.append((k, int(v) if v.isdigit() else v))
    return tuple(out)
