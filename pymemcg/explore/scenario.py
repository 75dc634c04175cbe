"""Scenarios: a small machine, a setup run one operation at a time, then one short program
per CPU whose operations the exploration interleaves (docs/explore.md, "Writing a scenario").

    sc = Scenario("exit-vs-reclaim", cpus=2, ram="1M", swap="1M", laptop_mode=True)
    sc.setup.mkdir("x")
    a = sc.setup.spawn("x", cpu=0, task="a")
    sc.setup.fault(a, 0, 2)
    sc.cpu(0).exit(a)
    sc.cpu(1).reclaim("x", 32)

or the same in a TOML file (``Scenario.load(path)``, ``Scenario.to_toml()``).  Operations are
those of the trace format, with trace.Builder's names and arguments; tasks are named.  The
scenario compiles to one trace (``build()``): the setup with a barrier after each operation
that occupies a CPU (so the setup never interleaves with itself), a barrier, then the programs,
their k-th operations in CPU order for k = 0, 1, ...  A barrier is a write of 0 to the root's
memory.failcnt on every CPU in turn: a control write waits until its CPU is idle and holds back
everything after it, and this one changes nothing (the root has no limit to fail against).
"""
import json
import os
from collections import namedtuple

from ..errors import TraceError
from ..trace import OP, WRITE_FILE, Builder, empty

MACHINE_KEYS = ("ram", "swap", "swap_account", "page_cluster", "laptop_mode")
MACHINE_DEFAULTS = {"ram": "1M", "swap": "1M", "swap_account": True, "page_cluster": 3, "laptop_mode": False}
MAX_CPUS = 8                         # each CPU is an actor at every choice point: keep explorations small

# op -> (required arguments, optional arguments with defaults); the Builder's names
OPS = {
    "mkdir": (("path",), {"limit": None, "memsw_limit": None}),
    "rmdir": (("path",), {}),
    "write": (("cgroup", "file", "value"), {}),
    "spawn": (("cgroup",), {"task": None, "cpu": None}),
    "fault": (("task", "vpn"), {"count": 1, "write": True}),
    "mlock": (("task", "vpn"), {"count": 1}),
    "munmap": (("task", "vpn"), {"count": 1}),
    "zap": (("task", "vpn"), {"count": 1}),
    "fork": (("task",), {"child": None, "cpu": None}),
    "exit": (("task",), {}),
    "move": (("task", "cgroup"), {}),
    "reclaim": ((), {"cgroup": None, "nr": 32, "cpu": None}),
}
BUSY_OPS = ("fault", "mlock", "munmap", "zap", "exit", "reclaim")     # keep a CPU busy for several steps
_BARRIER_FILE = WRITE_FILE["memory.failcnt"]

Built = namedtuple("Built", "trace labels first_program")
Built.__doc__ = """A compiled scenario: the trace, a label per event that starts an operation
("exit a", "reclaim /x"), and the index of the first event of the programs."""


class _Recorder:
    """Records operations into an op list with trace.Builder's method names; a call whose
    operation the scenario cannot compile raises TraceError and records nothing."""

    def __init__(self, scenario, ops, cpu):
        self._sc = scenario
        self._ops = ops
        self._cpu = cpu

    def _add(self, op, **args):
        if self._cpu is not None and op in ("mkdir", "rmdir"):
            raise TraceError(f"{op} belongs in the setup, not in a CPU's program")
        self._ops.append(normalize_op(dict(op=op, **args), self._sc._named))
        try:
            self._sc.build()
        except (TraceError, ValueError, TypeError):
            self._ops.pop()
            raise
        return self._ops[-1]

    def mkdir(self, path, limit=None, memsw_limit=None):
        self._add("mkdir", path=path, limit=limit, memsw_limit=memsw_limit)
        return path

    def rmdir(self, path):
        self._add("rmdir", path=path)

    def write(self, cgroup, file, value):
        self._add("write", cgroup=cgroup, file=file, value=value)

    def spawn(self, cgroup="", cpu=None, task=None):
        """A task in cgroup, bound to cpu (in a program: that program's CPU); returns its name."""
        return self._add("spawn", cgroup=cgroup, cpu=cpu, task=task)["task"]

    def fault(self, task, vpn, count=1, write=True):
        self._add("fault", task=task, vpn=vpn, count=count, write=write)

    def mlock(self, task, vpn, count=1):
        self._add("mlock", task=task, vpn=vpn, count=count)

    def munmap(self, task, vpn, count=1):
        self._add("munmap", task=task, vpn=vpn, count=count)

    def zap(self, task, vpn, count=1):
        """munmap without the flush: the references stay parked until the task's next munmap or exit."""
        self._add("zap", task=task, vpn=vpn, count=count)

    def fork(self, task, cpu=None, child=None):
        """The child shares every page copy-on-write; bound to cpu (default: the parent's)."""
        return self._add("fork", task=task, cpu=cpu, child=child)["child"]

    def exit(self, task):
        self._add("exit", task=task)

    def move(self, task, cgroup):
        self._add("move", task=task, cgroup=cgroup)

    def reclaim(self, cgroup=None, nr=32, cpu=None):
        """Memcg limit reclaim of cgroup's subtree, or global direct reclaim when cgroup is None."""
        self._add("reclaim", cgroup=cgroup, nr=nr, cpu=cpu)


def normalize_op(op, named):
    """An op dict with every argument present and checked for type; names new tasks
    (t0, t1, ... unless named) in `named` (a counter shared by the scenario)."""
    if not isinstance(op, dict) or "op" not in op:
        raise TraceError(f"an operation is a table with an 'op' key, not {op!r}")
    name = op["op"]
    if name not in OPS:
        raise TraceError(f"unknown operation {name!r}; one of {', '.join(OPS)}")
    required, optional = OPS[name]
    unknown = set(op) - {"op"} - set(required) - set(optional)
    if unknown:
        raise TraceError(f"{name}: unknown argument(s) {', '.join(sorted(unknown))}; it takes "
                         f"{', '.join(required + tuple(optional))}")
    missing = [k for k in required if op.get(k) is None]
    if missing:
        raise TraceError(f"{name}: missing {', '.join(missing)}")
    out = {"op": name, **optional, **{k: v for k, v in op.items() if k != "op"}}
    for k in ("task", "child"):
        if k in out and out[k] is not None and not isinstance(out[k], str):
            raise TraceError(f"{name}: {k} is a task name (a string), not {out[k]!r}")
    for k in ("vpn", "count", "nr", "cpu"):
        v = out.get(k)
        if v is not None and (isinstance(v, bool) or not isinstance(v, int)):
            raise TraceError(f"{name}: {k} must be an integer, got {v!r}")
    for k in ("path", "cgroup", "file"):
        v = out.get(k)
        if v is not None and not isinstance(v, str):
            raise TraceError(f"{name}: {k} must be a string, got {v!r}")
    if "write" in out and not isinstance(out["write"], bool):
        raise TraceError(f"{name}: write must be true or false, got {out['write']!r}")
    new = {"spawn": "task", "fork": "child"}.get(name)
    if new and out[new] is None:
        out[new] = f"t{named[0]}"
        named[0] += 1
    return out


def _barrier(b, cpus):
    """A control write that changes nothing, on every CPU in turn: everything before it ends first."""
    ev = empty(cpus)
    ev["op"] = OP["write"]
    ev["cpu"] = range(cpus)
    ev["flags"] = _BARRIER_FILE
    b.extend(ev)


def _label(op):
    name = op["op"]
    if name in ("fault", "mlock", "munmap", "zap"):
        rng = f"{op['vpn']}" if op["count"] == 1 else f"{op['vpn']}-{op['vpn'] + op['count'] - 1}"
        return f"{name}{' (read)' if name == 'fault' and not op['write'] else ''} {op['task']} {rng}"
    if name == "reclaim":
        return "reclaim " + ("(global)" if op["cgroup"] is None else "/" + op["cgroup"].strip("/"))
    return f"{name} {op.get('task') or op.get('path') or op.get('cgroup') or ''}".strip()


class Scenario:
    """A small machine and what its CPUs run (see the module docstring).  ``setup`` records the
    setup's operations, ``cpu(i)`` CPU i's program; ``build()`` compiles the trace."""

    def __init__(self, name, cpus=2, *, description="", **machine):
        if not isinstance(name, str) or not name:
            raise TypeError(f"a scenario's name is a non-empty string, not {name!r}")
        if isinstance(cpus, bool) or not isinstance(cpus, int) or not 1 <= cpus <= MAX_CPUS:
            raise ValueError(f"cpus must be an int in 1..{MAX_CPUS}, got {cpus!r}")
        unknown = set(machine) - set(MACHINE_KEYS)
        if unknown:
            raise ValueError(f"unknown machine setting(s) {sorted(unknown)}; one of {MACHINE_KEYS} "
                             f"(kernel and hook are chosen per exploration)")
        self.name = name
        self.cpus = cpus
        self.description = description
        self.machine = {**MACHINE_DEFAULTS, **machine}
        self._named = [0]
        self.setup_ops = []
        self.programs = [[] for _ in range(cpus)]
        self.setup = _Recorder(self, self.setup_ops, None)
        from ..engine import Engine
        Engine(**self.machine)                               # the settings are checked as the Engine checks them

    def cpu(self, i):
        """The recorder of CPU i's program."""
        if isinstance(i, bool) or not isinstance(i, int) or not 0 <= i < self.cpus:
            raise ValueError(f"cpu must be 0..{self.cpus - 1}, got {i!r}")
        return _Recorder(self, self.programs[i], i)

    def __repr__(self):
        return (f"<Scenario {self.name}: {self.cpus} CPUs, {len(self.setup_ops)} setup operations, programs of "
                f"{', '.join(str(len(p)) for p in self.programs)} operations>")

    def engine_settings(self, kernel="2.6.30", hook="none"):
        """The Engine arguments of this scenario under a kernel and a strategy."""
        return dict(self.machine, kernel=kernel, hook=hook)

    def build(self):
        """Compile the scenario into a trace (a Built: trace, labels, first_program)."""
        b = Builder()
        tasks, task_cpu, labels = {}, {}, {}

        def emit(op, cpu):
            name = op["op"]
            start = b.events_so_far()
            if name == "mkdir":
                b.mkdir(op["path"], op["limit"], op["memsw_limit"])
            elif name == "rmdir":
                b.rmdir(op["path"])
            elif name == "write":
                b.write(op["cgroup"], op["file"], op["value"])
            elif name in ("spawn", "fork"):
                new = op["task"] if name == "spawn" else op["child"]
                if new in tasks:
                    raise TraceError(f"{name}: task {new!r} already exists")
                at = op["cpu"] if op["cpu"] is not None else cpu
                if at is not None and not 0 <= at < self.cpus:
                    raise TraceError(f"{name} {new}: cpu {at} is not one of 0..{self.cpus - 1}")
                if name == "spawn":
                    tasks[new] = b.spawn(op["cgroup"], cpu=at or 0)
                else:
                    tasks[new] = b.fork(self._task(tasks, op["task"]), cpu=at)
                task_cpu[new] = b.cpu_of(tasks[new])
            elif name == "reclaim":
                at = op["cpu"] if op["cpu"] is not None else cpu or 0
                if cpu is not None and at != cpu:
                    raise TraceError(f"reclaim in CPU {cpu}'s program cannot run on cpu {at}")
                if not 0 <= at < self.cpus:
                    raise TraceError(f"reclaim: cpu {at} is not one of 0..{self.cpus - 1}")
                b.reclaim(op["cgroup"], op["nr"], cpu=at)
            else:
                t = self._task(tasks, op["task"])
                if cpu is not None and task_cpu[op["task"]] != cpu:
                    raise TraceError(f"{name} {op['task']}: task {op['task']} runs on cpu {task_cpu[op['task']]}, "
                                     f"not in CPU {cpu}'s program")
                if name == "exit":
                    b.exit(t)
                    del tasks[op["task"]]
                elif name == "move":
                    b.move(t, op["cgroup"])
                elif name == "fault":
                    b.fault(t, op["vpn"], op["count"], op["write"])
                else:
                    getattr(b, name)(t, op["vpn"], op["count"])
            labels[start] = _label(op)

        fenced = True
        for op in self.setup_ops:
            emit(op, None)
            fenced = op["op"] not in BUSY_OPS
            if not fenced:
                _barrier(b, self.cpus)
                fenced = True
        first = b.events_so_far()
        if self.setup_ops:
            _barrier(b, self.cpus)
            first += self.cpus
        for k in range(max(map(len, self.programs), default=0)):
            for cpu, prog in enumerate(self.programs):
                if k < len(prog):
                    emit(prog[k], cpu)
        trace = b.build()
        return Built(trace, labels, first)

    @staticmethod
    def _task(tasks, name):
        if name not in tasks:
            raise TraceError(f"no task {name!r} (spawn or fork it first; an exited task is gone)")
        return tasks[name]

    # -- TOML ------------------------------------------------------------------------------

    @classmethod
    def from_dict(cls, doc, source="<scenario>"):
        """A scenario from a parsed TOML document (see docs/explore.md for the format)."""
        if not isinstance(doc, dict):
            raise TraceError(f"{source}: a scenario is a table")
        unknown = set(doc) - {"name", "description", "cpus", "machine", "setup", "programs"}
        if unknown:
            raise TraceError(f"{source}: unknown key(s) {', '.join(sorted(unknown))}")
        programs = doc.get("programs", {})
        if not isinstance(programs, dict) or not programs:
            raise TraceError(f"{source}: [programs] must have cpu0 = [...], cpu1 = [...], ...")
        names = [f"cpu{i}" for i in range(len(programs))]
        if sorted(programs) != sorted(names):
            raise TraceError(f"{source}: [programs] keys must be {', '.join(names)}, got {', '.join(programs)}")
        cpus = doc.get("cpus", len(programs))
        if cpus != len(programs):
            raise TraceError(f"{source}: cpus = {cpus} but {len(programs)} program(s)")
        try:
            sc = cls(doc.get("name", os.path.splitext(os.path.basename(source))[0]), cpus,
                     description=doc.get("description", ""), **doc.get("machine", {}))
        except (TypeError, ValueError) as e:
            raise TraceError(f"{source}: {e}") from None
        try:
            for op in doc.get("setup", []):
                sc.setup_ops.append(normalize_op(op, sc._named))
            for i, name in enumerate(names):
                for op in programs[name]:
                    sc.programs[i].append(normalize_op(op, sc._named))
            sc.build()
        except TraceError as e:
            raise TraceError(f"{source}: {e}") from None
        return sc

    @classmethod
    def load(cls, path):
        """A scenario from a TOML file."""
        from ..sweep import _toml
        tomllib = _toml()
        try:
            with open(path, "rb") as f:
                doc = tomllib.load(f)
        except OSError as e:
            raise TraceError(f"{path}: {e.strerror}") from None
        except tomllib.TOMLDecodeError as e:
            raise TraceError(f"{path}: not TOML ({e})") from None
        return cls.from_dict(doc, str(path))

    def to_toml(self):
        """The scenario as a TOML document that Scenario.load reads back."""
        def value(v):
            if isinstance(v, bool):
                return "true" if v else "false"
            if isinstance(v, int):
                return str(v)
            return json.dumps(str(v))                        # a TOML basic string (JSON's escapes are TOML's)

        def table(op):
            return "{ " + ", ".join(f"{k} = {value(v)}" for k, v in op.items() if v is not None) + " }"

        lines = [f"name = {value(self.name)}"]
        if self.description:
            lines.append(f"description = {value(self.description)}")
        lines += [f"cpus = {self.cpus}", "setup = ["] + [f"  {table(op)}," for op in self.setup_ops] + ["]"]
        lines += ["", "[machine]"] + [f"{k} = {value(v)}" for k, v in self.machine.items()] + ["", "[programs]"]
        for i, prog in enumerate(self.programs):
            lines += [f"cpu{i} = ["] + [f"  {table(op)}," for op in prog] + ["]"]
        return "\n".join(lines) + "\n"
