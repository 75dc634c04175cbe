"""Plots of replay time series (matplotlib, written to PNG files)."""
import json
import os

import numpy as np

PANELS = (("stale", "stale swap-cache pages"), ("swap_used", "swap slots in use"),
          ("swap_cached", "SwapCached (pages)"), ("leaked_memsw", "leaked memsw charges (slots)"))


def _figure():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def plot_series(runs, out, title=None):
    """runs: {label: series dict (numpy arrays keyed by pymemcg_sample fields)}; writes a PNG."""
    plt = _figure()
    fig, axes = plt.subplots(2, 2, figsize=(11, 7), sharex=True)
    for ax, (field, label) in zip(axes.flat, PANELS):
        for name, series in runs.items():
            x = np.asarray(series["events"])
            ax.plot(x, np.asarray(series[field]), label=name, linewidth=1.4)
        ax.set_title(label, fontsize=10)
        ax.grid(alpha=0.3)
    for ax in axes[1]:
        ax.set_xlabel("trace events replayed")
    axes[0][0].legend(fontsize=8)
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
