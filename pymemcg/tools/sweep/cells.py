"""The cells: the plan (one cell per settings x trace, each with a stable id) and one cell's run."""
import hashlib
import itertools
import json
import math
import os
import socket
import sys
import tempfile
import time
from collections import OrderedDict
from ... import strategies

from .grid import ConfigError, GRID_KEYS, normalize_grid
from .table import COLUMNS, FAULT_FIELDS
from .traces import _expand_traces, _generator
from .results import write_atomically


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
    from ... import __version__
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
    from ...trace import load
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"uploaded trace {spec['name']}: got {type(data).__name__}, not bytes")
    if hashlib.sha256(data).hexdigest() != spec["sha256"]:
        raise ValueError(f"uploaded trace {spec['name']}: the bytes do not match its SHA-256")
    d = os.path.join(tempfile.gettempdir(), "pymemcg-sweep")
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, spec["sha256"] + os.path.splitext(spec["name"])[1])
    if not os.path.exists(path):
        with write_atomically(path, "wb") as f:
            f.write(data)
    return load(path)


def run_cell(cell, data=None):
    """Run one cell (in a worker): load or generate its trace, replay it on a fresh Engine
    and return its result row.  Errors of the cell (a bad trace, an invariant broken, ...)
    come back in the row's ``error`` field; an OOM-killed workload is a result, not an error."""
    t0 = time.perf_counter()
    row = _base_row(cell)
    row["worker"] = _worker_name()
    try:
        from ...engine import Engine
        from ...trace import load
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
