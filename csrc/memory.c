/*
 * memory.c - faults and unmapping (mm/memory.c; semantics.md K2.3-K2.7):
 * do_anonymous_page, do_wp_page, do_swap_page with swapin_readahead,
 * zap_pte_range with the mmu_gather, and copy_one_pte for fork.
 *
 * A batch of faults and a zap are resumable machines (fault_step,
 * zap_step; one function per stop point, docs/architecture.md): each step
 * does one page's work, or one piece of it where another CPU can run in
 * between (after each readahead page, while a read is in flight, while the
 * charge reclaims).  The synchronous API runs them
 * to the end; replay interleaves them.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"

/* --- faults ------------------------------------------------------------------ */

/*
 * Only the batch's own fields: the charge and reclaim states inside are set
 * up when used.  Field by field, not a memset: a replay starts one of these
 * per event.
 */
void fault_op_init(struct fault_op *f, int32_t pid, const int64_t *vpns, int64_t n, int64_t start, int write, int lock)
{
	f->pid = pid;
	f->write = write;
	f->lock = lock;
	f->phase = FP_NEXT;
	f->after_direct = f->cow = f->swap_locked = f->swap_off = f->ra_next = f->ra_end = 0;
	f->charge_memcg = f->error = f->alone = 0;
	f->new_pfn = f->swap_pfn = f->cow_old = NIL;
	f->vpns = vpns;
	f->n = n;
	f->start = start;
	f->i = f->touched = 0;
	f->orig_pte = 0;
}

static inline int64_t cur_vpn(const struct fault_op *f)
{
	return vpn_at(f->vpns, f->i, f->start);
}

/* A vpn is done: a locked range mlocks its page (see mlock.c), and the batch moves on. */
static enum fault_phase fault_page_done(pmc_engine *e, struct fault_op *f, uint64_t *pte)
{
	if (*pte & PTE_LOCKED)
		mlock_vma_page(e, pte_pfn(*pte));
	f->touched++;
	f->i++;
	return FP_NEXT;
}

static enum fault_phase start_direct_reclaim(pmc_engine *e, struct fault_op *f, enum fault_phase back_to)
{
	reclaim_init(e, &f->direct, RK_DIRECT, 0, 0, SWAP_CLUSTER_MAX);
	f->after_direct = back_to;
	return FP_DIRECT;
}

/* A fault of a present pte in a locked range mlocks its page, under the page lock (__mlock_vma_pages_range). */
static inline int mlock_takes_page_lock(const pmc_engine *e, const struct fault_op *f, uint64_t pte)
{
	return (f->lock || (pte & PTE_LOCKED)) && !PageTest(e, pte_pfn(pte), PG_mlocked);
}

/* The task was killed: drop what the fault holds, then an OOM victim dies (TIF_MEMDIE). */
static enum fault_phase fault_killed(pmc_engine *e, struct fault_op *f)
{
	fault_release(e, f);
	f->phase = FP_DONE;
	if (e->task[f->pid].state == TASK_ALIVE && e->task[f->pid].memdie)
		do_exit(e, f->pid);
	return FP_DONE;
}

static enum fault_phase fault_map_new(pmc_engine *e, struct fault_op *f, struct task *t);

/*
 * FP_ALLOC, do_anonymous_page or do_wp_page's copy: a frame for the new
 * page, then the first charge attempt; when both succeed (the common case)
 * the page is mapped in this same step.  Otherwise direct reclaim (no frame)
 * or the charge's reclaim continues in later steps.
 */
static enum fault_phase do_anonymous_page(pmc_engine *e, struct fault_op *f, struct task *t)
{
	if (!e->nr_free)
		return start_direct_reclaim(e, f, FP_ALLOC);
	f->new_pfn = alloc_page(e);
	charge_init(&f->charge, t->memcg, f->pid);
	if (__mem_cgroup_try_charge(e, &f->charge) != CHARGE_OK)
		return FP_CHARGE;
	mem_cgroup_commit_charge(e, f->charge.memcg, f->new_pfn, MEM_CGROUP_CHARGE_TYPE_MAPPED);
	return fault_map_new(e, f, t);
}

/*
 * When nothing else runs (the synchronous API), a run of first touches in
 * one pte page that fits in free memory and under every limit is done in
 * one go.  The result is exactly that of the page-by-page path: the same
 * frames in the same order, the same list order (each page at the head),
 * counters, maxima and simulated time; I/O completing meanwhile only
 * rotates other pages to list tails, which commutes with these head adds.
 */
static int fault_fresh_run(pmc_engine *e, struct fault_op *f, struct task *t, uint64_t *pte)
{
	if (!f->alone || f->vpns || f->lock)
		return 0;
	int64_t vpn = cur_vpn(f);
	int64_t k = 512 - (vpn & 511);
	if (k > f->n - f->i)
		k = f->n - f->i;
	if (k > e->nr_free)
		k = e->nr_free;
	int64_t room = mem_cgroup_charge_headroom(e, t->memcg);
	if (k > room)
		k = room;
	int64_t run = 0;
	while (run < k && !pte[run])
		run++;
	if (run < 2)
		return 0;
	struct mem_cgroup *m = &e->memcg[t->memcg];
	int32_t *next = e->a.lru_next, *prev = e->a.lru_prev, *mnext = e->a.mlru_next, *mprev = e->a.mlru_prev;
	int32_t zhead = e->lru_head[LRU_ACTIVE_ANON], mhead = m->lru_head[LRU_ACTIVE_ANON];
	const uint32_t flags = PG_uptodate | PG_lru | PG_active | PG_swapbacked | PG_anon | PCG_USED | PCG_LINKED;
	int32_t p[512];
	/*
	 * The frames, in the order the free list hands them out.  On a fresh
	 * machine they are consecutive: checking that is a stream of independent
	 * loads, where following the list would be a chain of dependent ones.
	 */
	int32_t base = e->free_head;
	int contiguous = base + run <= e->nr_pages;
	if (contiguous) {
		int32_t bad = 0;
		for (int64_t j = 0; j + 1 < run; j++)
			bad |= next[base + j] ^ (base + (int32_t)j + 1);
		contiguous = !bad;
	}
	if (contiguous) {
		e->free_head = next[base + run - 1];
	} else {
		for (int64_t j = 0; j < run; j++) {
			p[j] = e->free_head;
			e->free_head = next[p[j]];
		}
	}
	/* then one field at a time, so each array is written as a stream (a plain
	 * slice when the frames are consecutive, as on a fresh machine) */
	if (contiguous) {
		uint32_t *restrict fl = e->a.flags + base;
		int32_t *restrict cnt = e->a.count + base, *restrict map = e->a.mapcount + base;
		int32_t *restrict av = e->a.anon_vma + base, *restrict mc = e->a.memcg + base;
		int64_t *restrict vp = e->a.vpn + base;
		const int32_t anon_vma = t->anon_vma, memcg = t->memcg;
		for (int64_t j = 0; j < run; j++)
			fl[j] = flags;
		for (int64_t j = 0; j < run; j++)
			cnt[j] = 1;
		for (int64_t j = 0; j < run; j++)
			map[j] = 1;
		memset(&e->a.private[base], 0, (size_t)run * sizeof *e->a.private);
		for (int64_t j = 0; j < run; j++)
			av[j] = anon_vma;
		for (int64_t j = 0; j < run; j++)
			vp[j] = vpn + j;
		for (int64_t j = 0; j < run; j++)
			mc[j] = memcg;
	} else {
		for (int64_t j = 0; j < run; j++) {
			int32_t pfn = p[j];
			e->a.flags[pfn] = flags;
			e->a.count[pfn] = e->a.mapcount[pfn] = 1;
			e->a.private[pfn] = 0;
			e->a.anon_vma[pfn] = t->anon_vma;
			e->a.vpn[pfn] = vpn + j;
			e->a.memcg[pfn] = t->memcg;
		}
	}
	/* each page added at the head in turn: p[run-1] ... p[0], then the old head */
	if (contiguous) {
		int32_t *restrict n1 = next + base, *restrict p1 = prev + base, *restrict n2 = mnext + base,
			*restrict p2 = mprev + base;
		for (int64_t j = 1; j < run; j++) {
			n1[j] = n2[j] = base + (int32_t)j - 1;
			p1[j - 1] = p2[j - 1] = base + (int32_t)j;
		}
		n1[0] = zhead;
		n2[0] = mhead;
		p1[run - 1] = p2[run - 1] = NIL;
	} else {
		for (int64_t j = 0; j < run; j++) {
			next[p[j]] = j ? p[j - 1] : zhead;
			prev[p[j]] = j + 1 < run ? p[j + 1] : NIL;
			mnext[p[j]] = j ? p[j - 1] : mhead;
			mprev[p[j]] = j + 1 < run ? p[j + 1] : NIL;
		}
	}
	int32_t first = contiguous ? base : p[0], last = contiguous ? base + (int32_t)run - 1 : p[run - 1];
	if (zhead != NIL)
		prev[zhead] = first;
	else
		e->lru_tail[LRU_ACTIVE_ANON] = first;
	if (mhead != NIL)
		mprev[mhead] = first;
	else
		m->lru_tail[LRU_ACTIVE_ANON] = first;
	zhead = mhead = last;
	for (int64_t j = 0; j < run; j++)
		pte[j] = mk_pte(contiguous ? base + (int32_t)j : p[j], PTE_PRESENT | PTE_WRITE | PTE_DIRTY | PTE_YOUNG);
	e->lru_head[LRU_ACTIVE_ANON] = zhead;
	m->lru_head[LRU_ACTIVE_ANON] = mhead;
	e->lru_count[LRU_ACTIVE_ANON] += run;
	m->lru_count[LRU_ACTIVE_ANON] += run;
	e->zone_stat.recent_scanned[0] += run;         /* update_page_reclaim_stat, rotated: active */
	e->zone_stat.recent_rotated[0] += run;
	m->stat_reclaim.recent_scanned[0] += run;
	m->stat_reclaim.recent_rotated[0] += run;
	e->nr_free -= run;
	e->nr_anon_pages += run;
	e->ctr.pgalloc += run;
	e->ctr.anon_faults += run;
	mem_cgroup_charge_new_pages(e, t->memcg, run);
	t->rss += run;
	f->touched += run;
	f->i += run;
	tick(e, COST_FAULT_NS * (run - 1));         /* the caller ticks for the last one */
	return 1;
}

/*
 * FP_NEXT, handle_mm_fault of the next vpn: what does its pte need?  A
 * present pte is handled here in one step.  FP_DONE at the batch's end (or
 * when a page table cannot be allocated), which costs no time.
 */
static enum fault_phase handle_mm_fault(pmc_engine *e, struct fault_op *f, struct task *t)
{
	if (f->i == f->n)
		return FP_DONE;
	uint64_t *pte = pte_alloc(e, t, cur_vpn(f));
	if (!pte) {
		f->error = pmc_err(e, PMC_EALLOC, "cannot allocate a page table");
		return FP_DONE;
	}
	if ((*pte & PTE_PRESENT) && mlock_takes_page_lock(e, f, *pte) && PageTest(e, pte_pfn(*pte), PG_locked))
		return FP_BLOCKED;
	if (f->lock && !(*pte & PTE_LOCKED)) {
		*pte |= PTE_LOCKED;
		t->locked_ptes++;
	}
	f->orig_pte = *pte;
	if (*pte & PTE_PRESENT) {
		if (f->write && !(*pte & PTE_WRITE)) {
			/* do_wp_page: the sole user takes the page over (reuse_swap_page, page locked) */
			int32_t old = pte_pfn(*pte);
			if (!trylock_page(e, old))
				return FP_BLOCKED;
			int reuse = reuse_swap_page(e, old);
			unlock_page(e, old);
			if (!reuse) {
				f->cow = 1;
				f->cow_old = old;
				e->a.count[old]++;          /* page_cache_get(old_page) while it is copied */
				return do_anonymous_page(e, f, t);
			}
			*pte |= PTE_WRITE | PTE_DIRTY | PTE_YOUNG;
			e->ctr.cow_reuse++;
		} else {
			*pte |= PTE_YOUNG | (f->write ? PTE_DIRTY : 0);
		}
		return fault_page_done(e, f, pte);
	}
	if (*pte & PTE_SWAP)
		return FP_SWAPIN;
	if (fault_fresh_run(e, f, t, pte))
		return FP_NEXT;
	f->cow = 0;
	return do_anonymous_page(e, f, t);
}

/* Would the fault of this pte wait for a lock only an open shrink batch can release? */
static int waits_for_batch(const pmc_engine *e, const struct fault_op *f, uint64_t pte)
{
	int32_t pfn;
	if (pte & PTE_PRESENT) {
		pfn = pte_pfn(pte);
		if (!(f->write && !(pte & PTE_WRITE)) && !mlock_takes_page_lock(e, f, pte))   /* do_wp_page, mlock */
			return 0;
	} else if (pte & PTE_SWAP) {
		pfn = e->a.swap_cache[pte_pfn(pte)];                        /* do_swap_page's lock_page */
		if (pfn == NIL)
			return 0;
	} else {
		return 0;
	}
	/* locked with valid contents: no read holds the lock (a read unlocks as it completes, end_io) */
	return (e->a.flags[pfn] & (PG_locked | PG_uptodate)) == (PG_locked | PG_uptodate);
}

/*
 * fault_would_wait: the vpn of the first page of a fault batch that would
 * wait for a page lock held by an open shrink batch, or -1.  These are the
 * places handle_mm_fault and do_swap_page_lock block, less the locks of
 * reads in flight (locked but not yet uptodate; the read's completion
 * unlocks them).  The synchronous API asks before it starts, since nothing
 * can release a batch's lock while it waits: a refused call then changes
 * nothing.  A batch's lock cannot move during the call, and a pte the call
 * itself changes only leads to pages no batch holds, so the state at the
 * start decides.
 */
int64_t fault_would_wait(pmc_engine *e, const struct fault_op *f)
{
	if (first_open_batch(e) < 0)
		return -1;
	struct task *t = &e->task[f->pid];
	if (f->vpns) {
		for (int64_t i = 0; i < f->n; i++) {
			const uint64_t *pte = pte_offset(t, f->vpns[i]);
			if (pte && waits_for_batch(e, f, *pte))
				return f->vpns[i];
		}
		return -1;
	}
	int64_t vpn = f->start;                         /* a range: only its non-empty ptes */
	const uint64_t *pte;
	while ((pte = next_pte(t, vpn, &vpn)) && vpn < f->start + f->n) {
		if (waits_for_batch(e, f, *pte))
			return vpn;
		vpn++;
	}
	return -1;
}

/*
 * The new page is charged: map it.  do_anonymous_page maps a writable dirty
 * pte; do_wp_page replaces the shared page, whose last mapping this may be.
 * If the pte changed meanwhile (reclaim unmapped the shared page), the new
 * page is uncharged and dropped and the fault retried, as pte_same() fails.
 */
static enum fault_phase fault_map_new(pmc_engine *e, struct fault_op *f, struct task *t)
{
	int32_t pfn = f->new_pfn;
	uint64_t *pte = pte_offset(t, cur_vpn(f));
	f->new_pfn = NIL;
	if (*pte != f->orig_pte) {
		mem_cgroup_uncharge_page(e, pfn);
		put_page(e, pfn);
		fault_release(e, f);
		return FP_NEXT;
	}
	uint64_t locked = *pte & PTE_LOCKED;
	page_add_new_anon_rmap(e, pfn, t->anon_vma, cur_vpn(f), locked != 0);
	*pte = mk_pte(pfn, PTE_PRESENT | PTE_WRITE | PTE_DIRTY | PTE_YOUNG) | locked;
	if (f->cow) {
		int32_t old = f->cow_old;
		page_remove_rmap(e, old);
		if (locked)                          /* do_wp_page's clear_page_mlock */
			munlock_vma_page(e, old, f->pid);
		put_page(e, old);                    /* the pte's reference */
		put_page(e, old);                    /* and the one taken to copy it */
		f->cow_old = NIL;
		e->ctr.cow_faults++;
	} else {
		t->rss++;
		e->ctr.anon_faults++;
	}
	return fault_page_done(e, f, pte);
}

/* FP_SWAPIN_MAP: do_swap_page, once the page is locked and charged (K2.7 step 3). */
static enum fault_phase do_swap_page_map(pmc_engine *e, struct fault_op *f, struct task *t)
{
	int32_t pfn = f->swap_pfn, off = f->swap_off;
	uint64_t *pte = pte_offset(t, cur_vpn(f));
	f->swap_pfn = NIL;
	f->swap_locked = 0;                         /* unlocked below on every path */
	if (*pte != f->orig_pte) {                 /* someone else dealt with this pte */
		if (f->charge_memcg)
			mem_cgroup_cancel_charge(e, f->charge_memcg);
		unlock_page(e, pfn);
		put_page(e, pfn);
		return FP_NEXT;
	}
	uint64_t bits = PTE_PRESENT | PTE_YOUNG | (*pte & PTE_LOCKED);
	int wrote = 0;
	t->rss++;
	t->swap_ptes--;
	if (f->write && reuse_swap_page(e, pfn)) {
		bits |= PTE_WRITE | PTE_DIRTY;
		wrote = 1;
	}
	*pte = mk_pte(pfn, bits);
	page_add_anon_rmap(e, pfn, t->anon_vma, cur_vpn(f));
	mem_cgroup_commit_charge_swapin(e, pfn, f->charge_memcg);
	swap_free(e, off);
	int keep_cache = hook_do_swap_page(e, pfn, f->charge_memcg);
	if (!keep_cache && (vm_swap_full(e) || (bits & PTE_LOCKED) || PageTest(e, pfn, PG_mlocked)))
		try_to_free_swap(e, pfn);
	unlock_page(e, pfn);
	e->ctr.swapins++;
	if (f->write && !wrote)
		return FP_NEXT;                         /* do_wp_page: the next step copies it */
	return fault_page_done(e, f, pte);
}

/*
 * Drop what a fault holds between steps (a new page not yet charged or
 * mapped, a swap-cache page with its lock when taken) so it can be abandoned
 * at a point where no reclaim of its own is under way.
 */
void fault_release(pmc_engine *e, struct fault_op *f)
{
	if (f->new_pfn != NIL)
		put_page(e, f->new_pfn);
	if (f->cow_old != NIL)
		put_page(e, f->cow_old);
	if (f->swap_pfn != NIL) {
		if (f->swap_locked)
			unlock_page(e, f->swap_pfn);
		put_page(e, f->swap_pfn);
	}
	f->swap_locked = 0;
	f->new_pfn = f->swap_pfn = f->cow_old = NIL;
}

/*
 * An OOM victim (TIF_MEMDIE) whose fault was running on a replay CPU dies at
 * the next point where the fault holds no reclaim in progress.
 */
static int fault_may_die(const struct fault_op *f)
{
	return f->phase != FP_DIRECT &&
	       !((f->phase == FP_CHARGE || f->phase == FP_SWAPIN_CHARGE) && f->charge.phase == CH_RECLAIM);
}

/* FP_DIRECT: one stop point of try_to_free_pages; at its end, back where the frame was wanted, or OOM. */
static enum fault_phase try_to_free_pages(pmc_engine *e, struct fault_op *f)
{
	if (reclaim_step(e, &f->direct))
		return FP_RECLAIMING;
	if (!e->nr_free && !f->direct.ret && out_of_memory(e, f->pid) == f->pid)
		return fault_killed(e, f);
	return (enum fault_phase)f->after_direct;
}

/*
 * FP_CHARGE and FP_SWAPIN_CHARGE: one stop point of the charge's
 * __mem_cgroup_try_charge.  Charged: map the new page (the swap-in commits
 * once its pte is set).  Refused: drop what the fault held; stop if this
 * task was the OOM victim, else another task died for it: fault again.
 */
static enum fault_phase mem_cgroup_charge(pmc_engine *e, struct fault_op *f, struct task *t)
{
	enum charge_result r = __mem_cgroup_try_charge(e, &f->charge);
	if (r == CHARGE_MORE)
		return FP_RECLAIMING;
	if (r != CHARGE_OK) {
		fault_release(e, f);
		return r == CHARGE_OOM_SELF ? fault_killed(e, f) : FP_NEXT;
	}
	if (f->phase == FP_SWAPIN_CHARGE)
		return FP_SWAPIN_MAP;
	mem_cgroup_commit_charge(e, f->charge.memcg, f->new_pfn, MEM_CGROUP_CHARGE_TYPE_MAPPED);
	return fault_map_new(e, f, t);
}

/* FP_SWAPIN: do_swap_page's lookup_swap_cache; a miss starts swapin_readahead around the slot. */
static enum fault_phase do_swap_page(pmc_engine *e, struct fault_op *f)
{
	f->swap_off = pte_pfn(f->orig_pte);
	int32_t pfn = e->a.swap_cache[f->swap_off];
	if (pfn != NIL) {
		e->a.count[pfn]++;
		f->swap_pfn = pfn;
		e->ctr.swapin_cache_hits++;
		return FP_SWAPIN_LOCK;
	}
	int32_t first;
	int nr = valid_swaphandles(e, f->swap_off, &first);
	f->ra_next = first;
	f->ra_end = first + nr;
	e->ctr.pgmajfault++;
	return FP_READAHEAD;
}

/* FP_SWAPIN_TARGET: read_swap_cache_async of the faulting slot, reclaiming first when no frame is free. */
static enum fault_phase do_swap_page_read(pmc_engine *e, struct fault_op *f)
{
	int32_t pfn = e->a.swap_cache[f->swap_off];
	if (pfn != NIL)
		e->a.count[pfn]++;
	else if (!e->nr_free)
		return start_direct_reclaim(e, f, FP_SWAPIN_TARGET);
	else if ((pfn = read_swap_cache_async(e, f->swap_off)) == NIL)
		return FP_NEXT;                    /* the slot went away: look at the pte again */
	f->swap_pfn = pfn;
	return FP_SWAPIN_LOCK;
}

/*
 * FP_READAHEAD: swapin_readahead, one slot per stop point; once the window is
 * read, the faulting slot's read in the same step.  Simplification: readahead
 * stops when no frame is free rather than reclaiming.
 */
static enum fault_phase swapin_readahead(pmc_engine *e, struct fault_op *f)
{
	if (f->ra_next < f->ra_end && e->nr_free) {
		int32_t pfn = read_swap_cache_async(e, f->ra_next++);
		if (pfn == NIL)
			f->ra_end = f->ra_next;
		else {
			put_page(e, pfn);
			e->ctr.readahead_pages++;
		}
		return FP_READAHEAD;
	}
	return do_swap_page_read(e, f);
}

/* FP_SWAPIN_LOCK: do_swap_page's lock_page (waits while the read holds it), then mem_cgroup_try_charge_swapin. */
static enum fault_phase do_swap_page_lock(pmc_engine *e, struct fault_op *f, struct task *t)
{
	if (!trylock_page(e, f->swap_pfn))
		return FP_BLOCKED;             /* lock_page: the read is in flight */
	f->swap_locked = 1;
	mark_page_accessed(e, f->swap_pfn);
	f->charge_memcg = mem_cgroup_try_charge_swapin(e, f->swap_pfn, t->memcg);
	if (!f->charge_memcg)
		return FP_SWAPIN_MAP;
	charge_init(&f->charge, f->charge_memcg, f->pid);
	return FP_SWAPIN_CHARGE;
}

static int fault_step_slow(pmc_engine *e, struct fault_op *f);

/*
 * The common steps, kept small so they inline into the scheduler: a retry of
 * lock_page while the read still holds the lock, the end of the batch, and a
 * present pte that needs neither the page lock (mlock) nor a copy (a write to
 * a read-only pte).  They do exactly what the long way does for them.
 */
int fault_step(pmc_engine *e, struct fault_op *f)
{
	if (f->phase == FP_SWAPIN_LOCK) {               /* lock_page still waiting for the read */
		const struct task *t = &e->task[f->pid];
		if (t->state == TASK_ALIVE && !t->memdie && PageTest(e, f->swap_pfn, PG_locked))
			return OP_BLOCKED;
	} else if (f->phase == FP_NEXT) {
		struct task *t = &e->task[f->pid];
		if (t->state == TASK_ALIVE && !t->memdie) {
			if (f->i == f->n) {
				f->phase = FP_DONE;
				return OP_DONE;
			}
			uint64_t *pte = f->lock ? NULL : pte_hit(t, cur_vpn(f), f->write);
			if (pte) {
				f->orig_pte = *pte;
				pte_mkyoung_hit(pte, f->write);
				f->touched++;
				f->i++;
				tick(e, COST_FAULT_NS);
				return OP_MORE;
			}
		}
	}
	return fault_step_slow(e, f);
}


/*
 * The fault machine's dispatch (the core's convention, docs/architecture.md:
 * one function per stop point, returning the next phase).  A step that
 * blocks on a page lock, or whose inner reclaim did the work (and ticked for
 * it), changes nothing here; every other step costs one COST_FAULT_NS.
 */
static __attribute__((noinline)) int fault_step_slow(pmc_engine *e, struct fault_op *f)
{
	struct task *t = &e->task[f->pid];
	enum fault_phase next;
	if (f->phase != FP_DONE && (t->state != TASK_ALIVE || (t->memdie && fault_may_die(f))))
		fault_killed(e, f);
	switch (f->phase) {
	case FP_DONE:
		return OP_DONE;
	case FP_NEXT:
		next = handle_mm_fault(e, f, t);
		if (next == FP_DONE) {                  /* the batch's end costs no time */
			f->phase = FP_DONE;
			return OP_DONE;
		}
		if (next == FP_BLOCKED)
			return OP_BLOCKED;
		break;
	case FP_ALLOC: next = do_anonymous_page(e, f, t); break;
	case FP_DIRECT:
		next = try_to_free_pages(e, f);
		if (next == FP_RECLAIMING)
			return OP_MORE;
		break;
	case FP_CHARGE: case FP_SWAPIN_CHARGE:
		next = mem_cgroup_charge(e, f, t);
		if (next == FP_RECLAIMING)
			return OP_MORE;
		break;
	case FP_SWAPIN: next = do_swap_page(e, f); break;
	case FP_READAHEAD: next = swapin_readahead(e, f); break;
	case FP_SWAPIN_TARGET: next = do_swap_page_read(e, f); break;
	case FP_SWAPIN_LOCK:
		next = do_swap_page_lock(e, f, t);
		if (next == FP_BLOCKED)
			return OP_BLOCKED;
		break;
	case FP_SWAPIN_MAP: next = do_swap_page_map(e, f, t); break;
	default: return OP_DONE;
	}
	f->phase = next;
	tick(e, COST_FAULT_NS);
	return next == FP_DONE ? OP_DONE : OP_MORE;
}

/* --- unmapping: zap_pte_range and the mmu_gather ------------------------------- */

/*
 * tlb_flush_mmu -> free_pages_and_swap_cache: each parked page first tries
 * to drop its slot (free_swap_cache, a trylock), then loses the reference.
 */
void tlb_flush_mmu(pmc_engine *e, struct task *t)
{
	if (!t->gather_nr)
		return;
	for (int i = 0; i < t->gather_nr; i++)
		free_swap_cache(e, t->gather[i]);
	release_pages(e, t->gather, t->gather_nr);
	t->gather_nr = 0;
	e->ctr.tlb_flushes++;
}

/* tlb_remove_page: park the pte's page reference; a full gather is flushed. */
static void tlb_remove_page(pmc_engine *e, struct task *t, int32_t pfn)
{
	t->gather[t->gather_nr++] = pfn;
	if (t->gather_nr == FREE_PTE_NR)
		tlb_flush_mmu(e, t);
}

/*
 * One pte of zap_pte_range.  A present page is munlocked first if its range
 * was locked (munlock_vma_pages_range), unmapped (page_remove_rmap: the
 * uncharge of CPU-A in the Type-2 race) and parked in the gather; a swap
 * entry goes through free_swap_and_cache (CPU-A of Type-1).
 */
static int zap_pte(pmc_engine *e, int32_t pid, uint64_t *pte)
{
	struct task *t = &e->task[pid];
	uint64_t v = *pte;
	if (v & PTE_LOCKED)
		t->locked_ptes--;
	*pte = 0;
	if (v & PTE_PRESENT) {
		int32_t pfn = pte_pfn(v);
		if (v & PTE_LOCKED)
			munlock_vma_page(e, pfn, pid);
		t->rss--;
		page_remove_rmap(e, pfn);
		tlb_remove_page(e, t, pfn);
		return 1;
	}
	if (v & PTE_SWAP) {
		t->swap_ptes--;
		free_swap_and_cache(e, pte_pfn(v));
		return 1;
	}
	return 0;
}

void zap_op_init(struct zap_op *z, int32_t pid, const int64_t *vpns, int64_t n, int64_t start, int flush, int exit)
{
	*z = (struct zap_op){ .pid = pid, .flush = flush, .exit = exit, .phase = ZP_PTES, .vpns = vpns, .n = n,
	                      .start = start, .cursor = start };
}

/*
 * The next non-empty pte of the zap, or NULL when there is none.  A range
 * (exit's is the whole address space) skips empty page tables, as
 * zap_pud_range and friends do.
 */
static uint64_t *zap_next(struct zap_op *z, struct task *t)
{
	if (!z->vpns) {
		int64_t vpn;
		uint64_t *pte = next_pte(t, z->cursor, &vpn);
		if (!pte || vpn >= z->start + z->n)
			return NULL;
		z->cursor = vpn + 1;
		return pte;
	}
	while (z->i < z->n) {
		uint64_t *pte = pte_offset(t, vpn_at(z->vpns, z->i++, z->start));
		if (pte && *pte)
			return pte;
	}
	return NULL;
}

int zap_step(pmc_engine *e, struct zap_op *z)
{
	struct task *t = &e->task[z->pid];
	if (z->phase == ZP_PTES) {
		uint64_t *pte = zap_next(z, t);
		if (pte)
			z->zapped += zap_pte(e, z->pid, pte);
		else
			z->phase = ZP_FINISH;
	} else if (z->phase == ZP_FINISH) {
		if (z->flush)
			tlb_flush_mmu(e, t);
		if (z->exit)
			exit_mm_done(e, z->pid);
		z->phase = ZP_DONE;
	}
	tick(e, COST_ZAP_NS);
	return z->phase == ZP_DONE ? OP_DONE : OP_MORE;
}

/* --- fork ---------------------------------------------------------------------- */

struct fork_ctx {
	int32_t child;
	int failed;
};

/*
 * copy_one_pte: a present page is shared copy-on-write (both ptes lose their
 * write bit; the child's is old and outside any locked range); a swap entry
 * gets one more user.  No memcg change either way (K2.5).
 */
static void copy_one_pte(pmc_engine *e, int32_t pid, int64_t vpn, uint64_t *pte, void *ctx)
{
	struct fork_ctx *fc = ctx;
	(void)pid;
	if (fc->failed || !(*pte & (PTE_PRESENT | PTE_SWAP)))
		return;
	struct task *c = &e->task[fc->child];
	uint64_t *cpte = pte_alloc(e, c, vpn);
	if (!cpte) {
		fc->failed = 1;
		return;
	}
	if (*pte & PTE_SWAP) {
		swap_duplicate(e, pte_pfn(*pte));
		*cpte = *pte & ~PTE_LOCKED;
		c->swap_ptes++;
		return;
	}
	int32_t pfn = pte_pfn(*pte);
	e->a.count[pfn]++;
	page_dup_rmap(e, pfn);
	*pte &= ~PTE_WRITE;
	*cpte = *pte & ~(PTE_LOCKED | PTE_YOUNG);
	c->rss++;
}

/* dup_mmap: copy the parent's page table into the child; -1 if the host ran out of memory. */
int copy_mm(pmc_engine *e, int32_t parent, int32_t child)
{
	struct fork_ctx fc = { child, 0 };
	walk_ptes(e, parent, copy_one_pte, &fc);
	return fc.failed ? -1 : 0;
}
