"""How fast exploration runs (issue 13, item 6): schedules explored per second for each shipped
scenario, bound 2, 2.6.30 without the hook, in this process (the executor's own cost left out).
extra_info keeps the figures: schedules run (pruned ones included: each is a replay), schedules
per second, steps per second.

The end-to-end figure of the issue (bound-2 exploration of every shipped scenario on the local
pool in under a minute) is what `pymemcg explore SCENARIO --preemptions 2` reports per kernel
and strategy; docs/explore.md has the table.
"""
import pytest

from pymemcg import explore

K = 2


@pytest.mark.parametrize("name", explore.scenarios())
def test_schedules_per_second(benchmark, name):
    sc = explore.scenario(name)
    ex = benchmark.pedantic(explore.explore, args=(sc, "2.6.30", "none", K), kwargs={"executor": "inline"},
                            rounds=3, iterations=1)
    runs = ex.schedules + ex.pruned
    assert ex.schedules > 1
    benchmark.extra_info.update(scenario=name, preemptions=K, schedules=ex.schedules, pruned=ex.pruned,
                                distinct_states=ex.distinct_states, bad=len(ex.bad), steps=ex.steps)
    if benchmark.stats is not None:
        mean = benchmark.stats.stats.mean
        benchmark.extra_info["schedules_per_s"] = runs / mean
        benchmark.extra_info["steps_per_s"] = ex.steps / mean
