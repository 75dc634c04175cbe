"""The comparison across kernels and strategies: one exploration per kernel and strategy."""
from ..engine import KERNELS
from .search import explore


def hook_names():
    """Every registered reclaim strategy (pymemcg.strategies: the shipped ones, then the user's)."""
    from .. import strategies
    return strategies.names()


def parse_list(text, valid, what):
    """A comma-separated list of names, each checked against `valid` (ValueError naming the bad one)."""
    items = [t.strip() for t in text.split(",")] if isinstance(text, str) else list(text)
    if not items or any(not t for t in items):
        raise ValueError(f"{what}: a comma-separated list of names, got {text!r}")
    for t in items:
        if t not in valid:
            raise ValueError(f"unknown {what[:-1]} {t!r}; one of {', '.join(valid)}")
    return items


def compare(scenario, kernels=("2.6.30", "2.6.31"), hooks=None, preemptions=2, **options):
    """Explore `scenario` under every kernel x strategy (hooks None: every strategy the engine
    knows); returns the Explorations in that order."""
    kernels = parse_list(kernels, sorted(KERNELS), "kernels")
    hooks = parse_list(hook_names() if hooks is None else hooks, hook_names(), "hooks")
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
