"""What a sweep returns."""

from .table import COLUMNS
from .compare import compare, summarize


class SweepReport:
    """What a sweep did.  ``rows``: one row per cell of the grid, in table order (resumed rows
    included); ``ran``: ids of the cells run by this call; ``resumed``: ids taken from the
    results file; ``failed``: rows whose cell failed after its retry; ``comparisons``: compare(rows);
    ``paths``: the files written (jsonl, csv, compare) or None."""

    def __init__(self, rows, ran, resumed, seconds, paths, executor):
        self.rows = rows
        self.ran = ran
        self.resumed = resumed
        self.seconds = seconds
        self.paths = paths
        self.executor = executor
        self.failed = [r for r in rows if r.get("error")]
        self.comparisons = compare(rows)

    @property
    def ok(self):
        return not self.failed

    @property
    def cells_per_minute(self):
        return len(self.ran) / self.seconds * 60 if self.seconds > 0 else float("inf")

    def table(self):
        """The rows as columns: {column: [value per cell]}."""
        return {c: [r.get(c) for r in self.rows] for c in COLUMNS}

    def summary(self):
        """The text `pymemcg sweep` prints: counts, throughput, then the policy comparisons."""
        where = f" -> {self.paths[0]}, {self.paths[1]}" if self.paths else ""
        head = (f"sweep: {len(self.rows)} cells: {len(self.ran)} run, {len(self.resumed)} resumed, "
                f"{len(self.failed)} failed on {self.executor}{where}")
        if self.ran:
            head += f"\n  {self.seconds:.1f} s, {self.cells_per_minute:.1f} cells/min"
        body = summarize(self.comparisons, self.rows)
        return head + ("\n" + body if body else "")

    def failures(self):
        """One line per failed cell: id, its settings that matter, the error."""
        return [f"{r['cell']} trace={r['trace']} kernel={r['kernel']} hook={r['hook']} seed={r['seed']} "
                f"cpus={r['cpus']}: {r['error']}" for r in self.failed]
