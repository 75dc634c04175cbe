"""The two 2009 races of docs/semantics.md K4, replayed with the step API, and what
reclaims their leftovers (K2.13, K2.14, K3, K5).

Type-2 (K4.1): the owner's last unmap uncharges the page after reclaim isolated it and
before add_to_swap; the page then leaves shrink_page_list by a keep path (laptop mode,
a congested swap device, or a parked mmu_gather reference whose flush fails its trylock)
and stays in the swap cache, uncharged and off every memcg list.  Without the seed hook
it is stale on both kernels; with hook="seed" it is freed right after add_to_swap.

With hook="uncharge-at-free" (3.17's charge lifetime, docs/strategies.md) the unmap does not
uncharge: the page enters the swap cache charged, goes back on its memcg's list and is an
orphan charged page, which that memcg's reclaim frees.

Type-1 (K4.2): a readahead page of a slot is in flight (locked) while the slot's last
pte is zapped; free_swap_and_cache's trylock fails.  2.6.30 leaks the slot's memsw charge,
2.6.31 uncharges it when the pte user count reaches 0; no strategy changes that.

Every engine is small and every assertion is an exact count.  conftest.py runs
eng.check() on every engine at the end of each test.
"""
import numpy as np
import pytest

import pymemcg
from pages import delta, flags, pfn_of, slot_of, swap_out
from pymemcg import PCG_LINKED, PCG_USED, PG_active, PG_anon, PG_buddy, PG_locked, PG_lru, PG_swapcache

P = pymemcg.PAGE_SIZE
KERNELS = ("2.6.30", "2.6.31")
COMBOS = [(k, h) for k in KERNELS for h in ("none", "seed", "uncharge-at-free")]
CACHE_ONLY = {"2.6.30": 1, "2.6.31": 0x8000}       # swap_map of a slot held by the swap cache alone
NO_LEAKS = dict(stale_swapcache=0, stale_swapcache_type1=0, stale_swapcache_type2=0,
                leaked_swap_entries=0, leaked_memsw=0, orphan_charged_swapcache=0)


def leaks(type1=0, type2=0, entries=None, memsw=0, orphan=0):
    return dict(stale_swapcache=type1 + type2, stale_swapcache_type1=type1, stale_swapcache_type2=type2,
                leaked_swap_entries=type1 + type2 if entries is None else entries, leaked_memsw=memsw,
                orphan_charged_swapcache=orphan)


def pages(nbytes):
    return nbytes // P


def congest(eng, cg, n=200):
    """Fill the swap device's write queue from cg's pages (direct reclaim, no
    end_writeback) until the block layer calls it congested (113 writes in flight)."""
    filler = eng.spawn(cg)
    filler.fault(range(n))
    eng.shrink_active_list(cg, n)
    while not eng.io()["write_congested"]:
        eng.shrink_page_list(eng.isolate(cg, 32))
    assert eng.io()["writes_in_flight"] >= 103
    return filler


def type2(eng, x, n, path):
    """The Type-2 interleaving of K4.1 on n fresh pages of a new task in x, leaving
    shrink_page_list by `path`.  Returns (task, pfns, the batch's result dict)."""
    a = eng.spawn(x)
    a.fault(range(n))
    pfns = [pfn_of(a, v) for v in range(n)]
    assert eng.shrink_active_list(x, n) == n
    if path == "laptop":
        eng.laptop_mode = True
    elif path == "congested":
        assert eng.io()["write_congested"]
    batch = eng.isolate(x, n)                                      # step 1
    assert list(batch.pages) == pfns                               # oldest first
    batch.step_until("add_to_swap", page=0)                        # step 2
    if path == "gather":
        assert a.zap(range(n), flush=False) == n                   # steps 3, 4
        batch.step_until("label", page=n - 1)                      # steps 5, 6
        a.tlb_flush()                                              # step 7
    else:
        assert a.zap(range(n), flush=True) == n                    # steps 3, 4 and 7
    result = eng.shrink_page_list(batch)                           # steps 5, 6, 8
    eng.laptop_mode = False
    return a, pfns, result


def assert_stale(eng, pfn, owner, kernel):
    """K4.1's final state: in the swap cache, PageAnon, unmapped, uncharged (pc->mem_cgroup
    stale), not on the memcg list, on the zone inactive list, only the cache's reference;
    its slot is cache-only and has no swap_cgroup record."""
    f = flags(eng, pfn)
    assert f & PG_swapcache and f & PG_anon and f & PG_lru, hex(f)
    assert not f & (PCG_USED | PCG_LINKED | PG_active | PG_locked), hex(f)
    assert eng.pages.mapcount[pfn] == 0
    assert eng.pages.count[pfn] == 1
    assert eng.pages.memcg[pfn] == owner
    slot = int(eng.pages.private[pfn])
    assert eng.swap_map[slot] == CACHE_ONLY[kernel]
    assert eng.swap_cgroup[slot] == 0
    return slot


# ---------------------------------------------------------------- Type-2, four combinations per keep path


@pytest.mark.parametrize("kernel,hook", COMBOS)
@pytest.mark.parametrize("path", ["laptop", "congested", "gather"])
def test_type2(kernel, hook, path):
    eng = pymemcg.Engine(ram="64M", swap="64M", kernel=kernel, hook=hook)
    x, y = eng.mkdir("x"), eng.mkdir("y")
    if path == "congested":
        congest(eng, y)
    n = 1 if path == "gather" else 4
    before = eng.counters()
    swap_before, cached_before = eng.meminfo()["SwapFree"], eng.meminfo()["SwapCached"]
    a, pfns, res = type2(eng, x, n, path)
    c = delta(before, eng.counters())
    owner = x._id

    assert res["isolated"] == n
    assert res["scanned"] == n + 1        # page 0 was still mapped at its trylock: it counts twice
    assert res["reclaimed"] == 0          # the hook's frees are not counted (K3 step 6)
    assert res["activated"] == 0
    held = n * P if hook == "uncharge-at-free" else 0          # 3.17: charged until freed
    assert x.usage_in_bytes == x.memsw_usage_in_bytes == held   # else the uncharge itself is right
    assert c.get("free_swap_trylock_failed", 0) == (1 if path == "gather" and hook != "seed" else 0)
    assert c.get("swapouts", 0) == n      # every page went through add_to_swap
    assert a.rss == 0 and a.gather_pending == 0

    if hook == "none":
        assert res["hook_calls"] == res["hook_freed"] == 0
        keep = 0 if path == "laptop" else n          # laptop mode never calls pageout
        assert res["pageout"] == keep and res["pageout_keep"] == keep
        assert eng.leaks() == leaks(type2=n)
        slots = sorted(assert_stale(eng, pfn, owner, kernel) for pfn in pfns)
        assert len(set(slots)) == n
        assert eng.meminfo()["SwapCached"] == cached_before + n * P
        assert eng.meminfo()["SwapFree"] == swap_before - n * P
        assert x.stat()["inactive_anon"] == 0 and x.stat()["rss"] == 0
    elif hook == "uncharge-at-free":
        assert res["hook_calls"] == res["hook_freed"] == 0
        assert eng.strategy_counters()["deferred_at_unmap"] == n
        keep = 0 if path == "laptop" else n
        assert res["pageout"] == keep and res["pageout_keep"] == keep
        assert eng.leaks() == leaks(orphan=n, entries=0)
        assert all(flags(eng, pfn) & (PCG_USED | PCG_LINKED | PG_swapcache) == PCG_USED | PCG_LINKED | PG_swapcache
                   for pfn in pfns)
        assert x.stat()["inactive_anon"] == x.stat()["rss"] == n * P
        assert eng.meminfo()["SwapCached"] == cached_before + n * P
    else:
        assert res["hook_calls"] == n and res["hook_freed"] == n
        assert c["hook_calls"] == n and c["hook_freed"] == n
        assert res["pageout"] == 0 and res["pageout_keep"] == 0
        assert eng.leaks() == NO_LEAKS
        assert all(flags(eng, pfn) & PG_buddy for pfn in pfns)
        assert eng.meminfo()["SwapCached"] == cached_before
        assert eng.meminfo()["SwapFree"] == swap_before
    if path != "congested":
        free = eng.meminfo()["MemFree"]
        assert free == eng.meminfo()["MemTotal"] - (0 if hook == "seed" else n * P)
    eng.end_writeback()
    assert eng.leaks() == {"none": leaks(type2=n), "seed": NO_LEAKS, "uncharge-at-free": leaks(orphan=n, entries=0)}[hook]
    if hook == "uncharge-at-free":                  # the orphans are on x's list: x's reclaim frees them
        eng.reclaim(x)
        eng.end_writeback()
        eng.reclaim(x)
        assert eng.leaks() == NO_LEAKS and x.usage_in_bytes == x.memsw_usage_in_bytes == 0
        assert all(flags(eng, pfn) & PG_buddy for pfn in pfns)


@pytest.mark.parametrize("kernel,hook", COMBOS)
def test_type2_gather_only_the_locked_page_goes_stale(kernel, hook):
    """Four pages, all unmapped with their refs parked; the flush comes while reclaim holds
    page 2's lock after pageout said PAGE_KEEP.  Pages 0-1 (unlocked by then) are freed from
    the swap cache by free_swap_cache, page 3 (not yet in the cache) later reaches pageout
    with the expected count and swap_writepage drops its slot: only page 2 is stale."""
    eng = pymemcg.Engine(ram="64M", swap="64M", kernel=kernel, hook=hook)
    x = eng.mkdir("x")
    a = eng.spawn(x)
    a.fault(range(4))
    eng.shrink_active_list(x, 4)
    b = eng.isolate(x, 4)
    b.step_until("add_to_swap", page=0)
    a.zap(range(4), flush=False)
    b.step_until("label", page=2)
    pfn2 = int(b.pages[2])
    if hook == "none":
        assert eng.pages.count[pfn2] == 3 and flags(eng, pfn2) & PG_locked   # isolation, cache, gather
    before = eng.counters()
    assert a.tlb_flush() == 4
    c = delta(before, eng.counters())
    res = eng.shrink_page_list(b)
    assert res["hook_calls"] == (4 if hook == "seed" else 0)
    assert res["hook_freed"] == (4 if hook == "seed" else 0)
    if hook != "seed":
        assert c["free_swap_trylock_failed"] == 1
        assert res["pageout"] == 4 and res["pageout_keep"] == 3   # page 3 was written (slot dropped)
        assert eng.counters()["writepage_freed_swap"] == 1
        assert eng.meminfo()["MemFree"] == eng.meminfo()["MemTotal"] - P
    if hook == "none":
        assert eng.leaks() == leaks(type2=1)
        assert_stale(eng, pfn2, x._id, kernel)
    elif hook == "uncharge-at-free":                  # page 2 charged and on x's list; 0, 1, 3 freed
        assert eng.leaks() == leaks(orphan=1, entries=0)
        assert flags(eng, pfn2) & PCG_LINKED and x.usage_in_bytes == P
        assert eng.strategy_counters() == {"deferred_at_unmap": 4, "deferred_at_swapcache_delete": 3,
                                           "uncharged_at_free": 3}
    else:
        assert "free_swap_trylock_failed" not in c
        assert eng.leaks() == NO_LEAKS
        assert eng.meminfo()["MemFree"] == eng.meminfo()["MemTotal"]
    assert eng.meminfo()["SwapCached"] == (0 if hook == "seed" else P)


@pytest.mark.parametrize("kernel,hook", COMBOS)
def test_type2_unmap_before_isolation_by_global_reclaim(kernel, hook):
    """K4.1 variant: step 3 before step 1.  The unmapped, uncharged page is skipped by memcg
    isolation (not USED) but global isolation takes it; the hook catches this too."""
    eng = pymemcg.Engine(ram="64M", swap="64M", kernel=kernel, hook=hook)
    x = eng.mkdir("x")
    a = eng.spawn(x)
    a.fault(0)
    pfn = pfn_of(a, 0)
    eng.shrink_active_list(x, 1)
    a.zap(0, flush=False)
    if hook == "uncharge-at-free":
        # still charged and on x's list: the memcg's own reclaim takes it, and it ends an orphan
        assert flags(eng, pfn) & PCG_USED and flags(eng, pfn) & PCG_LINKED and x.usage_in_bytes == P
        b = eng.isolate(x, 32)
        assert list(b.pages) == [pfn]
        b.step_until("label", page=0)
        a.tlb_flush()
        assert eng.shrink_page_list(b)["pageout_keep"] == 1
        assert eng.leaks() == leaks(orphan=1, entries=0)
        return
    assert not flags(eng, pfn) & PCG_USED and x.usage_in_bytes == 0
    empty = eng.isolate(x, 32)
    assert len(empty) == 0
    assert eng.shrink_page_list(empty)["isolated"] == 0
    b = eng.isolate(None, 32)
    assert list(b.pages) == [pfn]
    assert not flags(eng, pfn) & PCG_LINKED          # the memcg del ran although it is not USED
    b.step_until("label", page=0)
    a.tlb_flush()
    res = eng.shrink_page_list(b)
    if hook == "none":
        assert res["pageout_keep"] == 1
        assert eng.leaks() == leaks(type2=1)
        assert_stale(eng, pfn, x._id, kernel)
    else:
        assert res["hook_freed"] == 1
        assert eng.leaks() == NO_LEAKS
        assert flags(eng, pfn) & PG_buddy


@pytest.mark.parametrize("kernel", KERNELS)
def test_late_uncharge_leaves_an_orphan_that_memcg_reclaim_frees(kernel):
    """K4.1: when the owner's uncharge comes after add_to_swap, the page is in the swap
    cache and the uncharge is skipped; it keeps USED, goes back on the memcg list, and is
    reclaimed by memcg reclaim later.  Not stale."""
    eng = pymemcg.Engine(ram="64M", swap="64M", kernel=kernel)
    x = eng.mkdir("x")
    a = eng.spawn(x)
    a.fault(0)
    pfn = pfn_of(a, 0)
    eng.shrink_active_list(x, 1)
    eng.laptop_mode = True
    b = eng.isolate(x, 1)
    b.step_until("unmap", page=0)                   # add_to_swap done
    a.zap(0, flush=True)                            # free_swap_cache's trylock fails: reclaim holds it
    assert eng.counters()["free_swap_trylock_failed"] == 1
    assert flags(eng, pfn) & PCG_USED and x.usage_in_bytes == P
    eng.shrink_page_list(b)
    eng.laptop_mode = False
    assert eng.leaks() == leaks(orphan=1, entries=0)
    assert flags(eng, pfn) & PCG_LINKED and x.stat()["inactive_anon"] == P
    assert (x.usage_in_bytes, x.memsw_usage_in_bytes) == (P, P)
    eng.reclaim(x)
    assert eng.leaks() == NO_LEAKS
    assert flags(eng, pfn) & PG_buddy
    assert (x.usage_in_bytes, x.memsw_usage_in_bytes) == (0, 0)
    assert eng.meminfo()["SwapFree"] == eng.meminfo()["SwapTotal"]


@pytest.mark.parametrize("kernel,hook", COMBOS)
def test_shared_page_is_not_stale(kernel, hook):
    """K2.5: a forked page stays charged until its last pte goes, so unmapping one of two
    ptes in the window is harmless: reclaim unmaps the other and writes it out."""
    eng = pymemcg.Engine(ram="64M", swap="64M", kernel=kernel, hook=hook)
    x = eng.mkdir("x")
    a = eng.spawn(x)
    a.fault(0)
    pfn = pfn_of(a, 0)
    child = a.fork()
    eng.shrink_active_list(x, 1)
    b = eng.isolate(x, 1)
    b.step_until("add_to_swap", page=0)
    a.zap(0, flush=True)
    assert eng.pages.mapcount[pfn] == 1 and flags(eng, pfn) & PCG_USED
    res = eng.shrink_page_list(b)
    assert res["hook_calls"] == (1 if hook == "seed" else 0) and res["hook_freed"] == 0
    assert res["pageout"] == 1 and res["pageout_keep"] == 0
    slot = slot_of(child, 0)
    assert eng.leaks() == NO_LEAKS
    eng.end_writeback()
    assert eng.shrink_page_list(eng.isolate(x, 1))["reclaimed"] == 1
    assert eng.swap_map[slot] == 1 and eng.swap_cgroup[slot] == x._id
    assert (x.usage_in_bytes, x.memsw_usage_in_bytes) == (0, P)
    child.exit()
    assert (x.usage_in_bytes, x.memsw_usage_in_bytes) == (0, 0)
    assert eng.leaks() == NO_LEAKS


# ---------------------------------------------------------------- Type-1


@pytest.mark.parametrize("kernel,hook", COMBOS)
def test_type1(kernel, hook):
    eng = pymemcg.Engine(ram="64M", swap="64M", kernel=kernel, hook=hook)
    x = eng.mkdir("x")
    a, b = eng.spawn(x), eng.spawn(x)
    b.fault(0)
    a.fault(0)
    eng.shrink_active_list(x, 2)
    first = eng.shrink_page_list(eng.isolate(x, 2))
    assert first["pageout"] == 2
    assert first["hook_calls"] == (2 if hook == "seed" else 0) and first["hook_freed"] == 0
    eng.end_writeback()
    assert eng.shrink_page_list(eng.isolate(x, 2))["reclaimed"] == 2
    sb, sa = slot_of(b, 0), slot_of(a, 0)
    assert (sb, sa) == (1, 2)
    assert list(eng.swap_map[1:3]) == [1, 1]
    assert list(eng.swap_cgroup[1:3]) == [x._id, x._id]
    assert (x.usage_in_bytes, x.memsw_usage_in_bytes) == (0, 2 * P)
    assert eng.meminfo()["MemFree"] == eng.meminfo()["MemTotal"]

    before = eng.counters()
    b.fault(0)                                      # CPU-B: readahead of slots 1-2
    c = delta(before, eng.counters())
    assert c["readahead_pages"] == 2 and c["pswpin"] == 2 and c["pgmajfault"] == 1
    assert eng.io()["reads_in_flight"] == 1
    ra = [p for p in np.flatnonzero(eng.pages.flags & PG_swapcache) if eng.pages.private[p] == sa]
    assert len(ra) == 1
    ra = int(ra[0])
    f = flags(eng, ra)
    assert f & PG_locked and f & PG_lru and not f & (PG_anon | PCG_USED | PCG_LINKED | PG_active), hex(f)
    assert eng.swap_map[sa] == {"2.6.30": 2, "2.6.31": 0x8001}[kernel]

    a.zap(0, flush=True)                            # CPU-A: free_swap_and_cache, trylock fails
    assert eng.counters()["free_swap_trylock_failed"] == before["free_swap_trylock_failed"] + 1
    assert eng.counters()["hook_calls"] == before["hook_calls"]
    if kernel == "2.6.30":
        assert eng.leaks() == leaks(type1=1, memsw=1)
        assert eng.swap_map[sa] == 1 and eng.swap_cgroup[sa] == x._id
        assert (x.usage_in_bytes, x.memsw_usage_in_bytes) == (P, 2 * P)
    else:
        assert eng.leaks() == leaks(type1=1)
        assert eng.swap_map[sa] == 0x8000 and eng.swap_cgroup[sa] == 0
        assert (x.usage_in_bytes, x.memsw_usage_in_bytes) == (P, P)
    assert eng.pages.mapcount[ra] == 0 and flags(eng, ra) & PG_locked     # its read is still in flight

    a.exit()
    b.exit()
    assert x.usage_in_bytes == 0
    assert x.memsw_usage_in_bytes == (P if kernel == "2.6.30" else 0)
    assert eng.leaks() == leaks(type1=1, memsw=1 if kernel == "2.6.30" else 0)
    assert eng.meminfo()["SwapCached"] == P
    assert eng.counters()["hook_freed"] == 0


# ---------------------------------------------------------------- who can free a stale page


def make_stale(eng, x, n=4):
    """n Type-2 stale pages in x by the laptop-mode path; the owner exits."""
    a, pfns, _ = type2(eng, x, n, "laptop")
    a.exit()
    assert eng.leaks() == leaks(type2=n)
    return pfns


@pytest.mark.parametrize("kernel", KERNELS)
def test_memcg_reclaim_cannot_free_stale_pages_global_reclaim_can(kernel):
    eng = pymemcg.Engine(ram="64M", swap="64M", kernel=kernel)
    x = eng.mkdir("x")
    pfns = make_stale(eng, x)
    o = eng.spawn(x)
    o.fault(range(4, 132))
    start = eng.counters()
    for _ in range(40):                               # memcg reclaim until x has nothing left in RAM
        eng.reclaim(x)
        eng.end_writeback()
        if x.usage_in_bytes == 0:
            break
    c = delta(start, eng.counters())
    assert o.rss == 0 and o.swap_ptes == 128 and c["pswpout"] == 128 and c["pgscan"] > 0
    assert "writepage_freed_swap" not in c
    for _ in range(3):                                # and more passes find nothing at all
        assert eng.reclaim(x)["scanned"] == 0
    assert eng.leaks() == leaks(type2=4)
    assert (x.usage_in_bytes, x.memsw_usage_in_bytes) == (0, 128 * P)
    assert eng.meminfo()["SwapCached"] == 4 * P

    start = eng.counters()
    for _ in range(40):                               # global reclaim: the zone's inactive list
        eng.reclaim(None)
        if eng.leaks()["stale_swapcache"] == 0:
            break
    c = delta(start, eng.counters())
    assert eng.leaks() == NO_LEAKS
    assert c["writepage_freed_swap"] == 4 and c["pgfree"] == 4 and "pswpout" not in c
    assert all(flags(eng, p) & PG_buddy for p in pfns)
    assert eng.meminfo()["SwapCached"] == 0
    assert eng.meminfo()["SwapFree"] == eng.meminfo()["SwapTotal"] - 128 * P
    assert (x.usage_in_bytes, x.memsw_usage_in_bytes) == (0, 128 * P)


@pytest.mark.parametrize("kernel", KERNELS)
def test_memcg_limit_pressure_leaves_stale_pages(kernel):
    """A task of x faults far past x's limit: the charge path's memcg reclaim swaps out
    hundreds of x's pages and never touches the stale ones."""
    eng = pymemcg.Engine(ram="64M", swap="64M", kernel=kernel)
    x = eng.mkdir("x")
    make_stale(eng, x)
    x.limit_in_bytes = 32 * P
    o = eng.spawn(x)
    before = eng.counters()
    assert o.fault(range(300)) == 300 and o.alive
    c = delta(before, eng.counters())
    assert c["memcg_reclaims"] > 0 and c["swapouts"] == o.swap_ptes and o.rss + o.swap_ptes == 300
    assert "writepage_freed_swap" not in c and "kswapd_runs" not in c and "direct_reclaims" not in c
    assert eng.leaks() == leaks(type2=4)
    assert x.usage_in_bytes <= 32 * P


@pytest.mark.parametrize("kernel", KERNELS)
def test_global_memory_pressure_frees_stale_pages(kernel):
    """8M of RAM: a root task's faults push free memory under the low watermark; kswapd
    scans the zone list and swap_writepage drops the stale pages' slots (K4.5)."""
    eng = pymemcg.Engine(ram="8M", swap="16M", kernel=kernel)
    x = eng.mkdir("x")
    pfns = make_stale(eng, x)
    io = eng.io()
    root = eng.spawn()
    before = eng.counters()
    n = pages(eng.meminfo()["MemFree"]) - io["pages_low"] + 4     # ends just under pages_low
    root.fault(range(n))
    c = delta(before, eng.counters())
    assert c["kswapd_runs"] == 1 and "direct_reclaims" not in c
    assert c["writepage_freed_swap"] == 4
    assert eng.leaks() == NO_LEAKS
    assert not any(flags(eng, p) & PG_swapcache and not flags(eng, p) & PCG_USED for p in pfns)
    assert pages(eng.meminfo()["MemFree"]) > io["pages_high"]


# ---------------------------------------------------------------- 2.6.31: reuse of cache-only slots


@pytest.mark.parametrize("kernel", KERNELS)
@pytest.mark.parametrize("full", [True, False])
def test_231_reuses_stale_slots_once_swap_is_more_than_half_full(kernel, full):
    """swap="1M": 254 usable slots; vm_swap_full() once more than 127 are in use.
    Slot 1: a swapped page of o; slots 2-5: four stale pages; slots 6-254: f's pages.
    f unmaps 125 (in use 128: full) or 135 (in use 118: not full) of its slots, o exits
    (slot 1 free: lowest_bit 1), and the allocator, past highest_bit, wraps to slot 1 and
    walks on over slots 2-5.  2.6.31 reuses them while full (scan_swap_map ->
    __try_to_reclaim_swap); otherwise, and always on 2.6.30, it passes them by."""
    eng = pymemcg.Engine(ram="4M", swap="1M", kernel=kernel)
    x, y = eng.mkdir("x"), eng.mkdir("y")
    o = eng.spawn(y)
    o.fault(0)
    swap_out(eng, y)
    assert slot_of(o, 0) == 1
    stale = make_stale(eng, x)
    assert sorted(int(eng.pages.private[p]) for p in stale) == [2, 3, 4, 5]
    f = eng.spawn(y)
    f.fault(range(249))
    swap_out(eng, y)
    assert [slot_of(f, v) for v in (0, 248)] == [6, 254]
    assert eng.meminfo()["SwapFree"] == 0 and eng.io()["vm_swap_full"]
    assert eng.counters()["swap_reuse"] == 0 and eng.leaks() == leaks(type2=4)  # never walked over them

    f.munmap(range(125 if full else 135))
    o.exit()
    in_use = pages(eng.meminfo()["SwapTotal"] - eng.meminfo()["SwapFree"])
    assert in_use == (128 if full else 118)
    assert eng.io()["vm_swap_full"] == full
    p = eng.spawn(y)
    p.fault(range(1000, 1005))
    swap_out(eng, y)
    slots = [slot_of(p, v) for v in range(1000, 1005)]
    if kernel == "2.6.31" and full:
        assert slots == [1, 2, 3, 4, 5]
        assert eng.counters()["swap_reuse"] == 4
        assert eng.leaks() == NO_LEAKS
        assert all(flags(eng, q) & PG_buddy for q in stale)
        assert eng.meminfo()["SwapCached"] == 0
    else:
        assert slots == [1, 6, 7, 8, 9]
        assert eng.counters()["swap_reuse"] == 0
        assert eng.leaks() == leaks(type2=4)
        assert eng.meminfo()["SwapCached"] == 4 * P


# ---------------------------------------------------------------- the lifecycle and the hook's counters


@pytest.mark.parametrize("kernel,hook", COMBOS)
def test_swap_out_lifecycle_ends_at_zero(kernel, hook):
    eng = pymemcg.Engine(ram="64M", swap="64M", kernel=kernel, hook=hook)
    x = eng.mkdir("x")
    t = eng.spawn(x)
    t.fault(range(64))
    assert (x.usage_in_bytes, x.memsw_usage_in_bytes) == (64 * P, 64 * P)
    swap_out(eng, x)                                          # swap out
    assert (t.rss, t.swap_ptes) == (0, 64)
    assert (x.usage_in_bytes, x.memsw_usage_in_bytes) == (0, 64 * P)
    assert eng.meminfo()["SwapCached"] == 0
    assert t.fault(range(64), write=False) == 64              # swap in: pages stay in the swap cache
    assert (t.rss, t.swap_ptes) == (64, 0)
    assert (x.usage_in_bytes, x.memsw_usage_in_bytes) == (64 * P, 64 * P)
    assert eng.meminfo()["SwapCached"] == 64 * P
    assert not eng.swap_cgroup.any()
    swap_out(eng, x)                                          # again: clean, so no write
    assert (t.rss, t.swap_ptes) == (0, 64)
    assert (x.usage_in_bytes, x.memsw_usage_in_bytes) == (0, 64 * P)
    assert eng.counters()["pswpout"] == 64 and eng.counters()["swapouts"] == 64
    assert eng.counters()["hook_calls"] == (64 if hook == "seed" else 0)
    assert eng.counters()["hook_freed"] == 0
    t.exit()                                                  # exit
    assert (x.usage_in_bytes, x.memsw_usage_in_bytes) == (0, 0)
    assert eng.leaks() == NO_LEAKS
    mi = eng.meminfo()
    assert mi["SwapFree"] == mi["SwapTotal"] and mi["SwapCached"] == 0 and mi["MemFree"] == mi["MemTotal"]
    assert not eng.swap_map[1:].any() and not eng.swap_cgroup.any()


@pytest.mark.parametrize("kernel", KERNELS)
def test_hook_counts_once_per_successful_add_to_swap(kernel):
    eng = pymemcg.Engine(ram="64M", swap="64M", kernel=kernel, hook="seed")
    x = eng.mkdir("x")
    a = eng.spawn(x)
    a.fault(range(8))
    eng.shrink_active_list(x, 8)
    b = eng.isolate(x, 8)
    b.step_until("add_to_swap", page=0)
    a.zap([6, 7], flush=True)                 # the two pages isolated last lose their only pte
    res = eng.shrink_page_list(b)
    assert res["hook_calls"] == 8 and res["hook_freed"] == 2
    assert res["pageout"] == 6 and res["reclaimed"] == 0
    for v in range(6):                        # mapped pages were not freed by the hook: written out
        slot = slot_of(a, v)
        assert eng.swap_map[slot] == {"2.6.30": 2, "2.6.31": 0x8001}[kernel]
    assert eng.counters()["swapouts"] == 8 and eng.counters()["pswpout"] == 6
    assert pages(eng.meminfo()["SwapCached"]) == 6
    eng.end_writeback()
    res = eng.shrink_page_list(eng.isolate(x, 8))            # already in the swap cache: no add_to_swap
    assert res["hook_calls"] == 0 and res["reclaimed"] == 6
    assert eng.counters()["hook_calls"] == 8 and eng.counters()["hook_freed"] == 2


@pytest.mark.parametrize("kernel", KERNELS)
def test_hook_not_called_when_add_to_swap_fails(kernel):
    eng = pymemcg.Engine(ram="4M", swap="1M", kernel=kernel, hook="seed")
    y = eng.mkdir("y")
    eng.spawn(y).fault(range(254))
    swap_out(eng, y)
    assert eng.meminfo()["SwapFree"] == 0
    calls = eng.counters()["hook_calls"]
    assert calls == 254
    x = eng.mkdir("x")
    a = eng.spawn(x)
    a.fault(range(4))
    eng.shrink_active_list(x, 4)
    b = eng.isolate(x, 4)
    b.step_until("add_to_swap", page=0)
    a.zap(range(4), flush=True)
    res = eng.shrink_page_list(b)
    assert res["hook_calls"] == 0 and res["activated"] == 4
    assert eng.counters()["hook_calls"] == calls
    assert eng.leaks() == NO_LEAKS


# ---------------------------------------------------------------- counting


def test_reclaim_counts_each_page_once():
    """shrink_page_list returns the pages it freed and the caller adds them up; a batch must
    not count the earlier batches of its pass again.  A memcg reclaim pass over written-back
    swap-cache pages frees them all through __remove_mapping, so pgsteal == pgfree and
    scanned is twice the pages (each is in the swap cache).  (Regression test: the batches
    once inherited the running nr_scanned/nr_reclaimed of their scan_control.)"""
    eng = pymemcg.Engine(ram="64M", swap="64M")
    x = eng.mkdir("x")
    eng.spawn(x).fault(range(100))
    eng.shrink_active_list(x, 100)
    for _ in range(4):
        eng.shrink_page_list(eng.isolate(x, 32))
    eng.end_writeback()
    left = x.usage_in_bytes // P                  # the rest went while the 4th batch ran
    assert 80 <= left < 100
    before = eng.counters()
    res = eng.reclaim(x, nr=100)
    c = delta(before, eng.counters())
    assert res["reclaimed"] == c["pgsteal"] == c["pgfree"] == left
    assert res["scanned"] == c["pgscan"] == 2 * left
    assert x.usage_in_bytes == 0


# ---------------------------------------------------------------- bad step sequences


def test_bad_step_sequences():
    eng = pymemcg.Engine(ram="16M", swap="16M")
    x = eng.mkdir("x")
    a = eng.spawn(x)
    a.fault(range(4))
    eng.shrink_active_list(x, 4)
    b = eng.isolate(x, 4)
    eng.shrink_page_list(b)
    with pytest.raises(pymemcg.StateError, match="already shrunk"):
        eng.shrink_page_list(b)                       # shrinking a batch twice
    with pytest.raises(pymemcg.StateError, match="already shrunk"):
        b.step()                                      # stepping a finished batch
    with pytest.raises(pymemcg.StateError):
        b.step_until("label")
    assert b.done and b.phase == "done"

    b2 = eng.isolate(x, 4)
    while b2.phase != "putback":
        b2.step()
    with pytest.raises(pymemcg.StateError, match="no page left"):
        b2.step()                                     # nothing left but the putback
    with pytest.raises(ValueError, match="ended before"):
        b2.step_until("label")
    with pytest.raises(ValueError, match="unknown stop point"):
        b2.step_until("bogus")
    eng.shrink_page_list(b2)

    for nr in (0, 33, -1):
        with pytest.raises(ValueError, match="1 to 32"):
            eng.isolate(x, nr)
    with pytest.raises(TypeError):
        eng.isolate(x, 1.0)

    other = pymemcg.Engine(ram="4M", swap="4M")
    b3 = eng.isolate(x, 1)
    with pytest.raises(TypeError, match="Batch of this engine"):
        other.shrink_page_list(b3)                    # a batch of another engine
    with pytest.raises(TypeError):
        other.shrink_page_list("batch")
    with pytest.raises(TypeError):
        other.isolate(x, 1)                           # a cgroup of another engine
    eng.shrink_page_list(b3)

    a.exit()
    with pytest.raises(pymemcg.TaskDead):
        a.tlb_flush()                                 # flushing a dead task
    with pytest.raises(pymemcg.TaskDead):
        a.zap(0)
    assert issubclass(pymemcg.StateError, pymemcg.Error) and issubclass(pymemcg.TaskDead, pymemcg.Error)


def test_fault_on_a_page_locked_by_an_unfinished_batch_changes_nothing():
    """A synchronous fault cannot wait for a lock held by a batch the caller left half
    done: StateError, and (pymemcg.h) a refused call changes nothing.  (Regression test: the
    refused fault once kept the page reference it took in the swap cache lookup.)"""
    eng = pymemcg.Engine(ram="16M", swap="16M")
    x = eng.mkdir("x")
    a = eng.spawn(x)
    a.fault(0)
    pfn = pfn_of(a, 0)
    eng.shrink_active_list(x, 1)
    eng.shrink_page_list(eng.isolate(x, 1))
    eng.end_writeback()
    b = eng.isolate(x, 1)
    b.step_until("remove", page=0)                  # reclaim holds the lock of the swapped-out page
    count, pte = int(eng.pages.count[pfn]), a.pte(0)
    with pytest.raises(pymemcg.StateError, match="unfinished shrink batch"):
        a.fault(0)
    assert int(eng.pages.count[pfn]) == count and a.pte(0) == pte
    eng.check()
    assert eng.shrink_page_list(b)["reclaimed"] == 1
    assert a.fault(0) == 1 and a.rss == 1
