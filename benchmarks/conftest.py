"""Shared setup of the benchmarks (pytest-benchmark).

Run: ``python -m pytest benchmarks -q`` (timings), or add ``--benchmark-disable``
for a quick correctness run that executes every benchmark body once.

Besides pytest-benchmark's table, the session ends with a short summary of the
per-page costs (fault vs. the numpy streaming floor) and the memory figures.
"""
import numpy as np
import pytest

from pymemcg.engine import _PAGE_FIELDS

STATE_BYTES_PER_FRAME = sum(np.dtype(dt).itemsize for _, dt in _PAGE_FIELDS)
FAULT_BUDGET = 5.0                  # issue 2: at most 5x the streaming floor

_timings = {}    # key -> {"min": ns/page, "median": ns/page, "mean": ns/page}
_memory = {}     # key -> bytes


@pytest.fixture
def per_page(benchmark):
    """record(key, pages): put pages and bytes/page in extra_info and, when timings were
    taken (not --benchmark-disable), the cost per page for the end-of-session summary."""

    def record(key, pages):
        benchmark.extra_info["pages"] = pages
        benchmark.extra_info["bytes_per_page"] = STATE_BYTES_PER_FRAME
        if benchmark.stats is None:   # --benchmark-disable: the body ran once, untimed
            return
        s = benchmark.stats.stats
        ns = {k: getattr(s, k) / pages * 1e9 for k in ("min", "median", "mean")}
        benchmark.extra_info.update({f"ns_per_page_{k}": round(v, 3) for k, v in ns.items()})
        _timings[key] = ns

    return record


@pytest.fixture
def record_memory(record_property):
    def record(key, value):
        record_property(key, value)
        _memory[key] = value

    return record


def pytest_terminal_summary(terminalreporter):
    if not _timings and not _memory:
        return
    tr = terminalreporter
    tr.section("pymemcg fault cost per page")
    for key, ns in _timings.items():
        tr.write_line(f"{key:<34} median {ns['median']:8.2f} ns/page   min {ns['min']:8.2f}   "
                      f"mean {ns['mean']:8.2f}")
    fault, floor = _timings.get("fault"), _timings.get("floor")
    if fault and floor:
        for stat in ("median", "min"):
            ratio = fault[stat] / floor[stat]
            tr.write_line(f"fault / streaming floor ({stat}): {ratio:.1f}x "
                          f"(budget {FAULT_BUDGET:.0f}x: {'within' if ratio <= FAULT_BUDGET else 'OVER'})")
    elif _memory:
        tr.write_line("timings not collected (--benchmark-disable)")
    for key, value in _memory.items():
        tr.write_line(f"{key:<34} {value:g}")
