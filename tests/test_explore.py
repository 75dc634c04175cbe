"""Systematic exploration of interleavings (pymemcg.explore, docs/explore.md): what it must find
in the shipped 2009 scenarios, its schedule count against an independent count, reproducers that
replay bit for bit, the same result on every executor, and precise errors for bad input."""
import json
from collections import Counter
from math import comb

import pytest

import pymemcg
from pymemcg import explore
from pymemcg.errors import TraceError
from pymemcg.explore import Reproducer, Scenario
from pymemcg.explore.run import Runner
from pymemcg.sweep import _toml

EXIT_VS_RECLAIM = ("exit-vs-reclaim-laptop", "exit-vs-reclaim-congested", "exit-vs-reclaim-gather")
K = 2


def kinds(ex):
    """Every leak type (or failure) any schedule of an exploration ended in."""
    return {what for outcome in ex.outcomes for what, _ in outcome}


def independent():
    """Two tasks in two cgroups with plenty of memory: nothing blocks, nothing is shared."""
    sc = Scenario("independent", cpus=2, ram="4M", swap="1M")
    sc.setup.mkdir("x")
    sc.setup.mkdir("y")
    sc.setup.spawn("x", cpu=0, task="a")
    sc.setup.spawn("y", cpu=1, task="b")
    sc.cpu(0).fault("a", 0, 3)
    sc.cpu(1).fault("b", 0, 3)
    return sc


def figures(ex):
    """An exploration's result without its timings."""
    return {k: v for k, v in ex.summary().items() if k not in ("seconds", "schedules_per_s", "subtrees")}


def test_the_2009_scenarios_are_shipped():
    assert set(explore.scenarios()) == {*EXIT_VS_RECLAIM, "readahead-vs-zap", "fork-cow-vs-reclaim",
                                        "munmap-vs-kswapd"}
    for name in explore.scenarios():
        sc = explore.scenario(name)
        assert sc.cpus >= 2 and sc.description
        assert Scenario.from_dict(_toml().loads(sc.to_toml())).build().trace.tobytes() == \
            sc.build().trace.tobytes()


@pytest.mark.parametrize("name", EXIT_VS_RECLAIM)
def test_exit_vs_reclaim_type2_without_the_hook_none_with_seed(name):
    sc = explore.scenario(name)
    none = explore.explore(sc, "2.6.30", "none", K, executor="inline")
    seed = explore.explore(sc, "2.6.30", "seed", K, executor="inline")
    assert "stale_swapcache_type2" in kinds(none)
    assert none.bad and all(rep.verified for rep in none.reproducers.values())
    assert seed.bad == {} and seed.outcomes == {(): seed.schedules}
    assert seed.schedules > 50 and none.schedules > 50           # the bound lets the race happen


def test_the_congested_scenario_keeps_pages_because_the_device_is_congested():
    """Its reclaim keeps the page by the congested path (pageout_keep without a parked reference),
    not by another one: the reproducer's run keeps pages the setup alone does not."""
    sc = explore.scenario("exit-vs-reclaim-congested")
    ex = explore.explore(sc, "2.6.30", "none", K, executor="inline")
    rep = min(ex.reproducers.values(), key=lambda r: (r.preemptions, r.steps))
    eng, outcome, _ = rep.replay()
    setup = pymemcg.Engine(**rep.settings)
    built = sc.build()
    setup.replay(built.trace[:built.first_program], sc.cpus, progress=False, sample_every=0)
    assert eng.counters()["pageout_keep"] > setup.counters()["pageout_keep"]
    assert eng.counters()["free_swap_trylock_failed"] == 0 or outcome


@pytest.mark.parametrize("hook", ["none", "seed"])
def test_readahead_leaks_memsw_on_2630_not_on_2631(hook):
    sc = explore.scenario("readahead-vs-zap")
    old = explore.explore(sc, "2.6.30", hook, K, executor="inline")
    new = explore.explore(sc, "2.6.31", hook, K, executor="inline")
    assert {"stale_swapcache_type1", "leaked_memsw"} <= kinds(old)
    assert "stale_swapcache_type1" in kinds(new) and "leaked_memsw" not in kinds(new)


def test_a_scenario_without_concurrency_has_one_schedule_and_one_outcome():
    sc = Scenario("serial", cpus=1, ram="4M", swap="1M")
    sc.setup.mkdir("x")
    sc.setup.spawn("x", task="a")
    sc.cpu(0).fault("a", 0, 4)
    sc.cpu(0).exit("a")
    ex = explore.explore(sc, preemptions=None, executor="inline")
    assert (ex.schedules, ex.pruned, ex.distinct_states) == (1, 0, 1)
    assert ex.outcomes == {(): 1}


def test_unbounded_schedule_count_is_the_multinomial_of_the_step_sequences():
    """When nothing blocks, the schedules are the ways to merge the actors' step sequences:
    (n0 + n1)! / (n0! n1!), with n0, n1 counted from one run's step log."""
    sc = independent()
    built = sc.build()
    run = Runner(sc.engine_settings(), built.trace, sc.cpus, 10_000).run((), log=True)
    n = Counter(int(a) for a in run.steps["actor"][run.steps["event"] >= built.first_program])
    assert sorted(n) == [0, 1] and min(n.values()) >= 3
    ex = explore.explore(sc, preemptions=None, prune=False, executor="inline")
    assert ex.schedules == comb(n[0] + n[1], n[0])
    assert ex.pruned == 0 and ex.bad == {}
    bounded = [explore.explore(sc, preemptions=k, prune=False, executor="inline").schedules for k in range(4)]
    assert bounded == sorted(bounded) and bounded[0] < ex.schedules       # the bound cuts, more K cuts less


def test_pruning_keeps_every_outcome_and_final_state():
    sc = explore.scenario("exit-vs-reclaim-laptop")
    full = explore.explore(sc, "2.6.30", "none", K, prune=False, executor="inline")
    pruned = explore.explore(sc, "2.6.30", "none", K, executor="inline")
    assert pruned.pruned > 0 and pruned.schedules < full.schedules
    assert set(pruned.outcomes) == set(full.outcomes)
    assert pruned.distinct_states == full.distinct_states


def test_reproducers_are_shortest_and_replay_bit_for_bit(tmp_path):
    sc = explore.scenario("exit-vs-reclaim-laptop")
    ex = explore.explore(sc, "2.6.30", "none", K, executor="inline")
    assert ex.reproducers
    for outcome, rep in ex.reproducers.items():
        # Engine.replay with the schedule reaches the very state the exploration recorded
        eng = pymemcg.Engine(**rep.settings)
        eng.replay(rep.trace, rep.cpus, sched=rep.schedule, sample_every=0, progress=False)
        assert eng.state_hash() == rep.state_hash
        assert explore.classify(eng) == outcome
        # no schedule with fewer preemptions reaches it
        if rep.preemptions:
            fewer = explore.explore(sc, "2.6.30", "none", rep.preemptions - 1, executor="inline")
            assert outcome not in fewer.outcomes
        # the saved artefact replays the same
        path = tmp_path / "rep.json"
        rep.save(path)
        back = Reproducer.load(path)
        assert back.verify()
        table = rep.table().splitlines()
        assert table[0].split("|")[0].strip() == "CPU0" and table[0].split("|")[1].strip() == "CPU1"
        assert any(line.lstrip().startswith("[exit a]") for line in table)
        assert any("*" in line for line in table[2:])                  # the preemption is marked


def test_a_step_bound_reports_unfinished_and_never_hangs():
    sc = explore.scenario("exit-vs-reclaim-laptop")
    unfinished = (("unfinished", "step-bound"),)
    ex = explore.explore(sc, "2.6.30", "none", 1, max_steps=30, executor="inline")
    # a schedule where the exit goes first leaves reclaim nothing to scan: it ends within 30 steps
    assert set(ex.outcomes) == {(), unfinished} and ex.outcomes[unfinished] > ex.outcomes[()]
    rep = ex.reproducers[unfinished]
    assert rep.verified and rep.steps == 30
    assert unfinished not in explore.explore(sc, "2.6.30", "none", 1, executor="inline").outcomes


def test_cli_json_and_table(capsys):
    from pymemcg.cli import main
    assert main(["explore", "exit-vs-reclaim-laptop", "--kernels", "2.6.30,2.6.31", "--hooks", "none,seed",
                 "--preemptions", "1", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [(o["kernel"], o["hook"]) for o in out] == [("2.6.30", "none"), ("2.6.30", "seed"),
                                                      ("2.6.31", "none"), ("2.6.31", "seed")]
    assert out[0]["bad"] and out[1]["bad"] == []
    assert all(b["verified"] and "CPU0" in b["table"] for b in out[0]["bad"])
    assert main(["explore", "exit-vs-reclaim-laptop", "--kernels", "2.6.30", "--hooks", "none",
                 "--preemptions", "1", "--no-progress"]) == 0
    text = capsys.readouterr().out
    assert "schedules explored" in text and "stale_swapcache_type2" in text and "CPU0" in text


def test_cli_hooks_default_to_every_registered_strategy(capsys):
    from pymemcg import strategies
    from pymemcg.cli import main
    assert main(["explore", "exit-vs-reclaim-laptop", "--kernels", "2.6.30", "--preemptions", "0", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [o["hook"] for o in out] == strategies.names() and "uncharge-at-free" in strategies.names()
    with pytest.raises(SystemExit) as e:
        main(["explore", "exit-vs-reclaim-laptop", "--hooks", "nope", "--no-progress"])
    assert e.value.code == 2 and "invalid choice: 'nope'" in capsys.readouterr().err


@pytest.mark.parametrize("argv,message", [
    (["--kernels", "2.6.99"], "unknown kernel '2.6.99'"),
    (["--preemptions", "-1"], "--preemptions must be a non-negative integer"),
    (["--preemptions", "two"], "--preemptions must be a non-negative integer"),
])
def test_cli_bad_input(argv, message, capsys):
    from pymemcg.cli import main
    assert main(["explore", "exit-vs-reclaim-laptop", "--no-progress", *argv]) == 2
    assert message in capsys.readouterr().err


def test_bad_input_gets_precise_exceptions(tmp_path):
    sc = explore.scenario("exit-vs-reclaim-laptop")
    with pytest.raises(ValueError, match="preemptions must be a non-negative int"):
        explore.explore(sc, preemptions=-1)
    with pytest.raises(ValueError, match="hook must be a registered strategy"):
        explore.explore(sc, hook="nope", executor="inline")
    with pytest.raises(ValueError, match="no scenario 'nope'"):
        explore.scenario("nope")
    cases = {
        "not = [toml": "not TOML",
        'name = "x"\nbogus = 1\n[programs]\ncpu0 = []': "unknown key(s) bogus",
        '[programs]\ncpu0 = [{ op = "explode" }]': "unknown operation 'explode'",
        '[programs]\ncpu0 = [{ op = "fault", vpn = 0 }]': "fault: missing task",
        '[programs]\ncpu0 = [{ op = "exit", task = "ghost" }]': "no task 'ghost'",
        '[programs]\ncpu1 = []': "[programs] keys must be cpu0",
        'setup = [{ op = "spawn", cgroup = "", task = "a", cpu = 1 }]\n[programs]\ncpu0 = [{ op = "exit", task = "a" }]\n'
        'cpu1 = []': "task a runs on cpu 1, not in CPU 0's program",
        '[machine]\nram = "lots"\n[programs]\ncpu0 = []': "ram",
    }
    for text, message in cases.items():
        path = tmp_path / "bad.toml"
        path.write_text(text)
        with pytest.raises(TraceError) as e:
            Scenario.load(path)
        assert message in str(e.value), (text, str(e.value))
    with pytest.raises(TypeError, match="actor number"):
        pymemcg.replay.Schedule(["a"])
    eng = pymemcg.Engine(**sc.engine_settings())
    with pytest.raises(ValueError, match="schedule choice 0"):
        eng.replay(sc.build().trace, sc.cpus, sched=[5], sample_every=0, progress=False)

