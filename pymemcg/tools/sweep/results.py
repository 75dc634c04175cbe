"""The results files: the JSONL and CSV tables, rewritten atomically, and the comparison CSV."""
import contextlib
import csv
import json
import os
from collections import OrderedDict

from .table import COLUMNS, SETTING_COLUMNS
from .compare import DELTA_FIELDS


@contextlib.contextmanager
def write_atomically(path, mode="w"):
    """Write a file under a temporary name and rename it into place once written, so that a
    reader (or a crash) never sees half of it."""
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, mode, **({} if "b" in mode else {"newline": ""})) as f:
        yield f
    os.replace(tmp, path)


def result_paths(results):
    """(jsonl, csv, compare csv) for a results name: x.jsonl, x.csv or x (no extension)."""
    p = os.fspath(results)
    for ext in (".jsonl", ".csv"):
        if p.endswith(ext):
            p = p[:-len(ext)]
            break
    return p + ".jsonl", p + ".csv", p + ".compare.csv"


def load_results(path):
    """The rows of a results file (.jsonl; a .csv name reads its .jsonl twin), the last row of
    each cell winning.  A line cut short by an interruption is skipped."""
    jsonl = result_paths(path)[0]
    rows = OrderedDict()
    if not os.path.exists(jsonl):
        return []
    with open(jsonl) as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(row, dict) and isinstance(row.get("cell"), str):
                rows.pop(row["cell"], None)
                rows[row["cell"]] = row
    return list(rows.values())


class _Writer:
    """Appends rows to the JSON-lines and CSV files as cells finish; rewrite() compacts both."""

    def __init__(self, results):
        self.jsonl, self.csv, self.compare = result_paths(results)
        d = os.path.dirname(os.path.abspath(self.jsonl))
        os.makedirs(d, exist_ok=True)
        self._j = self._c = None

    def rewrite(self, rows):
        self.close()
        for path, write in ((self.jsonl, self._write_jsonl), (self.csv, self._write_csv)):
            with write_atomically(path) as f:
                write(f, rows)

    @staticmethod
    def _write_jsonl(f, rows):
        for row in rows:
            f.write(json.dumps(row) + "\n")

    @staticmethod
    def _write_csv(f, rows):
        w = csv.DictWriter(f, COLUMNS, extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)

    def open(self):
        self._j = open(self.jsonl, "a")
        self._c = open(self.csv, "a", newline="")
        self._cw = csv.DictWriter(self._c, COLUMNS, extrasaction="ignore")

    def append(self, row):
        self._j.write(json.dumps(row) + "\n")
        self._j.flush()
        self._cw.writerow(row)
        self._c.flush()

    def close(self):
        for f in (self._j, self._c):
            if f is not None:
                f.close()
        self._j = self._c = None


def _write_compare(path, comparisons):
    cols = ["dimension", "base", "value", "trace"] + [k for k in SETTING_COLUMNS] + ["base_cell", "cell"] + \
           [f"d.{f}" for f in DELTA_FIELDS] + ["seconds_ratio"]
    with write_atomically(path) as f:
        w = csv.DictWriter(f, cols, extrasaction="ignore")
        w.writeheader()
        w.writerows(comparisons)
