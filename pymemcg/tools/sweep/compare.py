"""Comparisons: cells that differ in one policy dimension, side by side."""
from collections import OrderedDict

from .grid import POLICY_DIMS
from .table import LEAK_FIELDS, SETTING_COLUMNS


DELTA_FIELDS = tuple(f"leaks.{k}" for k in LEAK_FIELDS) + (
    "oom_kills", "counters.pswpout", "counters.pswpin", "counters.hook_calls", "counters.hook_freed",
    "counters.pgsteal", "counters.pgscan", "meminfo.SwapCached", "stats.steps", "seconds", "wall_time")


def compare(rows, dims=POLICY_DIMS):
    """Cell-by-cell policy comparisons: for every dimension in dims with more than one value
    among the successful rows, and every pair of cells that differ only in that dimension,
    the deltas (value minus baseline, the baseline being the dimension's first value) of the
    leaks, OOM kills, swap traffic, hook work, page-steps and replay time.  One dict per pair."""
    ok = [r for r in rows if not r.get("error")]
    out = []
    for dim in dims:
        values = []
        for r in ok:
            if r[dim] not in values:
                values.append(r[dim])
        if len(values) < 2:
            continue
        base_value = values[0]
        others = [k for k in SETTING_COLUMNS if k != dim]
        groups = OrderedDict()
        for r in ok:
            groups.setdefault((r["trace_id"],) + tuple(r[k] for k in others), {})[r[dim]] = r
        for group in groups.values():
            base = group.get(base_value)
            if base is None:
                continue
            for v in values[1:]:
                r = group.get(v)
                if r is None:
                    continue
                c = {"dimension": dim, "base": base_value, "value": v, "trace": r["trace"],
                     **{k: r[k] for k in others}, "base_cell": base["cell"], "cell": r["cell"]}
                for f in DELTA_FIELDS:
                    a, b = base.get(f), r.get(f)
                    c[f"d.{f}"] = (b - a) if isinstance(a, (int, float)) and isinstance(b, (int, float)) else None
                a, b = base.get("seconds"), r.get("seconds")
                c["seconds_ratio"] = (b / a) if a and b is not None else None
                out.append(c)
    return out


def _fmt(x):
    if x is None:
        return "-"
    if isinstance(x, float):
        return f"{x:+.3f}"
    return f"{x:+d}" if isinstance(x, int) else str(x)


def summarize(comparisons, rows, max_lines=40):
    """The comparisons as text: per dimension, aggregate deltas, then cell by cell when few."""
    lines = []
    shown = ("leaks.stale_swapcache", "leaks.leaked_swap_entries", "leaks.leaked_memsw", "oom_kills",
             "counters.pswpout", "stats.steps", "seconds")
    by_dim = OrderedDict()
    for c in comparisons:
        by_dim.setdefault((c["dimension"], c["base"], c["value"]), []).append(c)
    # the settings that vary in the table, to name a cell briefly
    varying = [k for k in SETTING_COLUMNS if len({r[k] for r in rows if not r.get("error")}) > 1
               and not (k == "replay_seed" and all(r["replay_seed"] == r["seed"] for r in rows))]
    multi_trace = len({r["trace_id"] for r in rows}) > 1
    for (dim, base, value), cs in by_dim.items():
        lines.append(f"{dim}: {value} vs {base}, {len(cs)} cell pair(s) differing only in {dim}")
        for f in shown:
            ds = [c[f"d.{f}"] for c in cs if c[f"d.{f}"] is not None]
            if not ds:
                continue
            mean = sum(ds) / len(ds)
            less, more = sum(d < 0 for d in ds), sum(d > 0 for d in ds)
            extra = ""
            if f == "seconds":
                ratios = sorted(c["seconds_ratio"] for c in cs if c["seconds_ratio"] is not None)
                if ratios:
                    extra = f", median time ratio x{ratios[len(ratios) // 2]:.3f}"
            lines.append(f"  {f:<28} mean delta {mean:+.3f}  ({less} lower, {more} higher){extra}")
    if comparisons and len(comparisons) <= max_lines:
        lines.append("cell by cell (value minus baseline):")
        head = ["dimension", "cell"] + [f.split(".")[-1] for f in shown]
        table = [head]
        for c in comparisons:
            name = ",".join([f"{k}={c[k]}" for k in varying if k != c["dimension"]]
                            + ([f"trace={c['trace']}"] if multi_trace else [])) or "-"
            table.append([f"{c['dimension']} {c['value']}/{c['base']}", name]
                         + [_fmt(c[f"d.{f}"]) for f in shown])
        widths = [max(len(r[i]) for r in table) for i in range(len(head))]
        for r in table:
            lines.append("  " + "  ".join(x.ljust(w) if i < 2 else x.rjust(w)
                                          for i, (x, w) in enumerate(zip(r, widths))))
    elif comparisons:
        lines.append(f"({len(comparisons)} cell pairs: see the .compare.csv file)")
    return "\n".join(lines)
