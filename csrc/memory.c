/*
 * memory.c - tasks and their address spaces (mm/memory.c, kernel/fork.c,
 * kernel/exit.c): anonymous faults, copy-on-write, zap with mmu_gather,
 * fork, exit, mlock and moving a task between cgroups.
 * kernel-semantics §2.3-§2.6.
 *
 * Every call takes a whole batch of vpns (a pointer, or a range when vpns is
 * NULL) and validates all of it before the first page is touched.
 */
#include <stdlib.h>
#include <string.h>

#include "engine.h"

struct task *task_get(pmc_engine *e, int pid)
{
	if (pid < 1 || pid >= e->nr_task || e->task[pid].state != TASK_ALIVE)
		return NULL;
	return &e->task[pid];
}

static int task_lookup(pmc_engine *e, int pid, struct task **out)
{
	if (pid < 1 || pid >= e->nr_task)
		return pmc_err(e, PMC_EINVAL, "no task with pid %d", pid);
	if (e->task[pid].state != TASK_ALIVE)
		return pmc_err(e, PMC_ESRCH, "task %d is not alive%s", pid,
		               e->task[pid].oom_killed ? " (OOM-killed)" : "");
	*out = &e->task[pid];
	return 0;
}

/* A new task slot (copy_process): its mmu_gather buffer is allocated here so later calls cannot fail. */
static int task_alloc(pmc_engine *e, int32_t memcg)
{
	if (e->nr_task >= MAX_TASKS)
		return pmc_err(e, PMC_ENOSPC, "pid space exhausted");
	if (e->nr_task == e->cap_task) {
		struct task *t = realloc(e->task, 2 * (size_t)e->cap_task * sizeof *t);
		if (!t)
			return pmc_err(e, PMC_EALLOC, "cannot grow the task table");
		e->task = t;
		e->cap_task *= 2;
	}
	int32_t *gather = malloc(FREE_PTE_NR * sizeof *gather);
	if (!gather)
		return pmc_err(e, PMC_EALLOC, "cannot allocate an mmu_gather");
	int32_t pid = e->nr_task++;
	struct task *t = &e->task[pid];
	memset(t, 0, sizeof *t);
	t->state = TASK_ALIVE;
	t->memcg = memcg;
	t->gather = gather;
	t->leaf_cache_idx = -1;
	t->fam_next = t->fam_prev = t->fam_head = t->fam_tail = NIL;
	e->memcg[memcg].nr_tasks++;
	return pid;
}

/* Join a fork family at its tail (anon_vma_link). */
static void anon_vma_link(pmc_engine *e, int32_t pid, int32_t anon_vma)
{
	struct task *f = &e->task[anon_vma], *t = &e->task[pid];
	t->anon_vma = anon_vma;
	t->fam_prev = f->fam_tail;
	t->fam_next = NIL;
	if (f->fam_tail != NIL)
		e->task[f->fam_tail].fam_next = pid;
	else
		f->fam_head = pid;
	f->fam_tail = pid;
}

static void anon_vma_unlink(pmc_engine *e, int32_t pid)
{
	struct task *f = &e->task[e->task[pid].anon_vma], *t = &e->task[pid];
	if (t->fam_prev != NIL)
		e->task[t->fam_prev].fam_next = t->fam_next;
	else
		f->fam_head = t->fam_next;
	if (t->fam_next != NIL)
		e->task[t->fam_next].fam_prev = t->fam_prev;
	else
		f->fam_tail = t->fam_prev;
	t->fam_next = t->fam_prev = NIL;
}

int pmc_spawn(pmc_engine *e, int memcg)
{
	if (!memcg_valid(e, memcg))
		return pmc_err(e, PMC_ENOENT, "no live cgroup with id %d", memcg);
	int pid = task_alloc(e, memcg);
	if (pid > 0)
		anon_vma_link(e, pid, pid);
	return pid;
}

/* --- faults ------------------------------------------------------------- */

/* Charge a fresh page to the task's memcg (mem_cgroup_newpage_charge). */
static enum charge_result mem_cgroup_newpage_charge(pmc_engine *e, int32_t pid, int32_t pfn)
{
	int32_t memcg = e->task[pid].memcg;
	enum charge_result r = mem_cgroup_try_charge(e, pid, memcg);
	if (r == CHARGE_OK)
		mem_cgroup_commit_charge(e, memcg, pfn, MEM_CGROUP_CHARGE_TYPE_MAPPED);
	return r;
}

/*
 * A new anon page for a pte: allocate, charge (which may OOM-kill this very
 * task, whose page table is then gone), map.  Frames were counted before the
 * batch started, so allocation cannot fail here.
 */
static enum charge_result new_anon_page(pmc_engine *e, int32_t pid, int64_t vpn, int32_t *out)
{
	int32_t pfn = alloc_page(e);
	enum charge_result r = mem_cgroup_newpage_charge(e, pid, pfn);
	if (r != CHARGE_OK) {
		put_page(e, pfn);
		return r;
	}
	page_add_new_anon_rmap(e, pfn, e->task[pid].anon_vma, vpn);
	*out = pfn;
	return CHARGE_OK;
}

/* do_anonymous_page: first touch; every vma is writable, so the pte is writable and dirty. */
static enum charge_result do_anonymous_page(pmc_engine *e, int32_t pid, int64_t vpn)
{
	int32_t pfn;
	enum charge_result r = new_anon_page(e, pid, vpn, &pfn);
	if (r != CHARGE_OK)
		return r;
	struct task *t = &e->task[pid];
	uint64_t *pte = pte_offset(t, vpn);
	*pte = mk_pte(pfn, PTE_PRESENT | PTE_WRITE | PTE_DIRTY | PTE_YOUNG) | (*pte & PTE_LOCKED);
	t->rss++;
	e->ctr.anon_faults++;
	return CHARGE_OK;
}

/*
 * reuse_swap_page (§2.8): the faulting pte is the page's only user.  No page
 * is in the swap cache before swap-out exists, so only the mapcount counts.
 */
static int reuse_swap_page(pmc_engine *e, int32_t pfn)
{
	return e->a.mapcount[pfn] == 1;
}

/*
 * do_wp_page (§2.5): a write to a write-protected pte.  The sole user takes
 * the page over; otherwise the page is copied to a new charged page and the
 * old mapping dropped (page_remove_rmap, which may be the old page's last).
 */
static enum charge_result do_wp_page(pmc_engine *e, int32_t pid, int64_t vpn)
{
	struct task *t = &e->task[pid];
	uint64_t *pte = pte_offset(t, vpn);
	int32_t old = pte_pfn(*pte);
	if (reuse_swap_page(e, old)) {
		*pte |= PTE_WRITE | PTE_DIRTY | PTE_YOUNG;
		e->ctr.cow_reuse++;
		return CHARGE_OK;
	}
	int32_t pfn;
	enum charge_result r = new_anon_page(e, pid, vpn, &pfn);
	if (r != CHARGE_OK)
		return r;
	pte = pte_offset(&e->task[pid], vpn);
	uint64_t locked = *pte & PTE_LOCKED;
	*pte = mk_pte(pfn, PTE_PRESENT | PTE_WRITE | PTE_DIRTY | PTE_YOUNG) | locked;
	page_remove_rmap(e, old);
	if (locked)                 /* do_wp_page's clear_page_mlock of the old page */
		munlock_vma_page(e, old, pid);
	put_page(e, old);
	e->ctr.cow_faults++;
	return CHARGE_OK;
}

/* handle_mm_fault for one vpn whose pte page exists. */
static enum charge_result handle_pte_fault(pmc_engine *e, int32_t pid, int64_t vpn, int write, int lock)
{
	struct task *t = &e->task[pid];
	uint64_t *pte = pte_offset(t, vpn);
	if (lock && !(*pte & PTE_LOCKED)) {
		*pte |= PTE_LOCKED;
		t->locked_ptes++;
	}
	enum charge_result r = CHARGE_OK;
	if (!(*pte & PTE_PRESENT))
		r = do_anonymous_page(e, pid, vpn);
	else if (write && !(*pte & PTE_WRITE))
		r = do_wp_page(e, pid, vpn);
	else
		*pte |= PTE_YOUNG | (write ? PTE_DIRTY : 0);
	if (r != CHARGE_OK)
		return r;
	pte = pte_offset(&e->task[pid], vpn);
	if (*pte & PTE_LOCKED)
		mlock_vma_page(e, pte_pfn(*pte));
	return CHARGE_OK;
}

/* Would touching this pte take a new frame? (first touch, or a COW copy) */
static inline int pte_needs_frame(const pmc_engine *e, uint64_t pte, int write)
{
	if (!(pte & PTE_PRESENT))
		return 1;
	return write && !(pte & PTE_WRITE) && e->a.mapcount[pte_pfn(pte)] > 1;
}

#define PTE_MARK (1ull << 6)   /* scratch bit for counting distinct vpns */

/*
 * Allocate every pte page the batch needs and make sure enough frames are
 * free, so that the batch either runs or changes nothing.  The quick count
 * counts repeated vpns repeatedly; only when that is too many does an exact
 * count of distinct vpns run.
 */
static int fault_prepare(pmc_engine *e, struct task *t, const int64_t *vpns, int64_t n, int64_t start, int write)
{
	int64_t need = 0;
	for (int64_t i = 0; i < n; i++) {
		uint64_t *pte = pte_alloc(t, vpn_at(vpns, i, start));
		if (!pte)
			return pmc_err(e, PMC_EALLOC, "cannot allocate a page table");
		need += pte_needs_frame(e, *pte, write);
	}
	if (need <= e->nr_free)
		return 0;
	need = 0;
	for (int64_t i = 0; i < n; i++) {
		uint64_t *pte = pte_offset(t, vpn_at(vpns, i, start));
		if (!(*pte & PTE_MARK) && pte_needs_frame(e, *pte, write)) {
			need++;
			*pte |= PTE_MARK;
		}
	}
	for (int64_t i = 0; i < n; i++)
		*pte_offset(t, vpn_at(vpns, i, start)) &= ~PTE_MARK;
	if (need <= e->nr_free)
		return 0;
	return pmc_err(e, PMC_ENOMEM, "out of page frames: the batch needs %lld, %lld are free",
	               (long long)need, (long long)e->nr_free);
}

static int64_t fault_batch(pmc_engine *e, int pid, const int64_t *vpns, int64_t n, int64_t start,
                           int write, int lock)
{
	struct task *t = NULL;
	int rc = task_lookup(e, pid, &t);
	if (!rc)
		rc = pmc_vpns_check(e, vpns, n, start);
	if (!rc)
		rc = fault_prepare(e, t, vpns, n, start, write);
	if (rc)
		return rc;
	int64_t touched = 0;
	for (int64_t i = 0; i < n;) {
		enum charge_result r = handle_pte_fault(e, pid, vpn_at(vpns, i, start), write, lock);
		if (r == CHARGE_OOM_SELF)
			break;
		if (r == CHARGE_OOM_RETRY)
			continue;       /* another task died for us: fault again */
		touched++;
		i++;
	}
	e->ctr.pgfault += touched;
	return touched;
}

int64_t pmc_fault(pmc_engine *e, int pid, const int64_t *vpns, int64_t n, int64_t start, int write)
{
	return fault_batch(e, pid, vpns, n, start, write != 0, 0);
}

/* mlock(2): lock the range and fault every page in for writing, as make_pages_present does. */
int64_t pmc_mlock(pmc_engine *e, int pid, const int64_t *vpns, int64_t n, int64_t start)
{
	return fault_batch(e, pid, vpns, n, start, 1, 1);
}

/* --- unmapping: zap_pte_range and the mmu_gather ------------------------- */

/*
 * tlb_flush_mmu -> free_pages_and_swap_cache: release the parked page
 * references.  With no swap cache yet, free_swap_cache has nothing to do.
 */
static void tlb_flush_mmu(pmc_engine *e, struct task *t)
{
	if (!t->gather_nr)
		return;
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

/* One pte of zap_pte_range; a locked range is munlocked first (munlock_vma_pages_range). */
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
	return 0;
}

int64_t pmc_zap(pmc_engine *e, int pid, const int64_t *vpns, int64_t n, int64_t start, int flush)
{
	struct task *t = NULL;
	int rc = task_lookup(e, pid, &t);
	if (!rc)
		rc = pmc_vpns_check(e, vpns, n, start);
	if (rc)
		return rc;
	int64_t zapped = 0;
	for (int64_t i = 0; i < n; i++) {
		uint64_t *pte = pte_offset(t, vpn_at(vpns, i, start));
		if (pte && *pte)
			zapped += zap_pte(e, pid, pte);
	}
	if (flush)
		tlb_flush_mmu(e, t);
	return zapped;
}

int pmc_tlb_flush(pmc_engine *e, int pid)
{
	struct task *t = NULL;
	int rc = task_lookup(e, pid, &t);
	if (rc)
		return rc;
	int nr = t->gather_nr;
	tlb_flush_mmu(e, t);
	return nr;
}

static void exit_zap_pte(pmc_engine *e, int32_t pid, int64_t vpn, uint64_t *pte, void *ctx)
{
	(void)vpn;
	(void)ctx;
	zap_pte(e, pid, pte);
}

/* do_exit -> exit_mmap: zap everything in gathers of FREE_PTE_NR, flush, free the page tables. */
int do_exit(pmc_engine *e, int32_t pid)
{
	struct task *t = &e->task[pid];
	walk_ptes(e, pid, exit_zap_pte, NULL);
	tlb_flush_mmu(e, t);
	free_pgtables(t);
	anon_vma_unlink(e, pid);
	e->memcg[t->memcg].nr_tasks--;
	free(t->gather);
	t->gather = NULL;
	t->state = TASK_DEAD;
	e->ctr.exits++;
	return 0;
}

int pmc_exit(pmc_engine *e, int pid)
{
	struct task *t = NULL;
	int rc = task_lookup(e, pid, &t);
	return rc ? rc : do_exit(e, pid);
}

/* --- fork ---------------------------------------------------------------- */

struct fork_ctx {
	int32_t child;
	int failed;
};

/* copy_one_pte: share the page copy-on-write; the child's pte is old and not locked. */
static void copy_one_pte(pmc_engine *e, int32_t pid, int64_t vpn, uint64_t *pte, void *ctx)
{
	struct fork_ctx *fc = ctx;
	(void)pid;
	if (fc->failed || !(*pte & PTE_PRESENT))
		return;
	struct task *c = &e->task[fc->child];
	uint64_t *cpte = pte_alloc(c, vpn);
	if (!cpte) {
		fc->failed = 1;
		return;
	}
	int32_t pfn = pte_pfn(*pte);
	e->a.count[pfn]++;
	page_dup_rmap(e, pfn);
	*pte &= ~PTE_WRITE;
	*cpte = *pte & ~(PTE_LOCKED | PTE_YOUNG);
	c->rss++;
}

int pmc_fork(pmc_engine *e, int pid)
{
	struct task *t = NULL;
	int rc = task_lookup(e, pid, &t);
	if (rc)
		return rc;
	int child = task_alloc(e, t->memcg);
	if (child < 0)
		return child;
	anon_vma_link(e, child, e->task[pid].anon_vma);
	struct fork_ctx fc = { child, 0 };
	walk_ptes(e, pid, copy_one_pte, &fc);
	if (fc.failed) {
		do_exit(e, child);
		return pmc_err(e, PMC_EALLOC, "cannot allocate the child's page table");
	}
	e->ctr.forks++;
	return child;
}

/* mem_cgroup_move_task (2.6.30): only new charges follow the task. */
int pmc_move(pmc_engine *e, int pid, int memcg)
{
	struct task *t = NULL;
	int rc = task_lookup(e, pid, &t);
	if (rc)
		return rc;
	if (!memcg_valid(e, memcg))
		return pmc_err(e, PMC_ENOENT, "no live cgroup with id %d", memcg);
	e->memcg[t->memcg].nr_tasks--;
	e->memcg[memcg].nr_tasks++;
	t->memcg = memcg;
	return 0;
}

/* --- introspection ------------------------------------------------------ */

int pmc_task_info(const pmc_engine *e, int pid, struct pmc_task_info *out)
{
	if (pid < 1 || pid >= e->nr_task)
		return PMC_EINVAL;
	const struct task *t = &e->task[pid];
	out->alive = t->state == TASK_ALIVE;
	out->oom_killed = t->oom_killed;
	out->memcg = t->memcg;
	out->anon_vma = t->anon_vma;
	out->rss = t->rss;
	out->swap_ptes = t->swap_ptes;
	out->gather_nr = t->gather_nr;
	out->locked_ptes = (int32_t)t->locked_ptes;
	return 0;
}

/* The live tasks of one memcg, in pid order; returns how many there are. */
int pmc_task_pids(const pmc_engine *e, int memcg, int32_t *out, int cap)
{
	int n = 0;
	for (int32_t pid = 1; pid < e->nr_task; pid++)
		if (e->task[pid].state == TASK_ALIVE && e->task[pid].memcg == memcg) {
			if (n < cap)
				out[n] = pid;
			n++;
		}
	return n;
}

int64_t pmc_pte_lookup(const pmc_engine *e, int pid, int64_t vpn)
{
	if (pid < 1 || pid >= e->nr_task || vpn < 0 || vpn >= TASK_VPN_LIMIT)
		return PMC_EINVAL;
	if (e->task[pid].state != TASK_ALIVE)
		return PMC_ESRCH;
	return (int64_t)pte_read(&e->task[pid], vpn);
}
