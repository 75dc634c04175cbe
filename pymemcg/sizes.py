"""Size and number parsing as the kernel does it (lib/cmdline.c memparse,
lib/vsprintf.c simple_strtoull, kernel/res_counter.c)."""

PAGE_SIZE = 4096
_U64 = (1 << 64) - 1
RESOURCE_MAX = (1 << 63) - 1


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
    """An Engine size argument: bytes as an int, or a string like "4G" (memparse)."""
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise TypeError(f"{what} must be bytes (int) or a size string like '4G', not {type(value).__name__}")
    if isinstance(value, int):
        if value < 0:
            raise ValueError(f"{what} must not be negative, got {value}")
        return value
    text = value.strip()
    n, end = memparse(text)
    if not text or end != len(text):
        raise ValueError(f"{what}: cannot parse size {value!r} (a number with an optional K/M/G suffix)")
    return n
