/*
 * seed: "memcg: free unused swapcache on swapout path" (the patch as posted,
 * May 2009; semantics.md K3 step 6, K4.1).  Right after add_to_swap, a
 * page that nobody maps any more -- its owner unmapped it after reclaim
 * isolated it, so it is uncharged and off every memcg list -- would become
 * stale swap cache: memcg_free_unused_swapcache drops its slot at once and
 * the page leaves by keep_locked, to be freed by the putback.  A mapped page
 * costs the two reads.
 */
#include "pymemcg_strategy.h"

static int32_t memcg_free_unused_swapcache(const struct pmc_ctx *c, int32_t pfn)
{
	if (!pmc_page_test(c, pfn, PG_anon) || pmc_page_mapped(c, pfn))
		return PMC_GO_ON;
	return pmc_try_to_free_swap(c, pfn) ? PMC_KEEP_LOCKED : PMC_GO_ON;
}

const struct pmc_strategy pmc_strategy_seed = {
	PMC_STRATEGY_INIT,
	.name = "seed",
	.doc = "the patch as posted: memcg_free_unused_swapcache right after add_to_swap",
	.after_add_to_swap = memcg_free_unused_swapcache,
};
