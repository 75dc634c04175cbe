/*
 * reclaim.c - the reclaim drivers of 2.6.30 as resumable machines: shrink_zone
 * with get_scan_ratio inside do_try_to_free_pages (direct and memcg reclaim)
 * and balance_pgdat (kswapd), mem_cgroup_hierarchical_reclaim over a memcg
 * subtree, and the charge loop of __mem_cgroup_try_charge that calls it.
 * kernel-semantics §2.1, §2.14.  Each *_step call does one page-step of
 * work (or one piece of bookkeeping) and returns 1 while there is more.
 *
 * Simplifications: one node and one zone, no file pages (the file lists stay
 * empty, so file scan targets are 0), no slab shrinking, no swap token, no
 * all_unreclaimable bookkeeping; a kswapd pass ends when the zone is above
 * its high watermark or a whole priority sweep reclaimed nothing.
 */
#include "engine.h"

/* --- get_scan_ratio and the shrink_zone targets ------------------------------ */

static int64_t zone_nr_pages(const pmc_engine *e, const struct scan_control *sc, int lru)
{
	return sc->mem_cgroup ? e->memcg[sc->mem_cgroup].lru_count[lru] : e->lru_count[lru];
}

static struct reclaim_stat *reclaim_stat_of(pmc_engine *e, const struct scan_control *sc)
{
	return sc->mem_cgroup ? &e->memcg[sc->mem_cgroup].stat_reclaim : &e->zone_stat;
}

/* get_scan_ratio (§2.14): the share of scan pressure anon gets, in percent. */
static int64_t get_scan_ratio(pmc_engine *e, const struct scan_control *sc)
{
	if (!sc->may_swap || e->nr_swap_pages <= 0)
		return 0;
	int64_t anon = zone_nr_pages(e, sc, LRU_ACTIVE_ANON) + zone_nr_pages(e, sc, LRU_INACTIVE_ANON);
	int64_t file = zone_nr_pages(e, sc, LRU_ACTIVE_FILE) + zone_nr_pages(e, sc, LRU_INACTIVE_FILE);
	if (!sc->mem_cgroup && file + e->nr_free <= e->pages_high)
		return 100;
	struct reclaim_stat *rs = reclaim_stat_of(e, sc);
	for (int f = 0; f < 2; f++)
		if (rs->recent_scanned[f] > (f ? file : anon) / 4) {
			rs->recent_scanned[f] /= 2;
			rs->recent_rotated[f] /= 2;
		}
	int64_t ap = (sc->swappiness + 1) * (rs->recent_scanned[0] + 1) / (rs->recent_rotated[0] + 1);
	int64_t fp = (200 - sc->swappiness + 1) * (rs->recent_scanned[1] + 1) / (rs->recent_rotated[1] + 1);
	return 100 * ap / (ap + fp + 1);
}

/* inactive_anon_is_low: the zone's fixed ratio, or the memcg's from its own size. */
static int inactive_anon_is_low(const pmc_engine *e, const struct scan_control *sc)
{
	int64_t inactive = zone_nr_pages(e, sc, LRU_INACTIVE_ANON), active = zone_nr_pages(e, sc, LRU_ACTIVE_ANON);
	int64_t ratio = e->inactive_ratio;
	if (sc->mem_cgroup) {
		int64_t gb = (inactive + active) >> 18, r = 0;
		while ((r + 1) * (r + 1) <= 10 * gb)
			r++;
		ratio = gb ? r : 1;
	}
	return inactive * ratio < active;
}

/* shrink_zone's scan targets for this priority; the zone accumulates small global targets. */
static void shrink_zone_targets(pmc_engine *e, struct reclaim_state *rs)
{
	int64_t percent[2];
	percent[0] = get_scan_ratio(e, &rs->sc);
	percent[1] = 100 - percent[0];
	for (int l = 0; l < LRU_UNEVICTABLE; l++) {
		int file = l >= LRU_INACTIVE_FILE;
		int64_t scan = zone_nr_pages(e, &rs->sc, l);
		if (rs->priority) {
			scan >>= rs->priority;
			scan = scan * percent[file] / 100;
		}
		if (!rs->sc.mem_cgroup) {
			e->zone_nr_scan[l] += scan;
			rs->nr[l] = e->zone_nr_scan[l];
			if (rs->nr[l] >= rs->swap_cluster_max)
				e->zone_nr_scan[l] = 0;
			else
				rs->nr[l] = 0;
		} else {
			rs->nr[l] = scan;
		}
	}
	rs->lru = 0;
}

static int zone_watermark_ok_high(const pmc_engine *e)
{
	return e->nr_free > e->pages_high;
}

void reclaim_init(pmc_engine *e, struct reclaim_state *rs, enum reclaim_kind kind, int32_t memcg,
                  int noswap, int64_t swap_cluster_max)
{
	*rs = (struct reclaim_state){ .kind = kind, .phase = RP_PRIORITY, .priority = DEF_PRIORITY,
	                              .swap_cluster_max = swap_cluster_max > 0 ? swap_cluster_max : SWAP_CLUSTER_MAX };
	rs->sc.may_writepage = !e->laptop_mode;
	rs->sc.may_unmap = 1;
	rs->sc.may_swap = !noswap;
	rs->sc.mem_cgroup = memcg;
	rs->sc.kswapd = kind == RK_KSWAPD;
	rs->sc.swappiness = memcg && e->memcg[memcg].parent ? e->memcg[memcg].swappiness : e->vm_swappiness;
	if (kind == RK_KSWAPD)
		e->ctr.kswapd_runs++;
	else if (kind == RK_DIRECT)
		e->ctr.direct_reclaims++;
	else
		e->ctr.memcg_reclaims++;
}

/* One batch of shrink_inactive_list; fresh (a new shrink_list call) or the next of its do-while. */
static void start_batch(pmc_engine *e, struct reclaim_state *rs, int64_t max_scan, int fresh)
{
	rs->batch_max_scan = max_scan;
	if (fresh)
		rs->batch_scanned = 0;
	int nr = rs->swap_cluster_max < SWAP_CLUSTER_MAX ? (int)rs->swap_cluster_max : SWAP_CLUSTER_MAX;
	shrink_batch_init(e, &rs->batch, &rs->sc, nr);
	rs->phase = RP_BATCH;
}

/* One step of shrink_zone's loop over the lists (shrink_list). */
static void zone_step(pmc_engine *e, struct reclaim_state *rs)
{
	int64_t *nr = rs->nr;
	if (!(nr[LRU_INACTIVE_ANON] || nr[LRU_ACTIVE_FILE] || nr[LRU_INACTIVE_FILE])) {
		rs->phase = RP_ZONE_END;
		return;
	}
	while (rs->lru < LRU_UNEVICTABLE && !nr[rs->lru])
		rs->lru++;
	if (rs->lru == LRU_UNEVICTABLE) {         /* one pass over the lists is done */
		/* 2.6.30 counts what the whole reclaim call freed, not this shrink_zone */
		if (rs->sc.nr_reclaimed > rs->swap_cluster_max && rs->priority < DEF_PRIORITY && rs->kind != RK_KSWAPD)
			rs->phase = RP_ZONE_END;
		rs->lru = 0;
		return;
	}
	int l = rs->lru++;
	int64_t nr_to_scan = nr[l] < rs->swap_cluster_max ? nr[l] : rs->swap_cluster_max;
	nr[l] -= nr_to_scan;
	if (l == LRU_ACTIVE_FILE || l == LRU_INACTIVE_FILE)
		return;                                /* no page cache */
	if (l == LRU_ACTIVE_ANON && inactive_anon_is_low(e, &rs->sc)) {
		shrink_active_list(e, nr_to_scan, &rs->sc, rs->priority);
		tick(e, COST_PAGE_LRU_NS * nr_to_scan);
		return;
	}
	start_batch(e, rs, nr_to_scan, 1);       /* shrink_inactive_list */
}

/* The end of one priority of do_try_to_free_pages / balance_pgdat. */
static void priority_end(pmc_engine *e, struct reclaim_state *rs)
{
	struct scan_control *sc = &rs->sc;
	rs->total_scanned += sc->nr_scanned;
	if (rs->kind == RK_KSWAPD) {
		if (rs->total_scanned > 2 * SWAP_CLUSTER_MAX && rs->total_scanned > sc->nr_reclaimed + sc->nr_reclaimed / 2)
			sc->may_writepage = 1;
		if (zone_watermark_ok_high(e)) {
			rs->phase = RP_DONE;
			return;
		}
		if (rs->total_scanned && rs->priority < DEF_PRIORITY - 2) {
			congestion_wait(e);
			e->ctr.congestion_waits++;
		}
		if (sc->nr_reclaimed >= SWAP_CLUSTER_MAX || rs->priority == 0) {
			/* loop_again while the sweep made progress and the zone is still short */
			int progress = sc->nr_reclaimed > 0;
			rs->ret += sc->nr_reclaimed;
			if (!progress) {
				rs->phase = RP_DONE;
				return;
			}
			rs->priority = DEF_PRIORITY;
			rs->total_scanned = 0;
			sc->nr_reclaimed = 0;
			sc->may_writepage = !e->laptop_mode;
			rs->phase = RP_PRIORITY;
			return;
		}
	} else {
		if (sc->nr_reclaimed >= rs->swap_cluster_max) {
			rs->ret = sc->nr_reclaimed;
			rs->phase = RP_DONE;
			return;
		}
		if (rs->total_scanned > rs->swap_cluster_max + rs->swap_cluster_max / 2)
			sc->may_writepage = 1;
		if (sc->nr_scanned && rs->priority < DEF_PRIORITY - 2) {
			congestion_wait(e);
			e->ctr.congestion_waits++;
		}
		if (rs->priority == 0) {
			/* memcg reclaim reports progress only through the goto out above */
			rs->ret = sc->mem_cgroup ? 0 : sc->nr_reclaimed;
			rs->phase = RP_DONE;
			return;
		}
	}
	rs->priority--;
	rs->phase = RP_PRIORITY;
}

/* do_try_to_free_pages / balance_pgdat, one step. */
int reclaim_step(pmc_engine *e, struct reclaim_state *rs)
{
	switch (rs->phase) {
	case RP_PRIORITY:
		if (rs->kind == RK_KSWAPD) {
			if (inactive_anon_is_low(e, &rs->sc))
				shrink_active_list(e, SWAP_CLUSTER_MAX, &rs->sc, rs->priority);
			if (zone_watermark_ok_high(e)) {
				rs->phase = RP_DONE;
				break;
			}
		}
		rs->sc.nr_scanned = 0;
		shrink_zone_targets(e, rs);
		rs->phase = RP_ZONE;
		break;
	case RP_ZONE:
		zone_step(e, rs);
		return rs->phase != RP_DONE;
	case RP_BATCH:
		if (shrink_batch_step(e, &rs->batch))
			return 1;
		rs->sc.nr_scanned += rs->batch.sc.nr_scanned;
		rs->sc.nr_reclaimed += rs->batch.sc.nr_reclaimed;
		rs->hook_calls += rs->batch.hook_calls;
		rs->hook_freed += rs->batch.hook_freed;
		rs->batch_scanned += rs->batch.nr_isolate_scanned;
		if (rs->batch.nr_taken && rs->batch_scanned < rs->batch_max_scan)
			start_batch(e, rs, rs->batch_max_scan, 0);
		else
			rs->phase = RP_ZONE;
		return 1;
	case RP_ZONE_END:
		if (inactive_anon_is_low(e, &rs->sc))
			shrink_active_list(e, SWAP_CLUSTER_MAX, &rs->sc, rs->priority);
		priority_end(e, rs);
		break;
	default:
		return 0;
	}
	tick(e, COST_RECLAIM_NS);
	return rs->phase != RP_DONE;
}

/* --- mem_cgroup_hierarchical_reclaim ------------------------------------------- */

/* mem_cgroup_select_victim: round robin by id over the live memcgs of root's subtree. */
static int32_t mem_cgroup_select_victim(pmc_engine *e, int32_t root)
{
	struct mem_cgroup *r = &e->memcg[root];
	if (!r->use_hierarchy)
		return root;
	for (;;) {
		for (int32_t id = r->last_scanned_child + 1; id < e->nr_memcg; id++)
			if (!e->memcg[id].removed && mem_cgroup_in_subtree(e, id, root)) {
				r->last_scanned_child = id;
				return id;
			}
		r->last_scanned_child = 0;
	}
}

void hrec_init(pmc_engine *e, struct hrec_state *h, int32_t root, int noswap)
{
	(void)e;
	*h = (struct hrec_state){ .swap_cluster_max = SWAP_CLUSTER_MAX, .root = root, .noswap = noswap,
	                          .phase = HR_SELECT };
}

/*
 * mem_cgroup_hierarchical_reclaim (§2.14): reclaim from the subtree's memcgs
 * in turn, skipping those with nothing charged locally, until root is under
 * its limit (ret 1 + pages) or root has been visited twice (ret pages).  A
 * limit write's reclaim (shrink) stops after the first memcg it reclaimed
 * from, returning what that freed.
 */
int hrec_step(pmc_engine *e, struct hrec_state *h)
{
	if (h->phase == HR_SELECT) {
		if (h->loop >= 2) {
			h->ret = h->total;
			h->phase = HR_DONE;
			return 0;
		}
		int32_t victim = mem_cgroup_select_victim(e, h->root);
		if (victim == h->root)
			h->loop++;
		const struct mem_cgroup *v = &e->memcg[victim];
		if (!v->stat[MEMCG_CACHE] && !v->stat[MEMCG_RSS])
			return 1;
		reclaim_init(e, &h->scan, RK_MEMCG, victim, h->noswap, h->swap_cluster_max);
		h->phase = HR_SCAN;
		return 1;
	}
	if (h->phase == HR_SCAN) {
		if (reclaim_step(e, &h->scan))
			return 1;
		h->total += h->scan.ret;
		if (h->shrink) {
			h->ret = h->scan.ret;
			h->phase = HR_DONE;
			return 0;
		}
		if (mem_cgroup_check_under_limit(e, h->root)) {
			h->ret = 1 + h->total;
			h->phase = HR_DONE;
			return 0;
		}
		h->phase = HR_SELECT;
		return 1;
	}
	return 0;
}

/* --- the charge loop of __mem_cgroup_try_charge -------------------------------- */

/* Only the charge's own fields: the reclaim inside is set up when a charge first fails. */
void charge_init(struct charge_state *cs, int32_t memcg, int32_t pid)
{
	cs->memcg = memcg;
	cs->pid = pid;
	cs->nr_retries = MEM_CGROUP_RECLAIM_RETRIES;
	cs->over = 0;
	cs->phase = CH_TRY;
}

/*
 * One step of the charge: try res (and memsw); on failure reclaim from the
 * memcg that refused (mem_over_limit) and retry; after
 * MEM_CGROUP_RECLAIM_RETRIES fruitless rounds OOM-kill (when charging for a
 * task) and give up.
 */
enum charge_result charge_step(pmc_engine *e, struct charge_state *cs)
{
	if (cs->phase == CH_TRY) {
		int noswap;
		int32_t over = res_charge_page(e, cs->memcg, &noswap);
		if (!over)
			return CHARGE_OK;
		e->ctr.charge_failures++;
		cs->over = over;
		hrec_init(e, &cs->hrec, over, noswap);
		cs->phase = CH_RECLAIM;
		return CHARGE_MORE;
	}
	if (hrec_step(e, &cs->hrec))
		return CHARGE_MORE;
	cs->phase = CH_TRY;
	if (cs->hrec.ret || mem_cgroup_check_under_limit(e, cs->over))
		return CHARGE_MORE;
	if (cs->nr_retries--)
		return CHARGE_MORE;
	if (!cs->pid)
		return CHARGE_NOMEM;
	int32_t victim = mem_cgroup_out_of_memory(e, cs->over, cs->pid);
	return (victim == cs->pid || !victim) ? CHARGE_OOM_SELF : CHARGE_OOM_RETRY;
}

/* The charge loop run to its end, for callers that cannot be interleaved. */
enum charge_result mem_cgroup_try_charge(pmc_engine *e, int32_t pid, int32_t memcg)
{
	struct charge_state cs;
	enum charge_result r;
	charge_init(&cs, memcg, pid);
	while ((r = charge_step(e, &cs)) == CHARGE_MORE)
		;
	return r;
}

/* Drivers run to completion, for the synchronous API. */
int64_t reclaim_run(pmc_engine *e, struct reclaim_state *rs)
{
	while (reclaim_step(e, rs))
		;
	return rs->ret;
}

int64_t try_to_free_mem_cgroup_pages(pmc_engine *e, int32_t memcg, int noswap)
{
	struct reclaim_state rs;
	reclaim_init(e, &rs, RK_MEMCG, memcg, noswap, SWAP_CLUSTER_MAX);
	return reclaim_run(e, &rs);
}

int64_t mem_cgroup_hierarchical_reclaim(pmc_engine *e, int32_t root, int noswap, int shrink)
{
	struct hrec_state h;
	hrec_init(e, &h, root, noswap);
	h.shrink = shrink;
	while (hrec_step(e, &h))
		;
	return h.ret;
}

/* wakeup_kswapd, run synchronously: balance the zone back above its high watermark. */
void wakeup_kswapd(pmc_engine *e)
{
	if (e->nr_free >= e->pages_low || !e->nr_swap)
		return;
	struct reclaim_state rs;
	reclaim_init(e, &rs, RK_KSWAPD, 0, 0, SWAP_CLUSTER_MAX);
	reclaim_run(e, &rs);
}
