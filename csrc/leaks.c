/*
 * leaks.c - the leak figures of semantics.md K4.4 (docs/semantics.md,
 * "Leaks"), kept up to date as the state changes, so that reading them
 * costs O(1) instead of a walk over every frame, slot and page table: a
 * replay's time series samples them for free, and eng.leaks() reads them.
 *
 * A slot's class depends only on its own state and its cache page's: its
 * swap_map count, its swap_cgroup record, its swap cache page, and that
 * page's mapcount, PCG_USED and PG_anon.  Each change to one of these first
 * calls leak_touch_slot (leak_touch_page for a page), which takes the slot's
 * share out of the figures and leaves the slot pending; its share is added
 * back as it then stands when another slot is touched or the figures are
 * read (leak_commit).  A slot touched again while pending is taken out only
 * once, so changes nested in one another (a delete from the swap cache that
 * frees the slot and drops its memsw record) count once; adding a share back
 * early is always right, as the next touch takes it out again.
 *
 * The swap ptes of a slot come from its count (the swap cache's reference
 * taken out in 2.6.30), which pmc_check proves against the page tables.  A
 * count stuck at SWAP_MAP_MAX no longer says how many ptes there are: while
 * such a slot exists the figures are counted from the page tables instead
 * (pmc_leaks in audit.c).  pmc_check recounts the figures from scratch.
 */
#include "engine.h"

/* Add (sign +1) or take out (-1) one slot's share of the figures. */
static void slot_figures(const pmc_engine *e, int32_t off, struct leak_figures *lf, int sign)
{
	const struct swap_ops *ops = e->swap_ops;
	uint16_t v = e->a.swap_map[off];
	int32_t pfn = e->a.swap_cache[off];
	int count = v & ~ops->cache_bit;
	if (v == ops->bad)
		return;
	if (count == ops->max) {
		lf->saturated += sign;
		return;
	}
	if (count - (ops->cache_bit ? 0 : pfn != NIL) > 0)
		return;                              /* a swap pte still uses it */
	if (e->a.swap_cgroup[off])
		lf->leaked_memsw += sign;
	if (!v)
		return;
	if (pfn == NIL)
		lf->no_cache += sign;
	else if (page_mapped(e, pfn))
		return;
	else if (PageTest(e, pfn, PCG_USED))
		lf->orphan += sign;
	else if (PageTest(e, pfn, PG_anon))
		lf->stale_type2 += sign;
	else
		lf->stale_type1 += sign;
}

void leak_touch(pmc_engine *e, int32_t off)
{
	leak_commit(e);
	slot_figures(e, off, &e->leak, -1);
	e->leak_pending = off;
}

void leak_commit(pmc_engine *e)
{
	if (e->leak_pending != NIL)
		slot_figures(e, e->leak_pending, &e->leak, +1);
	e->leak_pending = NIL;
}

/* The figures counted from scratch over every slot. */
void leak_recount(pmc_engine *e, struct leak_figures *out)
{
	*out = (struct leak_figures){ 0 };
	for (int32_t off = 1; off < e->nr_swap; off++)
		slot_figures(e, off, out, +1);
}

void leaks_from_figures(const struct leak_figures *lf, struct pmc_leaks *out)
{
	*out = (struct pmc_leaks){
		.stale_swapcache_type1 = lf->stale_type1, .stale_swapcache_type2 = lf->stale_type2,
		.stale_swapcache = lf->stale_type1 + lf->stale_type2,
		.leaked_swap_entries = lf->no_cache + lf->stale_type1 + lf->stale_type2,
		.leaked_memsw = lf->leaked_memsw, .orphan_charged_swapcache = lf->orphan };
}
