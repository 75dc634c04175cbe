"""Touching 1M present pages (the accessed bit), against the streaming floor of test_fault."""
import pytest

import pymemcg

NR = 1 << 20


@pytest.mark.benchmark(group="fault")
def test_touch_1m_present_pages(benchmark, per_page):
    eng = pymemcg.Engine(ram="8G", swap="0")
    t = eng.spawn()
    t.fault(range(NR))
    touched = benchmark.pedantic(lambda: t.fault(range(NR), write=False), rounds=10, warmup_rounds=1)
    assert touched == NR and eng.counters()["pgalloc"] == NR
    eng.check()
    per_page("touch (present pages)", NR)
