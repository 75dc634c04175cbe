"""Task-level accounting of memcg v1 as 2.6.30 does it (docs/semantics.md K1-K2.6):
fault, munmap, zap + mmu_gather, exit, fork, COW, move, mlock, hierarchy, OOM,
global memory, and the read-only page views.

Every engine is small (a few MiB, no swap: nothing can be reclaimed yet) and every
assertion is an exact number.  conftest.py runs eng.check() on every engine at the end.
"""
import errno

import numpy as np
import pytest

import pymemcg
from pymemcg import PAGE_SIZE as P

FREE_PTE_NR = 506
RAM = 8 << 20                                       # 2048 frames


def pfn_of(t, vpn):
    pte = t.pte(vpn)
    assert pte & pymemcg.PTE_PRESENT, f"vpn {vpn} is not present"
    return pte >> pymemcg.PTE_SHIFT


def pfns_of(t, vpns):
    return np.array([pfn_of(t, v) for v in vpns], dtype=np.int64)


def usage(cg):
    return cg.usage_in_bytes


@pytest.fixture
def eng():
    return pymemcg.Engine(ram="8M", swap=0)


# ---------------------------------------------------------------- fault


def test_flag_constants():
    assert pymemcg.PAGE_SIZE == 4096
    assert pymemcg.PG_lru == 16
    assert pymemcg.PG_active == 32
    assert pymemcg.PG_swapcache == 128
    assert pymemcg.PG_swapbacked == 512
    assert pymemcg.PG_unevictable == 1024
    assert pymemcg.PG_mlocked == 2048
    assert pymemcg.PCG_USED == 65536
    bits = [getattr(pymemcg, n) for n in dir(pymemcg) if n.startswith(("PG_", "PCG_"))]
    assert len(bits) == len(set(bits))
    assert all(b and b & (b - 1) == 0 for b in bits), "every flag is one bit"


def test_fault_accounting(eng):
    cg = eng.mkdir("a")
    t = eng.spawn(cg)
    assert t.cgroup is cg and t.alive and not t.oom_killed
    before = eng.meminfo()
    assert before["MemTotal"] == RAM and before["MemFree"] == RAM

    assert t.fault(range(10)) == 10

    assert cg.usage_in_bytes == 10 * P
    assert cg.memsw_usage_in_bytes == 10 * P
    assert cg.max_usage_in_bytes == 10 * P
    assert cg.memsw_max_usage_in_bytes == 10 * P
    assert cg.failcnt == 0
    assert cg.read("memory.usage_in_bytes") == f"{10 * P}\n"
    st = cg.stat()
    assert st["rss"] == 10 * P and st["cache"] == 0
    assert st["active_anon"] == 10 * P and st["inactive_anon"] == 0 and st["unevictable"] == 0
    assert st["pgpgin"] == 10 and st["pgpgout"] == 0
    assert st["total_rss"] == 10 * P and st["total_pgpgin"] == 10
    # charges are the task's cgroup's, not the root's (root does not use hierarchy)
    assert eng.root.usage_in_bytes == 0 and eng.root.stat()["rss"] == 0

    mi = eng.meminfo()
    assert mi["MemFree"] == RAM - 10 * P
    assert mi["Active(anon)"] == 10 * P and mi["Inactive(anon)"] == 0
    assert mi["AnonPages"] == 10 * P
    assert mi["Unevictable"] == 0 and mi["Mlocked"] == 0
    assert t.rss == 10 and t.swap_ptes == 0 and t.gather_pending == 0

    c = eng.counters()
    assert c["pgfault"] == 10 and c["pgalloc"] == 10 and c["anon_faults"] == 10
    assert c["pgfree"] == 0 and c["cow_faults"] == 0 and c["oom_kills"] == 0

    pfns = pfns_of(t, range(10))
    assert len(set(pfns.tolist())) == 10
    f = eng.pages.flags[pfns]
    want = pymemcg.PG_lru | pymemcg.PG_active | pymemcg.PG_swapbacked | pymemcg.PCG_USED
    assert np.all(f & want == want)
    assert not np.any(f & (pymemcg.PG_unevictable | pymemcg.PG_mlocked | pymemcg.PG_swapcache))
    assert np.all(eng.pages.count[pfns] == 1)
    assert np.all(eng.pages.mapcount[pfns] == 1)
    assert np.all(eng.pages.memcg[pfns] == eng.pages.memcg[pfns[0]])
    # every other frame is free
    assert int(np.count_nonzero(eng.pages.flags & pymemcg.PCG_USED)) == 10


def test_fault_int_range_array_and_duplicates(eng):
    t = eng.spawn()
    assert t.fault(7) == 1
    assert t.fault(np.array([3, 3, 3, 9], dtype=np.int64)) == 4
    assert t.fault([100, 101]) == 2
    assert t.fault(range(200, 210, 3)) == 4            # 200 203 206 209
    assert t.fault(np.array([], dtype=np.int64)) == 0
    assert t.fault(range(5, 5)) == 0
    assert t.rss == 1 + 2 + 2 + 4
    assert eng.root.usage_in_bytes == 9 * P
    assert eng.counters()["anon_faults"] == 9
    assert eng.counters()["pgfault"] == 11          # pages touched, repeats included


def test_read_fault_allocates_and_charges_like_a_write(eng):
    # 2.6.30 has no ZERO_PAGE for anon reads: a read fault allocates and charges a
    # page whose pte is writable and dirty (do_anonymous_page with VM_WRITE).
    cg = eng.mkdir("a")
    r, w = eng.spawn(cg), eng.spawn(cg)
    assert r.fault(range(4), write=False) == 4
    assert w.fault(range(4), write=True) == 4
    assert cg.usage_in_bytes == 8 * P
    assert cg.stat()["rss"] == 8 * P and cg.stat()["pgpgin"] == 8
    for v in range(4):
        want = pymemcg.PTE_PRESENT | pymemcg.PTE_WRITE | pymemcg.PTE_DIRTY | pymemcg.PTE_YOUNG
        assert r.pte(v) & 0xFF == want
        assert w.pte(v) & 0xFF == want
    assert eng.counters()["anon_faults"] == 8


def test_touching_present_page_does_not_charge(eng):
    cg = eng.mkdir("a")
    t = eng.spawn(cg)
    t.fault(range(5))
    pfns = pfns_of(t, range(5))
    c0 = eng.counters()
    assert t.fault(range(5), write=False) == 5
    assert t.fault(range(5), write=True) == 5
    assert cg.usage_in_bytes == 5 * P
    assert cg.stat()["pgpgin"] == 5
    assert eng.meminfo()["MemFree"] == RAM - 5 * P
    np.testing.assert_array_equal(pfns_of(t, range(5)), pfns)
    c1 = eng.counters()
    assert c1["pgalloc"] == c0["pgalloc"] == 5
    assert c1["anon_faults"] == 5
    assert c1["pgfault"] == c0["pgfault"] + 10
    assert c1["cow_faults"] == 0 and c1["cow_reuse"] == 0
    assert t.rss == 5


def test_young_bit_set_on_touch(eng):
    t = eng.spawn()
    t.fault(0)
    p = t.fork()                                    # child's pte is old
    assert not p.pte(0) & pymemcg.PTE_YOUNG
    p.fault(0, write=False)
    assert p.pte(0) & pymemcg.PTE_YOUNG
    assert not p.pte(0) & pymemcg.PTE_WRITE        # a read keeps the COW protection


# ---------------------------------------------------------------- munmap / zap


def test_munmap_uncharges_and_frees(eng):
    cg = eng.mkdir("a")
    t = eng.spawn(cg)
    t.fault(range(10))
    pfns = pfns_of(t, range(3))
    assert t.munmap(range(3)) == 3
    assert t.munmap(range(3)) == 0                  # nothing left there
    assert t.munmap(range(1000, 1010)) == 0         # never mapped
    assert cg.usage_in_bytes == 7 * P
    assert cg.memsw_usage_in_bytes == 7 * P
    assert cg.max_usage_in_bytes == 10 * P
    st = cg.stat()
    assert st["rss"] == 7 * P and st["pgpgin"] == 10 and st["pgpgout"] == 3
    assert st["active_anon"] == 7 * P
    mi = eng.meminfo()
    assert mi["MemFree"] == RAM - 7 * P
    assert mi["Active(anon)"] == 7 * P and mi["AnonPages"] == 7 * P
    assert t.rss == 7 and t.gather_pending == 0
    assert t.pte(0) == 0
    assert np.all(eng.pages.flags[pfns] & pymemcg.PG_buddy)
    assert np.all(eng.pages.count[pfns] == 0)
    assert not np.any(eng.pages.flags[pfns] & (pymemcg.PCG_USED | pymemcg.PG_lru))
    c = eng.counters()
    assert c["pgfree"] == 3 and c["tlb_flushes"] == 1
    # a fresh fault at an unmapped vpn charges again
    assert t.fault(range(3)) == 3
    assert cg.usage_in_bytes == 10 * P and cg.stat()["pgpgin"] == 13


def test_zap_without_flush_parks_pages_until_tlb_flush(eng):
    cg = eng.mkdir("a")
    t = eng.spawn(cg)
    t.fault(range(8))
    pfns = pfns_of(t, range(8))
    assert t.zap(range(5), flush=False) == 5
    # uncharged at page_remove_rmap ...
    assert cg.usage_in_bytes == 3 * P and cg.memsw_usage_in_bytes == 3 * P
    st = cg.stat()
    assert st["rss"] == 3 * P and st["pgpgout"] == 5
    # ... but the frames are held by the gather: still allocated, still on the LRU,
    # and their page_cgroups are still linked on the memcg list (uncharge leaves pc->lru)
    assert st["active_anon"] == 8 * P
    assert t.gather_pending == 5 and t.rss == 3
    mi = eng.meminfo()
    assert mi["MemFree"] == RAM - 8 * P
    assert mi["Active(anon)"] == 8 * P
    assert mi["AnonPages"] == 3 * P                 # NR_ANON_PAGES drops at page_remove_rmap
    z = pfns[:5]
    assert np.all(eng.pages.count[z] == 1) and np.all(eng.pages.mapcount[z] == 0)
    assert np.all(eng.pages.flags[z] & pymemcg.PG_lru)
    assert not np.any(eng.pages.flags[z] & (pymemcg.PCG_USED | pymemcg.PG_buddy))
    assert eng.counters()["pgfree"] == 0 and eng.counters()["tlb_flushes"] == 0
    eng.check()

    assert t.tlb_flush() == 5
    assert t.gather_pending == 0
    assert t.tlb_flush() == 0
    mi = eng.meminfo()
    assert mi["MemFree"] == RAM - 3 * P and mi["Active(anon)"] == 3 * P
    assert cg.stat()["active_anon"] == 3 * P
    assert np.all(eng.pages.flags[z] & pymemcg.PG_buddy)
    assert np.all(eng.pages.count[z] == 0)
    c = eng.counters()
    assert c["pgfree"] == 5 and c["tlb_flushes"] == 1


def test_zap_more_than_one_gather(eng):
    t = eng.spawn()
    n = 2 * FREE_PTE_NR + 88                        # 1100
    t.fault(range(n))
    assert t.zap(range(n), flush=False) == n
    # every full gather of 506 was flushed, the remainder is parked
    assert t.gather_pending == 88
    assert eng.counters()["tlb_flushes"] == 2
    assert eng.counters()["pgfree"] == 2 * FREE_PTE_NR
    assert eng.root.usage_in_bytes == 0
    assert eng.meminfo()["MemFree"] == RAM - 88 * P
    assert eng.meminfo()["Active(anon)"] == 88 * P
    assert t.tlb_flush() == 88
    assert eng.meminfo()["MemFree"] == RAM
    assert eng.counters()["tlb_flushes"] == 3


def test_zap_fills_the_gather_across_calls(eng):
    t = eng.spawn()
    t.fault(range(520))
    assert t.zap(range(500), flush=False) == 500
    assert t.gather_pending == 500
    assert t.zap(range(500, 510), flush=False) == 10   # the 506th parks and flushes
    assert t.gather_pending == 4
    assert eng.counters()["tlb_flushes"] == 1
    assert eng.meminfo()["MemFree"] == RAM - (10 + 4) * P
    assert t.zap(range(510, 512), flush=True) == 2
    assert t.gather_pending == 0
    assert eng.meminfo()["MemFree"] == RAM - 8 * P


def test_refault_while_old_page_parked(eng):
    cg = eng.mkdir("a")
    t = eng.spawn(cg)
    t.fault(range(4))
    old = pfn_of(t, 0)
    t.zap(0, flush=False)
    assert t.fault(0) == 1
    assert pfn_of(t, 0) != old
    assert cg.usage_in_bytes == 4 * P and cg.stat()["pgpgin"] == 5
    assert eng.meminfo()["MemFree"] == RAM - 5 * P
    eng.check()
    t.tlb_flush()
    assert eng.meminfo()["MemFree"] == RAM - 4 * P


# ---------------------------------------------------------------- exit


def test_exit_frees_and_uncharges_everything(eng):
    cg = eng.mkdir("a")
    t = eng.spawn(cg)
    other = eng.spawn(cg)
    other.fault(range(3))
    t.fault(range(600))
    t.zap(range(10), flush=False)                   # parked refs are flushed by exit too
    assert sorted(x.pid for x in cg.tasks) == sorted([t.pid, other.pid])
    t.exit()
    assert not t.alive and not t.oom_killed
    assert cg.usage_in_bytes == 3 * P and cg.memsw_usage_in_bytes == 3 * P
    st = cg.stat()
    assert st["rss"] == 3 * P and st["pgpgin"] == 603 and st["pgpgout"] == 600
    assert st["active_anon"] == 3 * P
    assert [x.pid for x in cg.tasks] == [other.pid]
    mi = eng.meminfo()
    assert mi["MemFree"] == RAM - 3 * P
    assert mi["Active(anon)"] == 3 * P and mi["AnonPages"] == 3 * P
    c = eng.counters()
    assert c["exits"] == 1 and c["pgfree"] == 600
    other.exit()
    assert cg.usage_in_bytes == 0 and cg.memsw_usage_in_bytes == 0
    assert cg.max_usage_in_bytes == 603 * P
    assert cg.tasks == [] and eng.root.tasks == []
    assert eng.meminfo()["MemFree"] == RAM
    assert eng.meminfo()["Active(anon)"] == 0 and eng.meminfo()["AnonPages"] == 0
    assert not np.any(eng.pages.flags & (pymemcg.PCG_USED | pymemcg.PG_lru))
    assert np.all(eng.pages.count == 0) and np.all(eng.pages.mapcount == 0)
    cg.rmdir()                                      # empty: nothing was left behind


def test_exit_flushes_in_gathers_of_506(eng):
    t = eng.spawn()
    t.fault(range(1100))
    t.exit()
    assert eng.counters()["tlb_flushes"] == 3       # 506 + 506 + 88
    t2 = eng.spawn()
    t2.fault(range(2 * FREE_PTE_NR))
    t2.exit()
    assert eng.counters()["tlb_flushes"] == 5       # exactly two full gathers
    assert eng.meminfo()["MemFree"] == RAM


# ---------------------------------------------------------------- fork / COW


def test_fork_shares_pages_without_charging(eng):
    cg = eng.mkdir("a")
    t = eng.spawn(cg)
    t.fault(range(6))
    pfns = pfns_of(t, range(6))
    c = t.fork()
    assert c.alive and c.pid != t.pid and c.cgroup is cg
    assert sorted(x.pid for x in cg.tasks) == sorted([t.pid, c.pid])
    assert t.rss == 6 and c.rss == 6
    np.testing.assert_array_equal(pfns_of(c, range(6)), pfns)
    assert np.all(eng.pages.mapcount[pfns] == 2)
    assert np.all(eng.pages.count[pfns] == 2)
    assert cg.usage_in_bytes == 6 * P and cg.stat()["pgpgin"] == 6
    mi = eng.meminfo()
    assert mi["MemFree"] == RAM - 6 * P
    assert mi["AnonPages"] == 6 * P and mi["Active(anon)"] == 6 * P
    co = eng.counters()
    assert co["forks"] == 1 and co["pgalloc"] == 6
    # both ptes are write-protected for COW
    for v in range(6):
        assert not t.pte(v) & pymemcg.PTE_WRITE
        assert not c.pte(v) & pymemcg.PTE_WRITE


def test_child_pages_stay_charged_to_first_toucher(eng):
    a, b = eng.mkdir("a"), eng.mkdir("b")
    t = eng.spawn(a)
    t.fault(range(4))
    c = t.fork()
    c.move(b)
    assert c.cgroup is b
    assert a.usage_in_bytes == 4 * P and b.usage_in_bytes == 0
    c.fault(range(4), write=False)                  # reads of shared pages: no charge
    assert a.usage_in_bytes == 4 * P and b.usage_in_bytes == 0
    c.fault(range(10, 13))                          # new pages: charged to the child's cgroup
    assert b.usage_in_bytes == 3 * P and a.usage_in_bytes == 4 * P
    # the parent exits: the shared pages lose their last-but-one mapping only
    t.exit()
    assert a.usage_in_bytes == 4 * P and a.stat()["rss"] == 4 * P and a.stat()["pgpgout"] == 0
    assert a.tasks == [] and [x.pid for x in b.tasks] == [c.pid]
    pfns = pfns_of(c, range(4))
    assert np.all(eng.pages.mapcount[pfns] == 1) and np.all(eng.pages.count[pfns] == 1)
    # only the last unmap uncharges, and it uncharges the first toucher
    c.munmap(range(2))
    assert a.usage_in_bytes == 2 * P and b.usage_in_bytes == 3 * P
    c.exit()
    assert a.usage_in_bytes == 0 and b.usage_in_bytes == 0
    assert a.stat()["pgpgout"] == 4 and b.stat()["pgpgout"] == 3
    assert eng.meminfo()["MemFree"] == RAM


def test_shared_page_uncharged_only_at_last_unmap(eng):
    cg = eng.mkdir("a")
    t = eng.spawn(cg)
    t.fault(range(3))
    c1 = t.fork()
    c2 = t.fork()
    pfns = pfns_of(t, range(3))
    assert np.all(eng.pages.mapcount[pfns] == 3) and np.all(eng.pages.count[pfns] == 3)
    t.munmap(range(3))
    assert cg.usage_in_bytes == 3 * P
    c1.exit()
    assert cg.usage_in_bytes == 3 * P
    assert np.all(eng.pages.mapcount[pfns] == 1)
    assert eng.meminfo()["MemFree"] == RAM - 3 * P
    assert cg.stat()["pgpgout"] == 0
    c2.zap(range(3), flush=False)
    assert cg.usage_in_bytes == 0 and cg.stat()["pgpgout"] == 3
    assert eng.meminfo()["MemFree"] == RAM - 3 * P
    c2.tlb_flush()
    assert eng.meminfo()["MemFree"] == RAM


def test_cow_write_by_child_copies_and_charges_child_cgroup(eng):
    a, b = eng.mkdir("a"), eng.mkdir("b")
    t = eng.spawn(a)
    t.fault(range(4))
    old = pfns_of(t, range(4))
    c = t.fork()
    c.move(b)
    assert c.fault(range(2), write=True) == 2
    new = pfns_of(c, range(2))
    assert not set(new.tolist()) & set(old.tolist())
    assert b.usage_in_bytes == 2 * P and b.stat()["rss"] == 2 * P and b.stat()["pgpgin"] == 2
    assert a.usage_in_bytes == 4 * P and a.stat()["pgpgout"] == 0
    assert np.all(eng.pages.mapcount[old[:2]] == 1) and np.all(eng.pages.count[old[:2]] == 1)
    assert np.all(eng.pages.mapcount[old[2:]] == 2)
    assert np.all(eng.pages.mapcount[new] == 1) and np.all(eng.pages.count[new] == 1)
    assert np.all(eng.pages.memcg[new] != eng.pages.memcg[old[0]])
    assert c.pte(0) & pymemcg.PTE_WRITE and not t.pte(0) & pymemcg.PTE_WRITE
    co = eng.counters()
    assert co["cow_faults"] == 2 and co["cow_reuse"] == 0 and co["anon_faults"] == 4
    assert t.rss == 4 and c.rss == 4
    mi = eng.meminfo()
    assert mi["MemFree"] == RAM - 6 * P and mi["AnonPages"] == 6 * P
    # a second write by the child to the copied page is a plain touch
    c.fault(range(2), write=True)
    assert eng.counters()["cow_faults"] == 2 and b.usage_in_bytes == 2 * P


def test_cow_copies_are_owned_by_writer_cgroup(eng):
    a, b = eng.mkdir("a"), eng.mkdir("b")
    t = eng.spawn(a)
    t.fault(range(2))
    c = t.fork()
    c.move(b)
    c.fault(0)
    t.fault(1)
    a_id = eng.pages.memcg[pfn_of(t, 0)]
    assert eng.pages.memcg[pfn_of(c, 0)] != a_id        # child's copy belongs to b
    assert eng.pages.memcg[pfn_of(t, 1)] == a_id        # parent's copy belongs to a
    assert eng.pages.memcg[pfn_of(c, 1)] == a_id        # the original stays a's
    assert a.usage_in_bytes == 3 * P and b.usage_in_bytes == 1 * P


def test_cow_write_by_parent_copies(eng):
    cg = eng.mkdir("a")
    t = eng.spawn(cg)
    t.fault(range(3))
    old = pfns_of(t, range(3))
    c = t.fork()
    t.fault(range(3), write=True)
    assert eng.counters()["cow_faults"] == 3
    np.testing.assert_array_equal(pfns_of(c, range(3)), old)
    assert not set(pfns_of(t, range(3)).tolist()) & set(old.tolist())
    assert cg.usage_in_bytes == 6 * P and cg.stat()["pgpgin"] == 6
    assert np.all(eng.pages.mapcount[old] == 1)


def test_cow_reuse_after_other_side_exits(eng):
    cg = eng.mkdir("a")
    t = eng.spawn(cg)
    t.fault(range(4))
    old = pfns_of(t, range(4))
    c = t.fork()
    c.exit()
    assert np.all(eng.pages.mapcount[old] == 1) and np.all(eng.pages.count[old] == 1)
    assert not t.pte(0) & pymemcg.PTE_WRITE         # still write-protected after the child left
    assert t.fault(range(4), write=True) == 4
    co = eng.counters()
    assert co["cow_reuse"] == 4 and co["cow_faults"] == 0 and co["pgalloc"] == 4
    np.testing.assert_array_equal(pfns_of(t, range(4)), old)
    assert t.pte(0) & pymemcg.PTE_WRITE
    assert cg.usage_in_bytes == 4 * P and cg.stat()["pgpgin"] == 4 and cg.stat()["pgpgout"] == 0
    assert eng.meminfo()["MemFree"] == RAM - 4 * P


def test_cow_reuse_by_child_after_parent_exits_and_after_copy(eng):
    cg = eng.mkdir("a")
    t = eng.spawn(cg)
    t.fault(range(2))
    c = t.fork()
    c.fault(0, write=True)                          # copy: the original is now only t's
    t.fault(0, write=True)                          # t is the sole user: reuse
    co = eng.counters()
    assert co["cow_faults"] == 1 and co["cow_reuse"] == 1
    t.exit()
    c.fault(1, write=True)                          # sole user after the parent left
    co = eng.counters()
    assert co["cow_faults"] == 1 and co["cow_reuse"] == 2
    assert cg.usage_in_bytes == 2 * P


def test_cow_reuse_decided_by_mapcount_not_refcount(eng):
    # the other side's reference parked in its mmu_gather does not prevent reuse:
    # 2.6.30's reuse_swap_page looks at page_mapcount only
    cg = eng.mkdir("a")
    t = eng.spawn(cg)
    t.fault(range(2))
    pfns = pfns_of(t, range(2))
    c = t.fork()
    c.zap(range(2), flush=False)
    assert np.all(eng.pages.count[pfns] == 2) and np.all(eng.pages.mapcount[pfns] == 1)
    assert cg.usage_in_bytes == 2 * P                # not the last unmap: still charged
    t.fault(range(2), write=True)
    co = eng.counters()
    assert co["cow_reuse"] == 2 and co["cow_faults"] == 0
    np.testing.assert_array_equal(pfns_of(t, range(2)), pfns)
    eng.check()
    c.tlb_flush()
    assert np.all(eng.pages.count[pfns] == 1)
    assert cg.usage_in_bytes == 2 * P and eng.meminfo()["MemFree"] == RAM - 2 * P


def test_fork_chain_with_founder_gone(eng):
    cg = eng.mkdir("a")
    t = eng.spawn(cg)
    t.fault(range(4))
    pfns = pfns_of(t, range(4))
    c = t.fork()
    g = c.fork()
    assert np.all(eng.pages.mapcount[pfns] == 3) and np.all(eng.pages.count[pfns] == 3)
    t.exit()
    assert np.all(eng.pages.mapcount[pfns] == 2)
    assert cg.usage_in_bytes == 4 * P
    g.fault(0, write=True)                          # copy: c still maps the original
    c.fault(1, write=True)                          # copy: g still maps the original
    assert eng.counters()["cow_faults"] == 2
    c.fault(0, write=True)                          # c is the original's only user now
    assert eng.counters()["cow_reuse"] == 1
    g.mlock(range(4))                               # copies 2 and 3 (shared), locks its own 0 and 1
    assert eng.counters()["cow_faults"] == 4
    assert eng.meminfo()["Mlocked"] == 4 * P
    gg = g.fork()                                   # shares g's mlocked pages, unlocked
    assert gg.rss == 4 and not gg.pte(0) & pymemcg.PTE_LOCKED
    g.exit()                                        # munlock: gg maps them from an unlocked range
    mi = eng.meminfo()
    assert mi["Mlocked"] == 0 and mi["Unevictable"] == 0
    assert cg.usage_in_bytes == 8 * P
    c.exit()
    gg.exit()
    assert cg.usage_in_bytes == 0 and eng.meminfo()["MemFree"] == RAM


def test_duplicate_cow_writes_need_one_frame_each():
    eng = pymemcg.Engine(ram="64k", swap=0)         # 16 frames
    t = eng.spawn()
    t.fault(range(14))
    c = t.fork()
    assert eng.meminfo()["MemFree"] == 2 * P
    # four writes, two distinct shared pages: exactly the two free frames
    assert c.fault(np.array([0, 0, 1, 1], dtype=np.int64), write=True) == 4
    assert eng.counters()["cow_faults"] == 2 and eng.meminfo()["MemFree"] == 0


# ---------------------------------------------------------------- move


def test_move_leaves_charges_behind(eng):
    a, b = eng.mkdir("a"), eng.mkdir("b")
    t = eng.spawn(a)
    t.fault(range(5))
    t.move(b)
    assert t.cgroup is b
    assert a.tasks == [] and [x.pid for x in b.tasks] == [t.pid]
    assert a.usage_in_bytes == 5 * P and b.usage_in_bytes == 0
    t.fault(range(5))                               # present: nothing new
    assert a.usage_in_bytes == 5 * P and b.usage_in_bytes == 0
    t.fault(range(5, 8))
    assert b.usage_in_bytes == 3 * P and b.stat()["rss"] == 3 * P and b.stat()["pgpgin"] == 3
    assert a.usage_in_bytes == 5 * P and a.stat()["pgpgin"] == 5
    # unmapping an old page uncharges the cgroup that was charged, not the current one
    t.munmap(range(2))
    assert a.usage_in_bytes == 3 * P and b.usage_in_bytes == 3 * P
    assert a.stat()["pgpgout"] == 2 and b.stat()["pgpgout"] == 0
    t.exit()
    assert a.usage_in_bytes == 0 and b.usage_in_bytes == 0
    # a left without tasks keeps nothing; moving back and forth works
    t2 = eng.spawn(b)
    t2.move(a)
    t2.move(eng.root)
    t2.move("b")
    assert t2.cgroup is b


def test_move_to_same_cgroup(eng):
    a = eng.mkdir("a")
    t = eng.spawn(a)
    t.move(a)
    assert [x.pid for x in a.tasks] == [t.pid]


# ---------------------------------------------------------------- mlock


def test_mlock_makes_pages_unevictable(eng):
    cg = eng.mkdir("a")
    t = eng.spawn(cg)
    assert t.mlock(range(6)) == 6                   # faults them in
    assert cg.usage_in_bytes == 6 * P and cg.stat()["pgpgin"] == 6
    st = cg.stat()
    assert st["unevictable"] == 6 * P and st["active_anon"] == 0 and st["inactive_anon"] == 0
    assert st["total_unevictable"] == 6 * P
    mi = eng.meminfo()
    assert mi["Unevictable"] == 6 * P and mi["Mlocked"] == 6 * P
    assert mi["Active(anon)"] == 0 and mi["Inactive(anon)"] == 0 and mi["AnonPages"] == 6 * P
    pfns = pfns_of(t, range(6))
    f = eng.pages.flags[pfns]
    assert np.all(f & pymemcg.PG_mlocked) and np.all(f & pymemcg.PG_unevictable)
    assert np.all(f & pymemcg.PG_lru) and not np.any(f & pymemcg.PG_active)
    assert np.all(eng.pages.count[pfns] == 1)
    assert eng.counters()["mlocked"] == 6
    assert all(t.pte(v) & pymemcg.PTE_LOCKED for v in range(6))


def test_mlock_of_present_pages_does_not_charge(eng):
    cg = eng.mkdir("a")
    t = eng.spawn(cg)
    t.fault(range(8))
    assert t.mlock(range(2, 6)) == 4
    assert cg.usage_in_bytes == 8 * P and cg.stat()["pgpgin"] == 8
    assert eng.counters()["pgalloc"] == 8
    st = cg.stat()
    assert st["unevictable"] == 4 * P and st["active_anon"] == 4 * P
    mi = eng.meminfo()
    assert mi["Unevictable"] == 4 * P and mi["Mlocked"] == 4 * P and mi["Active(anon)"] == 4 * P
    # mlock again: nothing changes
    assert t.mlock(range(2, 6)) == 4
    assert eng.meminfo()["Mlocked"] == 4 * P and eng.counters()["mlocked"] == 4


def test_munmap_mlocked_range_frees_pages(eng):
    cg = eng.mkdir("a")
    t = eng.spawn(cg)
    t.mlock(range(6))
    t.fault(range(6, 8))
    assert t.munmap(range(4)) == 4
    mi = eng.meminfo()
    assert mi["Unevictable"] == 2 * P and mi["Mlocked"] == 2 * P
    assert mi["Active(anon)"] == 2 * P
    assert mi["MemFree"] == RAM - 4 * P
    assert cg.usage_in_bytes == 4 * P
    assert cg.stat()["unevictable"] == 2 * P and cg.stat()["pgpgout"] == 4
    t.exit()
    mi = eng.meminfo()
    assert mi["Unevictable"] == 0 and mi["Mlocked"] == 0 and mi["MemFree"] == RAM
    assert cg.usage_in_bytes == 0 and cg.stat()["unevictable"] == 0


def test_mlock_after_fork_breaks_cow(eng):
    a, b = eng.mkdir("a"), eng.mkdir("b")
    t = eng.spawn(a)
    t.fault(range(4))
    old = pfns_of(t, range(4))
    c = t.fork()
    c.move(b)
    assert c.mlock(range(4)) == 4                   # mlock faults for write: COW copies
    new = pfns_of(c, range(4))
    assert not set(new.tolist()) & set(old.tolist())
    co = eng.counters()
    assert co["cow_faults"] == 4 and co["mlocked"] == 4
    assert b.usage_in_bytes == 4 * P and b.stat()["unevictable"] == 4 * P
    assert a.usage_in_bytes == 4 * P and a.stat()["unevictable"] == 0 and a.stat()["active_anon"] == 4 * P
    # the originals are only the parent's, evictable
    assert np.all(eng.pages.mapcount[old] == 1)
    assert not np.any(eng.pages.flags[old] & (pymemcg.PG_mlocked | pymemcg.PG_unevictable))
    assert np.all(eng.pages.flags[new] & pymemcg.PG_mlocked)
    mi = eng.meminfo()
    assert mi["Mlocked"] == 4 * P and mi["Unevictable"] == 4 * P and mi["Active(anon)"] == 4 * P
    assert mi["MemFree"] == RAM - 8 * P
    c.munmap(range(4))
    mi = eng.meminfo()
    assert mi["Mlocked"] == 0 and mi["Unevictable"] == 0 and mi["MemFree"] == RAM - 4 * P
    assert b.usage_in_bytes == 0


def test_munmap_of_mlocked_shared_page_returns_it_to_evictable_list(eng):
    # locked before fork: the child shares the mlocked pages (VM_LOCKED is not inherited)
    cg = eng.mkdir("a")
    t = eng.spawn(cg)
    t.mlock(range(3))
    c = t.fork()
    pfns = pfns_of(t, range(3))
    np.testing.assert_array_equal(pfns_of(c, range(3)), pfns)
    assert not c.pte(0) & pymemcg.PTE_LOCKED
    assert np.all(eng.pages.mapcount[pfns] == 2)
    assert eng.meminfo()["Mlocked"] == 3 * P
    t.munmap(range(3))                              # munlock: no locked vma maps them any more
    mi = eng.meminfo()
    assert mi["Mlocked"] == 0 and mi["Unevictable"] == 0
    assert mi["Inactive(anon)"] + mi["Active(anon)"] == 3 * P
    assert mi["Inactive(anon)"] == 3 * P            # putback_lru_page cleared PG_active
    assert mi["MemFree"] == RAM - 3 * P
    assert cg.usage_in_bytes == 3 * P
    st = cg.stat()
    assert st["unevictable"] == 0 and st["inactive_anon"] == 3 * P
    assert not np.any(eng.pages.flags[pfns] & (pymemcg.PG_mlocked | pymemcg.PG_unevictable))
    assert eng.counters()["munlocked"] == 3


def test_mlocked_by_both_stays_locked_until_both_unmap(eng):
    t = eng.spawn()
    t.fault(range(2))
    c = t.fork()
    t.mlock(range(2))                               # t breaks COW: its copies are locked
    c.mlock(range(2))                               # c is now the originals' only user: reuse
    co = eng.counters()
    assert co["cow_faults"] == 2 and co["cow_reuse"] == 2
    assert eng.meminfo()["Mlocked"] == 4 * P
    t.exit()
    assert eng.meminfo()["Mlocked"] == 2 * P and eng.meminfo()["Unevictable"] == 2 * P


# ---------------------------------------------------------------- hierarchy


def test_hierarchy_charges_show_in_parent(eng):
    p = eng.mkdir("p")
    p.write("memory.use_hierarchy", "1")
    c1 = eng.mkdir("p/c1")
    c2 = eng.mkdir("p/c2")
    assert c1.use_hierarchy == 1
    flat = eng.mkdir("flat")
    t1, t2, t3 = eng.spawn(c1), eng.spawn(c2), eng.spawn(p)
    t1.fault(range(3))
    t2.fault(range(5))
    t3.fault(range(2))
    tf = eng.spawn(flat)
    tf.fault(range(7))
    assert c1.usage_in_bytes == 3 * P and c2.usage_in_bytes == 5 * P
    assert p.usage_in_bytes == 10 * P and p.memsw_usage_in_bytes == 10 * P
    assert p.max_usage_in_bytes == 10 * P
    st = p.stat()
    assert st["rss"] == 2 * P and st["total_rss"] == 10 * P
    assert st["pgpgin"] == 2 and st["total_pgpgin"] == 10
    assert st["active_anon"] == 2 * P and st["total_active_anon"] == 10 * P
    # the root does not use hierarchy: nothing shows there
    assert eng.root.usage_in_bytes == 0
    assert flat.usage_in_bytes == 7 * P
    t2.munmap(range(5))
    assert p.usage_in_bytes == 5 * P and c2.usage_in_bytes == 0
    assert p.stat()["total_pgpgout"] == 5 and p.stat()["pgpgout"] == 0


def test_hierarchical_limit_in_stat(eng):
    p = eng.mkdir("p")
    p.use_hierarchy = 1
    p.limit_in_bytes = "1M"
    c = eng.mkdir("p/c")
    c.limit_in_bytes = "2M"
    assert c.stat()["hierarchical_memory_limit"] == 1 << 20
    assert p.stat()["hierarchical_memory_limit"] == 1 << 20


# ---------------------------------------------------------------- OOM


def test_oom_kills_faulting_task(eng):
    cg = eng.mkdir("a")
    cg.limit_in_bytes = "1M"                        # 256 pages, no swap: nothing to reclaim
    t = eng.spawn(cg)
    assert t.fault(range(300)) == 256               # killed at the 257th page
    assert not t.alive and t.oom_killed
    assert cg.tasks == []
    assert eng.counters()["oom_kills"] == 1
    assert eng.counters()["pgfault"] == 256
    # six refusals: the first try and MEM_CGROUP_RECLAIM_RETRIES (5) retries
    assert cg.failcnt == 6
    assert cg.memsw_failcnt == 0
    assert cg.usage_in_bytes == 0 and cg.memsw_usage_in_bytes == 0
    assert cg.max_usage_in_bytes == 1 << 20
    st = cg.stat()
    assert st["rss"] == 0 and st["pgpgin"] == 256 and st["pgpgout"] == 256
    assert eng.meminfo()["MemFree"] == RAM
    with pytest.raises(pymemcg.TaskDead):
        t.fault(0)


def test_oom_kills_faulting_task_in_mlock(eng):
    cg = eng.mkdir("a")
    cg.limit_in_bytes = "1M"
    t = eng.spawn(cg)
    assert t.mlock(range(260)) == 256
    assert not t.alive and t.oom_killed
    assert eng.meminfo()["Mlocked"] == 0 and eng.meminfo()["Unevictable"] == 0
    assert cg.usage_in_bytes == 0 and eng.counters()["oom_kills"] == 1


def test_oom_kills_bigger_task_and_fault_continues(eng):
    cg = eng.mkdir("a")
    cg.limit_in_bytes = "1M"
    big = eng.spawn(cg)
    small = eng.spawn(cg)
    big.fault(range(200))
    assert small.fault(range(100)) == 100           # 56 fit; big dies; the rest fit
    assert not big.alive and big.oom_killed
    assert small.alive and not small.oom_killed
    assert small.rss == 100
    assert [x.pid for x in cg.tasks] == [small.pid]
    assert cg.usage_in_bytes == 100 * P
    assert cg.failcnt == 6
    assert cg.max_usage_in_bytes == 1 << 20
    c = eng.counters()
    assert c["oom_kills"] == 1 and c["pgfault"] == 300
    st = cg.stat()
    assert st["rss"] == 100 * P and st["pgpgin"] == 300 and st["pgpgout"] == 200
    assert eng.meminfo()["MemFree"] == RAM - 100 * P


def test_oom_only_looks_inside_the_memcg(eng):
    a, b = eng.mkdir("a"), eng.mkdir("b")
    a.limit_in_bytes = "1M"
    huge = eng.spawn(b)
    huge.fault(range(500))                          # bigger, but not in a
    t = eng.spawn(a)
    assert t.fault(range(257)) == 256
    assert t.oom_killed and huge.alive and not huge.oom_killed
    assert b.usage_in_bytes == 500 * P and b.failcnt == 0


def test_oom_in_hierarchy_picks_largest_of_subtree(eng):
    p = eng.mkdir("p")
    p.use_hierarchy = 1
    p.limit_in_bytes = "1M"
    c1, c2 = eng.mkdir("p/c1"), eng.mkdir("p/c2")
    big, small = eng.spawn(c1), eng.spawn(c2)
    big.fault(range(150))
    assert small.fault(range(120)) == 120           # 106 fit, then p is over its limit
    assert big.oom_killed and small.alive
    assert p.failcnt == 6 and c1.failcnt == 0 and c2.failcnt == 0
    assert p.usage_in_bytes == 120 * P and c2.usage_in_bytes == 120 * P and c1.usage_in_bytes == 0
    assert eng.counters()["oom_kills"] == 1


def test_oom_failcnt_accumulates_per_kill(eng):
    cg = eng.mkdir("a")
    cg.limit_in_bytes = 64 * P
    ts = [eng.spawn(cg) for _ in range(3)]
    ts[0].fault(range(40))
    ts[1].fault(range(20))
    assert ts[2].fault(range(30)) == 30             # kills ts[0] (40 pages)
    assert ts[0].oom_killed and ts[1].alive and ts[2].alive
    assert cg.failcnt == 6
    assert ts[2].fault(range(30, 60)) == 14         # 20 + 44 = 64, then ts[2] (44) is the biggest
    assert not ts[2].alive and ts[2].oom_killed
    assert cg.failcnt == 12
    assert eng.counters()["oom_kills"] == 2
    assert cg.usage_in_bytes == 20 * P


def test_oom_victim_with_parked_gather_is_freed(eng):
    cg = eng.mkdir("a")
    cg.limit_in_bytes = "1M"
    big, small = eng.spawn(cg), eng.spawn(cg)
    big.fault(range(200))
    big.zap(range(10), flush=False)                 # uncharged, frames still held
    assert cg.usage_in_bytes == 190 * P and big.gather_pending == 10
    assert small.fault(range(100)) == 100           # 66 fit, big (190) dies, the rest fit
    assert big.oom_killed and small.alive
    assert cg.usage_in_bytes == 100 * P and cg.failcnt == 6
    assert eng.meminfo()["MemFree"] == RAM - 100 * P
    # the failed reclaim rounds aged some of small's pages onto the inactive list
    assert eng.meminfo()["Active(anon)"] + eng.meminfo()["Inactive(anon)"] == 100 * P


def test_oom_during_cow_break(eng):
    cg = eng.mkdir("a")
    cg.limit_in_bytes = 128 * P
    t = eng.spawn(cg)
    t.fault(range(100))
    c = t.fork()
    # the child's writes copy until 100 + 28 = 128 pages; the 29th copy cannot be
    # charged, the OOM killer picks the parent (rss 100 = child's 100, first in task
    # order; 2.6.30's badness also adds half of each child's total_vm to the parent),
    # and with the parent gone the child's remaining writes reuse the pages.
    assert c.fault(range(100), write=True) == 100
    assert t.oom_killed and c.alive
    co = eng.counters()
    assert co["oom_kills"] == 1 and co["cow_faults"] == 28 and co["cow_reuse"] == 72
    assert cg.usage_in_bytes == 100 * P and cg.failcnt == 6
    assert cg.stat()["pgpgin"] == 128 and cg.stat()["pgpgout"] == 28
    assert eng.meminfo()["MemFree"] == RAM - 100 * P
    assert c.rss == 100


@pytest.mark.parametrize("kernel", ["2.6.30", "2.6.31"])
@pytest.mark.parametrize("swap_account", [True, False])
def test_lifecycle_across_settings(kernel, swap_account):
    eng = pymemcg.Engine(ram="2M", swap=0, kernel=kernel, swap_account=swap_account)
    cg = eng.mkdir("a")
    t = eng.spawn(cg)
    t.fault(range(50))
    c = t.fork()
    c.fault(range(10))                              # 10 COW copies
    assert cg.usage_in_bytes == 60 * P
    if swap_account:
        assert cg.memsw_usage_in_bytes == 60 * P
    else:
        with pytest.raises(pymemcg.CgroupError) as ei:
            cg.read("memory.memsw.usage_in_bytes")
        assert ei.value.errno == errno.ENOENT
        assert "hierarchical_memsw_limit" not in cg.stat()
    t.exit()
    assert cg.usage_in_bytes == 50 * P
    c.exit()
    assert cg.usage_in_bytes == 0 and eng.meminfo()["MemFree"] == 2 << 20
    assert cg.stat()["pgpgin"] == 60 and cg.stat()["pgpgout"] == 60
    cg.limit_in_bytes = 16 * P
    t = eng.spawn(cg)
    assert t.fault(range(20)) == 16 and t.oom_killed
    assert cg.failcnt == 6


# ---------------------------------------------------------------- global memory


def test_out_of_frames_global_oom_kills_the_largest_task():
    # no free frame and nothing reclaimable (no swap): direct reclaim frees nothing and the
    # global OOM killer (out_of_memory) kills the largest task; the faulting one goes on
    eng = pymemcg.Engine(ram="1M", swap=0)          # 256 frames
    big, small = eng.spawn(), eng.spawn()
    assert big.fault(range(200)) == 200
    assert small.fault(range(100)) == 100           # 56 fit, big dies, 44 more fit
    assert big.oom_killed and not big.alive and small.alive
    c = eng.counters()
    assert c["global_oom_kills"] == 1 and c["oom_kills"] == 0
    assert eng.meminfo()["MemFree"] == 156 * P
    assert eng.root.usage_in_bytes == 100 * P


def test_out_of_frames_kills_the_faulting_task_when_it_is_the_largest():
    eng = pymemcg.Engine(ram="64k", swap=0)         # 16 frames
    t = eng.spawn()
    assert t.fault(range(17)) == 16                 # the 17th page finds no frame
    assert t.oom_killed and eng.counters()["global_oom_kills"] == 1
    assert eng.meminfo()["MemFree"] == 16 * P and eng.root.usage_in_bytes == 0
    with pytest.raises(pymemcg.TaskDead):
        t.fault(0)


# ---------------------------------------------------------------- numpy views


def test_page_views_are_read_only(eng):
    t = eng.spawn()
    t.fault(range(3))
    for name in eng.pages.keys():
        v = eng.pages[name]
        assert isinstance(v, np.ndarray) and not v.flags.writeable
        with pytest.raises(ValueError):
            v[0] = 1
        with pytest.raises(ValueError):
            v.flags.writeable = True
        with pytest.raises(ValueError):
            v[:] = 0
    for v in (eng.swap_map, eng.swap_cgroup):
        assert not v.flags.writeable
        with pytest.raises(ValueError):
            v.flags.writeable = True
    flags = eng.pages.flags
    with pytest.raises(ValueError):
        np.add(flags, 1, out=flags)
    assert len(eng.pages) == 2048 and len(flags) == 2048
    assert np.shares_memory(eng.pages.flags, eng.pages["flags"])


def test_page_views_are_zero_copy(eng):
    flags, count, mapcount, memcg = (eng.pages.flags, eng.pages.count, eng.pages.mapcount, eng.pages.memcg)
    assert count.sum() == 0
    cg = eng.mkdir("a")
    t = eng.spawn(cg)
    t.fault(range(4))
    pfns = pfns_of(t, range(4))
    # the views taken before the fault see it without being re-read
    assert np.all(count[pfns] == 1) and count.sum() == 4
    assert np.all(mapcount[pfns] == 1)
    assert np.all(flags[pfns] & pymemcg.PCG_USED)
    assert len(set(memcg[pfns].tolist())) == 1 and memcg[pfns[0]] != 0
    c = t.fork()
    assert np.all(count[pfns] == 2) and np.all(mapcount[pfns] == 2)
    c.exit()
    t.exit()
    assert count.sum() == 0 and mapcount.sum() == 0
    assert np.all(flags & pymemcg.PG_buddy)
    # a view does not hold a copy
    assert flags.base is not None and flags.size * flags.itemsize == 4 * 2048
