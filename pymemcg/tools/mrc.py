"""Miss-ratio curves (`pymemcg mrc`): a trace replayed at several memory sizes.

At each size the trace's tasks run in one cgroup whose memory.limit_in_bytes is that
size, on a machine large enough that only the limit reclaims: the kernel's two-list
(active/inactive) memcg reclaim decides what stays.  Each size is one replay, run in
parallel on the sweep executors (a local process pool, or Dask).  The miss ratio is
pymemcg.faults' (first touches and major faults over page touches).  Beside it, where
libcachesim is installed, libCacheSim's LRU runs on the same page requests with a cache
of the same number of pages.  docs/mix.md says where and why the two curves part.
"""
import os
import re
import tempfile

import numpy as np

from ..errors import TraceError
from ..faults import classify
from ..sizes import PAGE_SIZE, human, parse_size
from ..trace import OP

CGROUP = "mrc"
_RANGE = re.compile(r"(?P<lo>[^.]+)\.\.(?P<hi>[^/]+)(?:/(?P<n>\d+))?")


def _one_size(text, footprint_pages):
    text = text.strip()
    if text.endswith("%"):
        try:
            frac = float(text[:-1]) / 100
        except ValueError:
            raise ValueError(f"size {text!r}: not a percentage") from None
        if not frac > 0:
            raise ValueError(f"size {text!r} must be positive")
        return max(int(np.ceil(frac * footprint_pages)), 1)
    return max(-(-parse_size(text, "size") // PAGE_SIZE), 1)


def parse_sizes(text, footprint_pages):
    """Cache sizes in pages from "1%,5%,10%" (shares of the footprint), "4M,16M" (sizes),
    or a range "1%..50%/8" (8 sizes evenly spaced from the first to the last, both in;
    8 when /N is left out), mixed freely; sorted, each once."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError("sizes: give a list like 1%,5%,10%,25% or 4M,16M, or a range like 1%..50%/8")
    out = set()
    for part in text.split(","):
        m = _RANGE.fullmatch(part.strip())
        if m:
            lo, hi = _one_size(m["lo"], footprint_pages), _one_size(m["hi"], footprint_pages)
            n = int(m["n"] or 8)
            if n < 2 or hi <= lo:
                raise ValueError(f"range {part!r}: needs a larger second end and /N of at least 2")
            out.update(int(round(x)) for x in np.linspace(lo, hi, n))
        else:
            out.add(_one_size(part, footprint_pages))
    return sorted(out)


def limited(source, limit, format="", limit_events=0):
    """The trace in the file `source` with its tasks in one cgroup limited to `limit`
    bytes: what a sweep cell of the curve replays (a generator spec, "pymemcg.tools.mrc:limited")."""
    from ..importers import load_any
    from ..mix import place
    trace, _ = load_any(source, format or None, limit_events=limit_events or None)
    return place(trace, CGROUP, limit=limit)


def requests(trace):
    """The page requests of a trace, in order: one per page its faults touch, keyed by task
    and page."""
    f = trace[trace["op"] == OP["fault"]]
    count = f["count"].astype(np.int64)
    keys = (f["task"].astype(np.int64) << 36) | f["vpn"]
    if (count == 1).all():
        return keys
    starts = np.repeat(np.cumsum(count) - count, count)
    return np.repeat(keys, count) + (np.arange(int(count.sum())) - starts)


def lru_curve(trace, sizes):
    """libCacheSim's LRU miss ratio at each size (pages) on the trace's page requests; None
    when libcachesim is not installed."""
    try:
        import libcachesim as lcs
    except ImportError:
        return None
    ids = requests(trace)
    rec = np.zeros(len(ids), dtype=[("time", "<u4"), ("id", "<u8"), ("size", "<u4"), ("next", "<i8")])
    rec["time"] = np.arange(len(ids))
    rec["id"] = ids
    rec["size"] = 1
    rec["next"] = -1
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "requests.oracleGeneral.bin")
        rec.tofile(path)
        out = []
        for n in sizes:
            reader = lcs.TraceReader(path, lcs.TraceType.ORACLE_GENERAL_TRACE)
            out.append(float(lcs.LRU(cache_size=int(n)).process_trace(reader)[0]))
    return out


def kernel_curve(path, sizes, *, format=None, limit_events=None, ram, swap, kernel="2.6.30", hook="none",
                 page_cluster=3, cpus=1, seed=0, executor=None, workers=None, progress=False):
    """pymemcg.faults' figures at each size (pages): one replay per size, as the cells of
    a sweep (executor: None for a local process pool, or what sweep.run takes)."""
    from . import sweep
    spec = {"generator": "pymemcg.tools.mrc:limited", "source": os.path.abspath(os.fspath(path)), "format": format or "",
            "limit_events": limit_events or 0}
    traces = [dict(spec, limit=int(n) * PAGE_SIZE) for n in sizes]
    grid = {"ram": ram, "swap": swap, "kernel": kernel, "hook": hook, "page_cluster": page_cluster, "cpus": cpus,
            "seed": seed}
    report = sweep.run(grid, traces, executor=executor, workers=workers, progress=progress, check=False,
                       retries=0)
    if report.failed:
        raise RuntimeError("the curve's replays failed: " + "; ".join(report.failures()))
    # one row per size, in the order of the traces (the sweep's table order)
    return [dict(classify({k: row[f"counters.{k}"] for k in ("pgfault", "anon_faults", "swapins", "pgmajfault")}),
                 oom_kills=row["oom_kills"]) for row in report.rows]


class Curve:
    """A miss-ratio curve: sizes (pages), kernel (pymemcg.faults' figures per size), lru
    (LRU miss ratio per size, or None), footprint (pages), accesses, settings."""

    def __init__(self, name, sizes, kernel, lru, footprint, accesses, settings):
        self.name, self.sizes, self.kernel, self.lru = name, sizes, kernel, lru
        self.footprint, self.accesses, self.settings = footprint, accesses, settings

    def __repr__(self):
        return f"<Curve {self.name}: {len(self.sizes)} sizes, LRU {'beside' if self.lru else 'not installed'}>"

    def to_dict(self):
        return {"trace": self.name, "footprint_pages": self.footprint, "accesses": self.accesses,
                "settings": self.settings, "sizes_pages": self.sizes,
                "sizes_bytes": [n * PAGE_SIZE for n in self.sizes], "kernel": self.kernel, "lru_miss_ratio": self.lru}

    def lines(self):
        s = self.settings
        out = [f"miss-ratio curve of {self.name}: {self.accesses:,} page touches, footprint {self.footprint:,} pages "
               f"({human(self.footprint * PAGE_SIZE)}); kernel {s['kernel']} hook={s['hook']}, page-cluster "
               f"{s['page_cluster']}, {s['cpus']} CPU(s), the size as memory.limit_in_bytes",
               "miss ratio: first touches and major faults per page touch (LRU: misses per request)"]
        head = ("pages", "size", "footprint", "kernel", "LRU", "kernel-LRU", "major", "swap-cache hits", "OOM kills")
        rows = [head]
        for i, n in enumerate(self.sizes):
            k = self.kernel[i]
            lru = self.lru[i] if self.lru else None
            rows.append((f"{n:,}", human(n * PAGE_SIZE), f"{n / self.footprint:.1%}", f"{k['miss_ratio']:.4f}",
                         "-" if lru is None else f"{lru:.4f}", "-" if lru is None else f"{k['miss_ratio'] - lru:+.4f}",
                         f"{k['major_ratio']:.4f}", f"{k['swapin_cache_hits'] / max(k['accesses'], 1):.4f}",
                         str(k["oom_kills"])))
        widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
        out += ["  ".join(c.rjust(w) for c, w in zip(r, widths)) for r in rows]
        if self.lru is None:
            out.append("LRU: libcachesim is not installed (pip install libcachesim) -- the kernel's curve only")
        return out

    def plot(self, path):
        from .plot import _figure
        plt = _figure()
        fig, ax = plt.subplots(figsize=(8, 5))
        mib = np.array(self.sizes) * PAGE_SIZE / 2**20
        ax.plot(mib, [k["miss_ratio"] for k in self.kernel], marker="o", linewidth=1.8,
                label=f"kernel {self.settings['kernel']} two-list memcg reclaim")
        if self.lru:
            ax.plot(mib, self.lru, marker="s", linestyle="--", linewidth=1.4, label="libCacheSim LRU")
        ax.axhline(self.footprint / self.accesses, color="0.5", linestyle=":", linewidth=1,
                   label="first touches (no size avoids them)")
        ax.set_xlabel("memory size (MiB; the cgroup's limit, LRU's cache)")
        ax.set_ylabel("miss ratio")
        ax.set_ylim(0, 1.02)
        ax.grid(alpha=0.3)
        top = ax.secondary_xaxis("top", functions=(lambda x: x * 2**20 / PAGE_SIZE / self.footprint * 100,
                                                   lambda p: p / 100 * self.footprint * PAGE_SIZE / 2**20))
        top.set_xlabel("% of the footprint")
        ax.legend()
        fig.suptitle(f"miss-ratio curve: {self.name}", fontsize=10)
        fig.tight_layout()
        fig.savefig(path, dpi=110)
        plt.close(fig)
        return path


def curve(path, sizes="1%,5%,10%,25%", *, format=None, limit_events=None, ram=None, swap=None, kernel="2.6.30",
          hook="none", page_cluster=3, cpus=1, seed=0, executor=None, workers=None, lru=True, progress=False):
    """The miss-ratio curve of the trace at `path` (a pymemcg trace or a foreign one) at
    `sizes` (parse_sizes' forms, or a list of page counts).  ram/swap default to the
    footprint and a quarter more, plus 64 MiB."""
    from ..facts import trace_facts
    from ..importers import load_any
    trace, fmt = load_any(path, format, limit_events=limit_events)
    if (trace["op"] == OP["mkdir"]).any():
        raise TraceError(f"{path} makes cgroups of its own; the curve runs a trace's tasks in one cgroup of its "
                         f"own size (import the trace without --cgroup/--limit)")
    f = trace_facts(trace)
    footprint = f["footprint_pages"]
    if not footprint:
        raise ValueError(f"{path}: the trace touches no pages")
    pages = parse_sizes(sizes, footprint) if isinstance(sizes, str) else sorted({int(n) for n in sizes})
    machine = (footprint * 5 // 4 * PAGE_SIZE + (64 << 20) + (1 << 20) - 1) >> 20 << 20
    ram, swap = ram or machine, swap or machine
    settings = {"ram": parse_size(ram, "ram"), "swap": parse_size(swap, "swap"), "kernel": kernel, "hook": hook,
                "page_cluster": page_cluster, "cpus": cpus, "seed": seed}
    k = kernel_curve(path, pages, format=fmt, limit_events=limit_events, executor=executor, workers=workers,
                     progress=progress, **settings)
    l_curve = lru_curve(trace, pages) if lru else None
    return Curve(os.path.basename(os.fspath(path)), pages, k, l_curve, footprint, f["touches"], settings)
