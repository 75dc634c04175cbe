"""The comparison of item 4 of the issue: one exploration per kernel and strategy."""
from .search import explore


def compare(scenario, kernels=("2.6.30", "2.6.31"), hooks=("none", "seed"), preemptions=2, **options):
    """Explore `scenario` under every kernel x strategy; returns the Explorations in that order."""
    return [explore(scenario, kernel, hook, preemptions, **options) for kernel in kernels for hook in hooks]


def table(explorations):
    """One row per combination: schedules, pruned, distinct states, bad outcomes, time."""
    head = ("scenario", "kernel", "hook", "K", "schedules", "pruned", "states", "bad outcomes (schedules)",
            "seconds", "schedules/s")
    rows = [(e.scenario, e.kernel, e.hook, e.bound_text, f"{e.schedules:,}", f"{e.pruned:,}", f"{e.distinct_states:,}",
             "; ".join(f"{' '.join(f'{k}={v}' for k, v in o)} ({n:,})" for o, n in e.bad.items()) or "none",
             f"{e.seconds:.2f}", f"{e.schedules_per_s:,.0f}") for e in explorations]
    widths = [max(len(str(r[i])) for r in rows + [head]) for i in range(len(head))]
    fmt = lambda r: " | ".join(str(v).ljust(w) for v, w in zip(r, widths)).rstrip()
    return "\n".join([fmt(head), "-+-".join("-" * w for w in widths)] + [fmt(r) for r in rows])
