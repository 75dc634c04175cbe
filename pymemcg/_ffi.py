"""The single import point of the compiled core, and the error mapping."""
import errno

import numpy as np

from ._core import ffi, lib
from .errors import CgroupError, InvariantError, OutOfMemory, StateError, TaskDead

__all__ = ["ffi", "lib", "check", "struct_to_dict", "strategy_failed", "raise_strategy_error",
           "struct_dtype"]

# engine address -> (exception, strategy, hook): a Python strategy's hook raised during a C call
# (pymemcg/strategies.py); raised to the caller once that call has returned
strategy_failed = {}


def _engine_key(eng_ptr):
    return int(ffi.cast("uintptr_t", eng_ptr))


def raise_strategy_error(eng_ptr):
    """Raise what a Python strategy's hook raised during the last call on this engine, if anything."""
    failed = strategy_failed.pop(_engine_key(eng_ptr), None) if strategy_failed else None
    if failed is not None:
        exc, name, hook = failed
        if hasattr(exc, "add_note"):
            exc.add_note(f"raised by the {hook} hook of Python strategy {name!r}; the engine went on as if every "
                         f"hook had answered GO_ON from there to the end of the call")
        raise exc


def _message(eng_ptr, rc):
    if eng_ptr is not None:
        msg = ffi.string(lib.pmc_errmsg(eng_ptr)).decode()
        if msg:
            return msg
    return ffi.string(lib.pmc_strerror(rc)).decode()


_RAISE = {
    lib.PMC_EINVAL: ValueError,
    lib.PMC_ENOMEM: OutOfMemory,
    lib.PMC_ESRCH: TaskDead,
    lib.PMC_EINVARIANT: InvariantError,
    lib.PMC_ESTATE: StateError,
    lib.PMC_EALLOC: MemoryError,
    lib.PMC_ESTOP: StateError,
}
_CGROUP_ERRNO = {
    lib.PMC_ENOENT: errno.ENOENT,
    lib.PMC_EBUSY: errno.EBUSY,
    lib.PMC_ECGINVAL: errno.EINVAL,
    lib.PMC_ENOSPC: errno.ENOSPC,
}


def check(rc, eng_ptr=None):
    """Return rc if it is not an error code, else raise the matching exception.  A Python
    strategy's exception during the call comes first."""
    if strategy_failed and eng_ptr is not None:
        raise_strategy_error(eng_ptr)
    if rc >= 0:
        return rc
    msg = _message(eng_ptr, rc)
    if rc in _CGROUP_ERRNO:
        raise CgroupError(_CGROUP_ERRNO[rc], msg)
    raise _RAISE.get(rc, RuntimeError)(msg)


def struct_to_dict(cdata):
    """Every field of a flat C struct, as a dict."""
    return {name: getattr(cdata, name) for name, _ in ffi.typeof(cdata[0]).fields}


def struct_dtype(ctype):
    """The numpy dtype laid out as a flat C struct of integers (fields, offsets, size), so that
    an array of them can be read with one copy."""
    t = ffi.typeof(ctype)
    return np.dtype({"names": [name for name, _ in t.fields],
                     "formats": [np.dtype(f"{'u' if f.type.cname.startswith('uint') else 'i'}{ffi.sizeof(f.type)}")
                                 for _, f in t.fields],
                     "offsets": [f.offset for _, f in t.fields], "itemsize": ffi.sizeof(t)})
