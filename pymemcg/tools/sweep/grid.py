"""The grid: the settings a sweep crosses, their defaults, and the checks of each value."""
import difflib
from ... import strategies
from ...engine import KERNELS, validate_settings
from ...sizes import PAGE_SIZE, parse_size


ENGINE_KEYS = ("ram", "swap", "kernel", "hook", "swap_account", "page_cluster", "laptop_mode", "seed")
REPLAY_KEYS = ("cpus", "sched", "replay_seed")
GRID_KEYS = ENGINE_KEYS + REPLAY_KEYS
DEFAULTS = {"ram": "4G", "swap": "4G", "kernel": "2.6.30", "hook": "none", "swap_account": True, "page_cluster": 3,
            "laptop_mode": False, "seed": 0, "cpus": 2, "sched": "rr", "replay_seed": None}
SCHEDS = ("rr", "random")
# dimensions the summary compares cell by cell (seeds and traces are not policies)
POLICY_DIMS = ("kernel", "hook", "swap_account", "laptop_mode", "page_cluster", "sched", "cpus", "ram", "swap")

UPLOAD_LIMIT = 32 << 20
OPTION_KEYS = ("results", "workers", "scheduler", "upload", "upload_limit", "retries", "check", "strategies")
TOP_KEYS = ("grid", "traces", "sweep")

class ConfigError(ValueError):
    """A sweep grid, trace list or config file that cannot be run; the message says what is wrong."""


def _close(key, valid):
    near = difflib.get_close_matches(key, valid, n=1)
    return f" (did you mean {near[0]!r}?)" if near else ""


def _int(value, what, lo, hi):
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{what} must be an integer, got {value!r}")
    if not lo <= value <= hi:
        raise ConfigError(f"{what} must be in {lo}..{hi}, got {value}")
    return value


def _bool(value, what):
    if not isinstance(value, bool):
        raise ConfigError(f"{what} must be true or false, got {value!r}")
    return value


def _choice(value, what, choices):
    if value not in choices:
        raise ConfigError(f"{what} must be one of {', '.join(map(repr, choices))}, got {value!r}")
    return value


def _size(value, what):
    try:
        n = parse_size(value, what)
    except (TypeError, ValueError) as e:
        raise ConfigError(str(e)) from None
    return n // PAGE_SIZE * PAGE_SIZE


def _check_value(key, value):
    """One grid value, normalised as the Engine normalises it (sizes in page-aligned bytes)."""
    what = f"grid.{key}"
    if key in ("ram", "swap"):
        n = _size(value, what)
        try:                                 # the engine's own check, on this one value
            validate_settings(**{"ram": PAGE_SIZE, "swap": 0, key: value})
        except ValueError as e:
            raise ConfigError(f"{what}: {e}") from None
        return n
    if key == "kernel":
        return _choice(value, what, tuple(KERNELS))
    if key == "hook":
        return _choice(value, what, tuple(strategies.names()))
    if key in ("swap_account", "laptop_mode"):
        return _bool(value, what)
    if key == "page_cluster":
        return _int(value, what, 0, 16)
    if key in ("seed", "replay_seed"):
        if key == "replay_seed" and value is None:
            return None
        return _int(value, what, 0, 2**64 - 1)
    if key == "cpus":
        return _int(value, what, 1, 256)
    if key == "sched":
        return _choice(value, what, SCHEDS)
    raise AssertionError(key)


def normalize_grid(grid):
    """{key: [normalised values]} for every grid key (defaults filled in); ConfigError on bad input."""
    if grid is None:
        grid = {}
    if not isinstance(grid, dict):
        raise ConfigError(f"the grid is a table of settings, not {type(grid).__name__}")
    out = {}
    for key in grid:
        if key not in GRID_KEYS:
            raise ConfigError(f"grid: unknown key {key!r}{_close(str(key), GRID_KEYS)}; "
                              f"valid keys: {', '.join(GRID_KEYS)}")
    for key in GRID_KEYS:
        raw = grid.get(key, DEFAULTS[key])
        values = list(raw) if isinstance(raw, (list, tuple, range)) else [raw]
        if not values:
            raise ConfigError(f"grid.{key} is an empty list")
        norm = []
        for v in values:
            v = _check_value(key, v)
            if v not in norm:
                norm.append(v)
        out[key] = norm
    return out
