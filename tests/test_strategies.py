"""Reclaim strategies as plugins (docs/strategies.md): the registry, a strategy compiled from a C
file outside the project and one written in Python, what the engine refuses them, each hook
point reached where the header says, and a user strategy wherever a shipped one runs (replay,
step API, copy/save/load, CLI, bench, sweeps on the local process pool)."""
import json
import os
import pathlib
import re
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import pymemcg
from pages import flags, pfn_of
from pymemcg import PCG_LINKED, PCG_USED, PG_anon, PG_buddy, PG_locked, PG_swapcache, StrategyError, strategies
from pymemcg import workloads
from pymemcg.tools.cli import main

ROOT = pathlib.Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "strategies.md"
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)
P = pymemcg.PAGE_SIZE
KERNELS = ("2.6.30", "2.6.31")


def doc_block(lang, index=0):
    return [body for kind, body in FENCE.findall(DOC.read_text()) if kind == lang][index]


@pytest.fixture(scope="session", autouse=True)
def strategy_cache(tmp_path_factory):
    """Compiled strategies go to a scratch cache (inherited by subprocesses and sweep workers)."""
    old = os.environ.get("PYMEMCG_CACHE_DIR")
    os.environ["PYMEMCG_CACHE_DIR"] = str(tmp_path_factory.mktemp("strategy-cache"))
    yield
    if old is None:
        del os.environ["PYMEMCG_CACHE_DIR"]
    else:
        os.environ["PYMEMCG_CACHE_DIR"] = old


@pytest.fixture
def registered():
    """Strategies registered by the test are forgotten after it."""
    before = set(strategies.names())
    yield
    for name in strategies.names():
        if name not in before:
            strategies.unregister(name)


@pytest.fixture
def my_seed(tmp_path, registered):
    """docs/strategies.md's C example, a file outside the project, compiled and registered."""
    path = tmp_path / "my_seed.c"
    path.write_text(doc_block("c"))
    return strategies.compile(path)


def same_state(a, b):
    for k in a.pages.keys():
        np.testing.assert_array_equal(a.pages[k], b.pages[k], err_msg=k)
    np.testing.assert_array_equal(a.swap_map, b.swap_map)
    np.testing.assert_array_equal(a.swap_cgroup, b.swap_cgroup)
    assert a.counters() == b.counters() and a.meminfo() == b.meminfo() and a.leaks() == b.leaks()
    assert a.io() == b.io()


def churn_pair(kernel, hooks, rounds=60):
    trace = workloads.churn(rounds, cpus=2, seed=0)
    out = []
    for hook in hooks:
        eng = pymemcg.Engine("256M", "4M", kernel=kernel, hook=hook)
        eng.replay(trace, cpus=2, progress=False)
        out.append(eng)
    return out


def type2_laptop(eng, n=4):
    """K4.1 by the laptop-mode keep path (as tests/test_races.py): n pages unmapped behind reclaim."""
    x = eng.mkdir("x")
    a = eng.spawn(x)
    a.fault(range(n))
    eng.shrink_active_list(x, n)
    eng.laptop_mode = True
    b = eng.isolate(x, n)
    b.step_until("add_to_swap", page=0)
    a.zap(range(n), flush=True)
    res = eng.shrink_page_list(b)
    eng.laptop_mode = False
    return x, res


# -- the registry -----------------------------------------------------------------------------


def test_shipped_strategies_are_registered_once_in_the_cores_order():
    assert strategies.names()[:3] == ["none", "seed", "uncharge-at-free"]
    assert strategies.shipped() == ["none", "seed", "uncharge-at-free"]
    none, seed, uaf = (strategies.get(n) for n in strategies.shipped())
    assert none.hooks == () and seed.hooks == ("after_add_to_swap",)
    assert uaf.hooks == ("page_remove_rmap", "delete_from_swap_cache", "free_hot_cold_page")
    assert uaf.counters == ("deferred_at_unmap", "deferred_at_swapcache_delete", "uncharged_at_free")
    assert all(s.doc and s.kind == "shipped" for s in (none, seed, uaf))
    assert strategies.spec("seed") is None                          # every process has them


@pytest.mark.parametrize("bad", ["nope", 5, None, "SEED"])
def test_an_unregistered_name_is_refused_naming_the_registered_ones(bad):
    with pytest.raises(ValueError, match="none, seed, uncharge-at-free"):
        pymemcg.Engine("8M", "8M", hook=bad)


def test_shipped_strategies_cannot_be_replaced(registered):
    with pytest.raises(StrategyError, match="already registered"):
        strategies.register("seed", after_add_to_swap=lambda page: None)
    with pytest.raises(StrategyError, match="cannot be unregistered"):
        strategies.unregister("none")
    strategies.register("mine", after_add_to_swap=lambda page: None)
    with pytest.raises(StrategyError, match="replace=True"):
        strategies.register("mine", after_add_to_swap=lambda page: None)
    assert strategies.register("mine", replace=True, page_remove_rmap=lambda page: None).hooks == ("page_remove_rmap",)


@pytest.mark.parametrize("kwargs,error", [
    (dict(name="Bad Name"), ValueError), (dict(name="x" * 41), ValueError), (dict(name=""), ValueError),
    (dict(name="ok", after_add_to_swapp=print), ValueError), (dict(name="ok", after_add_to_swap=3), TypeError),
    (dict(name="ok", counters=["a", "a"]), ValueError), (dict(name="ok", counters=["A"]), ValueError),
    (dict(name="ok", counters=[f"c{i}" for i in range(9)]), ValueError), (dict(name="ok", doc=1), TypeError),
])
def test_register_checks_its_arguments(kwargs, error, registered):
    name = kwargs.pop("name")
    with pytest.raises(error):
        strategies.register(name, **kwargs)
    assert name not in strategies.names()


# -- C strategies -------------------------------------------------------------------------------


@pytest.mark.parametrize("kernel", KERNELS)
def test_the_docs_c_strategy_takes_exactly_the_seeds_decisions(kernel, my_seed):
    assert my_seed.name == "my-seed" and my_seed.kind == "c" and my_seed.counters == ("freed",)
    seed, mine = churn_pair(kernel, ["seed", "my-seed"])
    same_state(seed, mine)
    assert mine.counters()["hook_freed"] == mine.strategy_counters()["freed"] > 0


def test_a_compiled_strategy_on_the_step_api(my_seed):
    eng = pymemcg.Engine("64M", "64M", hook="my-seed")
    x, res = type2_laptop(eng)
    assert res["hook_calls"] == res["hook_freed"] == 4 and eng.strategy_counters() == {"freed": 4}
    assert eng.leaks()["stale_swapcache"] == 0 and eng.meminfo()["MemFree"] == eng.meminfo()["MemTotal"]


def test_compile_error_carries_the_compilers_message(tmp_path):
    path = tmp_path / "broken.c"
    path.write_text('#include "pymemcg_strategy.h"\nstatic int32_t f(const struct pmc_ctx *c, int32_t pfn)\n'
                    '{\n\treturn pfn +;\n}\n')
    with pytest.raises(StrategyError) as e:
        strategies.compile(path)
    msg = str(e.value)
    assert f"compiling {path} failed" in msg and f"{path}:4" in msg and "error" in msg


@pytest.mark.parametrize("body,match", [
    ("static const struct pmc_strategy t = { PMC_STRATEGY_INIT, .name = \"x\" };\n", "PMC_EXPORT"),
    ("static const struct pmc_strategy t = { .abi = 7, .size = sizeof(struct pmc_strategy), .name = \"x\" };\n"
     "PMC_EXPORT(t);\n", "interface 7"),
    ("static const struct pmc_strategy t = { .abi = PMC_STRATEGY_ABI, .size = 16, .name = \"x\" };\n"
     "PMC_EXPORT(t);\n", "PMC_STRATEGY_INIT"),
    ("static const struct pmc_strategy t = { PMC_STRATEGY_INIT, .name = \"Not Valid\" };\nPMC_EXPORT(t);\n",
     "strategy name"),
    ("static const struct pmc_strategy t = { PMC_STRATEGY_INIT };\nPMC_EXPORT(t);\n", "strategy name"),
    ("static const struct pmc_strategy t = { PMC_STRATEGY_INIT, .name = \"x\", .counters = { \"a\", 0, \"b\" } };\n"
     "PMC_EXPORT(t);\n", "counter 2 is named"),
])
def test_a_malformed_table_is_refused_before_anything_runs(tmp_path, body, match, registered):
    path = tmp_path / "t.c"
    path.write_text('#include "pymemcg_strategy.h"\n' + body)
    with pytest.raises(StrategyError, match=match):
        strategies.compile(path)
    assert strategies.names() == strategies.shipped()


def test_compile_is_cached_and_a_changed_file_needs_replace(tmp_path, registered):
    path = tmp_path / "s.c"
    path.write_text(doc_block("c"))
    first = strategies.compile(path)
    assert strategies.compile(path) is first                         # the same file: nothing to do
    path.write_text(doc_block("c").replace('"my-seed"', '"my-seed"  /* edited */'))
    with pytest.raises(StrategyError, match="already registered"):
        strategies.compile(path)
    assert strategies.compile(path, name="my-seed-2").name == "my-seed-2"
    with pytest.raises(ValueError, match="strategy name"):
        strategies.compile(path, name="No Good")


def test_the_header_ships_with_the_package(tmp_path):
    """An installed (not editable) pymemcg compiles a strategy against the header it carries:
    setup.py build_py lays the package out as a wheel would (package data included), the
    built core is added, and a fresh interpreter that sees only that copy compiles the docs'
    strategy and runs it."""
    if not (ROOT / "setup.py").exists():
        pytest.skip("not a source tree (tests/test_sanitized.py runs a copy of the package): no setup.py to lay out "
                    "an installed package with")
    lib = tmp_path / "site"
    p = subprocess.run([sys.executable, "setup.py", "-q", "build_py", "--build-lib", str(lib)], cwd=ROOT,
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stderr[-2000:]
    assert (lib / "pymemcg" / "include" / "pymemcg_strategy.h").is_file()
    core = next(pathlib.Path(pymemcg.__file__).parent.glob("_core*.so"))
    shutil.copy(core, lib / "pymemcg")
    (tmp_path / "my_seed.c").write_text(doc_block("c"))
    code = textwrap.dedent(f"""
        import json, pymemcg
        from pymemcg import strategies
        s = strategies.compile({str(tmp_path / "my_seed.c")!r})
        eng = pymemcg.Engine("8M", "8M", hook=s.name)
        print(json.dumps([pymemcg.__file__, strategies.include_dir(), s.name]))
    """)
    env = dict(os.environ, PYTHONPATH=str(lib))
    p = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True,
                       timeout=120)
    assert p.returncode == 0, p.stderr[-3000:]
    where, include, name = json.loads(p.stdout.strip().splitlines()[-1])
    assert where.startswith(str(lib)) and include == str(lib / "pymemcg" / "include") and name == "my-seed"


# -- Python strategies --------------------------------------------------------------------------


def test_the_docs_python_strategy_is_bit_identical_to_the_c_seed(registered):
    exec(compile(doc_block("python", 1), str(DOC), "exec"), {})
    for kernel in KERNELS:
        seed, py = churn_pair(kernel, ["seed", "py-seed"])
        same_state(seed, py)
        assert py.strategy_counters() == {"freed": py.counters()["hook_freed"]}
    seed, py = (pymemcg.Engine("64M", "64M", hook=h) for h in ("seed", "py-seed"))
    for eng in (seed, py):
        type2_laptop(eng)
    same_state(seed, py)


def defer_at_unmap(page):
    page.kernel.count("deferred_at_unmap")
    return strategies.DEFER


def defer_at_swapcache_delete(page):
    page.kernel.count("deferred_at_swapcache_delete")
    return strategies.DEFER


def count_free(page):
    page.kernel.count("uncharged_at_free")


@pytest.mark.parametrize("kernel", KERNELS)
def test_uncharge_at_free_in_python_is_the_shipped_one(kernel, registered):
    strategies.register("py-uaf", counters=strategies.get("uncharge-at-free").counters,
                        page_remove_rmap=defer_at_unmap, delete_from_swap_cache=defer_at_swapcache_delete,
                        free_hot_cold_page=count_free)
    c, py = churn_pair(kernel, ["uncharge-at-free", "py-uaf"], rounds=40)
    same_state(c, py)
    assert c.strategy_counters() == py.strategy_counters() and c.strategy_counters()["uncharged_at_free"] > 0


class Boom(Exception):
    pass


def test_an_exception_in_a_python_hook_reaches_the_caller_and_leaves_the_engine_consistent(registered):
    calls = []

    def explode(page):
        calls.append(page.pfn)
        raise Boom(f"page {page.pfn}")

    strategies.register("boom", after_add_to_swap=explode)
    eng = pymemcg.Engine("64M", "64M", hook="boom")
    x = eng.mkdir("x")
    a = eng.spawn(x)
    a.fault(range(8))
    eng.shrink_active_list(x, 8)
    with pytest.raises(Boom, match="page") as e:
        eng.shrink_page_list(eng.isolate(x, 8))
    assert len(calls) == 1                      # the rest of the call went on with GO_ON
    if hasattr(e.value, "__notes__"):
        assert "after_add_to_swap hook of Python strategy 'boom'" in e.value.__notes__[0]
    eng.check()
    assert eng.counters()["swapouts"] == 8 and eng.counters()["hook_calls"] == 8
    # the next call runs the strategy again, and a replay runs to its end before raising
    a.fault(range(8, 16))
    eng.shrink_active_list(x, 8)
    with pytest.raises(Boom):
        eng.shrink_page_list(eng.isolate(x, 16))
    assert len(calls) == 2
    eng.check()
    trace = workloads.churn(20, cpus=2, seed=1)
    other = pymemcg.Engine("256M", "4M", hook="boom")
    with pytest.raises(Boom):
        other.replay(trace, cpus=2, progress=False)
    assert len(calls) == 3
    other.check()
    assert int(other.pages.count.sum()) > 0 and other.replay(trace[:0], cpus=2, progress=False).events == 0


def test_a_python_hook_returning_garbage_is_an_error_not_a_decision(registered):
    strategies.register("garbage", after_add_to_swap=lambda page: "keep")
    eng = pymemcg.Engine("64M", "64M", hook="garbage")
    x = eng.mkdir("x")
    a = eng.spawn(x)
    a.fault(range(2))
    eng.shrink_active_list(x, 2)
    with pytest.raises(ValueError, match="invalid literal"):
        eng.shrink_page_list(eng.isolate(x, 2))
    eng.check()


# -- safety ---------------------------------------------------------------------------------------


def test_what_the_kernel_would_not_allow_is_refused(registered):
    """Freeing the swap of a page the hook does not hold locked, uncharging a mapped or a cached
    page, uncharging twice, and answers a hook point does not take: each refused and counted,
    the engine consistent after every call."""
    seen = {}

    def at_unmap(page):                          # page_remove_rmap: not locked, unmapped, charged
        seen["unmap_free_swap"] = page.try_to_free_swap()
        seen["uncharge"] = page.uncharge()
        seen["uncharge_twice"] = page.uncharge()
        return strategies.ACTIVATE               # not an answer for page_remove_rmap

    def after_add(page):                         # in the swap cache, locked, still mapped
        seen["uncharge_cached"] = page.uncharge()
        seen["mapped"] = page.mapped
        return strategies.DEFER                  # not an answer for after_add_to_swap

    strategies.register("rude", page_remove_rmap=at_unmap, after_add_to_swap=after_add)
    eng = pymemcg.Engine("64M", "64M", hook="rude")
    x = eng.mkdir("x")
    a = eng.spawn(x)
    a.fault(range(2))
    eng.shrink_active_list(x, 2)
    b = eng.isolate(x, 1)
    b.step_until("unmap", page=0)                # after_add_to_swap ran
    assert seen == {"uncharge_cached": False, "mapped": True}
    assert eng.counters()["strategy_refused"] == 2
    eng.shrink_page_list(b)
    eng.end_writeback()
    a.zap(1, flush=True)                         # the unswapped page's last unmap
    assert seen["unmap_free_swap"] is False and seen["uncharge"] is True and seen["uncharge_twice"] is False
    assert eng.counters()["strategy_refused"] == 2 + 3
    assert x.usage_in_bytes == P                 # page 1 uncharged once (by the strategy); page 0 is in the swap cache
    eng.check()


def test_a_c_strategy_that_oversteps_is_refused(tmp_path, registered):
    path = tmp_path / "bad.c"
    path.write_text(textwrap.dedent("""\
        #include "pymemcg_strategy.h"
        static int32_t grab(const struct pmc_ctx *c, int32_t pfn)
        {
        	/* another page's swap, a page out of range, a read out of range: all refused */
        	c->api->try_to_free_swap(c, pfn + 1);
        	c->api->try_to_free_swap(c, (int32_t)c->nr_pages);
        	if (c->api->page_flags(c, -1) || c->api->swap_cgroup(c, 0))
        		return 99;
        	return 42;                  /* and an answer no hook point takes */
        }
        static const struct pmc_strategy t = { PMC_STRATEGY_INIT, .name = "grabby", .after_add_to_swap = grab };
        PMC_EXPORT(t);
        """))
    strategies.compile(path)
    eng = pymemcg.Engine("64M", "64M", hook="grabby")
    x, res = type2_laptop(eng, n=2)
    assert res["hook_calls"] == 2 and res["hook_freed"] == 0
    assert eng.counters()["strategy_refused"] == 2 * 5
    assert eng.leaks()["stale_swapcache"] == 2                      # as without any hook
    eng.check()


# -- every hook point, where the header says ---------------------------------------------------------


def test_every_hook_point_is_reached_with_what_its_comment_promises(registered):
    log = []

    def rec(hook):
        def fn(*args):
            page = next(a for a in args if isinstance(a, strategies.Page))
            log.append((hook, page.locked, page.swapcache, page.mapped, page.charged))
            if hook == "page_remove_rmap":
                return strategies.DEFER          # so that a charged page reaches free_hot_cold_page
        return fn

    strategies.register("probe", **{h: rec(h) for h in strategies.HOOKS})
    eng = pymemcg.Engine("64M", "64M", hook="probe", page_cluster=0)
    x = eng.mkdir("x")
    a, b, c = eng.spawn(x), eng.spawn(x), eng.spawn(x)
    a.fault(range(4))
    b.fault(range(4))
    eng.shrink_active_list(x, 8)
    eng.shrink_page_list(eng.isolate(x, 8))      # add_to_swap; pageout starts the writes (keep exits)
    eng.end_writeback()                          # swapped out, still in the swap cache
    a.fault(0)                                   # do_swap_page of a cache hit
    a.zap(1, flush=True)                         # free_swap_and_cache, then delete_from_swap_cache
    c.fault(range(2))
    c.exit()                                     # last unmaps (deferred), then the frees
    eng.check()
    seen = {h for h, *_ in log}
    assert seen >= {"after_add_to_swap", "shrink_page_list_exit", "do_swap_page", "free_swap_and_cache",
                    "page_remove_rmap", "free_hot_cold_page", "delete_from_swap_cache"}
    for hook, locked, cached, mapped, charged in log:
        if hook == "after_add_to_swap":
            assert locked and cached
        if hook == "page_remove_rmap":
            assert not mapped and charged and not cached
        if hook == "delete_from_swap_cache":
            assert locked and not cached and not mapped and charged
        if hook == "free_hot_cold_page":
            assert charged and not mapped
        if hook == "do_swap_page":
            assert locked and mapped


def reclaim_cache_only(slot, page):
    return strategies.RECLAIM


@pytest.mark.parametrize("kernel", KERNELS)
def test_scan_swap_map_may_reuse_stale_slots_on_both_kernels(kernel, registered):
    """tests/test_races.py's reuse scenario with swap less than half used, where 2.6.31 itself
    passes the four stale slots by (and 2.6.30 always does): a strategy answering RECLAIM has
    the allocator reclaim them through the kernel's own __try_to_reclaim_swap and take them."""
    from test_races import make_stale, swap_out
    strategies.register("reuse", scan_swap_map=reclaim_cache_only)
    eng = pymemcg.Engine(ram="4M", swap="1M", kernel=kernel, hook="reuse")
    x, y = eng.mkdir("x"), eng.mkdir("y")
    o = eng.spawn(y)
    o.fault(0)
    swap_out(eng, y)
    stale = make_stale(eng, x)
    f = eng.spawn(y)
    f.fault(range(249))
    swap_out(eng, y)
    assert eng.counters()["swap_reuse"] == 0 and eng.leaks()["stale_swapcache"] == 4
    f.munmap(range(135))
    o.exit()
    assert not eng.io()["vm_swap_full"]
    p = eng.spawn(y)
    p.fault(range(1000, 1005))
    swap_out(eng, y)
    assert [p.pte(v) >> pymemcg.PTE_SHIFT for v in range(1000, 1005)] == [1, 2, 3, 4, 5]
    assert eng.counters()["swap_reuse"] == 4 and eng.leaks()["stale_swapcache"] == 0
    assert all(flags(eng, q) & PG_buddy for q in stale)


def keep_locked_cache(slot, page, locked):
    return strategies.KEEP_CACHE if locked else strategies.GO_ON


def test_free_swap_and_cache_may_keep_the_page_in_the_swap_cache(registered):
    strategies.register("keeper", free_swap_and_cache=keep_locked_cache)
    out = {}
    for hook in ("none", "keeper"):
        eng = pymemcg.Engine("64M", "64M", hook=hook)
        x = eng.mkdir("x")
        a = eng.spawn(x)
        a.fault(0)
        eng.shrink_active_list(x, 1)
        eng.shrink_page_list(eng.isolate(x, 1))             # written: in the swap cache, unmapped
        eng.end_writeback()
        a.zap(0, flush=True)                                # its swap pte goes
        out[hook] = (eng.meminfo()["SwapCached"] // P, eng.leaks()["orphan_charged_swapcache"])
    assert out == {"none": (0, 0), "keeper": (1, 1)}


def activate_instead(page, exit):
    return strategies.ACTIVATE if exit == strategies.EXIT_KEEP_LOCKED else strategies.GO_ON


def test_shrink_page_list_exit_may_take_the_other_locked_exit(registered):
    strategies.register("activator", shrink_page_list_exit=activate_instead)
    eng = pymemcg.Engine("64M", "64M", hook="activator")
    x, res = type2_laptop(eng, n=2)                          # laptop mode: keep_locked exits
    assert res["activated"] == 2 and x.stat()["active_anon"] == 0   # uncharged pages: zone list only
    assert eng.meminfo()["Active(anon)"] == 2 * P
    eng.check()


# -- a user strategy wherever a shipped one runs ------------------------------------------------------


def test_copy_save_and_load_keep_the_strategy_and_its_counters(my_seed, tmp_path):
    eng = pymemcg.Engine("64M", "64M", hook="my-seed")
    type2_laptop(eng)
    assert eng.strategy_counters() == {"freed": 4}
    assert eng.copy().strategy_counters() == {"freed": 4}
    other = eng.copy(hook="uncharge-at-free")
    assert other.hook == "uncharge-at-free" and set(other.strategy_counters().values()) == {0}
    eng.save(tmp_path / "e.npz")
    back = pymemcg.load(tmp_path / "e.npz")
    assert back.hook == "my-seed" and back.strategy_counters() == {"freed": 4}
    # a fresh process compiles the strategy again from what save() recorded
    code = ("import pymemcg; e = pymemcg.load(%r); e.check(); print(e.hook, e.strategy_counters())"
            % str(tmp_path / "e.npz"))
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr[-2000:]
    assert p.stdout.strip() == "my-seed {'freed': 4}"


def test_cli_replay_bench_and_demo_with_a_strategy_file(tmp_path, capsys, registered):
    path = tmp_path / "my_seed.c"
    path.write_text(doc_block("c"))
    trace = tmp_path / "t.npy"
    assert main(["gen", "churn", str(trace), "--rounds", "30"]) == 0
    capsys.readouterr()
    assert main(["replay", str(trace), "--strategy", str(path), "--hook", "my-seed", "--json", "--no-progress"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["strategy_counters"]["freed"] == doc["counters"]["hook_freed"] > 0
    assert main(["bench", "leak", "--rounds", "30", "--strategy", str(path), "--hooks", "none,my-seed", "--json",
                 "--no-progress"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert list(out) == [f"{k} hook={h}" for k in KERNELS for h in ("none", "my-seed")]
    assert out["2.6.30 hook=my-seed"]["strategy_counters"]["freed"] == out["2.6.30 hook=my-seed"]["hook_freed"]
    assert main(["bench", "overhead", "--pages", "8192", "--rounds", "1", "--segment", "300", "--strategy", str(path),
                 "--hook", "my-seed", "--json", "--no-progress"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["hook"] == "my-seed" and r["identical_state"] is True and r["hook_calls"] == r["swapouts"] > 0
    assert main(["demo", "--pages", "16384", "--cpus", "2", "--plot", "", "--json", "--strategy", str(path)]) == 0
    rows = json.loads(capsys.readouterr().out)["rows"]
    assert [r["config"] for r in rows][-2:] == ["2.6.30 hook=my-seed", "2.6.31 hook=none"]


def test_cli_refuses_an_unknown_strategy_name_as_a_usage_error(tmp_path, capsys):
    with pytest.raises(SystemExit) as ex:
        main(["replay", str(tmp_path / "t.npy"), "--hook", "my-seed"])
    assert ex.value.code == 2 and "invalid choice: 'my-seed'" in capsys.readouterr().err
    assert main(["replay", str(tmp_path / "t.npy"), "--strategy", "no_such_module_anywhere"]) == 2
    assert "neither a .c file nor an importable module" in capsys.readouterr().err


MODULE = '''
from pymemcg import strategies


def free_unused_swapcache(page):
    if page.anon and not page.mapped and page.try_to_free_swap():
        return strategies.KEEP_LOCKED


strategies.register("mod-seed", after_add_to_swap=free_unused_swapcache)
'''


def test_sweep_runs_user_strategies_on_the_local_process_pool(tmp_path, monkeypatch, my_seed):
    """Workers are other processes: they compile the C file again and import the Python hooks by
    module:name, from each cell's spec; the results equal the shipped seed's."""
    from pymemcg import sweep
    (tmp_path / "my_strats.py").write_text(MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("PYTHONPATH", str(tmp_path) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    import my_strats  # noqa: F401  (registers "mod-seed")
    try:
        grid = {"hook": ["seed", "my-seed", "mod-seed"], "ram": "256M", "swap": "4M"}
        report = sweep.run(grid, [{"generator": "churn", "rounds": 30}], workers=2, progress=False)
        rows = {r["hook"]: r for r in report.rows}
        assert not report.failed, report.failures()
        keys = [k for k in rows["seed"] if k.startswith(("leaks.", "counters."))]
        for hook in ("my-seed", "mod-seed"):
            assert {k: rows[hook][k] for k in keys} == {k: rows["seed"][k] for k in keys}, hook
        assert len({r["cell"] for r in report.rows}) == 3
        assert sweep.plan(grid, [{"generator": "churn", "rounds": 30}])[1]["strategy"] == strategies.spec("my-seed")
    finally:
        strategies.unregister("mod-seed")
        sys.modules.pop("my_strats", None)


def test_sweep_refuses_a_strategy_other_processes_cannot_get(registered):
    from pymemcg import sweep
    strategies.register("lambda-only", after_add_to_swap=lambda page: None)
    with pytest.raises(sweep.ConfigError, match="cannot be recreated in another process"):
        sweep.plan({"hook": ["none", "lambda-only"]}, [{"generator": "churn", "rounds": 2}])


def test_sweep_config_loads_strategy_files(tmp_path, registered):
    from pymemcg import sweep
    (tmp_path / "my_seed.c").write_text(doc_block("c"))
    cfg = sweep.parse_config('traces = [{generator = "churn", rounds = 2}]\n[grid]\nhook = ["none", "my-seed"]\n'
                             '[sweep]\nstrategies = ["my_seed.c"]\n', base_dir=str(tmp_path))
    assert cfg.grid["hook"] == ["none", "my-seed"] and "my-seed" in strategies.names()
    with pytest.raises(sweep.ConfigError, match="sweep.strategies"):
        sweep.parse_config('traces = ["a.npy"]\n[sweep]\nstrategies = "x.c"\n')


def test_uncharge_at_free_keeps_unmapped_pages_charged_until_freed():
    eng = pymemcg.Engine("64M", "64M", hook="uncharge-at-free")
    x = eng.mkdir("x")
    a = eng.spawn(x)
    a.fault(range(3))
    pfn = pfn_of(a, 0)
    a.zap(range(3), flush=False)                     # unmapped, parked in the gather: still charged
    assert flags(eng, pfn) & PCG_USED and flags(eng, pfn) & PCG_LINKED and x.usage_in_bytes == 3 * P
    assert eng.strategy_counters()["deferred_at_unmap"] == 3
    a.tlb_flush()                                    # the last references go: freed, uncharged
    assert flags(eng, pfn) & PG_buddy and (x.usage_in_bytes, x.memsw_usage_in_bytes) == (0, 0)
    assert eng.strategy_counters()["uncharged_at_free"] == 3
    assert not flags(eng, pfn) & (PG_anon | PG_locked | PG_swapcache)
