/*
 * vmscan.c - page reclaim (mm/vmscan.c of 2.6.30; semantics.md K2.13,
 * K2.14, K3): isolation from the zone or a memcg list, shrink_page_list as a
 * machine that stops wherever another CPU can overtake it, pageout,
 * shrink_active_list, and the watermarks.  The drivers that call these
 * (direct, memcg and kswapd reclaim) are in reclaim.c.
 */
#include "engine.h"

enum pageout_t { PAGE_KEEP, PAGE_ACTIVATE, PAGE_SUCCESS, PAGE_CLEAN };

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
 * that are not USED or whose page is off the LRU (K2.13).  Returns the pages
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
 * pageout (K2.11): PAGE_KEEP while anyone but the swap cache and reclaim holds
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

/* --- shrink_inactive_list and shrink_page_list, one stop point per step -------------- */

/*
 * The core's convention for a resumable machine (docs/architecture.md): one
 * function per stop point, named after the kernel step it models, that does
 * that step's work and returns the next phase; one switch dispatches on the
 * phase.  Here shrink_inactive_list dispatches its own two stop points
 * (isolate, putback) and hands the per-page ones to shrink_page_list.
 */

void shrink_inactive_list_init(pmc_engine *e, struct shrink_batch *b, const struct scan_control *sc, int32_t nr_to_scan)
{
	(void)e;
	*b = (struct shrink_batch){ .sc = *sc, .nr_to_scan = nr_to_scan, .phase = PMC_SP_ISOLATE };
	b->sc.nr_scanned = b->sc.nr_reclaimed = 0;     /* the batch counts its own work */
}

/* PMC_SP_ISOLATE: isolate_lru_pages (or mem_cgroup_isolate_pages) from the inactive anon list. */
static enum pmc_shrink_phase shrink_isolate_lru_pages(pmc_engine *e, struct shrink_batch *b)
{
	int64_t scanned;
	b->nr = isolate_pages(e, &b->sc, LRU_INACTIVE_ANON, b->nr_to_scan, b->pfn, &scanned);
	b->nr_taken = b->nr;
	b->nr_isolate_scanned = scanned;
	get_reclaim_stat(e, &b->sc)->recent_scanned[0] += b->nr;
	b->idx = 0;
	return b->nr ? PMC_SP_START : PMC_SP_PUTBACK;
}

static enum pmc_shrink_phase next_page(struct shrink_batch *b)
{
	b->idx++;
	return b->idx < b->nr ? PMC_SP_START : PMC_SP_PUTBACK;
}

/* The page in hand leaves by one of shrink_page_list's exit labels, run at the next stop point. */
static enum pmc_shrink_phase goto_label(struct shrink_batch *b, enum page_label label)
{
	b->label = label;
	return PMC_SP_LABEL;
}

/* PMC_SP_START, steps 1-5 of the walk (docs/semantics.md): lock, evictable, writeback, referenced. */
static enum pmc_shrink_phase shrink_page_references(pmc_engine *e, struct shrink_batch *b, int32_t pfn)
{
	b->referenced = 0;
	if (!trylock_page(e, pfn)) {
		b->outcome[b->idx] = PO_KEEP;       /* keep: not ours to unlock */
		return next_page(b);
	}
	b->sc.nr_scanned++;
	if (PageTest(e, pfn, PG_mlocked))
		return goto_label(b, L_CULL_MLOCKED);
	if (!b->sc.may_unmap && page_mapped(e, pfn))
		return goto_label(b, L_KEEP_LOCKED);
	if (page_mapped(e, pfn) || PageTest(e, pfn, PG_swapcache))
		b->sc.nr_scanned++;
	if (PageTest(e, pfn, PG_writeback))
		return goto_label(b, L_KEEP_LOCKED);     /* the async pass never waits */
	b->referenced = page_referenced(e, pfn, b->sc.mem_cgroup);
	if (b->referenced && page_mapping_inuse(e, pfn))
		return goto_label(b, L_ACTIVATE_LOCKED);
	return PMC_SP_ADD_TO_SWAP;
}

/* PMC_SP_ADD_TO_SWAP, step 6: add_to_swap, then the strategy's hook (the seed patch's place). */
static enum pmc_shrink_phase shrink_page_add_to_swap(pmc_engine *e, struct shrink_batch *b, int32_t pfn)
{
	if (PageTest(e, pfn, PG_anon) && !PageTest(e, pfn, PG_swapcache)) {
		if (!add_to_swap(e, pfn))
			return goto_label(b, L_ACTIVATE_LOCKED);
		e->ctr.swapouts++;
		if (e->ops.after_add_to_swap) {
			int keep = hook_after_add_to_swap(e, pfn);
			b->hook_calls++;
			b->hook_freed += !PageTest(e, pfn, PG_swapcache);
			if (keep)
				return goto_label(b, L_KEEP_LOCKED);
		}
	}
	return PMC_SP_UNMAP;
}

/* PMC_SP_UNMAP, step 7: try_to_unmap every pte of a mapped page. */
static enum pmc_shrink_phase shrink_page_try_to_unmap(pmc_engine *e, struct shrink_batch *b, int32_t pfn)
{
	if (page_mapped(e, pfn) && PageTest(e, pfn, PG_swapcache)) {
		switch (try_to_unmap(e, pfn)) {
		case SWAP_FAIL: return goto_label(b, L_ACTIVATE_LOCKED);
		case SWAP_AGAIN: return goto_label(b, L_KEEP_LOCKED);
		case SWAP_MLOCK: return goto_label(b, L_CULL_MLOCKED);
		default: break;
		}
	}
	return PMC_SP_PAGEOUT;
}

/* PMC_SP_PAGEOUT, step 8: a dirty page is written unless referenced, in laptop mode, or refused by pageout. */
static enum pmc_shrink_phase shrink_page_pageout(pmc_engine *e, struct shrink_batch *b, int32_t pfn)
{
	if (PageTest(e, pfn, PG_dirty)) {
		if (b->referenced || !b->sc.may_writepage)
			return goto_label(b, L_KEEP_LOCKED);
		b->nr_pageout++;
		switch (pageout(e, pfn, &b->sc)) {
		case PAGE_KEEP:
			e->ctr.pageout_keep++;
			b->nr_pageout_keep++;
			return goto_label(b, L_KEEP_LOCKED);
		case PAGE_ACTIVATE:
			e->ctr.pageout_activate++;
			return goto_label(b, L_ACTIVATE_LOCKED);
		case PAGE_SUCCESS:
			/* unlocked by swap_writepage; under writeback, or re-dirtied when its slot was dropped */
			e->ctr.pageout_success++;
			return goto_label(b, L_KEEP);
		case PAGE_CLEAN:
			e->ctr.pageout_clean++;
			break;
		}
	}
	return PMC_SP_REMOVE;
}

/* PMC_SP_REMOVE, step 10: __remove_mapping, or keep. */
static enum pmc_shrink_phase shrink_page_remove_mapping(pmc_engine *e, struct shrink_batch *b, int32_t pfn)
{
	if (!PageTest(e, pfn, PG_swapcache) || !__remove_mapping(e, pfn))
		return goto_label(b, L_KEEP_LOCKED);
	return goto_label(b, L_FREE);
}

/* PMC_SP_LABEL: the exit labels of shrink_page_list (cull_mlocked, activate_locked, keep_locked, keep, free). */
static enum pmc_shrink_phase shrink_page_label(pmc_engine *e, struct shrink_batch *b, int32_t pfn)
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
	return next_page(b);
}

/* PMC_SP_PUTBACK: shrink_inactive_list's putback; kept pages return to the LRU and lose the isolation reference. */
static enum pmc_shrink_phase shrink_putback_lru_pages(pmc_engine *e, struct shrink_batch *b)
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
	return PMC_SP_DONE;
}

/*
 * What each stop point costs (ns): page_referenced and try_to_unmap walk the
 * rmap, add_to_swap takes swap_lock and the radix tree, pageout builds a bio.
 */
static const int64_t phase_cost[PMC_SP_DONE] = {
	[PMC_SP_ISOLATE] = COST_PAGE_LRU_NS * SWAP_CLUSTER_MAX, [PMC_SP_START] = 500, [PMC_SP_ADD_TO_SWAP] = 400,
	[PMC_SP_UNMAP] = 500, [PMC_SP_PAGEOUT] = 400, [PMC_SP_REMOVE] = 200, [PMC_SP_LABEL] = 100,
	[PMC_SP_PUTBACK] = COST_PAGE_LRU_NS * SWAP_CLUSTER_MAX,
};

/* shrink_page_list, one stop point for the page in hand: the step it is at; the next phase. */
static enum pmc_shrink_phase shrink_page_list(pmc_engine *e, struct shrink_batch *b)
{
	int32_t pfn = b->pfn[b->idx];
	switch (b->phase) {
	case PMC_SP_START: return shrink_page_references(e, b, pfn);
	case PMC_SP_ADD_TO_SWAP: return shrink_page_add_to_swap(e, b, pfn);
	case PMC_SP_UNMAP: return shrink_page_try_to_unmap(e, b, pfn);
	case PMC_SP_PAGEOUT: return shrink_page_pageout(e, b, pfn);
	case PMC_SP_REMOVE: return shrink_page_remove_mapping(e, b, pfn);
	default: return shrink_page_label(e, b, pfn);         /* PMC_SP_LABEL */
	}
}

/*
 * shrink_inactive_list on one batch, advanced by one stop point: isolation,
 * one step of shrink_page_list for the page in hand, or the putback.
 * Returns 1 while there is more to do, 0 once the pages are back on the LRU
 * (or freed).
 */
int shrink_inactive_list(pmc_engine *e, struct shrink_batch *b)
{
	enum pmc_shrink_phase phase = (enum pmc_shrink_phase)b->phase;
	switch (phase) {
	case PMC_SP_ISOLATE: b->phase = shrink_isolate_lru_pages(e, b); break;
	case PMC_SP_START: case PMC_SP_ADD_TO_SWAP: case PMC_SP_UNMAP: case PMC_SP_PAGEOUT: case PMC_SP_REMOVE: case PMC_SP_LABEL:
		b->phase = shrink_page_list(e, b);
		break;
	case PMC_SP_PUTBACK: b->phase = shrink_putback_lru_pages(e, b); break;
	default: return 0;
	}
	tick(e, phase_cost[phase]);
	return b->phase != PMC_SP_DONE;
}
