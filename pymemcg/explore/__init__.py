"""Systematic exploration of interleavings (docs/explore.md): every schedule of a scenario's
CPUs (and kswapd) over the engine's stop points, with at most K preemptions, each run to its
end and classified; states already explored are pruned; each bad outcome gets its shortest
reproducer, a trace plus an explicit schedule that Engine.replay reproduces bit for bit.

    from pymemcg import explore
    sc = explore.scenario("exit-vs-reclaim-laptop")
    ex = explore.explore(sc, kernel="2.6.30", hook="none", preemptions=2)
    ex.schedules, ex.pruned, ex.distinct_states, ex.bad
    print("\\n".join(ex.report()))
"""
import os

from ..replay import Schedule
from .compare import compare
from .exploration import Exploration
from .outcome import classify, label
from .reproducer import Reproducer
from .scenario import Scenario
from .search import DEFAULT_MAX_STEPS, explore

SCENARIO_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "scenarios")


def scenarios():
    """The names of the shipped scenarios."""
    return sorted(f[:-len(".toml")] for f in os.listdir(SCENARIO_DIR) if f.endswith(".toml"))


def scenario(name_or_path):
    """A shipped scenario by name, or a scenario from a TOML file."""
    if isinstance(name_or_path, Scenario):
        return name_or_path
    if name_or_path in scenarios():
        return Scenario.load(os.path.join(SCENARIO_DIR, name_or_path + ".toml"))
    if os.path.exists(name_or_path):
        return Scenario.load(name_or_path)
    raise ValueError(f"no scenario {name_or_path!r}: neither a shipped one ({', '.join(scenarios())}) nor a file")


__all__ = ["Scenario", "Schedule", "Exploration", "Reproducer", "explore", "compare", "classify", "label",
           "scenario", "scenarios", "DEFAULT_MAX_STEPS"]
