"""Config files (TOML): [grid], traces and [sweep] options, checked before anything runs."""
import os
from ... import strategies

from .grid import ConfigError, OPTION_KEYS, TOP_KEYS, _bool, _close, _int, _size, normalize_grid
from .traces import _expand_traces


class Config:
    """A parsed sweep config: grid, traces, options ([sweep] table) and base_dir (the file's folder)."""

    def __init__(self, grid, traces, options, base_dir, path=None):
        self.grid, self.traces, self.options, self.base_dir, self.path = grid, traces, options, base_dir, path

    def results(self):
        """The results file: [sweep] results (relative to the config) or <config stem>.jsonl."""
        r = self.options.get("results")
        if r is None:
            stem = os.path.splitext(self.path)[0] if self.path else "sweep"
            return stem + ".jsonl"
        return os.path.join(self.base_dir, os.path.expanduser(r))


def _toml():
    try:
        import tomllib
    except ImportError:  # Python < 3.11
        import tomli as tomllib
    return tomllib


def parse_config(text, base_dir=".", path=None):
    """A Config from TOML text; ConfigError naming the bad key or value."""
    tomllib = _toml()
    name = path or "<config>"
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{name}: not valid TOML: {e}") from None
    for key in doc:
        if key not in TOP_KEYS:
            raise ConfigError(f"{name}: unknown key {key!r}{_close(key, TOP_KEYS)}; a sweep config has "
                              f"[grid], traces (or [[traces]]) and [sweep]")
    grid = doc.get("grid", {})
    if not isinstance(grid, dict):
        raise ConfigError(f"{name}: grid must be a table ([grid])")
    if "traces" not in doc:
        raise ConfigError(f"{name}: no traces: add traces = [\"a.npy\", {{generator = \"churn\"}}] "
                          f"or [[traces]] tables")
    traces = doc["traces"]
    options = doc.get("sweep", {})
    if not isinstance(options, dict):
        raise ConfigError(f"{name}: sweep must be a table ([sweep])")
    for key in options:
        if key not in OPTION_KEYS:
            raise ConfigError(f"{name}: unknown key sweep.{key}{_close(key, OPTION_KEYS)}; valid keys: "
                              f"{', '.join(OPTION_KEYS)}")
    opts = dict(options)
    try:
        for key in ("results", "scheduler"):
            if key in opts and (not isinstance(opts[key], str) or not opts[key]):
                raise ConfigError(f"sweep.{key} must be a non-empty string, got {opts[key]!r}")
        if "workers" in opts:
            _int(opts["workers"], "sweep.workers", 1, 100000)
        if "retries" in opts:
            _int(opts["retries"], "sweep.retries", 0, 100)
        for key in ("upload", "check"):
            if key in opts:
                _bool(opts[key], f"sweep.{key}")
        if "upload_limit" in opts:
            _size(opts["upload_limit"], "sweep.upload_limit")
        _load_strategies(opts.get("strategies", []), base_dir)
        # every grid value and trace entry is checked now, before anything runs
        normalize_grid(grid)
        _expand_traces(traces, base_dir, hash_files=False)
    except ConfigError as e:
        raise ConfigError(f"{name}: {e}") from None
    return Config(grid, traces, opts, base_dir, path)


def _load_strategies(sources, base_dir):
    """[sweep] strategies: C files (relative to the config) and Python modules, registered so
    that the grid may name them."""
    if not isinstance(sources, list) or not all(isinstance(x, str) and x for x in sources):
        raise ConfigError(f"sweep.strategies must be a list of C files and Python modules, got {sources!r}")
    for source in sources:
        if source.endswith(".c"):
            source = os.path.join(base_dir, os.path.expanduser(source))
        try:
            strategies.load(source)
        except (strategies.StrategyError, OSError) as e:
            raise ConfigError(f"sweep.strategies: {e}") from None


def load_config(path):
    """Read a sweep config file (TOML); see docs/sweep.md for the format."""
    path = os.fspath(path)
    try:
        with open(path, "rb") as f:
            text = f.read().decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text") from None
    return parse_config(text, os.path.dirname(os.path.abspath(path)), path)
