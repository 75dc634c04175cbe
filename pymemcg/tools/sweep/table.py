"""The results table: its columns, and which of them a rerun must reproduce."""
from ..._ffi import ffi
from ...engine import _MEMINFO_NAMES
from ...faults import RATIOS


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
