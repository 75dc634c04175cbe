"""cffi builder (API mode) for pymemcg._core.

Compiles every csrc/*.c and csrc/strategies/*.c into one extension.  The cdef is the region
between the CDEF markers of pymemcg/include/pymemcg_strategy.h (the strategy interface,
installed with the package) and of csrc/pymemcg.h, so declarations exist once, plus the
extern "Python" hook functions through which Python strategies are called
(pymemcg/strategies.py).  Compiler flags: pymemcg/_cflags.py.
"""
import glob
import os
import runpy

from cffi import FFI

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
CSRC = os.path.join(ROOT, "csrc")
INCLUDE = os.path.join(HERE, "include")

# one C function per hook point, each calling the Python strategy registered for it
PYTHON_HOOKS = """
extern "Python" int32_t pmc_py_after_add_to_swap(const struct pmc_ctx *, int32_t);
extern "Python" int32_t pmc_py_shrink_page_list_exit(const struct pmc_ctx *, int32_t, int32_t);
extern "Python" int32_t pmc_py_page_remove_rmap(const struct pmc_ctx *, int32_t);
extern "Python" int32_t pmc_py_delete_from_swap_cache(const struct pmc_ctx *, int32_t);
extern "Python" int32_t pmc_py_free_hot_cold_page(const struct pmc_ctx *, int32_t);
extern "Python" int32_t pmc_py_do_swap_page(const struct pmc_ctx *, int32_t, int32_t);
extern "Python" int32_t pmc_py_free_swap_and_cache(const struct pmc_ctx *, int32_t, int32_t, int32_t);
extern "Python" int32_t pmc_py_scan_swap_map(const struct pmc_ctx *, int32_t, int32_t);
"""


def _region(path):
    with open(path) as f:
        text = f.read()
    begin = text.index("/* CDEF BEGIN */") + len("/* CDEF BEGIN */")
    return text[begin:text.index("/* CDEF END */")]


def _cdef():
    return (_region(os.path.join(INCLUDE, "pymemcg_strategy.h")) + _region(os.path.join(CSRC, "pymemcg.h"))
            + PYTHON_HOOKS)


def _sources():
    found = glob.glob(os.path.join(CSRC, "*.c")) + glob.glob(os.path.join(CSRC, "strategies", "*.c"))
    # relative paths: setuptools wants them relative to setup.py
    return sorted(os.path.relpath(p, ROOT) for p in found)


_compile, _link = runpy.run_path(os.path.join(HERE, "_cflags.py"))["flags"]()
ffibuilder = FFI()
ffibuilder.cdef(_cdef())
ffibuilder.set_source(
    "pymemcg._core",
    '#include "pymemcg.h"',
    sources=_sources(),
    include_dirs=[os.path.relpath(CSRC, ROOT), os.path.relpath(INCLUDE, ROOT)],
    extra_compile_args=_compile,
    extra_link_args=_link,
)

if __name__ == "__main__":
    ffibuilder.compile(verbose=True)
