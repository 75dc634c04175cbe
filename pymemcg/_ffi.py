"""The single import point of the compiled core, and the error mapping."""
import errno

import numpy as np

from ._core import ffi, lib
from .errors import CgroupError, InvariantError, OutOfMemory, StateError, TaskDead

__all__ = ["ffi", "lib", "check", "struct_to_dict", "struct_dtype"]


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
    """Return rc if it is not an error code, else raise the matching exception."""
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
