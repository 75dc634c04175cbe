"""Where a replay's instructions go, by source file of the core (docs/performance.md).

    python benchmarks/callgrind_breakdown.py                         # zipf pc=3, events 2M..3M
    python benchmarks/callgrind_breakdown.py --page-cluster 0
    python benchmarks/callgrind_breakdown.py --workload hits --events 1000000 --warm 0
    python benchmarks/callgrind_breakdown.py --cpus 4                # zipf cut into 4 tasks on 4 CPUs

Runs the replay under valgrind's callgrind, collecting inside pmc_replay_run, _validate and
_finish only, and prints instructions per event by source file (LTO inlines the core's helpers
across files; callgrind still names the file each instruction comes from).  With --warm W the
replay is run twice, over W and over W + EVENTS events, and the difference is printed: the
steady state, without the warm-up.  Instruction counts are exact and repeatable, unlike
timings on this shared machine; they take minutes (callgrind runs the replay ~50x slower).
"""
import argparse
import collections
import json
import os
import re
import subprocess
import sys
import tempfile

CHILD = """
import sys
import numpy as np
import pymemcg
from pymemcg import workloads
kind, n, pc, cpus = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
P = pymemcg.PAGE_SIZE
if kind == "zipf":
    tr = workloads.zipf(n, 1 << 20, 1.0, seed=0, tasks=cpus)
    eng = pymemcg.Engine(100_000 * P, 2 * (1 << 20) * P, page_cluster=pc)
else:                                   # hits: one present page, n times
    tr = workloads.from_accesses(np.zeros(n, np.int64))
    eng = pymemcg.Engine("8G", "1G")
res = eng.replay(tr, cpus=cpus, sample_every=0, progress=False)
print(res.stats["steps"])
"""


def profile(kind, n, pc, cpus):
    """{source file: instructions} of one replay of n events, and its scheduler steps."""
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "cg.out")
        p = subprocess.run(["valgrind", "--tool=callgrind", "--toggle-collect=pmc_replay_run",
                            "--toggle-collect=pmc_replay_validate", "--toggle-collect=pmc_replay_finish",
                            f"--callgrind-out-file={out}", sys.executable, "-c", CHILD, kind, str(n), str(pc), str(cpus)],
                           capture_output=True, text=True, check=True)
        steps = int(p.stdout.split()[-1])
        text = subprocess.run(["callgrind_annotate", out], capture_output=True, text=True, check=True).stdout
    files = collections.Counter()
    for line in text.splitlines():
        m = re.match(r"\s*([\d,]+) \(\s*[\d.]+%\)\s+(\S+?):\S+", line)
        if m and "csrc/" in m.group(2):
            files[m.group(2).rsplit("/", 1)[-1]] += int(m.group(1).replace(",", ""))
    return files, steps


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--workload", choices=("zipf", "hits"), default="zipf")
    ap.add_argument("--events", type=int, default=1_000_000, help="events measured (default 1M)")
    ap.add_argument("--warm", type=int, default=2_000_000, help="events run first and subtracted (default 2M)")
    ap.add_argument("--page-cluster", type=int, default=3)
    ap.add_argument("--cpus", type=int, default=1, help="zipf: cut into this many tasks, each on its CPU")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args(argv)
    total, steps = profile(a.workload, a.warm + a.events, a.page_cluster, a.cpus)
    if a.warm:
        base, base_steps = profile(a.workload, a.warm, a.page_cluster, a.cpus)
        total.subtract(base)
        steps -= base_steps
    per_event = {f: v / a.events for f, v in sorted(total.items(), key=lambda kv: -kv[1]) if v > 0}
    if a.json:
        print(json.dumps({"per_event": per_event, "steps_per_event": steps / a.events}, indent=1))
        return
    print(f"{a.workload} page_cluster={a.page_cluster} cpus={a.cpus}: events {a.warm:,}..{a.warm + a.events:,}, "
          f"{steps / a.events:.1f} scheduler steps per event")
    for f, v in per_event.items():
        if v >= 1:
            print(f"  {f:16s} {v:8.0f}")
    print(f"  {'total':16s} {sum(per_event.values()):8.0f} instructions per event")


if __name__ == "__main__":
    main()
