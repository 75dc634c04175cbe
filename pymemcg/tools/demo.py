"""`pymemcg demo`: the default workload under 2.6.30 with each registered strategy (none,
seed, uncharge-at-free, and any added with --strategy) and under 2.6.31, side by side, with
one line per column saying why it differs."""
import json

from .. import Engine, PAGE_SIZE, strategies, workloads



def configs():
    """The columns: (kernel, strategy), 2.6.30 under every registered strategy, then 2.6.31."""
    return [("2.6.30", h) for h in strategies.names()] + [("2.6.31", "none")]


def column_name(kernel, hook):
    return f"{kernel} hook={hook}"


def demo_workload(pages=1 << 20, cpus=4, seed=0):
    """A million-page multi-cgroup churn: 103 cgroups, each running five 8MB tasks under a
    32MB limit, every task killed and replaced while the others reclaim."""
    return workloads.mixed(pages, cpus=cpus, rounds=2, seed=seed)


def machine(pages):
    """RAM for the workload's cgroups plus a quarter, so that memcg limits, not global
    pressure, drive reclaim; swap 1/64 of the workload's memory: small enough that the
    stale pages fill it, and that it gets half full (vm_swap_full), where 2.6.31 starts to
    reuse cache-only slots."""
    return pages * PAGE_SIZE * 5 // 4, pages * PAGE_SIZE // 64


def run_configs(trace, pages, cpus, seed=0, progress=None):
    ram, swap = machine(pages)
    results = {}
    for kernel, hook in configs():
        eng = Engine(ram, swap, kernel=kernel, hook=hook, seed=seed)
        results[column_name(kernel, hook)] = eng.replay(trace, cpus=cpus, seed=seed, progress=progress)
    return results


def _peak_swap(res):
    total = res.meminfo["SwapTotal"] // PAGE_SIZE
    return res.series["swap_used"].max() / total if total and len(res.series["swap_used"]) else 0.0


def reason(kernel, hook, res):
    """One line: what sets this column apart, and why, from its own figures."""
    lk, c = res.leaks, res.counters
    parts = [f"{lk['stale_swapcache']:,} stale swap-cache pages"]
    if hook != "none":
        acted = [f"{v:,} {k.replace('_', ' ')}" for k, v in res.strategy_counters.items() if v]
        if c["hook_freed"]:
            acted.insert(0, f"freed {c['hook_freed']:,} pages that had lost their last mapping, right after "
                            f"add_to_swap ({c['hook_calls']:,} calls)")
        parts.append(f"the {hook} strategy: " + (", ".join(acted) if acted else "never acted"))
        if lk["stale_swapcache_type1"]:
            parts.append(f"the {lk['stale_swapcache_type1']:,} left are type-1 (a swap-in racing with an exit), "
                         f"which the strategy does not address")
    elif lk["stale_swapcache_type2"]:
        parts.append(f"{lk['stale_swapcache_type2']:,} of type-2: tasks exited while reclaim held their pages "
                     f"between isolation and add_to_swap, and no memcg reclaim can reach such a page")
    if kernel == "2.6.31":
        if c["swap_reuse"]:
            parts.append(f"once swap was half full (vm_swap_full) the swap allocator reused {c['swap_reuse']:,} "
                         f"cache-only slots, freeing the stale pages in them")
        else:
            parts.append("swap never got half full, so 2.6.31's reuse of cache-only slots never ran "
                         "(a smaller device or a longer run makes it)")
    parts.append(f"swap peaked at {_peak_swap(res):.0%} of the device")
    oom = c["oom_kills"] + c["global_oom_kills"]
    if oom:
        parts.append(f"{oom} OOM kill(s)")
    return f"{column_name(kernel, hook)}: " + "; ".join(parts)


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
            "swap used at peak (%)": f"{_peak_swap(res) * 100:.0f}",
            "SwapCached (MB)": mb(mi["SwapCached"] // PAGE_SIZE),
            "stale slots reused (2.6.31)": c["swap_reuse"],
            "OOM kills": c["oom_kills"] + c["global_oom_kills"],
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
    why = [reason(k, h, results[column_name(k, h)]) for k, h in configs()]
    if plot_path:
        from .plot import plot_series
        plot_series({name: res.series for name, res in results.items()}, plot_path,
                    title="pymemcg demo: stale swap cache under a multi-cgroup churn")
    if as_json:
        print(json.dumps({"rows": rows, "why": why, "plot": plot_path}, indent=1))
        return 0
    print_table(rows)
    print("why the columns differ:")
    for line in why:
        print(f"  {line}")
    if plot_path:
        print(f"plot: {plot_path}")
    return 0
