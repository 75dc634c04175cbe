"""Where cells run: a local process pool, any concurrent.futures executor, or Dask."""
import asyncio
import hashlib
import multiprocessing
import os
import sys
import uuid
from concurrent.futures import FIRST_COMPLETED, CancelledError, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool

from .grid import ConfigError
from .cells import _error_row, run_cell


def _is_dask_client(obj):
    return type(obj).__module__.split(".")[0] == "distributed" and hasattr(obj, "scatter") and hasattr(obj, "submit")


def _mp_context():
    methods = multiprocessing.get_all_start_methods()
    main_file = getattr(sys.modules.get("__main__"), "__file__", None)
    if main_file and not os.path.exists(main_file) and "fork" in methods:
        # a script read from stdin ("<stdin>"): spawn and forkserver would try to run it again
        return multiprocessing.get_context("fork")
    if "forkserver" in methods:
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(["pymemcg.sweep"])
        return ctx
    return multiprocessing.get_context("spawn")


def default_workers():
    """The machine's cores (those this process may run on)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


class _Attempts:
    """The retry bookkeeping both executors share: each cell's attempts and the workers they
    ran on, and whether a row is final or its cell runs again."""

    def __init__(self, retries):
        self.retries = retries
        self.workers = {}

    def final(self, cell, attempt, row):
        """Note the attempt in the row (``attempts``; ``worker``: every worker the cell ran on,
        oldest first, "?" when unknown); True when the row is the cell's result, False when
        the cell failed and has a retry left."""
        seen = self.workers.setdefault(cell["id"], [])
        seen.append(row.get("worker") or "?")
        row["attempts"] = attempt
        row["worker"] = " ".join(seen)
        return not (row.get("error") and attempt <= self.retries)


class _Local:
    """Cells on a concurrent.futures executor: our own process pool (a retry then runs in a
    fresh process of its own, and a pool broken by a dying worker is replaced) or one passed in."""

    def __init__(self, executor, workers):
        self.own = executor is None
        self.workers = workers or default_workers()
        self.ctx = _mp_context() if self.own else None
        self.ex = ProcessPoolExecutor(self.workers, mp_context=self.ctx) if self.own else executor
        self.name = (f"local process pool ({self.workers} workers)" if self.own
                     else f"{type(executor).__name__}")

    def run(self, cells, retries, emit):
        pending = list(reversed(cells))
        inflight = {}  # future -> (cell, attempt, executor, whether it is a one-off)
        window = 2 * self.workers if self.own else max(2 * self.workers, 4)
        attempts = _Attempts(retries)
        try:
            while pending or inflight:
                while pending and len(inflight) < window:
                    cell = pending.pop()
                    inflight[self._submit(self.ex, cell)] = (cell, 1, self.ex, False)
                done, _ = wait(list(inflight), return_when=FIRST_COMPLETED)
                broken = False
                for f in done:
                    cell, attempt, ex, oneoff = inflight.pop(f)
                    if oneoff:
                        ex.shutdown(wait=False)
                    try:
                        row = f.result()
                    except BrokenProcessPool as e:
                        broken = broken or ex is self.ex  # futures of a pool already replaced do not count
                        row = _error_row(cell, f"worker lost: the process running the cell died ({e})")
                    except Exception as e:
                        row = _error_row(cell, f"{type(e).__name__}: {e}")
                    if not attempts.final(cell, attempt, row):
                        if self.own:  # a fresh retry: a process of its own
                            one = ProcessPoolExecutor(1, mp_context=self.ctx)
                            inflight[self._submit(one, cell)] = (cell, attempt + 1, one, True)
                        else:
                            inflight[self._submit(self.ex, cell)] = (cell, attempt + 1, self.ex, False)
                    else:
                        emit(row)
                if broken:
                    self.ex.shutdown(wait=False, cancel_futures=True)
                    self.ex = ProcessPoolExecutor(self.workers, mp_context=self.ctx)
        finally:
            for f, (cell, attempt, ex, oneoff) in inflight.items():
                f.cancel()
                if oneoff:
                    _stop_pool(ex)

    @staticmethod
    def _submit(ex, cell):
        return ex.submit(run_cell, cell)

    def close(self, interrupted=False):
        if self.own:
            if interrupted:
                _stop_pool(self.ex)
            else:
                self.ex.shutdown(wait=True)


def _stop_pool(ex):
    """Stop a process pool now: cancel what waits, end the cells that run (an interrupted
    sweep drops them; they run again on resume).  A plain shutdown(wait=False) would leave
    them running, and Python waits for them at exit."""
    procs = list((getattr(ex, "_processes", None) or {}).values())
    ex.shutdown(wait=False, cancel_futures=True)
    for p in procs:
        try:
            p.terminate()
        except Exception:
            pass


class _Dask:
    """Cells on a Dask cluster: client.submit per cell, as_completed; a retry prefers the
    workers that did not fail it; small trace files can travel through client.scatter."""

    def __init__(self, client, workers, out):
        from distributed import Client
        self.own = not _is_dask_client(client)
        self.client = Client(client, set_as_default=False) if self.own else client
        self.name = f"Dask scheduler {getattr(self.client.scheduler, 'address', '?')}"
        if workers:
            print(f"waiting for {workers} Dask workers...", file=out)
            self.client.wait_for_workers(workers)
        link = self._dashboard()
        if link:
            print(f"Dask dashboard: {link}", file=out)
        self.data = {}

    def _dashboard(self):
        try:
            info = self.client.scheduler_info()
            if "dashboard" not in info.get("services", {}):
                return None
            return self.client.dashboard_link
        except Exception:
            return None

    def upload(self, cells, limit):
        """Scatter each trace file's bytes once; cells then name the upload, not the path."""
        by_path = {}
        for cell in cells:
            spec = cell["spec"]
            if spec["kind"] != "path":
                continue
            path = spec["path"]
            if path not in by_path:
                try:
                    size = os.path.getsize(path)
                except OSError as e:
                    raise ConfigError(f"--upload: cannot read trace {path}: {e.strerror}") from None
                if size > limit:
                    raise ConfigError(f"--upload: trace {path} is {size / 2**20:.1f} MiB, over the "
                                      f"{limit / 2**20:.1f} MiB upload limit; put it on a file system every "
                                      f"worker can read and run without --upload")
                with open(path, "rb") as f:
                    data = f.read()
                sha = hashlib.sha256(data).hexdigest()
                self.data[sha] = self.client.scatter(data, hash=False)
                by_path[path] = {"kind": "upload", "name": os.path.basename(path), "sha256": sha}
            cell["spec"] = by_path[path]

    def _workers(self):
        try:
            return list(self.client.scheduler_info(n_workers=-1)["workers"])
        except TypeError:
            return list(self.client.scheduler_info()["workers"])

    def _submit(self, cell, attempt, exclude, token):
        kw = {}
        if exclude:
            others = [w for w in self._workers() if w not in exclude]
            if others:
                kw = {"workers": others, "allow_other_workers": True}
        args = (cell,)
        if cell["spec"]["kind"] == "upload":
            args += (self.data[cell["spec"]["sha256"]],)
        return self.client.submit(run_cell, *args, key=f"pymemcg-cell-{cell['id']}-{token}-{attempt}",
                                  pure=False, **kw)

    def run(self, cells, retries, emit):
        with self.client.as_current():  # as_completed looks the client up
            self._run(cells, retries, emit)

    def _run(self, cells, retries, emit):
        from distributed import as_completed
        token = uuid.uuid4().hex[:8]
        meta = {}
        attempts = _Attempts(retries)
        futures = []
        for cell in cells:
            f = self._submit(cell, 1, (), token)
            meta[f.key] = (cell, 1, ())
            futures.append(f)
        ac = as_completed(futures)
        del futures
        try:
            for f in ac:
                cell, attempt, exclude = meta.pop(f.key)
                try:
                    row = f.result()  # waits if Dask is recomputing a result lost with its worker
                except (Exception, asyncio.CancelledError, CancelledError) as exc:
                    err = f"{type(exc).__name__}: {exc}"
                    if type(exc).__name__ == "KilledWorker":
                        err = f"worker lost: {err}"
                    row = _error_row(cell, err)
                f.release()
                worker = row.get("worker")
                if not attempts.final(cell, attempt, row):
                    excl = tuple(exclude) + ((worker,) if worker else ())
                    nf = self._submit(cell, attempt + 1, excl, token)
                    meta[nf.key] = (cell, attempt + 1, excl)
                    ac.add(nf)
                else:
                    emit(row)
        finally:
            ac.clear()

    def close(self, interrupted=False):
        for fut in self.data.values():
            fut.release()
        if self.own:
            self.client.close()
