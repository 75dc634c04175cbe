"""pymemcg bench (issue 5): the overhead A/B, the instruction counts and the leak table run and
report what they promise, on small workloads."""
import json
import shutil

import numpy as np
import pytest

from pymemcg import bench
from pymemcg.tools.cli import main

OVERHEAD_KEYS = ("hook", "overhead_pct", "ci95", "ns_per_page_none", "ns_per_page_hook", "hook_calls", "hook_freed",
                 "identical_state")


def test_bootstrap_ci_brackets_the_statistic_and_narrows_with_more_samples():
    rng = np.random.default_rng(1)
    small, large = rng.normal(1.0, 0.01, 20), rng.normal(1.0, 0.01, 500)
    lo_s, hi_s = bench.bootstrap_ci(small, stat=np.median)
    lo_l, hi_l = bench.bootstrap_ci(large, stat=np.median)
    assert lo_s <= np.median(small) <= hi_s and lo_l <= np.median(large) <= hi_l
    assert hi_l - lo_l < (hi_s - lo_s) / 3
    assert bench.bootstrap_ci(np.full(10, 1.25)) == (1.25, 1.25)


def test_overhead_json(capsys):
    assert main(["bench", "overhead", "--pages", "16384", "--rounds", "3", "--segment", "1200", "--json",
                 "--no-progress"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert all(k in r for k in OVERHEAD_KEYS)
    assert r["hook"] == "seed" and r["rounds"] == 3 and len(r["seconds_none"]) == len(r["seconds_hook"]) == 3
    # no task exits, so both engines take the same decisions: the hook runs and frees nothing
    assert r["identical_state"] is True
    assert r["hook_calls"] == r["swapouts"] > 0 and r["hook_freed"] == 0
    lo, hi = r["ci95"]
    assert lo <= r["overhead_pct"] <= hi
    assert r["ns_per_page_none"] > 0 and r["ns_per_page_hook"] > 0 and r["pages_scanned"] > r["swapouts"]


def test_overhead_table(capsys):
    assert main(["bench", "overhead", "--pages", "16384", "--rounds", "2", "--segment", "600", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "overhead of the seed strategy:" in out and "95% CI" in out
    assert "identical state: True" in out


@pytest.mark.skipif(not shutil.which("valgrind"), reason="valgrind is not installed")
def test_instruction_counts_with_callgrind():
    r = bench.instructions(pages=1 << 12, segment=100)
    none, seed = r["none"], r["seed"]
    assert r["hook"] == "seed"
    assert none["pages_scanned"] == seed["pages_scanned"] > 0     # the same work both ways
    assert none["hook_calls"] == 0 and seed["hook_calls"] > 0
    assert 0 < none["per_page"] < seed["per_page"]               # the hook costs instructions ...
    assert 0 < r["per_hook_call"] < 100                           # ... a few dozen per call
    assert r["extra_per_page"] == pytest.approx(seed["per_page"] - none["per_page"])
    assert r["per_hook_call"] == pytest.approx((seed["instructions"] - none["instructions"]) / seed["hook_calls"])


def test_instructions_without_valgrind(monkeypatch, capsys):
    monkeypatch.setattr(bench.shutil, "which", lambda name: None)
    assert bench.instructions() is None
    assert main(["bench", "overhead", "--pages", "16384", "--rounds", "1", "--segment", "300", "--instructions",
                 "--no-progress"]) == 0
    assert "valgrind is not installed" in capsys.readouterr().err


def test_leak_table_shows_what_each_strategy_buys(tmp_path, capsys):
    plot = tmp_path / "leak.png"
    assert main(["bench", "leak", "--rounds", "60", "--plot", str(plot), "--json", "--no-progress"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert list(out) == [f"{k} hook={h}" for k in ("2.6.30", "2.6.31") for h in ("none", "seed", "uncharge-at-free")]
    assert out["2.6.30 hook=none"]["stale_type2_final"] > 0
    assert out["2.6.31 hook=none"]["stale_type2_final"] > 0
    for k in ("2.6.30", "2.6.31"):
        seed, uaf = out[f"{k} hook=seed"], out[f"{k} hook=uncharge-at-free"]
        assert seed["stale_max"] == 0 and seed["hook_freed"] > 0
        # pages stay charged until freed: the unmap race leaves no uncharged page in the swap cache
        assert uaf["stale_max"] == 0 and uaf["hook_calls"] == 0
        assert uaf["strategy_counters"]["deferred_at_unmap"] > 0 and uaf["strategy_counters"]["uncharged_at_free"] > 0
        assert uaf["strategy_refused"] == 0
    for cfg, row in out.items():
        assert len(row["series"]["stale"]) == len(row["series"]["events"]) > 1, cfg
        assert row["scanned_per_reclaimed"] >= 1, cfg
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
