"""A reproducer: the shortest schedule (fewest preemptions, then fewest steps) that reaches a bad
outcome, as an artefact anyone can replay (the Engine settings, the trace and the explicit
schedule: ``Engine(**settings).replay(trace, cpus, sched=schedule)``), and its steps printed as a
table with one column per CPU, like the race tables of the 2009 changelogs."""
import io
import json

from .._ffi import ffi, lib
from ..engine import Engine
from ..errors import StateError
from ..replay import Schedule
from ..trace import as_trace, to_csv_text
from ..trace import _read_csv
from .outcome import classify, from_label, label

FORMAT = "pymemcg-reproducer"
_WHERE = {lib.PMC_M_FAULT: "fault", lib.PMC_M_ZAP: "zap", lib.PMC_M_HREC: "hierarchical_reclaim",
          lib.PMC_M_RECLAIM: "reclaim", lib.PMC_M_SHRINK: "shrink_page_list"}
_BOOKKEEPING = (lib.PMC_M_HREC, lib.PMC_M_RECLAIM)   # the drivers' loops: runs of them print as one row


def phase_name(machine, phase):
    name = lib.pmc_phase_name(int(machine), int(phase))
    return ffi.string(name).decode() if name != ffi.NULL else f"phase {phase}"


def actor_name(actor, cpus):
    return "kswapd" if actor == cpus else f"CPU{actor}"


def _cell(s):
    """What one step does, in words: the innermost machine, its stop point, the page."""
    where, phase = int(s["machine"]), phase_name(s["machine"], s["phase"])
    text = {lib.PMC_M_ZAP: phase, lib.PMC_M_FAULT: f"fault {phase}"}.get(where, f"{_WHERE.get(where, '?')} {phase}")
    if s["pfn"] >= 0:
        text += f" pfn {s['pfn']}"
    elif s["vpn"] >= 0:
        text += f" vpn {s['vpn']}"
    if s["status"] == 2:
        text += " (blocked)"
    return text


def table(steps, choices, labels, cpus, first_program):
    """The steps of the programs (from the first step of an operation at or past first_program)
    as rows of a table with one column per actor that ran: an operation's first row names it,
    a step taken by preempting another actor is marked '*', and a run of one actor's steps in
    the reclaim drivers' bookkeeping (priority loop, victim selection) is one row."""
    start = next((i for i, s in enumerate(steps) if s["event"] >= first_program), len(steps))
    shown = steps[start:]
    actors = sorted({int(s["actor"]) for s in shown})
    col = {a: i for i, a in enumerate(actors)}
    rows, last_event = [], {}
    i = 0
    while i < len(shown):
        s = shown[i]
        a, ev = int(s["actor"]), int(s["event"])
        if last_event.get(a) != ev:
            last_event[a] = ev
            name = "kswapd" if a == cpus else labels.get(ev, f"event {ev}")
            rows.append((col[a], f"[{name}]", ""))
        mark = "*" if s["choice"] >= 0 and choices[int(s["choice"])]["preempted"] else ""
        j = i + 1
        if s["machine"] in _BOOKKEEPING:
            while (j < len(shown) and shown[j]["actor"] == a and shown[j]["machine"] in _BOOKKEEPING
                   and int(shown[j]["event"]) == ev and not (shown[j]["choice"] >= 0 and
                                                             choices[int(shown[j]["choice"])]["preempted"])):
                j += 1
        text = _cell(s) if j == i + 1 else f"{_WHERE[int(s['machine'])]} loop, {j - i} steps"
        rows.append((col[a], text, mark))
        i = j
    width = max([len(t) + 2 for _, t, _ in rows] + [22])
    head = " | ".join(actor_name(a, cpus).ljust(width) for a in actors).rstrip()
    lines = [head, "-+-".join("-" * width for _ in actors)]
    for c, text, mark in rows:
        cells = [" " * width] * len(actors)
        cells[c] = (mark.ljust(2) + text).ljust(width)
        lines.append(" | ".join(cells).rstrip())
    return "\n".join(lines)


class Reproducer:
    """A bad outcome and the shortest schedule found to reach it: settings (Engine arguments),
    cpus, trace and schedule replay it; outcome, preemptions, steps and state_hash (the
    engine's state_hash() at the end) say what it must give; steps_log (the step records)
    and labels (operation names by trace event) print it."""

    def __init__(self, scenario, settings, cpus, trace, schedule, outcome, preemptions, steps, state_hash,
                 labels, first_program, steps_log=None, choices=None):
        self.scenario = scenario
        self.settings = dict(settings)
        self.cpus = cpus
        self.trace = as_trace(trace)
        self.schedule = schedule
        self.outcome = outcome
        self.preemptions = preemptions
        self.steps = steps
        self.state_hash = state_hash
        self.labels = labels
        self.first_program = first_program
        self.steps_log = steps_log
        self.choices = choices

    def __repr__(self):
        return (f"<Reproducer {self.scenario} {self.settings['kernel']} {self.settings['hook']}: {label(self.outcome)} "
                f"in {self.steps} steps, {self.preemptions} preemption(s)>")

    def replay(self):
        """Replay the artefact on a fresh engine; returns (engine, outcome, result), the result
        None when the schedule did not finish (its outcome says how; that engine is left in the
        middle of its operations, where check() does not hold)."""
        eng = Engine(**self.settings)
        try:
            res = eng.replay(self.trace, self.cpus, sched=self.schedule, sample_every=0, progress=False)
        except StateError as e:
            if getattr(e, "stop", 0) == 0:
                raise
            return eng, classify(eng, e.stop), None
        self.steps_log, self.choices = res.steps, res.choices
        return eng, classify(eng), res

    def verify(self):
        """Whether replaying the artefact reaches the same outcome and the same state, bit for
        bit (the engine's state hash at the end)."""
        eng, outcome, _ = self.replay()
        same = outcome == self.outcome and eng.state_hash() == self.state_hash
        eng._drop_handles()
        return same

    def table(self):
        """The reproducer's steps as the changelog's table: one column per CPU (and kswapd)."""
        if self.steps_log is None:
            self.replay()
        return table(self.steps_log, self.choices, self.labels, self.cpus, self.first_program)

    def to_dict(self):
        return {"format": FORMAT, "version": 1, "scenario": self.scenario, "settings": self.settings,
                "cpus": self.cpus, "schedule": self.schedule.to_dict(), "outcome": label(self.outcome),
                "preemptions": self.preemptions, "steps": self.steps, "state_hash": f"{self.state_hash:#018x}",
                "first_program": self.first_program, "labels": {str(k): v for k, v in self.labels.items()},
                "trace_csv": to_csv_text(self.trace)}

    def save(self, path):
        with open(path, "w") as f:
            json.dump(self.to_dict(), f, indent=1)

    @classmethod
    def load(cls, path):
        try:
            with open(path) as f:
                d = json.load(f)
            if d.get("format") != FORMAT:
                raise ValueError("not a pymemcg reproducer")
            return cls(d["scenario"], d["settings"], d["cpus"], _read_csv(io.StringIO(d["trace_csv"]), path),
                       Schedule.from_dict(d["schedule"]), from_label(d["outcome"]), d["preemptions"], d["steps"],
                       int(d["state_hash"], 16), {int(k): v for k, v in d["labels"].items()}, d["first_program"])
        except (OSError, KeyError, TypeError, json.JSONDecodeError) as e:
            raise ValueError(f"{path}: not a pymemcg reproducer ({e})") from None
