"""Shared fixtures: every engine a test creates is checked (eng.check()) when the test ends."""
import weakref

import numpy as np
import pytest

import pymemcg

_engines = []
_engine_init = pymemcg.Engine.__init__


def _tracked_init(self, *args, **kwargs):
    _engine_init(self, *args, **kwargs)
    _engines.append(weakref.ref(self))


@pytest.fixture(autouse=True)
def _check_every_engine(monkeypatch):
    _engines.clear()
    monkeypatch.setattr(pymemcg.Engine, "__init__", _tracked_init)
    yield
    for ref in _engines:
        eng = ref()
        if eng is not None:
            eng.check()


@pytest.fixture
def debug_check(monkeypatch):
    """Engines made in the test run their full check after every operation (PYMEMCG_DEBUG_CHECK);
    the property tests use it: ``pytestmark = pytest.mark.usefixtures("debug_check")``."""
    monkeypatch.setenv("PYMEMCG_DEBUG_CHECK", "1")


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


@pytest.fixture
def unchanged():
    """``with unchanged(eng): <call that must fail>`` asserts the engine's state did not move."""
    import contextlib

    @contextlib.contextmanager
    def guard(eng):
        before = snapshot(eng)
        yield
        assert_same_state(before, snapshot(eng))

    return guard
