"""Multi-tenant workloads from recorded traces (`pymemcg mix`, ``workloads.mix``).

A mix runs several sources side by side.  A source is an access stream: the faults of a
one-task trace (an imported .npy, or a foreign file read through the importers), or a
synthetic stream.  Each source gets a cgroup of its own with its own limits (absolute, or
a fraction of the source's footprint) and runs as one or more tasks, each on a CPU, each
replaying the whole stream.  A task that reaches the end of its stream exits and, while
the source has restarts left, a new task starts it again from the beginning; a task killed
at the source's kill rate exits and a new one takes the stream over where it stopped, with
its memory cold.  Exits thus race with reclaim as they do in production.

Interleaving: "rr" gives every task slot a turn of `burst` events in each round (in slot
order, or a seeded order per round with shuffle=True); "time" merges the slots by time
stamp: a source's accesses carry the time stamps of its file where the format records them
(oracleGeneral, csv), else their position, and each pass of a source is stretched over the
same unit of time, so the sources progress side by side with their own bursts.

The churn generator (workloads.churn) is a mix of one synthetic source.
"""
import os
import re

import numpy as np

from .errors import TraceError
from .sizes import PAGE_SIZE, parse_size
from .trace import FLAG_WRITE, OP, Builder, as_trace, empty

INTERLEAVES = ("rr", "time")
_HEADER_OPS = (OP["mkdir"], OP["name"], OP["write"], OP["spawn"], OP["exit"])


class Stream:
    """The fault events of one task: vpn, count (pages), write (bool) and time (float
    time stamps, or None: the position is the time)."""

    __slots__ = ("vpn", "count", "write", "time")

    def __init__(self, vpn, count=None, write=None, time=None):
        for what, a in (("vpn", vpn), ("count", count)):
            if a is not None and np.asarray(a).size and np.asarray(a).dtype.kind not in "iu":
                raise TypeError(f"a stream's {what} holds integers, not {np.asarray(a).dtype}")
        self.vpn = np.asarray(vpn, np.int64)
        n = len(self.vpn)
        self.count = np.ones(n, np.int64) if count is None else np.asarray(count, np.int64)
        self.write = np.zeros(n, bool) if write is None else np.asarray(write, bool)
        self.time = None if time is None else np.asarray(time, np.float64)
        if self.vpn.ndim != 1 or any(len(a) != n for a in (self.count, self.write)) or (
                self.time is not None and len(self.time) != n):
            raise ValueError("a stream's vpn, count, write and time are 1-D and of one length")
        if n == 0:
            raise ValueError("a stream needs at least one fault")
        if (self.count < 1).any() or (self.vpn < 0).any() or (self.vpn + self.count > 1 << 36).any():
            raise ValueError("a stream's pages must lie in [0, 2**36) and its counts be at least 1")

    def __len__(self):
        return len(self.vpn)

    def __repr__(self):
        return f"<Stream {len(self)} faults, {int(self.count.sum()):,} pages touched>"

    @property
    def footprint(self):
        """Distinct pages touched."""
        from .facts import distinct_pages
        return distinct_pages(np.zeros(len(self), np.int64), self.vpn, self.count)[0]


def stream_of(trace, time=None):
    """The Stream of a one-task trace: its fault events, in order."""
    trace = as_trace(trace)
    op = trace["op"]
    faults = op == OP["fault"]
    other = ~np.isin(op, (OP["fault"],) + _HEADER_OPS)
    if other.any():
        i = int(np.flatnonzero(other)[0])
        raise TraceError(f"a mix source is a one-task trace of faults; event {i} is a {_op_name(op[i])}")
    tasks = np.unique(trace["task"][faults])
    if len(tasks) > 1:
        raise TraceError(f"a mix source is a one-task trace; this one has {len(tasks)} tasks")
    f = trace[faults]
    return Stream(f["vpn"], f["count"], (f["flags"] & FLAG_WRITE) != 0, time)


def _op_name(op):
    from .trace import OPS
    return OPS[op - 1] if 1 <= op <= len(OPS) else f"op {op}"


def sequential_writes(pages, chunk=32, touches=1):
    """A synthetic stream: pages 0..pages-1 written in order, `chunk` pages per fault,
    `touches` times over."""
    if pages < 1 or chunk < 1 or touches < 1:
        raise ValueError("pages, chunk and touches must be at least 1")
    starts = np.arange(0, pages, chunk)
    counts = np.minimum(chunk, pages - starts)
    return Stream(np.tile(starts, touches), np.tile(counts, touches), np.ones(len(starts) * touches, bool))


def resolve_limit(value, footprint_pages, what):
    """A limit in bytes: None, a size, or a fraction of the footprint (a float, or "50%")."""
    if value is None:
        return None
    if isinstance(value, float) or (isinstance(value, str) and value.strip().endswith("%")):
        try:
            frac = float(value.strip()[:-1]) / 100 if isinstance(value, str) else value
        except ValueError:
            raise ValueError(f"{what}: {value!r} is not a share of the footprint like 25%") from None
        if not 0 < frac < float("inf"):
            raise ValueError(f"{what}: a fraction of the footprint must be positive, got {value!r}")
        return max(int(np.ceil(frac * footprint_pages)), 1) * PAGE_SIZE
    try:
        return parse_size(value, what)
    except ValueError as e:
        raise ValueError(f"{e}; or a share of the footprint like 25%") from None


class Source:
    """One tenant of a mix.

    trace: a trace file (a pymemcg .npy/.csv of one task, or a foreign file imported on
    the fly: `format`, or detected), a one-task trace array, a Stream, or a list of
    Streams (one per task slot, for synthetic sources).  name: its cgroup (default: the
    file's name).  limit, memsw_limit: bytes, a size ("64M"), or a fraction of the
    source's footprint (0.5 or "50%").  tasks: task slots running the source at once.
    cpus: the CPUs of the slots (slot i on cpus[i % len(cpus)]; default: spread over the
    mix's CPUs).  restarts: how often each slot's task is replaced by a new one when it
    reaches the end (None: forever, until the mix's `kills`).  kill_every: a slot's task
    is killed after this many faults on average (seeded), and a new task takes the
    stream over.  limit_events: read only that many accesses of a file."""

    def __init__(self, trace, *, name=None, format=None, limit=None, memsw_limit=None, tasks=1, cpus=None,
                 restarts=0, kill_every=None, limit_events=None):
        self.trace, self.format, self.limit_events = trace, format, limit_events
        self.name = name
        self.limit, self.memsw_limit = limit, memsw_limit
        if isinstance(tasks, bool) or not isinstance(tasks, int) or tasks < 1:
            raise ValueError(f"tasks must be an int >= 1, got {tasks!r}")
        if restarts is not None and (isinstance(restarts, bool) or not isinstance(restarts, int) or restarts < 0):
            raise ValueError(f"restarts must be None or an int >= 0, got {restarts!r}")
        if kill_every is not None and (isinstance(kill_every, bool) or not isinstance(kill_every, (int, float))
                                       or not kill_every >= 1):
            raise ValueError(f"kill_every must be None or a number >= 1 (faults), got {kill_every!r}")
        if cpus is not None:
            cpus = [cpus] if isinstance(cpus, int) else list(cpus)
            if not cpus or any(isinstance(c, bool) or not isinstance(c, int) or not 0 <= c <= 255 for c in cpus):
                raise ValueError(f"cpus must be CPU numbers in 0..255, got {cpus!r}")
        self.tasks, self.cpus, self.restarts, self.kill_every = tasks, cpus, restarts, kill_every
        self.streams = None

    def __repr__(self):
        what = self.name or (os.fspath(self.trace) if isinstance(self.trace, (str, os.PathLike))
                             else type(self.trace).__name__)
        return f"<Source {what} tasks={self.tasks} limit={self.limit} restarts={self.restarts}>"

    def load(self):
        """Read the source: self.streams (one per slot) and self.footprint (pages)."""
        if self.streams is not None:
            return self
        t = self.trace
        if isinstance(t, Stream):
            streams = [t] * self.tasks
        elif isinstance(t, (list, tuple)) and t and all(isinstance(s, Stream) for s in t):
            if len(t) != self.tasks:
                raise ValueError(f"{len(t)} streams for {self.tasks} task slots")
            streams = list(t)
        elif isinstance(t, (str, os.PathLike)):
            from .importers import load_any, timestamps
            tr, fmt = load_any(t, self.format, limit_events=self.limit_events)
            times = timestamps(t, fmt, limit_events=self.limit_events) if fmt else None
            if times is not None and len(times) != int((tr["op"] == OP["fault"]).sum()):
                times = None                        # an importer that split accesses: positions then
            streams = [stream_of(tr, times)] * self.tasks
            self.format = fmt
        else:
            streams = [stream_of(t)] * self.tasks
        self.streams = streams
        self.footprint = max(s.footprint for s in streams)
        return self


def _cgroup_name(src, i, taken):
    """The source's name, or one made from its file name (unique in the mix)."""
    name = src.name
    if not name and isinstance(src.trace, (str, os.PathLike)):
        name = re.sub(r"[^A-Za-z0-9_-]+", "_", os.path.basename(os.fspath(src.trace)).split(".")[0]).strip("_")
    name = name or f"src{i}"
    base, k = name, 1
    while name in taken:
        k += 1
        name = f"{base}{k}"
    taken.add(name)
    return name


class _Slot:
    """One task slot: its stream, where it is, and when its task dies next."""

    def __init__(self, path, cpu, stream, passes, kill_every, rng):
        self.path, self.cpu, self.stream, self.passes = path, cpu, stream, passes
        self.kill_every, self.rng = kill_every, rng
        self.pos = 0            # in the stream
        self.done = 0           # faults emitted over all passes
        self.pass_no = 0
        self.task = None
        self.life_over = False
        self.finished = False
        self.next_kill = self._draw()

    def _draw(self):
        if self.kill_every is None:
            return None
        return self.done + int(self.rng.geometric(1.0 / self.kill_every))

    def advance(self, n):
        """Move on n faults; note the end of the task's life (end of the stream or a kill)."""
        self.pos += n
        self.done += n
        if self.pos == len(self.stream):
            self.pos = 0
            self.pass_no += 1
            self.life_over = True
            if self.passes is not None and self.pass_no >= self.passes:
                self.finished = True
        if self.next_kill is not None and self.done >= self.next_kill:
            self.life_over = True
            self.next_kill = self._draw()

    def room(self, burst):
        """Faults the next turn may take: a turn ends at the end of the stream and at a kill."""
        n = min(burst, len(self.stream) - self.pos)
        if self.next_kill is not None:
            n = min(n, self.next_kill - self.done)
        return n


def _faults(stream, a, b, task, cpu):
    ev = empty(b - a)
    ev["op"] = OP["fault"]
    ev["cpu"] = cpu
    ev["task"] = task
    ev["vpn"] = stream.vpn[a:b]
    ev["count"] = stream.count[a:b]
    ev["flags"] = np.where(stream.write[a:b], FLAG_WRITE, 0)
    return ev


def _make_slots(sources, cpus, prefix, b, seed):
    slots, taken = [], set()
    for i, src in enumerate(sources):
        src.load()
        path = prefix + _cgroup_name(src, i, taken)
        src.cgroup = "/" + path
        b.mkdir(path, limit=resolve_limit(src.limit, src.footprint, "limit"),
                memsw_limit=resolve_limit(src.memsw_limit, src.footprint, "memsw_limit"))
        for k in range(src.tasks):
            cpu = src.cpus[k % len(src.cpus)] if src.cpus else len(slots) % cpus
            rng = np.random.default_rng([seed, i, k])
            passes = None if src.restarts is None else src.restarts + 1
            slots.append(_Slot(path, cpu, src.streams[k], passes, src.kill_every, rng))
    return slots


def _round_robin(slots, b, burst, kills, shuffle, rng):
    nkills = 0
    for s in slots:
        s.task = b.spawn(s.path, cpu=s.cpu)
    while any(not s.finished or s.task is not None for s in slots):
        if kills is not None and nkills >= kills:
            break
        for k in (rng.permutation(len(slots)) if shuffle else range(len(slots))):
            s = slots[k]
            if s.task is None:
                continue
            if s.life_over:
                b.exit(s.task)
                s.task = None
                s.life_over = False
                if s.finished:
                    continue
                nkills += 1
                s.task = b.spawn(s.path, cpu=s.cpu)
            n = s.room(burst)
            b.extend(_faults(s.stream, s.pos, s.pos + n, s.task, s.cpu))
            s.advance(n)
    for s in slots:
        if s.task is not None:
            b.exit(s.task)


def _lives(slot):
    """The life (task) number of each of a slot's faults over all its passes."""
    n, total = len(slot.stream), len(slot.stream) * slot.passes
    ends = set(range(n, total, n))
    k = slot.next_kill
    while k is not None and k < total:
        ends.add(k)
        slot.done = k
        k = slot._draw()
    return np.searchsorted(np.array(sorted(ends), np.int64), np.arange(total), side="right")


def _slot_sequence(slot):
    """A slot's events in its own order, each life a spawn, its faults and an exit:
    (kind, fault position, life, time).  Each pass of the stream spans one unit of time,
    spread as its time stamps are (or evenly); a spawn and an exit take the time of the
    fault after them, and the first spawn comes before everything."""
    n = len(slot.stream)
    life = _lives(slot)
    pos = np.arange(len(life))
    t = slot.stream.time
    if t is None or n < 2 or not t[-1] > t[0]:
        unit = np.arange(n) / n
    else:
        unit = np.maximum.accumulate((t - t[0]) / (t[-1] - t[0])) * (n - 1) / n
    when = unit[pos % n] + pos // n
    nlife = int(life[-1]) + 1
    first = np.searchsorted(life, np.arange(nlife))
    kind = np.r_[np.zeros(nlife), np.ones(len(pos)), np.full(nlife, 2)]
    lives = np.r_[np.arange(nlife), life, np.arange(nlife)]
    posn = np.r_[first, pos, np.r_[first[1:], len(pos)] - 1]
    time = np.r_[-np.inf, when[first[1:]], when, when[first[1:]], when[-1]]
    order = np.lexsort((posn, kind, lives))
    return kind[order], posn[order], lives[order], time[order]


def _by_time(slots, b):
    """All slots merged by time stamp; within a tie, the slots take turns event by event."""
    if any(s.passes is None for s in slots):
        raise ValueError('interleave="time" needs a finite number of restarts for every source')
    parts, life_base = [], 0
    for si, s in enumerate(slots):
        kind, pos, life, time = _slot_sequence(s)
        i = np.arange(len(kind))
        run_start = np.maximum.accumulate(np.where(np.r_[True, time[1:] != time[:-1]], i, 0))
        parts.append((time, i - run_start, np.full(len(kind), si), kind, pos, life + life_base))
        life_base += int(life[-1]) + 1
    time, k, slot, kind, pos, life = (np.concatenate(c) for c in zip(*parts))
    order = np.lexsort((slot, k, time))
    slot, kind, pos, life = slot[order], kind[order], pos[order], life[order]
    spawn = kind == 0
    task_of_life = np.zeros(life_base, np.int64)
    task_of_life[life[spawn]] = np.arange(int(spawn.sum()))
    ev = empty(len(kind))
    ev["op"] = np.choose(kind.astype(np.int64), (OP["spawn"], OP["fault"], OP["exit"]))
    ev["task"] = task_of_life[life]
    ev["cpu"] = np.array([s.cpu for s in slots], np.int64)[slot]
    ev["vpn"][spawn] = np.array([b._cg(s.path) for s in slots], np.int64)[slot[spawn]]
    for si, s in enumerate(slots):
        sel = np.flatnonzero((kind == 1) & (slot == si))
        p = pos[sel] % len(s.stream)
        ev["vpn"][sel] = s.stream.vpn[p]
        ev["count"][sel] = s.stream.count[p]
        ev["flags"][sel] = np.where(s.stream.write[p], FLAG_WRITE, 0)
    b.extend(ev)


def mix(sources, *, cpus=2, interleave="rr", burst=64, seed=0, limit=None, memsw_limit=None, tasks=1,
        restarts=0, kill_every=None, format=None, limit_events=None, kills=None, shuffle=False, prefix="",
        builder=None, rng=None):
    """A trace running `sources` side by side (see the module doc).  Each entry is a
    Source, or what Source takes as its trace (a path, a trace array, a Stream), which
    then gets limit, memsw_limit, tasks, restarts, kill_every, format and limit_events
    from the keyword arguments.  cpus: CPUs to spread the task slots over.  kills: stop
    after that many task replacements (restarts and kills) instead of when every source
    ran out of restarts; the rounds go on until then.  shuffle: a seeded slot order per
    round (rr).  builder: append to this Builder (rr) and return it."""
    if interleave not in INTERLEAVES:
        raise ValueError(f"interleave must be one of {INTERLEAVES}, got {interleave!r}")
    if isinstance(burst, bool) or not isinstance(burst, int) or burst < 1:
        raise ValueError(f"burst must be an int >= 1, got {burst!r}")
    if isinstance(cpus, bool) or not isinstance(cpus, int) or not 1 <= cpus <= 256:
        raise ValueError(f"cpus must be an int in 1..256, got {cpus!r}")
    if isinstance(sources, (Source, str, os.PathLike, Stream, np.ndarray)):
        sources = [sources]
    sources = [s if isinstance(s, Source) else
               Source(s, limit=limit, memsw_limit=memsw_limit, tasks=tasks, restarts=restarts,
                      kill_every=kill_every, format=format, limit_events=limit_events) for s in sources]
    if not sources:
        raise ValueError("a mix needs at least one source")
    if kills is None and any(s.restarts is None for s in sources):
        raise ValueError("a source restarted forever (restarts=None) needs the mix's kills= to end")
    b = builder or Builder()
    slots = _make_slots(sources, cpus, prefix, b, seed)
    if interleave == "rr":
        _round_robin(slots, b, burst, kills, shuffle, rng if rng is not None else np.random.default_rng(seed))
    else:
        if builder is not None:
            raise ValueError('interleave="time" builds a trace of its own (no builder=)')
        _by_time(slots, b)
    return b if builder else b.build()


def place(trace, cgroup, limit=None, memsw_limit=None):
    """A trace whose tasks all live in the root cgroup, moved into `cgroup` (made by the
    trace, parents included) with limits on it: bytes, a size, or a fraction of the
    trace's footprint (0.5, "50%")."""
    from .facts import trace_facts
    trace = as_trace(trace)
    op = trace["op"]
    if (op == OP["mkdir"]).any():
        raise TraceError("this trace makes cgroups of its own; place() moves the tasks of a trace that has none")
    key = cgroup.strip("/") if isinstance(cgroup, str) else cgroup
    if not isinstance(key, str) or not key:
        raise ValueError(f"cgroup must be a path other than the root, got {cgroup!r}")
    pages = trace_facts(trace)["footprint_pages"]
    b = Builder()
    parts = key.split("/")
    for i in range(len(parts) - 1):
        b.mkdir("/".join(parts[:i + 1]))
    leaf = b.mkdir(key, limit=resolve_limit(limit, pages, "limit"),
                   memsw_limit=resolve_limit(memsw_limit, pages, "memsw_limit"))
    out = np.array(trace, copy=True)
    moved = np.isin(op, (OP["spawn"], OP["move"])) & (out["vpn"] == 0)
    out["vpn"][moved] = leaf
    return np.concatenate([b.build(), out])


def machine(sources):
    """RAM and swap (bytes) for a mix: every task slot's footprint at once, and a quarter
    more, plus 64 MiB, so that the cgroups' limits, not the machine, drive reclaim."""
    pages = sum(src.load().footprint * src.tasks for src in sources)
    size = (pages * 5 // 4 * PAGE_SIZE + (64 << 20) + (1 << 20) - 1) >> 20 << 20
    return size, size


def describe(sources):
    """One line per source of a mix (after mix() ran): cgroup, limits, tasks, restarts."""
    from .sizes import human
    lines = []
    for src in sources:
        lim = resolve_limit(src.limit, src.footprint, "limit")
        msw = resolve_limit(src.memsw_limit, src.footprint, "memsw_limit")
        what = src.format or ("a trace" if isinstance(src.trace, (str, os.PathLike, np.ndarray)) else "synthetic")
        kills = f", a kill every {src.kill_every:,.0f} faults" if src.kill_every else ""
        restarts = "for ever" if src.restarts is None else f"{src.restarts}"
        lines.append(f"{src.cgroup}: {what}, {len(src.streams[0]):,} faults, footprint {human(src.footprint * PAGE_SIZE)}, "
                     f"limit {human(lim) if lim else 'none'}, memsw limit {human(msw) if msw else 'none'}, "
                     f"{src.tasks} task(s), restarted {restarts}{kills}")
    return lines
