"""What a reclaim strategy costs on the hot path, and what it buys.

overhead(): the same events replayed from one warmed state with hook="none" and
the strategy measured (default "seed"), A/B interleaved over rounds; the ratio of
times with a bootstrap 95% interval, plus a check that both runs ended in the
same state.  instructions(): the same work counted by valgrind's callgrind
(repeatable on a busy machine).  leak(): an exit-during-reclaim churn under each
kernel x strategy.  Strategy names come from pymemcg.strategies.
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

import numpy as np

from .. import Engine, PAGE_SIZE, strategies, workloads

HOOK_COUNTERS = ("hook_calls", "hook_freed")
KERNELS = ("2.6.30", "2.6.31")


def _delta(after, before):
    return {k: after[k] - before[k] for k in after}


def _same_state(a, b):
    """Every page array, swap_map and swap_cgroup, and every counter but the hook's."""
    if any(not np.array_equal(a.pages[k], b.pages[k]) for k in a.pages.keys()):
        return False
    if not (np.array_equal(a.swap_map, b.swap_map) and np.array_equal(a.swap_cgroup, b.swap_cgroup)):
        return False
    ca, cb = a.counters(), b.counters()
    return all(ca[k] == cb[k] for k in ca if k not in HOOK_COUNTERS)


def bootstrap_ci(samples, stat=np.mean, n=10_000, seed=0, level=0.95):
    """Percentile bootstrap interval of stat over samples."""
    rng = np.random.default_rng(seed)
    samples = np.asarray(samples, dtype=np.float64)
    idx = rng.integers(0, len(samples), size=(n, len(samples)))
    boot = stat(samples[idx], axis=1)
    lo, hi = np.percentile(boot, [(1 - level) / 2 * 100, (1 + level) / 2 * 100])
    return float(lo), float(hi)


def overhead(pages=1 << 20, rounds=100, segment=4000, cpus=2, seed=0, progress=None, piece=250, hook="seed"):
    """Replay a reclaim-heavy segment with no exits (workloads.steady) from one warmed
    engine, with hook="none" and the strategy `hook`, `rounds` times.  Within a round the
    two engines replay the segment in pieces of `piece` events, taking turns, so each piece
    gives a paired ratio (strategy time / none time) measured moments apart.  Returns a
    dict: hook, overhead_pct (the median over rounds of each round's median piece ratio,
    minus 1: the medians shrug off the pieces and rounds a busy machine slowed), ci95
    (bootstrap over rounds of that median, percent), total_ratio_pct (the median over
    rounds of the ratio of whole-round times, for comparison), ns_per_page_none/hook
    (reclaim-segment time per scanned page), ns_per_swapout_*, hook_calls, hook_freed,
    identical_state (a strategy that changes decisions, such as uncharge-at-free, ends in
    another state), and the raw per-round times."""
    strategies.get(hook)
    trace, warm = workloads.steady(pages, cpus=cpus, passes=1, seed=seed)
    seg = trace[warm:warm + segment]
    ram = pages * PAGE_SIZE * 3 // 2
    base = Engine(ram, ram, seed=seed)
    base.replay(trace[:warm], cpus=cpus, sample_every=0, progress=False)
    before = base.counters()
    pieces = [seg[i:i + piece] for i in range(0, len(seg), piece)]
    times = np.zeros((rounds, len(pieces), 2))        # [round, piece, (none, hook)]
    sides = ("none", hook)
    work = {}
    identical = True
    bar = _bar(progress, rounds)
    for r in range(rounds):
        # the copies are made in alternating order: allocations tend to land where the last
        # round's were freed, and a layout that favours one side must not always favour the same
        engines = [None, None]
        for h in ((0, 1) if r % 2 == 0 else (1, 0)):
            engines[h] = base.copy(hook=sides[h])
        for k, part in enumerate(pieces):
            for h in ((0, 1) if (r + k) % 2 == 0 else (1, 0)):
                times[r, k, h] = engines[h].replay(part, cpus=cpus, sample_every=0, progress=False,
                                                   resume=True).seconds
        identical &= _same_state(*engines)
        if r == 0:
            work = [_delta(engines[i].counters(), before) for i in (0, 1)]
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()
    per_round = np.median(times[:, :, 1] / times[:, :, 0], axis=1)
    lo, hi = bootstrap_ci(per_round, stat=np.median)
    t_none, t_hook = times[:, :, 0].sum(axis=1), times[:, :, 1].sum(axis=1)
    scanned = work[0]["pgscan"]
    swapouts = work[0]["swapouts"]
    return {
        "workload": f"steady: {pages} pages in 16 memcgs at 75% limits, {len(seg)} events, {cpus} CPUs",
        "hook": hook,
        "rounds": rounds,
        "overhead_pct": float((np.median(per_round) - 1) * 100),
        "ci95": [(lo - 1) * 100, (hi - 1) * 100],
        "total_ratio_pct": float((np.median(t_hook / t_none) - 1) * 100),
        "ns_per_page_none": float(np.median(t_none) * 1e9 / scanned),
        "ns_per_page_hook": float(np.median(t_hook) * 1e9 / scanned),
        "ns_per_swapout_none": float(np.median(t_none) * 1e9 / max(swapouts, 1)),
        "ns_per_swapout_hook": float(np.median(t_hook) * 1e9 / max(swapouts, 1)),
        "pages_scanned": int(scanned),
        "swapouts": int(swapouts),
        "hook_calls": int(work[1]["hook_calls"]),
        "hook_freed": int(work[1]["hook_freed"]),
        "identical_state": bool(identical),
        "seconds_none": t_none.tolist(),
        "seconds_hook": t_hook.tolist(),
    }


def _bar(progress, total):
    if progress is None:
        progress = sys.stderr.isatty()
    if not progress:
        return None
    from tqdm import tqdm
    return tqdm(total=total, unit="round", leave=False)


# --- instruction counts ----------------------------------------------------------------

_CALLGRIND_SCRIPT = """
import json
import pymemcg
from pymemcg import strategies, workloads
strategies.ensure(json.loads({spec!r}))
trace, warm = workloads.steady({pages}, cpus=1, passes=1, seed=0)
eng = pymemcg.Engine({ram}, {ram}, hook={hook!r})
eng.replay(trace[:warm + {segment}], cpus=1, sample_every=0, progress=False)
print("COUNTERS", json.dumps(eng.counters()))
"""


def instructions(pages=1 << 14, segment=400, valgrind=None, hook="seed"):
    """Instructions spent in shrink_page_list (its step machine, inclusive) per scanned
    page, with hook="none" and with the strategy `hook`, counted by callgrind, and what the
    strategy adds per hook call (the difference over its after_add_to_swap calls; for the
    seed, whose decisions match none's on this workload, that is the hook's own cost, call
    included).  Returns None when valgrind is not installed."""
    valgrind = valgrind or shutil.which("valgrind")
    if not valgrind:
        return None
    ram = pages * PAGE_SIZE * 3 // 2
    spec = json.dumps(strategies.spec(hook))
    out = {}
    for side in ("none", hook):
        with tempfile.TemporaryDirectory() as tmp:
            cg_out = os.path.join(tmp, "callgrind.out")
            script = _CALLGRIND_SCRIPT.format(pages=pages, ram=ram, hook=side, segment=segment, spec=spec)
            # collect only inside the measured replay's shrink_page_list machine
            cmd = [valgrind, "--tool=callgrind", f"--callgrind-out-file={cg_out}",
                   "--toggle-collect=shrink_inactive_list", sys.executable, "-c", script]
            proc = subprocess.run(cmd, capture_output=True, text=True, env=dict(os.environ, OPENBLAS_NUM_THREADS="1"))
            if proc.returncode != 0:
                raise RuntimeError(f"callgrind failed: {proc.stderr[-2000:]}")
            counters = json.loads(proc.stdout.split("COUNTERS", 1)[1].strip())
            total = _callgrind_total(cg_out)
        out[side] = {"instructions": total, "pages_scanned": counters["pgscan"],
                     "per_page": total / max(counters["pgscan"], 1), "hook_calls": counters["hook_calls"]}
    calls = out[hook]["hook_calls"]
    out["hook"] = hook
    out["extra_per_page"] = out[hook]["per_page"] - out["none"]["per_page"]
    out["per_hook_call"] = (out[hook]["instructions"] - out["none"]["instructions"]) / calls if calls else 0.0
    return out


def _callgrind_total(path):
    with open(path) as f:
        text = f.read()
    m = re.search(r"^totals:\s+(\d+)", text, re.M) or re.search(r"^summary:\s+(\d+)", text, re.M)
    if not m:
        raise RuntimeError("no totals in callgrind output")
    return int(m.group(1))


# --- what a strategy buys ------------------------------------------------------------------


def leak(rounds=3000, swap="4M", ram="256M", cpus=2, seed=0, progress=None, hooks=None, kernels=KERNELS):
    """The 2009 reproducer (churn: three 1M tasks under a 2M limit, killed while the others
    reclaim) on a small swap device, under each kernel x strategy (hooks: names, default every
    registered strategy).  Per configuration: the final stale pages, leaked swap entries and
    leaked memsw, the time series of stale pages, swap slots and RAM they hold, the first
    point where swap ran out (95% of the slots in use at a sample; events and simulated
    seconds), and reclaim work per reclaimed page."""
    hooks = strategies.names() if hooks is None else [strategies.get(h).name for h in hooks]
    trace = workloads.churn(rounds, cpus=cpus, seed=seed)
    out = {}
    for kernel, hook in [(k, h) for k in kernels for h in hooks]:
        eng = Engine(ram, swap, kernel=kernel, hook=hook, seed=seed)
        res = eng.replay(trace, cpus=cpus, seed=seed, progress=progress)
        s = res.series
        total = eng.meminfo()["SwapTotal"] // PAGE_SIZE
        full = np.flatnonzero(s["swap_used"] >= 0.95 * total)     # sampled: "nearly all slots in use"
        c = res.counters
        out[f"{kernel} hook={hook}"] = {
            "stale_final": res.leaks["stale_swapcache"],
            "stale_type2_final": res.leaks["stale_swapcache_type2"],
            "leaked_entries_final": res.leaks["leaked_swap_entries"],
            "leaked_memsw_final": res.leaks["leaked_memsw"],
            "orphan_charged_final": res.leaks["orphan_charged_swapcache"],
            "stale_max": int(s["stale"].max()) if len(s["stale"]) else 0,
            "swap_slots_max": int(s["swap_used"].max()) if len(s["swap_used"]) else 0,
            "stale_ram_mb_max": float(s["stale"].max() * PAGE_SIZE / 2**20) if len(s["stale"]) else 0.0,
            "swap_exhausted_at_event": int(s["events"][full[0]]) if len(full) else None,
            "swap_exhausted_at_s": float(s["now_ns"][full[0]] / 1e9) if len(full) else None,
            "oom_kills": c["oom_kills"] + c["global_oom_kills"],
            "scanned_per_reclaimed": c["pgscan"] / max(c["pgsteal"], 1),
            "hook_calls": c["hook_calls"],
            "hook_freed": c["hook_freed"],
            "strategy_refused": c["strategy_refused"],
            "strategy_counters": res.strategy_counters,
            "seconds": res.seconds,
            "series": {k: s[k] for k in ("events", "now_ns", "stale", "swap_used", "swap_cached")},
        }
    return out


def print_overhead(r, instr=None):
    h = r["hook"]
    print(f"workload: {r['workload']}; {r['rounds']} A/B rounds")
    print("whole rounds (median round time / work; rounds compared whole: "
          f"{r['total_ratio_pct']:+.2f}%):")
    print(f"  time per scanned page: none {r['ns_per_page_none']:.1f} ns, {h} {r['ns_per_page_hook']:.1f} ns")
    print(f"  time per add_to_swap:  none {r['ns_per_swapout_none']:.1f} ns, {h} {r['ns_per_swapout_hook']:.1f} ns")
    print(f"overhead of the {h} strategy: {r['overhead_pct']:+.2f}% (95% CI {r['ci95'][0]:+.2f}% .. "
          f"{r['ci95'][1]:+.2f}%)")
    print("  (another estimator: the median over rounds of the median ratio of paired pieces replayed moments "
          "apart, which shrugs off the pieces a busy machine slowed; the whole-round figures above need not agree)")
    print(f"hook calls {r['hook_calls']:,}, pages freed {r['hook_freed']}; identical state: {r['identical_state']}")
    if instr:
        print(f"instructions in shrink_page_list per scanned page: none {instr['none']['per_page']:.1f}, "
              f"{h} {instr[h]['per_page']:.1f}; per hook call {instr['per_hook_call']:.1f}")


def print_leak(out):
    keys = ("stale_final", "stale_type2_final", "leaked_entries_final", "leaked_memsw_final", "orphan_charged_final",
            "stale_max", "stale_ram_mb_max", "swap_slots_max", "swap_exhausted_at_event", "swap_exhausted_at_s",
            "oom_kills", "scanned_per_reclaimed", "hook_freed")
    names = list(out)
    w = max(len(k) for k in keys) + 2
    col = max(len(n) for n in names) + 2
    print("".ljust(w) + "".join(n.rjust(col) for n in names))
    for k in keys:
        vals = []
        for n in names:
            v = out[n][k]
            vals.append("-" if v is None else f"{v:.2f}" if isinstance(v, float) else str(v))
        print(k.ljust(w) + "".join(v.rjust(col) for v in vals))


def plot_leak(out, path):
    from .plot import _figure, draw_runs
    plt = _figure()
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    # against trace position: every configuration replays the same events, while simulated
    # time runs away where OOM kills make reclaim wait
    runs = {name: r["series"] for name, r in out.items()}
    draw_runs(axes[0], runs, "stale", "stale swap-cache pages")
    draw_runs(axes[1], runs, "swap_used", "swap slots in use")
    for ax in axes:
        ax.set_xlabel("trace events replayed")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def to_json(obj):
    def conv(o):
        if isinstance(o, np.ndarray):
            return o.tolist()
        if isinstance(o, (np.integer,)):
            return int(o)
        if isinstance(o, (np.floating,)):
            return float(o)
        raise TypeError(type(o))
    return json.dumps(obj, default=conv, indent=1)

