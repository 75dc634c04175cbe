/*
 * uncharge-at-free: the charge lifetime memcg adopted in 3.17 ("mm:
 * memcontrol: rewrite uncharge API", 2014).  A page stays charged until it is
 * freed, not until its last unmap or its removal from the swap cache:
 *
 *  - page_remove_rmap: the last unmap keeps the charge (PMC_DEFER);
 *  - delete_from_swap_cache: a page that leaves the swap cache and stays in
 *    memory keeps res and memsw, and its slot gets no swap_cgroup record;
 *  - free_hot_cold_page: the engine uncharges res and memsw when the last
 *    reference goes (3.17's mem_cgroup_uncharge in the final put_page);
 *  - swap-out itself is unchanged: __remove_mapping's uncharge moves memsw
 *    to the slot's record and drops res as the page is freed (3.17's
 *    mem_cgroup_swapout before the final put_page), and the record goes
 *    when the slot's users do (mem_cgroup_uncharge_swap).
 *
 * So an anon page is charged from its first map to its free, and add_to_swap
 * never sees an uncharged one: the Type-2 race (K4.1) leaves a charged
 * page on its memcg's list, which memcg reclaim frees.  Readahead pages are
 * charged only when mapped, as in 3.17, so Type-1 (K4.2) is untouched.
 * The counters say how often each rule applied.
 */
#include "pymemcg_strategy.h"

enum { DEFERRED_AT_UNMAP, DEFERRED_AT_SWAPCACHE_DELETE, UNCHARGED_AT_FREE };

static int32_t keep_charge_at_unmap(const struct pmc_ctx *c, int32_t pfn)
{
	(void)pfn;
	pmc_count(c, DEFERRED_AT_UNMAP);
	return PMC_DEFER;
}

static int32_t keep_charge_out_of_swap_cache(const struct pmc_ctx *c, int32_t pfn)
{
	(void)pfn;
	pmc_count(c, DEFERRED_AT_SWAPCACHE_DELETE);
	return PMC_DEFER;
}

static int32_t mem_cgroup_uncharge(const struct pmc_ctx *c, int32_t pfn)
{
	(void)pfn;
	pmc_count(c, UNCHARGED_AT_FREE);
	return PMC_GO_ON;
}

const struct pmc_strategy pmc_strategy_uncharge_at_free = {
	PMC_STRATEGY_INIT,
	.name = "uncharge-at-free",
	.doc = "3.17's charge lifetime: a page stays charged until it is freed",
	.counters = { "deferred_at_unmap", "deferred_at_swapcache_delete", "uncharged_at_free" },
	.page_remove_rmap = keep_charge_at_unmap,
	.delete_from_swap_cache = keep_charge_out_of_swap_cache,
	.free_hot_cold_page = mem_cgroup_uncharge,
};
