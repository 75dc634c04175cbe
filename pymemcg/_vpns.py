"""Turning the vpns argument of Task calls into one C batch (pointer + count,
or a range), with every check done before C sees it."""
import numbers

import numpy as np

from ._ffi import ffi

_I64_MIN, _I64_MAX = -(1 << 63), (1 << 63) - 1


def as_batch(vpns):
    """Return (pointer or NULL, n, start, keepalive) for an int, a range or a 1-D integer array."""
    if isinstance(vpns, (bool, np.bool_)):
        raise TypeError("vpns must be an int, a range or an integer array, not a bool")
    if isinstance(vpns, numbers.Integral):
        v = int(vpns)
        if not _I64_MIN <= v <= _I64_MAX:
            raise ValueError(f"vpn {v} out of range")
        return ffi.NULL, 1, v, None
    if isinstance(vpns, range):
        if vpns.step == 1 or len(vpns) <= 1:
            if len(vpns) and not (_I64_MIN <= vpns.start and vpns[-1] <= _I64_MAX):
                raise ValueError(f"vpn range {vpns} out of range")
            return ffi.NULL, len(vpns), vpns.start if len(vpns) else 0, None
        vpns = np.arange(vpns.start, vpns.stop, vpns.step, dtype=np.int64)
    if isinstance(vpns, (list, tuple)):
        vpns = np.array(vpns) if len(vpns) else np.zeros(0, np.int64)
    if not isinstance(vpns, np.ndarray):
        raise TypeError(f"vpns must be an int, a range or an integer numpy array, not {type(vpns).__name__}")
    if vpns.ndim != 1:
        raise ValueError(f"vpns must be one-dimensional, got shape {vpns.shape}")
    if vpns.dtype.kind not in "iu":
        raise TypeError(f"vpns must have an integer dtype, got {vpns.dtype}")
    if not vpns.flags.c_contiguous:
        raise ValueError("vpns must be C-contiguous (use np.ascontiguousarray)")
    if vpns.dtype != np.int64 or not vpns.flags.aligned:   # C reads aligned native int64
        if vpns.dtype.kind == "u" and vpns.size and vpns.max() > _I64_MAX:
            raise ValueError(f"vpn {int(vpns.max())} out of range")
        vpns = vpns.astype(np.int64)
    return ffi.from_buffer("int64_t[]", vpns), len(vpns), 0, vpns
