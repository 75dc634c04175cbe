"""Traces: the event format replay runs, its .npy and CSV forms, and Builder.

An event is 24 bytes (TRACE_DTYPE): op, cpu, flags, task, vpn, count.  Tasks and
cgroups are numbered by the trace itself (cgroup 0 is the root); the engine maps
them to its own pids and memcg ids during replay.

=========  ===========================================================================
op         fields
=========  ===========================================================================
spawn      task = new task id, vpn = cgroup id
fault      task, vpn = first page, count = pages, flags bit 0 = write
munmap     task, vpn, count; flags bit 0 = zap only: the pages' references stay parked in
           the task's mmu_gather until its next flush (a munmap without the bit, or its exit)
fork       task = parent, vpn = new child task id
exit       task
mlock      task, vpn, count
move       task, vpn = cgroup id
mkdir      task = new cgroup id, vpn = parent cgroup id, count = bytes of the name;
           followed by ceil(count / 16) "name" events carrying the UTF-8 name
name       (continuation of mkdir) vpn and count hold 16 bytes of the name
write      task = cgroup id, flags = control file (WRITE_FILES), count = value
reclaim    task = cgroup id, count = pages; flags bit 0 = global reclaim
rmdir      task = cgroup id
=========  ===========================================================================
"""
import csv
import io
import os

import numpy as np

from ._ffi import lib
from .errors import TraceError

TRACE_DTYPE = np.dtype([("op", "u1"), ("cpu", "u1"), ("flags", "<u2"), ("task", "<u4"),
                        ("vpn", "<i8"), ("count", "<i8")])
assert TRACE_DTYPE.itemsize == 24

OPS = ("spawn", "fault", "munmap", "fork", "exit", "mlock", "move", "mkdir", "name", "write",
       "reclaim", "rmdir")
OP = {name: i + 1 for i, name in enumerate(OPS)}
WRITE_FILES = ("memory.limit_in_bytes", "memory.memsw.limit_in_bytes", "memory.swappiness",
               "memory.use_hierarchy", "memory.force_empty", "memory.failcnt", "memory.max_usage_in_bytes")
WRITE_FILE = {name: i + 1 for i, name in enumerate(WRITE_FILES)}
FLAG_WRITE = 1
FLAG_GLOBAL = 1
FLAG_NOFLUSH = 1
VPN_LIMIT = 1 << lib.PMC_TASK_VPN_BITS
NAME_CHUNK = 16
CSV_FIELDS = ("op", "cpu", "task", "vpn", "count", "flags", "name")


def empty(n=0):
    return np.zeros(n, TRACE_DTYPE)


def _name_events(name):
    raw = name.encode()
    padded = raw + b"\0" * (-len(raw) % NAME_CHUNK)
    words = np.frombuffer(padded, dtype="<i8").reshape(-1, 2)
    ev = empty(len(words))
    ev["op"] = OP["name"]
    ev["vpn"] = words[:, 0]
    ev["count"] = words[:, 1]
    return ev


def mkdir_names(trace, mkdirs=None):
    """{event index of each mkdir: the cgroup's name}; `mkdirs`, their indices if known."""
    names = {}
    for i in np.flatnonzero(trace["op"] == OP["mkdir"]) if mkdirs is None else mkdirs:
        n = int(trace["count"][i])
        k = -(-n // NAME_CHUNK)
        part = trace[i + 1:i + 1 + k]
        words = np.column_stack([part["vpn"], part["count"]]).astype("<i8")
        names[int(i)] = words.tobytes()[:n].decode("utf-8", errors="replace")
    return names


class Builder:
    """Build a trace by script: ``b.spawn("a")`` returns a task id to use in later calls."""

    def __init__(self):
        self._chunks = []
        self._cgroups = {"": 0}
        self._task_cpu = {}
        self._next_task = 0

    def _emit(self, op, cpu=0, task=0, vpn=0, count=0, flags=0):
        ev = empty(1)
        ev[0] = (OP[op], cpu, flags, task, vpn, count)
        self._chunks.append(ev)

    def _cg(self, path):
        key = path.strip("/")
        if key not in self._cgroups:
            raise TraceError(f"cgroup {path!r} was not made with mkdir")
        return self._cgroups[key]

    def _task(self, task):
        if task not in self._task_cpu:
            raise TraceError(f"task {task!r} was not spawned or forked")
        return self._task_cpu[task]

    def mkdir(self, path, limit=None, memsw_limit=None):
        """A cgroup; its parent must exist. Limits are bytes (page aligned up)."""
        key = path.strip("/")
        parent, _, name = key.rpartition("/")
        if not name or key in self._cgroups or name in (".", ".."):
            raise TraceError(f"cannot mkdir {path!r}")
        cg = len(self._cgroups)
        ev = empty(1)
        ev[0] = (OP["mkdir"], 0, 0, cg, self._cg(parent), len(name.encode()))
        self._chunks += [ev, _name_events(name)]
        self._cgroups[key] = cg
        # the memory limit first: the kernel refuses a mem+swap limit below it
        if limit is not None:
            self.write(path, "memory.limit_in_bytes", limit)
        if memsw_limit is not None:
            self.write(path, "memory.memsw.limit_in_bytes", memsw_limit)
        return cg

    def write(self, path, file, value):
        from .sizes import parse_size
        if file not in WRITE_FILE:
            raise TraceError(f"no control file {file!r} in traces; one of {WRITE_FILES}")
        self._emit("write", task=self._cg(path), flags=WRITE_FILE[file], count=parse_size(value, file))

    def spawn(self, cgroup_path="", cpu=0):
        cg = self._cg(cgroup_path)
        task = self._next_task
        self._next_task += 1
        self._task_cpu[task] = cpu
        self._emit("spawn", cpu=cpu, task=task, vpn=cg)
        return task

    def fault(self, task, vpn, count=1, write=True):
        self._emit("fault", cpu=self._task(task), task=task, vpn=vpn, count=count, flags=FLAG_WRITE if write else 0)

    def mlock(self, task, vpn, count=1):
        self._emit("mlock", cpu=self._task(task), task=task, vpn=vpn, count=count)

    def munmap(self, task, vpn, count=1):
        self._emit("munmap", cpu=self._task(task), task=task, vpn=vpn, count=count)

    def zap(self, task, vpn, count=1):
        """Unmap without the flush (Task.zap(flush=False)): the references stay parked in the
        task's mmu_gather until its next munmap or its exit flushes them."""
        self._emit("munmap", cpu=self._task(task), task=task, vpn=vpn, count=count, flags=FLAG_NOFLUSH)

    def fork(self, task, cpu=None):
        child = self._next_task
        self._next_task += 1
        self._task_cpu[child] = self._task(task) if cpu is None else cpu
        self._emit("fork", cpu=self._task(task), task=task, vpn=child)
        return child

    def exit(self, task):
        self._emit("exit", cpu=self._task(task), task=task)
        del self._task_cpu[task]

    def move(self, task, cgroup_path):
        cpu, cg = self._task(task), self._cg(cgroup_path)
        self._emit("move", cpu=cpu, task=task, vpn=cg)

    def reclaim(self, cgroup_path=None, nr=32, cpu=0):
        if cgroup_path is None:
            self._emit("reclaim", cpu=cpu, count=nr, flags=FLAG_GLOBAL)
        else:
            self._emit("reclaim", cpu=cpu, task=self._cg(cgroup_path), count=nr)

    def rmdir(self, path):
        self._emit("rmdir", task=self._cg(path))
        del self._cgroups[path.strip("/")]

    def events_so_far(self):
        """Events emitted so far (not __len__: callers test a Builder for truth, `builder or Builder()`)."""
        return sum(len(c) for c in self._chunks)

    def cpu_of(self, task):
        """The CPU a task's events run on."""
        return self._task(task)

    def extend(self, events):
        """Append ready-made events (a TRACE_DTYPE array)."""
        self._chunks.append(np.asarray(events, TRACE_DTYPE))

    def build(self):
        return np.concatenate(self._chunks) if self._chunks else empty()


# --- files -----------------------------------------------------------------------------

def save(trace, path):
    """Write a trace as .npy (memory-mappable) or .csv (for people), by extension."""
    trace = as_trace(trace)
    path = os.fspath(path)
    if path.endswith(".csv"):
        with open(path, "w", newline="") as f:
            _write_csv(trace, f)
    elif path.endswith(".npy"):
        np.save(path, trace, allow_pickle=False)
    else:
        raise ValueError(f"trace files end in .npy or .csv, not {path!r}")


def _write_csv(trace, f):
    w = csv.writer(f)
    w.writerow(CSV_FIELDS)
    names = mkdir_names(trace)
    ops = trace["op"]
    for i, ev in enumerate(trace):
        op = int(ev["op"])
        if not 1 <= op <= len(OPS):
            err = TraceError(f"event {i}: unknown op {op}")
            err.index = i
            raise err
        if op == OP["name"]:
            continue
        w.writerow((OPS[op - 1], int(ev["cpu"]), int(ev["task"]), int(ev["vpn"]), int(ev["count"]),
                    int(ev["flags"]), names.get(i, "")))
    del ops


def load(path, mmap=True):
    """Read a trace written by save (.npy memory-mapped unless mmap=False, or .csv)."""
    path = os.fspath(path)
    if path.endswith(".csv"):
        try:
            with open(path, newline="", encoding="utf-8") as f:
                return _read_csv(f, path)
        except UnicodeDecodeError as e:
            raise TraceError(f"{path}: not UTF-8 text ({e})") from None
    if not path.endswith(".npy"):
        raise TraceError(f"{path}: trace files end in .npy or .csv")
    if not os.path.exists(path):
        raise TraceError(f"{path}: no such file")
    try:
        arr = np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)
    except Exception as e:          # numpy's header parser raises many kinds (ValueError, SyntaxError, ...)
        raise TraceError(f"{path}: not a readable .npy trace ({type(e).__name__}: {e})") from None
    if arr.dtype != TRACE_DTYPE or arr.ndim != 1:
        raise TraceError(f"{path}: holds {arr.dtype} {arr.shape}, not a 1-D trace of {TRACE_DTYPE}")
    return arr


def _read_csv(f, path="<csv>"):
    reader = csv.reader(f)
    header = next(reader, None)
    if tuple(header or ()) != CSV_FIELDS:
        raise TraceError(f"{path}: the header must be {','.join(CSV_FIELDS)}")
    chunks = []
    for line, row in enumerate(reader, start=2):
        if len(row) != len(CSV_FIELDS):
            raise TraceError(f"{path}:{line}: {len(row)} fields, expected {len(CSV_FIELDS)}")
        op, cpu, task, vpn, count, flags, name = row
        if op not in OP or op == "name":
            raise TraceError(f"{path}:{line}: unknown op {op!r}")
        try:
            ev = empty(1)
            ev[0] = (OP[op], int(cpu), int(flags), int(task), int(vpn), int(count))
        except (ValueError, OverflowError) as e:
            raise TraceError(f"{path}:{line}: {e}") from None
        chunks.append(ev)
        if op == "mkdir":
            if len(name.encode()) != int(count):
                raise TraceError(f"{path}:{line}: mkdir name {name!r} is not {count} bytes")
            chunks.append(_name_events(name))
    return np.concatenate(chunks) if chunks else empty()


def as_trace(trace):
    """Accept a trace array (or anything convertible) and check its layout."""
    if isinstance(trace, (str, os.PathLike)):
        return load(trace)
    arr = np.asarray(trace)
    if arr.dtype != TRACE_DTYPE or arr.ndim != 1:
        raise TraceError(f"a trace is a 1-D array of pymemcg.trace.TRACE_DTYPE, not {arr.dtype} {arr.shape}")
    return arr


def to_csv_text(trace):
    buf = io.StringIO()
    _write_csv(as_trace(trace), buf)
    return buf.getvalue()
