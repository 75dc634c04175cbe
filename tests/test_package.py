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
                                  "mrc", "bench", "plot", "sizes", "explore"])
def test_documented_submodules_are_attributes(name):
    code = f"import pymemcg, sys; m = pymemcg.{name}; print(m.__name__, 'pymemcg.sweep' in sys.modules)"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    got, sweep_loaded = r.stdout.split()
    assert got == f"pymemcg.{name}"
    assert sweep_loaded == str(name == "sweep")       # lazily: only what is asked for
    assert name in dir(pymemcg)
    with pytest.raises(AttributeError, match="nope"):
        pymemcg.nope


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
