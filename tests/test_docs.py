"""The docs cannot rot: every python block of docs/race.md runs, and what it prints is
exactly the output the page shows (its ```text block under "## Output")."""
import contextlib
import io
import pathlib
import re

import pytest

DOC = pathlib.Path(__file__).resolve().parent.parent / "docs" / "race.md"
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)


def blocks(text, lang):
    return [body for kind, body in FENCE.findall(text) if kind == lang]


def documented_output(text):
    section = text.split("\n## Output\n", 1)
    assert len(section) == 2, "docs/race.md has no '## Output' section"
    out = blocks(section[1], "text")
    assert out, "the Output section has no ```text block"
    return out[0]


def run(code):
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        exec(compile(code, str(DOC), "exec"), {"__name__": "__main__"})
    return buf.getvalue()


def test_race_md_has_a_script():
    code = blocks(DOC.read_text(), "python")
    assert len(code) == 1
    compile(code[0], str(DOC), "exec")


def test_race_md_script_prints_the_documented_output():
    text = DOC.read_text()
    printed = run("\n".join(blocks(text, "python")))
    want = documented_output(text)
    assert [line.rstrip() for line in printed.strip("\n").splitlines()] == \
           [line.rstrip() for line in want.strip("\n").splitlines()]


@pytest.mark.parametrize("row", ["3-4 A", "5   B", "6   B", "7   A", "8   B"])
def test_race_md_shows_every_row(row):
    out = documented_output(DOC.read_text())
    assert out.count(f"\n{row}") == 2, f"row {row!r} should appear for hook none and hook seed"


@pytest.mark.parametrize("name", ["exit-vs-reclaim-laptop", "readahead-vs-zap", "munmap-vs-kswapd"])
def test_the_results_table_of_explore_md_is_current(name):
    """docs/explore.md's table (from `pymemcg explore`) gives what the exploration gives now:
    schedules, pruned, distinct states and the schedules reaching each bad outcome."""
    from pymemcg import explore, strategies
    doc = (DOC.parent / "explore.md").read_text()
    rows = [[c.strip() for c in line.strip("|").split("|")] for line in doc.splitlines()
            if line.startswith(f"| {name} |")]
    assert len(rows) == 2 * len(strategies.names())
    for row in rows:
        kernel, hook, schedules, pruned, states, bad = row[1:7]
        ex = explore.explore(name, kernel, hook, 2, executor="inline")
        assert (f"{ex.schedules:,}", f"{ex.pruned:,}", f"{ex.distinct_states:,}") == (schedules, pruned, states)
        documented = [int(n.replace(",", "")) for n in re.findall(r"\(([\d,]+)\)", bad)]
        assert sorted(documented) == sorted(ex.bad.values()), (row, ex.bad)
