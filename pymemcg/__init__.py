"""pymemcg: a page-state engine for Linux memory-cgroup reclaim (memcg v1, 2.6.30/2.6.31)."""
from ._ffi import lib as _lib
from . import strategies
from .cgroup import Cgroup
from .engine import Engine, load
from .errors import CgroupError, Error, InvariantError, OutOfMemory, StateError, StrategyError, TaskDead, TraceError
from .sizes import PAGE_SIZE
from .task import Task

# page flag bits of eng.pages.flags, and pte bits of Task.pte()
for _name in dir(_lib):
    if _name.startswith(("PG_", "PCG_", "PTE_", "LRU_")):
        globals()[_name] = getattr(_lib, _name)
del _name

__all__ = ["Engine", "load", "Cgroup", "Task", "Error", "CgroupError", "TaskDead", "InvariantError", "TraceError",
           "StateError", "StrategyError", "OutOfMemory", "PAGE_SIZE", "strategies"]
__version__ = "0.1.0"

# the documented submodules, reachable as attributes; imported on first use (sweep pulls in
# the executors, plot matplotlib)
SUBMODULES = ("trace", "workloads", "importers", "replay", "sweep", "faults", "facts", "mix", "mrc", "bench",
              "plot", "sizes", "explore")


def __getattr__(name):
    if name in SUBMODULES:
        import importlib
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'pymemcg' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(SUBMODULES))
