/*
 * swapfile.c - the swap device: swap_map in the 2.6.30 and 2.6.31
 * encodings, scan_swap_map's slot allocator, slot reference counting and the
 * helpers that free swap-cache pages (mm/swapfile.c; semantics.md K1.5,
 * K2.6, K2.8, K5 for the 2.6.31 reuse).
 *
 * One swap device, offset 0 is its header (SWAP_MAP_BAD), as after swapon.
 * The two kernels differ only through struct swap_ops (engine.h), chosen at
 * engine creation.
 */
#include "engine.h"

#define SWAPFILE_CLUSTER 256

/* 2.6.30: one count, the swap cache's reference included */
#define SWAP_MAP_MAX_30 0x7fff
#define SWAP_MAP_BAD_30 0x8000
/* 2.6.31: pte users in the low bits, SWAP_HAS_CACHE for the cache */
#define SWAP_HAS_CACHE 0x8000
#define SWAP_MAP_MAX_31 0x7ffe
#define SWAP_MAP_BAD_31 0x7fff

int vm_swap_full(const pmc_engine *e)
{
	return e->nr_swap_pages * 2 < e->total_swap_pages;
}

/* --- the two encodings ------------------------------------------------------ */

static int swap_count_30(uint16_t v) { return v ? v - 1 : 0; }     /* users besides the cache: an upper bound */
static int swap_count_31(uint16_t v) { return v & ~SWAP_HAS_CACHE; }

/*
 * swap_entry_free: drop one reference.  cache says whether it is the swap
 * cache's (2.6.31 clears SWAP_HAS_CACHE; 2.6.30 has a single count).  When
 * nothing is left the slot is freed and mem_cgroup_uncharge_swap runs; 2.6.31
 * runs it as soon as the pte users are gone, cache or not (K2.6 Δ31).
 * Returns the slot's value after the drop.
 */
static void swap_slot_freed(pmc_engine *e, int32_t off)
{
	if (off < e->lowest_bit)
		e->lowest_bit = off;
	if (off > e->highest_bit)
		e->highest_bit = off;
	e->nr_swap_pages++;
	e->inuse_pages--;
}

static uint16_t swap_entry_free_30(pmc_engine *e, int32_t off, int cache)
{
	(void)cache;
	uint16_t count = e->a.swap_map[off];
	if (count < SWAP_MAP_MAX_30) {
		leak_touch_slot(e, off);
		e->a.swap_map[off] = --count;
		if (!count) {
			swap_slot_freed(e, off);
			mem_cgroup_uncharge_swap(e, off);
		}
	}
	return count;
}

static uint16_t swap_entry_free_31(pmc_engine *e, int32_t off, int cache)
{
	uint16_t v = e->a.swap_map[off];
	int count = v & ~SWAP_HAS_CACHE, has_cache = !!(v & SWAP_HAS_CACHE);
	if (cache)
		has_cache = 0;
	else if (count < SWAP_MAP_MAX_31)
		count--;
	if (!count)
		mem_cgroup_uncharge_swap(e, off);
	uint16_t usage = (uint16_t)(count | (has_cache ? SWAP_HAS_CACHE : 0));
	leak_touch_slot(e, off);
	e->a.swap_map[off] = usage;
	if (!usage)
		swap_slot_freed(e, off);
	return usage;
}

/* swap_duplicate: one more pte user of an allocated slot; 0 if the slot is free. */
static int swap_duplicate_30(pmc_engine *e, int32_t off)
{
	uint16_t v = e->a.swap_map[off];
	if (!v || v == SWAP_MAP_BAD_30)
		return 0;
	leak_touch_slot(e, off);
	e->a.swap_map[off] = v < SWAP_MAP_MAX_30 - 1 ? v + 1 : SWAP_MAP_MAX_30;
	return 1;
}

static int swap_duplicate_31(pmc_engine *e, int32_t off)
{
	uint16_t v = e->a.swap_map[off];
	int count = v & ~SWAP_HAS_CACHE;
	if (!v || v == SWAP_MAP_BAD_31)
		return 0;
	count = count < SWAP_MAP_MAX_31 - 1 ? count + 1 : SWAP_MAP_MAX_31;
	leak_touch_slot(e, off);
	e->a.swap_map[off] = (uint16_t)(count | (v & SWAP_HAS_CACHE));
	return 1;
}

/*
 * The swap cache's reference for a page read in (read_swap_cache_async):
 * 2.6.30 swap_duplicate, 2.6.31 swapcache_prepare (sets SWAP_HAS_CACHE,
 * refuses a slot with no users or a cache already).  0 on success.
 */
static int swapcache_prepare_30(pmc_engine *e, int32_t off)
{
	return swap_duplicate_30(e, off) ? 0 : -1;
}

static int swapcache_prepare_31(pmc_engine *e, int32_t off)
{
	uint16_t v = e->a.swap_map[off];
	if (v == SWAP_MAP_BAD_31 || (v & SWAP_HAS_CACHE) || !(v & ~SWAP_HAS_CACHE))
		return -1;
	leak_touch_slot(e, off);
	e->a.swap_map[off] = v | SWAP_HAS_CACHE;
	return 0;
}

/*
 * swapcache_free: the swap cache gives up its reference as a page leaves it.
 * 2.6.30: SWAPOUT uncharge (recording the memsw owner) then swap_free.
 * 2.6.31: clear SWAP_HAS_CACHE, then SWAPOUT if pte users remain, else DROP.
 */
static void swapcache_free_30(pmc_engine *e, int32_t off, int32_t pfn)
{
	if (pfn != NIL)
		mem_cgroup_uncharge_swapcache(e, pfn, off, 1);
	swap_entry_free_30(e, off, 1);
}

static void swapcache_free_31(pmc_engine *e, int32_t off, int32_t pfn)
{
	uint16_t count = swap_entry_free_31(e, off, 1);
	if (pfn != NIL)
		mem_cgroup_uncharge_swapcache(e, pfn, off, count != 0);
}

/* scan_swap_map's 2.6.31 addition: while swap is more than half full, a cache-only slot is a candidate. */
static int reusable_31(const pmc_engine *e, int32_t off)
{
	return vm_swap_full(e) && e->a.swap_map[off] == SWAP_HAS_CACHE;
}

static int reusable_30(const pmc_engine *e, int32_t off)
{
	(void)e;
	(void)off;
	return 0;
}

const struct swap_ops swap_ops_2_6_30 = {
	.cache_only = 1, .bad = SWAP_MAP_BAD_30, .new_slot = 1, .cache_bit = 0, .max = SWAP_MAP_MAX_30,
	.swap_count = swap_count_30, .entry_free = swap_entry_free_30, .duplicate = swap_duplicate_30,
	.swapcache_prepare = swapcache_prepare_30, .swapcache_free = swapcache_free_30, .reusable = reusable_30,
};

const struct swap_ops swap_ops_2_6_31 = {
	.cache_only = SWAP_HAS_CACHE, .bad = SWAP_MAP_BAD_31, .new_slot = SWAP_HAS_CACHE,
	.cache_bit = SWAP_HAS_CACHE, .max = SWAP_MAP_MAX_31,
	.swap_count = swap_count_31, .entry_free = swap_entry_free_31, .duplicate = swap_duplicate_31,
	.swapcache_prepare = swapcache_prepare_31, .swapcache_free = swapcache_free_31, .reusable = reusable_31,
};

/* --- the device --------------------------------------------------------------- */

/*
 * sys_swapon's state for a device of N pages: page 0 is the header, and as
 * in released 2.6.30/2.6.31 (before "mm: Fix nr_good_pages calculation",
 * 2010) the last page is not used either: si->max = N - 1, N - 2 good pages.
 */
void swap_info_init(pmc_engine *e)
{
	e->swap_ops = e->cfg.kernel == PMC_KERNEL_2_6_31 ? &swap_ops_2_6_31 : &swap_ops_2_6_30;
	if (e->cfg.nr_swap < 3)
		return;
	e->nr_swap = e->cfg.nr_swap - 1;
	e->a.swap_map[0] = e->swap_ops->bad;
	e->total_swap_pages = e->nr_swap_pages = e->nr_swap - 1;
	e->lowest_bit = 1;
	e->highest_bit = (int32_t)(e->nr_swap - 1);
	e->cluster_next = 1;
	e->cluster_nr = 0;
}

/*
 * __try_to_reclaim_swap (2.6.31): free a cache-only slot met by the allocator,
 * if its page can be trylocked (the caller holds another page's lock).
 */
static int __try_to_reclaim_swap(pmc_engine *e, int32_t off)
{
	int32_t pfn = e->a.swap_cache[off];
	if (pfn == NIL)
		return 0;
	e->a.count[pfn]++;                    /* find_get_page */
	int ret = 0;
	if (trylock_page(e, pfn)) {
		ret = try_to_free_swap(e, pfn);
		unlock_page(e, pfn);
	}
	put_page(e, pfn);
	if (ret)
		e->ctr.swap_reuse++;
	return ret;
}

/* Is offset worth taking? (a free slot, or in 2.6.31 a reusable cache-only one) */
static inline int candidate(pmc_engine *e, int32_t off)
{
	return !e->a.swap_map[off] || e->swap_ops->reusable(e, off) || hook_scan_swap_map(e, off);
}

/*
 * scan_swap_map: allocate sequentially within a cluster of SWAPFILE_CLUSTER
 * slots; when the cluster is used up, look for the first wholly free one,
 * else take the first free slot after cluster_next, wrapping to lowest_bit.
 *
 * Simplification (2.6.31): a cache-only slot whose page cannot be reclaimed
 * sends the kernel back to 'scan', which can wrap and meet it again for
 * ever; the kernel gets out because it cond_resched()s and the page's
 * writeback or lock holder finishes on another CPU.  Nothing else runs
 * during an engine call, so meeting the first such slot a second time means
 * the scan would never end: it fails (no_page), and add_to_swap with it.
 * A strategy may have other cache-only slots reclaimed (hook_scan_swap_map);
 * its answer for a slot holds for the whole allocation, so the same holds.
 */
static int32_t scan_swap_map(pmc_engine *e)
{
	int32_t offset = e->cluster_next, scan_base = offset, unreclaimable = 0;
	hook_scan_swap_map_begin(e);
	if (!e->cluster_nr--) {
		if (e->total_swap_pages - e->inuse_pages < SWAPFILE_CLUSTER) {
			e->cluster_nr = SWAPFILE_CLUSTER - 1;
			goto checks;
		}
		offset = e->lowest_bit;
		int64_t last_in_cluster = offset + SWAPFILE_CLUSTER - 1;
		for (; last_in_cluster <= e->highest_bit; offset++) {
			if (e->a.swap_map[offset])
				last_in_cluster = offset + SWAPFILE_CLUSTER;
			else if (offset == last_in_cluster) {
				offset -= SWAPFILE_CLUSTER - 1;
				e->cluster_next = offset;
				e->cluster_nr = SWAPFILE_CLUSTER - 1;
				goto checks;
			}
		}
		offset = e->lowest_bit;
		e->cluster_nr = SWAPFILE_CLUSTER - 1;
	}
checks:
	if (!e->highest_bit)
		return 0;
	if (offset > e->highest_bit)
		scan_base = offset = e->lowest_bit;
	if (e->swap_ops->reusable(e, offset) || hook_scan_swap_map(e, offset)) {
		if (__try_to_reclaim_swap(e, offset))
			goto checks;
		if (offset == unreclaimable)
			return 0;                   /* a full cycle: see above */
		if (!unreclaimable)
			unreclaimable = offset;
		goto scan;
	}
	if (e->a.swap_map[offset])
		goto scan;
	if (offset == e->lowest_bit)
		e->lowest_bit++;
	if (offset == e->highest_bit)
		e->highest_bit--;
	e->inuse_pages++;
	if (e->inuse_pages == e->total_swap_pages) {
		e->lowest_bit = (int32_t)e->nr_swap;
		e->highest_bit = 0;
	}
	leak_touch_slot(e, offset);
	e->a.swap_map[offset] = e->swap_ops->new_slot;
	e->cluster_next = offset + 1;
	return offset;
scan:
	while (++offset <= e->highest_bit)
		if (candidate(e, offset))
			goto checks;
	offset = e->lowest_bit;
	while (++offset < scan_base)
		if (candidate(e, offset))
			goto checks;
	return 0;
}

/* get_swap_page: a slot for swap-out holding the swap cache's reference, or 0. */
int32_t get_swap_page(pmc_engine *e)
{
	if (e->nr_swap_pages <= 0)
		return 0;
	e->nr_swap_pages--;
	int32_t off = scan_swap_map(e);
	if (!off)
		e->nr_swap_pages++;
	return off;
}

/* swap_free: a swap pte's reference goes away. */
void swap_free(pmc_engine *e, int32_t off)
{
	e->swap_ops->entry_free(e, off, 0);
}

int swap_duplicate(pmc_engine *e, int32_t off)
{
	return e->swap_ops->duplicate(e, off);
}

/* page_swapcount: swap ptes still using a swap-cache page's slot. */
int page_swapcount(const pmc_engine *e, int32_t pfn)
{
	return e->swap_ops->swap_count(e->a.swap_map[e->a.private[pfn]]);
}

/*
 * try_to_free_swap (K2.8): drop a locked page's slot when no swap pte uses it,
 * mapped or not; the page stays, dirty, holding whatever charge it had.
 */
int try_to_free_swap(pmc_engine *e, int32_t pfn)
{
	if (!PageTest(e, pfn, PG_swapcache) || PageTest(e, pfn, PG_writeback))
		return 0;
	if (page_swapcount(e, pfn))
		return 0;
	delete_from_swap_cache(e, pfn);
	SetPage(e, pfn, PG_dirty);
	return 1;
}

/* reuse_swap_page (K2.8): can a write fault take this page over? Drops its slot if so. */
int reuse_swap_page(pmc_engine *e, int32_t pfn)
{
	int count = e->a.mapcount[pfn];
	if (count <= 1 && PageTest(e, pfn, PG_swapcache)) {
		count += page_swapcount(e, pfn);
		if (count == 1 && !PageTest(e, pfn, PG_writeback)) {
			delete_from_swap_cache(e, pfn);
			SetPage(e, pfn, PG_dirty);
		}
	}
	return count == 1;
}

/*
 * free_swap_and_cache (K2.6): a swap pte is zapped.  When only the cache is
 * left (2.6.30: count 1; 2.6.31: exactly SWAP_HAS_CACHE) the cache page is
 * freed too, if it can be trylocked and is not under writeback and unmapped
 * (or swap is full), unless the strategy keeps it.  A failed trylock gives
 * up silently: the Type-1 window.
 */
void free_swap_and_cache(pmc_engine *e, int32_t off)
{
	if (e->swap_ops->entry_free(e, off, 0) != e->swap_ops->cache_only)
		return;
	int32_t pfn = e->a.swap_cache[off];
	if (pfn == NIL)
		return;
	e->a.count[pfn]++;                        /* find_get_page */
	if (!trylock_page(e, pfn)) {
		e->ctr.free_swap_trylock_failed++;
		hook_free_swap_and_cache(e, off, pfn, 0);
		put_page(e, pfn);
		return;
	}
	if (!hook_free_swap_and_cache(e, off, pfn, 1) && PageTest(e, pfn, PG_swapcache) &&
	    !PageTest(e, pfn, PG_writeback) && (!page_mapped(e, pfn) || vm_swap_full(e))) {
		delete_from_swap_cache(e, pfn);
		SetPage(e, pfn, PG_dirty);
	}
	unlock_page(e, pfn);
	put_page(e, pfn);
}

/*
 * valid_swaphandles: the readahead window, the aligned 2^page_cluster block
 * around target cut to the run of allocated slots around it.  Returns the
 * number of slots (0: no readahead) and the first one.
 */
int valid_swaphandles(const pmc_engine *e, int32_t target, int32_t *first)
{
	int cluster = e->cfg.page_cluster;
	if (!cluster)
		return 0;
	int64_t base = ((int64_t)target >> cluster) << cluster, end = base + (1ll << cluster);
	if (!base)
		base++;
	if (end > e->nr_swap)
		end = e->nr_swap;
	int nr_pages = 0;
	int64_t toff;
	for (toff = target; ++toff < end; nr_pages++)
		if (!e->a.swap_map[toff] || e->a.swap_map[toff] == e->swap_ops->bad)
			break;
	for (toff = target; --toff >= base; nr_pages++)
		if (!e->a.swap_map[toff] || e->a.swap_map[toff] == e->swap_ops->bad)
			break;
	*first = (int32_t)(toff + 1);
	return nr_pages ? nr_pages + 1 : 0;
}
