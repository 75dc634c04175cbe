"""The `pymemcg` command (also `python -m pymemcg`)."""
import argparse
import json
import os
import sys

from ..importers import FORMATS
from ..workloads import GENERATORS

KERNEL_CHOICES = ("2.6.30", "2.6.31")


def _strategy_arg(p):
    p.add_argument("--strategy", action="append", default=[], metavar="FILE.c|MODULE",
                   help="add a reclaim strategy of your own before running: a C file is compiled "
                        "(pymemcg.strategies.compile), a Python module imported (it registers its strategies); "
                        "repeatable. Its name is then valid wherever a strategy is named")


def _load_strategies(parser, a):
    """Register the --strategy files and modules, then check every strategy name given as
    argparse checks choices (a usage error, exit status 2)."""
    from .. import strategies
    for source in getattr(a, "strategy", None) or ():
        strategies.load(source)
    names = strategies.names()
    given = [("--hook", getattr(a, "hook", None))] + [("--hooks", h) for h in getattr(a, "hooks", None) or ()]
    for opt, name in given:
        if name is not None and name not in names:
            parser.error(f"argument {opt}: invalid choice: {name!r} (choose from {', '.join(names)}, or add one "
                         f"with --strategy)")


def _strategy_names():
    from .. import strategies
    return "{" + ",".join(strategies.names()) + "}"


def _hooks_arg(text):
    """--hooks a,b,c: registered strategy names (checked once --strategy files are loaded)."""
    names = [h.strip() for h in text.split(",") if h.strip()]
    if not names:
        raise argparse.ArgumentTypeError("--hooks needs at least one strategy name")
    return names


def _engine_args(p, ram="4G", swap="4G"):
    sized = "sized from the trace's footprint"
    p.add_argument("--ram", default=ram, help=f"RAM size: bytes or a size like 512M, 1.5G, 1GiB (default "
                                              f"{ram or sized})")
    p.add_argument("--swap", default=swap, help=f"swap device size (default {swap or sized})")
    p.add_argument("--kernel", choices=KERNEL_CHOICES, default="2.6.30", help="kernel behaviour (default 2.6.30)")
    p.add_argument("--hook", default="none", metavar="NAME",
                   help=f"reclaim strategy: {_strategy_names()} (default none: 2.6.30 as it was), or one added with "
                        f"--strategy")
    p.add_argument("--laptop-mode", action="store_true", help="vm.laptop_mode: reclaim does not write dirty pages")
    p.add_argument("--no-swap-account", action="store_true", help="boot with noswapaccount (no memsw counters)")
    p.add_argument("--page-cluster", type=int, default=3, help="log2 of the swap readahead window (default 3)")
    _strategy_arg(p)


def _replay_args(p):
    p.add_argument("--cpus", type=int, default=2, help="simulated CPUs (default 2; 1 means nothing interleaves)")
    p.add_argument("--sched", choices=("rr", "random"), default="rr", help="scheduler: round-robin or seeded random")
    p.add_argument("--seed", type=int, default=0, help="seed of the random scheduler and of generators")
    p.add_argument("--sample-every", type=int, default=None, help="events between time-series samples")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def _outcome_args(p):
    p.add_argument("--json", action="store_true",
                   help="print one JSON object: events, seconds, events_per_s, leaks, counters, meminfo, stats, "
                        "faults (hits, minor, major and their ratios), oom (the OOM-killed tasks)")
    p.add_argument("--allow-oom", action="store_true", help="exit 0 even if the OOM killer ended tasks")


def _make_engine(a):
    from .. import Engine
    return Engine(a.ram, a.swap, kernel=a.kernel, hook=a.hook, swap_account=not a.no_swap_account,
                  page_cluster=a.page_cluster, laptop_mode=a.laptop_mode, seed=a.seed)


def _replay(eng, trace, a):
    from ..replay import too_small
    why = too_small(eng, trace, a.cpus)
    if why:
        raise ValueError(why)
    return eng.replay(trace, cpus=a.cpus, sched=a.sched, seed=a.seed, sample_every=a.sample_every,
                      progress=False if a.no_progress else None)


def _load_trace(a, path=None):
    """A pymemcg trace, or a foreign one imported on the fly (saying so on stderr)."""
    from ..importers import _import_command, load_any
    path = path or a.trace
    trace, fmt = load_any(path, getattr(a, "format", None))
    if fmt:
        print(f"pymemcg {a.command}: read {path} as {fmt} (to keep it: {_import_command(path, fmt)})",
              file=sys.stderr)
    return trace


def _outcome(res, a):
    """Report OOM kills on stderr; exit status 1 for them unless --allow-oom."""
    for line in res.oom_lines():
        print(f"pymemcg {a.command}: {line}", file=sys.stderr)
    if res.oom and not a.allow_oom:
        print(f"pymemcg {a.command}: {len(res.oom)} task(s) OOM-killed: the workload did not run to its end "
              f"(--allow-oom accepts that)", file=sys.stderr)
        return 1
    return 0


def cmd_demo(a):
    from .demo import run_demo
    return run_demo(a)


def cmd_replay(a):
    trace = _load_trace(a)
    eng = _make_engine(a)
    res = _replay(eng, trace, a)
    if a.save_result:
        res.to_json(a.save_result)
    if a.series_csv:
        res.to_csv(a.series_csv)
    if a.save_engine:
        eng.save(a.save_engine)
    if a.json:
        print(json.dumps(res.summary(), indent=1))
    else:
        _print_result(res)
    return _outcome(res, a)


def _print_result(res):
    from ..faults import describe
    c, lk, mi = res.counters, res.leaks, res.meminfo
    print(f"{res.events} events in {res.seconds:.2f} s ({res.events_per_s:,.0f} events/s, "
          f"{res.stats['steps']:,} page-steps, {res.stats['interleavings']:,} CPU switches)")
    print(f"swap writes {c['pswpout']:,}  swap reads {c['pswpin']:,} (pages)  "
          f"reclaimed {c['pgsteal']:,} of {c['pgscan']:,} scanned  oom kills {c['oom_kills'] + c['global_oom_kills']}")
    print(describe(res.faults))
    print(f"hook calls {c['hook_calls']:,}  freed {c['hook_freed']:,}  refused {c['strategy_refused']:,}"
          + "".join(f"  {k} {v:,}" for k, v in res.strategy_counters.items()))
    print(f"stale swap cache {lk['stale_swapcache']} (type-1 {lk['stale_swapcache_type1']}, type-2 "
          f"{lk['stale_swapcache_type2']})  leaked swap entries {lk['leaked_swap_entries']}  "
          f"leaked memsw {lk['leaked_memsw']}")
    print(f"SwapCached {mi['SwapCached'] >> 10} kB  swap used {(mi['SwapTotal'] - mi['SwapFree']) >> 10} kB  "
          f"MemFree {mi['MemFree'] >> 10} kB")


# gen's options, by the generator parameters they fill (a generator takes those it names)
_GEN_OPTIONS = {"events": ("n_events",), "pages": ("n_pages",), "alpha": ("alpha",),
                "rounds": ("rounds", "generations"), "cpus": ("cpus",), "seed": ("seed",)}


def cmd_gen(a):
    import inspect
    from .. import workloads
    from ..facts import count_events
    from ..trace import save
    gen = workloads.GENERATORS[a.kind]
    params = inspect.signature(gen).parameters
    kwargs = {p: getattr(a, opt) for opt, names in _GEN_OPTIONS.items() for p in names if p in params}
    tr = gen(**kwargs)
    save(tr, a.out)
    print(f"{count_events(tr)} events -> {a.out}")
    return 0


def cmd_import(a):
    from ..facts import describe, trace_facts
    from ..importers import load_foreign
    from ..mix import place
    from ..trace import save
    tr = load_foreign(a.input, a.format, dense=not a.sparse, limit_events=a.limit_events)
    if a.cgroup or a.limit or a.memsw_limit:
        tr = place(tr, a.cgroup or "trace", a.limit, a.memsw_limit)
    save(tr, a.out)
    for line in describe(trace_facts(tr), a.out):
        print(line)
    return 0


def cmd_plot(a):
    from .plot import plot_result_file
    out = plot_result_file(a.result, a.out)
    print(f"plot -> {out}")
    return 0


def cmd_stat(a):
    if not a.path.endswith(".npz"):
        return _stat_trace(a)
    from .. import load
    from ..errors import CgroupError
    from ..sizes import human
    eng = load(a.path)
    try:
        cg = eng.cgroup(a.cgroup)
    except CgroupError as e:
        raise ValueError(f"{e.strerror}; the engine's cgroups: {', '.join(sorted(c.path for c in eng._cgroups.values()))}"
                         ) from None
    doc = {"cgroup": cg.path, "memory.stat": cg.stat(), "usage_in_bytes": cg.usage_in_bytes,
           "limit_in_bytes": cg.limit_in_bytes, "meminfo": eng.meminfo(), "leaks": eng.leaks()}
    if eng.swap_account:
        doc["memsw.usage_in_bytes"] = cg.memsw_usage_in_bytes
    if a.json:
        print(json.dumps(doc, indent=1))
        return 0
    limit = "unlimited" if doc["limit_in_bytes"] >= 1 << 62 else f"{human(doc['limit_in_bytes'])} ({doc['limit_in_bytes']} B)"
    print(f"{cg.path}: usage {human(doc['usage_in_bytes'])} ({doc['usage_in_bytes']} B)  limit {limit}")
    print("memory.stat (bytes, but pgpgin/pgpgout: events):")
    for k, v in doc["memory.stat"].items():
        print(f"  {k + ':':<28}{v:>16}{'' if k.endswith(('pgpgin', 'pgpgout')) else ' B'}")
    print("meminfo (kB, as /proc/meminfo shows it):")
    for k, v in doc["meminfo"].items():
        print(f"  {k + ':':<16}{v >> 10:>12} kB")
    print("leaks (pages or swap slots):")
    for k, v in doc["leaks"].items():
        print(f"  {k + ':':<28}{v:>10}")
    return 0


def _stat_trace(a):
    from ..facts import describe, trace_facts
    f = trace_facts(_load_trace(a, a.path))
    if a.json:
        print(json.dumps(f, indent=1))
    else:
        for line in describe(f, a.path):
            print(line)
    return 0


def cmd_bench(a):
    from . import bench
    if a.what == "overhead":
        r = bench.overhead(pages=a.pages, rounds=a.rounds or 100, segment=a.segment, cpus=a.cpus, seed=a.seed,
                           progress=False if a.no_progress else None, hook=a.hook)
        instr = None
        if a.instructions:
            instr = bench.instructions(hook=a.hook)
            if instr is None:
                print("valgrind is not installed: no instruction counts (apt-get install valgrind)", file=sys.stderr)
            else:
                r["instructions"] = instr
        if a.json:
            print(bench.to_json(r))
        else:
            bench.print_overhead(r, instr)
        return 0
    out = bench.leak(rounds=a.rounds or 3000, swap=a.swap, ram=a.ram, cpus=a.cpus, seed=a.seed,
                     progress=False if a.no_progress else None, hooks=a.hooks)
    if a.plot:
        bench.plot_leak(out, a.plot)
    if a.json:
        print(bench.to_json(out))
    else:
        bench.print_leak(out)
        if a.plot:
            print(f"plot: {a.plot}")
    return 0


def build_parser():
    p = argparse.ArgumentParser(prog="pymemcg", description="A page-state engine for Linux memory-cgroup reclaim "
                                "(memcg v1, 2.6.30/2.6.31): replay workloads, reproduce races, measure reclaim hooks.")
    from .. import __version__
    p.add_argument("--version", action="version", version=f"pymemcg {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    d = sub.add_parser("demo", help="the default workload under 2.6.30 with each strategy and under 2.6.31",
                       description="Replay a million-page multi-cgroup churn (tasks killed while their cgroups "
                                   "reclaim) under kernel 2.6.30 with each registered strategy (none, seed, "
                                   "uncharge-at-free and any added with --strategy) and under 2.6.31; print leaks, "
                                   "swap used, reclaim throughput and hook cost side by side and write a plot.")
    d.add_argument("--pages", type=int, default=1 << 20, help="task memory of the workload in pages (default 1M)")
    d.add_argument("--cpus", type=int, default=4, help="simulated CPUs (default 4)")
    d.add_argument("--seed", type=int, default=0, help="workload and scheduler seed")
    d.add_argument("--plot", default="pymemcg-demo.png", help="where to write the plot (default pymemcg-demo.png)")
    d.add_argument("--json", action="store_true", help="print the table as JSON")
    d.add_argument("--no-progress", action="store_true", help="no progress bars")
    _strategy_arg(d)
    d.set_defaults(func=cmd_demo)

    r = sub.add_parser("replay", help="replay a trace (.npy or .csv, or a foreign trace imported on the fly)",
                       description="Replay a trace on a fresh engine and report hits and faults, counters, leaks "
                                   "and meminfo.  OOM kills are reported on stderr and make the exit status 1 "
                                   "(unless --allow-oom); a machine too small to run the trace at all is refused "
                                   "with the trace's footprint.")
    r.add_argument("trace", help="trace file: .npy (memory-mapped) or .csv, or a foreign trace "
                                 "(oracleGeneral, libCacheSim csv, lackey, address, block ids; plain, .gz, .xz) "
                                 "read as --format says or as its contents show")
    r.add_argument("--format", choices=FORMATS, default=None, help="the foreign trace's format (default: detected)")
    _engine_args(r)
    _replay_args(r)
    _outcome_args(r)
    r.add_argument("--save-result", metavar="JSON", help="write the result with its time series (for `plot`)")
    r.add_argument("--series-csv", metavar="CSV", help="write the time series as CSV")
    r.add_argument("--save-engine", metavar="NPZ", help="save the final engine (for `stat`)")
    r.set_defaults(func=cmd_replay)

    g = sub.add_parser("gen", help="generate a synthetic trace",
                       description="Write a seeded synthetic trace (the same arguments give the same trace): "
                                   "zipf or loop accesses of one task, the 2009 churn reproducer, a fork-heavy "
                                   "family, or the demo's multi-cgroup churn.")
    g.add_argument("kind", choices=tuple(GENERATORS), help="workload")
    g.add_argument("out", help="output trace (.npy or .csv)")
    g.add_argument("--events", type=int, default=1_000_000, help="zipf/loop: accesses (default 1M)")
    g.add_argument("--pages", type=int, default=1 << 16, help="zipf/loop: distinct pages; mixed: task memory")
    g.add_argument("--alpha", type=float, default=1.0, help="zipf exponent (default 1.0)")
    g.add_argument("--rounds", type=int, default=40, help="churn: kills; fork_heavy: generations; mixed: kills per cgroup")
    g.add_argument("--cpus", type=int, default=2, help="CPUs the tasks are spread over")
    g.add_argument("--seed", type=int, default=0, help="generator seed (default 0)")
    g.set_defaults(func=cmd_gen)

    i = sub.add_parser("import", help="turn another tool's trace into a pymemcg trace",
                       description="Import libCacheSim oracleGeneral/csv block traces, valgrind lackey output, "
                                   "address traces or block-id lists (plain, .gz or .xz) as a one-task trace, "
                                   "optionally in a cgroup with limits, and print its facts: events, tasks, "
                                   "distinct pages (footprint), reads and writes, footprint per task.")
    i.add_argument("--format", required=True, choices=FORMATS,
                   help="input format: libCacheSim oracleGeneral binary or csv, valgrind lackey --trace-mem=yes "
                        "output, 'l|s 0xADDR n' address lines, or block ids (text or int32)")
    i.add_argument("input", help="the foreign trace (plain, .gz or .xz)")
    i.add_argument("out", help="output trace (.npy or .csv)")
    i.add_argument("--sparse", action="store_true", help="keep ids/addresses as pages instead of renumbering densely")
    i.add_argument("--limit-events", type=int, default=None, help="stop after this many accesses")
    i.add_argument("--cgroup", default=None, metavar="PATH",
                   help="run the task in this cgroup (made by the trace; default the root, or 'trace' with a limit)")
    i.add_argument("--limit", default=None, metavar="SIZE",
                   help="the cgroup's memory.limit_in_bytes: a size (64M, 1.5G) or a share of the trace's "
                        "footprint (25%%)")
    i.add_argument("--memsw-limit", default=None, metavar="SIZE", help="its memory.memsw.limit_in_bytes (as --limit)")
    i.set_defaults(func=cmd_import)

    pl = sub.add_parser("plot", help="plot a replay result written by `replay --save-result`",
                        description="Plot the time series of a replay result (`pymemcg replay --save-result "
                                    "R.json`): stale swap cache, swap used, SwapCached, leaked memsw charges.")
    pl.add_argument("result", help="result JSON")
    pl.add_argument("-o", "--out", default=None, help="PNG to write (default: next to the JSON)")
    pl.set_defaults(func=cmd_plot)

    b = sub.add_parser("bench", help="measure a strategy: `bench overhead` (cost) and `bench leak` (what it buys)",
                       description="overhead: replay a reclaim-heavy segment with no exits from one warmed engine "
                                   "with hook=none and hook=NAME (default seed), A/B interleaved, and report the "
                                   "time ratio with a bootstrap 95% interval. leak: replay the 2009 churn "
                                   "reproducer on a small swap device under each kernel x strategy and report stale "
                                   "pages, leaked entries and memsw, and swap exhaustion.")
    b.add_argument("what", choices=("overhead", "leak"),
                   help="overhead: what a strategy costs; leak: what each strategy buys")
    b.add_argument("--hook", default="seed", metavar="NAME",
                   help=f"overhead: the strategy measured against none, {_strategy_names()} or one added with "
                        f"--strategy (default seed)")
    b.add_argument("--hooks", type=_hooks_arg, default=None, metavar="A,B,...",
                   help="leak: the strategies to compare, each on both kernels (default: every registered one)")
    _strategy_arg(b)
    b.add_argument("--json", action="store_true", help="print one JSON object")
    b.add_argument("--instructions", action="store_true",
                   help="overhead: also count instructions with valgrind's callgrind")
    b.add_argument("--pages", type=int, default=1 << 20, help="overhead: workload pages (default 1M)")
    b.add_argument("--rounds", type=int, default=None,
                   help="overhead: A/B rounds (default 100); leak: task kills (default 3000)")
    b.add_argument("--segment", type=int, default=4000, help="overhead: events per measured segment")
    b.add_argument("--cpus", type=int, default=2, help="simulated CPUs (default 2)")
    b.add_argument("--seed", type=int, default=0, help="workload and scheduler seed")
    b.add_argument("--ram", default="256M", help="leak: RAM (default 256M)")
    b.add_argument("--swap", default="4M", help="leak: swap device (default 4M, small so leaks exhaust it)")
    b.add_argument("--plot", default=None, help="leak: write a plot of stale pages and swap use")
    b.add_argument("--no-progress", action="store_true", help="no progress bar")
    b.set_defaults(func=cmd_bench)

    s = sub.add_parser("stat", help="facts of a trace, or memory.stat and meminfo of a saved engine",
                       description="For a trace (.npy, .csv or a foreign trace): its events, tasks, distinct "
                                   "pages (footprint, in pages and bytes), reads and writes and the footprint per "
                                   "task, what one needs to size a machine.  For a saved engine (.npz): one "
                                   "cgroup's usage, limit and memory.stat, meminfo and the leak audit, each with "
                                   "its unit.")
    s.add_argument("path", help="a trace, or an engine saved by Engine.save or `replay --save-engine` (.npz)")
    s.add_argument("--format", choices=FORMATS, default=None, help="a foreign trace's format (default: detected)")
    s.add_argument("--cgroup", default="/", help="engine: the cgroup to show (default the root)")
    s.add_argument("--json", action="store_true", help="print one JSON object")
    s.set_defaults(func=cmd_stat)

    _add_mix_parser(sub)
    _add_mrc_parser(sub)
    _add_sweep_parser(sub)
    _add_explore_parser(sub)
    return p


# --- mix --------------------------------------------------------------------------------

_SOURCE_KEYS = ("name", "format", "limit", "memsw_limit", "tasks", "restarts", "kill_every", "limit_events", "cpus")


def _source(spec, a):
    """A mix Source from PATH[,key=value...], the command's options as defaults."""
    from ..mix import Source
    path, *opts = spec.split(",")
    kw = dict(format=a.format, limit=a.limit, memsw_limit=a.memsw_limit, tasks=a.tasks, restarts=a.restarts,
              kill_every=a.kill_every, limit_events=a.limit_events)
    for opt in opts:
        key, sep, value = opt.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or key not in _SOURCE_KEYS:
            raise ValueError(f"source {spec!r}: {opt!r} is not key=value with a key among {', '.join(_SOURCE_KEYS)}")
        try:
            if key in ("tasks", "restarts", "limit_events"):
                value = int(value)
            elif key == "kill_every":
                value = float(value)
            elif key == "cpus":
                value = [int(c) for c in value.split("+")]
        except ValueError:
            raise ValueError(f"source {spec!r}: {key}={value!r} is not a number") from None
        kw[key] = value
    return Source(path, **kw)


def cmd_mix(a):
    from .. import mix as M
    from ..facts import count_events
    from ..sizes import human
    from ..trace import save
    if a.no_replay and not a.out:
        raise ValueError("--no-replay needs --out (the mixed trace is all there is to keep)")
    sources = [_source(spec, a) for spec in a.sources]
    trace = M.mix(sources, cpus=a.cpus, interleave=a.interleave, burst=a.burst, seed=a.seed)
    if a.out:
        save(trace, a.out)
    ram, swap = M.machine(sources)
    a.ram, a.swap = a.ram or ram, a.swap or swap
    head = [f"mix of {len(sources)} source(s), {sum(s.tasks for s in sources)} task slot(s) on {a.cpus} CPU(s) "
            f"({a.interleave}{f', bursts of {a.burst}' if a.interleave == 'rr' else ''}): "
            f"{count_events(trace):,} events{f' -> {a.out}' if a.out else ''}"] + ["  " + x for x in M.describe(sources)]
    if a.no_replay:
        print("\n".join(head))
        return 0
    eng = _make_engine(a)
    res = _replay(eng, trace, a)
    if a.json:
        print(json.dumps(dict(res.summary(), sources=head[1:]), indent=1))
        return _outcome(res, a)
    print("\n".join(head))
    s = eng.settings
    print(f"machine: RAM {human(s['ram'])}, swap {human(s['swap'])}, kernel {s['kernel']}, hook {s['hook']}, "
          f"page-cluster {s['page_cluster']}")
    _print_result(res)
    for src in sources:
        cg = eng.cgroup(src.cgroup)
        print(f"{cg.path}: max usage {human(cg.max_usage_in_bytes)}, limit hit {cg.failcnt:,} times")
    return _outcome(res, a)


def _add_mix_parser(sub):
    m = sub.add_parser("mix", help="run recorded traces side by side, each in a cgroup of its own",
                       description="Compose several traces (pymemcg traces of one task, or foreign traces read "
                                   "through the importers) into one multi-tenant workload and replay it: each "
                                   "source runs as --tasks tasks in a cgroup of its own with its own limits, "
                                   "on the CPUs in turn; a task that reaches the end of its source exits and a "
                                   "new one starts it again (--restarts), and a task killed at --kill-every's "
                                   "rate is replaced by one that goes on where it stopped, so exits race with "
                                   "reclaim as in production.  Options set every source; PATH,key=value "
                                   "overrides them for one (keys: name, format, limit, memsw_limit, tasks, "
                                   "restarts, kill_every, limit_events, cpus as 0+1).")
    m.add_argument("sources", nargs="+", metavar="SOURCE", help="PATH[,key=value...]: a trace and its own settings")
    m.add_argument("--limit", default=None, metavar="SIZE",
                   help="memory.limit_in_bytes of each source's cgroup: a size (64M) or a share of the source's "
                        "footprint (25%%); default none")
    m.add_argument("--memsw-limit", default=None, metavar="SIZE", help="memory.memsw.limit_in_bytes (as --limit)")
    m.add_argument("--tasks", type=int, default=1, help="tasks running each source at once (default 1)")
    m.add_argument("--restarts", type=int, default=0,
                   help="times each task is replaced by a new one when it reaches the end of its source (default 0)")
    m.add_argument("--kill-every", type=float, default=None, metavar="N",
                   help="kill a task after N faults on average (seeded) and let a new one go on where it stopped")
    m.add_argument("--interleave", choices=("rr", "time"), default="rr",
                   help="rr: the tasks take turns of --burst faults; time: merge by the sources' time stamps "
                        "(their positions where the format has none), each pass of a source over one unit of time")
    m.add_argument("--burst", type=int, default=64, help="rr: faults per turn (default 64)")
    m.add_argument("--format", choices=FORMATS, default=None, help="foreign sources' format (default: detected)")
    m.add_argument("--limit-events", type=int, default=None, help="read at most this many accesses of each file")
    m.add_argument("-o", "--out", default=None, help="also write the mixed trace (.npy or .csv)")
    m.add_argument("--no-replay", action="store_true", help="only write the mixed trace (with --out)")
    _engine_args(m, ram=None, swap=None)
    _replay_args(m)
    _outcome_args(m)
    m.set_defaults(func=cmd_mix)


# --- mrc --------------------------------------------------------------------------------

def cmd_mrc(a):
    from .mrc import curve
    c = curve(a.trace, a.sizes, format=a.format, limit_events=a.limit_events, ram=a.ram, swap=a.swap,
              kernel=a.kernel, hook=a.hook, page_cluster=a.page_cluster, cpus=a.cpus, seed=a.seed,
              executor=a.scheduler, workers=a.workers, lru=not a.no_lru, progress=not a.no_progress)
    plot = None if a.no_plot else (a.plot or os.path.basename(a.trace).split(".")[0] + "-mrc.png")
    if plot:
        c.plot(plot)
    if a.json:
        print(json.dumps(dict(c.to_dict(), plot=plot), indent=1))
        return 0
    print("\n".join(c.lines()))
    if plot:
        print(f"plot: {plot}")
    return 0


def _add_mrc_parser(sub):
    m = sub.add_parser("mrc", help="the miss-ratio curve of a trace: the kernel's reclaim beside LRU",
                       description="Replay a trace at several memory sizes (its tasks in one cgroup whose "
                                   "memory.limit_in_bytes is the size), in parallel on the sweep executors, and "
                                   "print and plot the miss ratio (first touches and major faults per page "
                                   "touch) of the kernel's two-list reclaim at each size, with libCacheSim's LRU "
                                   "on the same page requests and cache sizes beside it when libcachesim is "
                                   "installed.  docs/mix.md says where and why the two curves part.")
    m.add_argument("trace", help="a pymemcg trace (.npy, .csv) or a foreign trace (read as --format says or as its "
                                 "contents show)")
    m.add_argument("--sizes", default="1%,5%,10%,25%",
                   help="sizes: shares of the footprint (1%%,5%%), sizes (4M,16M), or a range START..STOP/N of N "
                        "evenly spaced sizes (default 1%%,5%%,10%%,25%%)")
    m.add_argument("--format", choices=FORMATS, default=None, help="the foreign trace's format (default: detected)")
    m.add_argument("--limit-events", type=int, default=None, help="read at most this many accesses of the file")
    m.add_argument("--ram", default=None, help="RAM (default: the footprint and a quarter, plus 64M)")
    m.add_argument("--swap", default=None, help="swap device (default as RAM)")
    m.add_argument("--kernel", choices=KERNEL_CHOICES, default="2.6.30", help="kernel behaviour (default 2.6.30)")
    m.add_argument("--hook", default="none", metavar="NAME",
                   help=f"reclaim strategy: {_strategy_names()} (default none), or one added with --strategy")
    _strategy_arg(m)
    m.add_argument("--page-cluster", type=int, default=3,
                   help="log2 of the swap readahead window (default 3; 0 turns readahead off)")
    m.add_argument("--cpus", type=int, default=1, help="simulated CPUs of each replay (default 1)")
    m.add_argument("--seed", type=int, default=0, help="engine and scheduler seed")
    m.add_argument("--scheduler", metavar="ADDRESS", default=None,
                   help="run the sizes on this Dask scheduler (tcp://host:8786); default: a local process pool")
    m.add_argument("--workers", type=int, default=None, metavar="N", help="local pool size (default: the cores)")
    m.add_argument("--plot", default=None, metavar="PNG", help="where to write the plot (default TRACE-mrc.png)")
    m.add_argument("--no-plot", action="store_true", help="write no plot")
    m.add_argument("--no-lru", action="store_true", help="leave LRU out")
    m.add_argument("--json", action="store_true", help="print the curve as JSON")
    m.add_argument("--no-progress", action="store_true", help="no progress bar")
    m.set_defaults(func=cmd_mrc)


# --- sweep ------------------------------------------------------------------------------

def cmd_sweep(a):
    """Run a sweep config; exit 1 listing the failed cells, 130 when interrupted."""
    from . import sweep
    cfg = sweep.load_config(a.config)
    opts = cfg.options
    results = a.results or cfg.results()
    scheduler = a.scheduler or opts.get("scheduler")
    upload = a.upload or opts.get("upload", False)
    if upload and not scheduler:
        print("pymemcg sweep: --upload has no effect on the local process pool (its workers read the files)",
              file=sys.stderr)
    try:
        report = sweep.run(cfg.grid, cfg.traces, executor=scheduler, results=results,
                           workers=a.workers if a.workers is not None else opts.get("workers"),
                           upload=bool(upload and scheduler),
                           upload_limit=opts.get("upload_limit", sweep.UPLOAD_LIMIT),
                           retries=opts.get("retries", 1), check=opts.get("check", True), base_dir=cfg.base_dir,
                           progress=not a.no_progress)
    except KeyboardInterrupt:
        print(f"pymemcg sweep: interrupted; rerun the same command to resume from {results}", file=sys.stderr)
        return 130
    if a.json:
        print(json.dumps({"cells": len(report.rows), "ran": len(report.ran), "resumed": len(report.resumed),
                          "failed": [r["cell"] for r in report.failed], "seconds": report.seconds,
                          "results": report.paths, "comparisons": report.comparisons}, indent=1))
    else:
        print(report.summary())
    if report.failed:
        print(f"pymemcg sweep: {len(report.failed)} cell(s) failed:", file=sys.stderr)
        for line in report.failures():
            print(f"  {line}", file=sys.stderr)
        return 1
    return 0


# --- explore ------------------------------------------------------------------------------

def cmd_explore(a):
    from .. import explore
    from ..explore.compare import hook_names, table
    preemptions = None if a.preemptions == "unbounded" else _count(a.preemptions, "--preemptions")
    hooks = a.hooks or hook_names()
    runs = explore.compare(a.scenario, kernels=a.kernels, hooks=hooks, preemptions=preemptions,
                           prune=not a.no_prune, max_steps=a.max_steps, executor=a.scheduler, workers=a.workers,
                           progress=not a.no_progress and not a.json)
    if a.json:
        print(json.dumps([e.summary() for e in runs], indent=1))
        return 0
    for e in runs:
        print("\n".join(e.report()))
        print()
    print(table(runs))
    return 0


def _count(text, what):
    try:
        n = int(text)
    except ValueError:
        raise ValueError(f"{what} must be a non-negative integer or 'unbounded', got {text!r}") from None
    if n < 0:
        raise ValueError(f"{what} must be a non-negative integer or 'unbounded', got {n}")
    return n


def _add_explore_parser(sub):
    from ..explore import scenarios
    e = sub.add_parser("explore", help="explore every interleaving of a race scenario (preemption-bounded)",
                       description="Run every schedule of a scenario's CPUs and kswapd over the engine's stop "
                                   "points with at most K preemptions, under each kernel and reclaim strategy; "
                                   "print per combination the schedules explored, pruned (state already seen), "
                                   "distinct final states, and for each bad outcome (leaks by type, check() "
                                   "failures, OOM kills, operations that never finished) how many schedules reach "
                                   "it and its shortest reproducer as a CPU-by-CPU table (docs/explore.md). "
                                   f"Shipped scenarios: {', '.join(scenarios())}.")
    e.add_argument("scenario", metavar="SCENARIO", help="a shipped scenario's name or a scenario TOML file")
    e.add_argument("--kernels", default="2.6.30,2.6.31", help="comma-separated kernels (default 2.6.30,2.6.31)")
    e.add_argument("--hooks", type=_hooks_arg, default=None,
                   help=f"comma-separated reclaim strategies among {_strategy_names()} and those added with "
                        f"--strategy (default: every one of them)")
    _strategy_arg(e)
    e.add_argument("--preemptions", default="2", metavar="K",
                   help="the preemption bound: a non-negative integer, or 'unbounded' (default 2)")
    e.add_argument("--no-prune", action="store_true", help="run every schedule, also past states already seen")
    e.add_argument("--max-steps", type=int, default=100_000,
                   help="steps after which a schedule counts as unfinished (livelock; default 100000)")
    e.add_argument("--scheduler", metavar="ADDRESS", default=None,
                   help="Dask scheduler address (tcp://host:8786); default: a local process pool")
    e.add_argument("--workers", type=int, default=None, metavar="N", help="local pool size (default: the cores)")
    e.add_argument("--no-progress", action="store_true", help="no progress bar")
    e.add_argument("--json", action="store_true", help="print every combination's figures and reproducers as JSON")
    e.set_defaults(func=cmd_explore)


def _add_sweep_parser(sub):
    w = sub.add_parser("sweep", help="run a grid of engine settings x traces (local pool or Dask)",
                       description="Cross a grid of Engine settings and replay options with trace files and "
                                   "generator specs (a TOML file, see docs/sweep.md); run each cell as one replay on "
                                   "a local process pool or a Dask cluster; write one row per cell to RESULTS.jsonl "
                                   "and RESULTS.csv as cells finish (a rerun resumes), and print policy "
                                   "comparisons. Exits 1 listing the cells that failed after their retry.")
    w.add_argument("config", metavar="CONFIG.toml", help="sweep config: [grid], traces, [sweep]")
    w.add_argument("--scheduler", metavar="ADDRESS", default=None,
                   help="Dask scheduler address (tcp://host:8786); default: a local process pool")
    w.add_argument("--upload", action="store_true",
                   help="ship trace files (small ones only) through the Dask cluster instead of by path")
    w.add_argument("--workers", type=int, default=None, metavar="N",
                   help="local pool size (default: the machine's cores); with --scheduler, wait for N workers")
    w.add_argument("--results", metavar="FILE", default=None,
                   help="results file (x.jsonl or x.csv; both are written); default: CONFIG's name with .jsonl")
    w.add_argument("--no-progress", action="store_true", help="no progress bar")
    w.add_argument("--json", action="store_true", help="print the outcome and the comparisons as JSON")
    _strategy_arg(w)
    w.set_defaults(func=cmd_sweep)


def main(argv=None):
    from ..errors import Error
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        _load_strategies(parser, args)
        return args.func(args) or 0
    except BrokenPipeError:                       # `pymemcg ... | head`
        sys.stderr.close()
        return 0
    except OSError as e:
        msg = e.strerror or str(e)
        print(f"pymemcg {args.command}: {f'{e.filename}: ' if e.filename else ''}{msg}", file=sys.stderr)
        return 2
    except (Error, ValueError, TypeError) as e:
        print(f"pymemcg {args.command}: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
