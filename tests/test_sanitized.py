"""A slice of the Python suite against the core built with AddressSanitizer and
UndefinedBehaviorSanitizer (PYMEMCG_SANITIZE=1), in a scratch copy of the package,
with the sanitizer runtimes preloaded into a child interpreter.  Any out-of-bounds
access, use after free or undefined behaviour aborts the child and fails this test."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SLICE = ["tests/test_tasks.py", "tests/test_races.py", "tests/test_swap.py", "tests/test_bad_input.py",
         "tests/test_cgroup_files.py", "tests/test_replay.py", "tests/test_determinism.py",
         "tests/test_model_differential.py", "tests/test_fuzz.py", "tests/test_replay_fast.py",
         "tests/test_strategies.py", "tests/test_explore.py"]


def _runtime(name):
    gcc = shutil.which("gcc")
    if not gcc:
        return None
    path = subprocess.run([gcc, f"-print-file-name={name}"], capture_output=True, text=True).stdout.strip()
    return path if os.path.isabs(path) and os.path.exists(path) else None


@pytest.fixture(scope="module")
def sanitized_copy(tmp_path_factory):
    libasan, libubsan = _runtime("libasan.so"), _runtime("libubsan.so")
    if not (libasan and libubsan):
        pytest.skip("gcc with libasan/libubsan is needed for the sanitizer build")
    dst = tmp_path_factory.mktemp("asan")
    shutil.copytree(ROOT / "pymemcg", dst / "pymemcg", ignore=shutil.ignore_patterns("*.so", "__pycache__"))
    shutil.copytree(ROOT / "csrc", dst / "csrc", ignore=shutil.ignore_patterns("tests"))
    shutil.copytree(ROOT / "tests", dst / "tests", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "docs", dst / "docs")      # the strategy tests compile the docs' examples
    build = ("import sys; sys.path.insert(0, '.'); from pymemcg._build import ffibuilder; "
             "ffibuilder.compile(tmpdir='.', verbose=False)")
    proc = subprocess.run([sys.executable, "-c", build], cwd=dst, capture_output=True, text=True,
                          env=dict(os.environ, PYMEMCG_SANITIZE="1"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    return dst, f"{libasan}:{libubsan}"


def test_python_slice_under_asan_and_ubsan(sanitized_copy):
    dst, preload = sanitized_copy
    log = dst / "sanitizer"
    env = dict(os.environ, LD_PRELOAD=preload, PYTHONPATH=str(dst),
               ASAN_OPTIONS=f"detect_leaks=0:abort_on_error=1:log_path={log}",
               UBSAN_OPTIONS=f"halt_on_error=1:print_stacktrace=1:log_path={log}")
    env.pop("PYTEST_ADDOPTS", None)
    check = subprocess.run([sys.executable, "-c", "import pymemcg; print(pymemcg.__file__)"], cwd=dst, env=env,
                           capture_output=True, text=True)
    assert check.returncode == 0 and str(dst) in check.stdout, (check.stdout, check.stderr[-2000:])
    # -s: a sanitizer report goes to the child's stderr instead of pytest's capture
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-s", "-x", "-p", "no:cacheprovider",
                           # those run a child under an address-space limit ASan's shadow memory cannot live in,
                           # or measure a child's resident memory, which ASan's shadow inflates
                           "-k", "not whole_address_space and not not_kept_resident",
                           "-o", "addopts=", *SLICE], cwd=dst, env=env, capture_output=True, text=True, timeout=900)
    reports = "".join(p.read_text() for p in dst.glob("sanitizer*"))
    tail = proc.stdout[-3000:] + proc.stderr[-3000:] + reports[-6000:]
    assert proc.returncode == 0 and not reports, tail
    assert "passed" in proc.stdout and "failed" not in proc.stdout.splitlines()[-1], tail
