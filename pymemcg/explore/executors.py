"""Where an exploration's subtrees run: in this process, on a local process pool (the default,
the sweep's: one process per core), on any concurrent.futures.Executor, or on a Dask cluster
(a distributed.Client or a scheduler address), as docs/sweep.md describes for sweeps."""
from concurrent.futures import Executor, ProcessPoolExecutor, as_completed


def run_tasks(fn, tasks, executor=None, workers=None):
    """Yield (index, fn(task)) for every task, in the order they finish."""
    from ..sweep import _is_dask_client, _mp_context, default_workers    # the executors' own imports, on use
    if not tasks:
        return
    if executor == "inline":
        for i, task in enumerate(tasks):
            yield i, fn(task)
        return
    if executor is None or isinstance(executor, Executor):
        own = executor is None
        ex = ProcessPoolExecutor(min(workers or default_workers(), len(tasks)), mp_context=_mp_context()) \
            if own else executor
        try:
            futures = {ex.submit(fn, task): i for i, task in enumerate(tasks)}
            for f in as_completed(futures):
                yield futures[f], f.result()
        finally:
            if own:
                ex.shutdown(wait=True, cancel_futures=True)
        return
    if not (isinstance(executor, str) or _is_dask_client(executor)):
        raise TypeError("executor must be None, 'inline', a concurrent.futures.Executor, a dask.distributed.Client "
                        f"or a scheduler address, not {type(executor).__name__}")
    from distributed import Client, as_completed as dask_completed
    client = executor if _is_dask_client(executor) else Client(executor, set_as_default=False)
    try:
        futures = client.map(fn, tasks, pure=False)
        index = {f.key: i for i, f in enumerate(futures)}
        with client.as_current():
            for f in dask_completed(futures):
                yield index[f.key], f.result()
    finally:
        if client is not executor:
            client.close()
