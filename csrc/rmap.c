/*
 * rmap.c - anonymous reverse mapping (mm/rmap.c; kernel-semantics §2.4).
 *
 * An anon page records its fork family (anon_vma) and its vpn.  Without
 * mremap a shared page sits at the same vpn in every task of the family, so
 * the rmap walk visits each member task and looks that vpn up.
 */
#include "engine.h"

/* page_add_new_anon_rmap: first mapping of a fresh page, onto the active anon list. */
void page_add_new_anon_rmap(pmc_engine *e, int32_t pfn, int32_t anon_vma, int64_t vpn)
{
	SetPage(e, pfn, PG_swapbacked | PG_anon | PG_uptodate);
	e->a.mapcount[pfn] = 1;
	e->a.anon_vma[pfn] = anon_vma;
	e->a.vpn[pfn] = vpn;
	e->nr_anon_pages++;
	lru_cache_add_lru(e, pfn, LRU_ACTIVE_ANON);
}

/* page_dup_rmap: fork shares a mapped page; no memcg change. */
void page_dup_rmap(pmc_engine *e, int32_t pfn)
{
	e->a.mapcount[pfn]++;
}

/*
 * page_remove_rmap: when the last pte goes, the anon page is uncharged
 * (unless it is in the swap cache: see __mem_cgroup_uncharge_common).  This
 * runs without the page lock and is CPU-A's step of the Type-2 race (§4.1).
 */
void page_remove_rmap(pmc_engine *e, int32_t pfn)
{
	if (--e->a.mapcount[pfn] > 0)
		return;
	if (PageTest(e, pfn, PG_anon)) {
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
