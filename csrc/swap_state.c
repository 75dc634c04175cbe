/*
 * swap_state.c - the swap cache (mm/swap_state.c; semantics.md K1.6,
 * K2.7, K2.9, K2.12): slot -> page, add_to_swap, delete_from_swap_cache,
 * free_swap_cache, and the read side used by swap-in and its readahead.
 */
#include "engine.h"

/* add_to_swap_cache: the cache takes a page reference; -1 if the slot already has a page. */
static int add_to_swap_cache(pmc_engine *e, int32_t pfn, int32_t off)
{
	if (e->a.swap_cache[off] != NIL)
		return -1;
	leak_touch_slot(e, off);
	e->a.count[pfn]++;
	SetPage(e, pfn, PG_swapcache);
	e->a.private[pfn] = (uint32_t)off;
	e->a.swap_cache[off] = pfn;
	e->swapcache_pages++;
	return 0;
}

/* __delete_from_swap_cache: out of the radix tree; the caller handles the slot and the page ref. */
static void __delete_from_swap_cache(pmc_engine *e, int32_t pfn)
{
	leak_touch_slot(e, (int32_t)e->a.private[pfn]);
	e->a.swap_cache[e->a.private[pfn]] = NIL;
	e->a.private[pfn] = 0;
	ClearPage(e, pfn, PG_swapcache);
	e->swapcache_pages--;
}

/*
 * delete_from_swap_cache (page locked): leave the cache, give the slot back
 * (with the memcg swap-cache uncharge, K2.12, unless the strategy keeps the
 * charge on the page) and drop the cache's reference.
 * The caller still holds a reference, so the page is not freed here.
 */
void delete_from_swap_cache(pmc_engine *e, int32_t pfn)
{
	int32_t off = (int32_t)e->a.private[pfn];
	__delete_from_swap_cache(e, pfn);
	e->swap_ops->swapcache_free(e, off, hook_delete_from_swap_cache(e, pfn));
	put_page(e, pfn);
}

/*
 * __remove_mapping for a swap-cache page under reclaim: only with exactly the
 * cache's and the isolation's references and a clean page.  On success the
 * page has no references left and is the caller's to free.
 */
int __remove_mapping(pmc_engine *e, int32_t pfn)
{
	if (e->a.count[pfn] != 2 || PageTest(e, pfn, PG_dirty))
		return 0;
	int32_t off = (int32_t)e->a.private[pfn];
	e->a.count[pfn] = 0;                  /* page_freeze_refs */
	__delete_from_swap_cache(e, pfn);
	e->swap_ops->swapcache_free(e, off, pfn);
	return 1;
}

/*
 * add_to_swap (K2.9, page locked, anon, not in the swap cache): a slot, the
 * cache, dirty.  No memcg call happens here.  Returns 0 when swap is full.
 */
int add_to_swap(pmc_engine *e, int32_t pfn)
{
	for (;;) {
		int32_t off = get_swap_page(e);
		if (!off)
			return 0;
		if (!add_to_swap_cache(e, pfn, off)) {
			SetPage(e, pfn, PG_dirty);
			return 1;
		}
		e->swap_ops->swapcache_free(e, off, NIL);  /* -EEXIST: a racing readahead owns it */
	}
}

/* free_swap_cache (from the mmu_gather flush): drop an unmapped page's slot if it can be trylocked. */
void free_swap_cache(pmc_engine *e, int32_t pfn)
{
	if (PageTest(e, pfn, PG_swapcache) && !page_mapped(e, pfn)) {
		if (!trylock_page(e, pfn)) {
			e->ctr.free_swap_trylock_failed++;
			return;
		}
		try_to_free_swap(e, pfn);
		unlock_page(e, pfn);
	}
}

/*
 * read_swap_cache_async: the page of a slot, from the cache or newly read.
 * A new page gets the cache's slot reference, goes on the inactive anon list
 * uncharged (K2.7: readahead pages are charged only when mapped), and stays
 * locked until its read completes.  Returns the page with a reference for
 * the caller, or NIL (slot free, or no frame).
 */
int32_t read_swap_cache_async(pmc_engine *e, int32_t off)
{
	int32_t pfn = e->a.swap_cache[off];
	if (pfn != NIL) {
		e->a.count[pfn]++;
		return pfn;
	}
	if (e->swap_ops->swapcache_prepare(e, off))
		return NIL;
	pfn = alloc_page(e);
	if (pfn == NIL) {
		e->swap_ops->swapcache_free(e, off, NIL);
		return NIL;
	}
	SetPage(e, pfn, PG_locked | PG_swapbacked);
	/* add_to_swap_cache without a second slot reference: swapcache_prepare took it */
	leak_touch_slot(e, off);
	e->a.count[pfn]++;
	SetPage(e, pfn, PG_swapcache);
	e->a.private[pfn] = (uint32_t)off;
	e->a.swap_cache[off] = pfn;
	e->swapcache_pages++;
	lru_cache_add_lru(e, pfn, LRU_INACTIVE_ANON);
	swap_readpage(e, pfn);
	return pfn;
}
