"""pymemcg: a page-state engine for Linux memory-cgroup reclaim (memcg v1, 2.6.30/2.6.31)."""
import sys

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
# the executors, plot matplotlib).  The tools built on the API live in pymemcg.tools.
SUBMODULES = ("trace", "workloads", "importers", "replay", "faults", "facts", "mix", "sizes", "explore")
TOOLS = ("sweep", "mrc", "bench", "plot", "demo", "cli")


class _ToolAliases:
    """``import pymemcg.sweep`` (and pymemcg.cli, pymemcg.sweep.executors, ...) gives the module
    under pymemcg.tools: one module known by two names, so that the import paths of before the
    move keep working, and objects, pickles and patches are the same whichever name was used.
    A meta path finder, so that nothing of the tools is imported before it is asked for."""

    @staticmethod
    def find_spec(fullname, path=None, target=None):
        parts = fullname.split(".")
        if len(parts) < 2 or parts[0] != __name__ or parts[1] not in TOOLS:
            return None
        import importlib.util
        return importlib.util.spec_from_loader(fullname, _ToolAliases)

    @staticmethod
    def create_module(spec):
        import importlib
        module = importlib.import_module(f"{__name__}.tools.{spec.name.partition('.')[2]}")
        spec.loader_state = module.__spec__     # the import system sets the alias's spec on it
        return module

    @staticmethod
    def exec_module(module):
        module.__spec__ = module.__spec__.loader_state     # the module's own (pymemcg.tools....)


# ahead of the path finder, which would load pymemcg.sweep.executors a second time from the folder
sys.meta_path.insert(0, _ToolAliases)


def __getattr__(name):
    import importlib
    if name in SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    if name in TOOLS:
        return importlib.import_module(f".tools.{name}", __name__)
    raise AttributeError(f"module 'pymemcg' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(SUBMODULES) | set(TOOLS))
