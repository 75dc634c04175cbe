"""Miss-ratio curves (pymemcg.mrc, `pymemcg mrc`): sizes as people write them, the page
requests LRU sees, LRU against a plain reference LRU, and the kernel's curve where its
answer is known; the command on the CloudPhysics trace prints and plots both curves."""
import json
import pathlib
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor

import pytest

from pymemcg import mrc, workloads
from pymemcg.tools.cli import main
from pymemcg.errors import TraceError
from pymemcg.trace import Builder, save

TRACES = (pathlib.Path(__file__).resolve().parent.parent / ".." / "shared" / "traces").resolve()
needs_traces = pytest.mark.skipif(not TRACES.is_dir(),
                                  reason=f"real traces not found at {TRACES} (../shared/traces from the project root)")
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("text, pages", [
    ("1%,5%,10%,25%", [10, 50, 100, 250]), ("4M,16M", [1024, 4096]), ("1%..50%/3", [10, 255, 500]),
    ("0.15%", [2]), ("4K, 1%, 4096", [1, 10]), ("10%..20%", [100, 114, 129, 143, 157, 171, 186, 200]),
    ("1.5M", [384])])
def test_sizes(text, pages):
    assert mrc.parse_sizes(text, 1000) == pages


@pytest.mark.parametrize("text", ["", "x%", "0%", "-1%", "50%..10%", "1%..5%/1", "1.5", "4X"])
def test_bad_sizes(text):
    with pytest.raises(ValueError):
        mrc.parse_sizes(text, 1000)


def test_requests_are_one_per_page_touched_keyed_by_task():
    b = Builder()
    t, u = b.spawn(""), b.spawn("")
    b.fault(t, 5, 3)
    b.fault(u, 5)
    b.fault(t, 1)
    assert mrc.requests(b.build()).tolist() == [5, 6, 7, (1 << 36) | 5, 1]


def reference_lru(ids, size):
    cache, misses = OrderedDict(), 0
    for x in ids:
        if x in cache:
            cache.move_to_end(x)
        else:
            misses += 1
            cache[x] = True
            if len(cache) > size:
                cache.popitem(last=False)
    return misses / len(ids)


def test_lru_curve_is_lru():
    pytest.importorskip("libcachesim", reason="libcachesim is not installed")
    tr = workloads.zipf(5000, 800, 0.8, seed=3)
    sizes = [8, 80, 400, 800]
    got = mrc.lru_curve(tr, sizes)
    ids = tr["vpn"][1:].tolist()
    assert got == pytest.approx([reference_lru(ids, n) for n in sizes], abs=1e-12)
    assert got[-1] == pytest.approx(len(set(ids)) / len(ids))   # all fits: compulsory misses only


def loop_trace(tmp_path, passes=4, pages=300):
    path = tmp_path / "loop.npy"
    save(workloads.loop(passes * pages, pages), path)
    return path


def test_kernel_curve_where_the_answer_is_known(tmp_path):
    """A loop over 300 pages, four times: with room for all of them only the first touches
    miss; below that LRU misses every time, and the kernel (no readahead) nearly so."""
    c = mrc.curve(loop_trace(tmp_path), "50%,100%", page_cluster=0, executor=ThreadPoolExecutor(2))
    assert c.sizes == [150, 300] and c.footprint == 300 and c.accesses == 1200
    full = c.kernel[1]
    assert full["miss_ratio"] == 0.25 and full["first_touches"] == 300 and full["major"] == 0
    half = c.kernel[0]
    assert half["miss_ratio"] > 0.9 and half["major"] > 800 and half["oom_kills"] == 0
    if c.lru is not None:
        assert c.lru == [1.0, 0.25]


def test_readahead_bends_the_kernel_curve_below_lru(tmp_path):
    """The same loop with the default 8-page readahead window: the pages read ahead (not
    charged to the cgroup) serve later touches as swap-cache hits."""
    c = mrc.curve(loop_trace(tmp_path), "50%", executor=ThreadPoolExecutor(1))
    k = c.kernel[0]
    assert k["swapin_cache_hits"] > k["major"] and k["miss_ratio"] < 0.6


def test_a_trace_with_cgroups_of_its_own_is_refused(tmp_path):
    save(workloads.churn(rounds=3), tmp_path / "c.npy")
    with pytest.raises(TraceError, match="cgroups of its own"):
        mrc.curve(tmp_path / "c.npy", "50%")


def test_the_command_on_a_small_trace(tmp_path, capsys):
    plot = tmp_path / "m.png"
    assert main(["mrc", str(loop_trace(tmp_path)), "--sizes", "50%,100%", "--page-cluster", "0", "--workers", "2",
                 "--plot", str(plot), "--no-progress", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["sizes_pages"] == [150, 300] and doc["sizes_bytes"] == [150 * 4096, 300 * 4096]
    assert doc["kernel"][1]["miss_ratio"] == 0.25 and doc["plot"] == str(plot)
    assert plot.read_bytes()[:8] == PNG_MAGIC


@needs_traces
def test_the_command_on_the_cloudphysics_trace(tmp_path, capsys, monkeypatch):
    pytest.importorskip("libcachesim", reason="libcachesim is not installed")
    monkeypatch.chdir(tmp_path)
    assert main(["mrc", str(TRACES / "cloudPhysicsIO.oracleGeneral.bin"), "--limit-events", "8000",
                 "--sizes", "5%,25%,50%", "--workers", "2", "--no-progress"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("miss-ratio curve of cloudPhysicsIO.oracleGeneral.bin: 8,000 page touches")
    head = out[2].split()
    assert head[:5] == ["pages", "size", "footprint", "kernel", "LRU"]
    rows = [line.split() for line in out[3:6]]
    kernel = [float(r[4]) for r in rows]
    lru = [float(r[5]) for r in rows]
    assert all(0 < x < 1 for x in kernel + lru) and lru[0] >= lru[-1]
    assert out[-1] == "plot: cloudPhysicsIO-mrc.png"
    assert (tmp_path / "cloudPhysicsIO-mrc.png").read_bytes()[:8] == PNG_MAGIC
