"""Task: a process with its own mm (README.md, "A short tour")."""
from ._ffi import check, ffi, lib
from ._vpns import as_batch
from .sizes import PAGE_SIZE


class Task:
    """A simulated process. Created by Engine.spawn or Task.fork, never directly."""

    __slots__ = ("_eng", "pid")

    def __init__(self, eng, pid):
        self._eng = eng
        self.pid = pid

    def __repr__(self):
        state = "alive" if self.alive else ("oom-killed" if self.oom_killed else "dead")
        return f"<Task pid={self.pid} {state}>"

    def _info(self):
        info = ffi.new("struct pmc_task_info *")
        check(lib.pmc_task_info(self._eng._ptr, self.pid, info), self._eng._ptr)
        return info

    def _batch(self, fn, vpns, *args):
        ptr, n, start, keep = as_batch(vpns)
        rc = fn(self._eng._ptr, self.pid, ptr, n, start, *args)
        del keep
        rc = check(rc, self._eng._ptr)
        self._eng._after_operation()
        return rc

    def fault(self, vpns, write=True):
        """Touch pages: first touch allocates and charges, a write to a COW page copies it.
        Returns the pages touched (fewer if the memcg OOM killer killed this task)."""
        return self._batch(lib.pmc_fault, vpns, 1 if write else 0)

    def mlock(self, vpns):
        """mlock(2): lock the range, fault every page in for writing, make it unevictable."""
        return self._batch(lib.pmc_mlock, vpns)

    def zap(self, vpns, flush=False):
        """Unmap ptes (page_remove_rmap, uncharge), parking page references in the
        task's mmu_gather until tlb_flush() unless flush is true. Returns ptes zapped."""
        return self._batch(lib.pmc_zap, vpns, 1 if flush else 0)

    def munmap(self, vpns):
        """munmap(2): zap and flush."""
        return self.zap(vpns, flush=True)

    def tlb_flush(self):
        """Release the page references parked in the mmu_gather; returns how many."""
        nr = check(lib.pmc_tlb_flush(self._eng._ptr, self.pid), self._eng._ptr)
        self._eng._after_operation()
        return nr

    def exit(self):
        """Exit: zap everything in gathers of 506 pages, flushing each."""
        check(lib.pmc_exit(self._eng._ptr, self.pid), self._eng._ptr)
        self._eng._after_operation()

    def fork(self):
        """fork(2): a child sharing every anon page copy-on-write."""
        child = self._eng._task(check(lib.pmc_fork(self._eng._ptr, self.pid), self._eng._ptr))
        self._eng._after_operation()
        return child

    def move(self, cgroup):
        """Attach to another cgroup; charges already made stay behind (2.6.30)."""
        cg = self._eng._cgroup_arg(cgroup)
        check(lib.pmc_move(self._eng._ptr, self.pid, cg._id), self._eng._ptr)
        self._eng._after_operation()

    def pte(self, vpn):
        """The raw pte of one vpn (see pymemcg.PTE_* bits); 0 if none."""
        return check(lib.pmc_pte_lookup(self._eng._ptr, self.pid, int(vpn)), self._eng._ptr)

    @property
    def alive(self):
        return bool(self._info().alive)

    @property
    def oom_killed(self):
        return bool(self._info().oom_killed)

    @property
    def oom_event(self):
        """How many events the replay had dispatched (started, in the scheduler's order; a
        mkdir's name events not counted) when the OOM killer chose this task; None if it was
        not killed during a replay."""
        n = self._info().oom_event
        return None if n < 0 else n

    @property
    def events_skipped(self):
        """Replay events of this task skipped because it had died (OOM-killed)."""
        return self._info().events_skipped

    @property
    def rss(self):
        """Resident pages: present ptes, in pages (``rss_bytes`` in bytes)."""
        return self._info().rss

    @property
    def rss_bytes(self):
        """Resident memory in bytes (``rss`` pages times PAGE_SIZE)."""
        return self._info().rss * PAGE_SIZE

    @property
    def swap_ptes(self):
        """Swap entries held by its ptes, in pages."""
        return self._info().swap_ptes

    @property
    def gather_pending(self):
        """Page references parked in the mmu_gather."""
        return self._info().gather_nr

    @property
    def cgroup(self):
        return self._eng._cg_by_id[self._info().memcg]
