"""Sweeps (pymemcg.sweep, `pymemcg sweep`): the same cells on the local process pool and on a
Dask LocalCluster give identical results; failing cells are retried once and reported; a lost
worker is retried; an interrupted sweep resumes without redoing finished cells; config errors
name what is wrong."""
import json
import os
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from pymemcg import sweep, workloads
from pymemcg.tools.cli import main
from pymemcg.trace import save

GRID = {"ram": "16M", "swap": "16M", "kernel": ["2.6.30", "2.6.31"], "hook": ["none", "seed"], "seed": [0, 1]}


# -- generators the workers import by "module:function" (this file is on the workers' sys.path) --

def crash_once(marker, rounds=10):
    """The first process to generate this trace dies, as a worker lost mid-cell does."""
    if not os.path.exists(marker):
        open(marker, "w").close()
        os._exit(17)
    return workloads.churn(rounds=rounds)


def crash_always(rounds=10):
    os._exit(17)


# -- fixtures --------------------------------------------------------------------------------

@pytest.fixture
def trace_file(tmp_path):
    path = tmp_path / "churn10.npy"
    save(workloads.churn(rounds=10), path)
    return path


@pytest.fixture
def corrupt_file(tmp_path):
    path = tmp_path / "corrupt.npy"
    path.write_bytes(b"\x93NUMPY garbage, not a trace" * 4)
    return path


@pytest.fixture(scope="module")
def dask_client():
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address="127.0.0.1:0", silence_logs=50) as cluster, \
            distributed.Client(cluster) as client:
        yield client


def run(grid=GRID, traces=None, **kw):
    kw.setdefault("progress", False)
    return sweep.run(grid, traces, **kw)


def by_cell(report):
    return {r["cell"]: sweep.deterministic(r) for r in report.rows}


# -- the grid, the table ---------------------------------------------------------------------

def test_local_pool_and_dask_give_identical_cells(trace_file, dask_client, tmp_path):
    local = run(traces=[trace_file], workers=2, results=tmp_path / "local.jsonl")
    dask = run(traces=[trace_file], executor=dask_client, results=tmp_path / "dask.jsonl")
    assert len(local.rows) == len(dask.rows) == 8
    assert local.ok and dask.ok
    assert [r["cell"] for r in local.rows] == [r["cell"] for r in dask.rows]
    assert by_cell(local) == by_cell(dask)
    # the Dask rows ran on the cluster's workers, the local ones on this machine's processes
    assert {r["worker"] for r in dask.rows} <= set(dask_client.scheduler_info()["workers"])
    assert {r["worker"] for r in local.rows}.isdisjoint(dask_client.scheduler_info()["workers"])
    # both files hold the same table
    for name in ("local", "dask"):
        rows = sweep.load_results(tmp_path / f"{name}.jsonl")
        assert [sweep.deterministic(r) for r in rows] == list(by_cell(local).values())
        lines = (tmp_path / f"{name}.csv").read_text().splitlines()
        assert lines[0].split(",") == list(sweep.COLUMNS) and len(lines) == 9
    row = local.rows[0]
    assert row["ram"] == 16 << 20 and row["events"] == 131 and row["error"] is None
    assert row["counters.pgfault"] > 0 and row["events_per_s"] > 0 and row["wall_time"] > 0
    assert set(row) == set(sweep.COLUMNS)


def test_summary_compares_cells_that_differ_only_in_hook(trace_file):
    rep = run(traces=[trace_file], workers=2)
    hook = [c for c in rep.comparisons if c["dimension"] == "hook"]
    assert len(hook) == 4                                  # 2 kernels x 2 seeds
    rows = {r["cell"]: r for r in rep.rows}
    for c in hook:
        base, alt = rows[c["base_cell"]], rows[c["cell"]]
        assert (base["hook"], alt["hook"]) == ("none", "seed")
        assert {k: base[k] for k in ("kernel", "seed")} == {k: alt[k] for k in ("kernel", "seed")}
        assert c["d.leaks.stale_swapcache"] == alt["leaks.stale_swapcache"] - base["leaks.stale_swapcache"] < 0
        assert c["d.seconds"] == pytest.approx(alt["seconds"] - base["seconds"])
    text = rep.summary()
    assert "hook: seed vs none, 4 cell pair(s)" in text and "kernel: 2.6.31 vs 2.6.30" in text


def test_cell_ids_are_stable_and_follow_settings_and_trace_content(trace_file, tmp_path):
    a = sweep.plan(GRID, [trace_file])
    b = sweep.plan(dict(GRID, ram=16 << 20, swap="16384K"), [str(trace_file)])
    assert [c["id"] for c in a] == [c["id"] for c in b] and len({c["id"] for c in a}) == 8
    other = tmp_path / "other" / "churn10.npy"
    other.parent.mkdir()
    save(workloads.churn(rounds=10, seed=5, jitter=0.5), other)
    assert {c["id"] for c in sweep.plan(GRID, [other])}.isdisjoint(c["id"] for c in a)
    gen = sweep.plan(GRID, [{"generator": "churn", "rounds": 10, "seed": [1, 2]}])
    assert len(gen) == 16 and gen[0]["trace"] == "churn(rounds=10,seed=1)"


def test_generator_specs_run_on_workers_and_oom_kills_are_results(tmp_path):
    traces = [{"generator": "churn", "rounds": 6, "limit": "256K", "task_size": "1M"}]
    rep = run({"ram": "16M", "swap": "0", "hook": ["none", "seed"]}, traces, workers=2)
    assert rep.ok
    assert all(r["oom_kills"] > 0 and r["error"] is None for r in rep.rows)


# -- faults ----------------------------------------------------------------------------------

def test_failing_cells_are_retried_once_and_the_rest_complete(trace_file, corrupt_file):
    rep = run(traces=[trace_file, corrupt_file], workers=2)
    assert len(rep.rows) == 16
    bad = [r for r in rep.rows if r["trace"] == "corrupt.npy"]
    good = [r for r in rep.rows if r["trace"] == "churn10.npy"]
    assert rep.failed == bad and len(bad) == 8
    for r in bad:
        assert r["attempts"] == 2 and r["error"].startswith("TraceError:") and "corrupt.npy" in r["error"]
        assert len(r["worker"].split()) == 2              # the retry ran in a fresh process of its own
        assert len(set(r["worker"].split())) == 2
    assert all(r["error"] is None and r["attempts"] == 1 and r["events"] == 131 for r in good)


def test_failing_cell_on_dask_is_retried_on_the_other_worker(trace_file, corrupt_file, dask_client):
    rep = run(traces=[trace_file, corrupt_file], executor=dask_client)
    assert len(rep.failed) == 8 and len(rep.rows) == 16
    for r in rep.failed:
        assert r["attempts"] == 2 and r["error"].startswith("TraceError:")
        first, second = r["worker"].split()
        assert first != second
    assert all(r["events"] == 131 for r in rep.rows if not r["error"])


def test_cli_exits_nonzero_listing_the_failed_cells(trace_file, corrupt_file, tmp_path, capsys):
    cfg = tmp_path / "exp.toml"
    cfg.write_text(f'traces = ["{trace_file.name}", "{corrupt_file.name}"]\n'
                   '[grid]\nram = "16M"\nswap = "16M"\nkernel = ["2.6.30", "2.6.31"]\nhook = ["none", "seed"]\n'
                   'seed = [0, 1]\n')
    assert main(["sweep", str(cfg), "--workers", "2", "--no-progress"]) == 1
    out, err = capsys.readouterr()
    rows = sweep.load_results(tmp_path / "exp.jsonl")
    assert len(rows) == 16 and sum(r["error"] is None for r in rows) == 8
    failed = [r["cell"] for r in rows if r["error"]]
    assert "8 cell(s) failed" in err
    for cell in failed:
        assert cell in err
    assert "TraceError" in err and "16 cells: 16 run, 0 resumed, 8 failed" in out
    assert (tmp_path / "exp.csv").exists() and (tmp_path / "exp.compare.csv").exists()
    # a rerun runs only the failed cells again
    assert main(["sweep", str(cfg), "--workers", "2", "--no-progress"]) == 1
    assert "16 cells: 8 run, 8 resumed, 8 failed" in capsys.readouterr().out


def test_lost_worker_is_retried_on_the_local_pool(trace_file, tmp_path):
    traces = [trace_file, {"generator": "test_sweep:crash_once", "marker": str(tmp_path / "crashed")}]
    rep = run({"ram": "16M", "swap": "16M", "hook": ["none", "seed"]}, traces, workers=2)
    assert rep.ok, rep.failures()
    assert (tmp_path / "crashed").exists()
    assert max(r["attempts"] for r in rep.rows) == 2
    # the cell whose process died gives the same result as the same trace from a file
    rows = {(r["trace"].split("(")[0], r["hook"]): r for r in rep.rows}
    for hook in ("none", "seed"):
        a, b = rows[("churn10.npy", hook)], rows[("test_sweep:crash_once", hook)]
        for field in ("counters.pgfault", "counters.pswpout", "leaks.stale_swapcache"):
            assert a[field] == b[field], field


def test_cell_that_always_kills_its_worker_fails_alone(trace_file):
    traces = [trace_file, {"generator": "test_sweep:crash_always"}]
    rep = run({"ram": "16M", "swap": "16M", "hook": ["none", "seed"], "seed": [0, 1, 2]}, traces, workers=2)
    assert len(rep.rows) == 12
    assert {r["trace"] for r in rep.failed} == {"test_sweep:crash_always"} and len(rep.failed) == 6
    assert all(r["error"].startswith("worker lost") and r["attempts"] == 2 for r in rep.failed)
    assert all(r["error"] is None for r in rep.rows if r["trace"] == "churn10.npy")


def test_lost_worker_is_retried_on_dask(trace_file, tmp_path, dask_client):
    traces = [trace_file, {"generator": "test_sweep:crash_once", "marker": str(tmp_path / "crashed")}]
    rep = run({"ram": "16M", "swap": "16M", "hook": ["none", "seed"]}, traces, executor=dask_client)
    assert rep.ok, rep.failures()
    assert (tmp_path / "crashed").exists() and len(rep.rows) == 4
    dask_client.wait_for_workers(2)


# -- resume ----------------------------------------------------------------------------------

def counting(monkeypatch):
    """Count the cells actually executed (run_cell calls) on a thread pool in this process."""
    calls = []
    lock = threading.Lock()
    real = sweep.run_cell

    def run_cell(cell, data=None):
        with lock:
            calls.append(cell["id"])
        return real(cell, data)

    monkeypatch.setattr(sweep.executors, "run_cell", run_cell)   # where the executors look it up
    return calls


def test_resume_runs_only_the_missing_cells(trace_file, tmp_path, monkeypatch):
    results = tmp_path / "res.jsonl"
    first = run(traces=[trace_file], workers=2, results=results)
    assert len(first.ran) == 8
    lines = results.read_text().splitlines()
    dropped = [json.loads(line)["cell"] for line in lines[2:5]]
    # three finished cells lost, and a last line cut short by the interruption
    results.write_text("\n".join(lines[:2] + lines[5:]) + "\n" + lines[2][:40])
    calls = counting(monkeypatch)
    with ThreadPoolExecutor(2) as ex:
        again = run(traces=[trace_file], executor=ex, results=results)
    assert sorted(calls) == sorted(dropped)
    assert sorted(again.ran) == sorted(dropped) and len(again.resumed) == 5
    assert [sweep.deterministic(r) for r in again.rows] == [sweep.deterministic(r) for r in first.rows]
    rows = sweep.load_results(results)
    assert len(results.read_text().splitlines()) == 8 and len(rows) == 8
    assert len((tmp_path / "res.csv").read_text().splitlines()) == 9
    # nothing left to do
    calls.clear()
    with ThreadPoolExecutor(2) as ex:
        third = run(traces=[trace_file], executor=ex, results=results)
    assert calls == [] and third.ran == [] and len(third.resumed) == 8


def test_resume_after_an_interrupted_run(trace_file, tmp_path, monkeypatch):
    results = tmp_path / "res.csv"                          # the .jsonl twin is the one resumed from

    def stop_after_three(row, seen=[]):
        seen.append(row)
        if len(seen) == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run(traces=[trace_file], workers=2, results=results, on_row=stop_after_three)
    finished = {r["cell"] for r in sweep.load_results(results)}
    assert len(finished) == 3
    calls = counting(monkeypatch)
    with ThreadPoolExecutor(2) as ex:
        rep = run(traces=[trace_file], executor=ex, results=results)
    assert len(calls) == 5 and finished.isdisjoint(calls)
    assert rep.ok and len(rep.rows) == 8 and set(rep.resumed) == finished


def test_changed_grid_keeps_old_rows_and_reuses_shared_cells(trace_file, tmp_path):
    results = tmp_path / "res.jsonl"
    run(dict(GRID, seed=0), [trace_file], workers=2, results=results)
    rep = run(GRID, [trace_file], workers=2, results=results)
    assert len(rep.resumed) == 4 and len(rep.ran) == 4
    run(dict(GRID, kernel="2.6.30"), [trace_file], workers=2, results=results)
    assert len(sweep.load_results(results)) == 8          # rows outside the grid are kept


# -- Dask specifics --------------------------------------------------------------------------

def test_upload_ships_the_trace_through_the_cluster(trace_file, dask_client, monkeypatch):
    local = run(traces=[trace_file], workers=2)
    real = sweep.executors._Dask.upload

    def upload_then_remove(self, cells, limit):
        real(self, cells, limit)
        os.remove(trace_file)                              # no worker can read it by path now

    monkeypatch.setattr(sweep.executors._Dask, "upload", upload_then_remove)
    rep = run(traces=[trace_file], executor=dask_client, upload=True)
    assert rep.ok, rep.failures()
    assert by_cell(rep) == by_cell(local)


def test_upload_refuses_large_traces(trace_file, dask_client):
    with pytest.raises(sweep.ConfigError, match="over the .* upload limit"):
        run(traces=[trace_file], executor=dask_client, upload=True, upload_limit=1024)


def test_cli_with_scheduler_address(trace_file, dask_client, tmp_path, capsys):
    cfg = tmp_path / "exp.toml"
    cfg.write_text('[[traces]]\npath = "churn10.npy"\n[grid]\nram = "16M"\nswap = "16M"\nhook = ["none", "seed"]\n'
                   '[sweep]\nresults = "out/r.jsonl"\n')
    addr = dask_client.scheduler.address
    assert main(["sweep", str(cfg), "--scheduler", addr, "--no-progress", "--json"]) == 0
    out, err = capsys.readouterr()
    doc = json.loads(out)
    assert doc["cells"] == 2 and doc["ran"] == 2 and doc["failed"] == []
    assert doc["results"][0] == str(tmp_path / "out" / "r.jsonl")
    assert [c["dimension"] for c in doc["comparisons"]] == ["hook"]


# -- config files ----------------------------------------------------------------------------

GOOD = '''
traces = ["a.npy", { generator = "churn", rounds = 60, seed = 1 }]

[grid]
ram = ["64M", "128M"]
swap = "64M"
kernel = ["2.6.30", "2.6.31"]
hook = ["none", "seed"]
seed = [0, 1]
cpus = 4
sched = "random"

[sweep]
results = "out/exp.jsonl"
workers = 2
retries = 1
'''


def test_config_parses(tmp_path):
    cfg = sweep.parse_config(GOOD, str(tmp_path), str(tmp_path / "exp.toml"))
    assert cfg.grid["kernel"] == ["2.6.30", "2.6.31"] and cfg.options["workers"] == 2
    assert cfg.results() == str(tmp_path / "out" / "exp.jsonl")
    cells = sweep.plan(cfg.grid, cfg.traces, cfg.base_dir)
    assert len(cells) == 2 * 2 * 2 * 2 * 2
    assert cells[0]["spec"] == {"kind": "path", "path": str(tmp_path / "a.npy")}
    assert cells[0]["settings"]["cpus"] == 4 and cells[0]["settings"]["sched"] == "random"
    assert cells[-1]["trace"] == "churn(rounds=60,seed=1)"
    default = sweep.parse_config('traces = ["a.npy"]', str(tmp_path), str(tmp_path / "x.toml"))
    assert default.results() == str(tmp_path / "x.jsonl")


@pytest.mark.parametrize("text, message", [
    ('traces = ["a.npy"]\n[grid]\nhooks = ["seed"]', "unknown key 'hooks' (did you mean 'hook'?)"),
    ('traces = ["a.npy"]\n[grid]\nhook = ["none", "fancy"]', "grid.hook must be one of 'none', 'seed', 'uncharge-at-free', got 'fancy'"),
    ('traces = ["a.npy"]\n[grid]\nkernel = "2.6.32"', "grid.kernel must be one of"),
    ('traces = ["a.npy"]\n[grid]\nram = "4X"', "ram: cannot parse size '4X'"),
    ('traces = ["a.npy"]\n[grid]\nseed = []', "grid.seed is an empty list"),
    ('traces = ["a.npy"]\n[grid]\ncpus = 0', "grid.cpus must be in 1..256"),
    ('traces = ["a.npy"]\n[grid]\nlaptop_mode = "yes"', "grid.laptop_mode must be true or false"),
    ('traces = ["a.npy"]\n[grid]\npage_cluster = 2.5', "grid.page_cluster must be an integer"),
    ('traces = ["a.npy"]\n[sweep]\nworker = 2', "unknown key sweep.worker (did you mean 'workers'?)"),
    ('traces = ["a.npy"]\n[sweep]\nretries = -1', "sweep.retries must be in 0..100"),
    ('traces = ["a.npy"]\n[sweeps]\nworkers = 2', "unknown key 'sweeps'"),
    ('[grid]\nhook = "seed"', "no traces"),
    ('traces = []', "non-empty list"),
    ('traces = ["a.txt"]', "end in .npy or .csv"),
    ('traces = [{ generator = "chrun" }]', "unknown generator 'chrun' (did you mean 'churn'?)"),
    ('traces = [{ generator = "churn", roundz = 3 }]', "unexpected keyword argument 'roundz'"),
    ('traces = [{ generator = "churn", rounds = [] }]', "traces[0].rounds must be"),
    ('traces = [{ file = "a.npy" }]', "needs 'path' or 'generator'"),
    ('traces = [{ path = "a.npy", seed = 1 }]', "takes only 'path'"),
    ('traces = ["a.npy"\n', "not valid TOML"),
])
def test_config_errors_name_the_problem(tmp_path, text, message):
    with pytest.raises(sweep.ConfigError) as e:
        sweep.parse_config(text, str(tmp_path), "exp.toml")
    assert message in str(e.value) and str(e.value).startswith("exp.toml: ")


def test_cli_reports_config_errors(tmp_path, capsys):
    cfg = tmp_path / "bad.toml"
    cfg.write_text('traces = ["a.npy"]\n[grid]\nhooks = "seed"\n')
    assert main(["sweep", str(cfg), "--no-progress"]) == 2
    assert "pymemcg sweep: " in capsys.readouterr().err
    cfg.write_text('traces = ["missing.npy"]\n')
    assert main(["sweep", str(cfg), "--no-progress"]) == 2
    assert "trace file(s) not found" in capsys.readouterr().err


def test_python_api_rejects_bad_arguments(trace_file):
    with pytest.raises(sweep.ConfigError, match="unknown key 'kernels'"):
        run({"kernels": "2.6.30"}, [trace_file])
    with pytest.raises(TypeError, match="executor must be"):
        run(GRID, [trace_file], executor=42)
    with pytest.raises(sweep.ConfigError, match="workers must be in"):
        run(GRID, [trace_file], workers=0)


def test_sweep_help_names_every_option(capsys):
    with pytest.raises(SystemExit) as ex:
        main(["sweep", "--help"])
    assert ex.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: pymemcg sweep")
    for opt in ("CONFIG.toml", "--scheduler", "--upload", "--workers", "--results", "--no-progress", "--json"):
        assert opt in out, opt
