"""The exceptions of the public API (docs/architecture.md, "Layers")."""
import errno as _errno


class Error(Exception):
    """Base class of every pymemcg error."""


class CgroupError(Error, OSError):
    """The kernel refused a cgroup write or action; ``errno`` is the kernel's."""

    def __init__(self, err, message):
        OSError.__init__(self, err, message)


class TaskDead(Error):
    """A call on a task that has exited or was OOM-killed."""


class InvariantError(Error):
    """eng.check() found a broken invariant; ``invariant`` names it (I1, I4, refcount, ...)."""

    def __init__(self, message):
        super().__init__(message)
        self.invariant = message.split(":", 1)[0]


class TraceError(Error):
    """A malformed trace file or event."""


class StateError(Error):
    """A step-API call out of sequence (for example shrinking a batch twice)."""


class StrategyError(Error):
    """A reclaim strategy that cannot be compiled, loaded or registered (a compile error
    carries the compiler's message), or a table the engine refuses."""


class OutOfMemory(Error, MemoryError):
    """No page frame is free and the engine has no way to free one."""


ERRNO = _errno
