"""Trace facts: what one needs to size a machine for a trace, read from the trace alone
(`pymemcg stat TRACE.npy`, `pymemcg import`).

A task's footprint is the number of distinct pages its fault and mlock events touch (a
forked child's own touches only: the pages it shares with its parent are the parent's).
The trace's footprint is the sum over its tasks.  The peak is the largest sum of the
footprints of the tasks alive at once, each counted whole from its spawn (or fork) to its
exit: an upper bound of the memory the trace holds at any moment.
"""
import numpy as np

from .sizes import PAGE_SIZE, human
from .trace import FLAG_WRITE, OP, as_trace, mkdir_names

_TOUCH_OPS = (OP["fault"], OP["mlock"])


def count_events(trace):
    """Events as replay counts them: a mkdir's name events are part of the mkdir."""
    return int(len(trace) - np.count_nonzero(trace["op"] == OP["name"]))


def distinct_pages(task, start, count):
    """{task id: distinct pages} of page ranges [start, start + count) per task (numpy arrays)."""
    if not len(task):
        return {}
    ids, rank = np.unique(np.asarray(task, np.int64), return_inverse=True)
    start = np.asarray(start, np.int64)
    end = start + np.asarray(count, np.int64)
    order = np.lexsort((start, rank))
    rank, start, end = rank[order], start[order], end[order]
    # ranges of one task side by side, tasks far apart: then one running maximum of the ends
    shift = np.int64(1) << np.int64(37)
    if len(ids) >= 1 << 25:
        raise ValueError("too many tasks to count their pages")
    s, e = start + rank * shift, end + rank * shift
    reach = np.maximum.accumulate(e)
    before = np.r_[np.int64(np.iinfo(np.int64).min), reach[:-1]]
    new = np.maximum(e - np.maximum(s, before), 0)
    pages = np.bincount(rank, weights=new, minlength=len(ids)).astype(np.int64)
    return dict(zip(ids.tolist(), pages.tolist()))


def cgroup_paths(trace):
    """{trace cgroup id: path} of the root and every mkdir of the trace."""
    paths = {0: "/"}
    names = mkdir_names(trace)
    for i, name in names.items():
        parent = paths.get(int(trace["vpn"][i]), "/")
        paths[int(trace["task"][i])] = parent.rstrip("/") + "/" + name
    return paths


def trace_facts(trace):
    """A dict: events, tasks, cgroups, fault_events, touches, reads, writes (pages),
    footprint_pages/_bytes, peak_pages/_bytes, per_task {id: pages}, per_cgroup {path: pages}
    (of the tasks that started there, forked children with their parent)."""
    trace = as_trace(trace)
    op = trace["op"]
    touch = np.isin(op, _TOUCH_OPS)
    count = trace["count"][touch]
    write = (trace["flags"][touch] & FLAG_WRITE).astype(bool) | (op[touch] == OP["mlock"])
    per_task = distinct_pages(trace["task"][touch], trace["vpn"][touch], count)
    spawn = np.flatnonzero(op == OP["spawn"])
    fork = np.flatnonzero(op == OP["fork"])
    born = np.r_[trace["task"][spawn], trace["vpn"][fork]].astype(np.int64)
    born_at = np.r_[spawn, fork]
    for t in born.tolist():
        per_task.setdefault(t, 0)
    # peak: + footprint at birth, - at exit, in trace order
    exits = np.flatnonzero(op == OP["exit"])
    at = np.r_[born_at, exits]
    fp = np.array([per_task.get(int(t), 0) for t in born.tolist()]
                  + [-per_task.get(int(t), 0) for t in trace["task"][exits].tolist()], np.int64)
    order = np.argsort(at, kind="stable")
    peak = int(max(np.cumsum(fp[order]).max(initial=0), 0))
    paths = cgroup_paths(trace)
    home = {}                                   # task -> the cgroup it started in (a child: its parent's)
    for i in np.sort(born_at).tolist():
        if op[i] == OP["spawn"]:
            home[int(trace["task"][i])] = int(trace["vpn"][i])
        else:
            home[int(trace["vpn"][i])] = home.get(int(trace["task"][i]), 0)
    per_cgroup = {}
    for t, cg in home.items():
        path = paths.get(cg, f"#{cg}")
        per_cgroup[path] = per_cgroup.get(path, 0) + per_task.get(t, 0)
    footprint = int(sum(per_task.values()))
    return {"events": count_events(trace), "tasks": len(per_task), "cgroups": len(paths) - 1,
            "fault_events": int(touch.sum()), "touches": int(count.sum()), "reads": int(count[~write].sum()),
            "writes": int(count[write].sum()), "footprint_pages": footprint, "footprint_bytes": footprint * PAGE_SIZE,
            "peak_pages": peak, "peak_bytes": peak * PAGE_SIZE, "per_task": per_task, "per_cgroup": per_cgroup}


def describe(f, name="trace", top=10):
    """The facts as lines for people, every figure with its unit."""
    lines = [f"{name}: {f['events']:,} events (as replay counts them), {f['tasks']:,} task(s), "
             f"{f['cgroups']:,} cgroup(s) besides the root",
             f"page touches: {f['touches']:,} ({f['reads']:,} read, {f['writes']:,} written) "
             f"in {f['fault_events']:,} fault/mlock events",
             f"footprint: {f['footprint_pages']:,} distinct pages = {human(f['footprint_bytes'])} "
             f"({PAGE_SIZE} B pages); live at once at most {human(f['peak_bytes'])}"]
    tasks = sorted(f["per_task"].items(), key=lambda kv: (-kv[1], kv[0]))
    if tasks:
        shown = ", ".join(f"{t}: {human(p * PAGE_SIZE)}" for t, p in tasks[:top])
        more = f", ... {len(tasks) - top:,} more" if len(tasks) > top else ""
        lines.append(f"footprint per task (trace task id: size): {shown}{more}")
    if f["cgroups"]:
        lines.append("footprint per cgroup (of the tasks started there): " +
                     ", ".join(f"{p} {human(n * PAGE_SIZE)}" for p, n in f["per_cgroup"].items()))
    return lines
