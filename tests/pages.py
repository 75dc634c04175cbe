"""Small readers of an engine's state, and drivers of it, shared by the tests (a plain module: test files import it
by name, which a conftest cannot offer once benchmarks/ has a conftest of its own)."""
import numpy as np

from pymemcg import PTE_PRESENT, PTE_SHIFT, PTE_SWAP


def pfn_of(t, vpn):
    pte = t.pte(vpn)
    assert pte & PTE_PRESENT, f"vpn {vpn} is not present (pte {pte:#x})"
    return pte >> PTE_SHIFT


def slot_of(t, vpn):
    pte = t.pte(vpn)
    assert pte & PTE_SWAP, f"vpn {vpn} holds no swap entry (pte {pte:#x})"
    return pte >> PTE_SHIFT


def flags(eng, pfn):
    return int(eng.pages.flags[pfn])


def snapshot(eng):
    """Everything observable about an engine, for "a refused call changes nothing" checks."""
    state = {name: np.array(eng.pages[name]) for name in eng.pages.keys()}
    state["swap_map"] = np.array(eng.swap_map)
    state["swap_cgroup"] = np.array(eng.swap_cgroup)
    state["meminfo"] = eng.meminfo()
    state["counters"] = eng.counters()
    state["cgroups"] = {path: (cg.stat(), [cg.read(f) for f in (
        "memory.usage_in_bytes", "memory.limit_in_bytes", "memory.max_usage_in_bytes", "memory.failcnt",
        "memory.use_hierarchy", "memory.swappiness")]) for path, cg in eng._cgroups.items()}
    state["tasks"] = {pid: (t.alive, t.oom_killed, t.rss, t.swap_ptes, t.gather_pending)
                      for pid, t in eng._tasks.items()}
    return state


def assert_same_state(a, b):
    assert a.keys() == b.keys()
    for k in a:
        if isinstance(a[k], np.ndarray):
            np.testing.assert_array_equal(a[k], b[k], err_msg=k)
        else:
            assert a[k] == b[k], k


def delta(before, after):
    """What changed between two dicts of counters: {key: after - before}."""
    return {k: after[k] - before[k] for k in after if after[k] != before[k]}


def swap_out(eng, cg, rounds=200):
    """Push every page charged to cg out to swap and out of RAM with the step API:
    deactivate, shrink a batch, let the writes finish; until cg's inactive list is empty."""
    for _ in range(rounds):
        eng.shrink_active_list(cg, 1 << 20)
        batch = eng.isolate(cg, 32)
        n = len(batch)
        eng.shrink_page_list(batch)
        eng.end_writeback()
        if n == 0:
            return
    raise AssertionError("swap_out did not converge")
