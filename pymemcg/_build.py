"""cffi builder (API mode) for pymemcg._core.

Compiles every csrc/*.c into one extension.  The cdef is the region of
csrc/pymemcg.h between the CDEF markers, so declarations exist once.

PYMEMCG_SANITIZE=1 builds the same core with -O1 -g and AddressSanitizer +
UndefinedBehaviorSanitizer (load it with libasan preloaded; see docs/).
"""
import glob
import os

from cffi import FFI

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
CSRC = os.path.join(ROOT, "csrc")


def _cdef():
    with open(os.path.join(CSRC, "pymemcg.h")) as f:
        text = f.read()
    begin = text.index("/* CDEF BEGIN */") + len("/* CDEF BEGIN */")
    return text[begin:text.index("/* CDEF END */")]


def _flags():
    if os.environ.get("PYMEMCG_SANITIZE") == "1":
        san = ["-fsanitize=address,undefined", "-fno-omit-frame-pointer", "-fno-sanitize-recover=undefined"]
        return ["-std=c11", "-O1", "-g", "-Wall", "-Wextra"] + san, san
    # -flto: the core's files call each other's small helpers (lru, page refs, charges) on
    # every page-step; LTO inlines them across files (replay measured ~10% faster).  Nothing
    # interposes the core's symbols, so -fno-semantic-interposition lets gcc inline within a file.
    lto = ["-flto", "-fno-semantic-interposition"]
    return ["-std=c11", "-O3", "-Wall", "-Wextra"] + lto, ["-O3"] + lto


ffibuilder = FFI()
ffibuilder.cdef(_cdef())
_compile, _link = _flags()
ffibuilder.set_source(
    "pymemcg._core",
    '#include "pymemcg.h"',
    # relative paths: setuptools wants them relative to setup.py
    sources=sorted(os.path.relpath(p, ROOT) for p in glob.glob(os.path.join(CSRC, "*.c"))),
    include_dirs=[os.path.relpath(CSRC, ROOT)],
    extra_compile_args=_compile,
    extra_link_args=_link,
)

if __name__ == "__main__":
    ffibuilder.compile(verbose=True)
