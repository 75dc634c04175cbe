"""Replay: feed a trace to the C scheduler in chunks, collect the time series.

Python validates the whole trace first (in C, chunk by chunk, so a bad event
is reported with its index before anything is applied), then feeds it in
chunks (a memory-mapped trace is never read whole) and never loops per event.
"""
import json
import mmap
import time

import numpy as np

from ._ffi import ffi, lib, raise_strategy_error, struct_dtype, struct_to_dict
from .errors import StateError, TraceError
from .faults import classify, series_columns
from .sizes import PAGE_SIZE
from .trace import OP, as_trace, mkdir_names

SCHEDULERS = {"rr": lib.PMC_SCHED_RR, "random": lib.PMC_SCHED_RANDOM}
CHUNK = 1 << 20
SAMPLE_FIELDS = [name for name, _ in ffi.typeof("struct pmc_sample").fields]
EXPLICIT_MAX_CPUS = 63                       # csrc/replay.h: a choice point's runnable set is one 64-bit mask
CHOICE_DTYPE = struct_dtype("struct pmc_choice")
STEP_DTYPE = struct_dtype("struct pmc_step")


class Schedule:
    """An explicit schedule (docs/explore.md): at each choice point of a replay (a pick where
    two or more actors could run; actors are the CPUs 0..cpus-1, then kswapd as actor
    ``cpus``) the actor in ``choices`` runs, in order; past their end the default runs, which
    never preempts: the actor that ran last if it can go on with its operation, else the
    lowest-numbered one that can run.  ``max_steps`` (0: none) ends a replay that runs longer
    with StateError (a livelock or a lost wake-up).  ``Engine.replay(trace, sched=schedule)``
    replays it; a plain sequence of actor numbers is a schedule with no bound."""

    __slots__ = ("choices", "max_steps")

    def __init__(self, choices=(), max_steps=0):
        if isinstance(choices, (str, bytes)) or not hasattr(choices, "__iter__"):
            raise TypeError(f"a schedule's choices are a sequence of actor numbers, not {type(choices).__name__}")
        out = []
        for i, c in enumerate(choices):
            if isinstance(c, (bool, np.bool_)) or not isinstance(c, (int, np.integer)):
                raise TypeError(f"schedule choice {i} must be an int (an actor number), got {c!r}")
            if not 0 <= c <= EXPLICIT_MAX_CPUS:
                raise ValueError(f"schedule choice {i} is actor {c}, not one of 0..{EXPLICIT_MAX_CPUS}")
            out.append(int(c))
        if isinstance(max_steps, bool) or not isinstance(max_steps, (int, np.integer)) or max_steps < 0:
            raise ValueError(f"max_steps must be a non-negative int (0: no bound), got {max_steps!r}")
        self.choices = tuple(out)
        self.max_steps = int(max_steps)

    def __repr__(self):
        return f"Schedule({list(self.choices)}, max_steps={self.max_steps})"

    def __eq__(self, other):
        return isinstance(other, Schedule) and (self.choices, self.max_steps) == (other.choices, other.max_steps)

    def __hash__(self):
        return hash((self.choices, self.max_steps))

    def to_dict(self):
        return {"choices": list(self.choices), "max_steps": self.max_steps}

    @classmethod
    def from_dict(cls, d):
        return cls(d["choices"], d.get("max_steps", 0))


def as_schedule(sched):
    """A Schedule from a Schedule or a sequence of actor numbers."""
    return sched if isinstance(sched, Schedule) else Schedule(sched)


def set_schedule(eng, schedule, seen=None, log=False):
    """Hand an explicit replay begun on eng its schedule (and the explored states to prune
    against, and whether to log every step)."""
    choices = np.ascontiguousarray(schedule.choices, np.int32)
    _check(eng, lib.pmc_replay_schedule(eng._ptr, ffi.cast("int32_t *", ffi.from_buffer(choices)), len(choices),
                                        schedule.max_steps, ffi.NULL if seen is None else seen, int(log)))


def _records(eng, fn, ctype, dtype, n):
    out = np.zeros(n, dtype)
    if n:
        fn(eng._ptr, ffi.cast(ctype, ffi.from_buffer(out)), n)
    return out


def explicit_records(eng):
    """The explicit replay in progress on eng: (info dict, choice points, logged steps) as
    numpy arrays of CHOICE_DTYPE and STEP_DTYPE."""
    info = ffi.new("struct pmc_explicit_info *")
    _check(eng, lib.pmc_replay_explicit_info(eng._ptr, info))
    return (struct_to_dict(info),
            _records(eng, lib.pmc_replay_choices, "struct pmc_choice *", CHOICE_DTYPE, info.choices),
            _records(eng, lib.pmc_replay_steps, "struct pmc_step *", STEP_DTYPE, info.steps))


class ReplayResult:
    """What a replay did: ``counters``, ``strategy_counters`` (the strategy's own), ``leaks``
    (pages/slots), ``meminfo`` (bytes), ``stats``, ``faults`` (hits, minor and major faults as
    counts and ratios, see pymemcg.faults) and a time series (``series``: one numpy array per
    field, ``cgroups``: usage and memsw usage in bytes per trace cgroup path and sample).  An explicit
    replay (a Schedule) also has ``choices`` and ``steps``: its choice points and every step, as
    numpy arrays of CHOICE_DTYPE and STEP_DTYPE (None for rr and random)."""

    choices = steps = None

    def __init__(self, eng, events, seconds, stats, series, cg_usage, cg_paths, killed_before=()):
        self.events = events
        self.seconds = seconds
        self.events_per_s = events / seconds if seconds > 0 else float("inf")
        self.stats = stats
        self.counters = eng.counters()
        self.strategy_counters = eng.strategy_counters()
        self.leaks = eng.leaks()
        self.meminfo = eng.meminfo()
        self.faults = classify(self.counters)
        self.series = series
        self.cgroup_paths = cg_paths
        self.cgroups = {path: {"usage": cg_usage[:, i, 0], "memsw_usage": cg_usage[:, i, 1]}
                        for i, path in enumerate(cg_paths) if path is not None}
        self.oom = _oom_victims(eng, set(killed_before))

    def __repr__(self):
        lk = self.leaks
        return (f"<ReplayResult {self.events:,} events in {self.seconds:.2f} s: {self.faults['accesses']:,} pages "
                f"touched, miss ratio {self.faults['miss_ratio']:.3f}, stale swap cache {lk['stale_swapcache']}, "
                f"{len(self.oom)} OOM-killed, {len(self.series['events'])} samples>")

    def summary(self):
        """The JSON-ready dict `pymemcg replay --json` prints."""
        return {"events": self.events, "seconds": self.seconds, "events_per_s": self.events_per_s,
                "leaks": self.leaks, "counters": self.counters, "strategy_counters": self.strategy_counters,
                "meminfo": self.meminfo, "stats": self.stats, "faults": self.faults, "oom": self.oom}

    def oom_lines(self):
        """One line per OOM-killed task of the trace, for people."""
        return [f"trace task {v['task']} (pid {v['pid']}, cgroup {v['cgroup']}) was OOM-killed after "
                f"{v['event']:,} of the {self.events:,} events had been dispatched; {v['events_skipped']:,} of its "
                f"events were skipped" for v in self.oom]

    def series_table(self):
        """The time series as one dict of columns (global fields, then per cgroup)."""
        cols = {k: v for k, v in self.series.items()}
        for path, d in self.cgroups.items():
            cols[f"usage[{path}]"] = d["usage"]
            cols[f"memsw_usage[{path}]"] = d["memsw_usage"]
        return cols

    def to_json(self, path=None):
        doc = dict(self.summary(), series={k: _json_column(v) for k, v in self.series_table().items()})
        text = json.dumps(doc, indent=1)
        if path:
            with open(path, "w") as f:
                f.write(text)
        return text

    def to_csv(self, path):
        import csv
        cols = self.series_table()
        names = list(cols)
        with open(path, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(names)
            w.writerows(zip(*(cols[n].tolist() for n in names)))


SWAP_CLUSTER_MAX = lib.PMC_SWAP_CLUSTER_MAX         # pages reclaim isolates at a time


def too_small(eng, trace, cpus):
    """Why eng's RAM cannot run the trace at all, or None.  Each simulated CPU may hold a
    reclaim batch (SWAP_CLUSTER_MAX pages isolated) and a swap readahead window
    (2**page_cluster pages) at once; RAM whose frames above the min watermark cannot hold
    that for every CPU leaves reclaim no room to work, and the OOM killer ends the
    workload.  The message gives the trace's footprint and a RAM size that holds it."""
    from .facts import trace_facts
    frames = eng.meminfo()["MemTotal"] // PAGE_SIZE
    usable = frames - eng.io()["pages_min"]
    need = cpus * (SWAP_CLUSTER_MAX + (1 << eng.page_cluster))
    if usable >= need:
        return None
    from .sizes import human
    f = trace_facts(trace)
    room = -(-max(f["peak_pages"], need) * 5 // 4 * PAGE_SIZE // (1 << 20))
    return (f"RAM of {human(frames * PAGE_SIZE)} is too small to run this trace: {frames:,} page frame(s), "
            f"{max(usable, 0):,} above the min watermark, where {cpus} CPU(s) reclaiming need {need:,} (a "
            f"{SWAP_CLUSTER_MAX}-page reclaim batch and a {1 << eng.page_cluster}-page readahead window each). "
            f"The trace touches {f['footprint_pages']:,} distinct pages ({human(f['footprint_bytes'])}; at most "
            f"{human(f['peak_bytes'])} live at once): try --ram {room}M")


def _oom_victims(eng, killed_before):
    """The tasks of the last replay's trace the OOM killer chose during it (by trace task id)."""
    out = []
    for tid, pid in enumerate(getattr(eng, "_trace_tasks", ()).tolist()):
        if pid <= 0 or pid in killed_before:
            continue
        t = eng._task(pid)
        info = t._info()
        if info.oom_killed:
            out.append({"task": tid, "pid": pid, "cgroup": eng._cg_by_id[info.memcg].path if info.memcg in
                        eng._cg_by_id else None, "event": int(info.oom_event), "events_skipped": int(info.events_skipped)})
    return out


def _killed(eng):
    """Pids of the engine's trace tasks already OOM-killed (before a replay that resumes)."""
    pids = getattr(eng, "_trace_tasks", np.zeros(0, np.int32)).tolist()
    return {p for p in pids if p > 0 and eng._task(p)._info().oom_killed}


def _json_column(v):
    """A series column as a list; NaN (a ratio over no accesses) becomes null."""
    if v.dtype.kind == "f":
        return [None if x != x else x for x in v.tolist()]
    return v.tolist()


class _MappedTrace:
    """A memory-mapped trace gives its pages back to the kernel once a chunk is done with
    (madvise MADV_DONTNEED; the file stays the copy, a page read again comes back from it), so
    a replay holds about a chunk of a trace larger than RAM, not the whole file."""

    def __init__(self, trace):
        self.mm = None
        base = trace
        while base is not None and not isinstance(base, mmap.mmap):
            base = getattr(base, "base", None)
        if base is None or not hasattr(mmap, "MADV_DONTNEED") or not trace.size:
            return
        self.mm = base
        self.offset = trace.ctypes.data - np.frombuffer(base, np.uint8).ctypes.data
        self.itemsize = trace.itemsize

    def release(self, a, b):
        """Drop the pages that hold only events before b (those from a on)."""
        if self.mm is None or b <= a:
            return
        start = (self.offset + a * self.itemsize) // mmap.PAGESIZE * mmap.PAGESIZE
        end = (self.offset + b * self.itemsize) // mmap.PAGESIZE * mmap.PAGESIZE
        if end > start:
            self.mm.madvise(mmap.MADV_DONTNEED, start, end - start)


def _chunks(trace, size):
    """Chunk boundaries that never split a mkdir from its name events."""
    n = len(trace)
    start = 0
    while start < n:
        end = min(start + size, n)
        if end < n:
            # back up over name events so the whole group lands in the next chunk
            while end > start and trace["op"][end] == OP["name"]:
                end -= 1
            if end > start and trace["op"][end - 1] == OP["mkdir"]:
                end -= 1
            if end == start:
                end = min(start + size, n)
                while end < n and trace["op"][end] == OP["name"]:
                    end += 1
        yield start, end
        start = end


def _events_ptr(chunk):
    return ffi.cast("struct pmc_event *", ffi.from_buffer(chunk))


def _check(eng, rc):
    if rc < 0:
        msg = ffi.string(lib.pmc_errmsg(eng._ptr)).decode()
        if rc == lib.PMC_EINVAL and msg.startswith("schedule choice"):
            raise ValueError(msg)                      # a schedule that does not fit the trace
        if rc == lib.PMC_ESTOP:                        # an explicit schedule's step bound or deadlock
            info = ffi.new("struct pmc_explicit_info *")
            lib.pmc_replay_explicit_info(eng._ptr, info)
            err = StateError(msg)
            err.stop = info.stop
            raise err
        if rc == lib.PMC_EINVAL:
            err = TraceError(msg)
            try:
                err.index = int(msg.split(":", 1)[0].split()[-1])
            except (ValueError, IndexError):
                err.index = None
            raise err
        from ._ffi import check
        check(rc, eng._ptr)
    return rc


def replay(eng, trace, cpus=2, sched="rr", seed=None, sample_every=None, progress=None, chunk=CHUNK,
           resume=False):
    """Run a trace on eng; see Engine.replay."""
    trace = as_trace(trace)
    if isinstance(cpus, bool) or not isinstance(cpus, int) or not 1 <= cpus <= 256:
        raise ValueError(f"cpus must be an int in 1..256, got {cpus!r}")
    schedule = None
    if not isinstance(sched, str):
        schedule = as_schedule(sched)
        if cpus > EXPLICIT_MAX_CPUS:
            raise ValueError(f"an explicit schedule runs at most {EXPLICIT_MAX_CPUS} cpus, got {cpus}")
    elif sched not in SCHEDULERS:
        raise ValueError(f"sched must be one of {sorted(SCHEDULERS)} or a Schedule, got {sched!r}")
    seed = eng.seed if seed is None else seed
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**64:
        raise ValueError(f"seed must be an int in [0, 2**64), got {seed!r}")
    n = len(trace)
    if sample_every is None:
        sample_every = max(n // 200, 1)
    if isinstance(sample_every, bool) or not isinstance(sample_every, int) or sample_every < 0:
        raise ValueError("sample_every must be a non-negative int (0: no time series)")
    killed_before = _killed(eng) if resume else set()
    _check(eng, lib.pmc_replay_begin(eng._ptr, cpus, SCHEDULERS[sched] if schedule is None else
                                     lib.PMC_SCHED_EXPLICIT, seed))
    try:
        if schedule is not None:
            set_schedule(eng, schedule, log=True)
        if resume:
            _preload(eng)
        mapped = _MappedTrace(trace)
        for a, b in _chunks(trace, chunk):
            part = np.require(trace[a:b], requirements=['C', 'A'])
            _check(eng, lib.pmc_replay_validate(eng._ptr, _events_ptr(part), b - a, a))
            mapped.release(a, b)
        _alias_existing_paths(eng, trace, resume)
        st = ffi.new("struct pmc_replay_stats *")
        lib.pmc_replay_stats(eng._ptr, st)
        ncg = max(int(st.max_cgroup), 1)
        max_samples = (n // sample_every + 2) if sample_every else 0
        samples = np.zeros(max_samples, dtype=[(f, "<i8") for f in SAMPLE_FIELDS])
        cg_usage = np.zeros((max_samples, ncg, 2), dtype=np.int64)
        written = 0
        bar = _progress(progress, n)
        t0 = time.perf_counter()
        head, step = 0, chunk
        while head < n:
            # each chunk starts at the first event not started yet; the C side stops short
            # of a chunk's end (but for the last), so chunking never changes the replay
            end = min(head + step, n)
            part = np.require(trace[head:end], requirements=['C', 'A'])
            room = max_samples - written
            got = _check(eng, lib.pmc_replay_run(
                eng._ptr, _events_ptr(part), head, end - head, end == n, sample_every,
                ffi.cast("struct pmc_sample *", ffi.from_buffer(samples[written:])) if room else ffi.NULL,
                ffi.cast("int64_t *", ffi.from_buffer(cg_usage[written:])) if room else ffi.NULL, room, ncg))
            written += got
            new_head = lib.pmc_replay_head(eng._ptr)
            mapped.release(head, new_head)
            if bar is not None:
                bar.update(new_head - head)
            step = chunk if new_head > head else 2 * step      # a chunk shorter than the window
            head = new_head
        _check(eng, lib.pmc_replay_finish(eng._ptr))
        seconds = time.perf_counter() - t0
        if bar is not None:
            bar.close()
        lib.pmc_replay_stats(eng._ptr, st)
        stats = struct_to_dict(st)
        paths = _register(eng, trace, int(st.max_task), ncg, resume)
        records = explicit_records(eng) if schedule is not None else None
    finally:
        lib.pmc_replay_end(eng._ptr)
    # a Python strategy's exception: the replay ran to its end with the strategy's no-op answers
    raise_strategy_error(eng._ptr)
    series = {f: samples[f][:written].copy() for f in SAMPLE_FIELDS}
    series["swap_used_bytes"] = series["swap_used"] * PAGE_SIZE
    series.update(series_columns(series))
    res = ReplayResult(eng, stats["events"], seconds, stats, series, cg_usage[:written].copy(), paths, killed_before)
    if records is not None:
        res.choices, res.steps = records[1], records[2]
    return res


def _preload(eng):
    """Hand the previous replay's trace ids back to the C side (replay(resume=True))."""
    pids = np.ascontiguousarray(getattr(eng, "_trace_tasks", np.zeros(0, np.int32)), np.int32)
    cgs = np.ascontiguousarray(getattr(eng, "_trace_cgroups", np.zeros(1, np.int32)), np.int32)
    states = getattr(eng, "_trace_states", None)       # None: an engine saved without them
    tst, cst = (ffi.NULL, ffi.NULL) if states is None else \
        (ffi.from_buffer("uint8_t[]", np.ascontiguousarray(states[0], np.uint8)),
         ffi.from_buffer("uint8_t[]", np.ascontiguousarray(states[1], np.uint8)))
    if states is not None and (len(states[0]) != len(pids) or len(states[1]) != len(cgs)):
        raise ValueError("the engine's trace maps are inconsistent")
    _check(eng, lib.pmc_replay_preload(eng._ptr, ffi.cast("int32_t *", ffi.from_buffer(pids)), tst, len(pids),
                                       ffi.cast("int32_t *", ffi.from_buffer(cgs)), cst, len(cgs)))


def _progress(progress, total):
    if progress is None:
        progress = total >= 1_000_000
    if not progress:
        return None
    from tqdm import tqdm
    return tqdm(total=total, unit="ev", unit_scale=True, desc="replay", leave=False)


def _cgroup_events(eng, trace):
    """The indices of the trace's mkdir and rmdir events (the C validation noted them: no scan
    over a trace of millions of events), as (mkdirs, rmdirs)."""
    n = lib.pmc_replay_marks(eng._ptr, ffi.NULL, 0)
    marks = np.zeros(n, np.int64)
    if n:
        lib.pmc_replay_marks(eng._ptr, ffi.cast("int64_t *", ffi.from_buffer(marks)), n)
    ops = trace["op"][marks]
    return marks[ops == OP["mkdir"]], marks[ops == OP["rmdir"]]


def _trace_paths(eng, trace, ncg, resume):
    """Each trace cgroup id's path: the earlier segment's (resume), then this trace's mkdirs;
    also {event index: path} of the mkdirs."""
    paths = [None] * ncg
    old = getattr(eng, "_trace_cgroup_paths", []) if resume else []
    paths[:len(old)] = old[:ncg]
    paths[0] = "/"
    made = {}
    mkdirs = _cgroup_events(eng, trace)[0]
    names = mkdir_names(trace, mkdirs)
    for i in mkdirs:
        cg, parent = int(trace["task"][i]), int(trace["vpn"][i])
        if cg >= ncg or paths[parent] is None:
            continue
        base = "" if paths[parent] == "/" else paths[parent].lstrip("/")
        paths[cg] = "/" + f"{base}/{names[int(i)]}".strip("/")
        made[int(i)] = paths[cg]
    return paths, made


def _alias_existing_paths(eng, trace, resume):
    """A trace's mkdir of a path the engine already has is refused (EEXIST), and the trace's
    later use of that cgroup id acts on the existing cgroup, as a script's would."""
    st = ffi.new("struct pmc_replay_stats *")
    lib.pmc_replay_stats(eng._ptr, st)
    _, made = _trace_paths(eng, trace, max(int(st.max_cgroup), 1), resume)
    for i, path in made.items():
        existing = eng._cgroups.get(path.strip("/"))
        if existing is not None:
            _check(eng, lib.pmc_replay_alias(eng._ptr, int(trace["task"][i]), existing._id))


def _register(eng, trace, ntask, ncg, resume):
    """Give the trace's cgroups their paths in the engine and return the paths by trace id."""
    task_pid, task_state = np.zeros(max(ntask, 1), np.int32), np.zeros(max(ntask, 1), np.uint8)
    cg_id, cg_state = np.zeros(ncg, np.int32), np.zeros(ncg, np.uint8)
    lib.pmc_replay_maps(eng._ptr, ffi.cast("int32_t *", ffi.from_buffer(task_pid)),
                        ffi.cast("uint8_t *", ffi.from_buffer(task_state)), ntask,
                        ffi.cast("int32_t *", ffi.from_buffer(cg_id)), ffi.cast("uint8_t *", ffi.from_buffer(cg_state)),
                        ncg)
    eng._trace_tasks = task_pid[:ntask]
    eng._trace_cgroups = cg_id
    eng._trace_states = (task_state[:ntask], cg_state)
    paths, made = _trace_paths(eng, trace, ncg, resume)
    eng._trace_cgroup_paths = paths
    from .cgroup import Cgroup
    for i, path in made.items():
        key = path.strip("/")
        memcg = int(cg_id[int(trace["task"][i])])
        if memcg and key not in eng._cgroups:
            c = Cgroup(eng, memcg, key)
            eng._cgroups[key] = c
            eng._cg_by_id[memcg] = c
    for i in _cgroup_events(eng, trace)[1]:
        cg = int(trace["task"][int(i)])
        if paths[cg] is not None:
            c = eng._cgroups.get(paths[cg].strip("/"))
            if c is not None and c._info_raw().removed:
                eng._forget_cgroup(c)
    return paths
