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

The package, one file per concern: grid (settings and their checks), table (the columns),
traces, cells (the plan and one cell's run), results (the files), compare, report,
executors, run, config (TOML files).
"""
from .cells import plan, run_cell
from .compare import compare
from .config import Config, load_config, parse_config
from .grid import GRID_KEYS, UPLOAD_LIMIT, ConfigError
from .report import SweepReport
from .results import load_results
from .run import run
from .table import COLUMNS, FAULT_FIELDS, TIMING_FIELDS, deterministic

__all__ = ["run", "load_config", "load_results", "compare", "plan", "run_cell", "deterministic", "ConfigError",
           "SweepReport", "Config", "GRID_KEYS", "COLUMNS", "TIMING_FIELDS", "FAULT_FIELDS", "UPLOAD_LIMIT",
           "parse_config"]
