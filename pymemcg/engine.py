"""Engine: the simulated machine (README.md, "A short tour").

numpy owns the per-frame and per-slot arrays; the C core borrows them, and
Python hands out read-only views of them.
"""
import errno
import os

import numpy as np

from . import strategies
from ._ffi import check, ffi, lib, strategy_failed, struct_to_dict
from .batch import Batch
from .cgroup import Cgroup
from .errors import CgroupError, InvariantError
from .sizes import PAGE_SIZE, parse_size
from .task import Task

KERNELS = {"2.6.30": lib.PMC_KERNEL_2_6_30, "2.6.31": lib.PMC_KERNEL_2_6_31}

# (field, dtype) of struct pmc_arrays, read from its C declaration: one array per frame,
# and the swap_* ones per swap slot
_ARRAY_FIELDS = tuple((name, np.dtype(f.type.item.cname.removesuffix("_t")))
                      for name, f in ffi.typeof("struct pmc_arrays").fields)
_PAGE_FIELDS = tuple(fd for fd in _ARRAY_FIELDS if not fd[0].startswith("swap_"))
_SWAP_FIELDS = tuple(fd for fd in _ARRAY_FIELDS if fd[0].startswith("swap_"))

_MEMINFO_NAMES = {"Active_anon": "Active(anon)", "Inactive_anon": "Inactive(anon)"}


def _check_nr(nr):
    """The page count the step API's reclaim calls take (the core checks its range)."""
    if isinstance(nr, bool) or not isinstance(nr, int):
        raise TypeError("nr must be an int")


def _readonly(arr):
    """A zero-copy view that cannot be made writeable (its base is a read-only buffer)."""
    return np.frombuffer(memoryview(arr).toreadonly(), dtype=arr.dtype)


def load(path):
    """An engine saved by Engine.save."""
    import json
    try:
        z = np.load(path, allow_pickle=False)
        if not isinstance(z, np.lib.npyio.NpzFile):      # a .npy: an array, maybe a trace
            raise ValueError("a single array (a trace? `pymemcg stat` reads traces), not an .npz archive")
        with z:
            meta = json.loads(bytes(z["meta"]).decode())
            if meta.get("format") != "pymemcg-engine":
                raise ValueError("not a saved pymemcg engine")
            arrays = {k[len("array_"):]: z[k] for k in z.files if k.startswith("array_")}
            if meta.get("strategy") and meta["settings"]["hook"] not in strategies.names():
                strategies.ensure(meta["strategy"])
            counters = z["strategy_counters"] if "strategy_counters" in z.files else None
            trace = None
            if "trace_tasks" in z.files:
                trace = {"tasks": z["trace_tasks"], "cgroups": z["trace_cgroups"], "paths": meta["trace_paths"]}
                if "trace_task_state" in z.files:
                    trace["states"] = (z["trace_task_state"], z["trace_cgroup_state"])
            return Engine._from_state(meta["settings"], arrays, z["state"], meta["cgroups"], trace, counters)
    except (KeyError, OSError, EOFError, ValueError, json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ValueError(f"{path}: not a saved pymemcg engine ({e})") from None


def _flag(value, what):
    if not isinstance(value, (bool, int, np.bool_)) or value not in (0, 1):
        raise TypeError(f"{what} must be a bool, got {value!r}")
    return bool(value)


def validate_settings(ram="4G", swap="4G", *, kernel="2.6.30", hook="none", swap_account=True, page_cluster=3,
                      laptop_mode=False, seed=0):
    """The one check of Engine settings, which Engine(), the command line and sweeps all go
    through: the Python types here, the values by the core's own pmc_validate_settings (the
    check pmc_engine_create makes).  Bad settings raise TypeError or ValueError.  Returns the
    settings as the engine keeps them (sizes in page-aligned bytes), the strategy and the
    struct pmc_config."""
    if not isinstance(kernel, str) or kernel not in KERNELS:
        raise ValueError(f"kernel must be one of {sorted(KERNELS)}, got {kernel!r}")
    strategy = strategies.get(hook)
    nr_pages = parse_size(ram, "ram") // PAGE_SIZE
    nr_swap = parse_size(swap, "swap") // PAGE_SIZE
    for what, value in (("page_cluster", page_cluster), ("seed", seed)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"{what} must be an int, got {value!r}")
    if not 0 <= seed < 2**64:
        raise ValueError(f"seed must be in [0, 2**64), got {seed}")
    if not -2**31 <= page_cluster < 2**31:
        raise ValueError(f"page_cluster must be 0..16, got {page_cluster}")
    settings = dict(ram=nr_pages * PAGE_SIZE, swap=nr_swap * PAGE_SIZE, kernel=kernel, hook=hook,
                    swap_account=_flag(swap_account, "swap_account"), page_cluster=page_cluster,
                    laptop_mode=_flag(laptop_mode, "laptop_mode"), seed=seed)
    big = 2**63 - 1                          # past int64: the core refuses it as too large
    cfg = ffi.new("struct pmc_config *", dict(
        nr_pages=min(nr_pages, big), nr_swap=min(nr_swap, big), kernel=KERNELS[kernel], strategy=strategy._table,
        swap_account=int(settings["swap_account"]), page_cluster=page_cluster,
        laptop_mode=int(settings["laptop_mode"]), seed=seed))
    err = ffi.new("char[256]")
    if lib.pmc_validate_settings(cfg, err, len(err)):
        msg = ffi.string(err).decode()
        given = {"ram": ram, "swap": swap}.get(msg.split()[0])
        raise ValueError(msg if given is None else f"{msg} (from {given!r})")
    return settings, strategy, cfg


class PageArrays:
    """Read-only numpy views of the per-frame state, one array per field (``pages.flags``,
    ``pages["count"]``, ...). Flag bits are the ``pymemcg.PG_*`` constants."""

    def __init__(self, arrays):
        self._views = {name: _readonly(arrays[name]) for name, _ in _PAGE_FIELDS}

    def __getitem__(self, name):
        return self._views[name]

    def __getattr__(self, name):
        try:
            return self._views[name]
        except KeyError:
            raise AttributeError(name) from None

    def __repr__(self):
        return f"<PageArrays: {len(self):,} frames, read-only numpy arrays {', '.join(self._views)}>"

    def keys(self):
        return self._views.keys()

    def __len__(self):
        return len(self._views["flags"])


class Engine:
    """A simulated machine: RAM, a swap device, memory cgroups and tasks."""

    def __init__(self, ram="4G", swap="4G", *, kernel="2.6.30", hook="none", swap_account=True,
                 page_cluster=3, laptop_mode=False, seed=0):
        self._settings, strategy, cfg = validate_settings(ram, swap, kernel=kernel, hook=hook,
                                                          swap_account=swap_account, page_cluster=page_cluster,
                                                          laptop_mode=laptop_mode, seed=seed)
        nr_pages, nr_swap = cfg.nr_pages, cfg.nr_swap
        self._np = {name: np.zeros(nr_pages, dt) for name, dt in _PAGE_FIELDS}
        self._np.update({name: np.zeros(nr_swap, dt) for name, dt in _SWAP_FIELDS})
        arrays = ffi.new("struct pmc_arrays *")
        for name, arr in self._np.items():
            setattr(arrays, name, ffi.cast(ffi.typeof(getattr(arrays, name)), ffi.from_buffer(arr)))
        out = ffi.new("pmc_engine **")
        err = ffi.new("char[256]")
        rc = lib.pmc_engine_create(cfg, arrays, out, err, 256)
        if rc:
            raise (MemoryError if rc == lib.PMC_EALLOC else ValueError)(ffi.string(err).decode())
        self._ptr = ffi.gc(out[0], lib.pmc_engine_destroy)
        self._strategy = strategy                       # keeps its table alive as long as the engine
        strategy_failed.pop(int(ffi.cast("uintptr_t", self._ptr)), None)   # a dead engine's, at this address

        self._tasks = {}
        # PYMEMCG_DEBUG_CHECK=1: the full invariant check after every operation (slow)
        self._debug_check = os.environ.get("PYMEMCG_DEBUG_CHECK", "") not in ("", "0")
        if self._debug_check:
            lib.pmc_set_debug_check(self._ptr, 1)
        root = Cgroup(self, lib.pmc_root_memcg(self._ptr), "")
        self._cgroups = {"": root}
        self._cg_by_id = {root._id: root}
        self.pages = PageArrays(self._np)
        self.swap_map = _readonly(self._np["swap_map"])
        self.swap_cgroup = _readonly(self._np["swap_cgroup"])

    def __repr__(self):
        s = self._settings
        return (f"<Engine ram={s['ram']} swap={s['swap']} kernel={s['kernel']} hook={s['hook']} "
                f"tasks={sum(t.alive for t in self._tasks.values())} cgroups={len(self._cgroups)}>")

    # -- settings ------------------------------------------------------------

    kernel = property(lambda self: self._settings["kernel"])
    hook = property(lambda self: self._settings["hook"], doc="the reclaim strategy's name")
    strategy = property(lambda self: self._strategy, doc="the reclaim strategy (pymemcg.strategies.Strategy)")
    swap_account = property(lambda self: self._settings["swap_account"])
    page_cluster = property(lambda self: self._settings["page_cluster"])
    seed = property(lambda self: self._settings["seed"])

    @property
    def laptop_mode(self):
        """vm.laptop_mode: reclaim does not write dirty pages (sc->may_writepage off)."""
        return self._settings["laptop_mode"]

    @laptop_mode.setter
    def laptop_mode(self, on):
        self._settings["laptop_mode"] = _flag(on, "laptop_mode")
        lib.pmc_set_laptop_mode(self._ptr, int(on))

    @property
    def settings(self):
        """The constructor arguments, normalised (sizes in bytes)."""
        return dict(self._settings)

    # -- cgroups -------------------------------------------------------------

    @property
    def root(self):
        return self._cgroups[""]

    @staticmethod
    def _normpath(path):
        if not isinstance(path, str):
            raise TypeError(f"cgroup paths are str, not {type(path).__name__}")
        parts = [p for p in path.strip("/").split("/")] if path.strip("/") else []
        for p in parts:
            if p in ("", ".", ".."):
                raise ValueError(f"bad cgroup path {path!r}: empty, '.' or '..' component")
        return "/".join(parts)

    def cgroup(self, path):
        """Look up a cgroup by path ("a/b" or "/a/b"; "/" is the root)."""
        key = self._normpath(path)
        try:
            return self._cgroups[key]
        except KeyError:
            raise CgroupError(errno.ENOENT, f"no cgroup {'/' + key}") from None

    def mkdir(self, path):
        """Create a cgroup; its parent must exist."""
        key = self._normpath(path)
        if key in self._cgroups:
            raise CgroupError(errno.EEXIST, f"cgroup /{key} exists")
        parent = self._cgroups.get(key.rpartition("/")[0])
        if parent is None:
            raise CgroupError(errno.ENOENT, f"parent of /{key} does not exist")
        cg = Cgroup(self, check(lib.pmc_memcg_create(self._ptr, parent._id), self._ptr), key)
        self._cgroups[key] = cg
        self._cg_by_id[cg._id] = cg
        self._after_operation()
        return cg

    def _forget_cgroup(self, cg):
        self._cgroups.pop(cg._path, None)

    def _cgroup_arg(self, cgroup):
        if isinstance(cgroup, str):
            return self.cgroup(cgroup)
        if not isinstance(cgroup, Cgroup) or cgroup._eng is not self:
            raise TypeError("expected a Cgroup of this engine or a cgroup path")
        return cgroup

    # -- tasks -------------------------------------------------------------------

    def _task(self, pid):
        t = self._tasks.get(pid)
        if t is None:
            t = self._tasks[pid] = Task(self, pid)
        return t

    def spawn(self, cgroup=None):
        """A new task with its own mm, in cgroup (default: the root)."""
        cg = self.root if cgroup is None else self._cgroup_arg(cgroup)
        task = self._task(check(lib.pmc_spawn(self._ptr, cg._id), self._ptr))
        self._after_operation()
        return task

    # -- reclaim and the step API ---------------------------------------------

    def _memcg_id(self, cgroup):
        return 0 if cgroup is None else self._cgroup_arg(cgroup)._id

    @staticmethod
    def _result(res):
        return struct_to_dict(res)

    def reclaim(self, cgroup=None, nr=32):
        """One reclaim pass: memcg limit reclaim of cgroup's subtree, or global direct
        reclaim when cgroup is None. Returns scanned, reclaimed, hook_calls, hook_freed, ..."""
        _check_nr(nr)
        res = ffi.new("struct pmc_reclaim_result *")
        check(lib.pmc_reclaim(self._ptr, self._memcg_id(cgroup), nr, res), self._ptr)
        self._after_operation()
        return self._result(res)

    def isolate(self, cgroup=None, nr=32):
        """Isolate up to nr (1..32) pages from the tail of cgroup's inactive anon list
        (None: the zone's), as shrink_inactive_list does. Returns a Batch."""
        _check_nr(nr)
        batch = Batch(self, check(lib.pmc_isolate(self._ptr, self._memcg_id(cgroup), nr), self._ptr))
        self._after_operation()
        return batch

    def shrink_page_list(self, batch):
        """Run shrink_page_list over the rest of the batch and put its pages back."""
        if not isinstance(batch, Batch) or batch._eng is not self:
            raise TypeError("expected a Batch of this engine")
        res = ffi.new("struct pmc_reclaim_result *")
        check(lib.pmc_shrink_page_list(self._ptr, batch._id, res), self._ptr)
        self._after_operation()
        return self._result(res)

    def shrink_active_list(self, cgroup=None, nr=32):
        """Move up to nr pages from the active anon list to the inactive one; returns how many moved."""
        _check_nr(nr)
        moved = check(lib.pmc_shrink_active_list(self._ptr, self._memcg_id(cgroup), nr), self._ptr)
        self._after_operation()
        return moved

    def shrink_inactive_list(self, cgroup=None, nr=32, kswapd=False):
        """Run shrink_inactive_list over nr pages of cgroup's inactive anon list (None: the
        zone's), in batches of 32, as direct reclaim or (kswapd=True) as kswapd, which
        writes even to a congested device. Returns the same dict as reclaim()."""
        _check_nr(nr)
        res = ffi.new("struct pmc_reclaim_result *")
        check(lib.pmc_shrink_inactive_list(self._ptr, self._memcg_id(cgroup), nr, int(bool(kswapd)), res),
              self._ptr)
        self._after_operation()
        return self._result(res)

    def end_writeback(self, n=None):
        """Let simulated time pass until n (all when None) in-flight swap writes complete."""
        if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 0):
            raise ValueError("n must be None or a non-negative int")
        done = check(lib.pmc_end_writeback(self._ptr, -1 if n is None else n), self._ptr)
        self._after_operation()
        return done

    def io(self):
        """Simulated time (now_ns, nanoseconds), the swap device's queue (requests in flight,
        congestion, vm_swap_full as 0/1), and the watermarks (pages_min/low/high, in pages)."""
        info = ffi.new("struct pmc_io_info *")
        lib.pmc_io_info(self._ptr, info)
        return struct_to_dict(info)

    def leaks(self):
        """The leak audit of semantics.md K4.4, in pages/slots (meaningful when quiescent)."""
        out = ffi.new("struct pmc_leaks *")
        check(lib.pmc_leaks(self._ptr, out), self._ptr)
        return struct_to_dict(out)

    # -- copies ----------------------------------------------------------------

    _COPY_CHANGES = ("hook", "laptop_mode", "seed", "page_cluster")

    def _snapshot(self):
        size = check(lib.pmc_snapshot_size(self._ptr), self._ptr)
        blob = np.zeros(size, np.uint8)
        check(lib.pmc_snapshot(self._ptr, ffi.from_buffer(blob), size), self._ptr)
        return blob

    @classmethod
    def _from_state(cls, settings, arrays, blob, cgroups, trace=None, strategy_counters=None):
        eng = cls(**settings)
        for name, arr in arrays.items():
            if eng._np[name].shape != arr.shape:
                raise ValueError(f"saved array {name} has shape {arr.shape}, expected {eng._np[name].shape}")
            eng._np[name][...] = arr
        blob = np.ascontiguousarray(blob, np.uint8)
        check(lib.pmc_restore(eng._ptr, ffi.from_buffer(blob), len(blob)), eng._ptr)
        if strategy_counters is not None:
            c = np.ascontiguousarray(strategy_counters, np.int64)
            check(lib.pmc_strategy_set_counters(eng._ptr, ffi.cast("int64_t *", ffi.from_buffer(c)), len(c)), eng._ptr)
        for path, memcg in cgroups:
            if path:
                c = Cgroup(eng, int(memcg), path)
                eng._cgroups[path] = c
                eng._cg_by_id[c._id] = c
        if trace:
            eng._trace_tasks = np.array(trace["tasks"], np.int32)
            eng._trace_cgroups = np.array(trace["cgroups"], np.int32)
            eng._trace_cgroup_paths = list(trace["paths"])
            if trace.get("states") is not None:
                eng._trace_states = tuple(np.array(a, np.uint8) for a in trace["states"])
        return eng

    def _cgroup_table(self):
        return [(path, cg._id) for path, cg in self._cgroups.items()]

    def _trace_maps(self):
        """What a later replay(resume=True) needs of the last replay's trace ids."""
        if not hasattr(self, "_trace_tasks"):
            return None
        return {"tasks": self._trace_tasks, "cgroups": self._trace_cgroups, "paths": self._trace_cgroup_paths,
                "states": getattr(self, "_trace_states", None)}

    def copy(self, **changes):
        """An identical, independent engine (for A/B runs from one warmed state).
        May change settings that do not alter the machine: hook, laptop_mode, seed, page_cluster."""
        bad = set(changes) - set(self._COPY_CHANGES)
        if bad:
            raise ValueError(f"copy() can change only {self._COPY_CHANGES}, not {sorted(bad)}")
        settings = dict(self._settings, **changes)
        # the strategy's own counters go with it; another strategy starts from zero
        counters = self._strategy_counters() if settings["hook"] == self.hook else None
        return Engine._from_state(settings, self._np, self._snapshot(), self._cgroup_table(), self._trace_maps(),
                                  counters)

    def _portable_strategy(self):
        """How another process gets this engine's strategy (None: shipped, or not recreatable)."""
        try:
            return strategies.spec(self.hook)
        except (strategies.StrategyError, ValueError):
            return None

    def save(self, path):
        """Write the whole engine to one .npz file; pymemcg.load(path) reads it back exactly
        (a strategy of your own is compiled or imported again if the loading process lacks it)."""
        import json
        maps = self._trace_maps()
        meta = json.dumps({"format": "pymemcg-engine", "version": 1, "settings": self._settings,
                           "cgroups": self._cgroup_table(), "trace_paths": maps and maps["paths"],
                           "strategy": self._portable_strategy()})
        extra = {"trace_tasks": maps["tasks"], "trace_cgroups": maps["cgroups"]} if maps else {}
        extra["strategy_counters"] = self._strategy_counters()
        if maps and maps["states"] is not None:
            extra.update(trace_task_state=maps["states"][0], trace_cgroup_state=maps["states"][1])
        with open(path, "wb") as f:
            np.savez(f, meta=np.frombuffer(meta.encode(), np.uint8), state=self._snapshot(),
                     **{f"array_{k}": v for k, v in self._np.items()}, **extra)

    # -- replay ----------------------------------------------------------------

    def replay(self, trace, cpus=2, *, sched="rr", seed=None, sample_every=None, progress=None, resume=False):
        """Run a trace (array, or .npy/.csv path) on `cpus` simulated CPUs, interleaved
        page-step by page-step by a round-robin ("rr") or seeded random ("random")
        scheduler, or by an explicit schedule (a pymemcg.replay.Schedule or a sequence of
        actor numbers, one per choice point: docs/explore.md); the same trace, seed and
        settings give identical results.
        resume=True continues the trace of the previous replay (its task and cgroup
        ids keep their meaning), e.g. a measured segment after a warm-up.
        Returns a ReplayResult (counters, leaks, meminfo, time series)."""
        from .replay import replay
        return replay(self, trace, cpus=cpus, sched=sched, seed=seed, sample_every=sample_every,
                      progress=progress, resume=resume)

    def trace_task(self, task_id):
        """The Task a trace's task id became in the last replay (None if it never ran)."""
        pids = getattr(self, "_trace_tasks", ())
        if not 0 <= task_id < len(pids) or pids[task_id] <= 0:
            return None
        return self._task(int(pids[task_id]))

    # -- introspection ---------------------------------------------------------

    def meminfo(self):
        """/proc/meminfo lines the engine models, in bytes (the file itself shows kB:
        ``eng.meminfo()["SwapCached"] >> 10`` is its SwapCached line)."""
        info = ffi.new("struct pmc_meminfo *")
        lib.pmc_meminfo(self._ptr, info)
        return {_MEMINFO_NAMES.get(k, k): v * PAGE_SIZE for k, v in struct_to_dict(info).items()}

    def counters(self):
        """Engine-wide event counters: each counts events or pages (pgfault: pages touched,
        pswpin/pswpout: pages read/written, oom_kills: kills, ...; csrc/pymemcg.h says which)."""
        c = ffi.new("struct pmc_counters *")
        lib.pmc_counters(self._ptr, c)
        return struct_to_dict(c)

    def _strategy_counters(self):
        out = np.zeros(strategies.NCOUNTERS, np.int64)
        lib.pmc_strategy_counters(self._ptr, ffi.cast("int64_t *", ffi.from_buffer(out)), len(out))
        return out

    def strategy_counters(self):
        """The strategy's own counters, by the names its table gives them."""
        values = self._strategy_counters()
        return {name: int(values[i]) for i, name in enumerate(self._strategy.counters)}

    def _drop_handles(self):
        """Forget the Cgroup and Task objects this engine handed out (each holds the engine, a
        cycle), so that a throwaway engine goes as soon as its last reference does, without
        waiting for the collector: the exploration makes one per schedule, and one stopped in
        the middle of its operations must not linger."""
        self._cgroups.clear()
        self._cg_by_id.clear()
        self._tasks.clear()

    def state_hash(self):
        """A 64-bit digest of the whole simulated state: every page and slot array, the
        engine's scalars (clock, device queue, counters), every cgroup and task with its page
        table (csrc/state_hash.c).  Two engines with the same digest are in the same state;
        an explicit replay's reproducer is checked with it (docs/explore.md)."""
        return int(lib.pmc_state_hash(self._ptr))

    def _set_replay_slow(self, on=True):
        """Replays without their fast paths (one scheduler step per pick, the general
        dispatch, no hits in one go): the reference the fast paths must match bit for bit."""
        lib.pmc_set_replay_slow(self._ptr, int(bool(on)))

    def _after_operation(self):
        if strategy_failed:
            check(0, self._ptr)             # what a Python strategy raised during the call
        if self._debug_check:
            self.check()

    def check(self):
        """Verify every invariant; raises InvariantError naming the first broken one."""
        rc = lib.pmc_check(self._ptr)
        if rc:
            raise InvariantError(ffi.string(lib.pmc_errmsg(self._ptr)).decode())
