"""Reference model of the pymemcg engine's synchronous API.

Source of truth: docs/semantics.md (the kernel's behaviour, its paragraphs cited below as Kn)
and docs/semantics.md (the engine's documented simplifications and deterministic choices,
cited as DS "section").  Nothing here is translated from csrc/.  Where KS is silent the model
follows the 2.6.30 source as K7 lists it; those places say so.

Scope (what the differential test drives; everything else raises ``Unmodeled`` *before*
touching state, so the harness can skip the call on both sides):

* memcg reclaim is modeled: a charge that fails runs mem_cgroup_hierarchical_reclaim ->
  try_to_free_mem_cgroup_pages -> do_try_to_free_pages / shrink_zone (priorities 12..0,
  get_scan_ratio, shrink_active_list, shrink_inactive_list in batches, congestion_wait) and,
  after MEM_CGROUP_RECLAIM_RETRIES fruitless rounds, the memcg OOM killer (K2.1, K2.14,
  DS "Reclaim"); eng.reclaim(cgroup, nr) runs one hierarchical reclaim; a limit write below
  the usage reclaims, then answers EBUSY (mem_cgroup_resize_limit, DS "Reclaim");
* eng.reclaim(None, nr), one global direct reclaim pass over the zone's lists (the same
  do_try_to_free_pages, with the zone's accumulated targets and get_scan_ratio's pages_high
  rule), is modeled;
* kswapd (balance_pgdat, run at the end of a fault or mlock call that leaves free memory below
  pages_low, DS "Reclaim"), direct reclaim when a fault finds no free frame, and the global
  OOM killer when that reclaim frees nothing (DS "Tasks") are modeled;
* a swap-in charge that ends in the memcg OOM killer is Unmodeled (the 2.6.30 do_swap_page
  error path is not described by KS); one that reclaims and then succeeds is modeled;
* a memcg OOM that finds no task to kill is Unmodeled;
* swap readahead is off (the engine runs with page_cluster=0), so every swap read is the
  faulting slot's own and completes inside the fault;
* the swap device is a FIFO (DS "Swap"): a swap read waits for every write queued before it;
* the swap device is never congested;
* simulated time (DS "Time") is kept only from the start of a reclaim driver to the end of
  that call (``start_clock``): then every tick the engine makes is mirrored (batch stop points,
  reclaim bookkeeping, congestion_wait, fault steps, exit's zap steps), and swap writes
  complete in the middle of reclaim passes exactly when the engine completes them.  The
  clock needs the device idle when it starts: a reclaim that would start while writes of
  earlier calls are in flight raises ``NeedQuiescentIO`` and the harness completes them
  first.  Outside such calls writes complete only in ``end_writeback`` (the harness keeps
  simulated time away from the first completion, see the test module);

A 2.6.31 scan_swap_map that would cycle for ever over a cache-only slot it cannot reclaim fails
(no slot) when it meets that slot the second time, as the engine documents (DS "Swap"); the
kernel spins with cond_resched until another CPU releases the page.

Representation follows DS "Machine": mapcount is the number of ptes, the page_cgroup bits live
in the flag word (PCG_USED, PCG_LINKED), the owner stays stale after uncharge, free frames are
a LIFO list (first allocations in pfn order), every LRU addition goes to the head, and lists
are scanned from the tail.
"""
import copy
import errno

PAGE_SIZE = 4096
RESOURCE_MAX = (1 << 63) - 1
SWAP_HAS_CACHE = 0x8000
SWAP_MAP_BAD = {"2.6.30": 0x8000, "2.6.31": 0x7fff}
SWAPFILE_CLUSTER = 256
FREE_PTE_NR = 506
MEM_CGROUP_RECLAIM_RETRIES = 5
SWAP_CLUSTER_MAX = 32
DEF_PRIORITY = 12

# Simulated time (DS "Time"; the engine's COST_* of csrc/engine.h and phase_cost of
# csrc/vmscan.c, in ns).  The model keeps a clock only while a reclaim driver runs and until
# the end of that call (see Model.start_clock).
WRITE_NS = 50_000                       # DS "Swap": one request, 50 us
CONGESTION_WAIT_NS = 100_000_000        # DS "Reclaim": congestion_wait, 100 ms
COST_FAULT_NS = 250
COST_ZAP_NS = 50
COST_RECLAIM_NS = 100
COST_PAGE_LRU_NS = 50
PHASE_COST = {"isolate": COST_PAGE_LRU_NS * SWAP_CLUSTER_MAX, "start": 500, "add_to_swap": 400, "unmap": 500,
              "pageout": 400, "remove": 200, "label": 100, "putback": COST_PAGE_LRU_NS * SWAP_CLUSTER_MAX}

LRU_INACTIVE_ANON, LRU_ACTIVE_ANON, LRU_INACTIVE_FILE, LRU_ACTIVE_FILE, LRU_UNEVICTABLE = range(5)
NR_LRU = 5
PHASES = ("isolate", "start", "add_to_swap", "unmap", "pageout", "remove", "label", "putback", "done")
OUTCOMES = ("pending", "kept", "activated", "culled", "freed")


# Known engine deviations from KS/DS that the model reproduces by default, so that the
# differential test keeps comparing everything else; each has an xfail(strict=True) scenario in
# tests/test_model_differential.py that runs the model without it.
class PG:
    """page->flags and the page_cgroup bits, as pymemcg.h numbers them (the API contract)."""
    locked = 1
    referenced = 2
    uptodate = 4
    dirty = 8
    lru = 16
    active = 32
    writeback = 64
    swapcache = 128
    reclaim = 256
    swapbacked = 512
    unevictable = 1024
    mlocked = 2048
    anon = 4096
    buddy = 8192
    USED = 65536
    LINKED = 131072
    CACHE = 262144


class PTE:
    PRESENT = 1
    WRITE = 2
    YOUNG = 4
    DIRTY = 8
    LOCKED = 16
    SWAP = 32
    SHIFT = 8


class Unmodeled(Exception):
    """The call would take a path the model does not cover; nothing was changed."""


class NeedQuiescentIO(Exception):
    """A reclaim driver would start while swap writes of unknown submission time are in
    flight: the harness completes them on both sides (end_writeback) and runs the call again."""


class ModelStateError(Exception):
    """The engine must refuse the call with pymemcg.StateError and change nothing
    (pymemcg.h: "A call that fails changes no simulated state")."""


class ModelTaskDead(Exception):
    """The engine must refuse the call with pymemcg.TaskDead."""


class ModelCgroupError(Exception):
    def __init__(self, err, msg=""):
        super().__init__(msg)
        self.errno = err


class _OOMSelf(Exception):
    """The faulting task was chosen by the memcg OOM killer."""


class _Retry(Exception):
    """The charge failed and the OOM killer killed another task: the fault is retried."""


class _OOM(Exception):
    """A charge failed for good; the memcg OOM killer has chosen ``victim`` (and already
    killed it unless it is the charging task)."""

    def __init__(self, over, victim):
        super().__init__(over.id)
        self.over = over
        self.victim = victim


# ------------------------------------------------------------------ state objects


class Page:
    __slots__ = ("pfn", "flags", "count", "mapcount", "private", "anon_vma", "vpn", "memcg", "zlru", "mlru")

    def __init__(self, pfn):
        self.pfn = pfn
        self.flags = PG.buddy
        self.count = 0
        self.mapcount = 0
        self.private = 0
        self.anon_vma = 0
        self.vpn = 0
        self.memcg = 0          # pc->mem_cgroup, stale after uncharge
        self.zlru = None        # zone LRU list the page is on (PG_lru)
        self.mlru = None        # memcg LRU list pc->lru is linked on (PCG_LINKED), owner's

    def has(self, f):
        return bool(self.flags & f)

    def set(self, f):
        self.flags |= f

    def clear(self, f):
        self.flags &= ~f


class Counter:
    """A res_counter (K1.3)."""
    __slots__ = ("usage", "max_usage", "limit", "failcnt", "parent")

    def __init__(self, parent):
        self.usage = 0
        self.max_usage = 0
        self.limit = RESOURCE_MAX
        self.failcnt = 0
        self.parent = parent    # id of the memcg whose counter is the parent (hierarchy), or 0

    def copy(self):
        c = Counter(self.parent)
        c.usage, c.max_usage, c.limit, c.failcnt = self.usage, self.max_usage, self.limit, self.failcnt
        return c


class ReclaimStat:
    """recent_scanned[0] / recent_rotated[0] (anon; the file half stays 0: no page cache).
    K2.14 names them for get_scan_ratio; where they move is the engine's choice (DS leaves it
    open): isolation for shrink_inactive_list adds the pages taken to scanned; putback adds the
    pages that come back active to rotated; shrink_active_list adds the pages taken to scanned
    and the referenced ones to rotated; activate_page adds one to both (the zone's, and the
    memcg's of a charged page); and, as 2.6.30's ____pagevec_lru_add (update_page_reclaim_stat)
    does, every lru_cache_add of a page to an evictable list adds one to scanned, and to rotated
    when the list is active: new anon pages, readahead pages, putback_lru_page."""
    __slots__ = ("scanned", "rotated")

    def __init__(self):
        self.scanned = 0
        self.rotated = 0

    def copy(self):
        r = ReclaimStat()
        r.scanned, r.rotated = self.scanned, self.rotated
        return r


class Memcg:
    def __init__(self, mid, parent):
        self.id = mid
        self.parent = parent.id if parent else 0
        self.use_hierarchy = parent.use_hierarchy if parent else 0
        hier = parent is not None and parent.use_hierarchy
        self.res = Counter(parent.id if hier else 0)
        self.memsw = Counter(parent.id if hier else 0)
        self.swappiness = 60 if parent is None else parent.swappiness
        self.children = []                      # ids
        self.rss = 0
        self.cache = 0
        self.pgpgin = 0
        self.pgpgout = 0
        self.lru = [[] for _ in range(NR_LRU)]  # index 0 = head
        self.refcnt = 0                         # swap_cgroup records naming it
        self.rstat = ReclaimStat()              # reclaim_stat of the memcg (anon half)
        self.last_scanned_child = 0             # mem_cgroup_select_victim's round robin

    def copy(self):
        m = copy.copy(self)
        m.res = self.res.copy()
        m.memsw = self.memsw.copy()
        m.children = list(self.children)
        m.lru = [list(x) for x in self.lru]
        m.rstat = self.rstat.copy()
        return m


class Task:
    def __init__(self, pid, memcg, family):
        self.pid = pid
        self.alive = True
        self.oom_killed = False
        self.memcg = memcg
        self.family = family
        self.ptes = {}                          # vpn -> pte word (pymemcg.h encoding)
        self.gather = []                        # parked page references (pfns), in order

    def copy(self):
        t = copy.copy(self)
        t.ptes = dict(self.ptes)
        t.gather = list(self.gather)
        return t


class Batch:
    def __init__(self, bid, memcg, pages, may_writepage):
        self.id = bid
        self.memcg = memcg                      # Memcg id, or 0 for the zone (global reclaim)
        self.pages = pages
        self.idx = 0
        self.phase = "start" if pages else "putback"
        self.outcome = ["pending"] * len(pages)
        self.action = [None] * len(pages)
        self.referenced = [0] * len(pages)
        self.may_writepage = may_writepage      # sc->may_writepage, fixed when isolated
        self.done = False
        self.res = dict(isolated=len(pages), scanned=0, reclaimed=0, hook_calls=0, hook_freed=0,
                        activated=0, pageout=0, pageout_keep=0)

    def copy(self):
        b = copy.copy(self)
        for k in ("pages", "outcome", "action", "referenced"):
            setattr(b, k, list(getattr(self, k)))
        b.res = dict(self.res)
        return b


COUNTER_NAMES = ("pgfault", "pgmajfault", "pgalloc", "pgfree", "anon_faults", "cow_faults", "cow_reuse",
                 "swapins", "swapin_cache_hits", "readahead_pages", "swapouts", "pswpin", "pswpout",
                 "writeback_done", "pgrotated", "pgscan", "pgsteal", "pgactivate", "pgdeactivate",
                 "pageout_keep", "pageout_activate", "pageout_success", "pageout_clean",
                 "writepage_freed_swap", "hook_calls", "hook_freed", "swap_reuse",
                 "free_swap_trylock_failed", "forks", "exits", "tlb_flushes", "charge_failures",
                 "oom_kills", "mlocked", "munlocked", "congestion_waits", "memcg_reclaims",
                 "direct_reclaims", "kswapd_runs", "global_oom_kills", "strategy_refused")
# the shipped strategies the model follows, and the counters of their own (docs/strategies.md)
HOOKS = ("none", "seed", "uncharge-at-free")
STRATEGY_COUNTERS = {"uncharge-at-free": ("deferred_at_unmap", "deferred_at_swapcache_delete", "uncharged_at_free")}


# ------------------------------------------------------------------ the model


class Model:
    def __init__(self, nr_pages, nr_swap, *, kernel="2.6.30", hook="none", swap_account=True,
                 laptop_mode=False, pages_low, pages_high=None):
        assert kernel in ("2.6.30", "2.6.31") and hook in HOOKS
        self.kernel = kernel
        self.k31 = kernel == "2.6.31"
        self.hook = hook
        # uncharge-at-free (docs/strategies.md): 3.17's charge lifetime, a page stays charged
        # from its first map until it is freed
        self.at_free = hook == "uncharge-at-free"
        self.swap_account = bool(swap_account)
        self.laptop_mode = bool(laptop_mode)
        self.pages_low = pages_low
        self.pages_high = pages_high if pages_high is not None else pages_low
        self.pages = [Page(p) for p in range(nr_pages)]
        self.free = list(range(nr_pages))       # LIFO: free[0] is handed out next (DS "Machine")
        self.zone = [[] for _ in range(NR_LRU)]
        # swap device (K1.5; DS "Swap": N pages give N-2 slots, 1..N-2)
        self.nr_swap = nr_swap
        self.swap_map = [0] * nr_swap
        self.swap_cgroup = [0] * nr_swap
        self.swap_cache = {}                    # slot -> pfn
        if nr_swap:
            self.swap_map[0] = SWAP_MAP_BAD[kernel]
            self.si_pages = nr_swap - 2
            self.si_max = nr_swap - 1
            self.lowest_bit = 1
            self.highest_bit = nr_swap - 2
        else:
            self.si_pages = 0
            self.si_max = 0
            self.lowest_bit = 0
            self.highest_bit = 0
        self.cluster_next = 1
        self.cluster_nr = 0
        self.inuse = 0
        self.total_swap_pages = self.si_pages
        self.nr_swap_pages = self.si_pages
        self.writes = []                        # in-flight swap writes (pfns), FIFO
        self.write_due = []                     # their completion times (clock ns), None if unknown
        self.clock_valid = False                # see start_clock
        self.now = 0
        self.device_free_at = 0
        self.last_remaining = None              # ns until each write completes, at the end of a timed call
        self.last_elapsed = None                # the clock at the end of a timed call
        self.zone_rstat = ReclaimStat()
        self.zone_nr_scan = [0] * 4             # zone->lru[l].nr_scan (global reclaim)
        self.root = Memcg(1, None)
        self.memcgs = {1: self.root}
        self.next_memcg = 2
        self.tasks = {}
        self.families = {}                      # anon_vma id -> [pid, ...] in fork order (alive)
        self.next_pid = 1
        self.next_family = 1
        self.batches = {}
        self.next_batch = 0
        self.counters = {name: 0 for name in COUNTER_NAMES}
        self.strategy_counters = {name: 0 for name in STRATEGY_COUNTERS.get(hook, ())}

    def clone(self):
        """A deep copy (the harness runs every call on one first)."""
        m = copy.copy(self)
        m.pages = []
        for p in self.pages:
            q = Page.__new__(Page)
            for k in Page.__slots__:
                setattr(q, k, getattr(p, k))
            m.pages.append(q)
        m.free = list(self.free)
        m.zone = [list(x) for x in self.zone]
        m.swap_map = list(self.swap_map)
        m.swap_cgroup = list(self.swap_cgroup)
        m.swap_cache = dict(self.swap_cache)
        m.writes = list(self.writes)
        m.write_due = list(self.write_due)
        m.zone_rstat = self.zone_rstat.copy()
        m.zone_nr_scan = list(self.zone_nr_scan)
        m.memcgs = {k: v.copy() for k, v in self.memcgs.items()}
        m.root = m.memcgs[1]
        m.tasks = {k: v.copy() for k, v in self.tasks.items()}
        m.families = {k: list(v) for k, v in self.families.items()}
        m.batches = {k: v.copy() for k, v in self.batches.items()}
        m.counters = dict(self.counters)
        m.strategy_counters = dict(self.strategy_counters)
        return m

    # ---------------------------------------------------------- small helpers

    def page(self, pfn):
        return self.pages[pfn]

    def memcg(self, mid):
        return self.memcgs[mid]

    def task(self, pid):
        t = self.tasks.get(pid)
        if t is None:
            raise KeyError(pid)
        if not t.alive:
            raise ModelTaskDead(pid)
        return t

    def family_tasks(self, fid):
        return [self.tasks[p] for p in self.families.get(fid, [])]

    def subtree(self, mc):
        out = [mc]
        for c in mc.children:
            out.extend(self.subtree(self.memcgs[c]))
        return out

    def parent_of(self, mc):
        return self.memcgs[mc.parent] if mc.parent else None

    def vm_swap_full(self):
        # K1.5: fewer than half the slots free
        return self.nr_swap_pages * 2 < self.total_swap_pages

    # ---------------------------------------------------------- simulated time (DS "Time")

    def start_clock(self):
        """A reclaim driver starts.  Its passes let time pass (phase costs, congestion_wait),
        and swap writes complete when the clock reaches them (DS "Swap": FIFO, 50 us each), in
        the middle of the pass.  The model keeps the clock exactly from here to the end of the
        call: it needs the device idle now (then only differences from now matter: the engine's
        device is free no later than its clock).  Writes submitted earlier in the same call
        have known times; writes of earlier calls do not, so the harness completes those first
        (NeedQuiescentIO)."""
        if self.clock_valid:
            return
        if self.writes:
            raise NeedQuiescentIO()
        self.clock_valid = True
        self.now = 0
        self.device_free_at = 0

    def end_call(self):
        """The harness calls this after every model call: the clock stops being meaningful,
        every write in flight gets an unknown time (the harness keeps them from completing in
        the background, see guard_time); last_remaining tells it how long each has to go."""
        if self.clock_valid:
            self.last_remaining = [d - self.now for d in self.write_due]
            self.last_elapsed = self.now
        else:
            self.last_remaining = None
            self.last_elapsed = None
        self.clock_valid = False
        self.write_due = [None] * len(self.writes)

    def tick(self, ns):
        """One page-step of work (the engine's tick): the writes due by then complete."""
        if not self.clock_valid:
            return
        self.now += ns
        self._complete_due()

    def _complete_due(self):
        n = 0
        while n < len(self.writes) and self.write_due[n] is not None and self.write_due[n] <= self.now:
            n += 1
        if n:
            self.complete_writes(n)

    def congestion_wait(self):
        """congestion_wait(WRITE, HZ/10): until the oldest write completes, or 100 ms (DS
        "Reclaim")."""
        self.counters["congestion_waits"] += 1
        deadline = self.now + CONGESTION_WAIT_NS
        if self.writes:
            deadline = min(deadline, self.write_due[0])
        self.now = max(self.now, deadline)
        self._complete_due()

    def submit_write(self, pfn):
        self.writes.append(pfn)
        if self.clock_valid:
            due = max(self.device_free_at, self.now) + WRITE_NS
            self.device_free_at = due
            self.write_due.append(due)
        else:
            self.write_due.append(None)

    def swap_read_wait(self):
        """A swap read queues behind every write in flight and the fault waits for it: all
        writes complete first.  With the clock running, the read ends WRITE_NS after the
        device is free; the device is then idle, so the exact step costs of the swap-in
        before it do not matter to anything later."""
        self.complete_writes(len(self.writes))
        if self.clock_valid:
            self.now = max(self.now, self.device_free_at) + WRITE_NS
            self.device_free_at = self.now

    # ---------------------------------------------------------- page allocator

    def alloc_page(self):
        """Take the frame on top of the free list (there is one: see fault_alloc)."""
        assert self.free
        pfn = self.free.pop(0)
        p = self.pages[pfn]
        assert p.flags == PG.buddy and p.count == 0
        p.flags = 0
        p.count = 1
        self.counters["pgalloc"] += 1
        return p

    def free_page(self, p):
        """free_hot_cold_page: the allocator resets the page (PageAnon too, K1.1); the
        page_cgroup owner stays stale (K1.2)."""
        assert p.count == 0 and p.zlru is None and p.mlru is None, (p.pfn, hex(p.flags))
        if p.has(PG.USED):
            # only under uncharge-at-free: 3.17's mem_cgroup_uncharge at the final put, res and memsw
            assert self.at_free, (p.pfn, hex(p.flags))
            self.strategy_counters["uncharged_at_free"] += 1
            self.uncharge_common(p, "FREE")
        assert not p.has(PG.USED) and not p.has(PG.swapcache) and not p.has(PG.locked), (p.pfn, hex(p.flags))
        assert p.mapcount == 0
        p.flags = PG.buddy
        p.private = 0
        p.anon_vma = 0
        p.vpn = 0
        self.free.insert(0, p.pfn)
        self.counters["pgfree"] += 1

    def put_page(self, p):
        """Drop one reference; the last one takes the page off the LRU and frees it
        (release_pages / __page_cache_release, K2.6)."""
        assert p.count > 0, p.pfn
        p.count -= 1
        if p.count == 0:
            if p.zlru is not None:
                self.lru_del(p)
            self.free_page(p)

    # ---------------------------------------------------------- LRU (K1.4, K2.13)

    @staticmethod
    def page_lru(p):
        if p.has(PG.unevictable):
            return LRU_UNEVICTABLE
        return LRU_ACTIVE_ANON if p.has(PG.active) else LRU_INACTIVE_ANON

    def lru_add(self, p):
        """add_page_to_lru_list at the head; the memcg hook links only a USED pc."""
        assert p.zlru is None
        lru = self.page_lru(p)
        self.zone[lru].insert(0, p.pfn)
        p.zlru = lru
        p.set(PG.lru)
        self.mem_cgroup_add_lru(p, lru)

    def lru_cache_add(self, p):
        """lru_cache_add_lru: lru_add, plus update_page_reclaim_stat for an evictable page
        (2.6.30 ____pagevec_lru_add; see ReclaimStat)."""
        self.lru_add(p)
        if not p.has(PG.unevictable):
            self.update_page_reclaim_stat(p, p.has(PG.active))

    def update_page_reclaim_stat(self, p, rotated):
        for rs in (self.zone_rstat, self.memcgs[p.memcg].rstat if p.has(PG.USED) else None):
            if rs is not None:
                rs.scanned += 1
                rs.rotated += int(rotated)

    def mem_cgroup_add_lru(self, p, lru):
        if not p.has(PG.USED):
            return
        assert p.mlru is None, p.pfn
        self.memcgs[p.memcg].lru[lru].insert(0, p.pfn)
        p.mlru = lru
        p.set(PG.LINKED)

    def mem_cgroup_del_lru(self, p):
        """Acts when pc is linked, whether or not it is USED (K2.13)."""
        if p.mlru is None:
            return
        self.memcgs[p.memcg].lru[p.mlru].remove(p.pfn)
        p.mlru = None
        p.clear(PG.LINKED)

    def lru_del(self, p):
        assert p.zlru is not None
        self.zone[p.zlru].remove(p.pfn)
        p.zlru = None
        p.clear(PG.lru)
        self.mem_cgroup_del_lru(p)

    def activate_page(self, p):
        if p.has(PG.lru) and not p.has(PG.active) and not p.has(PG.unevictable):
            self.lru_del(p)
            p.set(PG.active)
            self.lru_add(p)
            self.counters["pgactivate"] += 1
            self.update_page_reclaim_stat(p, True)

    def mark_page_accessed(self, p):
        """Not in KS; 2.6.30 do_swap_page calls it on the page it found or read (mm/swap.c)."""
        if (not p.has(PG.active) and not p.has(PG.unevictable) and p.has(PG.referenced)
                and p.has(PG.lru)):
            self.activate_page(p)
            p.clear(PG.referenced)
        elif not p.has(PG.referenced):
            p.set(PG.referenced)

    def putback_lru_page(self, p, *, drop_ref=True):
        """putback_lru_page (2.6.30): PG_active is cleared; evictable pages go to the inactive
        list, mlocked ones to the unevictable list; drops the isolation reference."""
        assert p.zlru is None
        p.clear(PG.active)
        p.clear(PG.unevictable)
        if p.has(PG.mlocked):
            p.set(PG.unevictable)
        self.lru_cache_add(p)
        if drop_ref:
            self.put_page(p)

    # ---------------------------------------------------------- res_counter and charges (K2.1, K2.2)

    def _chain(self, mc, kind):
        """The memcgs whose `kind` counter a charge of mc's walks (res_counter parents)."""
        while True:
            yield mc
            parent = getattr(mc, kind).parent
            if not parent:
                return
            mc = self.memcgs[parent]

    def res_counter_charge(self, mc, kind):
        """Charge every level; on failure bump that level's failcnt, undo, return the memcg
        whose counter failed."""
        done = []
        for m in self._chain(mc, kind):
            c = getattr(m, kind)
            if c.usage + PAGE_SIZE > c.limit:
                c.failcnt += 1
                for d in done:
                    d.usage -= PAGE_SIZE
                return m
            c.usage += PAGE_SIZE
            c.max_usage = max(c.max_usage, c.usage)
            done.append(c)
        return None

    def res_counter_uncharge(self, mc, kind):
        for m in self._chain(mc, kind):
            c = getattr(m, kind)
            assert c.usage >= PAGE_SIZE
            c.usage -= PAGE_SIZE

    def charge_once(self, mc):
        """One round of __mem_cgroup_try_charge's loop: res, then memsw (K2.1).  Returns
        (None, _) on success, else (mem_over_limit, noswap)."""
        failed = self.res_counter_charge(mc, "res")
        if failed is not None:
            return failed, False
        if not self.swap_account:
            return None, False
        failed = self.res_counter_charge(mc, "memsw")
        if failed is None:
            return None, False
        self.res_counter_uncharge(mc, "res")
        return failed, True

    def check_under_limit(self, mc):
        """mem_cgroup_check_under_limit: the memcg's own counters (hierarchical usage when
        use_hierarchy, since children charge their ancestors' counters)."""
        if mc.res.usage >= mc.res.limit:
            return False
        return not self.swap_account or mc.memsw.usage < mc.memsw.limit

    def try_charge(self, mc, current, first_fail_ns=0):
        """__mem_cgroup_try_charge with oom=true (K2.1).  Returns mc charged, or raises
        _OOM after the memcg OOM killer ran.  Each failed round runs
        mem_cgroup_hierarchical_reclaim(mem_over_limit, noswap); a round is retried at once
        if that reported progress or the memcg is now under its limit, otherwise it uses up
        one of MEM_CGROUP_RECLAIM_RETRIES.  first_fail_ns: the time the caller's step spends
        after the first failed round, before the reclaim starts (the engine's fault step that
        allocated the page ends there: COST_FAULT_NS; a swap-in charge has its own step: 0)."""
        retries = MEM_CGROUP_RECLAIM_RETRIES
        first = True
        while True:
            over, noswap = self.charge_once(mc)
            if over is None:
                return mc
            self.counters["charge_failures"] += 1
            if first:
                self.tick(first_fail_ns)
                first = False
            ret = self.hierarchical_reclaim(over, noswap, SWAP_CLUSTER_MAX)
            if ret or self.check_under_limit(over):
                continue
            if retries:
                retries -= 1
                continue
            break
        # mem_cgroup_out_of_memory(over): a victim that is not running dies at once
        victim = self.select_victim(over)
        if victim is None:
            raise Unmodeled("memcg OOM without a victim")
        self.counters["oom_kills"] += 1
        victim.oom_killed = True
        if victim is not current:
            self.do_exit(victim, oom_killed=True)
        raise _OOM(over, victim)

    def commit_charge(self, mc, p):
        """__mem_cgroup_commit_charge, ctype MAPPED: undo if already USED."""
        if p.has(PG.USED):
            self.cancel_charge(mc)
            return False
        p.memcg = mc.id
        p.set(PG.USED)
        p.clear(PG.CACHE)
        mc.rss += 1
        mc.pgpgin += 1
        return True

    def cancel_charge(self, mc):
        self.res_counter_uncharge(mc, "res")
        if self.swap_account:
            self.res_counter_uncharge(mc, "memsw")

    def uncharge_common(self, p, ctype):
        """__mem_cgroup_uncharge_common (K2.2).  ctype: MAPPED, SWAPOUT, DROP.
        Returns the memcg uncharged, or None."""
        if p.has(PG.swapcache):
            return None
        if not p.has(PG.USED):
            return None
        if ctype in ("MAPPED", "DROP", "SWAPOUT") and p.mapcount > 0:
            # (FREE, the uncharge of a page being freed, has no condition but USED)
            # SWAPOUT of an anon page skips a mapped page; every page here is anon or was
            # never mapped
            return None
        mc = self.memcgs[p.memcg]
        self.res_counter_uncharge(mc, "res")
        if self.swap_account and ctype != "SWAPOUT":
            self.res_counter_uncharge(mc, "memsw")
        if p.has(PG.CACHE):
            mc.cache -= 1
        else:
            mc.rss -= 1
        mc.pgpgout += 1
        p.clear(PG.USED)
        return mc

    def uncharge_page(self, p):
        """mem_cgroup_uncharge_page: early exit if mapped, then MAPPED."""
        if p.mapcount > 0:
            return
        self.uncharge_common(p, "MAPPED")

    def uncharge_swapcache(self, p, slot, swapout=True):
        """mem_cgroup_uncharge_swapcache (2.6.30: always SWAPOUT; Δ31: DROP unless swapout)."""
        if not swapout:
            self.uncharge_common(p, "DROP")
            return
        mc = self.uncharge_common(p, "SWAPOUT")
        if mc is not None and self.swap_account:
            assert self.swap_cgroup[slot] == 0
            self.swap_cgroup[slot] = mc.id
            mc.refcnt += 1

    def uncharge_swap(self, slot):
        """mem_cgroup_uncharge_swap: clear the record, memsw-1 on the memcg it named."""
        old = self.swap_cgroup[slot]
        self.swap_cgroup[slot] = 0
        if old and self.swap_account:
            mc = self.memcgs[old]
            self.res_counter_uncharge(mc, "memsw")
            mc.refcnt -= 1

    # ---------------------------------------------------------- swap slots (K1.5, K2.6, K2.9, K5)

    def map_users(self, slot):
        """The swap-pte user count of a slot (page_swapcount for a cache page)."""
        v = self.swap_map[slot]
        if self.k31:
            return v & ~SWAP_HAS_CACHE
        return v - (1 if slot in self.swap_cache else 0)

    def page_swapcount(self, p):
        slot = p.private
        if self.k31:
            return self.swap_map[slot] & ~SWAP_HAS_CACHE
        return self.swap_map[slot] - 1

    def _slot_freed(self, slot):
        if slot < self.lowest_bit:
            self.lowest_bit = slot
        if slot > self.highest_bit:
            self.highest_bit = slot
        self.nr_swap_pages += 1
        self.inuse -= 1

    def swap_entry_free(self, slot, cache=False):
        """Drop one pte user (cache=False) or the cache's hold (cache=True).  Returns the
        slot's swap_map value afterwards."""
        v = self.swap_map[slot]
        if self.k31:
            count, has_cache = v & ~SWAP_HAS_CACHE, bool(v & SWAP_HAS_CACHE)
            if cache:
                assert has_cache
                has_cache = False
            else:
                assert count > 0
                count -= 1
            v = count | (SWAP_HAS_CACHE if has_cache else 0)
            self.swap_map[slot] = v
            if v == 0:
                self._slot_freed(slot)
            if count == 0:
                # Δ31: memsw is uncharged when the user count reaches 0, even with HAS_CACHE
                self.uncharge_swap(slot)
            return v
        assert v > 0
        v -= 1
        self.swap_map[slot] = v
        if v == 0:
            self._slot_freed(slot)
            self.uncharge_swap(slot)
        return v

    def swap_free(self, slot):
        """swap_free: one user less (2.6.30: the cache's reference is a user too)."""
        self.swap_entry_free(slot, cache=False)

    def swap_duplicate(self, slot):
        v = self.swap_map[slot]
        assert v != 0
        self.swap_map[slot] = v + 1

    def get_swap_page(self):
        """get_swap_page: nr_swap_pages is taken up front, then scan_swap_map."""
        if self.nr_swap_pages <= 0:
            return 0
        self.nr_swap_pages -= 1
        slot = self.scan_swap_map()
        if not slot:
            self.nr_swap_pages += 1
        return slot

    def scan_swap_map(self):
        """scan_swap_map of 2.6.30/2.6.31 for a rotational device (DS "Swap"), with the Δ31
        reuse of cache-only slots while vm_swap_full() (K5)."""
        scan_base = offset = self.cluster_next
        if self.cluster_nr == 0:
            if self.si_pages - self.inuse < SWAPFILE_CLUSTER:
                self.cluster_nr = SWAPFILE_CLUSTER - 1
            else:
                offset = self.lowest_bit
                last_in_cluster = offset + SWAPFILE_CLUSTER - 1
                found = False
                while last_in_cluster <= self.highest_bit:
                    if self.swap_map[offset]:
                        last_in_cluster = offset + SWAPFILE_CLUSTER
                    elif offset == last_in_cluster:
                        offset -= SWAPFILE_CLUSTER - 1
                        self.cluster_next = offset
                        self.cluster_nr = SWAPFILE_CLUSTER - 1
                        found = True
                        break
                    offset += 1
                if not found:
                    offset = self.lowest_bit
                    self.cluster_nr = SWAPFILE_CLUSTER - 1
        else:
            self.cluster_nr -= 1

        state = "checks"
        first_failed = None
        while True:
            if state == "checks":
                if not self.highest_bit:
                    return 0
                if offset > self.highest_bit:
                    scan_base = offset = self.lowest_bit
                if self.k31 and self.vm_swap_full() and self.swap_map[offset] == SWAP_HAS_CACHE:
                    if self.try_to_reclaim_swap(offset):
                        continue                        # goto checks
                    if offset == first_failed:
                        # Back at the first cache-only slot it could not reclaim: the 2.6.31 loop
                        # would go round for ever (the kernel's cond_resched lets another CPU
                        # unlock or finish the page); nothing else runs during an engine call,
                        # so the scan fails (DS "Swap": no_page after one full cycle)
                        return 0
                    if first_failed is None:
                        first_failed = offset
                    state = "scan"
                    continue
                if self.swap_map[offset]:
                    state = "scan"
                    continue
                if offset == self.lowest_bit:
                    self.lowest_bit += 1
                if offset == self.highest_bit:
                    self.highest_bit -= 1
                self.inuse += 1
                if self.inuse == self.si_pages:
                    self.lowest_bit = self.si_max
                    self.highest_bit = 0
                self.swap_map[offset] = SWAP_HAS_CACHE if self.k31 else 1
                self.cluster_next = offset + 1
                return offset
            # scan
            nxt = None
            o = offset
            while True:
                o += 1
                if o > self.highest_bit:
                    break
                if self._candidate(o):
                    nxt = o
                    break
            if nxt is None:
                o = self.lowest_bit
                while True:
                    o += 1
                    if o >= scan_base:
                        break
                    if self._candidate(o):
                        nxt = o
                        break
            if nxt is None:
                return 0
            offset = nxt
            state = "checks"

    def _candidate(self, o):
        if not self.swap_map[o]:
            return True
        return self.k31 and self.vm_swap_full() and self.swap_map[o] == SWAP_HAS_CACHE

    def try_to_reclaim_swap(self, slot):
        """__try_to_reclaim_swap (Δ31): find_get_page, trylock, try_to_free_swap, release."""
        pfn = self.swap_cache.get(slot)
        if pfn is None:
            return False
        p = self.pages[pfn]
        p.count += 1
        ret = False
        if not p.has(PG.locked):
            ret = self.try_to_free_swap(p)
        if ret:
            self.counters["swap_reuse"] += 1
        self.put_page(p)
        return ret

    # ---------------------------------------------------------- swap cache (K2.8, K2.9, K2.12)

    def add_to_swap(self, p):
        slot = self.get_swap_page()
        if not slot:
            return False
        p.count += 1
        p.set(PG.swapcache)
        p.private = slot
        self.swap_cache[slot] = p.pfn
        p.set(PG.dirty)
        self.counters["swapouts"] += 1
        return True

    def _delete_from_swap_cache_nodrop(self, p, stays=False):
        """__delete_from_swap_cache + the memcg uncharge + the slot's cache hold.  stays: the
        page stays in memory (delete_from_swap_cache, not swap-out's __remove_mapping)."""
        slot = p.private
        assert self.swap_cache.get(slot) == p.pfn
        del self.swap_cache[slot]
        p.clear(PG.swapcache)
        p.private = 0
        uncharge = True
        if stays and self.at_free and p.has(PG.USED) and p.mapcount == 0:
            # uncharge-at-free: the page keeps res and memsw, the slot gets no record
            self.strategy_counters["deferred_at_swapcache_delete"] += 1
            uncharge = False
        if self.k31:
            # swapcache_free(E, P): clear HAS_CACHE, then uncharge under swap_lock
            v = self.swap_entry_free(slot, cache=True)
            if uncharge:
                self.uncharge_swapcache(p, slot, swapout=(v != 0))
        else:
            if uncharge:
                self.uncharge_swapcache(p, slot)
            self.swap_free(slot)

    def delete_from_swap_cache(self, p):
        self._delete_from_swap_cache_nodrop(p, stays=True)
        self.put_page(p)

    def try_to_free_swap(self, p):
        if not p.has(PG.swapcache):
            return False
        if p.has(PG.writeback):
            return False
        if self.page_swapcount(p) != 0:
            return False
        self.delete_from_swap_cache(p)
        p.set(PG.dirty)
        return True

    def reuse_swap_page(self, p):
        count = p.mapcount
        if count <= 1 and p.has(PG.swapcache):
            count += self.page_swapcount(p)
            if count == 1 and not p.has(PG.writeback):
                self.delete_from_swap_cache(p)
                p.set(PG.dirty)
        return count == 1

    def free_swap_and_cache(self, slot):
        """K2.6: zap of a swap pte."""
        v = self.swap_entry_free(slot, cache=False)
        if v == (SWAP_HAS_CACHE if self.k31 else 1):
            pfn = self.swap_cache.get(slot)
            if pfn is None:
                return
            p = self.pages[pfn]
            if p.has(PG.locked):
                self.counters["free_swap_trylock_failed"] += 1
                return
            p.count += 1
            if p.has(PG.swapcache) and not p.has(PG.writeback) and (p.mapcount == 0 or self.vm_swap_full()):
                self.delete_from_swap_cache(p)
                p.set(PG.dirty)
            self.put_page(p)

    # ---------------------------------------------------------- rmap (K2.4, K2.10, K3)

    def page_add_new_anon_rmap(self, p, t, vpn):
        p.set(PG.swapbacked | PG.anon | PG.uptodate)
        p.mapcount = 1
        p.anon_vma = t.family
        p.vpn = vpn
        if t.ptes.get(vpn, 0) & PTE.LOCKED:
            # DS "Tasks": a page faulted into a locked range is mlocked at once
            p.set(PG.mlocked | PG.unevictable)
            self.counters["mlocked"] += 1
        else:
            p.set(PG.active)
        self.lru_cache_add(p)

    def page_add_anon_rmap(self, p, t, vpn):
        p.mapcount += 1
        if p.mapcount == 1:
            p.set(PG.anon)
            p.anon_vma = t.family
            p.vpn = vpn

    def page_remove_rmap(self, p):
        assert p.mapcount > 0
        p.mapcount -= 1
        if p.mapcount == 0 and p.has(PG.anon):
            if self.at_free and p.has(PG.USED) and not p.has(PG.swapcache):
                self.strategy_counters["deferred_at_unmap"] += 1      # uncharged when freed
                return
            self.uncharge_page(p)

    def _ptes_of(self, p, memcg_filter=0):
        """The rmap walk: the family's tasks in fork order, the pte at the page's vpn."""
        for t in self.family_tasks(p.anon_vma):
            if memcg_filter and t.memcg != memcg_filter:
                continue
            pte = t.ptes.get(p.vpn, 0)
            if pte & PTE.PRESENT and pte >> PTE.SHIFT == p.pfn:
                yield t, pte

    def page_referenced(self, p, memcg_filter):
        referenced = 0
        if p.has(PG.referenced):
            p.clear(PG.referenced)
            referenced += 1
        if p.mapcount > 0 and p.has(PG.anon):
            left = p.mapcount
            for t, pte in self._ptes_of(p, memcg_filter):
                if pte & PTE.LOCKED:
                    # page_referenced_one (2.6.30): a VM_LOCKED vma ends the walk, unreferenced,
                    # so that the page goes on to try_to_unmap and the unevictable list
                    break
                if pte & PTE.YOUNG:
                    t.ptes[p.vpn] = pte & ~PTE.YOUNG
                    referenced += 1
                left -= 1
                if left == 0:
                    break
        return referenced

    def try_to_unmap(self, p):
        ret = "AGAIN"
        for t, pte in list(self._ptes_of(p)):
            if pte & PTE.LOCKED:
                # SWAP_MLOCK; try_to_mlock_page mlocks the page and ends the walk
                self.mlock_page(p)
                ret = "MLOCK"
                break
            if pte & PTE.YOUNG:
                t.ptes[p.vpn] = pte & ~PTE.YOUNG
                ret = "FAIL"
                break
            if pte & PTE.DIRTY:
                p.set(PG.dirty)
            assert p.has(PG.swapcache)
            slot = p.private
            self.swap_duplicate(slot)
            t.ptes[p.vpn] = (slot << PTE.SHIFT) | PTE.SWAP
            self.page_remove_rmap(p)
            self.put_page(p)
            ret = "AGAIN"
            if p.mapcount == 0:
                break
        if ret != "MLOCK" and p.mapcount == 0:
            ret = "SUCCESS"
        return ret

    # ---------------------------------------------------------- mlock (DS "Tasks")

    def mlock_page(self, p):
        """mlock_vma_page: TestSetPageMlocked, then isolate + putback to the unevictable list."""
        if p.has(PG.mlocked):
            return
        p.set(PG.mlocked)
        self.counters["mlocked"] += 1
        if p.zlru is not None:
            self.lru_del(p)
            self.putback_lru_page(p, drop_ref=False)

    def munlock_page(self, p, t):
        """munlock_vma_page + try_to_munlock: stays mlocked if another task maps it from a
        locked range; otherwise back to the evictable (inactive) list."""
        if not p.has(PG.mlocked):
            return
        if any(o is not t and pte & PTE.LOCKED for o, pte in self._ptes_of(p)):
            # 2.6.30's munlock_vma_page isolates the page and puts it back at the head of the
            # unevictable list even then; the engine leaves it where it is (DS does not say;
            # the order of the unevictable list has no effect)
            return
        p.clear(PG.mlocked)
        self.counters["munlocked"] += 1
        if p.zlru is None:
            # isolate_lru_page fails (reclaim holds it): the flag goes, putback decides later
            return
        self.lru_del(p)
        self.putback_lru_page(p, drop_ref=False)

    # ---------------------------------------------------------- tasks

    def spawn(self, mid):
        mc = self.memcgs[mid]
        # the anon_vma id is the founder's pid (the engine's numbering; any bijection would do)
        t = Task(self.next_pid, mc.id, self.next_pid)
        self.next_pid += 1
        self.families[t.family] = [t.pid]
        self.tasks[t.pid] = t
        return t.pid

    def fork(self, pid):
        t = self.task(pid)
        c = Task(self.next_pid, t.memcg, t.family)
        self.next_pid += 1
        for vpn in sorted(t.ptes):
            pte = t.ptes[vpn]
            if pte & PTE.PRESENT:
                p = self.pages[pte >> PTE.SHIFT]
                t.ptes[vpn] = pte & ~PTE.WRITE
                p.count += 1
                p.mapcount += 1
                c.ptes[vpn] = pte & ~(PTE.WRITE | PTE.YOUNG | PTE.LOCKED)
            elif pte & PTE.SWAP:
                self.swap_duplicate(pte >> PTE.SHIFT)
                c.ptes[vpn] = pte & ~PTE.LOCKED
        self.tasks[c.pid] = c
        self.families[t.family].append(c.pid)
        self.counters["forks"] += 1
        return c.pid

    def move(self, pid, mid):
        self.task(pid).memcg = self.memcgs[mid].id

    def refuse_if_a_batch_holds(self, t, vpns, write, lock):
        """DS "Tasks": the synchronous API refuses up front a call that would wait for a page
        lock only an unfinished batch can release (COW or mlock of that page, or a swap-in of
        it), judged on the state at the start over every vpn of the call -- even one the call
        would not reach because an OOM kill ends it first.  Here every locked page is a
        batch's: reads complete inside the fault."""
        for vpn in vpns:
            pte = t.ptes.get(vpn, 0)
            p = None
            if pte & PTE.PRESENT:
                q = self.pages[pte >> PTE.SHIFT]
                if (write and not pte & PTE.WRITE) or ((lock or pte & PTE.LOCKED) and not q.has(PG.mlocked)):
                    p = q
            elif pte & PTE.SWAP and (pte >> PTE.SHIFT) in self.swap_cache:
                p = self.pages[self.swap_cache[pte >> PTE.SHIFT]]
            if p is not None and p.has(PG.locked):
                # the harness runs every call on a clone, so raising leaves the model unchanged
                raise ModelStateError(f"vpn {vpn}: its page is locked by a shrink batch")

    def fault(self, pid, vpns, write):
        t = self.task(pid)
        self.refuse_if_a_batch_holds(t, vpns, write, False)
        done = 0
        for vpn in vpns:
            try:
                self._fault_one(t, vpn, write)
            except _OOMSelf:
                break
            done += 1
        self.wakeup_kswapd()
        return done

    def mlock(self, pid, vpns):
        t = self.task(pid)
        vpns = list(vpns)
        self.refuse_if_a_batch_holds(t, vpns, True, True)
        done = 0
        for vpn in vpns:
            # the range becomes VM_LOCKED pte by pte as mlock goes (DS "Tasks": a bit per pte)
            t.ptes[vpn] = t.ptes.get(vpn, 0) | PTE.LOCKED
            try:
                self._fault_one(t, vpn, True)
            except _OOMSelf:
                break
            done += 1
        self.wakeup_kswapd()
        return done

    # Time in faults (needed only while the clock runs, i.e. after a reclaim in this call):
    # the engine's fault machine ticks COST_FAULT_NS at the end of every step, except the
    # steps of a charge that is still reclaiming (DS "Time"; the steps are the engine's
    # documented stop points: "the charge's reclaim continues in later steps").  A page that
    # needs nothing but a pte update, a fresh page and a COW copy whose charge succeeds at once
    # are one step each; a failed charge adds one step when it ends; a swap-in is a step to
    # find the pte, one to look the slot up, one to read it (a miss), one to lock the page, one
    # for the charge and one to map it.

    def _fault_one(self, t, vpn, write):
        while True:
            try:
                self._handle_fault(t, vpn, write)
                break
            except _Retry:
                continue
        # a page touched in a locked range is mlocked (DS "Tasks": at once), in the step that
        # maps it
        pte = t.ptes[vpn]
        if pte & PTE.LOCKED:
            p = self.pages[pte >> PTE.SHIFT]
            # mlock_vma_page takes the page lock (__mlock_vma_pages_range); a batch's lock was
            # refused up front (refuse_if_a_batch_holds)
            assert p.has(PG.mlocked) or not p.has(PG.locked), "mlock of a batch-locked page"
            self.mlock_page(p)
        self.counters["pgfault"] += 1
        self.tick(COST_FAULT_NS)                # the end of the step that finished the page

    def _handle_fault(self, t, vpn, write):
        pte = t.ptes.get(vpn, 0)
        if pte & PTE.PRESENT:
            if write and not pte & PTE.WRITE:
                self.do_wp_page(t, vpn)
            else:
                t.ptes[vpn] = pte | PTE.YOUNG | (PTE.DIRTY if write else 0)
            return
        if pte & PTE.SWAP:
            self.do_swap_page(t, vpn, write)
            return
        self.do_anonymous_page(t, vpn)

    def _charge_or_oom(self, t, p):
        """try_charge for a new page p of task t; on OOM the fault path frees p first."""
        mc = self.memcgs[t.memcg]
        try:
            self.try_charge(mc, t, COST_FAULT_NS)
        except _OOM as oom:
            self.put_page(p)
            self._after_oom(t, oom)
        return mc

    def _after_oom(self, t, oom):
        """The memcg OOM killer ran inside the charge (K2.1, DS "Tasks")."""
        victim = oom.victim
        if victim is t:
            # the task was chosen in its own fault: the fault path releases the new page
            # and returns VM_FAULT_OOM; the task dies on its way out (SIGKILL, TIF_MEMDIE)
            if t.alive:
                self.do_exit(t, oom_killed=True)
            self.tick(COST_FAULT_NS)
            raise _OOMSelf()
        self.tick(COST_FAULT_NS)
        raise _Retry()

    def fault_alloc(self, t, cow_old=None):
        """A frame for a fault.  The allocator hands out frames down to the last one (DS
        "Reclaim": kswapd runs at the end of the fault call); with none free the fault runs
        direct reclaim, and if that freed nothing and no frame is free, the global OOM killer
        (DS "Tasks").  Time: the step that found no frame, the reclaim, the end of the
        reclaim's step, each COST_FAULT_NS."""
        while not self.free:
            self.tick(COST_FAULT_NS)
            self.start_clock()
            self.counters["direct_reclaims"] += 1
            ret = self.do_try_to_free_pages(None, False, SWAP_CLUSTER_MAX)
            if not self.free and not ret:
                victim = self.out_of_memory(t)
                if victim is t:
                    # the fault drops what it holds, then the task dies (TIF_MEMDIE)
                    if cow_old is not None:
                        self.put_page(cow_old)
                    self.do_exit(t, oom_killed=True)
                    self.tick(COST_FAULT_NS)
                    raise _OOMSelf()
            self.tick(COST_FAULT_NS)
        return self.alloc_page()

    def out_of_memory(self, current):
        """out_of_memory: the global OOM killer kills the largest task (DS "Tasks": mapped
        pages plus swap ptes, ties to the lowest pid); one that is not running dies at once."""
        victim = None
        best = -1
        for pid in sorted(self.tasks):
            t = self.tasks[pid]
            if not t.alive:
                continue
            points = sum(1 for v in t.ptes.values() if v & (PTE.PRESENT | PTE.SWAP))
            if points > best:
                best, victim = points, t
        if victim is None:
            return None
        victim.oom_killed = True
        self.counters["global_oom_kills"] += 1
        if victim is not current:
            self.do_exit(victim, oom_killed=True)
        return victim

    def do_anonymous_page(self, t, vpn):
        p = self.fault_alloc(t)
        mc = self._charge_or_oom(t, p)
        self.commit_charge(mc, p)
        locked = t.ptes.get(vpn, 0) & PTE.LOCKED
        t.ptes[vpn] = (p.pfn << PTE.SHIFT) | PTE.PRESENT | PTE.WRITE | PTE.YOUNG | PTE.DIRTY | locked
        self.page_add_new_anon_rmap(p, t, vpn)
        self.counters["anon_faults"] += 1

    def do_wp_page(self, t, vpn):
        pte = t.ptes[vpn]
        old = self.pages[pte >> PTE.SHIFT]
        assert not old.has(PG.locked), "COW of a batch-locked page (refuse_if_a_batch_holds)"
        locked = pte & PTE.LOCKED
        if old.has(PG.anon) and self.reuse_swap_page(old):
            t.ptes[vpn] = pte | PTE.WRITE | PTE.DIRTY | PTE.YOUNG
            self.counters["cow_reuse"] += 1
            return
        old.count += 1                                  # page_cache_get(old_page)
        new = self.fault_alloc(t, cow_old=old)
        mc = self.memcgs[t.memcg]
        try:
            self.try_charge(mc, t, COST_FAULT_NS)
        except _OOM as oom:
            self.put_page(new)
            self.put_page(old)
            self._after_oom(t, oom)
        self.commit_charge(mc, new)
        if t.ptes[vpn] != pte:
            # The charge's reclaim changed the pte (page_referenced cleared its young bit, or
            # try_to_unmap swapped the old page out): pte_same fails (K2.5 do_wp_page
            # takes the pte lock and rechecks), the new page is uncharged and freed, and the
            # fault is retried.
            self.uncharge_page(new)
            self.put_page(new)
            self.put_page(old)
            self.tick(COST_FAULT_NS)
            raise _Retry()
        t.ptes[vpn] = (new.pfn << PTE.SHIFT) | PTE.PRESENT | PTE.WRITE | PTE.YOUNG | PTE.DIRTY | locked
        self.page_add_new_anon_rmap(new, t, vpn)
        self.page_remove_rmap(old)
        if locked:
            # 2.6.30 calls clear_page_mlock(old) before the charge and lets vmscan re-mlock
            # lazily; with mlock at once (DS "Tasks") the engine treats the COW break as the
            # unmap of a locked mapping, after the charge: try_to_munlock (the page stays
            # mlocked if another task maps it from a locked range)
            self.munlock_page(old, t)
        self.put_page(old)                              # the pte's reference
        self.put_page(old)                              # page_cache_release(old_page)
        self.counters["cow_faults"] += 1

    def do_swap_page(self, t, vpn, write):
        pte = t.ptes[vpn]
        slot = pte >> PTE.SHIFT
        locked = pte & PTE.LOCKED
        self.tick(COST_FAULT_NS)                        # the step that found the swap pte
        pfn = self.swap_cache.get(slot)
        if pfn is not None:
            p = self.pages[pfn]
            assert not p.has(PG.locked), "swap-in of a batch-locked page (refuse_if_a_batch_holds)"
            p.count += 1
            self.counters["swapin_cache_hits"] += 1
            self.tick(COST_FAULT_NS)
        else:
            # read_swap_cache_async (K2.7), readahead off (page_cluster=0)
            self.counters["pgmajfault"] += 1
            self.tick(COST_FAULT_NS)
            p = self.fault_alloc(t)
            if self.k31:
                assert self.map_users(slot) > 0 and not self.swap_map[slot] & SWAP_HAS_CACHE
                self.swap_map[slot] |= SWAP_HAS_CACHE
            else:
                self.swap_duplicate(slot)
            p.set(PG.swapbacked | PG.uptodate)
            p.count += 1
            p.set(PG.swapcache)
            p.private = slot
            self.swap_cache[slot] = p.pfn
            self.lru_cache_add(p)               # lru_cache_add_anon: inactive, never charged
            self.counters["pswpin"] += 1
            # the read queues behind every write in flight (DS "Swap": one FIFO queue)
            self.swap_read_wait()
        # lock_page (held until the page is mapped: a reclaim inside the charge cannot lock it)
        p.set(PG.locked)
        self.mark_page_accessed(p)
        # mem_cgroup_try_charge_swapin
        target = None
        if not self.swap_account:
            target = self.memcgs[t.memcg]
        elif p.has(PG.swapcache):
            if p.has(PG.USED):
                target = self.memcgs[p.memcg]
            elif self.swap_cgroup[slot]:
                target = self.memcgs[self.swap_cgroup[slot]]
            else:
                target = self.memcgs[t.memcg]
        self.tick(COST_FAULT_NS)
        if target is not None:
            try:
                self.try_charge(target, t, 0)
            except _OOM:
                raise Unmodeled("swap-in charge failure")
            self.tick(COST_FAULT_NS)
        t.ptes[vpn] = (p.pfn << PTE.SHIFT) | PTE.PRESENT | PTE.YOUNG | locked
        if write and self.reuse_swap_page(p):
            t.ptes[vpn] |= PTE.WRITE | PTE.DIRTY
            write = False
        self.page_add_anon_rmap(p, t, vpn)
        if target is not None:
            self.commit_charge_swapin(target, p)
        self.swap_free(slot)
        if self.vm_swap_full() or locked or p.has(PG.mlocked):
            self.try_to_free_swap(p)
        p.clear(PG.locked)
        self.counters["swapins"] += 1
        if write:
            self.tick(COST_FAULT_NS)                    # the map step; the next one copies
            self.do_wp_page(t, vpn)

    def commit_charge_swapin(self, mc, p):
        if not p.has(PG.USED):
            self.mem_cgroup_del_lru(p)
        self.commit_charge(mc, p)
        if p.has(PG.lru) and p.mlru is None:
            self.mem_cgroup_add_lru(p, p.zlru)
        if self.swap_account and p.has(PG.swapcache):
            slot = p.private
            old = self.swap_cgroup[slot]
            self.swap_cgroup[slot] = 0
            if old:
                om = self.memcgs[old]
                self.res_counter_uncharge(om, "memsw")
                om.refcnt -= 1

    # ---------------------------------------------------------- zap, mmu_gather, exit (K2.6)

    def zap(self, pid, vpns, flush):
        t = self.task(pid)
        n = 0
        for vpn in vpns:
            n += self._zap_one(t, vpn)
        if flush:
            self.tlb_flush_mmu(t)
        return n

    def _zap_one(self, t, vpn):
        pte = t.ptes.get(vpn, 0)
        if pte & PTE.PRESENT:
            p = self.pages[pte >> PTE.SHIFT]
            if pte & PTE.LOCKED:
                self.munlock_page(p, t)
            del t.ptes[vpn]
            self.page_remove_rmap(p)
            t.gather.append(p.pfn)
            if len(t.gather) >= FREE_PTE_NR:
                self.tlb_flush_mmu(t)
            return 1
        if pte & PTE.SWAP:
            del t.ptes[vpn]
            self.free_swap_and_cache(pte >> PTE.SHIFT)
            return 1
        t.ptes.pop(vpn, None)
        return 0

    def tlb_flush(self, pid):
        return self.tlb_flush_mmu(self.task(pid))

    def tlb_flush_mmu(self, t):
        """free_pages_and_swap_cache: free_swap_cache per page, then release_pages."""
        pages = [self.pages[pfn] for pfn in t.gather]
        t.gather = []
        for p in pages:
            if p.has(PG.swapcache) and p.mapcount == 0:
                if p.has(PG.locked):
                    self.counters["free_swap_trylock_failed"] += 1
                else:
                    self.try_to_free_swap(p)
        for p in pages:
            self.put_page(p)
        if pages:
            self.counters["tlb_flushes"] += 1
        return len(pages)

    def exit(self, pid):
        self.do_exit(self.task(pid))

    def do_exit(self, t, oom_killed=False):
        # exit's zap: one step (COST_ZAP_NS) per non-empty pte, one that finds no more, one
        # that flushes the gather and tears the mm down (DS "Time")
        for vpn in sorted(t.ptes):
            if t.ptes.get(vpn, 0):
                self._zap_one(t, vpn)
                self.tick(COST_ZAP_NS)
            else:
                t.ptes.pop(vpn, None)
        self.tick(COST_ZAP_NS)
        self.tlb_flush_mmu(t)
        t.ptes = {}
        t.alive = False
        t.oom_killed = oom_killed
        self.families[t.family].remove(t.pid)
        self.counters["exits"] += 1
        self.tick(COST_ZAP_NS)

    # ---------------------------------------------------------- OOM (K2.1, DS "Tasks")

    def task_in_memcg(self, t, over):
        mc = self.memcgs[t.memcg]
        if mc is over:
            return True
        if not mc.use_hierarchy:
            return False
        m = self.parent_of(mc)
        while m is not None:
            if m is over:
                return True
            m = self.parent_of(m)
        return False

    def select_victim(self, over):
        best = None
        for pid in sorted(self.tasks):
            t = self.tasks[pid]
            if not t.alive or not self.task_in_memcg(t, over):
                continue
            points = sum(1 for v in t.ptes.values() if v & (PTE.PRESENT | PTE.SWAP))
            if best is None or points > best[0]:
                best = (points, t)
        return best[1] if best else None

    # ---------------------------------------------------------- reclaim: isolation (K2.13)

    def rstat_of(self, mid):
        return self.memcgs[mid].rstat if mid else self.zone_rstat

    def _isolate_batch(self, mid, nr, may_writepage):
        """isolate_lru_pages / mem_cgroup_isolate_pages into a new batch (K2.13); the
        pages taken count as recently scanned (see ReclaimStat)."""
        taken = self._take_from_tail(mid, LRU_INACTIVE_ANON, nr)
        for p in taken:
            assert p.count > 0 and not p.has(PG.active)
            p.count += 1
            self.lru_del(p)
        self.rstat_of(mid).scanned += len(taken)
        b = Batch(self.next_batch, mid, [p.pfn for p in taken], may_writepage)
        self.tick(PHASE_COST["isolate"])
        return b

    def isolate(self, mid, nr):
        if not 1 <= nr <= 32:
            raise ValueError("nr must be 1 to 32")
        b = self._isolate_batch(mid, nr, not self.laptop_mode)
        self.next_batch += 1
        self.batches[b.id] = b
        return b.id

    # ---------------------------------------------------------- shrink_page_list, step by step (K3)

    def batch_step(self, bid):
        b = self.batches[bid]
        if b.done:
            raise ModelStateError("already shrunk")
        if b.phase == "putback":
            raise ModelStateError("no page left")
        return self._batch_step(b)

    def _batch_step(self, b):
        """One stop point of shrink_page_list (DS "Reclaim"); it costs PHASE_COST of the
        stop point it ran (DS "Time")."""
        cost = PHASE_COST[b.phase]
        self._batch_work(b)
        self.tick(cost)
        return b.phase

    def _batch_work(self, b):
        i = b.idx
        p = self.pages[b.pages[i]]
        nxt = getattr(self, "_sp_" + b.phase)(b, i, p)
        if nxt == "label_done":
            if i + 1 < len(b.pages):
                b.idx = i + 1
                b.phase = "start"
            else:
                b.phase = "putback"
        else:
            b.phase = nxt
        return b.phase

    def _goto(self, b, i, action):
        b.action[i] = action
        return "label"

    def _sp_start(self, b, i, p):
        if p.has(PG.locked):
            return self._goto(b, i, "keep")
        p.set(PG.locked)
        b.res["scanned"] += 1
        if p.has(PG.mlocked):
            return self._goto(b, i, "cull")
        if p.mapcount > 0 or p.has(PG.swapcache):
            b.res["scanned"] += 1
        if p.has(PG.writeback):
            return self._goto(b, i, "keep_locked")
        referenced = self.page_referenced(p, b.memcg)
        b.referenced[i] = referenced
        if referenced and (p.mapcount > 0 or p.has(PG.swapcache)):
            return self._goto(b, i, "activate")
        return "add_to_swap"

    def _sp_add_to_swap(self, b, i, p):
        if p.has(PG.anon) and not p.has(PG.swapcache):
            if not self.add_to_swap(p):
                return self._goto(b, i, "activate")
            if self.hook == "seed":
                # memcg_free_unused_swapcache (K3 step 6)
                b.res["hook_calls"] += 1
                if p.has(PG.anon) and p.mapcount == 0 and self.try_to_free_swap(p):
                    b.res["hook_freed"] += 1
                    return self._goto(b, i, "keep_locked")
        return "unmap"

    def _sp_unmap(self, b, i, p):
        if p.mapcount > 0 and p.has(PG.swapcache):
            r = self.try_to_unmap(p)
            if r == "FAIL":
                return self._goto(b, i, "activate")
            if r == "AGAIN":
                return self._goto(b, i, "keep_locked")
            if r == "MLOCK":
                return self._goto(b, i, "cull")
        return "pageout"

    def _sp_pageout(self, b, i, p):
        if p.has(PG.dirty):
            if b.referenced[i]:
                return self._goto(b, i, "keep_locked")
            if not b.may_writepage:
                return self._goto(b, i, "keep_locked")
            r = self.pageout(b, p)
            if r == "KEEP":
                return self._goto(b, i, "keep_locked")
            if r == "SUCCESS":
                if p.has(PG.writeback) or p.has(PG.dirty):
                    return self._goto(b, i, "keep")
                raise AssertionError("synchronous swap write")
        return "remove"

    def pageout(self, b, p):
        b.res["pageout"] += 1
        if p.count != 2 or not p.has(PG.swapcache):
            b.res["pageout_keep"] += 1
            self.counters["pageout_keep"] += 1
            return "KEEP"
        if len(self.writes) >= 113:
            raise Unmodeled("congested swap device")
        # clear_page_dirty_for_io succeeded (the page is dirty)
        p.clear(PG.dirty)
        p.set(PG.reclaim)
        # swap_writepage (K2.11)
        if self.try_to_free_swap(p):
            p.clear(PG.locked)
            self.counters["writepage_freed_swap"] += 1
        else:
            p.set(PG.writeback)
            p.clear(PG.locked)
            self.submit_write(p.pfn)
            self.counters["pswpout"] += 1
        if not p.has(PG.writeback):
            p.clear(PG.reclaim)
        self.counters["pageout_success"] += 1
        return "SUCCESS"

    def _sp_remove(self, b, i, p):
        if not p.has(PG.swapcache):
            return self._goto(b, i, "keep_locked")
        # __remove_mapping: freeze refs at 2 (cache + isolation), fail if dirty
        if p.count != 2 or p.has(PG.dirty):
            return self._goto(b, i, "keep_locked")
        p.count = 2
        self._delete_from_swap_cache_nodrop(p)
        p.count = 0
        # K3 step 10 clears the lock bit here; the engine does it at the "label" stop
        # point, together with the free (nobody can reach the page in between)
        return self._goto(b, i, "free")

    def _sp_label(self, b, i, p):
        a = b.action[i]
        if a == "free":
            p.clear(PG.locked)
            b.res["reclaimed"] += 1
            self.free_page(p)
            b.outcome[i] = "freed"
        elif a == "activate":
            if p.has(PG.swapcache) and self.vm_swap_full():
                self.try_to_free_swap(p)
            p.set(PG.active)
            b.res["activated"] += 1
            self.counters["pgactivate"] += 1
            p.clear(PG.locked)
            b.outcome[i] = "activated"
        elif a == "keep_locked":
            p.clear(PG.locked)
            b.outcome[i] = "kept"
        elif a == "keep":
            b.outcome[i] = "kept"
        elif a == "cull":
            if p.has(PG.swapcache):
                self.try_to_free_swap(p)
            p.clear(PG.locked)
            self.putback_lru_page(p)
            b.outcome[i] = "culled"
        else:
            raise AssertionError(a)
        return "label_done"

    def shrink_page_list(self, bid):
        b = self.batches[bid]
        if b.done:
            raise ModelStateError("already shrunk")
        return self._finish_batch(b)

    def _finish_batch(self, b):
        while b.phase != "putback":
            self._batch_step(b)
        # putback (shrink_inactive_list): batch order, each at the head of its list, then the
        # isolation references are dropped
        kept = [self.pages[pfn] for pfn, o in zip(b.pages, b.outcome) if o in ("kept", "activated")]
        release = []
        for p in kept:
            if p.has(PG.mlocked):
                # mlocked while isolated: putback_lru_page (unevictable list, drops the ref)
                self.putback_lru_page(p)
                continue
            self.lru_add(p)
            if p.has(PG.active):
                self.rstat_of(b.memcg).rotated += 1
            release.append(p)
        for p in release:
            self.put_page(p)
        self.tick(PHASE_COST["putback"])
        b.phase = "done"
        b.done = True
        # the engine adds a batch's event counts to its counters when the batch ends, as
        # shrink_inactive_list counts PGSCAN/PGSTEAL after shrink_page_list
        for k, c in (("scanned", "pgscan"), ("reclaimed", "pgsteal"), ("hook_calls", "hook_calls"),
                     ("hook_freed", "hook_freed")):
            self.counters[c] += b.res[k]
        return dict(b.res)

    # ---------------------------------------------------------- shrink_active_list (2.6.30 vmscan.c)

    def _take_from_tail(self, mid, lru, nr):
        """The first nr pages from the tail of a zone list, or of memcg mid's list skipping
        pages that are no longer charged or on the LRU (mem_cgroup_isolate_pages)."""
        if not mid:
            return [self.pages[pfn] for pfn in list(reversed(self.zone[lru]))[:nr]]
        taken = []
        for pfn in reversed(self.memcgs[mid].lru[lru]):
            if len(taken) >= nr:
                break
            p = self.pages[pfn]
            if p.has(PG.USED) and p.has(PG.lru):
                taken.append(p)
        return taken

    def shrink_active_list(self, mid, nr):
        """shrink_active_list (2.6.30) in chunks of SWAP_CLUSTER_MAX: every evictable page
        moves to the head of the inactive list; the referenced ones count as rotated for
        get_scan_ratio (see ReclaimStat).  A chunk that takes nothing ends it."""
        rs = self.rstat_of(mid)
        moved = 0
        while nr > 0:
            chunk = min(nr, SWAP_CLUSTER_MAX)
            nr -= chunk
            taken = self._take_from_tail(mid, LRU_ACTIVE_ANON, chunk)
            for p in taken:
                p.count += 1
                self.lru_del(p)
            rs.scanned += len(taken)
            for p in taken:
                if p.has(PG.mlocked):
                    # putback_lru_page: to the unevictable list
                    self.putback_lru_page(p)
                    continue
                if (p.mapcount > 0 or p.has(PG.swapcache)) and self.page_referenced(p, mid):
                    rs.rotated += 1
                p.clear(PG.active)
                self.lru_add(p)
                self.put_page(p)
                moved += 1
            if not taken:
                break
        # no pagevec_swap_free here: "mm: don't free swap slots on page deactivation"
        # (J. Weiner, Feb 2009) removed it before 2.6.30
        self.counters["pgdeactivate"] += moved
        return moved

    # ---------------------------------------------------------- reclaim drivers (K2.14, DS "Reclaim")

    def select_victim_memcg(self, root):
        """mem_cgroup_select_victim: root itself without hierarchy; otherwise round robin by
        id over root's subtree, root included, from root.last_scanned_child + 1 (K2.14)."""
        if not root.use_hierarchy:
            return root
        ids = {m.id for m in self.subtree(root)}
        while True:
            for mid in sorted(ids):
                if mid > root.last_scanned_child:
                    root.last_scanned_child = mid
                    return self.memcgs[mid]
            root.last_scanned_child = 0

    def hierarchical_reclaim(self, root, noswap, swap_cluster_max, shrink=False):
        """mem_cgroup_hierarchical_reclaim (K2.14, DS "Reclaim"): reclaim from the
        subtree's memcgs in turn, skipping those with nothing charged locally, until root is
        under its limit (returns 1 + pages) or root has been visited twice (returns pages).
        shrink (2.6.30's limit writes): return after the first memcg it reclaimed from."""
        self.start_clock()
        loop = 0
        total = 0
        while loop < 2:
            victim = self.select_victim_memcg(root)
            if victim is root:
                loop += 1
            if not victim.rss and not victim.cache:
                continue
            ret = self.try_to_free_mem_cgroup_pages(victim, noswap, swap_cluster_max)
            if shrink:
                return ret
            total += ret
            if self.check_under_limit(root):
                return 1 + total
        return total

    def _lists(self, mc):
        """The lists a reclaim scans: the memcg's, or the zone's (global reclaim)."""
        return mc.lru if mc is not None else self.zone

    def get_scan_ratio(self, mc, may_swap, swappiness):
        """get_scan_ratio (K2.14): anon's share of the scan pressure, in percent.  The
        integer arithmetic is 2.6.30's (vmscan.c, K7), as the engine has it: global reclaim
        scans only anon when file + free pages are at most pages_high; halve
        recent_scanned/rotated once scanned exceeds a quarter of the lists, then
        ap = (swappiness + 1) * (scanned + 1) / (rotated + 1), fp likewise with 200 - swappiness
        and the (empty) file half, percent = 100 * ap / (ap + fp + 1)."""
        if not may_swap or self.nr_swap_pages <= 0:
            return 0
        lists = self._lists(mc)
        anon = len(lists[LRU_ACTIVE_ANON]) + len(lists[LRU_INACTIVE_ANON])
        if mc is None and 0 + len(self.free) <= self.pages_high:
            return 100
        rs = mc.rstat if mc is not None else self.zone_rstat
        if rs.scanned > anon // 4:
            rs.scanned //= 2
            rs.rotated //= 2
        ap = (swappiness + 1) * (rs.scanned + 1) // (rs.rotated + 1)
        fp = (200 - swappiness + 1) * 1 // 1
        return 100 * ap // (ap + fp + 1)

    def inactive_anon_is_low(self, mc):
        """inactive * ratio < active.  The memcg's ratio is sqrt(10 * GB) of its anon pages,
        at least 1 (mem_cgroup_inactive_anon_is_low); the zone's is fixed at set-up, sqrt(10 *
        GB) of RAM (setup_per_zone_inactive_ratio)."""
        lists = self._lists(mc)
        inactive, active = len(lists[LRU_INACTIVE_ANON]), len(lists[LRU_ACTIVE_ANON])
        gb = ((inactive + active) if mc is not None else len(self.pages)) >> 18
        ratio = 1
        if gb:
            ratio = 0
            while (ratio + 1) * (ratio + 1) <= 10 * gb:
                ratio += 1
        return inactive * ratio < active

    def try_to_free_mem_cgroup_pages(self, mc, noswap, swap_cluster_max):
        """try_to_free_mem_cgroup_pages (K2.14): do_try_to_free_pages on the memcg's lists."""
        self.counters["memcg_reclaims"] += 1
        return self.do_try_to_free_pages(mc, noswap, swap_cluster_max)

    def _shrink_zone(self, mc, priority, scm, may_swap, may_writepage, nr_reclaimed, kswapd=False):
        """shrink_zone for one priority (DS "Reclaim"), after the driver's 100 ns of set-up.
        nr_reclaimed is sc->nr_reclaimed so far; returns (pages scanned, pages reclaimed) in
        this call."""
        mid = mc.id if mc is not None else 0
        lists = self._lists(mc)
        swappiness = mc.swappiness if mc is not None else 60     # vm_swappiness
        percent = self.get_scan_ratio(mc, may_swap, swappiness)
        nr = [0] * 4
        for lru in range(4):
            file = lru >= LRU_INACTIVE_FILE
            scan = len(lists[lru])
            if priority:
                scan >>= priority
                scan = scan * (100 - percent if file else percent) // 100
            if mc is None:
                # global reclaim: small targets add up in the zone until they reach
                # swap_cluster_max (zone->lru[l].nr_scan)
                self.zone_nr_scan[lru] += scan
                nr[lru] = self.zone_nr_scan[lru]
                if nr[lru] >= scm:
                    self.zone_nr_scan[lru] = 0
                else:
                    nr[lru] = 0
            else:
                nr[lru] = scan
        self.tick(COST_RECLAIM_NS)
        scanned = reclaimed = 0
        lru = 0
        while nr[LRU_INACTIVE_ANON] or nr[LRU_ACTIVE_FILE] or nr[LRU_INACTIVE_FILE]:
            while lru < 4 and not nr[lru]:
                lru += 1
            if lru == 4:
                # 2.6.30 shrink_zone's bail-out compares its running nr_reclaimed, which starts
                # at sc->nr_reclaimed (cumulative over the priorities of this
                # do_try_to_free_pages), with swap_cluster_max; not for kswapd
                if nr_reclaimed + reclaimed > scm and priority < DEF_PRIORITY and not kswapd:
                    break
                lru = 0
                continue
            l = lru
            lru += 1
            nr_to_scan = min(nr[l], scm)
            nr[l] -= nr_to_scan
            if l >= LRU_INACTIVE_FILE:
                continue                        # no page cache
            if l == LRU_ACTIVE_ANON and self.inactive_anon_is_low(mc):
                self.shrink_active_list(mid, nr_to_scan)
                self.tick(COST_PAGE_LRU_NS * nr_to_scan)
                continue
            # shrink_inactive_list: batches until nr_to_scan pages were taken
            taken_total = 0
            while True:
                b = self._isolate_batch(mid, min(scm, SWAP_CLUSTER_MAX), may_writepage)
                self._finish_batch(b)
                scanned += b.res["scanned"]
                reclaimed += b.res["reclaimed"]
                taken_total += len(b.pages)
                if not b.pages or taken_total >= nr_to_scan:
                    break
        # the end of shrink_zone: rebalance the anon lists
        if self.inactive_anon_is_low(mc):
            self.shrink_active_list(mid, SWAP_CLUSTER_MAX)
        return scanned, reclaimed

    def do_try_to_free_pages(self, mc, noswap, swap_cluster_max):
        """do_try_to_free_pages -> shrink_zone, for one memcg or (mc None) the zone (K2.14;
        DS "Reclaim": priorities 12..0, nr[] targets from get_scan_ratio, the zone
        accumulating small global targets, batches of swap_cluster_max (at most 32),
        congestion_wait after priority 9 when pages were scanned, may_writepage after 1.5 *
        swap_cluster_max scanned; memcg reclaim reports progress only for a whole
        swap_cluster_max).  Time: 100 ns for each priority's set-up and end, the batches' stop
        points, 50 ns per page for shrink_active_list in shrink_list (DS "Time"; the engine's
        reclaim_step)."""
        scm = swap_cluster_max if swap_cluster_max > 0 else SWAP_CLUSTER_MAX
        may_writepage = not self.laptop_mode
        may_swap = not noswap
        total_scanned = 0
        nr_reclaimed = 0
        for priority in range(DEF_PRIORITY, -1, -1):
            nr_scanned, got = self._shrink_zone(mc, priority, scm, may_swap, may_writepage, nr_reclaimed)
            nr_reclaimed += got
            total_scanned += nr_scanned
            if nr_reclaimed >= scm:
                self.tick(COST_RECLAIM_NS)
                return nr_reclaimed
            if total_scanned > scm + scm // 2:
                may_writepage = True
            if nr_scanned and priority < DEF_PRIORITY - 2:
                self.congestion_wait()
            self.tick(COST_RECLAIM_NS)
        # priority 0 done: global reclaim reports what it reclaimed; memcg reclaim reports
        # progress only through the goto out above
        return nr_reclaimed if mc is None else 0

    def zone_watermark_ok_high(self):
        return len(self.free) > self.pages_high

    def balance_pgdat(self):
        """kswapd's balance_pgdat (DS "Reclaim": one sweep of priorities 12..0 over the zone;
        it sweeps again while it reclaims and the zone stays at or below its high watermark).
        Each priority first rebalances the anon lists and stops once the zone is above the
        high watermark; kswapd writes after 2 batches scanned when it reclaims less than 2/3
        of what it scans; congestion_wait after priority 9 when pages were scanned in the
        sweep.  Time as in do_try_to_free_pages."""
        self.counters["kswapd_runs"] += 1
        scm = SWAP_CLUSTER_MAX
        may_writepage = not self.laptop_mode
        total_scanned = 0
        nr_reclaimed = 0
        priority = DEF_PRIORITY
        while True:
            if self.inactive_anon_is_low(None):
                self.shrink_active_list(0, SWAP_CLUSTER_MAX)
            if self.zone_watermark_ok_high():
                self.tick(COST_RECLAIM_NS)
                return
            nr_scanned, got = self._shrink_zone(None, priority, scm, True, may_writepage, nr_reclaimed,
                                                kswapd=True)
            nr_reclaimed += got
            total_scanned += nr_scanned
            if total_scanned > 2 * SWAP_CLUSTER_MAX and total_scanned > nr_reclaimed + nr_reclaimed // 2:
                may_writepage = True
            if self.zone_watermark_ok_high():
                self.tick(COST_RECLAIM_NS)
                return
            if total_scanned and priority < DEF_PRIORITY - 2:
                self.congestion_wait()
            if nr_reclaimed >= SWAP_CLUSTER_MAX or priority == 0:
                if not nr_reclaimed:
                    self.tick(COST_RECLAIM_NS)
                    return
                # loop_again: a new sweep
                priority = DEF_PRIORITY
                total_scanned = 0
                nr_reclaimed = 0
                may_writepage = not self.laptop_mode
                self.tick(COST_RECLAIM_NS)
                continue
            priority -= 1
            self.tick(COST_RECLAIM_NS)

    def wakeup_kswapd(self):
        """DS "Reclaim": in the synchronous API kswapd runs at the end of a fault call that
        leaves free memory below the low watermark (with a swap device)."""
        if len(self.free) >= self.pages_low or not self.nr_swap:
            return
        self.start_clock()
        self.balance_pgdat()

    def reclaim(self, mid, nr):
        """eng.reclaim(cgroup, nr) for a cgroup (Engine.reclaim): one mem_cgroup_hierarchical_reclaim
        of its subtree that may swap, with swap_cluster_max = nr.  Returns the engine's result
        (counter deltas)."""
        if nr < 1:
            raise ValueError("nr must be positive")
        before = dict(self.counters)
        self.start_clock()
        if mid:
            self.hierarchical_reclaim(self.memcgs[mid], False, nr)
        else:
            # global direct reclaim (do_try_to_free_pages over the zone)
            self.counters["direct_reclaims"] += 1
            self.do_try_to_free_pages(None, False, nr)
        d = {k: self.counters[k] - before[k] for k in self.counters}
        return {"isolated": 0, "scanned": d["pgscan"], "reclaimed": d["pgsteal"], "hook_calls": d["hook_calls"],
                "hook_freed": d["hook_freed"], "activated": d["pgactivate"],
                "pageout": d["pageout_keep"] + d["pageout_activate"] + d["pageout_success"] + d["pageout_clean"],
                "pageout_keep": d["pageout_keep"]}

    # ---------------------------------------------------------- swap writeback completion (K2.11)

    def complete_writes(self, n):
        done = 0
        while self.writes and done < n:
            pfn = self.writes.pop(0)
            self.write_due.pop(0)
            p = self.pages[pfn]
            if p.has(PG.reclaim):
                p.clear(PG.reclaim)
                self.rotate_reclaimable_page(p)
            p.clear(PG.writeback)
            self.counters["writeback_done"] += 1
            done += 1
        return done

    def end_writeback(self, n=None):
        return self.complete_writes(len(self.writes) if n is None else n)

    def rotate_reclaimable_page(self, p):
        """2.6.30: to the tail of the zone inactive list; the memcg list is not touched."""
        if (not p.has(PG.locked) and not p.has(PG.dirty) and not p.has(PG.active)
                and not p.has(PG.unevictable) and p.has(PG.lru)):
            self.zone[p.zlru].remove(p.pfn)
            self.zone[p.zlru].append(p.pfn)
            self.counters["pgrotated"] += 1

    # ---------------------------------------------------------- cgroups

    def mkdir(self, parent_id):
        parent = self.memcgs[parent_id]
        mc = Memcg(self.next_memcg, parent)
        self.next_memcg += 1
        parent.children.append(mc.id)
        self.memcgs[mc.id] = mc
        return mc.id

    def set_limit(self, mid, val, memsw):
        """mem_cgroup_resize_limit / _memsw_limit (DS "Reclaim"): a limit below the usage
        first reclaims from the subtree, one memcg a round (mem_cgroup_hierarchical_reclaim
        with shrink, K2.14; without swapping for memsw), retrying while the
        usage falls, at most MEM_CGROUP_RECLAIM_RETRIES times per memcg of its subtree without
        progress; then EBUSY.  The reclaim it did stays done."""
        mc = self.memcgs[mid]
        if memsw:
            if not self.swap_account:
                raise ModelCgroupError(errno.ENOENT)
            if mc.res.limit > val:
                raise ModelCgroupError(errno.EINVAL)
        elif self.swap_account and mc.memsw.limit < val:
            raise ModelCgroupError(errno.EINVAL)
        counter = mc.memsw if memsw else mc.res
        retries = MEM_CGROUP_RECLAIM_RETRIES * len(self.subtree(mc))
        oldusage = counter.usage
        while retries:
            if counter.usage <= val:
                counter.limit = val
                return
            self.start_clock()
            self.hierarchical_reclaim(mc, memsw, SWAP_CLUSTER_MAX, shrink=True)
            if counter.usage >= oldusage:
                retries -= 1
            else:
                oldusage = counter.usage
        raise ModelCgroupError(errno.EBUSY, "usage above the new limit")

    def reset(self, mid, which):
        mc = self.memcgs[mid]
        if which in ("memsw.max_usage", "memsw.failcnt") and not self.swap_account:
            raise ModelCgroupError(errno.ENOENT)
        c = mc.memsw if which.startswith("memsw.") else mc.res
        if which.endswith("max_usage"):
            c.max_usage = c.usage
        else:
            c.failcnt = 0

    def set_use_hierarchy(self, mid, val):
        mc = self.memcgs[mid]
        parent = self.parent_of(mc)
        if parent is None or not parent.use_hierarchy:
            if val not in (0, 1):
                raise ModelCgroupError(errno.EINVAL)
            if mc.children:
                raise ModelCgroupError(errno.EBUSY)
            mc.use_hierarchy = val
        else:
            raise ModelCgroupError(errno.EINVAL)

    def set_swappiness(self, mid, val):
        mc = self.memcgs[mid]
        if val > 100:
            raise ModelCgroupError(errno.EINVAL)
        parent = self.parent_of(mc)
        if parent is None:
            raise ModelCgroupError(errno.EINVAL)
        # not in KS; 2.6.30 mem_cgroup_swappiness_write: only an empty hierarchy root
        if parent.use_hierarchy or (mc.use_hierarchy and mc.children):
            raise ModelCgroupError(errno.EINVAL)
        mc.swappiness = val

    # ---------------------------------------------------------- observation

    def hierarchical_limits(self, mc):
        lim, swl = mc.res.limit, mc.memsw.limit
        if mc.use_hierarchy:
            m = self.parent_of(mc)
            while m is not None and m.use_hierarchy:
                lim = min(lim, m.res.limit)
                swl = min(swl, m.memsw.limit)
                m = self.parent_of(m)
        return lim, swl

    def stat(self, mid):
        mc = self.memcgs[mid]
        names = ("inactive_anon", "active_anon", "inactive_file", "active_file", "unevictable")
        out = {"cache": mc.cache * PAGE_SIZE, "rss": mc.rss * PAGE_SIZE, "pgpgin": mc.pgpgin,
               "pgpgout": mc.pgpgout}
        out.update((n, len(mc.lru[k]) * PAGE_SIZE) for k, n in enumerate(names))
        lim, swl = self.hierarchical_limits(mc)
        out["hierarchical_memory_limit"] = lim
        if self.swap_account:
            out["hierarchical_memsw_limit"] = swl
        tree = self.subtree(mc) if mc.use_hierarchy else [mc]
        out.update({"total_cache": sum(m.cache for m in tree) * PAGE_SIZE,
                    "total_rss": sum(m.rss for m in tree) * PAGE_SIZE,
                    "total_pgpgin": sum(m.pgpgin for m in tree),
                    "total_pgpgout": sum(m.pgpgout for m in tree)})
        out.update(("total_" + n, sum(len(m.lru[k]) for m in tree) * PAGE_SIZE) for k, n in enumerate(names))
        return out

    def counters_of(self, mid):
        mc = self.memcgs[mid]
        return {"res": (mc.res.usage, mc.res.max_usage, mc.res.limit, mc.res.failcnt),
                "memsw": (mc.memsw.usage, mc.memsw.max_usage, mc.memsw.limit, mc.memsw.failcnt),
                "refcnt": mc.refcnt, "use_hierarchy": mc.use_hierarchy, "swappiness": mc.swappiness}

    def links(self):
        """lru_prev/lru_next/mlru_prev/mlru_next as the engine shows them: -1 ends a list;
        the free list is chained through lru_next."""
        n = len(self.pages)
        lp, ln, mp, mn = [-1] * n, [-1] * n, [-1] * n, [-1] * n
        for lst in self.zone:
            for k, pfn in enumerate(lst):
                lp[pfn] = lst[k - 1] if k else -1
                ln[pfn] = lst[k + 1] if k + 1 < len(lst) else -1
        for k, pfn in enumerate(self.free):
            ln[pfn] = self.free[k + 1] if k + 1 < len(self.free) else -1
        for mc in self.memcgs.values():
            for lst in mc.lru:
                for k, pfn in enumerate(lst):
                    mp[pfn] = lst[k - 1] if k else -1
                    mn[pfn] = lst[k + 1] if k + 1 < len(lst) else -1
        return lp, ln, mp, mn

    def meminfo(self):
        P = PAGE_SIZE
        swapfree = self.nr_swap_pages
        return {"MemTotal": len(self.pages) * P, "MemFree": len(self.free) * P,
                "SwapTotal": self.total_swap_pages * P, "SwapFree": swapfree * P,
                "SwapCached": len(self.swap_cache) * P,
                "Active(anon)": len(self.zone[LRU_ACTIVE_ANON]) * P,
                "Inactive(anon)": len(self.zone[LRU_INACTIVE_ANON]) * P,
                "Unevictable": len(self.zone[LRU_UNEVICTABLE]) * P,
                "Mlocked": sum(1 for p in self.pages if p.has(PG.mlocked)) * P,
                "AnonPages": sum(1 for p in self.pages if p.mapcount > 0) * P}

    def task_info(self, pid):
        t = self.tasks[pid]
        return {"alive": int(t.alive), "oom_killed": int(t.oom_killed), "memcg": t.memcg,
                "anon_vma": t.family,
                "rss": sum(1 for v in t.ptes.values() if v & PTE.PRESENT),
                "swap_ptes": sum(1 for v in t.ptes.values() if v & PTE.SWAP),
                "gather_nr": len(t.gather),
                "locked_ptes": sum(1 for v in t.ptes.values() if v & PTE.LOCKED)}

    def swap_ptes(self):
        """ptes(E) for every slot."""
        out = [0] * self.nr_swap
        for t in self.tasks.values():
            if t.alive:
                for v in t.ptes.values():
                    if v & PTE.SWAP:
                        out[v >> PTE.SHIFT] += 1
        return out

    def leaks(self):
        """K4.4 definitions."""
        ptes = self.swap_ptes()
        out = dict(stale_swapcache=0, stale_swapcache_type1=0, stale_swapcache_type2=0, leaked_swap_entries=0,
                   leaked_memsw=0, orphan_charged_swapcache=0)
        stale_slots = set()
        for slot, pfn in self.swap_cache.items():
            p = self.pages[pfn]
            if p.mapcount == 0 and ptes[slot] == 0:
                if p.has(PG.USED):
                    out["orphan_charged_swapcache"] += 1
                else:
                    out["stale_swapcache"] += 1
                    out["stale_swapcache_type2" if p.has(PG.anon) else "stale_swapcache_type1"] += 1
                    stale_slots.add(slot)
        for slot in range(1, self.nr_swap):
            if self.swap_map[slot] and self.swap_map[slot] != SWAP_MAP_BAD[self.kernel] and ptes[slot] == 0:
                if slot not in self.swap_cache or slot in stale_slots:
                    out["leaked_swap_entries"] += 1
            if self.swap_cgroup[slot] and ptes[slot] == 0:
                out["leaked_memsw"] += 1
        return out


