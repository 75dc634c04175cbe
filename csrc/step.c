/*
 * step.c - reclaim as the public API calls it: one-shot passes (reclaim,
 * shrink_active_list) and the step API, where a user isolates a batch and
 * walks shrink_page_list through it one stop point at a time, so that the
 * races of semantics.md K4 can be replayed row by row.
 */
#include <stdlib.h>
#include <string.h>

#include "engine.h"

static int memcg_arg(pmc_engine *e, int memcg)
{
	if (memcg && !memcg_valid(e, memcg))
		return pmc_err(e, PMC_ENOENT, "no live cgroup with id %d", memcg);
	return 0;
}

/* The scan_control of a step-API batch: direct reclaim (not kswapd), writes unless laptop_mode. */
static struct scan_control step_sc(pmc_engine *e, int memcg)
{
	return (struct scan_control){ .may_writepage = !e->laptop_mode, .may_unmap = 1, .may_swap = 1,
	                              .swappiness = mem_cgroup_swappiness(e, memcg), .mem_cgroup = memcg, .kswapd = 0 };
}

/* The stop points' and outcomes' names, the ones Python shows (pymemcg/batch.py reads them from here). */
static const char *const shrink_phase_names[] = {
	[PMC_SP_ISOLATE] = "isolate", [PMC_SP_START] = "start", [PMC_SP_ADD_TO_SWAP] = "add_to_swap",
	[PMC_SP_UNMAP] = "unmap", [PMC_SP_PAGEOUT] = "pageout", [PMC_SP_REMOVE] = "remove",
	[PMC_SP_LABEL] = "label", [PMC_SP_PUTBACK] = "putback", [PMC_SP_DONE] = "done",
};
_Static_assert(sizeof shrink_phase_names / sizeof *shrink_phase_names == PMC_SP_DONE + 1, "a name per stop point");

static const char *const page_outcome_names[] = {
	[PMC_PO_PENDING] = "pending", [PMC_PO_KEPT] = "kept", [PMC_PO_ACTIVATED] = "activated",
	[PMC_PO_CULLED] = "culled", [PMC_PO_FREED] = "freed",
};
_Static_assert(sizeof page_outcome_names / sizeof *page_outcome_names == PMC_PO_FREED + 1, "a name per outcome");

const char *pmc_shrink_phase_name(int phase)
{
	return phase >= 0 && phase <= PMC_SP_DONE ? shrink_phase_names[phase] : NULL;
}

const char *pmc_page_outcome_name(int outcome)
{
	return outcome >= 0 && outcome <= PMC_PO_FREED ? page_outcome_names[outcome] : NULL;
}

/* The lowest id of a batch still isolated (not yet shrunk and put back), or -1. */
int32_t first_open_batch(const pmc_engine *e)
{
	for (int32_t id = 0; id < e->nr_batch; id++)
		if (e->batch[id])
			return id;
	return -1;
}

static struct shrink_batch *batch_lookup(pmc_engine *e, int id, int *rc)
{
	if (id < 0 || id >= e->nr_batch) {
		*rc = pmc_err(e, PMC_EINVAL, "no shrink batch %d", id);
		return NULL;
	}
	if (!e->batch[id]) {
		*rc = pmc_err(e, PMC_ESTATE, "batch %d was already shrunk and put back", id);
		return NULL;
	}
	*rc = 0;
	return e->batch[id];
}

/* isolate: shrink_inactive_list's isolation from the tail of the inactive anon list. */
int pmc_isolate(pmc_engine *e, int memcg, int nr)
{
	int rc = memcg_arg(e, memcg);
	if (rc)
		return rc;
	if (nr < 1 || nr > SWAP_CLUSTER_MAX)
		return pmc_err(e, PMC_EINVAL, "a batch isolates 1 to %d pages, not %d", SWAP_CLUSTER_MAX, nr);
	if (e->nr_batch == e->cap_batch) {
		int cap = e->cap_batch ? 2 * e->cap_batch : 16;
		struct shrink_batch **b = realloc(e->batch, (size_t)cap * sizeof *b);
		if (!b)
			return pmc_err(e, PMC_EALLOC, "cannot grow the batch table");
		e->batch = b;
		e->cap_batch = cap;
	}
	struct shrink_batch *b = malloc(sizeof *b);
	if (!b)
		return pmc_err(e, PMC_EALLOC, "cannot allocate a batch");
	struct scan_control sc = step_sc(e, memcg);
	shrink_inactive_list_init(e, b, &sc, nr);
	shrink_inactive_list(e, b);               /* PMC_SP_ISOLATE */
	e->batch[e->nr_batch] = b;
	return e->nr_batch++;
}

int pmc_batch_step(pmc_engine *e, int id)
{
	int rc;
	struct shrink_batch *b = batch_lookup(e, id, &rc);
	if (!b)
		return rc;
	if (b->phase == PMC_SP_PUTBACK)
		return pmc_err(e, PMC_ESTATE, "batch %d has no page left to step; shrink_page_list puts it back", id);
	shrink_inactive_list(e, b);
	return b->phase;
}

int pmc_batch_info(const pmc_engine *e, int id, struct pmc_batch_info *out)
{
	if (id < 0 || id >= e->nr_batch)
		return PMC_EINVAL;
	memset(out, 0, sizeof *out);
	const struct shrink_batch *b = e->batch[id];
	if (!b) {
		out->phase = PMC_SP_DONE;
		return 0;
	}
	out->nr = b->nr;
	out->idx = b->idx;
	out->phase = b->phase;
	out->memcg = b->sc.mem_cgroup;
	memcpy(out->pfn, b->pfn, sizeof b->pfn);
	memcpy(out->outcome, b->outcome, sizeof b->outcome);
	return 0;
}


static void batch_result(const struct shrink_batch *b, struct pmc_reclaim_result *out)
{
	out->isolated += b->nr_taken;
	out->scanned += b->sc.nr_scanned;
	out->reclaimed += b->sc.nr_reclaimed;
	out->hook_calls += b->hook_calls;
	out->hook_freed += b->hook_freed;
	out->activated += b->nr_activated;
	out->pageout += b->nr_pageout;
	out->pageout_keep += b->nr_pageout_keep;
}

/* shrink_page_list over the rest of the batch, then putback; the batch is gone afterwards. */
int pmc_shrink_page_list(pmc_engine *e, int id, struct pmc_reclaim_result *out)
{
	int rc;
	struct shrink_batch *b = batch_lookup(e, id, &rc);
	if (!b)
		return rc;
	while (shrink_inactive_list(e, b))
		;
	memset(out, 0, sizeof *out);
	batch_result(b, out);
	free(b);
	e->batch[id] = NULL;
	return 0;
}

int64_t pmc_shrink_active_list(pmc_engine *e, int memcg, int64_t nr)
{
	int rc = memcg_arg(e, memcg);
	if (rc)
		return rc;
	if (nr < 0)
		return pmc_err(e, PMC_EINVAL, "negative page count %lld", (long long)nr);
	struct scan_control sc = step_sc(e, memcg);
	int64_t before = e->ctr.pgdeactivate;
	shrink_active_list(e, nr, &sc, DEF_PRIORITY);
	return e->ctr.pgdeactivate - before;
}


/*
 * shrink_inactive_list over nr pages of the inactive anon list (batches of
 * SWAP_CLUSTER_MAX), as direct reclaim, or as kswapd (PF_SWAPWRITE: it writes
 * to a congested device, waiting for a free request when the queue is full).
 */
int pmc_shrink_inactive_list(pmc_engine *e, int memcg, int64_t nr, int kswapd, struct pmc_reclaim_result *out)
{
	int rc = memcg_arg(e, memcg);
	if (rc)
		return rc;
	if (nr < 0)
		return pmc_err(e, PMC_EINVAL, "negative page count %lld", (long long)nr);
	struct scan_control sc = step_sc(e, memcg);
	sc.kswapd = kswapd != 0;
	struct shrink_batch *b = malloc(sizeof *b);
	if (!b)
		return pmc_err(e, PMC_EALLOC, "cannot allocate a batch");
	memset(out, 0, sizeof *out);
	while (nr > 0) {
		shrink_inactive_list_init(e, b, &sc, nr < SWAP_CLUSTER_MAX ? (int)nr : SWAP_CLUSTER_MAX);
		while (shrink_inactive_list(e, b))
			;
		batch_result(b, out);
		nr -= b->nr_isolate_scanned;
		if (!b->nr_taken)
			break;
	}
	free(b);
	return 0;
}

/*
 * One reclaim pass: memcg limit reclaim of memcg's subtree
 * (mem_cgroup_hierarchical_reclaim), or global direct reclaim
 * (do_try_to_free_pages over the zone) with memcg 0.
 */
int pmc_reclaim(pmc_engine *e, int memcg, int64_t nr, struct pmc_reclaim_result *out)
{
	int rc = memcg_arg(e, memcg);
	if (rc)
		return rc;
	if (nr < 1)
		return pmc_err(e, PMC_EINVAL, "reclaim target must be positive, got %lld", (long long)nr);
	struct pmc_counters before = e->ctr;
	if (memcg) {
		struct hrec_state *h = malloc(sizeof *h);
		if (!h)
			return pmc_err(e, PMC_EALLOC, "cannot allocate a reclaim");
		hrec_init(e, h, memcg, 0);
		h->swap_cluster_max = nr;
		while (hrec_step(e, h))
			;
		free(h);
	} else {
		struct reclaim_state *rs = malloc(sizeof *rs);
		if (!rs)
			return pmc_err(e, PMC_EALLOC, "cannot allocate a reclaim");
		reclaim_init(e, rs, RK_DIRECT, 0, 0, nr);
		reclaim_run(e, rs);
		free(rs);
	}
	memset(out, 0, sizeof *out);
	out->scanned = e->ctr.pgscan - before.pgscan;
	out->reclaimed = e->ctr.pgsteal - before.pgsteal;
	out->hook_calls = e->ctr.hook_calls - before.hook_calls;
	out->hook_freed = e->ctr.hook_freed - before.hook_freed;
	out->activated = e->ctr.pgactivate - before.pgactivate;
	out->pageout = e->ctr.pageout_keep + e->ctr.pageout_activate + e->ctr.pageout_success + e->ctr.pageout_clean -
	               before.pageout_keep - before.pageout_activate - before.pageout_success - before.pageout_clean;
	out->pageout_keep = e->ctr.pageout_keep - before.pageout_keep;
	return 0;
}

/* Let time pass until n more swap writes (all, n < 0) have completed; returns how many did. */
int64_t pmc_end_writeback(pmc_engine *e, int64_t n)
{
	int64_t before = e->ctr.writeback_done;
	while ((n < 0 || e->ctr.writeback_done - before < n) && io_wait_one(e, IO_WRITE))
		;
	return e->ctr.writeback_done - before;
}

int pmc_set_laptop_mode(pmc_engine *e, int on)
{
	e->laptop_mode = on != 0;
	return 0;
}

/*
 * Replays without their fast paths: one step per pick through the scan, the
 * general window dispatch, no hits in one go.  Every fast path must give the
 * same replay bit for bit; tests compare the two.
 */
int pmc_set_replay_slow(pmc_engine *e, int on)
{
	e->replay_slow = on != 0;
	return 0;
}

/* PYMEMCG_DEBUG_CHECK: replays run the full check after every operation. */
int pmc_set_debug_check(pmc_engine *e, int on)
{
	e->debug_check = on != 0;
	return 0;
}

int pmc_io_info(const pmc_engine *e, struct pmc_io_info *out)
{
	out->now_ns = e->now;
	out->writes_in_flight = e->io.inflight[IO_WRITE];
	out->reads_in_flight = e->io.inflight[IO_READ];
	out->write_congested = e->io.congested[IO_WRITE];
	out->vm_swap_full = vm_swap_full(e);
	out->pages_min = e->pages_min;
	out->pages_low = e->pages_low;
	out->pages_high = e->pages_high;
	return 0;
}
