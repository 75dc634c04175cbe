"""Sizes and numbers: as the kernel parses them (lib/cmdline.c memparse, lib/vsprintf.c
simple_strtoull, kernel/res_counter.c) for control files, and as people write them for
everything else (parse_size: "1.5G", "512MB", "1GiB", "100T")."""
import re
from fractions import Fraction

from ._ffi import lib

PAGE_SIZE = lib.PMC_PAGE_SIZE
_U64 = (1 << 64) - 1
RESOURCE_MAX = (1 << 63) - 1

# binary units, as memparse has them (K, M, G) and as later kernels added them (T, P, E)
UNITS = {"": 0, "k": 10, "m": 20, "g": 30, "t": 40, "p": 50, "e": 60}
SIZE_FORMS = ("bytes as an integer (4096, 0x1000), or a number with a unit K, M, G, T, P or E, "
              "optionally followed by B or iB, all 1024-based as memparse reads them "
              "(4k, 1.5G, 512MB, 1GiB, 100T)")
_SIZE = re.compile(r"(?P<num>0[xX][0-9a-fA-F]+|\d+(?:\.\d*)?|\.\d+)\s*(?P<unit>[kmgtpeKMGTPE]?)(?P<suffix>i?[bB])?")


def simple_strtoull(s, base=0):
    """Parse like the kernel: base 0 picks 0x hex / 0 octal / decimal; no sign,
    no whitespace; wraps modulo 2**64.  Returns (value, index where parsing stopped)."""
    i = 0
    if base == 0:
        base = 10
        if s[:1] == "0":
            base = 8
            i = 1
            if s[1:2] in ("x", "X") and s[2:3] and s[2] in "0123456789abcdefABCDEF":
                base, i = 16, 2
    value = 0
    while i < len(s):
        c = s[i]
        if "0" <= c <= "9":
            d = ord(c) - ord("0")
        elif "a" <= c.lower() <= "f":
            d = ord(c.lower()) - ord("a") + 10
        else:
            break
        if d >= base:
            break
        value = (value * base + d) & _U64
        i += 1
    return value, i


def memparse(s):
    """memparse: a number with an optional K/M/G suffix. Returns (value, end index)."""
    value, i = simple_strtoull(s, 0)
    shift = {"g": 30, "m": 20, "k": 10}.get(s[i:i + 1].lower())
    if shift is not None:
        value = (value << shift) & _U64
        i += 1
    return value, i


def parse_size(value, what):
    """A size in bytes: an int, or a string as people write sizes ("4G", "1.5G", "512MB",
    "1GiB", "100T", "0x1000"; see SIZE_FORMS).  Units are binary.  A fraction of a byte is
    dropped; a decimal needs a unit; sizes of 2**64 bytes or more are refused."""
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise TypeError(f"{what} must be bytes (int) or a size string like '4G', not {type(value).__name__}")
    if isinstance(value, int):
        if value < 0:
            raise ValueError(f"{what} must not be negative, got {value}")
        return value
    m = _SIZE.fullmatch(value.strip())
    if not m or ("." in m["num"] and not m["unit"]) or (m["suffix"] and m["suffix"][0] == "i" and not m["unit"]):
        raise ValueError(f"{what}: cannot parse size {value!r}; accepted: {SIZE_FORMS}")
    num = m["num"]
    if num[:2] in ("0x", "0X"):
        n = int(num, 16)
    elif "." in num:
        n = Fraction(num)
    elif num[0] == "0" and len(num) > 1:
        if not set(num) <= set("01234567"):
            raise ValueError(f"{what}: size {value!r} starts with 0, which makes it octal (as memparse reads it), "
                             f"but has digits 8 or 9")
        n = int(num, 8)
    else:
        n = int(num)
    n = int(n * (1 << UNITS[m["unit"].lower()]))
    if n > _U64:
        raise ValueError(f"{what}: size {value!r} does not fit in 64 bits")
    return n


def human(nbytes):
    """A byte count for people, in binary units: 191.3 MiB."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(nbytes) < 1024 or unit == "PiB":
            return f"{nbytes:.0f} {unit}" if unit == "B" else f"{nbytes:.1f} {unit}"
        nbytes /= 1024
