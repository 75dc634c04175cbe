/*
 * reclaim.c - the reclaim drivers of 2.6.30 (mm/vmscan.c, mm/memcontrol.c)
 * as resumable machines: shrink_zone with get_scan_ratio inside
 * do_try_to_free_pages (direct and memcg reclaim) and balance_pgdat
 * (kswapd), mem_cgroup_hierarchical_reclaim over a memcg subtree, and the
 * charge loop of __mem_cgroup_try_charge that calls it.  semantics.md K2.1,
 * K2.14.  Each machine's step call does one page-step
 * of work (or one piece of bookkeeping) and says whether there is more.
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

/* get_scan_ratio (K2.14): the share of scan pressure anon gets, in percent. */
static int64_t get_scan_ratio(pmc_engine *e, const struct scan_control *sc)
{
	if (!sc->may_swap || e->nr_swap_pages <= 0)
		return 0;
	int64_t anon = zone_nr_pages(e, sc, LRU_ACTIVE_ANON) + zone_nr_pages(e, sc, LRU_INACTIVE_ANON);
	int64_t file = zone_nr_pages(e, sc, LRU_ACTIVE_FILE) + zone_nr_pages(e, sc, LRU_INACTIVE_FILE);
	if (!sc->mem_cgroup && file + e->nr_free <= e->pages_high)
		return 100;
	struct reclaim_stat *rs = get_reclaim_stat(e, sc);
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
		int64_t gb = (inactive + active) >> 18;
		ratio = gb ? int_sqrt(10 * gb) : 1;
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
	rs->sc.swappiness = mem_cgroup_swappiness(e, memcg);
	if (kind == RK_KSWAPD)
		e->ctr.kswapd_runs++;
	else if (kind == RK_DIRECT)
		e->ctr.direct_reclaims++;
	else
		e->ctr.memcg_reclaims++;
}

/*
 * The machine follows the core's convention (docs/architecture.md): one
 * function per stop point, named after the kernel step, returning the next
 * phase; reclaim_step dispatches.  RP_PRIORITY and RP_ZONE_END are the head
 * and the tail of one priority of do_try_to_free_pages or balance_pgdat,
 * RP_ZONE one list of shrink_zone, RP_BATCH one stop point of the
 * shrink_inactive_list batch in progress.
 */

/* One batch of shrink_inactive_list; fresh (a new shrink_list call) or the next of its do-while. */
static enum reclaim_phase start_batch(pmc_engine *e, struct reclaim_state *rs, int64_t max_scan, int fresh)
{
	rs->batch_max_scan = max_scan;
	if (fresh)
		rs->batch_scanned = 0;
	int nr = rs->swap_cluster_max < SWAP_CLUSTER_MAX ? (int)rs->swap_cluster_max : SWAP_CLUSTER_MAX;
	shrink_inactive_list_init(e, &rs->batch, &rs->sc, nr);
	return RP_BATCH;
}

/* shrink_zones: this priority's pass over the (one) zone starts with shrink_zone's scan targets. */
static enum reclaim_phase shrink_zones(pmc_engine *e, struct reclaim_state *rs)
{
	rs->sc.nr_scanned = 0;
	shrink_zone_targets(e, rs);
	return RP_ZONE;
}

/* RP_PRIORITY of direct and memcg reclaim: do_try_to_free_pages' loop head. */
static enum reclaim_phase do_try_to_free_pages(pmc_engine *e, struct reclaim_state *rs)
{
	return shrink_zones(e, rs);
}

/* RP_PRIORITY of kswapd: balance_pgdat's loop head (age the anon lists, stop once the zone is balanced). */
static enum reclaim_phase balance_pgdat(pmc_engine *e, struct reclaim_state *rs)
{
	if (inactive_anon_is_low(e, &rs->sc))
		shrink_active_list(e, SWAP_CLUSTER_MAX, &rs->sc, rs->priority);
	if (zone_watermark_ok_high(e))
		return RP_DONE;
	return shrink_zones(e, rs);
}

/* RP_ZONE: one step of shrink_zone's loop over the lists (shrink_list on the next list with a target). */
static enum reclaim_phase shrink_zone(pmc_engine *e, struct reclaim_state *rs)
{
	int64_t *nr = rs->nr;
	if (!(nr[LRU_INACTIVE_ANON] || nr[LRU_ACTIVE_FILE] || nr[LRU_INACTIVE_FILE]))
		return RP_ZONE_END;
	while (rs->lru < LRU_UNEVICTABLE && !nr[rs->lru])
		rs->lru++;
	if (rs->lru == LRU_UNEVICTABLE) {         /* one pass over the lists is done */
		rs->lru = 0;
		/* 2.6.30 counts what the whole reclaim call freed, not this shrink_zone */
		if (rs->sc.nr_reclaimed > rs->swap_cluster_max && rs->priority < DEF_PRIORITY && rs->kind != RK_KSWAPD)
			return RP_ZONE_END;
		return RP_ZONE;
	}
	int l = rs->lru++;
	int64_t nr_to_scan = nr[l] < rs->swap_cluster_max ? nr[l] : rs->swap_cluster_max;
	nr[l] -= nr_to_scan;
	if (l == LRU_ACTIVE_FILE || l == LRU_INACTIVE_FILE)
		return RP_ZONE;                        /* no page cache */
	if (l == LRU_ACTIVE_ANON && inactive_anon_is_low(e, &rs->sc)) {
		shrink_active_list(e, nr_to_scan, &rs->sc, rs->priority);
		tick(e, COST_PAGE_LRU_NS * nr_to_scan);
		return RP_ZONE;
	}
	return start_batch(e, rs, nr_to_scan, 1);       /* shrink_inactive_list */
}

/* RP_BATCH: one stop point of shrink_inactive_list; at the batch's end, its do-while goes on or returns to shrink_zone. */
static enum reclaim_phase shrink_inactive_list_batch(pmc_engine *e, struct reclaim_state *rs)
{
	if (shrink_inactive_list(e, &rs->batch))
		return RP_BATCH;
	rs->sc.nr_scanned += rs->batch.sc.nr_scanned;
	rs->sc.nr_reclaimed += rs->batch.sc.nr_reclaimed;
	rs->hook_calls += rs->batch.hook_calls;
	rs->hook_freed += rs->batch.hook_freed;
	rs->batch_scanned += rs->batch.nr_isolate_scanned;
	if (rs->batch.nr_taken && rs->batch_scanned < rs->batch_max_scan)
		return start_batch(e, rs, rs->batch_max_scan, 0);
	return RP_ZONE;
}

/* The anon lists are aged after each shrink_zone (its closing shrink_active_list). */
static void shrink_zone_end(pmc_engine *e, struct reclaim_state *rs)
{
	if (inactive_anon_is_low(e, &rs->sc))
		shrink_active_list(e, SWAP_CLUSTER_MAX, &rs->sc, rs->priority);
	rs->total_scanned += rs->sc.nr_scanned;
}

/* RP_ZONE_END of direct and memcg reclaim: do_try_to_free_pages' loop tail. */
static enum reclaim_phase do_try_to_free_pages_priority_end(pmc_engine *e, struct reclaim_state *rs)
{
	struct scan_control *sc = &rs->sc;
	shrink_zone_end(e, rs);
	if (sc->nr_reclaimed >= rs->swap_cluster_max) {
		rs->ret = sc->nr_reclaimed;
		return RP_DONE;
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
		return RP_DONE;
	}
	rs->priority--;
	return RP_PRIORITY;
}

/* RP_ZONE_END of kswapd: balance_pgdat's loop tail, and its loop_again. */
static enum reclaim_phase balance_pgdat_priority_end(pmc_engine *e, struct reclaim_state *rs)
{
	struct scan_control *sc = &rs->sc;
	shrink_zone_end(e, rs);
	if (rs->total_scanned > 2 * SWAP_CLUSTER_MAX && rs->total_scanned > sc->nr_reclaimed + sc->nr_reclaimed / 2)
		sc->may_writepage = 1;
	if (zone_watermark_ok_high(e))
		return RP_DONE;
	if (rs->total_scanned && rs->priority < DEF_PRIORITY - 2) {
		congestion_wait(e);
		e->ctr.congestion_waits++;
	}
	if (sc->nr_reclaimed >= SWAP_CLUSTER_MAX || rs->priority == 0) {
		/* loop_again while the sweep made progress and the zone is still short */
		int progress = sc->nr_reclaimed > 0;
		rs->ret += sc->nr_reclaimed;
		if (!progress)
			return RP_DONE;
		rs->priority = DEF_PRIORITY;
		rs->total_scanned = 0;
		sc->nr_reclaimed = 0;
		sc->may_writepage = !e->laptop_mode;
		return RP_PRIORITY;
	}
	rs->priority--;
	return RP_PRIORITY;
}

/*
 * do_try_to_free_pages (direct, memcg) or balance_pgdat (kswapd), advanced
 * by one stop point.  Returns 1 while there is more to do.  The list and
 * batch steps tick their own costs.
 */
int reclaim_step(pmc_engine *e, struct reclaim_state *rs)
{
	int kswapd = rs->kind == RK_KSWAPD;
	switch (rs->phase) {
	case RP_PRIORITY:
		rs->phase = kswapd ? balance_pgdat(e, rs) : do_try_to_free_pages(e, rs);
		break;
	case RP_ZONE:
		rs->phase = shrink_zone(e, rs);
		return 1;
	case RP_BATCH:
		rs->phase = shrink_inactive_list_batch(e, rs);
		return 1;
	case RP_ZONE_END:
		rs->phase = kswapd ? balance_pgdat_priority_end(e, rs) : do_try_to_free_pages_priority_end(e, rs);
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

/* HR_SELECT: mem_cgroup_select_victim, skipping a victim with nothing charged locally; two visits to root end it. */
static enum hrec_phase hrec_select_victim(pmc_engine *e, struct hrec_state *h)
{
	if (h->loop >= 2) {
		h->ret = h->total;
		return HR_DONE;
	}
	int32_t victim = mem_cgroup_select_victim(e, h->root);
	if (victim == h->root)
		h->loop++;
	const struct mem_cgroup *v = &e->memcg[victim];
	if (!v->stat[MEMCG_CACHE] && !v->stat[MEMCG_RSS])
		return HR_SELECT;
	reclaim_init(e, &h->scan, RK_MEMCG, victim, h->noswap, h->swap_cluster_max);
	return HR_SCAN;
}

/* HR_SCAN: one stop point of try_to_free_mem_cgroup_pages on the victim; at its end, stop or pick the next. */
static enum hrec_phase hrec_shrink_victim(pmc_engine *e, struct hrec_state *h)
{
	if (reclaim_step(e, &h->scan))
		return HR_SCAN;
	h->total += h->scan.ret;
	if (h->shrink) {
		h->ret = h->scan.ret;
		return HR_DONE;
	}
	if (mem_cgroup_check_under_limit(e, h->root)) {
		h->ret = 1 + h->total;
		return HR_DONE;
	}
	return HR_SELECT;
}

/*
 * mem_cgroup_hierarchical_reclaim (K2.14), one stop point: reclaim from the
 * subtree's memcgs in turn, skipping those with nothing charged locally,
 * until root is under its limit (ret 1 + pages) or root has been visited
 * twice (ret pages).  A limit write's reclaim (shrink) stops after the first
 * memcg it reclaimed from, returning what that freed.  Returns 1 while there
 * is more to do.
 */
int hrec_step(pmc_engine *e, struct hrec_state *h)
{
	switch (h->phase) {
	case HR_SELECT: h->phase = hrec_select_victim(e, h); break;
	case HR_SCAN: h->phase = hrec_shrink_victim(e, h); break;
	default: return 0;
	}
	return h->phase != HR_DONE;
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

/* CH_TRY: charge res (and memsw); a refusal starts reclaim from the memcg that refused (mem_over_limit). */
static enum charge_phase try_charge_res_counter(pmc_engine *e, struct charge_state *cs)
{
	int noswap;
	int32_t over = res_charge_page(e, cs->memcg, &noswap);
	if (!over)
		return CH_OK;
	e->ctr.charge_failures++;
	cs->over = over;
	hrec_init(e, &cs->hrec, over, noswap);
	return CH_RECLAIM;
}

/*
 * CH_RECLAIM: one stop point of mem_cgroup_hierarchical_reclaim; then retry,
 * and after MEM_CGROUP_RECLAIM_RETRIES fruitless rounds OOM-kill (when
 * charging for a task) and give up.
 */
static enum charge_phase try_charge_reclaim(pmc_engine *e, struct charge_state *cs)
{
	if (hrec_step(e, &cs->hrec))
		return CH_RECLAIM;
	if (cs->hrec.ret || mem_cgroup_check_under_limit(e, cs->over))
		return CH_TRY;
	if (cs->nr_retries--)
		return CH_TRY;
	if (!cs->pid)
		return CH_NOMEM;
	int32_t victim = mem_cgroup_out_of_memory(e, cs->over, cs->pid);
	return (victim == cs->pid || !victim) ? CH_OOM_SELF : CH_OOM_RETRY;
}

_Static_assert(CH_OOM_RETRY - CH_OK == CHARGE_OOM_RETRY && CH_OOM_SELF - CH_OK == CHARGE_OOM_SELF &&
               CH_NOMEM - CH_OK == CHARGE_NOMEM && CHARGE_OK == 0, "a finished charge's phase is its outcome");

/* __mem_cgroup_try_charge, one stop point: its outcome once done, CHARGE_MORE until then. */
enum charge_result __mem_cgroup_try_charge(pmc_engine *e, struct charge_state *cs)
{
	switch (cs->phase) {
	case CH_TRY: cs->phase = try_charge_res_counter(e, cs); break;
	case CH_RECLAIM: cs->phase = try_charge_reclaim(e, cs); break;
	default: break;
	}
	return cs->phase >= CH_OK ? (enum charge_result)(cs->phase - CH_OK) : CHARGE_MORE;
}

/* The charge loop run to its end, for callers that cannot be interleaved. */
enum charge_result mem_cgroup_try_charge(pmc_engine *e, int32_t pid, int32_t memcg)
{
	struct charge_state cs;
	enum charge_result r;
	charge_init(&cs, memcg, pid);
	while ((r = __mem_cgroup_try_charge(e, &cs)) == CHARGE_MORE)
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
