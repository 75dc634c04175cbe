"""`pymemcg demo`: the default workload under 2.6.30 with each registered strategy (none,
seed, uncharge-at-free, and any added with --strategy) and under 2.6.31, side by side."""
import json

from . import Engine, PAGE_SIZE, strategies, workloads


def configs():
    """(kernel, strategy) per column: 2.6.30 under every registered strategy, then 2.6.31."""
    return [("2.6.30", h) for h in strategies.names()] + [("2.6.31", "none")]


def demo_workload(pages=1 << 20, cpus=4, seed=0):
    """A million-page multi-cgroup churn: 103 cgroups, each running five 8MB tasks under a
    32MB limit, every task killed and replaced while the others reclaim."""
    return workloads.mixed(pages, cpus=cpus, rounds=2, seed=seed)


def machine(pages):
    """RAM for the workload's cgroups plus a quarter, swap as large as the workload:
    memcg limits, not global pressure, drive reclaim."""
    return pages * PAGE_SIZE * 5 // 4, pages * PAGE_SIZE


def run_configs(trace, pages, cpus, seed=0, progress=None):
    ram, swap = machine(pages)
    results = {}
    for kernel, hook in configs():
        eng = Engine(ram, swap, kernel=kernel, hook=hook, seed=seed)
        results[f"{kernel} hook={hook}"] = eng.replay(trace, cpus=cpus, seed=seed, progress=progress)
    return results


def table(results):
    """Rows of (label, value per config)."""
    def mb(pages):
        return f"{pages * PAGE_SIZE / 2**20:.1f}"

    rows = []
    for name, res in results.items():
        c, lk, mi = res.counters, res.leaks, res.meminfo
        rows.append({
            "config": name,
            "stale type-2 (pages)": lk["stale_swapcache_type2"],
            "stale type-1 (pages)": lk["stale_swapcache_type1"],
            "RAM held by stale (MB)": mb(lk["stale_swapcache"]),
            "leaked swap entries": lk["leaked_swap_entries"],
            "leaked memsw (pages)": lk["leaked_memsw"],
            "orphan charged swap cache": lk["orphan_charged_swapcache"],
            "swap used (MB)": mb((mi["SwapTotal"] - mi["SwapFree"]) // PAGE_SIZE),
            "SwapCached (MB)": mb(mi["SwapCached"] // PAGE_SIZE),
            "pages reclaimed": c["pgsteal"],
            "reclaim throughput (pages/s)": f"{c['pgsteal'] / res.seconds:,.0f}" if res.seconds else "-",
            "hook calls": c["hook_calls"],
            "hook freed (pages)": c["hook_freed"],
            "replay (s)": f"{res.seconds:.2f}",
            "ns per scanned page": f"{res.seconds * 1e9 / max(c['pgscan'], 1):.0f}",
        })
    return rows


def print_table(rows):
    keys = [k for k in rows[0] if k != "config"]
    width = max(len(k) for k in keys) + 2
    col = max(max(len(str(r["config"])) for r in rows), max(len(str(r[k])) for r in rows for k in keys)) + 2
    print("".ljust(width) + "".join(str(r["config"]).rjust(col) for r in rows))
    for k in keys:
        print(k.ljust(width) + "".join(str(r[k]).rjust(col) for r in rows))


def run_demo(args=None):
    pages = getattr(args, "pages", 1 << 20)
    cpus = getattr(args, "cpus", 4)
    seed = getattr(args, "seed", 0)
    plot_path = getattr(args, "plot", "pymemcg-demo.png")
    progress = False if getattr(args, "no_progress", False) else None
    as_json = getattr(args, "json", False)
    trace = demo_workload(pages, cpus, seed)
    if not as_json:
        ram, swap = machine(pages)
        ncg = int((trace["op"] == 8).sum())
        print(f"workload: {len(trace):,} events, {ncg} cgroups x 5 tasks churning over {pages:,} pages; "
              f"RAM {ram >> 20}M, swap {swap >> 20}M, {cpus} CPUs")
    results = run_configs(trace, pages, cpus, seed, progress)
    rows = table(results)
    if plot_path:
        from .plot import plot_series
        plot_series({name: res.series for name, res in results.items()}, plot_path,
                    title="pymemcg demo: stale swap cache under a multi-cgroup churn")
    if as_json:
        print(json.dumps({"rows": rows, "plot": plot_path}, indent=1))
        return 0
    print_table(rows)
    if plot_path:
        print(f"plot: {plot_path}")
    return 0
