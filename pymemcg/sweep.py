"""Sweeps: a grid of Engine settings and replay options crossed with traces, each cell one
replay, run on a local process pool or on a Dask cluster (docs/sweep.md).

    from pymemcg import sweep
    report = sweep.run({"kernel": ["2.6.30", "2.6.31"], "hook": ["none", "seed"], "ram": "64M"},
                       ["a.npy", {"generator": "churn", "rounds": 60, "seed": 1}],
                       results="out.jsonl")

Every cell has a stable id: a hash of its normalised settings and of its trace's identity
(a trace file's name and SHA-256, or a generator spec).  Results are one table, one row per
cell, appended to ``<stem>.jsonl`` and ``<stem>.csv`` as cells finish, so that a rerun with
the same results file runs only the cells that have no successful row yet.

Execution never schedules anything itself: cells go to a ``concurrent.futures``
process pool (the default, one process per core), to any ``concurrent.futures.Executor``
passed in, or to Dask (a ``distributed.Client`` or a scheduler address) with
``client.submit``/``as_completed``.  Trace files travel by path (every worker must be able to
read them); ``upload=True`` ships small files through the cluster with ``client.scatter``.
"""
import asyncio
import csv
import difflib
import hashlib
import importlib
import inspect
import itertools
import json
import math
import multiprocessing
import os
import socket
import sys
import tempfile
import time
import uuid
from collections import OrderedDict
from concurrent.futures import FIRST_COMPLETED, CancelledError, Executor, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool

from ._ffi import ffi
from . import strategies
from .engine import _MEMINFO_NAMES, KERNELS
from .faults import RATIOS
from .sizes import PAGE_SIZE, parse_size

__all__ = ["run", "load_config", "load_results", "compare", "plan", "run_cell", "deterministic", "ConfigError",
           "SweepReport", "Config", "GRID_KEYS", "COLUMNS", "TIMING_FIELDS", "UPLOAD_LIMIT"]

# -- the grid -------------------------------------------------------------------------------

ENGINE_KEYS = ("ram", "swap", "kernel", "hook", "swap_account", "page_cluster", "laptop_mode", "seed")
REPLAY_KEYS = ("cpus", "sched", "replay_seed")
GRID_KEYS = ENGINE_KEYS + REPLAY_KEYS
DEFAULTS = {"ram": "4G", "swap": "4G", "kernel": "2.6.30", "hook": "none", "swap_account": True, "page_cluster": 3,
            "laptop_mode": False, "seed": 0, "cpus": 2, "sched": "rr", "replay_seed": None}
SCHEDS = ("rr", "random")
# dimensions the summary compares cell by cell (seeds and traces are not policies)
POLICY_DIMS = ("kernel", "hook", "swap_account", "laptop_mode", "page_cluster", "sched", "cpus", "ram", "swap")

UPLOAD_LIMIT = 32 << 20
OPTION_KEYS = ("results", "workers", "scheduler", "upload", "upload_limit", "retries", "check", "strategies")
TOP_KEYS = ("grid", "traces", "sweep")

# -- the table ------------------------------------------------------------------------------


def _fields(struct):
    return [name for name, _ in ffi.typeof(f"struct {struct}").fields]


LEAK_FIELDS = _fields("pmc_leaks")
COUNTER_FIELDS = _fields("pmc_counters")
MEMINFO_FIELDS = [_MEMINFO_NAMES.get(k, k) for k in _fields("pmc_meminfo")]
STATS_FIELDS = [k for k in _fields("pmc_replay_stats") if k != "events"]
FAULT_FIELDS = ("hits", "minor", "major", "first_touches", "swapin_cache_hits") + RATIOS
SETTING_COLUMNS = ("ram", "swap", "kernel", "hook", "swap_account", "page_cluster", "laptop_mode", "seed",
                   "cpus", "sched", "replay_seed")
# fields that depend on the machine and the moment, not on the cell: left out of comparisons
# (worker: where each attempt ran, oldest first)
TIMING_FIELDS = ("events_per_s", "seconds", "wall_time", "worker", "attempts")
COLUMNS = (("cell", "trace") + SETTING_COLUMNS + ("events", "oom_kills")
           + tuple(f"leaks.{k}" for k in LEAK_FIELDS) + tuple(f"counters.{k}" for k in COUNTER_FIELDS)
           + tuple(f"meminfo.{k}" for k in MEMINFO_FIELDS) + tuple(f"stats.{k}" for k in STATS_FIELDS)
           + tuple(f"faults.{k}" for k in FAULT_FIELDS)
           + TIMING_FIELDS + ("error", "trace_id", "version"))


def deterministic(row):
    """The part of a result row that the same settings and seed must reproduce exactly
    (everything but wall-clock time, throughput, where it ran and how often)."""
    return {k: v for k, v in row.items() if k not in TIMING_FIELDS}


class ConfigError(ValueError):
    """A sweep grid, trace list or config file that cannot be run; the message says what is wrong."""


def _close(key, valid):
    near = difflib.get_close_matches(key, valid, n=1)
    return f" (did you mean {near[0]!r}?)" if near else ""


def _int(value, what, lo, hi):
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{what} must be an integer, got {value!r}")
    if not lo <= value <= hi:
        raise ConfigError(f"{what} must be in {lo}..{hi}, got {value}")
    return value


def _bool(value, what):
    if not isinstance(value, bool):
        raise ConfigError(f"{what} must be true or false, got {value!r}")
    return value


def _choice(value, what, choices):
    if value not in choices:
        raise ConfigError(f"{what} must be one of {', '.join(map(repr, choices))}, got {value!r}")
    return value


def _size(value, what):
    try:
        n = parse_size(value, what)
    except (TypeError, ValueError) as e:
        raise ConfigError(str(e)) from None
    return n // PAGE_SIZE * PAGE_SIZE


def _check_value(key, value):
    """One grid value, normalised as the Engine normalises it (sizes in page-aligned bytes)."""
    what = f"grid.{key}"
    if key == "ram":
        n = _size(value, what)
        if not 1 <= n // PAGE_SIZE < 2**31 - 1:
            raise ConfigError(f"{what} must hold 1 to 2**31-2 pages, got {value!r}")
        return n
    if key == "swap":
        n = _size(value, what)
        if n // PAGE_SIZE in (1, 2) or n // PAGE_SIZE >= 2**31 - 1:
            raise ConfigError(f"{what} must be 0 or 3 to 2**31-2 pages, got {value!r}")
        return n
    if key == "kernel":
        return _choice(value, what, tuple(KERNELS))
    if key == "hook":
        return _choice(value, what, tuple(strategies.names()))
    if key in ("swap_account", "laptop_mode"):
        return _bool(value, what)
    if key == "page_cluster":
        return _int(value, what, 0, 16)
    if key in ("seed", "replay_seed"):
        if key == "replay_seed" and value is None:
            return None
        return _int(value, what, 0, 2**64 - 1)
    if key == "cpus":
        return _int(value, what, 1, 256)
    if key == "sched":
        return _choice(value, what, SCHEDS)
    raise AssertionError(key)


def normalize_grid(grid):
    """{key: [normalised values]} for every grid key (defaults filled in); ConfigError on bad input."""
    if grid is None:
        grid = {}
    if not isinstance(grid, dict):
        raise ConfigError(f"the grid is a table of settings, not {type(grid).__name__}")
    out = {}
    for key in grid:
        if key not in GRID_KEYS:
            raise ConfigError(f"grid: unknown key {key!r}{_close(str(key), GRID_KEYS)}; "
                              f"valid keys: {', '.join(GRID_KEYS)}")
    for key in GRID_KEYS:
        raw = grid.get(key, DEFAULTS[key])
        values = list(raw) if isinstance(raw, (list, tuple, range)) else [raw]
        if not values:
            raise ConfigError(f"grid.{key} is an empty list")
        norm = []
        for v in values:
            v = _check_value(key, v)
            if v not in norm:
                norm.append(v)
        out[key] = norm
    return out


# -- traces ---------------------------------------------------------------------------------


def _generator(name):
    """The generator function a spec names: one of workloads.GENERATORS or "module:function"."""
    from .workloads import GENERATORS
    if name in GENERATORS:
        return GENERATORS[name]
    if isinstance(name, str) and ":" in name:
        mod, _, attr = name.partition(":")
        try:
            fn = getattr(importlib.import_module(mod), attr)
        except (ImportError, AttributeError) as e:
            raise ConfigError(f"generator {name!r}: cannot import it ({e})") from None
        if not callable(fn):
            raise ConfigError(f"generator {name!r} is not callable")
        return fn
    raise ConfigError(f"unknown generator {name!r}{_close(str(name), list(GENERATORS))}; one of "
                      f"{', '.join(GENERATORS)}, or 'module:function'")


def _sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _expand_traces(traces, base_dir, *, hash_files=True):
    """[(label, identity dict, worker spec)] for a list of paths and generator specs.
    Generator specs with list values expand to one trace per combination."""
    if isinstance(traces, (str, os.PathLike, dict)):
        traces = [traces]
    if not isinstance(traces, (list, tuple)) or not traces:
        raise ConfigError("traces must be a non-empty list of trace files or generator specs")
    out = []
    for i, entry in enumerate(traces):
        where = f"traces[{i}]"
        if isinstance(entry, (str, os.PathLike)):
            entry = {"path": os.fspath(entry)}
        if not isinstance(entry, dict):
            raise ConfigError(f"{where}: a trace is a file path or a table with 'path' or 'generator', "
                              f"not {entry!r}")
        if "path" in entry:
            extra = set(entry) - {"path"}
            if extra:
                raise ConfigError(f"{where}: a trace file entry takes only 'path', not {sorted(extra)}")
            path = entry["path"]
            if not isinstance(path, (str, os.PathLike)) or not os.fspath(path):
                raise ConfigError(f"{where}.path must be a file name, got {path!r}")
            path = os.fspath(path)
            if not path.endswith((".npy", ".csv")):
                raise ConfigError(f"{where}: trace files end in .npy or .csv, not {path!r}")
            full = os.path.abspath(os.path.join(base_dir or "", os.path.expanduser(path)))
            label = os.path.basename(full)
            if hash_files and os.path.isfile(full):
                ident = {"file": label, "sha256": _sha256(full)}
            else:
                ident = {"path": full}
            out.append((label, ident, {"kind": "path", "path": full}))
        elif "generator" in entry:
            name = entry["generator"]
            fn = _generator(name)
            args = {k: v for k, v in entry.items() if k != "generator"}
            if "builder" in args:
                raise ConfigError(f"{where}: 'builder' is not a generator setting")
            for k, v in args.items():
                vals = v if isinstance(v, list) else [v]
                if not vals or not all(isinstance(x, (str, int, float, bool)) for x in vals):
                    raise ConfigError(f"{where}.{k} must be a string, number or boolean (or a list of them), "
                                      f"got {v!r}")
            keys = sorted(args)
            for combo in itertools.product(*[(args[k] if isinstance(args[k], list) else [args[k]]) for k in keys]):
                kw = dict(zip(keys, combo))
                try:
                    inspect.signature(fn).bind(**kw)
                except TypeError as e:
                    raise ConfigError(f"{where}: generator {name!r}: {e}") from None
                label = name + ("(" + ",".join(f"{k}={kw[k]}" for k in keys) + ")" if kw else "")
                out.append((label, {"generator": name, "args": kw}, {"kind": "generator", "name": name, "args": kw}))
        else:
            raise ConfigError(f"{where}: a trace table needs 'path' or 'generator', got keys {sorted(entry)}")
    return out


# -- cells ----------------------------------------------------------------------------------


def _canon(obj):
    return json.dumps(obj, sort_keys=True, separators=(",", ":"))


def _strategy_specs(hooks):
    """{hook: what a worker process needs to get it} for the strategies that are not shipped."""
    out = {}
    for hook in hooks:
        try:
            out[hook] = strategies.spec(hook)
        except strategies.StrategyError as e:
            raise ConfigError(f"grid.hook: {e}") from None
    return out


def plan(grid, traces, base_dir=None, *, check=True, hash_files=True):
    """The cells of a sweep, in table order (trace, then the grid keys in GRID_KEYS order);
    duplicates (same id) appear once.  Each cell is a dict: id, settings, trace (label),
    trace_id, spec (what a worker loads), strategy (how a worker gets a strategy that is not
    shipped: pymemcg.strategies.spec; its source's identity is part of the cell id), check."""
    g = normalize_grid(grid)
    tr = _expand_traces(traces, base_dir, hash_files=hash_files)
    specs = _strategy_specs(g["hook"])
    cells = OrderedDict()
    for label, ident, spec in tr:
        trace_id = _canon(ident)
        for combo in itertools.product(*(g[k] for k in GRID_KEYS)):
            s = dict(zip(GRID_KEYS, combo))
            if s["replay_seed"] is None:
                s["replay_seed"] = s["seed"]
            key = {"settings": s, "trace": ident}
            if specs[s["hook"]]:
                key["strategy"] = specs[s["hook"]]
            cid = hashlib.sha256(_canon(key).encode()).hexdigest()[:16]
            if cid not in cells:
                cells[cid] = {"id": cid, "settings": s, "trace": label, "trace_id": trace_id, "spec": spec,
                              "strategy": specs[s["hook"]], "check": bool(check)}
    return list(cells.values())


def _base_row(cell):
    from . import __version__
    row = dict.fromkeys(COLUMNS)
    row.update(cell["settings"])
    row.update(cell=cell["id"], trace=cell["trace"], trace_id=cell["trace_id"], version=__version__)
    return row


def _error_row(cell, error, worker=None):
    row = _base_row(cell)
    row.update(error=error, worker=worker)
    return row


def _worker_name():
    if "distributed" in sys.modules:
        try:
            from distributed import get_worker
            return get_worker().address
        except (ImportError, ValueError, AttributeError):
            pass
    return f"{socket.gethostname()}:{os.getpid()}"


_GEN_CACHE = OrderedDict()


def _generated(name, args):
    """A generator's trace, cached per process (the few traces of a sweep, not all of them)."""
    key = _canon([name, args])
    tr = _GEN_CACHE.get(key)
    if tr is None:
        tr = _generator(name)(**args)
        _GEN_CACHE[key] = tr
        while len(_GEN_CACHE) > 4:
            _GEN_CACHE.popitem(last=False)
    else:
        _GEN_CACHE.move_to_end(key)
    return tr


def _uploaded(spec, data):
    """Write an uploaded trace once per machine (named by its hash) and load it like a file."""
    from .trace import load
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"uploaded trace {spec['name']}: got {type(data).__name__}, not bytes")
    if hashlib.sha256(data).hexdigest() != spec["sha256"]:
        raise ValueError(f"uploaded trace {spec['name']}: the bytes do not match its SHA-256")
    d = os.path.join(tempfile.gettempdir(), "pymemcg-sweep")
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, spec["sha256"] + os.path.splitext(spec["name"])[1])
    if not os.path.exists(path):
        tmp = f"{path}.{os.getpid()}.tmp"
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    return load(path)


def run_cell(cell, data=None):
    """Run one cell (in a worker): load or generate its trace, replay it on a fresh Engine
    and return its result row.  Errors of the cell (a bad trace, an invariant broken, ...)
    come back in the row's ``error`` field; an OOM-killed workload is a result, not an error."""
    t0 = time.perf_counter()
    row = _base_row(cell)
    row["worker"] = _worker_name()
    try:
        from .engine import Engine
        from .trace import load
        spec = cell["spec"]
        if spec["kind"] == "path":
            trace = load(spec["path"])
        elif spec["kind"] == "generator":
            trace = _generated(spec["name"], spec["args"])
        else:
            trace = _uploaded(spec, data)
        s = cell["settings"]
        strategies.ensure(cell.get("strategy"))
        eng = Engine(s["ram"], s["swap"], kernel=s["kernel"], hook=s["hook"], swap_account=s["swap_account"],
                     page_cluster=s["page_cluster"], laptop_mode=s["laptop_mode"], seed=s["seed"])
        res = eng.replay(trace, cpus=s["cpus"], sched=s["sched"], seed=s["replay_seed"], sample_every=0,
                         progress=False)
        if cell.get("check", True):
            eng.check()
        row["events"] = int(res.events)
        row["oom_kills"] = int(res.counters["oom_kills"] + res.counters["global_oom_kills"])
        row.update({f"leaks.{k}": int(v) for k, v in res.leaks.items()})
        row.update({f"counters.{k}": int(v) for k, v in res.counters.items()})
        row.update({f"meminfo.{k}": int(v) for k, v in res.meminfo.items()})
        row.update({f"stats.{k}": int(v) for k, v in res.stats.items() if k != "events"})
        row.update({f"faults.{k}": res.faults[k] for k in FAULT_FIELDS})
        row["seconds"] = float(res.seconds)
        row["events_per_s"] = float(res.events_per_s) if math.isfinite(res.events_per_s) else None
    except Exception as e:  # the cell's own failure, recorded in its row
        row["error"] = f"{type(e).__name__}: {e}"
    row["wall_time"] = time.perf_counter() - t0
    return row


# -- results files --------------------------------------------------------------------------


def result_paths(results):
    """(jsonl, csv, compare csv) for a results name: x.jsonl, x.csv or x (no extension)."""
    p = os.fspath(results)
    for ext in (".jsonl", ".csv"):
        if p.endswith(ext):
            p = p[:-len(ext)]
            break
    return p + ".jsonl", p + ".csv", p + ".compare.csv"


def load_results(path):
    """The rows of a results file (.jsonl; a .csv name reads its .jsonl twin), the last row of
    each cell winning.  A line cut short by an interruption is skipped."""
    jsonl = result_paths(path)[0]
    rows = OrderedDict()
    if not os.path.exists(jsonl):
        return []
    with open(jsonl) as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(row, dict) and isinstance(row.get("cell"), str):
                rows.pop(row["cell"], None)
                rows[row["cell"]] = row
    return list(rows.values())


class _Writer:
    """Appends rows to the JSON-lines and CSV files as cells finish; rewrite() compacts both."""

    def __init__(self, results):
        self.jsonl, self.csv, self.compare = result_paths(results)
        d = os.path.dirname(os.path.abspath(self.jsonl))
        os.makedirs(d, exist_ok=True)
        self._j = self._c = None

    def rewrite(self, rows):
        self.close()
        for path, write in ((self.jsonl, self._write_jsonl), (self.csv, self._write_csv)):
            tmp = f"{path}.tmp{os.getpid()}"
            with open(tmp, "w", newline="") as f:
                write(f, rows)
            os.replace(tmp, path)

    @staticmethod
    def _write_jsonl(f, rows):
        for row in rows:
            f.write(json.dumps(row) + "\n")

    @staticmethod
    def _write_csv(f, rows):
        w = csv.DictWriter(f, COLUMNS, extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)

    def open(self):
        self._j = open(self.jsonl, "a")
        self._c = open(self.csv, "a", newline="")
        self._cw = csv.DictWriter(self._c, COLUMNS, extrasaction="ignore")

    def append(self, row):
        self._j.write(json.dumps(row) + "\n")
        self._j.flush()
        self._cw.writerow(row)
        self._c.flush()

    def close(self):
        for f in (self._j, self._c):
            if f is not None:
                f.close()
        self._j = self._c = None


# -- comparisons ----------------------------------------------------------------------------

DELTA_FIELDS = tuple(f"leaks.{k}" for k in LEAK_FIELDS) + (
    "oom_kills", "counters.pswpout", "counters.pswpin", "counters.hook_calls", "counters.hook_freed",
    "counters.pgsteal", "counters.pgscan", "meminfo.SwapCached", "stats.steps", "seconds", "wall_time")


def compare(rows, dims=POLICY_DIMS):
    """Cell-by-cell policy comparisons: for every dimension in dims with more than one value
    among the successful rows, and every pair of cells that differ only in that dimension,
    the deltas (value minus baseline, the baseline being the dimension's first value) of the
    leaks, OOM kills, swap traffic, hook work, page-steps and replay time.  One dict per pair."""
    ok = [r for r in rows if not r.get("error")]
    out = []
    for dim in dims:
        values = []
        for r in ok:
            if r[dim] not in values:
                values.append(r[dim])
        if len(values) < 2:
            continue
        base_value = values[0]
        others = [k for k in SETTING_COLUMNS if k != dim]
        groups = OrderedDict()
        for r in ok:
            groups.setdefault((r["trace_id"],) + tuple(r[k] for k in others), {})[r[dim]] = r
        for group in groups.values():
            base = group.get(base_value)
            if base is None:
                continue
            for v in values[1:]:
                r = group.get(v)
                if r is None:
                    continue
                c = {"dimension": dim, "base": base_value, "value": v, "trace": r["trace"],
                     **{k: r[k] for k in others}, "base_cell": base["cell"], "cell": r["cell"]}
                for f in DELTA_FIELDS:
                    a, b = base.get(f), r.get(f)
                    c[f"d.{f}"] = (b - a) if isinstance(a, (int, float)) and isinstance(b, (int, float)) else None
                a, b = base.get("seconds"), r.get("seconds")
                c["seconds_ratio"] = (b / a) if a and b is not None else None
                out.append(c)
    return out


def _fmt(x):
    if x is None:
        return "-"
    if isinstance(x, float):
        return f"{x:+.3f}"
    return f"{x:+d}" if isinstance(x, int) else str(x)


def summarize(comparisons, rows, max_lines=40):
    """The comparisons as text: per dimension, aggregate deltas, then cell by cell when few."""
    lines = []
    shown = ("leaks.stale_swapcache", "leaks.leaked_swap_entries", "leaks.leaked_memsw", "oom_kills",
             "counters.pswpout", "stats.steps", "seconds")
    by_dim = OrderedDict()
    for c in comparisons:
        by_dim.setdefault((c["dimension"], c["base"], c["value"]), []).append(c)
    # the settings that vary in the table, to name a cell briefly
    varying = [k for k in SETTING_COLUMNS if len({r[k] for r in rows if not r.get("error")}) > 1
               and not (k == "replay_seed" and all(r["replay_seed"] == r["seed"] for r in rows))]
    multi_trace = len({r["trace_id"] for r in rows}) > 1
    for (dim, base, value), cs in by_dim.items():
        lines.append(f"{dim}: {value} vs {base}, {len(cs)} cell pair(s) differing only in {dim}")
        for f in shown:
            ds = [c[f"d.{f}"] for c in cs if c[f"d.{f}"] is not None]
            if not ds:
                continue
            mean = sum(ds) / len(ds)
            less, more = sum(d < 0 for d in ds), sum(d > 0 for d in ds)
            extra = ""
            if f == "seconds":
                ratios = sorted(c["seconds_ratio"] for c in cs if c["seconds_ratio"] is not None)
                if ratios:
                    extra = f", median time ratio x{ratios[len(ratios) // 2]:.3f}"
            lines.append(f"  {f:<28} mean delta {mean:+.3f}  ({less} lower, {more} higher){extra}")
    if comparisons and len(comparisons) <= max_lines:
        lines.append("cell by cell (value minus baseline):")
        head = ["dimension", "cell"] + [f.split(".")[-1] for f in shown]
        table = [head]
        for c in comparisons:
            name = ",".join([f"{k}={c[k]}" for k in varying if k != c["dimension"]]
                            + ([f"trace={c['trace']}"] if multi_trace else [])) or "-"
            table.append([f"{c['dimension']} {c['value']}/{c['base']}", name]
                         + [_fmt(c[f"d.{f}"]) for f in shown])
        widths = [max(len(r[i]) for r in table) for i in range(len(head))]
        for r in table:
            lines.append("  " + "  ".join(x.ljust(w) if i < 2 else x.rjust(w)
                                          for i, (x, w) in enumerate(zip(r, widths))))
    elif comparisons:
        lines.append(f"({len(comparisons)} cell pairs: see the .compare.csv file)")
    return "\n".join(lines)


# -- the report -----------------------------------------------------------------------------


class SweepReport:
    """What a sweep did.  ``rows``: one row per cell of the grid, in table order (resumed rows
    included); ``ran``: ids of the cells run by this call; ``resumed``: ids taken from the
    results file; ``failed``: rows whose cell failed after its retry; ``comparisons``: compare(rows);
    ``paths``: the files written (jsonl, csv, compare) or None."""

    def __init__(self, rows, ran, resumed, seconds, paths, executor):
        self.rows = rows
        self.ran = ran
        self.resumed = resumed
        self.seconds = seconds
        self.paths = paths
        self.executor = executor
        self.failed = [r for r in rows if r.get("error")]
        self.comparisons = compare(rows)

    @property
    def ok(self):
        return not self.failed

    @property
    def cells_per_minute(self):
        return len(self.ran) / self.seconds * 60 if self.seconds > 0 else float("inf")

    def table(self):
        """The rows as columns: {column: [value per cell]}."""
        return {c: [r.get(c) for r in self.rows] for c in COLUMNS}

    def summary(self):
        """The text `pymemcg sweep` prints: counts, throughput, then the policy comparisons."""
        where = f" -> {self.paths[0]}, {self.paths[1]}" if self.paths else ""
        head = (f"sweep: {len(self.rows)} cells: {len(self.ran)} run, {len(self.resumed)} resumed, "
                f"{len(self.failed)} failed on {self.executor}{where}")
        if self.ran:
            head += f"\n  {self.seconds:.1f} s, {self.cells_per_minute:.1f} cells/min"
        body = summarize(self.comparisons, self.rows)
        return head + ("\n" + body if body else "")

    def failures(self):
        """One line per failed cell: id, its settings that matter, the error."""
        return [f"{r['cell']} trace={r['trace']} kernel={r['kernel']} hook={r['hook']} seed={r['seed']} "
                f"cpus={r['cpus']}: {r['error']}" for r in self.failed]


# -- executors ------------------------------------------------------------------------------


def _is_dask_client(obj):
    return type(obj).__module__.split(".")[0] == "distributed" and hasattr(obj, "scatter") and hasattr(obj, "submit")


def _mp_context():
    methods = multiprocessing.get_all_start_methods()
    main_file = getattr(sys.modules.get("__main__"), "__file__", None)
    if main_file and not os.path.exists(main_file) and "fork" in methods:
        # a script read from stdin ("<stdin>"): spawn and forkserver would try to run it again
        return multiprocessing.get_context("fork")
    if "forkserver" in methods:
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(["pymemcg.sweep"])
        return ctx
    return multiprocessing.get_context("spawn")


def default_workers():
    """The machine's cores (those this process may run on)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def _tried(tried, cell, row):
    """The workers a cell has run on so far, oldest first, space-separated ("?": unknown)."""
    seen = tried.setdefault(cell["id"], [])
    seen.append(row.get("worker") or "?")
    return " ".join(seen)


class _Local:
    """Cells on a concurrent.futures executor: our own process pool (a retry then runs in a
    fresh process of its own, and a pool broken by a dying worker is replaced) or one passed in."""

    def __init__(self, executor, workers):
        self.own = executor is None
        self.workers = workers or default_workers()
        self.ctx = _mp_context() if self.own else None
        self.ex = ProcessPoolExecutor(self.workers, mp_context=self.ctx) if self.own else executor
        self.name = (f"local process pool ({self.workers} workers)" if self.own
                     else f"{type(executor).__name__}")

    def run(self, cells, retries, emit):
        pending = list(reversed(cells))
        inflight = {}  # future -> (cell, attempt, executor, whether it is a one-off)
        window = 2 * self.workers if self.own else max(2 * self.workers, 4)
        tried = {}
        try:
            while pending or inflight:
                while pending and len(inflight) < window:
                    cell = pending.pop()
                    inflight[self._submit(self.ex, cell)] = (cell, 1, self.ex, False)
                done, _ = wait(list(inflight), return_when=FIRST_COMPLETED)
                broken = False
                for f in done:
                    cell, attempt, ex, oneoff = inflight.pop(f)
                    if oneoff:
                        ex.shutdown(wait=False)
                    try:
                        row = f.result()
                    except BrokenProcessPool as e:
                        broken = broken or ex is self.ex  # futures of a pool already replaced do not count
                        row = _error_row(cell, f"worker lost: the process running the cell died ({e})")
                    except Exception as e:
                        row = _error_row(cell, f"{type(e).__name__}: {e}")
                    row["attempts"] = attempt
                    row["worker"] = _tried(tried, cell, row)
                    if row.get("error") and attempt <= retries:
                        if self.own:  # a fresh retry: a process of its own
                            one = ProcessPoolExecutor(1, mp_context=self.ctx)
                            inflight[self._submit(one, cell)] = (cell, attempt + 1, one, True)
                        else:
                            inflight[self._submit(self.ex, cell)] = (cell, attempt + 1, self.ex, False)
                    else:
                        emit(row)
                if broken:
                    self.ex.shutdown(wait=False, cancel_futures=True)
                    self.ex = ProcessPoolExecutor(self.workers, mp_context=self.ctx)
        finally:
            for f, (cell, attempt, ex, oneoff) in inflight.items():
                f.cancel()
                if oneoff:
                    _stop_pool(ex)

    @staticmethod
    def _submit(ex, cell):
        return ex.submit(run_cell, cell)

    def close(self, interrupted=False):
        if self.own:
            if interrupted:
                _stop_pool(self.ex)
            else:
                self.ex.shutdown(wait=True)


def _stop_pool(ex):
    """Stop a process pool now: cancel what waits, end the cells that run (an interrupted
    sweep drops them; they run again on resume).  A plain shutdown(wait=False) would leave
    them running, and Python waits for them at exit."""
    procs = list((getattr(ex, "_processes", None) or {}).values())
    ex.shutdown(wait=False, cancel_futures=True)
    for p in procs:
        try:
            p.terminate()
        except Exception:
            pass


class _Dask:
    """Cells on a Dask cluster: client.submit per cell, as_completed; a retry prefers the
    workers that did not fail it; small trace files can travel through client.scatter."""

    def __init__(self, client, workers, out):
        from distributed import Client
        self.own = not _is_dask_client(client)
        self.client = Client(client, set_as_default=False) if self.own else client
        self.name = f"Dask scheduler {getattr(self.client.scheduler, 'address', '?')}"
        if workers:
            print(f"waiting for {workers} Dask workers...", file=out)
            self.client.wait_for_workers(workers)
        link = self._dashboard()
        if link:
            print(f"Dask dashboard: {link}", file=out)
        self.data = {}

    def _dashboard(self):
        try:
            info = self.client.scheduler_info()
            if "dashboard" not in info.get("services", {}):
                return None
            return self.client.dashboard_link
        except Exception:
            return None

    def upload(self, cells, limit):
        """Scatter each trace file's bytes once; cells then name the upload, not the path."""
        by_path = {}
        for cell in cells:
            spec = cell["spec"]
            if spec["kind"] != "path":
                continue
            path = spec["path"]
            if path not in by_path:
                try:
                    size = os.path.getsize(path)
                except OSError as e:
                    raise ConfigError(f"--upload: cannot read trace {path}: {e.strerror}") from None
                if size > limit:
                    raise ConfigError(f"--upload: trace {path} is {size / 2**20:.1f} MiB, over the "
                                      f"{limit / 2**20:.1f} MiB upload limit; put it on a file system every "
                                      f"worker can read and run without --upload")
                with open(path, "rb") as f:
                    data = f.read()
                sha = hashlib.sha256(data).hexdigest()
                self.data[sha] = self.client.scatter(data, hash=False)
                by_path[path] = {"kind": "upload", "name": os.path.basename(path), "sha256": sha}
            cell["spec"] = by_path[path]

    def _workers(self):
        try:
            return list(self.client.scheduler_info(n_workers=-1)["workers"])
        except TypeError:
            return list(self.client.scheduler_info()["workers"])

    def _submit(self, cell, attempt, exclude, token):
        kw = {}
        if exclude:
            others = [w for w in self._workers() if w not in exclude]
            if others:
                kw = {"workers": others, "allow_other_workers": True}
        args = (cell,)
        if cell["spec"]["kind"] == "upload":
            args += (self.data[cell["spec"]["sha256"]],)
        return self.client.submit(run_cell, *args, key=f"pymemcg-cell-{cell['id']}-{token}-{attempt}",
                                  pure=False, **kw)

    def run(self, cells, retries, emit):
        with self.client.as_current():  # as_completed looks the client up
            self._run(cells, retries, emit)

    def _run(self, cells, retries, emit):
        from distributed import as_completed
        token = uuid.uuid4().hex[:8]
        meta = {}
        tried = {}
        futures = []
        for cell in cells:
            f = self._submit(cell, 1, (), token)
            meta[f.key] = (cell, 1, ())
            futures.append(f)
        ac = as_completed(futures)
        del futures
        try:
            for f in ac:
                cell, attempt, exclude = meta.pop(f.key)
                try:
                    row = f.result()  # waits if Dask is recomputing a result lost with its worker
                except (Exception, asyncio.CancelledError, CancelledError) as exc:
                    err = f"{type(exc).__name__}: {exc}"
                    if type(exc).__name__ == "KilledWorker":
                        err = f"worker lost: {err}"
                    row = _error_row(cell, err)
                f.release()
                row["attempts"] = attempt
                worker = row.get("worker")
                row["worker"] = _tried(tried, cell, row)
                if row.get("error") and attempt <= retries:
                    excl = tuple(exclude) + ((worker,) if worker else ())
                    nf = self._submit(cell, attempt + 1, excl, token)
                    meta[nf.key] = (cell, attempt + 1, excl)
                    ac.add(nf)
                else:
                    emit(row)
        finally:
            ac.clear()

    def close(self, interrupted=False):
        for fut in self.data.values():
            fut.release()
        if self.own:
            self.client.close()


# -- run ------------------------------------------------------------------------------------


def run(grid, traces, executor=None, results=None, *, workers=None, upload=False, upload_limit=UPLOAD_LIMIT,
        retries=1, check=True, base_dir=None, progress=True, on_row=None, out=None):
    """Run a sweep and return a SweepReport.

    grid: {key: value or list of values} over GRID_KEYS (Engine settings ram, swap, kernel,
    hook, swap_account, page_cluster, laptop_mode, seed; replay options cpus, sched and
    replay_seed, which defaults to seed).  traces: trace files (.npy/.csv paths, relative to
    base_dir) and generator specs ({"generator": "churn", "rounds": 60, "seed": 1}; list values
    expand).  executor: None (a local process pool of `workers` processes, default one per
    core), a concurrent.futures.Executor, a dask.distributed.Client, or a Dask scheduler
    address.  results: a results file name (x.jsonl, x.csv or x): rows are appended to
    x.jsonl and x.csv as cells finish, cells already there without an error are not run
    again, and x.compare.csv gets the policy comparisons.  upload: (Dask) ship trace files of
    at most upload_limit bytes through the cluster instead of reading them by path.  A cell
    that fails is retried `retries` times (on another worker where there is one); check:
    verify the engine's invariants after each replay.  on_row(row) is called as each cell
    finishes."""
    out = sys.stderr if out is None else out
    dask = executor is not None and (isinstance(executor, str) or _is_dask_client(executor))
    if not dask and executor is not None and not isinstance(executor, Executor):
        raise TypeError("executor must be None, a concurrent.futures.Executor, a dask.distributed.Client "
                        f"or a scheduler address, not {type(executor).__name__}")
    retries = _int(retries, "retries", 0, 100)
    if workers is not None:
        workers = _int(workers, "workers", 1, 100000)
    upload_limit = parse_size(upload_limit, "upload_limit")
    cells = plan(grid, traces, base_dir, check=check, hash_files=True)
    if not dask or upload:
        missing = sorted({c["spec"]["path"] for c in cells
                          if c["spec"]["kind"] == "path" and not os.path.isfile(c["spec"]["path"])})
        if missing:
            raise ConfigError(f"trace file(s) not found: {', '.join(missing)}")

    writer = None
    done = OrderedDict()
    if results is not None:
        writer = _Writer(results)
        ids = {c["id"] for c in cells}
        old = load_results(results)
        # keep every successful row, and the rows of cells outside this grid; failed cells of
        # this grid run again
        kept = [r for r in old if not (r["cell"] in ids and r.get("error"))]
        done.update((r["cell"], r) for r in kept if r["cell"] in ids)
        writer.rewrite(kept)
        foreign = [r for r in kept if r["cell"] not in ids]
    else:
        foreign = []
    resumed = list(done)
    todo = [c for c in cells if c["id"] not in done]
    ran = []

    bar = None
    backend = None
    t0 = time.perf_counter()
    interrupted = False
    try:
        if todo:
            backend = _Dask(executor, workers, out) if dask else _Local(executor, workers)
            if dask and upload:
                backend.upload(todo, upload_limit)
            if progress:
                from tqdm import tqdm
                bar = tqdm(total=len(cells), initial=len(cells) - len(todo), unit="cell", desc="sweep",
                           file=out, dynamic_ncols=True)
            if writer:
                writer.open()
            nfail = [0]

            def emit(row):
                done[row["cell"]] = row
                ran.append(row["cell"])
                if writer:
                    writer.append(row)
                if bar is not None:
                    if row.get("error"):
                        nfail[0] += 1
                        bar.set_postfix(failed=nfail[0])
                    bar.update(1)
                if on_row is not None:
                    on_row(row)

            backend.run(todo, retries, emit)
        executor_name = backend.name if backend else ("Dask" if dask else "local process pool")
    except BaseException:
        interrupted = True
        raise
    finally:
        if bar is not None:
            bar.close()
        if backend is not None:
            backend.close(interrupted)
        if writer:
            writer.close()
    seconds = time.perf_counter() - t0
    rows = [done[c["id"]] for c in cells if c["id"] in done]
    report = SweepReport(rows, ran, resumed, seconds, None, executor_name)
    if writer:
        writer.rewrite(rows + foreign)
        _write_compare(writer.compare, report.comparisons)
        report.paths = (writer.jsonl, writer.csv, writer.compare)
    return report


def _write_compare(path, comparisons):
    cols = ["dimension", "base", "value", "trace"] + [k for k in SETTING_COLUMNS] + ["base_cell", "cell"] + \
           [f"d.{f}" for f in DELTA_FIELDS] + ["seconds_ratio"]
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w", newline="") as f:
        w = csv.DictWriter(f, cols, extrasaction="ignore")
        w.writeheader()
        w.writerows(comparisons)
    os.replace(tmp, path)


# -- config files ---------------------------------------------------------------------------


class Config:
    """A parsed sweep config: grid, traces, options ([sweep] table) and base_dir (the file's folder)."""

    def __init__(self, grid, traces, options, base_dir, path=None):
        self.grid, self.traces, self.options, self.base_dir, self.path = grid, traces, options, base_dir, path

    def results(self):
        """The results file: [sweep] results (relative to the config) or <config stem>.jsonl."""
        r = self.options.get("results")
        if r is None:
            stem = os.path.splitext(self.path)[0] if self.path else "sweep"
            return stem + ".jsonl"
        return os.path.join(self.base_dir, os.path.expanduser(r))


def _toml():
    try:
        import tomllib
    except ImportError:  # Python < 3.11
        import tomli as tomllib
    return tomllib


def parse_config(text, base_dir=".", path=None):
    """A Config from TOML text; ConfigError naming the bad key or value."""
    tomllib = _toml()
    name = path or "<config>"
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{name}: not valid TOML: {e}") from None
    for key in doc:
        if key not in TOP_KEYS:
            raise ConfigError(f"{name}: unknown key {key!r}{_close(key, TOP_KEYS)}; a sweep config has "
                              f"[grid], traces (or [[traces]]) and [sweep]")
    grid = doc.get("grid", {})
    if not isinstance(grid, dict):
        raise ConfigError(f"{name}: grid must be a table ([grid])")
    if "traces" not in doc:
        raise ConfigError(f"{name}: no traces: add traces = [\"a.npy\", {{generator = \"churn\"}}] "
                          f"or [[traces]] tables")
    traces = doc["traces"]
    options = doc.get("sweep", {})
    if not isinstance(options, dict):
        raise ConfigError(f"{name}: sweep must be a table ([sweep])")
    for key in options:
        if key not in OPTION_KEYS:
            raise ConfigError(f"{name}: unknown key sweep.{key}{_close(key, OPTION_KEYS)}; valid keys: "
                              f"{', '.join(OPTION_KEYS)}")
    opts = dict(options)
    try:
        for key in ("results", "scheduler"):
            if key in opts and (not isinstance(opts[key], str) or not opts[key]):
                raise ConfigError(f"sweep.{key} must be a non-empty string, got {opts[key]!r}")
        if "workers" in opts:
            _int(opts["workers"], "sweep.workers", 1, 100000)
        if "retries" in opts:
            _int(opts["retries"], "sweep.retries", 0, 100)
        for key in ("upload", "check"):
            if key in opts:
                _bool(opts[key], f"sweep.{key}")
        if "upload_limit" in opts:
            _size(opts["upload_limit"], "sweep.upload_limit")
        _load_strategies(opts.get("strategies", []), base_dir)
        # every grid value and trace entry is checked now, before anything runs
        normalize_grid(grid)
        _expand_traces(traces, base_dir, hash_files=False)
    except ConfigError as e:
        raise ConfigError(f"{name}: {e}") from None
    return Config(grid, traces, opts, base_dir, path)


def _load_strategies(sources, base_dir):
    """[sweep] strategies: C files (relative to the config) and Python modules, registered so
    that the grid may name them."""
    if not isinstance(sources, list) or not all(isinstance(x, str) and x for x in sources):
        raise ConfigError(f"sweep.strategies must be a list of C files and Python modules, got {sources!r}")
    for source in sources:
        if source.endswith(".c"):
            source = os.path.join(base_dir, os.path.expanduser(source))
        try:
            strategies.load(source)
        except (strategies.StrategyError, OSError) as e:
            raise ConfigError(f"sweep.strategies: {e}") from None


def load_config(path):
    """Read a sweep config file (TOML); see docs/sweep.md for the format."""
    path = os.fspath(path)
    try:
        with open(path, "rb") as f:
            text = f.read().decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text") from None
    return parse_config(text, os.path.dirname(os.path.abspath(path)), path)
