"""The C core on its own: csrc/tests/test_core.c built with ASan/UBSan and run
with LeakSanitizer, and every csrc/*.c and csrc/strategies/*.c compiled warning-free.

Both need gcc (and, for the first, gcc's libasan/libubsan); without them the
tests are skipped with a message saying so.
"""
import glob
import os
import shutil
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CSRC = os.path.join(ROOT, "csrc")
TEST_C = os.path.join("csrc", "tests", "test_core.c")
SANITIZE = ["-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-fno-omit-frame-pointer"]
INCLUDES = ["-Icsrc", "-Ipymemcg/include"]
CFLAGS = ["-std=c11", "-O1", "-g", *SANITIZE, "-Wall", "-Wextra", "-Wpedantic", "-Werror", *INCLUDES]
RUN_TIMEOUT = 600

def _core_sources():
    found = glob.glob(os.path.join(CSRC, "*.c")) + glob.glob(os.path.join(CSRC, "strategies", "*.c"))
    return sorted(os.path.relpath(p, ROOT) for p in found)


def _gcc():
    gcc = shutil.which("gcc")
    if gcc is None:
        pytest.skip("gcc not found on PATH: the C core tests compile csrc/ with gcc")
    return gcc


def _show(proc):
    return f"exit status {proc.returncode}\n--- stdout ---\n{proc.stdout}\n--- stderr ---\n{proc.stderr}"


@pytest.fixture(scope="module")
def test_core(tmp_path_factory):
    """csrc/*.c + csrc/tests/test_core.c, built with ASan and UBSan."""
    gcc = _gcc()
    tmp = tmp_path_factory.mktemp("c_core")
    probe = tmp / "probe.c"
    probe.write_text("int main(void) { return 0; }\n")
    p = subprocess.run([gcc, *SANITIZE, str(probe), "-o", str(tmp / "probe")], capture_output=True, text=True)
    if p.returncode:
        pytest.skip(f"gcc cannot build with -fsanitize=address,undefined here (libasan/libubsan missing?):\n"
                    f"{p.stderr}")
    exe = tmp / "test_core"
    cmd = [gcc, *CFLAGS, *_core_sources(), TEST_C, "-o", str(exe)]
    p = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    if p.returncode:
        pytest.fail(f"building the C test program failed:\n$ {' '.join(cmd)}\n{_show(p)}", pytrace=False)
    return exe


def _run(exe, *args, timeout=RUN_TIMEOUT):
    env = dict(os.environ, ASAN_OPTIONS="detect_leaks=1", UBSAN_OPTIONS="print_stacktrace=1")
    return subprocess.run([str(exe), *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)


def test_c_core_under_sanitizers(test_core):
    p = _run(test_core)
    if p.returncode:
        pytest.fail(f"csrc/tests/test_core.c failed under ASan/UBSan:\n{_show(p)}", pytrace=False)
    last = p.stdout.strip().splitlines()[-1]
    assert last.endswith(" passed, 0 failed"), _show(p)
    assert int(last.split()[0]) > 0, _show(p)
    assert "ERROR: LeakSanitizer" not in p.stderr, _show(p)
    assert "runtime error" not in p.stderr, _show(p)


@pytest.mark.parametrize("source", _core_sources())
def test_c_core_compiles_without_warnings(tmp_path, source):
    gcc = _gcc()
    cmd = [gcc, "-std=c11", "-O3", "-Wall", "-Wextra", "-Werror", *INCLUDES, "-c", source,
           "-o", str(tmp_path / "out.o")]
    p = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    if p.returncode:
        pytest.fail(f"$ {' '.join(cmd)}\n{_show(p)}", pytrace=False)
    assert p.stderr == "", f"$ {' '.join(cmd)}\n{p.stderr}"
