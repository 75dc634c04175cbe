"""Reclaim strategies: the registry every part of pymemcg takes strategy names from
(``Engine(hook=...)``, the CLI's ``--hook``, ``bench``, ``demo``, sweeps, ``copy``, ``save``/``load``).

The strategies shipped in the core (``none``, ``seed``, ``uncharge-at-free``) are registered at
import, in the core's order.  A user adds one in C::

    pymemcg.strategies.compile("my_fix.c", name="my-fix")      # then Engine(hook="my-fix")

or, for prototyping, in Python::

    def after_add_to_swap(page):
        if page.anon and not page.mapped and page.try_to_free_swap():
            return strategies.KEEP_LOCKED
        return strategies.GO_ON

    pymemcg.strategies.register("proto", after_add_to_swap=after_add_to_swap)

The hook points, what each may do and what its answer decides are in
``pymemcg/include/pymemcg_strategy.h`` and docs/strategies.md.  A strategy registered here is
known to this process only; ``spec(name)`` says how another process (a sweep worker, a later
``load``) gets it: it recompiles the C file, or imports the Python hook functions by
``module:name``.
"""
import hashlib
import importlib
import importlib.machinery
import importlib.util
import json
import os
import re
import subprocess
import sys
import tempfile
from collections import OrderedDict

from . import _cflags
from ._ffi import ffi, lib
from ._ffi import strategy_failed as _failed
from .errors import StrategyError

__all__ = ["compile", "register", "unregister", "get", "names", "load", "spec", "ensure", "include_dir",
           "Strategy", "Page", "StrategyError", "HOOKS", "GO_ON", "KEEP_LOCKED", "ACTIVATE", "DEFER", "KEEP_CACHE",
           "RECLAIM", "EXIT_KEEP", "EXIT_KEEP_LOCKED", "EXIT_ACTIVATE_LOCKED"]

# the answers (enum pmc_decision) and the exits shrink_page_list_exit is shown (enum pmc_exit)
GO_ON, KEEP_LOCKED, ACTIVATE = lib.PMC_GO_ON, lib.PMC_KEEP_LOCKED, lib.PMC_ACTIVATE
DEFER, KEEP_CACHE, RECLAIM = lib.PMC_DEFER, lib.PMC_KEEP_CACHE, lib.PMC_RECLAIM
EXIT_KEEP, EXIT_KEEP_LOCKED, EXIT_ACTIVATE_LOCKED = (lib.PMC_EXIT_KEEP, lib.PMC_EXIT_KEEP_LOCKED,
                                                     lib.PMC_EXIT_ACTIVATE_LOCKED)
NCOUNTERS = lib.PMC_STRATEGY_COUNTERS

# the hook points, in struct pmc_strategy's order, with the arguments a Python hook gets
HOOKS = OrderedDict([
    ("after_add_to_swap", "page"),
    ("shrink_page_list_exit", "page, exit"),
    ("page_remove_rmap", "page"),
    ("delete_from_swap_cache", "page"),
    ("free_hot_cold_page", "page"),
    ("do_swap_page", "page, memcg"),
    ("free_swap_and_cache", "slot, page, locked"),
    ("scan_swap_map", "slot, page"),
])

_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,39}\Z")
_COUNTER = re.compile(r"[a-z0-9][a-z0-9_]{0,39}\Z")


class Strategy:
    """A registered strategy: ``name``, ``doc``, ``kind`` ("shipped", "c" or "python"),
    ``counters`` (the names of its own counters), ``hooks`` (the hook points it fills in),
    ``source`` (the C file, or the Python hooks' ``module:name``s)."""

    def __init__(self, name, kind, table, keep=(), source=None, spec=None):
        self.name = name
        self.kind = kind
        self._table = table          # const struct pmc_strategy *, in the core's ffi
        self._keep = keep            # what keeps the table's memory alive
        self.doc = ffi.string(table.doc).decode() if table.doc != ffi.NULL else ""
        self.counters = tuple(ffi.string(table.counters[i]).decode() for i in range(NCOUNTERS)
                              if table.counters[i] != ffi.NULL)
        self.hooks = tuple(h for h in HOOKS if getattr(table, h) != ffi.NULL)
        self.source = source
        self._spec = spec

    def __repr__(self):
        return f"<Strategy {self.name!r} ({self.kind}) hooks={list(self.hooks)}>"


_REGISTRY = OrderedDict()


def _check_table(table, what):
    err = ffi.new("char[256]")
    if lib.pmc_strategy_check(table, err, 256):
        raise StrategyError(f"{what}: {ffi.string(err).decode()}")


def _shipped():
    i = 0
    while True:
        table = lib.pmc_strategy_shipped(i)
        if table == ffi.NULL:
            return
        name = ffi.string(table.name).decode()
        _REGISTRY[name] = Strategy(name, "shipped", table, source="csrc/strategies")
        i += 1


def names():
    """Every registered strategy's name: the shipped ones first, then in registration order."""
    return list(_REGISTRY)


def shipped():
    """The names of the strategies shipped in the core."""
    return [n for n, s in _REGISTRY.items() if s.kind == "shipped"]


def get(name):
    """The registered strategy called name; ValueError naming the registered ones otherwise."""
    s = _REGISTRY.get(name) if isinstance(name, str) else None
    if s is None:
        raise ValueError(f"hook must be a registered strategy ({', '.join(_REGISTRY)}), got {name!r}; compile or "
                         f"register a strategy of your own with pymemcg.strategies.compile() / register()")
    return s


def _add(s, replace):
    old = _REGISTRY.get(s.name)
    if old is not None and (old.kind == "shipped" or not replace):
        raise StrategyError(f"a strategy called {s.name!r} is already registered"
                            + ("" if old.kind == "shipped" else " (pass replace=True to replace it)"))
    _REGISTRY[s.name] = s
    return s


def unregister(name):
    """Forget a strategy of your own (engines already using it keep it)."""
    s = get(name)
    if s.kind == "shipped":
        raise StrategyError(f"{name!r} is shipped with pymemcg and cannot be unregistered")
    del _REGISTRY[name]


def _valid_name(name):
    if not isinstance(name, str) or not _NAME.match(name):
        raise ValueError(f"a strategy name is 1-40 characters of a-z 0-9 . _ - starting with a letter or digit, "
                         f"got {name!r}")
    return name


# -- strategies in C --------------------------------------------------------------------------


def include_dir():
    """The folder holding pymemcg_strategy.h, inside the installed package."""
    return os.path.join(os.path.dirname(os.path.abspath(__file__)), "include")


def _cache_dir():
    d = os.environ.get("PYMEMCG_CACHE_DIR")
    if not d:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        d = os.path.join(base, "pymemcg", "strategies")
    try:
        os.makedirs(d, exist_ok=True)
    except OSError:
        d = os.path.join(tempfile.gettempdir(), "pymemcg-strategies")
        os.makedirs(d, exist_ok=True)
    return d


_BUILD = r"""
import json, sys
from cffi import FFI
a = json.loads(sys.argv[1])
ffi = FFI()
ffi.cdef("void *pmc_strategy_export(void);")
ffi.set_source(a["module"], a["source"], include_dirs=a["include_dirs"], extra_compile_args=a["cflags"],
               extra_link_args=a["lflags"])
print(ffi.compile(tmpdir=a["tmpdir"], target=a["module"] + ".*"))
"""

_MODULES = {}


def _build(path, source):
    """Build source (the text of path) into an extension module of its own, cached by content.
    Returns the loaded module."""
    header = open(os.path.join(include_dir(), "pymemcg_strategy.h"), "rb").read()
    cflags, lflags = _cflags.flags()
    import cffi
    key = hashlib.sha256(b"\0".join([source, header, json.dumps([cflags, lflags, path]).encode(),
                                     sys.version.encode(), cffi.__version__.encode()])).hexdigest()
    module = f"_pymemcg_strategy_{key[:24]}"
    if module in _MODULES:
        return _MODULES[module]
    cache = _cache_dir()
    suffix = importlib.machinery.EXTENSION_SUFFIXES[0]
    target = os.path.join(cache, module + suffix)
    if not os.path.exists(target):
        text = source.decode("utf-8", "replace")
        literal = json.dumps(path)                       # a C string literal for #line
        args = {"module": module, "source": f'#include "pymemcg_strategy.h"\n#line 1 {literal}\n{text}\n',
                "include_dirs": [os.path.dirname(path), include_dir()], "cflags": cflags, "lflags": lflags}
        with tempfile.TemporaryDirectory(dir=cache) as tmp:
            args["tmpdir"] = tmp
            proc = subprocess.run([sys.executable, "-c", _BUILD, json.dumps(args)], capture_output=True,
                                  text=True, cwd=tmp)
            if proc.returncode:
                out = (proc.stderr + proc.stdout).strip()
                raise StrategyError(f"compiling {path} failed:\n{out[-6000:]}")
            built = proc.stdout.strip().splitlines()[-1]
            os.replace(built, target)                    # atomic: concurrent builders agree
    spec = importlib.util.spec_from_file_location(module, target)
    try:
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
    except ImportError as e:
        if "pmc_strategy_export" in str(e):
            raise StrategyError(f"{path} exports no strategy table: end it with PMC_EXPORT(your_table);") from None
        raise StrategyError(f"{path}: the compiled strategy cannot be loaded ({e})") from None
    _MODULES[module] = mod
    return mod


def compile(path, name=None, *, replace=False):
    """Build the strategy in the C file `path` at run time, against the installed
    pymemcg_strategy.h with the core's compiler flags, and register it as `name` (default:
    the table's own name).  The file fills in a ``const struct pmc_strategy`` (start it with
    PMC_STRATEGY_INIT) and ends with ``PMC_EXPORT(table);``.  A compile error raises
    StrategyError carrying the compiler's message; a malformed table (another interface
    version or size, a bad name or counter name) is refused before any engine runs it.
    Built modules are cached by content ($PYMEMCG_CACHE_DIR, default ~/.cache/pymemcg)."""
    path = os.path.abspath(os.fspath(path))
    with open(path, "rb") as f:
        source = f.read()
    mod = _build(path, source)
    addr = int(mod.ffi.cast("uintptr_t", mod.lib.pmc_strategy_export()))
    table = ffi.cast("const struct pmc_strategy *", addr)
    _check_table(table, path)
    name = _valid_name(name) if name is not None else ffi.string(table.name).decode()
    sha = hashlib.sha256(source).hexdigest()
    old = _REGISTRY.get(name)
    if old is not None and old.kind == "c" and old._spec["sha256"] == sha and old.source == path:
        return old                                       # the same file again
    s = Strategy(name, "c", table, keep=(mod,), source=path,
                 spec={"kind": "c", "name": name, "path": path, "sha256": sha})
    return _add(s, replace)


# -- strategies in Python ---------------------------------------------------------------------


class Kernel:
    """What a Python hook sees of the engine besides its page (``page.kernel``)."""

    __slots__ = ("_c",)

    def __init__(self, ctx):
        self._c = ctx

    @property
    def version(self):
        """"2.6.30" or "2.6.31"."""
        return "2.6.31" if self._c.kernel == lib.PMC_KERNEL_2_6_31 else "2.6.30"

    def vm_swap_full(self):
        return bool(self._c.api.vm_swap_full(self._c))

    def swap_count(self, slot):
        """Swap ptes using the slot."""
        return self._c.api.swap_count(self._c, slot)

    def swap_cgroup(self, slot):
        """The memcg id the slot's memsw charge is recorded for, or 0."""
        return self._c.api.swap_cgroup(self._c, slot)

    def count(self, counter, n=1):
        """Add n to one of the strategy's own counters (by name)."""
        names = ffi.from_handle(self._c.data).counters
        self._c.counters[names.index(counter)] += n


class Page:
    """A page frame as a Python hook sees it: read-only state, and the two things it may ask
    for (try_to_free_swap, uncharge), which the kernel's functions grant or refuse."""

    __slots__ = ("_c", "pfn")

    def __init__(self, ctx, pfn):
        self._c = ctx
        self.pfn = pfn

    def __repr__(self):
        return f"<Page {self.pfn} flags={self.flags:#x}>"

    @property
    def kernel(self):
        return Kernel(self._c)

    @property
    def flags(self):
        """The flag word (pymemcg.PG_* and PCG_* bits)."""
        return self._c.api.page_flags(self._c, self.pfn)

    def test(self, flag):
        return bool(self.flags & flag)

    anon = property(lambda self: self.test(lib.PG_anon))
    swapcache = property(lambda self: self.test(lib.PG_swapcache))
    locked = property(lambda self: self.test(lib.PG_locked))
    dirty = property(lambda self: self.test(lib.PG_dirty))
    writeback = property(lambda self: self.test(lib.PG_writeback))
    charged = property(lambda self: self.test(lib.PCG_USED))
    mapped = property(lambda self: bool(self._c.api.page_mapped(self._c, self.pfn)))
    count = property(lambda self: self._c.api.page_count(self._c, self.pfn))
    mapcount = property(lambda self: self._c.api.page_mapcount(self._c, self.pfn))
    memcg = property(lambda self: self._c.api.page_memcg(self._c, self.pfn), doc="owner id if charged, else 0")
    slot = property(lambda self: self._c.api.page_swap_slot(self._c, self.pfn), doc="swap slot, or 0")
    swapcount = property(lambda self: self._c.api.page_swapcount(self._c, self.pfn), doc="swap ptes on its slot")

    def try_to_free_swap(self):
        """Drop the page's swap slot (only the page the hook point holds locked)."""
        return bool(self._c.api.try_to_free_swap(self._c, self.pfn))

    def uncharge(self):
        """mem_cgroup_uncharge_page (refused if mapped, in the swap cache or not charged)."""
        return bool(self._c.api.uncharge_page(self._c, self.pfn))


def _engine_key(ctx):
    return int(ffi.cast("uintptr_t", ctx.e))


def _dispatch(ctx, hook, args):
    """Call a Python strategy's hook.  An exception is kept for the caller (raised once the
    C call it happened in returns), and the engine goes on with PMC_GO_ON, which is also the
    answer for every later hook of that engine until the exception has been raised."""
    key = _engine_key(ctx)
    if key in _failed:
        return GO_ON
    s = ffi.from_handle(ctx.data)
    try:
        answer = s.functions[hook](*args)
        return GO_ON if answer is None else int(answer)
    except BaseException as exc:           # KeyboardInterrupt too: the engine must stay consistent
        _failed[key] = (exc, s.name, hook)
        return GO_ON


def _page(ctx, pfn):
    return None if pfn < 0 else Page(ctx, pfn)


@ffi.def_extern(error=0)
def pmc_py_after_add_to_swap(ctx, pfn):
    return _dispatch(ctx, "after_add_to_swap", (Page(ctx, pfn),))


@ffi.def_extern(error=0)
def pmc_py_shrink_page_list_exit(ctx, pfn, exit):
    return _dispatch(ctx, "shrink_page_list_exit", (Page(ctx, pfn), exit))


@ffi.def_extern(error=0)
def pmc_py_page_remove_rmap(ctx, pfn):
    return _dispatch(ctx, "page_remove_rmap", (Page(ctx, pfn),))


@ffi.def_extern(error=0)
def pmc_py_delete_from_swap_cache(ctx, pfn):
    return _dispatch(ctx, "delete_from_swap_cache", (Page(ctx, pfn),))


@ffi.def_extern(error=0)
def pmc_py_free_hot_cold_page(ctx, pfn):
    return _dispatch(ctx, "free_hot_cold_page", (Page(ctx, pfn),))


@ffi.def_extern(error=0)
def pmc_py_do_swap_page(ctx, pfn, memcg):
    return _dispatch(ctx, "do_swap_page", (Page(ctx, pfn), memcg))


@ffi.def_extern(error=0)
def pmc_py_free_swap_and_cache(ctx, off, pfn, locked):
    return _dispatch(ctx, "free_swap_and_cache", (off, _page(ctx, pfn), bool(locked)))


@ffi.def_extern(error=0)
def pmc_py_scan_swap_map(ctx, off, pfn):
    return _dispatch(ctx, "scan_swap_map", (off, _page(ctx, pfn)))


class _PythonTable:
    """The C table of a Python strategy and what it points to."""

    def __init__(self, name, doc, counters, functions):
        self.name = name
        self.counters = tuple(counters)
        self.functions = functions
        self.table = ffi.new("struct pmc_strategy *")
        self._strings = [ffi.new("char[]", x.encode()) for x in (name, doc, *counters)]
        self.table.abi, self.table.size = lib.PMC_STRATEGY_ABI, ffi.sizeof("struct pmc_strategy")
        self.table.name, self.table.doc = self._strings[0], self._strings[1]
        for i, c in enumerate(self._strings[2:]):
            self.table.counters[i] = c
        self._handle = ffi.new_handle(self)
        self.table.data = self._handle
        for hook in functions:
            setattr(self.table, hook, getattr(lib, "pmc_py_" + hook))


def _importable(fn):
    """module:qualname of a function another process can import, or None."""
    mod, qual = getattr(fn, "__module__", None), getattr(fn, "__qualname__", "")
    if not mod or mod == "__main__" or "<" in qual:
        return None
    try:
        obj = importlib.import_module(mod)
        for part in qual.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError):
        return None
    return f"{mod}:{qual}" if obj is fn else None


def register(name, *, doc="", counters=(), replace=False, **hooks):
    """Register a strategy written in Python: one callable per hook point you fill in
    (the names of HOOKS).  Each gets a small Page proxy (``page.anon``, ``page.mapped``,
    ``page.try_to_free_swap()``, ``page.kernel.count("name")``, ...) and returns the decision
    (None means GO_ON; True means 1, KEEP_LOCKED).  It is slow -- a C-to-Python round trip per
    call, fine for the step API and small replays -- and gives the same results as the same
    logic in C.  An exception raised by a hook is raised to the caller when the engine call
    it happened in returns; the engine goes on as if every hook of that call from then on
    had answered GO_ON, so its state stays consistent (eng.check() passes)."""
    _valid_name(name)
    bad = sorted(set(hooks) - set(HOOKS))
    if bad:
        raise ValueError(f"unknown hook point(s) {bad}; the hook points are {list(HOOKS)}")
    for hook, fn in hooks.items():
        if not callable(fn):
            raise TypeError(f"{hook} must be callable, got {fn!r}")
    if not isinstance(doc, str):
        raise TypeError("doc must be a str")
    counters = tuple(counters)
    if len(counters) > NCOUNTERS or len(set(counters)) != len(counters) or \
            not all(isinstance(c, str) and _COUNTER.match(c) for c in counters):
        raise ValueError(f"counters: at most {NCOUNTERS} distinct names of a-z 0-9 _, got {counters!r}")
    py = _PythonTable(name, doc, counters, {h: hooks[h] for h in HOOKS if h in hooks})
    _check_table(py.table, name)
    where = {h: _importable(fn) for h, fn in py.functions.items()}
    spec = None
    if all(where.values()):
        spec = {"kind": "python", "name": name, "doc": doc, "counters": list(counters), "hooks": where}
    return _add(Strategy(name, "python", py.table, keep=(py,), source=where, spec=spec), replace)


# -- other processes ----------------------------------------------------------------------------


def spec(name):
    """What another process needs to get strategy `name` (a JSON-ready dict), or None for a
    shipped strategy.  StrategyError if it cannot be recreated elsewhere (a Python hook that
    is a lambda, a closure or defined in __main__)."""
    s = get(name)
    if s.kind == "shipped":
        return None
    if s._spec is None:
        raise StrategyError(f"strategy {name!r} cannot be recreated in another process: its hooks must be "
                            f"functions at the top level of an importable module")
    return dict(s._spec)


def ensure(sp):
    """Make the strategy a spec() describes available in this process; returns its name."""
    if sp is None:
        return None
    if not isinstance(sp, dict) or sp.get("kind") not in ("c", "python"):
        raise ValueError(f"not a strategy spec: {sp!r}")
    name = sp["name"]
    have = _REGISTRY.get(name)
    if have is not None and have._spec == sp:
        return name
    if sp["kind"] == "c":
        with open(sp["path"], "rb") as f:
            if hashlib.sha256(f.read()).hexdigest() != sp["sha256"]:
                raise StrategyError(f"{sp['path']} changed since strategy {name!r} was compiled from it")
        return compile(sp["path"], name, replace=True).name
    hooks = {}
    for hook, where in sp["hooks"].items():
        mod, _, qual = where.partition(":")
        obj = importlib.import_module(mod)
        for part in qual.split("."):
            obj = getattr(obj, part)
        hooks[hook] = obj
    return register(name, doc=sp.get("doc", ""), counters=sp.get("counters", ()), replace=True, **hooks).name


def load(source):
    """The CLI's --strategy: a .c file is compiled (registered under its table's name), anything
    else is imported as a Python module (which registers its strategies).  Returns the names
    it added."""
    before = set(_REGISTRY)
    if str(source).endswith(".c"):
        return [compile(source, replace=True).name]
    try:
        importlib.import_module(source)
    except ImportError as e:
        raise StrategyError(f"--strategy {source}: neither a .c file nor an importable module ({e})") from None
    return [n for n in _REGISTRY if n not in before]


_shipped()
