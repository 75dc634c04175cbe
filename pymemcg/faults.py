"""What each touched page found: hits, minor faults and major faults (docs/replay.md,
"Hits, faults and miss ratios").

Every page a fault touches (``pgfault``) is exactly one of:

- a hit: its pte was present at the fault's first look (a write that copies or takes over
  a present copy-on-write page included);
- a first touch: the pte was empty, do_anonymous_page gave it a new page (``anon_faults``);
- a swap-in: the pte held a swap entry and do_swap_page mapped the page back (``swapins``),
  major when it had to read the device (``pgmajfault``), minor when the page was still in
  the swap cache (left there by reclaim, or brought in by readahead).

So hits = pgfault - anon_faults - swapins, minor = anon_faults + (swapins - pgmajfault)
and major = pgmajfault (never more than swapins).  The one inexact case: the OOM killer
ending a fault in the middle of a swap-in (after its lookup of the swap cache, before the
page is mapped) leaves a lookup counted that touched nothing, which may move one page
between these figures; that happens at most once per killed task.  The miss ratio is the share of touches that found the page
in no memory at all (first touches and major faults), which is what a cache simulator's
miss ratio counts; swap-cache hits are in RAM and count as hits there.
"""
import numpy as np

COUNTERS = ("pgfault", "anon_faults", "swapins", "pgmajfault")
RATIOS = ("hit_ratio", "minor_ratio", "major_ratio", "miss_ratio")


def _ratio(part, whole):
    if isinstance(whole, np.ndarray):
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(whole > 0, part / np.maximum(whole, 1), np.nan)
    return part / whole if whole else 0.0


def classify(counters):
    """Counts and ratios from engine counters (a dict of ints, or of equally long numpy
    arrays such as a time series's columns); a ratio over no accesses is 0.0 for ints and
    NaN in arrays."""
    accesses, first, swapins = counters["pgfault"], counters["anon_faults"], counters["swapins"]
    major = np.minimum(counters["pgmajfault"], swapins)
    if not isinstance(major, np.ndarray):
        major = int(major)
    cache_hits = swapins - major
    out = {"accesses": accesses, "hits": accesses - first - swapins, "minor": first + cache_hits, "major": major,
           "first_touches": first, "swapin_cache_hits": cache_hits}
    out.update(hit_ratio=_ratio(out["hits"], accesses), minor_ratio=_ratio(out["minor"], accesses),
               major_ratio=_ratio(major, accesses), miss_ratio=_ratio(first + major, accesses))
    return out


def series_columns(series):
    """Hits, minor and major faults so far, and their ratios so far, at each sample of a
    replay's time series.  A fault counts its pages in pgfault when it finishes, so while
    faults run on other CPUs a sample may see their first touches and swap-ins before
    their pages: the split is exact at the end, and off by at most the pages of the
    faults in flight at a sample."""
    f = classify({k: np.asarray(series[k], np.int64) for k in COUNTERS})
    out = {"hits": f["hits"], "minor_faults": f["minor"], "major_faults": f["major"]}
    out.update({k: f[k] for k in RATIOS})
    return out


def describe(f):
    """One line for people."""
    if not f["accesses"]:
        return "pages touched 0"
    return (f"pages touched {f['accesses']:,}: hits {f['hits']:,} ({f['hit_ratio']:.1%})  minor {f['minor']:,} "
            f"({f['minor_ratio']:.1%}: {f['first_touches']:,} first touches, {f['swapin_cache_hits']:,} "
            f"swap-cache hits)  major {f['major']:,} ({f['major_ratio']:.1%})  miss ratio {f['miss_ratio']:.4f}")
