"""The package as users reach it: every documented submodule is an attribute of pymemcg after
`import pymemcg` (imported on first use), `pymemcg --version` works, every object a user
holds says what it is, and the docs never send the reader outside the project."""
import pathlib
import re
import subprocess
import sys

import pytest

import pymemcg

ROOT = pathlib.Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("name", ["trace", "workloads", "importers", "replay", "sweep", "faults", "facts", "mix",
                                  "mrc", "bench", "plot", "sizes", "explore", "demo", "cli"])
def test_documented_submodules_are_attributes(name):
    code = f"import pymemcg, sys; m = pymemcg.{name}; print(m.__name__, 'pymemcg.tools.sweep' in sys.modules)"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    got, sweep_loaded = r.stdout.split()
    # the tools built on the API live in pymemcg.tools, reachable by their old names
    assert got == (f"pymemcg.tools.{name}" if name in pymemcg.TOOLS else f"pymemcg.{name}")
    assert sweep_loaded == str(name == "sweep")       # lazily: only what is asked for
    assert name in dir(pymemcg)
    with pytest.raises(AttributeError, match="nope"):
        pymemcg.nope


@pytest.mark.parametrize("name", ["sweep", "sweep.executors", "mrc", "bench", "plot", "demo", "cli"])
def test_the_tools_old_import_paths_are_the_same_modules(name):
    """`import pymemcg.sweep`, `from pymemcg.cli import main`, ... as before the move to
    pymemcg.tools: the very module (not a copy: one set of classes, patches reach both names),
    and nothing else of the tools imported on the way."""
    code = (f"import sys, pymemcg, pymemcg.{name} as old, pymemcg.tools.{name} as new; "
            f"print(old is new, new.__spec__.name, sys.modules['pymemcg.{name}'] is new, "
            "sorted(m for m in sys.modules if m.startswith('pymemcg.') and m.split('.')[1] in pymemcg.TOOLS))")
    r = subprocess.run([sys.executable, "-W", "error", "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    same, spec, registered, aliases = r.stdout.split(" ", 3)
    assert (same, spec, registered) == ("True", f"pymemcg.tools.{name}", "True")
    assert eval(aliases) == sorted({f"pymemcg.{name}", f"pymemcg.{name.split('.')[0]}"})
    r = subprocess.run([sys.executable, "-c", "from pymemcg.cli import main; from pymemcg.sweep import run, ConfigError"
                        "; import pymemcg.tools.cli as c; assert main is c.main"], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, r.stderr
    with pytest.raises(ModuleNotFoundError):
        import pymemcg.nope  # noqa: F401


def test_the_api_does_not_import_the_tools():
    api = [n for n in pymemcg.SUBMODULES if n != "explore"]    # explore runs on the sweep's executors
    code = (f"import pymemcg, sys; [getattr(pymemcg, n) for n in {api!r}]; "
            "print(sorted(m for m in sys.modules if m.startswith('pymemcg.tools')))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stdout.strip() == "[]", (r.stdout, r.stderr)


def test_version():
    r = subprocess.run([sys.executable, "-m", "pymemcg", "--version"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stdout == f"pymemcg {pymemcg.__version__}\n"


def test_every_object_a_user_holds_has_a_useful_repr():
    eng = pymemcg.Engine("16M", "16M")
    cg = eng.mkdir("a")
    t = eng.spawn(cg)
    t.fault(range(8))
    eng.shrink_active_list(cg, 8)
    batch = eng.isolate(cg, 4)
    assert repr(batch) == "<Batch 0 4 pages, next: start>"
    eng.shrink_page_list(batch)
    assert repr(eng.pages).startswith("<PageArrays: 4,096 frames, read-only numpy arrays flags, count, mapcount")
    assert repr(t) == f"<Task pid={t.pid} alive>" and repr(cg) == "<Cgroup /a>"
    assert repr(eng).startswith("<Engine ram=16777216 swap=16777216 kernel=2.6.30 hook=none tasks=1")
    res = pymemcg.Engine("16M", "16M").replay(pymemcg.workloads.from_accesses(range(100)), cpus=1)
    assert re.fullmatch(r"<ReplayResult 101 events in \d+\.\d\d s: 100 pages touched, miss ratio 1\.000, "
                        r"stale swap cache 0, 0 OOM-killed, \d+ samples>", repr(res))
    s = pymemcg.mix.Stream([1, 2, 2])
    assert repr(s) == "<Stream 3 faults, 3 pages touched>"


def test_the_docs_stay_inside_the_project():
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        text = path.read_text()
        for bad in ("../shared", "kernel-semantics", "§"):
            assert bad not in text, f"{path.name} points outside the project: {bad!r}"


def test_semantics_defines_the_leaks_and_the_invariants():
    text = (ROOT / "docs" / "semantics.md").read_text()
    for key in pymemcg.Engine("1M", 0).leaks():
        assert f"`{key}`" in text, key
    for inv in ("I1", "I2", "I3", "I4", "I5"):
        assert f"**{inv}**" in text, inv
