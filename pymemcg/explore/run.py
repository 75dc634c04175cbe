"""One schedule of a scenario, run to its end on a fresh engine (the explicit scheduler of
csrc/explicit.c), and what it ended in.  The calls are those of Engine.replay with a
Schedule, without the time series and the trace bookkeeping an exploration does not read,
so a schedule ends in the same state either way (tests/test_explore.py checks it)."""
from collections import namedtuple

import numpy as np

from .._ffi import ffi, lib
from ..engine import Engine
from ..replay import Schedule, _check, _events_ptr, explicit_records, set_schedule
from .outcome import classify

Run = namedtuple("Run", "prefix stop choices steps nsteps final_hash outcome preemptions pruned_at")
Run.__doc__ = """A schedule's run: the prefix it was given, why it stopped (enum pmc_stop), its
choice points (CHOICE_DTYPE array) and logged steps (STEP_DTYPE, when asked), the steps it took,
the engine's state_hash() at the end and the outcome (None when pruned), the preemptions it made,
and the choice point it was pruned at (-1)."""


class Runner:
    """Runs schedules of one trace under one set of Engine settings."""

    def __init__(self, settings, trace, cpus, max_steps):
        self.settings = dict(settings)
        self.trace = np.require(trace, requirements=["C", "A"])
        self.cpus = cpus
        self.max_steps = max_steps

    def run(self, prefix, seen=None, log=False):
        """Run the schedule that makes the choices `prefix` and the default after them;
        `seen` (a pmc_seen) prunes at states already explored, `log` keeps every step."""
        eng = Engine(**self.settings)
        p = eng._ptr
        ev = _events_ptr(self.trace)
        n = len(self.trace)
        _check(eng, lib.pmc_replay_begin(p, self.cpus, lib.PMC_SCHED_EXPLICIT, 0))
        try:
            set_schedule(eng, Schedule(prefix, self.max_steps), seen, log)
            _check(eng, lib.pmc_replay_validate(p, ev, n, 0))
            rc = lib.pmc_replay_run(p, ev, 0, n, 1, 0, ffi.NULL, ffi.NULL, 0, 1)
            if rc >= 0:
                rc = lib.pmc_replay_finish(p)
            if rc < 0 and rc != lib.PMC_ESTOP:
                _check(eng, rc)
            info, choices, steps = explicit_records(eng)
            st = ffi.new("struct pmc_replay_stats *")
            lib.pmc_replay_stats(p, st)
        finally:
            lib.pmc_replay_end(p)
        stop = info["stop"]
        pruned = stop == lib.PMC_STOP_PRUNED
        run = Run(tuple(prefix), stop, choices, steps if log else None, int(st.steps),
                  None if pruned else eng.state_hash(), None if pruned else classify(eng, stop),
                  info["preemptions"], info["pruned_at"])
        eng._drop_handles()
        return run
