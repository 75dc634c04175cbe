"""Cgroup: one directory of the v1 memory controller (README.md, "A short tour").

Control-file writes are parsed as the kernel parses them (cgroup_write_X64,
res_counter_memparse_write_strategy) and refused with the kernel's errno.
"""
import errno

from ._ffi import check, ffi, lib
from .errors import CgroupError
from .sizes import PAGE_SIZE, RESOURCE_MAX, _U64, memparse, simple_strtoull

# cgroup_write_X64 and cgroup_write_string copy a write into a 64-byte buffer.
_X64_BUFFER = 64
_STRING_MAX = 63
_LRU_NAMES = ("inactive_anon", "active_anon", "inactive_file", "active_file", "unevictable")


def _raw(value):
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise TypeError(f"control-file values are str or int, not {type(value).__name__}")
    return str(value)


def _cstring(text):
    """The buffer as the parser sees it: a C string whose trailing whitespace strstrip
    removed (2.6.30/31 ignore strstrip's return value, so leading blanks stay)."""
    return text.split("\x00", 1)[0].rstrip(" \t\n\r\v\f")


def _write_x64(text):
    """cgroup_write_X64: non-empty, shorter than its buffer, simple_strtoull base 0, nothing may follow."""
    size = len(text.encode())
    if not size:
        raise CgroupError(errno.EINVAL, "empty write")
    if size >= _X64_BUFFER:
        raise CgroupError(errno.E2BIG, f"write of {size} bytes; this file takes at most {_X64_BUFFER - 1}")
    text = _cstring(text)
    value, end = simple_strtoull(text, 0)
    if end != len(text):
        raise CgroupError(errno.EINVAL, f"{text!r} is not a number")
    return value


def _write_string(text):
    """cgroup_write_string: at most 62 bytes, then the file's own parser."""
    size = len(text.encode())
    if size >= _STRING_MAX:
        raise CgroupError(errno.E2BIG, f"write of {size} bytes; this file takes at most {_STRING_MAX - 1}")
    return _cstring(text)


class Cgroup:
    """A memory cgroup. Created by Engine.mkdir, looked up by Engine.cgroup."""

    __slots__ = ("_eng", "_id", "_path")

    def __init__(self, eng, memcg_id, path):
        self._eng = eng
        self._id = memcg_id
        self._path = path

    def __repr__(self):
        return f"<Cgroup {self.path}{' (removed)' if self._info_raw().removed else ''}>"

    @property
    def path(self):
        return "/" + self._path

    # -- state ---------------------------------------------------------------

    def _info_raw(self):
        info = ffi.new("struct pmc_memcg_info *")
        check(lib.pmc_memcg_info(self._eng._ptr, self._id, info), self._eng._ptr)
        return info

    def _info(self):
        info = self._info_raw()
        if info.removed:
            raise CgroupError(errno.ENOENT, f"cgroup {self.path} was removed")
        return info

    def _swap_account(self, name):
        if not self._eng.swap_account:
            raise CgroupError(errno.ENOENT, f"{name} does not exist without swap accounting")

    def stat(self):
        """memory.stat of 2.6.30 as a dict: bytes, except pgpgin/pgpgout (events)."""
        i = self._info()
        out = {"cache": i.cache * PAGE_SIZE, "rss": i.rss * PAGE_SIZE, "pgpgin": i.pgpgin, "pgpgout": i.pgpgout}
        out.update((n, i.lru[k] * PAGE_SIZE) for k, n in enumerate(_LRU_NAMES))
        out["hierarchical_memory_limit"] = i.hierarchical_memory_limit
        if self._eng.swap_account:
            out["hierarchical_memsw_limit"] = i.hierarchical_memsw_limit
        out.update({"total_cache": i.total_cache * PAGE_SIZE, "total_rss": i.total_rss * PAGE_SIZE,
                    "total_pgpgin": i.total_pgpgin, "total_pgpgout": i.total_pgpgout})
        out.update(("total_" + n, i.total_lru[k] * PAGE_SIZE) for k, n in enumerate(_LRU_NAMES))
        return out

    @property
    def tasks(self):
        """The live tasks attached to this cgroup, by pid."""
        self._info()
        n = lib.pmc_task_pids(self._eng._ptr, self._id, ffi.NULL, 0)
        pids = ffi.new("int32_t[]", max(n, 1))
        n = lib.pmc_task_pids(self._eng._ptr, self._id, pids, n)
        return [self._eng._task(pids[k]) for k in range(n)]

    @property
    def parent(self):
        p = self._info().parent
        return self._eng._cg_by_id[p] if p else None

    # -- actions ---------------------------------------------------------------

    def force_empty(self):
        """memory.force_empty: reclaim, then move what is left to the parent; EBUSY with tasks or children."""
        self._info()
        check(lib.pmc_memcg_force_empty(self._eng._ptr, self._id), self._eng._ptr)
        self._eng._after_operation()

    def rmdir(self):
        """Remove the cgroup; EBUSY while it has tasks or children. Leftover charges move to the parent."""
        self._info()
        check(lib.pmc_memcg_rmdir(self._eng._ptr, self._id), self._eng._ptr)
        self._eng._forget_cgroup(self)

    # -- control files ---------------------------------------------------------

    def read(self, name):
        """Read a control file as cgroupfs shows it (a trailing newline included)."""
        if not isinstance(name, str):
            raise TypeError("control-file names are str")
        i = self._info()
        counters = {"": i.res, "memsw.": i.memsw}
        for prefix, c in counters.items():
            for field in ("usage", "max_usage", "limit"):
                if name == f"memory.{prefix}{field}_in_bytes":
                    if prefix:
                        self._swap_account(name)
                    return f"{getattr(c, field)}\n"
            if name == f"memory.{prefix}failcnt":
                if prefix:
                    self._swap_account(name)
                return f"{c.failcnt}\n"
        if name == "memory.stat":
            return "".join(f"{k} {v}\n" for k, v in self.stat().items())
        if name == "memory.use_hierarchy":
            return f"{i.use_hierarchy}\n"
        if name == "memory.swappiness":
            return f"{i.swappiness}\n"
        if name == "memory.force_empty":
            raise CgroupError(errno.EINVAL, "memory.force_empty cannot be read")
        raise CgroupError(errno.ENOENT, f"no control file {name!r}")

    def write(self, name, value):
        """Write a control file; a refused write raises CgroupError and changes nothing.
        Each file checks the bytes as its kernel write path does (cgroup_file_write)."""
        if not isinstance(name, str):
            raise TypeError("control-file names are str")
        text = _raw(value)
        self._info()
        eng, mid = self._eng._ptr, self._id
        if name in ("memory.limit_in_bytes", "memory.memsw.limit_in_bytes"):
            memsw = "memsw" in name
            if memsw:
                self._swap_account(name)
            val = self._parse_limit(_write_string(text))
            fn = lib.pmc_memcg_resize_memsw_limit if memsw else lib.pmc_memcg_resize_limit
            check(fn(eng, mid, val), eng)
        elif name in _RESETS:           # triggers: the written bytes are never looked at
            if "memsw" in name:
                self._swap_account(name)
            check(lib.pmc_memcg_reset(eng, mid, _RESETS[name]), eng)
        elif name == "memory.force_empty":
            self.force_empty()
        elif name == "memory.use_hierarchy":
            check(lib.pmc_memcg_set_use_hierarchy(eng, mid, _write_x64(text)), eng)
        elif name == "memory.swappiness":
            check(lib.pmc_memcg_set_swappiness(eng, mid, _write_x64(text)), eng)
        else:
            if name not in _READ_ONLY:
                raise CgroupError(errno.ENOENT, f"no control file {name!r}")
            if "memsw" in name:
                self._swap_account(name)
            raise CgroupError(errno.EINVAL, f"{name} is read-only")
        self._eng._after_operation()

    def _parse_limit(self, text):
        """res_counter_memparse_write_strategy: memparse, nothing may follow, round up to a page.
        2.6.31 also takes "-1" as unlimited."""
        if self._eng.kernel == "2.6.31" and text.startswith("-"):
            value, end = simple_strtoull(text[1:], 10)
            if value != 1 or end != len(text) - 1:
                raise CgroupError(errno.EINVAL, f"{text!r} is not a size (only -1 may be negative)")
            return RESOURCE_MAX
        value, end = memparse(text)
        if end != len(text):
            raise CgroupError(errno.EINVAL, f"{text!r} is not a size (a number with an optional K/M/G suffix)")
        return (value + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1) & _U64


_RESETS = {
    "memory.max_usage_in_bytes": lib.PMC_RESET_MAX_USAGE,
    "memory.failcnt": lib.PMC_RESET_FAILCNT,
    "memory.memsw.max_usage_in_bytes": lib.PMC_RESET_MEMSW_MAX_USAGE,
    "memory.memsw.failcnt": lib.PMC_RESET_MEMSW_FAILCNT,
}
_READ_ONLY = ("memory.usage_in_bytes", "memory.memsw.usage_in_bytes", "memory.stat")


def _file_property(filename, doc):
    def fget(self):
        return int(self.read(filename))

    def fset(self, value):
        self.write(filename, value)

    return property(fget, fset, doc=doc)


for _attr, _doc in (("limit_in_bytes", "memory.limit_in_bytes (bytes)"),
                    ("memsw_limit_in_bytes", "memory.memsw.limit_in_bytes (bytes)"),
                    ("usage_in_bytes", "memory.usage_in_bytes (bytes)"),
                    ("memsw_usage_in_bytes", "memory.memsw.usage_in_bytes (bytes)"),
                    ("max_usage_in_bytes", "memory.max_usage_in_bytes (bytes)"),
                    ("memsw_max_usage_in_bytes", "memory.memsw.max_usage_in_bytes (bytes)"),
                    ("failcnt", "memory.failcnt (times a charge hit the limit)"),
                    ("memsw_failcnt", "memory.memsw.failcnt (times a charge hit the mem+swap limit)"),
                    ("swappiness", "memory.swappiness (0..100)"),
                    ("use_hierarchy", "memory.use_hierarchy (0 or 1)")):
    setattr(Cgroup, _attr, _file_property(_doc.split()[0], f"int view of {_doc}"))
