/*
 * vmscan.c - page reclaim (mm/vmscan.c of 2.6.30; kernel-semantics §2.13,
 * §2.14, §3): isolation from the zone or a memcg list, shrink_page_list as a
 * machine that stops wherever another CPU can overtake it, pageout,
 * shrink_active_list, and the watermarks.  The drivers that call these
 * (direct, memcg and kswapd reclaim) are in reclaim.c.
 */
#include "engine.h"

enum pageout_t { PAGE_KEEP, PAGE_ACTIVATE, PAGE_SUCCESS, PAGE_CLEAN };

/* int_sqrt, as the kernel's lib/int_sqrt.c computes it */
static int64_t int_sqrt(int64_t x)
{
	int64_t r = 0;
	while ((r + 1) * (r + 1) <= x)
		r++;
	return r;
}

/*
 * Zone watermarks from min_free_kbytes = sqrt(16 * lowmem kB), clamped to
 * [128, 65536] (init_per_zone_pages_min), and the anon inactive ratio
 * (setup_per_zone_inactive_ratio).
 */
void setup_watermarks(pmc_engine *e)
{
	int64_t kbytes = int_sqrt(e->nr_pages * 4 * 16);
	if (kbytes < 128)
		kbytes = 128;
	if (kbytes > 65536)
		kbytes = 65536;
	e->pages_min = kbytes / 4;
	if (e->pages_min > e->nr_pages / 8)      /* a tiny machine keeps most of its RAM usable */
		e->pages_min = e->nr_pages / 8;
	e->pages_low = e->pages_min + e->pages_min / 4;
	e->pages_high = e->pages_min + e->pages_min / 2;
	int64_t gb = e->nr_pages >> 18;
	e->inactive_ratio = gb ? (int32_t)int_sqrt(10 * gb) : 1;
	e->vm_swappiness = 60;
}

/* Move a page to the tail of its zone list (pagevec_move_tail). */
void move_page_to_zone_tail(pmc_engine *e, int32_t pfn)
{
	enum pmc_lru lru = page_lru(e, pfn);
	int32_t *prev = e->a.lru_prev, *next = e->a.lru_next;
	if (e->lru_tail[lru] == pfn)
		return;
	/* unlink (not the tail, so next exists) */
	if (prev[pfn] != NIL)
		next[prev[pfn]] = next[pfn];
	else
		e->lru_head[lru] = next[pfn];
	prev[next[pfn]] = prev[pfn];
	/* append */
	prev[pfn] = e->lru_tail[lru];
	next[pfn] = NIL;
	next[e->lru_tail[lru]] = pfn;
	e->lru_tail[lru] = pfn;
}

static struct reclaim_stat *get_reclaim_stat(pmc_engine *e, const struct scan_control *sc)
{
	return sc->mem_cgroup ? &e->memcg[sc->mem_cgroup].stat_reclaim : &e->zone_stat;
}

/* --- isolation ---------------------------------------------------------------- */

/* __isolate_lru_page: take a reference, clear PG_lru, leave the zone and memcg lists. */
static void __isolate_lru_page(pmc_engine *e, int32_t pfn, enum pmc_lru lru)
{
	e->a.count[pfn]++;
	ClearPage(e, pfn, PG_lru);
	del_page_from_lru_list(e, pfn, lru);
}

/*
 * isolate_lru_pages / mem_cgroup_isolate_pages: up to nr pages from the tail
 * of one list.  The memcg walk skips, without counting them as scanned, pcs
 * that are not USED or whose page is off the LRU (§2.13).  Returns the pages
 * taken; *scanned gets the pages scanned.
 */
static int isolate_pages(pmc_engine *e, const struct scan_control *sc, enum pmc_lru lru, int nr,
                         int32_t *dst, int64_t *scanned)
{
	int taken = 0, scan = 0;
	if (!sc->mem_cgroup) {
		for (; scan < nr && e->lru_tail[lru] != NIL; scan++) {
			int32_t pfn = e->lru_tail[lru];
			__isolate_lru_page(e, pfn, lru);
			dst[taken++] = pfn;
		}
	} else {
		struct mem_cgroup *m = &e->memcg[sc->mem_cgroup];
		for (int32_t pfn = m->lru_tail[lru], prev; pfn != NIL && scan < nr; pfn = prev) {
			prev = e->a.mlru_prev[pfn];
			if (!PageTest(e, pfn, PCG_USED) || !PageTest(e, pfn, PG_lru))
				continue;
			scan++;
			__isolate_lru_page(e, pfn, lru);
			dst[taken++] = pfn;
		}
	}
	*scanned = scan;
	return taken;
}

/* --- shrink_active_list ------------------------------------------------------ */

static int page_mapping_inuse(const pmc_engine *e, int32_t pfn)
{
	return page_mapped(e, pfn) || PageTest(e, pfn, PG_swapcache);
}

/*
 * shrink_active_list (2.6.30): every evictable anon page moves to the inactive
 * list; the referenced ones are only counted as rotated (for get_scan_ratio).
 */
void shrink_active_list(pmc_engine *e, int64_t nr_pages, struct scan_control *sc, int priority)
{
	(void)priority;
	int32_t pages[SWAP_CLUSTER_MAX];
	struct reclaim_stat *rs = get_reclaim_stat(e, sc);
	while (nr_pages > 0) {
		int64_t scanned;
		int chunk = nr_pages < SWAP_CLUSTER_MAX ? (int)nr_pages : SWAP_CLUSTER_MAX;
		int taken = isolate_pages(e, sc, LRU_ACTIVE_ANON, chunk, pages, &scanned);
		nr_pages -= chunk;
		rs->recent_scanned[0] += taken;
		for (int i = 0; i < taken; i++) {
			int32_t pfn = pages[i];
			if (PageTest(e, pfn, PG_mlocked)) {
				putback_lru_page(e, pfn);
				continue;
			}
			if (page_mapping_inuse(e, pfn) && page_referenced(e, pfn, sc->mem_cgroup))
				rs->recent_rotated[0]++;
			ClearPage(e, pfn, PG_active);       /* moved to the list directly: no reclaim stat */
			SetPage(e, pfn, PG_lru);
			add_page_to_lru_list(e, pfn, LRU_INACTIVE_ANON);
			put_page(e, pfn);
			e->ctr.pgdeactivate++;
		}
		if (!taken)
			break;
	}
}

/* --- pageout ------------------------------------------------------------------ */

/*
 * pageout (§2.11): PAGE_KEEP while anyone but the swap cache and reclaim holds
 * a reference, or when the device is write-congested and the caller is not
 * kswapd (PF_SWAPWRITE).  Otherwise the page's dirty bit goes to swap_writepage.
 */
static enum pageout_t pageout(pmc_engine *e, int32_t pfn, const struct scan_control *sc)
{
	if (e->a.count[pfn] != 2)
		return PAGE_KEEP;
	if (!PageTest(e, pfn, PG_swapcache))
		return PAGE_KEEP;
	if (!sc->kswapd && bdi_write_congested(e))
		return PAGE_KEEP;
	if (!PageTest(e, pfn, PG_dirty))
		return PAGE_CLEAN;
	ClearPage(e, pfn, PG_dirty);          /* clear_page_dirty_for_io */
	SetPage(e, pfn, PG_reclaim);
	swap_writepage(e, pfn);
	if (!PageTest(e, pfn, PG_writeback))
		ClearPage(e, pfn, PG_reclaim);
	return PAGE_SUCCESS;
}

/* --- shrink_page_list, one stop point per step ---------------------------------- */

void shrink_batch_init(pmc_engine *e, struct shrink_batch *b, const struct scan_control *sc, int32_t nr_to_scan)
{
	(void)e;
	*b = (struct shrink_batch){ .sc = *sc, .nr_to_scan = nr_to_scan, .phase = SP_ISOLATE };
	b->sc.nr_scanned = b->sc.nr_reclaimed = 0;     /* the batch counts its own work */
}

static void next_page(struct shrink_batch *b)
{
	b->idx++;
	b->phase = b->idx < b->nr ? SP_START : SP_PUTBACK;
}

static void leave(struct shrink_batch *b, enum page_label label)
{
	b->label = label;
	b->phase = SP_LABEL;
}

/* Step 1-5 of §3: lock, evictable, writeback, referenced. */
static void sp_start(pmc_engine *e, struct shrink_batch *b, int32_t pfn)
{
	b->referenced = 0;
	if (!trylock_page(e, pfn)) {
		b->outcome[b->idx] = PO_KEEP;       /* keep: not ours to unlock */
		next_page(b);
		return;
	}
	b->sc.nr_scanned++;
	if (PageTest(e, pfn, PG_mlocked))
		return leave(b, L_CULL_MLOCKED);
	if (!b->sc.may_unmap && page_mapped(e, pfn))
		return leave(b, L_KEEP_LOCKED);
	if (page_mapped(e, pfn) || PageTest(e, pfn, PG_swapcache))
		b->sc.nr_scanned++;
	if (PageTest(e, pfn, PG_writeback))
		return leave(b, L_KEEP_LOCKED);     /* the async pass never waits */
	b->referenced = page_referenced(e, pfn, b->sc.mem_cgroup);
	if (b->referenced && page_mapping_inuse(e, pfn))
		return leave(b, L_ACTIVATE_LOCKED);
	b->phase = SP_ADD_TO_SWAP;
}

/* Step 6: add_to_swap, then the strategy's hook (the seed patch's place). */
static void sp_add_to_swap(pmc_engine *e, struct shrink_batch *b, int32_t pfn)
{
	if (PageTest(e, pfn, PG_anon) && !PageTest(e, pfn, PG_swapcache)) {
		if (!add_to_swap(e, pfn))
			return leave(b, L_ACTIVATE_LOCKED);
		e->ctr.swapouts++;
		if (e->ops.after_add_to_swap) {
			int keep = hook_after_add_to_swap(e, pfn);
			b->hook_calls++;
			b->hook_freed += !PageTest(e, pfn, PG_swapcache);
			if (keep)
				return leave(b, L_KEEP_LOCKED);
		}
	}
	b->phase = SP_UNMAP;
}

/* Step 7: try_to_unmap every pte of a mapped page. */
static void sp_unmap(pmc_engine *e, struct shrink_batch *b, int32_t pfn)
{
	if (page_mapped(e, pfn) && PageTest(e, pfn, PG_swapcache)) {
		switch (try_to_unmap(e, pfn)) {
		case SWAP_FAIL: return leave(b, L_ACTIVATE_LOCKED);
		case SWAP_AGAIN: return leave(b, L_KEEP_LOCKED);
		case SWAP_MLOCK: return leave(b, L_CULL_MLOCKED);
		default: break;
		}
	}
	b->phase = SP_PAGEOUT;
}

/* Step 8: a dirty page is written unless referenced, in laptop mode, or refused by pageout. */
static void sp_pageout(pmc_engine *e, struct shrink_batch *b, int32_t pfn)
{
	if (PageTest(e, pfn, PG_dirty)) {
		if (b->referenced || !b->sc.may_writepage)
			return leave(b, L_KEEP_LOCKED);
		b->nr_pageout++;
		switch (pageout(e, pfn, &b->sc)) {
		case PAGE_KEEP:
			e->ctr.pageout_keep++;
			b->nr_pageout_keep++;
			return leave(b, L_KEEP_LOCKED);
		case PAGE_ACTIVATE:
			e->ctr.pageout_activate++;
			return leave(b, L_ACTIVATE_LOCKED);
		case PAGE_SUCCESS:
			/* unlocked by swap_writepage; under writeback, or re-dirtied when its slot was dropped */
			e->ctr.pageout_success++;
			return leave(b, L_KEEP);
		case PAGE_CLEAN:
			e->ctr.pageout_clean++;
			break;
		}
	}
	b->phase = SP_REMOVE;
}

/* Step 10: __remove_mapping, or keep. */
static void sp_remove(pmc_engine *e, struct shrink_batch *b, int32_t pfn)
{
	if (!PageTest(e, pfn, PG_swapcache) || !__remove_mapping(e, pfn))
		return leave(b, L_KEEP_LOCKED);
	leave(b, L_FREE);
}

/* The exit labels of shrink_page_list. */
static void sp_label(pmc_engine *e, struct shrink_batch *b, int32_t pfn)
{
	hook_shrink_page_list_exit(e, pfn, &b->label);
	switch (b->label) {
	case L_CULL_MLOCKED:
		if (PageTest(e, pfn, PG_swapcache))
			try_to_free_swap(e, pfn);
		unlock_page(e, pfn);
		putback_lru_page(e, pfn);
		b->outcome[b->idx] = PO_CULLED;
		break;
	case L_ACTIVATE_LOCKED:
		if (PageTest(e, pfn, PG_swapcache) && vm_swap_full(e))
			try_to_free_swap(e, pfn);
		SetPage(e, pfn, PG_active);
		b->nr_activated++;
		e->ctr.pgactivate++;
		/* fall through */
	case L_KEEP_LOCKED:
		unlock_page(e, pfn);
		/* fall through */
	case L_KEEP:
		b->outcome[b->idx] = b->label == L_ACTIVATE_LOCKED ? PO_ACTIVATE : PO_KEEP;
		break;
	case L_FREE:
		unlock_page(e, pfn);
		free_hot_cold_page(e, pfn);       /* its references were frozen to 0 by __remove_mapping */
		b->sc.nr_reclaimed++;
		b->outcome[b->idx] = PO_FREED;
		break;
	}
	next_page(b);
}

/* shrink_inactive_list's putback: kept pages return to the LRU and lose the isolation reference. */
static void sp_putback(pmc_engine *e, struct shrink_batch *b)
{
	struct reclaim_stat *rs = get_reclaim_stat(e, &b->sc);
	for (int i = 0; i < b->nr; i++) {
		int32_t pfn = b->pfn[i];
		if (b->outcome[i] != PO_KEEP && b->outcome[i] != PO_ACTIVATE)
			continue;
		if (PageTest(e, pfn, PG_mlocked)) {
			putback_lru_page(e, pfn);
			continue;
		}
		SetPage(e, pfn, PG_lru);
		add_page_to_lru_list(e, pfn, page_lru(e, pfn));
		if (PageTest(e, pfn, PG_active))
			rs->recent_rotated[0]++;
		put_page(e, pfn);
	}
	e->ctr.pgscan += b->sc.nr_scanned;
	e->ctr.pgsteal += b->sc.nr_reclaimed;
	e->ctr.hook_calls += b->hook_calls;
	e->ctr.hook_freed += b->hook_freed;
	b->phase = SP_DONE;
}

/*
 * What each stop point costs (ns): page_referenced and try_to_unmap walk the
 * rmap, add_to_swap takes swap_lock and the radix tree, pageout builds a bio.
 */
static const int64_t phase_cost[SP_DONE] = {
	[SP_ISOLATE] = COST_PAGE_LRU_NS * SWAP_CLUSTER_MAX, [SP_START] = 500, [SP_ADD_TO_SWAP] = 400,
	[SP_UNMAP] = 500, [SP_PAGEOUT] = 400, [SP_REMOVE] = 200, [SP_LABEL] = 100,
	[SP_PUTBACK] = COST_PAGE_LRU_NS * SWAP_CLUSTER_MAX,
};

/*
 * Advance a batch by one stop point.  Returns 1 while there is more to do,
 * 0 once the pages are back on the LRU (or freed).
 */
int shrink_batch_step(pmc_engine *e, struct shrink_batch *b)
{
	int32_t pfn = b->idx < b->nr ? b->pfn[b->idx] : NIL;
	int64_t cost = b->phase < SP_DONE ? phase_cost[b->phase] : 0;
	switch (b->phase) {
	case SP_ISOLATE: {
		int64_t scanned;
		b->nr = isolate_pages(e, &b->sc, LRU_INACTIVE_ANON, b->nr_to_scan, b->pfn, &scanned);
		b->nr_taken = b->nr;
		b->nr_isolate_scanned = scanned;
		get_reclaim_stat(e, &b->sc)->recent_scanned[0] += b->nr;
		b->idx = 0;
		b->phase = b->nr ? SP_START : SP_PUTBACK;
		break;
	}
	case SP_START: sp_start(e, b, pfn); break;
	case SP_ADD_TO_SWAP: sp_add_to_swap(e, b, pfn); break;
	case SP_UNMAP: sp_unmap(e, b, pfn); break;
	case SP_PAGEOUT: sp_pageout(e, b, pfn); break;
	case SP_REMOVE: sp_remove(e, b, pfn); break;
	case SP_LABEL: sp_label(e, b, pfn); break;
	case SP_PUTBACK: sp_putback(e, b); break;
	default: return 0;
	}
	tick(e, cost);
	return b->phase != SP_DONE;
}
