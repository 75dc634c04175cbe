"""Plots of replay time series (matplotlib, written to PNG files).

Runs that coincide stay visible: each run has its own dash and marker, the first drawn
widest, and a run identical to an earlier one in a panel says so in that panel's legend.
A panel that is zero in every run says "none" instead of drawing flat lines."""
import json
import os

import numpy as np

PANELS = (("stale", "stale swap-cache pages"), ("swap_used", "swap slots in use"),
          ("swap_cached", "SwapCached (pages)"), ("leaked_memsw", "leaked memsw charges (slots)"))
# (line style, marker) per run, in order
STYLES = (("-", None), ("--", "o"), (":", "s"), ("-.", "^"), ((0, (5, 1, 1, 1)), "D"), ((0, (1, 1)), "v"))


def _figure():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def draw_runs(ax, runs, field, title, x="events"):
    """One panel: `field` of every run ({name: series}) against `x`."""
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ys = {name: np.asarray(s[field]) for name, s in runs.items()}
    if not any(y.any() for y in ys.values()):
        ax.text(0.5, 0.5, "none, in every run", transform=ax.transAxes, ha="center", va="center", fontsize=11,
                color="0.35")
        ax.set_yticks([])
        return
    drawn = []
    for i, (name, y) in enumerate(ys.items()):
        xs = np.asarray(runs[name][x])
        same = next((other for other in drawn if np.array_equal(ys[other], y)), None)
        dash, marker = STYLES[i % len(STYLES)]
        step = max(len(xs) // 12, 1)                 # markers of different runs at different points
        ax.plot(xs, y, linestyle=dash, marker=marker, markevery=(i * step // len(ys), step), markersize=4,
                linewidth=max(2.6 - 0.6 * i, 1.0), label=f"{name} (same as {same})" if same else name)
        drawn.append(name)
    ax.legend(fontsize=7)


def plot_series(runs, out, title=None, panels=PANELS):
    """runs: {label: series dict (numpy arrays keyed by pymemcg_sample fields)}; writes a PNG."""
    plt = _figure()
    rows = -(-len(panels) // 2)
    fig, axes = plt.subplots(rows, 2, figsize=(11, 3.5 * rows), sharex=True, squeeze=False)
    for ax, (field, label) in zip(axes.flat, panels):
        draw_runs(ax, runs, field, label)
    for ax in axes.flat[len(panels):]:
        ax.set_visible(False)
    for ax in axes[-1]:
        ax.set_xlabel("trace events replayed")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def plot_result_file(path, out=None):
    """Plot a result written by ReplayResult.to_json (`pymemcg replay --save-result`)."""
    with open(path) as f:
        doc = json.load(f)
    series = doc.get("series")
    if not isinstance(series, dict) or "events" not in series:
        raise ValueError(f"{path}: no time series (write it with `pymemcg replay --save-result`)")
    out = out or os.path.splitext(path)[0] + ".png"
    return plot_series({os.path.basename(path): series}, out, title=os.path.basename(path))
