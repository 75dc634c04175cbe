"""Exploration on the sweep's executors gives the serial result: the local process pool and a
Dask cluster (kept out of the sanitized slice, which covers the C core through tests/test_explore.py)."""
import pytest

from pymemcg import explore

K = 2


def figures(ex):
    """An exploration's result without its timings."""
    return {k: v for k, v in ex.summary().items() if k not in ("seconds", "schedules_per_s", "subtrees")}


def test_the_local_pool_gives_the_serial_result():
    sc = explore.scenario("exit-vs-reclaim-gather")
    serial = explore.explore(sc, "2.6.30", "none", K, executor="inline")
    pool = explore.explore(sc, "2.6.30", "none", K, workers=2)
    assert pool.subtrees > 1
    assert figures(pool) == figures(serial)


def test_a_dask_cluster_gives_the_serial_result():
    distributed = pytest.importorskip("distributed")
    sc = explore.scenario("readahead-vs-zap")
    serial = explore.explore(sc, "2.6.30", "none", K, executor="inline")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None, silence_logs=50) as cluster:
        dask = explore.explore(sc, "2.6.30", "none", K, executor=cluster.scheduler_address)
    assert figures(dask) == figures(serial) and dask.bad
