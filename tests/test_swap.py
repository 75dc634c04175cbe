"""The swap device, the swap cache and swap-in (docs/semantics.md K1.5-K1.7, K2.5-K2.9,
K2.14, K4.5): swap_map in both encodings, scan_swap_map's slot order, the four swap-in
charge cases, readahead, fork of swap ptes, vm_swap_full() in do_swap_page, and what
happens when swap runs out.

Every engine is small and every assertion is an exact number.  conftest.py runs
eng.check() on every engine at the end of each test.
"""
import numpy as np
import pytest

import pymemcg
from pages import delta, flags, pfn_of, slot_of, swap_out
from pymemcg import (PCG_LINKED, PCG_USED, PG_active, PG_anon, PG_dirty, PG_locked, PG_lru, PG_swapcache,
                     PG_writeback)

P = pymemcg.PAGE_SIZE
KERNELS = ("2.6.30", "2.6.31")
HAS_CACHE = 0x8000
BAD = {"2.6.30": 0x8000, "2.6.31": 0x7fff}


def enc(kernel, users, cache):
    """swap_map's value for a slot with `users` swap ptes, held by the swap cache or not."""
    if kernel == "2.6.30":
        return users + (1 if cache else 0)
    return users | (HAS_CACHE if cache else 0)


def cache_page(eng, slot):
    """The pfn the swap cache holds for slot, or None."""
    hit = np.flatnonzero((eng.pages.flags & PG_swapcache) != 0)
    hit = [int(p) for p in hit if eng.pages.private[p] == slot]
    assert len(hit) <= 1
    return hit[0] if hit else None


def in_use(eng):
    mi = eng.meminfo()
    return (mi["SwapTotal"] - mi["SwapFree"]) // P


def usage(cg):
    return cg.usage_in_bytes // P, cg.memsw_usage_in_bytes // P


# ---------------------------------------------------------------- swap_map


@pytest.mark.parametrize("kernel", KERNELS)
def test_swap_device_geometry(kernel):
    """Released 2.6.30/2.6.31 swapon: slot 0 is the header (SWAP_MAP_BAD) and the last page
    is not used either, so N pages give N - 2 slots."""
    eng = pymemcg.Engine(ram="16M", swap="1M", kernel=kernel)
    assert len(eng.swap_map) == 256 and len(eng.swap_cgroup) == 256
    assert eng.swap_map[0] == BAD[kernel]
    assert not eng.swap_map[1:].any()
    mi = eng.meminfo()
    assert mi["SwapTotal"] == mi["SwapFree"] == 254 * P and mi["SwapCached"] == 0
    assert pymemcg.Engine(ram="4M", swap="64M", kernel=kernel).meminfo()["SwapTotal"] == 16382 * P
    assert not eng.io()["vm_swap_full"]


@pytest.mark.parametrize("kernel", KERNELS)
def test_swap_map_encodings(kernel):
    """2.6.30 counts the swap cache in swap_map; 2.6.31 keeps it in SWAP_HAS_CACHE (0x8000)
    and counts only swap-pte users in the low bits."""
    eng = pymemcg.Engine(ram="16M", swap="16M", kernel=kernel, page_cluster=0)
    x = eng.mkdir("x")
    a = eng.spawn(x)
    a.fault(0)
    pfn = pfn_of(a, 0)
    eng.shrink_active_list(x, 1)
    b = eng.isolate(x, 1)
    b.step_until("unmap", page=0)                   # add_to_swap: the cache's reference only
    assert flags(eng, pfn) & PG_swapcache and eng.pages.private[pfn] == 1
    assert eng.swap_map[1] == enc(kernel, 0, True) == (1 if kernel == "2.6.30" else 0x8000)
    b.step()                                        # try_to_unmap: swap_duplicate for the new swap pte
    assert slot_of(a, 0) == 1
    assert eng.swap_map[1] == enc(kernel, 1, True) == (2 if kernel == "2.6.30" else 0x8001)
    eng.shrink_page_list(b)
    assert flags(eng, pfn) & PG_writeback
    eng.end_writeback()
    assert eng.shrink_page_list(eng.isolate(x, 1))["reclaimed"] == 1    # __remove_mapping drops the cache's ref
    assert eng.swap_map[1] == enc(kernel, 1, False) == 1
    assert eng.swap_cgroup[1] == x._id
    child = a.fork()                                # copy_one_pte: swap_duplicate
    assert slot_of(child, 0) == 1
    assert eng.swap_map[1] == 2
    assert usage(x) == (0, 1)                       # memsw is charged per slot, once
    assert a.fault(0, write=False) == 1             # swap-in: cache +1, then swap_free of a's pte
    assert cache_page(eng, 1) == pfn_of(a, 0)
    assert eng.swap_map[1] == enc(kernel, 1, True) == (2 if kernel == "2.6.30" else 0x8001)
    assert usage(x) == (1, 1)
    child.exit()                                    # the last swap pte: only the cache is left
    assert eng.swap_map[1] == enc(kernel, 0, True)
    a.exit()
    assert not eng.swap_map[1:].any() and usage(x) == (0, 0)


# ---------------------------------------------------------------- scan_swap_map


@pytest.mark.parametrize("kernel", KERNELS)
def test_slots_are_allocated_sequentially_from_1(kernel):
    eng = pymemcg.Engine(ram="16M", swap="16M", kernel=kernel)
    x = eng.mkdir("x")
    t = eng.spawn(x)
    t.fault(range(40))
    swap_out(eng, x)
    assert [slot_of(t, v) for v in range(40)] == list(range(1, 41))
    assert in_use(eng) == 40
    t.munmap(range(5, 10))                          # holes inside the current cluster...
    assert in_use(eng) == 35
    u = eng.spawn(x)
    u.fault(range(3))
    swap_out(eng, x)
    assert [slot_of(u, v) for v in range(3)] == [41, 42, 43]   # ...are not revisited: cluster_next goes on


@pytest.mark.parametrize("kernel", KERNELS)
@pytest.mark.parametrize("swap,expect", [("4M", 257), ("2M", 1)])
def test_new_cluster_search(kernel, swap, expect):
    """After SWAPFILE_CLUSTER (256) allocations scan_swap_map looks, from lowest_bit, for
    the first wholly free run of 256 slots and skips smaller holes (4M: slots 257-512).
    When no such run exists (2M: only slots 257-510 are left) it takes lowest_bit."""
    eng = pymemcg.Engine(ram="16M", swap=swap, kernel=kernel)
    x = eng.mkdir("x")
    t = eng.spawn(x)
    t.fault(range(256))
    swap_out(eng, x)
    assert [slot_of(t, v) for v in (0, 255)] == [1, 256]
    t.munmap(range(10))                             # slots 1-10 free, lowest_bit 1
    u = eng.spawn(x)
    u.fault(range(2))
    swap_out(eng, x)
    assert [slot_of(u, v) for v in range(2)] == [expect, expect + 1]


@pytest.mark.parametrize("kernel", KERNELS)
def test_small_device_takes_slots_in_order_and_wraps(kernel):
    """With fewer than 256 free slots there is no cluster search: allocation goes on
    from cluster_next to highest_bit, then wraps to lowest_bit."""
    eng = pymemcg.Engine(ram="16M", swap="1M", kernel=kernel)
    x = eng.mkdir("x")
    t = eng.spawn(x)
    t.fault(range(250))
    swap_out(eng, x)
    assert [slot_of(t, v) for v in range(250)] == list(range(1, 251))
    t.munmap(range(3))                              # slots 1-3
    u = eng.spawn(x)
    u.fault(range(6))
    swap_out(eng, x)
    assert [slot_of(u, v) for v in range(6)] == [251, 252, 253, 254, 1, 2]


# ---------------------------------------------------------------- swap-in charges (K2.7)


@pytest.mark.parametrize("kernel", KERNELS)
@pytest.mark.parametrize("case", "ABCD")
def test_swapin_charge_cases(kernel, case):
    """A: not charged, reuse keeps the cache (read fault); B: not charged, reuse deletes it
    (write fault); C: still charged in the swap cache and kept; D: charged and deleted.
    Start 0/1 (A, B) or 1/1 (C, D); every case ends at exactly 1 page res and 1 memsw."""
    eng = pymemcg.Engine(ram="16M", swap="16M", kernel=kernel, page_cluster=0)
    x = eng.mkdir("x")
    t = eng.spawn(x)
    t.fault(0)
    eng.shrink_active_list(x, 1)
    eng.shrink_page_list(eng.isolate(x, 1))
    eng.end_writeback()
    if case in "AB":
        eng.shrink_page_list(eng.isolate(x, 1))
        assert usage(x) == (0, 1) and eng.swap_cgroup[1] == x._id
        assert cache_page(eng, 1) is None
    else:
        pfn = cache_page(eng, 1)
        assert flags(eng, pfn) & PCG_USED and eng.pages.mapcount[pfn] == 0
        assert usage(x) == (1, 1) and eng.swap_cgroup[1] == 0
    x.write("memory.max_usage_in_bytes", "0")
    x.write("memory.memsw.max_usage_in_bytes", "0")
    write = case in "BD"
    before = eng.counters()
    assert t.fault(0, write=write) == 1
    c = delta(before, eng.counters())
    assert usage(x) == (1, 1)
    assert c["swapins"] == 1
    assert c.get("swapin_cache_hits", 0) == (1 if case in "CD" else 0)
    assert c.get("pgmajfault", 0) == (1 if case in "AB" else 0)
    # the try-charge's +1/+1 happened before commit/reuse/swap_free took it back
    assert (x.max_usage_in_bytes // P, x.memsw_max_usage_in_bytes // P) == {
        "A": (1, 2), "B": (1, 2), "C": (2, 2), "D": (2, 2)}[case]
    pfn = pfn_of(t, 0)
    f = flags(eng, pfn)
    assert f & PCG_USED and f & PCG_LINKED and f & PG_anon
    assert not eng.swap_cgroup.any()
    if write:                                       # reuse_swap_page deleted it: the slot is free
        assert not f & PG_swapcache and f & PG_dirty
        assert eng.swap_map[1] == 0
        assert eng.meminfo()["SwapCached"] == 0
    else:                                           # kept: a cache-only slot, clean copy on swap
        assert f & PG_swapcache and eng.pages.private[pfn] == 1
        assert eng.swap_map[1] == enc(kernel, 0, True)
        assert eng.meminfo()["SwapCached"] == P
    assert eng.leaks()["orphan_charged_swapcache"] == 0 and eng.leaks()["stale_swapcache"] == 0
    t.exit()
    assert usage(x) == (0, 0)
    assert in_use(eng) == 0


# ---------------------------------------------------------------- readahead


@pytest.mark.parametrize("kernel", KERNELS)
def test_readahead_window(kernel):
    """page_cluster 3: the aligned window of 8 slots around the target, cut at the first
    free slot on either side.  Readahead pages sit on the inactive anon list in the swap
    cache, locked until their read completes, not anon and not charged until mapped."""
    eng = pymemcg.Engine(ram="64M", swap="64M", kernel=kernel)
    x = eng.mkdir("x")
    t = eng.spawn(x)
    t.fault(range(20))
    swap_out(eng, x)
    assert [slot_of(t, v) for v in range(20)] == list(range(1, 21))
    t.munmap(11)                                    # slot 12 is free
    assert usage(x) == (0, 19)
    before = eng.counters()
    assert t.fault(9, write=False) == 1             # slot 10: window 8-15, cut at 12 -> slots 8-11
    c = delta(before, eng.counters())
    assert c["readahead_pages"] == 4 and c["pswpin"] == 4 and c["pgalloc"] == 4 and c["pgmajfault"] == 1
    cached = {s: cache_page(eng, s) for s in range(1, 21)}
    assert sorted(s for s, p in cached.items() if p is not None) == [8, 9, 10, 11]
    target = pfn_of(t, 9)
    assert cached[10] == target
    for s in (8, 9, 11):
        f = flags(eng, cached[s])
        assert f & PG_lru and f & PG_swapcache, hex(f)
        assert not f & (PG_anon | PCG_USED | PCG_LINKED | PG_active), hex(f)
        assert eng.pages.mapcount[cached[s]] == 0 and eng.pages.count[cached[s]] == 1
        assert eng.swap_map[s] == enc(kernel, 1, True)
    assert flags(eng, cached[11]) & PG_locked       # its read (the last one) is still in flight
    assert not flags(eng, cached[8]) & PG_locked
    assert eng.io()["reads_in_flight"] == 1
    assert flags(eng, target) & PCG_USED and flags(eng, target) & PCG_LINKED
    assert usage(x) == (1, 19)
    assert x.stat()["inactive_anon"] == P           # only the mapped page is on x's list
    assert eng.meminfo()["Inactive(anon)"] == 4 * P
    assert eng.meminfo()["SwapCached"] == 4 * P

    before = eng.counters()
    assert t.fault(7, write=False) == 1             # slot 8: a swap-cache hit, charged when mapped
    c = delta(before, eng.counters())
    assert c["swapin_cache_hits"] == 1 and "pswpin" not in c and "readahead_pages" not in c
    f = flags(eng, cached[8])
    assert f & PCG_USED and f & PCG_LINKED and f & PG_anon
    assert usage(x) == (2, 19)
    assert x.stat()["inactive_anon"] == 2 * P


@pytest.mark.parametrize("kernel", KERNELS)
@pytest.mark.parametrize("page_cluster,target,window", [(3, 3, [1, 2, 3, 4, 5, 6, 7]), (2, 6, [4, 5, 6, 7]),
                                                        (0, 6, [6])])
def test_readahead_alignment(kernel, page_cluster, target, window):
    """The window starts at target >> page_cluster << page_cluster and skips the header
    slot 0; page_cluster 0 reads only the target."""
    eng = pymemcg.Engine(ram="16M", swap="16M", kernel=kernel, page_cluster=page_cluster)
    x = eng.mkdir("x")
    t = eng.spawn(x)
    t.fault(range(12))
    swap_out(eng, x)
    before = eng.counters()
    t.fault(target - 1, write=False)
    assert sorted(s for s in range(1, 13) if cache_page(eng, s) is not None) == window
    assert eng.counters()["pswpin"] - before["pswpin"] == len(window)


# ---------------------------------------------------------------- fork


@pytest.mark.parametrize("kernel", KERNELS)
def test_fork_duplicates_swap_ptes(kernel):
    eng = pymemcg.Engine(ram="16M", swap="16M", kernel=kernel)
    x = eng.mkdir("x")
    t = eng.spawn(x)
    t.fault(range(4))
    swap_out(eng, x)
    assert list(eng.swap_map[1:5]) == [1, 1, 1, 1]
    child = t.fork()
    assert child.swap_ptes == 4 and child.rss == 0
    assert [slot_of(child, v) for v in range(4)] == [1, 2, 3, 4]
    assert list(eng.swap_map[1:5]) == [2, 2, 2, 2]
    assert usage(x) == (0, 4) and list(eng.swap_cgroup[1:5]) == [x._id] * 4
    child.exit()
    assert list(eng.swap_map[1:5]) == [1, 1, 1, 1] and usage(x) == (0, 4)
    t.exit()
    assert not eng.swap_map[1:].any() and usage(x) == (0, 0) and not eng.swap_cgroup.any()


# ---------------------------------------------------------------- vm_swap_full in do_swap_page


@pytest.mark.parametrize("kernel", KERNELS)
@pytest.mark.parametrize("n,full", [(127, False), (128, True)])
def test_swapin_frees_the_slot_when_swap_is_more_than_half_full(kernel, n, full):
    """254 slots: vm_swap_full() once nr_swap_pages * 2 < 254, i.e. from 128 in use.
    Then do_swap_page calls try_to_free_swap and the page leaves the swap cache."""
    eng = pymemcg.Engine(ram="16M", swap="1M", kernel=kernel, page_cluster=0)
    x = eng.mkdir("x")
    t = eng.spawn(x)
    t.fault(range(n))
    swap_out(eng, x)
    assert in_use(eng) == n and eng.io()["vm_swap_full"] == full
    assert t.fault(0, write=False) == 1
    pfn = pfn_of(t, 0)
    assert bool(flags(eng, pfn) & PG_swapcache) == (not full)
    assert eng.swap_map[1] == (0 if full else enc(kernel, 0, True))
    assert in_use(eng) == (n - 1 if full else n)
    assert eng.meminfo()["SwapCached"] == (0 if full else P)
    assert bool(flags(eng, pfn) & PG_dirty) == full          # try_to_free_swap re-dirties it
    assert usage(x) == (1, n)


# ---------------------------------------------------------------- swap exhaustion (K4.5)


@pytest.mark.parametrize("kernel", KERNELS)
def test_swap_exhaustion(kernel):
    """Once every slot is taken add_to_swap fails and the page is activated; get_scan_ratio
    gives anon no scan pressure; a memcg over its limit with nothing reclaimable goes OOM
    after 1 + MEM_CGROUP_RECLAIM_RETRIES failed charges."""
    eng = pymemcg.Engine(ram="16M", swap="1M", kernel=kernel)
    y = eng.mkdir("y")
    f = eng.spawn(y)
    f.fault(range(254))
    swap_out(eng, y)
    assert f.swap_ptes == 254 and f.rss == 0
    assert eng.meminfo()["SwapFree"] == 0 and in_use(eng) == 254

    x = eng.mkdir("x")
    t = eng.spawn(x)
    t.fault(range(8))
    eng.shrink_active_list(x, 8)
    before = eng.counters()
    res = eng.shrink_page_list(eng.isolate(x, 8))
    assert res["activated"] == 8 and res["pageout"] == 0 and res["reclaimed"] == 0
    c = delta(before, eng.counters())
    assert "swapouts" not in c and c["pgactivate"] == 8
    for v in range(8):
        fl = flags(eng, pfn_of(t, v))
        assert fl & PG_active and not fl & PG_swapcache
    assert x.stat()["active_anon"] == 8 * P and x.stat()["inactive_anon"] == 0
    eng.shrink_active_list(x, 8)
    before = eng.counters()
    res = eng.reclaim(x)                             # nr_swap_pages <= 0: anon gets 0% ...
    assert (res["scanned"], res["reclaimed"], res["activated"]) == (16, 0, 8)   # ... except at priority 0
    assert "swapouts" not in delta(before, eng.counters())

    x.limit_in_bytes = 16 * P
    before = eng.counters()
    assert t.fault(range(8, 40)) == 8                # pages 8-15 fit; the 17th page cannot be charged
    assert not t.alive and t.oom_killed
    c = delta(before, eng.counters())
    assert c["oom_kills"] == 1 and c["charge_failures"] == 6 and "swapouts" not in c
    assert x.failcnt == 6
    assert usage(x) == (0, 0)
    assert f.alive and f.swap_ptes == 254
    assert eng.leaks() == dict(stale_swapcache=0, stale_swapcache_type1=0, stale_swapcache_type2=0,
                               leaked_swap_entries=0, leaked_memsw=0, orphan_charged_swapcache=0)
