/*
 * rmap.c - anonymous reverse mapping (mm/rmap.c; semantics.md K2.4).
 *
 * An anon page records its fork family (anon_vma) and its vpn.  Without
 * mremap a shared page sits at the same vpn in every task of the family, so
 * the rmap walk visits each member task and looks that vpn up.
 */
#include "engine.h"

/*
 * page_add_new_anon_rmap: first mapping of a fresh page, onto the active anon
 * list, or for a locked range the unevictable one
 * (lru_cache_add_active_or_unevictable; mlocked at once, see mlock.c).
 */
void page_add_new_anon_rmap(pmc_engine *e, int32_t pfn, int32_t anon_vma, int64_t vpn, int locked)
{
	SetPage(e, pfn, PG_swapbacked | PG_anon | PG_uptodate);
	e->a.mapcount[pfn] = 1;
	e->a.anon_vma[pfn] = anon_vma;
	e->a.vpn[pfn] = vpn;
	e->nr_anon_pages++;
	if (locked)
		TestSetPageMlocked(e, pfn);
	lru_cache_add_lru(e, pfn, locked ? LRU_UNEVICTABLE : LRU_ACTIVE_ANON);
}

/* page_dup_rmap: fork shares a mapped page; no memcg change. */
void page_dup_rmap(pmc_engine *e, int32_t pfn)
{
	e->a.mapcount[pfn]++;
}

/*
 * page_remove_rmap: when the last pte goes, the anon page is uncharged
 * (unless it is in the swap cache: see __mem_cgroup_uncharge_common, or the
 * strategy keeps the charge).  This runs without the page lock and is
 * CPU-A's step of the Type-2 race (K4.1).
 */
void page_remove_rmap(pmc_engine *e, int32_t pfn)
{
	if (e->a.mapcount[pfn] == 1)
		leak_touch_page(e, pfn);
	if (--e->a.mapcount[pfn] > 0)
		return;
	if (PageTest(e, pfn, PG_anon)) {
		if (!hook_page_remove_rmap(e, pfn))
			mem_cgroup_uncharge_page(e, pfn);
		e->nr_anon_pages--;
	}
}

/*
 * Call fn on every pte that maps pfn, in family order (the anon_vma's vma
 * list: founder first, then children as they were forked).  A non-zero
 * return from fn stops the walk and is returned.
 */
int rmap_walk_anon(pmc_engine *e, int32_t pfn, rmap_one_fn fn, void *ctx)
{
	if (!PageTest(e, pfn, PG_anon))
		return 0;
	int64_t vpn = e->a.vpn[pfn];
	for (int32_t pid = e->task[e->a.anon_vma[pfn]].fam_head; pid != NIL; pid = e->task[pid].fam_next) {
		uint64_t *pte = pte_offset(&e->task[pid], vpn);
		if (pte && (*pte & PTE_PRESENT) && pte_pfn(*pte) == pfn) {
			int ret = fn(e, pfn, pid, pte, ctx);
			if (ret)
				return ret;
		}
	}
	return 0;
}

/* page_add_anon_rmap (swap-in, page locked): one more pte; the first gives the page its anon mapping. */
void page_add_anon_rmap(pmc_engine *e, int32_t pfn, int32_t anon_vma, int64_t vpn)
{
	if (!e->a.mapcount[pfn])
		leak_touch_page(e, pfn);
	if (e->a.mapcount[pfn]++ == 0) {
		SetPage(e, pfn, PG_anon);
		e->a.anon_vma[pfn] = anon_vma;
		e->a.vpn[pfn] = vpn;
		e->nr_anon_pages++;
	}
}

struct referenced_ctx {
	int32_t mem_cgroup;
	int referenced;
};

/*
 * page_referenced_one: a young pte counts once and is made old; for memcg
 * reclaim only the memcg's own mms count (mm_match_cgroup); a VM_LOCKED
 * mapping stops the walk without counting, so the page goes on to be culled.
 */
static int referenced_one(pmc_engine *e, int32_t pfn, int32_t pid, uint64_t *pte, void *ctx)
{
	struct referenced_ctx *rc = ctx;
	(void)pfn;
	if (rc->mem_cgroup && e->task[pid].memcg != rc->mem_cgroup)
		return 0;
	if (*pte & PTE_LOCKED)
		return 1;
	if (*pte & PTE_YOUNG) {
		*pte &= ~PTE_YOUNG;
		rc->referenced++;
	}
	return 0;
}

/* page_referenced: PG_referenced (test and clear) plus the young ptes of a mapped anon page. */
int page_referenced(pmc_engine *e, int32_t pfn, int32_t mem_cgroup)
{
	struct referenced_ctx rc = { mem_cgroup, 0 };
	if (PageTest(e, pfn, PG_referenced)) {
		ClearPage(e, pfn, PG_referenced);
		rc.referenced++;
	}
	if (page_mapped(e, pfn))
		rmap_walk_anon(e, pfn, referenced_one, &rc);
	return rc.referenced;
}

/*
 * try_to_unmap_one (K2.10): a locked vma answers SWAP_MLOCK, a young pte
 * SWAP_FAIL; otherwise the pte becomes the swap entry (one more slot user),
 * its dirty bit moves to the page, and the pte's page reference goes.
 */
static int unmap_one(pmc_engine *e, int32_t pfn, int32_t pid, uint64_t *pte, void *ctx)
{
	int *ret = ctx;
	struct task *t = &e->task[pid];
	if (*pte & PTE_LOCKED) {
		*ret = SWAP_MLOCK;
		mlock_vma_page(e, pfn);              /* try_to_mlock_page */
		return 1;
	}
	if (*pte & PTE_YOUNG) {
		*pte &= ~PTE_YOUNG;
		*ret = SWAP_FAIL;
		return 1;
	}
	if (*pte & PTE_DIRTY)
		SetPage(e, pfn, PG_dirty);
	int32_t off = (int32_t)e->a.private[pfn];
	swap_duplicate(e, off);
	*pte = mk_pte(off, PTE_SWAP) | (*pte & PTE_LOCKED);
	t->rss--;
	t->swap_ptes++;
	page_remove_rmap(e, pfn);
	put_page(e, pfn);
	return 0;
}

/* try_to_unmap: unmap every pte of a swap-cache page; SWAP_SUCCESS once none is left. */
int try_to_unmap(pmc_engine *e, int32_t pfn)
{
	int ret = SWAP_AGAIN;
	rmap_walk_anon(e, pfn, unmap_one, &ret);
	if (ret != SWAP_MLOCK && !page_mapped(e, pfn))
		ret = SWAP_SUCCESS;
	return ret;
}
