"""A sweep's traces: files (by name and SHA-256) and generator specs, expanded."""
import hashlib
import importlib
import inspect
import itertools
import os

from .grid import ConfigError, _close


def _generator(name):
    """The generator function a spec names: one of workloads.GENERATORS or "module:function"."""
    from ...workloads import GENERATORS
    if name in GENERATORS:
        return GENERATORS[name]
    if isinstance(name, str) and ":" in name:
        mod, _, attr = name.partition(":")
        try:
            fn = getattr(importlib.import_module(mod), attr)
        except (ImportError, AttributeError) as e:
            raise ConfigError(f"generator {name!r}: cannot import it ({e})") from None
        if not callable(fn):
            raise ConfigError(f"generator {name!r} is not callable")
        return fn
    raise ConfigError(f"unknown generator {name!r}{_close(str(name), list(GENERATORS))}; one of "
                      f"{', '.join(GENERATORS)}, or 'module:function'")


def _sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _expand_traces(traces, base_dir, *, hash_files=True):
    """[(label, identity dict, worker spec)] for a list of paths and generator specs.
    Generator specs with list values expand to one trace per combination."""
    if isinstance(traces, (str, os.PathLike, dict)):
        traces = [traces]
    if not isinstance(traces, (list, tuple)) or not traces:
        raise ConfigError("traces must be a non-empty list of trace files or generator specs")
    out = []
    for i, entry in enumerate(traces):
        where = f"traces[{i}]"
        if isinstance(entry, (str, os.PathLike)):
            entry = {"path": os.fspath(entry)}
        if not isinstance(entry, dict):
            raise ConfigError(f"{where}: a trace is a file path or a table with 'path' or 'generator', "
                              f"not {entry!r}")
        if "path" in entry:
            extra = set(entry) - {"path"}
            if extra:
                raise ConfigError(f"{where}: a trace file entry takes only 'path', not {sorted(extra)}")
            path = entry["path"]
            if not isinstance(path, (str, os.PathLike)) or not os.fspath(path):
                raise ConfigError(f"{where}.path must be a file name, got {path!r}")
            path = os.fspath(path)
            if not path.endswith((".npy", ".csv")):
                raise ConfigError(f"{where}: trace files end in .npy or .csv, not {path!r}")
            full = os.path.abspath(os.path.join(base_dir or "", os.path.expanduser(path)))
            label = os.path.basename(full)
            if hash_files and os.path.isfile(full):
                ident = {"file": label, "sha256": _sha256(full)}
            else:
                ident = {"path": full}
            out.append((label, ident, {"kind": "path", "path": full}))
        elif "generator" in entry:
            name = entry["generator"]
            fn = _generator(name)
            args = {k: v for k, v in entry.items() if k != "generator"}
            if "builder" in args:
                raise ConfigError(f"{where}: 'builder' is not a generator setting")
            for k, v in args.items():
                vals = v if isinstance(v, list) else [v]
                if not vals or not all(isinstance(x, (str, int, float, bool)) for x in vals):
                    raise ConfigError(f"{where}.{k} must be a string, number or boolean (or a list of them), "
                                      f"got {v!r}")
            keys = sorted(args)
            for combo in itertools.product(*[(args[k] if isinstance(args[k], list) else [args[k]]) for k in keys]):
                kw = dict(zip(keys, combo))
                try:
                    inspect.signature(fn).bind(**kw)
                except TypeError as e:
                    raise ConfigError(f"{where}: generator {name!r}: {e}") from None
                label = name + ("(" + ",".join(f"{k}={kw[k]}" for k in keys) + ")" if kw else "")
                out.append((label, {"generator": name, "args": kw}, {"kind": "generator", "name": name, "args": kw}))
        else:
            raise ConfigError(f"{where}: a trace table needs 'path' or 'generator', got keys {sorted(entry)}")
    return out
