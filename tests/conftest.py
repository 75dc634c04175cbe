"""Shared fixtures: every engine a test creates is checked (eng.check()) when the test ends."""
import weakref

import pytest

import pymemcg
from pages import assert_same_state, snapshot

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
