/*
 * hookpoints.h - where the kernel paths call the reclaim strategy
 * (pymemcg_strategy.h has what each hook may do and what its answer
 * decides; docs/strategies.md the table).  Each hook point is one call of
 * one of these inline wrappers.  A member the strategy left NULL costs one
 * load and a predictable branch.  A wrapper records which page the caller
 * holds locked (the only page try_to_free_swap may act on), calls the hook,
 * and turns an answer its point does not accept into a refusal.
 *
 * Included at the end of engine.h.
 */
#ifndef PMC_HOOKPOINTS_H
#define PMC_HOOKPOINTS_H

/* Before a call: record the page the caller holds locked (NIL: none); returns what to restore. */
static inline int32_t hook_enter(pmc_engine *e, int32_t locked)
{
	int32_t old = e->sctx.locked;
	e->sctx.locked = locked;
	return old;
}

/*
 * After a call (hooks may nest: restore the caller's locked page): 1 if the
 * strategy answered yes, the one decision its point takes (besides
 * PMC_GO_ON, which gives 0); any other answer is refused (0).
 */
static inline int hook_answer(pmc_engine *e, int32_t old, int32_t answer, int32_t yes)
{
	e->sctx.locked = old;
	if (answer == yes)
		return 1;
	if (answer != PMC_GO_ON)
		strategy_refuse(e);
	return 0;
}

/* shrink_page_list after a successful add_to_swap (the caller checked the member): 1 = keep_locked. */
static inline int hook_after_add_to_swap(pmc_engine *e, int32_t pfn)
{
	int32_t old = hook_enter(e, pfn);
	return hook_answer(e, old, e->ops.after_add_to_swap(&e->sctx, pfn), PMC_KEEP_LOCKED);
}

/* shrink_page_list's keep, keep_locked and activate_locked labels: the strategy may swap the locked two. */
static inline void hook_shrink_page_list_exit(pmc_engine *e, int32_t pfn, int32_t *label)
{
	if (!e->ops.shrink_page_list_exit)
		return;
	int32_t exit = *label == L_KEEP ? PMC_EXIT_KEEP : *label == L_KEEP_LOCKED ? PMC_EXIT_KEEP_LOCKED
	             : *label == L_ACTIVATE_LOCKED ? PMC_EXIT_ACTIVATE_LOCKED : 0;
	if (!exit)
		return;
	int locked = exit != PMC_EXIT_KEEP;
	int32_t old = hook_enter(e, locked ? pfn : NIL);
	int32_t d = e->ops.shrink_page_list_exit(&e->sctx, pfn, exit);
	if (!locked) {
		hook_answer(e, old, d, PMC_GO_ON);       /* keep: the page is unlocked, nothing to pick */
		return;
	}
	/* a locked exit may be turned into either locked exit */
	if (hook_answer(e, old, d, d == PMC_ACTIVATE ? PMC_ACTIVATE : PMC_KEEP_LOCKED))
		*label = d == PMC_ACTIVATE ? L_ACTIVATE_LOCKED : L_KEEP_LOCKED;
}

/* page_remove_rmap, the last unmap of a charged anon page out of the swap cache: 1 = keep the charge. */
static inline int hook_page_remove_rmap(pmc_engine *e, int32_t pfn)
{
	if (!e->ops.page_remove_rmap || (e->a.flags[pfn] & (PCG_USED | PG_swapcache)) != PCG_USED)
		return 0;
	int32_t old = hook_enter(e, NIL);
	return hook_answer(e, old, e->ops.page_remove_rmap(&e->sctx, pfn), PMC_DEFER);
}

/*
 * delete_from_swap_cache of a charged, unmapped page that stays in memory:
 * the page swapcache_free is to uncharge, or NIL when the strategy keeps the
 * charge on the page (swapcache_free then leaves memcg alone, as 3.17's does).
 */
static inline int32_t hook_delete_from_swap_cache(pmc_engine *e, int32_t pfn)
{
	if (!e->ops.delete_from_swap_cache || !(e->a.flags[pfn] & PCG_USED) || page_mapped(e, pfn))
		return pfn;
	int32_t old = hook_enter(e, pfn);
	return hook_answer(e, old, e->ops.delete_from_swap_cache(&e->sctx, pfn), PMC_DEFER) ? NIL : pfn;
}

/* free_hot_cold_page of a page still charged (only after a PMC_DEFER): the strategy is told, the page uncharged. */
static inline void hook_free_hot_cold_page(pmc_engine *e, int32_t pfn)
{
	if (e->a.flags[pfn] & PCG_USED)
		strategy_uncharge_at_free(e, pfn);
}

/* do_swap_page once mapped, committed and swap_free'd: 1 = keep the page in the swap cache. */
static inline int hook_do_swap_page(pmc_engine *e, int32_t pfn, int32_t memcg)
{
	if (!e->ops.do_swap_page)
		return 0;
	int32_t old = hook_enter(e, pfn);
	return hook_answer(e, old, e->ops.do_swap_page(&e->sctx, pfn, memcg), PMC_KEEP_CACHE);
}

/* free_swap_and_cache after the trylock of the slot's cache page: 1 = leave it in the swap cache (locked only). */
static inline int hook_free_swap_and_cache(pmc_engine *e, int32_t off, int32_t pfn, int locked)
{
	if (!e->ops.free_swap_and_cache)
		return 0;
	int32_t old = hook_enter(e, locked ? pfn : NIL);
	int32_t d = e->ops.free_swap_and_cache(&e->sctx, off, pfn, locked);
	return hook_answer(e, old, d, locked ? PMC_KEEP_CACHE : PMC_GO_ON) && locked;
}

/* scan_swap_map starts an allocation: the strategy's answers of the last one no longer hold. */
static inline void hook_scan_swap_map_begin(pmc_engine *e)
{
	if (e->ops.scan_swap_map)
		strategy_scan_begin(e);
}

/*
 * scan_swap_map looks at slot off: 1 if the strategy wants the slot's page
 * reclaimed (only asked for a slot held by the swap cache alone).  The first
 * answer for a slot holds for the rest of the allocation, so the scan's own
 * end-of-cycle test (see scan_swap_map) works whatever the strategy answers.
 */
static inline int hook_scan_swap_map(pmc_engine *e, int32_t off)
{
	if (!e->ops.scan_swap_map)
		return 0;
	return strategy_scan_swap_map(e, off);
}

#endif
