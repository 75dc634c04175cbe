/*
 * task.c - the task table and the synchronous task API (kernel/fork.c,
 * kernel/exit.c, and the calls of the step API): spawn, fork, exit, move,
 * and the runner that drives fault and zap machines to their end.
 */
#include <stdlib.h>
#include <string.h>

#include "engine.h"

int task_lookup(pmc_engine *e, int pid, struct task **out)
{
	if (pid < 1 || pid >= e->nr_task)
		return pmc_err(e, PMC_EINVAL, "no task with pid %d", pid);
	if (e->task[pid].state != TASK_ALIVE)
		return pmc_err(e, PMC_ESRCH, "task %d is not alive%s", pid,
		               e->task[pid].oom_killed ? " (OOM-killed)" : "");
	*out = &e->task[pid];
	return 0;
}

/* A new task slot (copy_process); its mmu_gather buffer is allocated here so later calls cannot fail. */
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
	t->oom_event = -1;
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

/* The end of exit_mmap: the page table and the task itself go. */
void exit_mm_done(pmc_engine *e, int32_t pid)
{
	struct task *t = &e->task[pid];
	free_pgtables(e, t);
	anon_vma_unlink(e, pid);
	e->memcg[t->memcg].nr_tasks--;
	free(t->gather);
	t->gather = NULL;
	t->state = TASK_DEAD;
	e->lock_gen++;
	e->ctr.exits++;
}

/* do_exit: zap everything in gathers of FREE_PTE_NR, flush, tear down.  A zap never waits. */
void do_exit(pmc_engine *e, int32_t pid)
{
	struct zap_op z;
	zap_op_init(&z, pid, NULL, TASK_VPN_LIMIT, 0, 1, 1);
	while (zap_step(e, &z) == OP_MORE)
		;
}

/* --- the synchronous API ---------------------------------------------------------- */

/*
 * Run a fault machine to its end.  Waiting for a page lock means waiting for
 * the read that holds it.  A lock nobody will release (a shrink batch the
 * caller left half done) would be a hang: such a call is refused before it
 * starts (fault_would_wait), so a refused call changes nothing.
 */
static int64_t run_fault(pmc_engine *e, struct fault_op *f)
{
	int64_t vpn = fault_would_wait(e, f);
	if (vpn >= 0)
		return pmc_err(e, PMC_ESTATE, "task %d would wait for the lock of the page at vpn %lld, held by an "
		               "unfinished shrink batch (finish the batch first); nothing was done", f->pid, (long long)vpn);
	int r;
	while ((r = fault_step(e, f)) != OP_DONE)
		if (r == OP_BLOCKED && !io_wait_one(e, -1)) {
			fault_release(e, f);           /* unreachable unless fault_would_wait is wrong */
			e->ctr.pgfault += f->touched;
			return pmc_err(e, PMC_EINVARIANT, "task %d waits for a page lock that nothing will release",
			               f->pid);
		}
	e->ctr.pgfault += f->touched;
	wakeup_kswapd(e);
	return f->error ? f->error : f->touched;
}

static int64_t fault_batch(pmc_engine *e, int pid, const int64_t *vpns, int64_t n, int64_t start,
                           int write, int lock)
{
	struct task *t = NULL;
	int rc = task_lookup(e, pid, &t);
	if (!rc)
		rc = pmc_vpns_check(e, vpns, n, start);
	if (rc)
		return rc;
	struct fault_op *f = malloc(sizeof *f);
	if (!f)
		return pmc_err(e, PMC_EALLOC, "cannot allocate a fault");
	fault_op_init(f, pid, vpns, n, start, write, lock);
	f->alone = 1;
	int64_t ret = run_fault(e, f);
	free(f);
	return ret;
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

int64_t pmc_zap(pmc_engine *e, int pid, const int64_t *vpns, int64_t n, int64_t start, int flush)
{
	struct task *t = NULL;
	int rc = task_lookup(e, pid, &t);
	if (!rc)
		rc = pmc_vpns_check(e, vpns, n, start);
	if (rc)
		return rc;
	struct zap_op z;
	zap_op_init(&z, pid, vpns, n, start, flush, 0);
	while (zap_step(e, &z) == OP_MORE)
		;
	return z.zapped;
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

int pmc_exit(pmc_engine *e, int pid)
{
	struct task *t = NULL;
	int rc = task_lookup(e, pid, &t);
	if (rc)
		return rc;
	do_exit(e, pid);
	return 0;
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
	if (copy_mm(e, pid, child)) {
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

/* --- introspection ------------------------------------------------------------------ */

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
	out->oom_event = t->oom_event;
	out->events_skipped = t->events_skipped;
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
