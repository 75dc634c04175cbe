/*
 * page_alloc.c - the free list, and dropping page references (the parts of
 * mm/page_alloc.c and mm/swap.c this engine needs).
 *
 * Simplification: one node, one zone, order-0 pages only; no per-cpu page
 * lists and no pagevecs, so a freed page is on the free list at once.
 */
#include "engine.h"

/* Take a frame off the free list: count 1, every other field reset. */
int32_t alloc_page(pmc_engine *e)
{
	int32_t pfn = e->free_head;
	if (pfn == NIL)
		return NIL;
	e->free_head = e->a.lru_next[pfn];
	e->nr_free--;
	e->a.flags[pfn] &= PCG_MASK;   /* page_cgroup bits are not the allocator's */
	e->a.count[pfn] = 1;
	e->a.mapcount[pfn] = 0;
	e->a.private[pfn] = 0;
	e->a.anon_vma[pfn] = 0;
	e->a.vpn[pfn] = 0;
	e->a.lru_next[pfn] = e->a.lru_prev[pfn] = NIL;
	e->ctr.pgalloc++;
	return pfn;
}

/*
 * Return a frame to the free list.  As in the kernel, page->mapping (our
 * PG_anon) is reset here, while the page_cgroup's owner stays stale.  A page
 * still charged (a strategy deferred its uncharge) is uncharged first.
 */
void free_hot_cold_page(pmc_engine *e, int32_t pfn)
{
	hook_free_hot_cold_page(e, pfn);
	e->lock_gen += (e->a.flags[pfn] & PG_locked) != 0;
	e->a.flags[pfn] = PG_buddy | (e->a.flags[pfn] & PCG_MASK);
	e->a.count[pfn] = 0;
	e->a.anon_vma[pfn] = 0;
	e->a.vpn[pfn] = 0;
	e->a.lru_prev[pfn] = NIL;
	e->a.lru_next[pfn] = e->free_head;
	e->free_head = pfn;
	e->nr_free++;
	e->ctr.pgfree++;
}

/* put_page: the last reference takes the page off its LRU and frees it (__page_cache_release). */
void put_page(pmc_engine *e, int32_t pfn)
{
	if (--e->a.count[pfn] > 0)
		return;
	if (PageTest(e, pfn, PG_lru))
		del_page_from_lru(e, pfn);
	free_hot_cold_page(e, pfn);
}

/* release_pages: drop one reference on each page of a gather. */
void release_pages(pmc_engine *e, const int32_t *pfns, int n)
{
	for (int i = 0; i < n; i++)
		put_page(e, pfns[i]);
}
