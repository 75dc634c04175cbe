/*
 * hooks.c - reclaim strategies: the table of hook points reclaim calls,
 * chosen at engine creation (hook="none" / hook="seed").  A new strategy is
 * a new table; the hot path pays one predictable branch where a table has
 * no function.
 */
#include "engine.h"

/*
 * memcg_free_unused_swapcache (the 2009 seed patch, kernel-semantics §3 step 6
 * and §4.1): right after add_to_swap, a page that nobody maps any more (its
 * owner unmapped it after isolation, so it is uncharged and off every memcg
 * list) would become stale swap cache; free its slot now.  A mapped page
 * costs one flag test and one load.
 */
static int memcg_free_unused_swapcache(pmc_engine *e, int32_t pfn)
{
	if (!PageTest(e, pfn, PG_anon) || page_mapped(e, pfn))
		return 0;
	return try_to_free_swap(e, pfn);
}

const struct reclaim_hooks hooks_none = { .name = "none", .after_add_to_swap = 0 };

const struct reclaim_hooks hooks_seed = { .name = "seed", .after_add_to_swap = memcg_free_unused_swapcache };
