"""An exploration's result: the figures of item 4 of the issue (schedules explored, pruned,
distinct final states, each outcome with the schedules reaching it) and a verified reproducer
for each bad outcome."""
from ..replay import Schedule
from .outcome import label
from .reproducer import Reproducer
from .run import Runner


class Exploration:
    """What exploring one scenario under one kernel and strategy found.

    schedules: schedules run to their end; pruned: runs cut at a state already explored;
    distinct_states: distinct final states (by state hash); outcomes: {outcome: schedules
    reaching it} (the empty outcome () is "clean"); bad: the same without the clean outcome;
    reproducers: {bad outcome: Reproducer}, each checked to replay to the same state bit for
    bit (``verified``); seconds and schedules_per_s (every run, pruned ones included)."""

    def __init__(self, scenario, built, settings, bound, prune, split, max_steps, tally, seconds, subtrees):
        self.scenario = scenario.name
        self.kernel = settings["kernel"]
        self.hook = settings["hook"]
        self.preemptions = bound
        self.prune = prune
        self.split = split
        self.max_steps = max_steps
        self.subtrees = subtrees
        self.schedules = tally.schedules
        self.pruned = tally.pruned
        self.distinct_states = len(tally.finals)
        self.steps = tally.steps
        self.seconds = seconds
        self.schedules_per_s = (tally.schedules + tally.pruned) / seconds if seconds > 0 else float("inf")
        self.outcomes = {o: count for o, (count, _) in sorted(tally.outcomes.items(), key=lambda kv: label(kv[0]))}
        self.bad = {o: n for o, n in self.outcomes.items() if o}
        runner = Runner(settings, built.trace, scenario.cpus, max_steps)
        self.reproducers = {}
        for outcome in self.bad:
            preemptions, steps, prefix = tally.outcomes[outcome][1]
            run = runner.run(prefix, log=True)
            rep = Reproducer(scenario.name, settings, scenario.cpus, built.trace, Schedule(prefix, max_steps),
                             outcome, preemptions, steps, run.final_hash, built.labels, built.first_program,
                             run.steps, run.choices)
            if run.outcome != outcome or run.final_hash is None:
                raise AssertionError(f"schedule {prefix} ran to {run.outcome}, not {outcome}: the explicit "
                                     f"scheduler is not deterministic")
            rep.verified = rep.verify()
            self.reproducers[outcome] = rep

    def __repr__(self):
        return (f"<Exploration {self.scenario} {self.kernel} {self.hook} K={self.bound_text}: {self.schedules} "
                f"schedules, {self.pruned} pruned, {self.distinct_states} final states, "
                f"{len(self.bad)} bad outcome(s)>")

    @property
    def bound_text(self):
        return "unbounded" if self.preemptions is None else str(self.preemptions)

    def summary(self):
        """The JSON-ready dict `pymemcg explore --json` prints for this combination."""
        return {"scenario": self.scenario, "kernel": self.kernel, "hook": self.hook, "preemptions": self.preemptions,
                "prune": self.prune, "split": self.split, "subtrees": self.subtrees, "max_steps": self.max_steps,
                "schedules": self.schedules, "pruned": self.pruned, "distinct_states": self.distinct_states,
                "steps": self.steps, "seconds": self.seconds, "schedules_per_s": self.schedules_per_s,
                "outcomes": {label(o): n for o, n in self.outcomes.items()},
                "bad": [{"outcome": label(o), "schedules": n, "verified": self.reproducers[o].verified,
                         "reproducer": self.reproducers[o].to_dict(), "table": self.reproducers[o].table()}
                        for o, n in self.bad.items()]}

    def report(self):
        """The lines `pymemcg explore` prints for this combination."""
        lines = [f"{self.scenario}: kernel {self.kernel}, hook {self.hook}, preemptions {self.bound_text}: "
                 f"{self.schedules:,} schedules explored, {self.pruned:,} pruned, {self.distinct_states:,} distinct "
                 f"final states ({self.seconds:.2f} s, {self.schedules_per_s:,.0f} schedules/s)"]
        if not self.bad:
            lines.append("  no bad outcome in any schedule")
        for o, n in self.bad.items():
            rep = self.reproducers[o]
            lines.append(f"  {label(o)}: {n:,} schedule(s); shortest: {rep.preemptions} preemption(s), {rep.steps} "
                         f"steps, schedule {list(rep.schedule.choices)} "
                         f"({'replays bit for bit' if rep.verified else 'DOES NOT REPLAY to the same state'})")
            lines += ["    " + line for line in rep.table().splitlines()]
        return lines
