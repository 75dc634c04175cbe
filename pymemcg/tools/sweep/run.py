"""sweep.run: plan, skip what a results file already has, run the rest, write and compare."""
import os
import sys
import time
from collections import OrderedDict
from concurrent.futures import Executor
from ...sizes import parse_size

from .grid import ConfigError, UPLOAD_LIMIT, _int
from .cells import plan
from .results import _Writer, _write_compare, load_results
from .report import SweepReport
from .executors import _Dask, _Local, _is_dask_client


def run(grid, traces, executor=None, results=None, *, workers=None, upload=False, upload_limit=UPLOAD_LIMIT,
        retries=1, check=True, base_dir=None, progress=True, on_row=None, out=None):
    """Run a sweep and return a SweepReport.

    grid: {key: value or list of values} over GRID_KEYS (Engine settings ram, swap, kernel,
    hook, swap_account, page_cluster, laptop_mode, seed; replay options cpus, sched and
    replay_seed, which defaults to seed).  traces: trace files (.npy/.csv paths, relative to
    base_dir) and generator specs ({"generator": "churn", "rounds": 60, "seed": 1}; list values
    expand).  executor: None (a local process pool of `workers` processes, default one per
    core), a concurrent.futures.Executor, a dask.distributed.Client, or a Dask scheduler
    address.  results: a results file name (x.jsonl, x.csv or x): rows are appended to
    x.jsonl and x.csv as cells finish, cells already there without an error are not run
    again, and x.compare.csv gets the policy comparisons.  upload: (Dask) ship trace files of
    at most upload_limit bytes through the cluster instead of reading them by path.  A cell
    that fails is retried `retries` times (on another worker where there is one); check:
    verify the engine's invariants after each replay.  on_row(row) is called as each cell
    finishes."""
    out = sys.stderr if out is None else out
    dask = executor is not None and (isinstance(executor, str) or _is_dask_client(executor))
    if not dask and executor is not None and not isinstance(executor, Executor):
        raise TypeError("executor must be None, a concurrent.futures.Executor, a dask.distributed.Client "
                        f"or a scheduler address, not {type(executor).__name__}")
    retries = _int(retries, "retries", 0, 100)
    if workers is not None:
        workers = _int(workers, "workers", 1, 100000)
    upload_limit = parse_size(upload_limit, "upload_limit")
    cells = plan(grid, traces, base_dir, check=check, hash_files=True)
    if not dask or upload:
        missing = sorted({c["spec"]["path"] for c in cells
                          if c["spec"]["kind"] == "path" and not os.path.isfile(c["spec"]["path"])})
        if missing:
            raise ConfigError(f"trace file(s) not found: {', '.join(missing)}")

    writer = None
    done = OrderedDict()
    if results is not None:
        writer = _Writer(results)
        ids = {c["id"] for c in cells}
        old = load_results(results)
        # keep every successful row, and the rows of cells outside this grid; failed cells of
        # this grid run again
        kept = [r for r in old if not (r["cell"] in ids and r.get("error"))]
        done.update((r["cell"], r) for r in kept if r["cell"] in ids)
        writer.rewrite(kept)
        foreign = [r for r in kept if r["cell"] not in ids]
    else:
        foreign = []
    resumed = list(done)
    todo = [c for c in cells if c["id"] not in done]
    ran = []

    bar = None
    backend = None
    t0 = time.perf_counter()
    interrupted = False
    try:
        if todo:
            backend = _Dask(executor, workers, out) if dask else _Local(executor, workers)
            if dask and upload:
                backend.upload(todo, upload_limit)
            if progress:
                from tqdm import tqdm
                bar = tqdm(total=len(cells), initial=len(cells) - len(todo), unit="cell", desc="sweep",
                           file=out, dynamic_ncols=True)
            if writer:
                writer.open()
            nfail = [0]

            def emit(row):
                done[row["cell"]] = row
                ran.append(row["cell"])
                if writer:
                    writer.append(row)
                if bar is not None:
                    if row.get("error"):
                        nfail[0] += 1
                        bar.set_postfix(failed=nfail[0])
                    bar.update(1)
                if on_row is not None:
                    on_row(row)

            backend.run(todo, retries, emit)
        executor_name = backend.name if backend else ("Dask" if dask else "local process pool")
    except BaseException:
        interrupted = True
        raise
    finally:
        if bar is not None:
            bar.close()
        if backend is not None:
            backend.close(interrupted)
        if writer:
            writer.close()
    seconds = time.perf_counter() - t0
    rows = [done[c["id"]] for c in cells if c["id"] in done]
    report = SweepReport(rows, ran, resumed, seconds, None, executor_name)
    if writer:
        writer.rewrite(rows + foreign)
        _write_compare(writer.compare, report.comparisons)
        report.paths = (writer.jsonl, writer.csv, writer.compare)
    return report
