"""The compiler flags of the core, shared by its build (pymemcg/_build.py, which loads this
file by path, before the package exists) and by pymemcg.strategies.compile(), so that a
strategy compiled at run time is built exactly like the shipped ones.

PYMEMCG_SANITIZE=1 builds with -O1 -g and AddressSanitizer + UndefinedBehaviorSanitizer
(load it with libasan preloaded; see README "Debugging").
"""
import os


def flags():
    """(compile args, link args)."""
    if os.environ.get("PYMEMCG_SANITIZE") == "1":
        san = ["-fsanitize=address,undefined", "-fno-omit-frame-pointer", "-fno-sanitize-recover=undefined"]
        return ["-std=c11", "-O1", "-g", "-Wall", "-Wextra", "-Wpedantic"] + san, san
    # -flto: the core's files call each other's small helpers (lru, page refs, charges) on
    # every page-step; LTO inlines them across files (replay measured ~10% faster).  Nothing
    # interposes the core's symbols, so -fno-semantic-interposition lets gcc inline within a file.
    lto = ["-flto", "-fno-semantic-interposition"]
    return ["-std=c11", "-O3", "-Wall", "-Wextra", "-Wpedantic"] + lto, ["-O3"] + lto
