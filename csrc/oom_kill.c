/*
 * oom_kill.c - the memcg OOM killer of 2.6.30 (mem_cgroup_out_of_memory,
 * select_bad_process restricted by task_in_mem_cgroup; mm/oom_kill.c).
 *
 * Simplification: badness is the task's mapped pages plus its swap ptes (the
 * kernel uses total_vm, which for these tasks is the same anon footprint,
 * with adjustments for children, nice, uptime and oom_adj that the engine
 * does not model).  Ties go to the lowest pid, the first in task-list order.
 * A victim that is not running exits at once; the kernel gives it TIF_MEMDIE
 * and it exits soon.
 */
#include "engine.h"

/* task_in_mem_cgroup: a hierarchical memcg's tasks count for its ancestors. */
static int task_in_mem_cgroup(const pmc_engine *e, const struct task *t, int32_t mem)
{
	if (!mem)
		return 1;                               /* the global OOM killer sees every task */
	if (e->memcg[t->memcg].use_hierarchy)
		return mem_cgroup_in_subtree(e, t->memcg, mem);
	return t->memcg == mem;
}

/*
 * select_bad_process + oom_kill_process: the largest task under mem (0: the
 * whole machine).  A victim already on its way out (TIF_MEMDIE, or exiting)
 * makes the killer wait and is returned again.  A victim whose operation is
 * running (the caller's own, or one on another replay CPU) dies when that
 * operation stops; any other dies at once.  Returns the victim's pid, or 0 if
 * there is none.
 */
static int32_t oom_kill(pmc_engine *e, int32_t mem, int32_t current)
{
	int32_t chosen = 0;
	int64_t best = -1;
	for (int32_t pid = 1; pid < e->nr_task; pid++) {
		const struct task *t = &e->task[pid];
		if (t->state != TASK_ALIVE || !task_in_mem_cgroup(e, t, mem))
			continue;
		if (t->memdie || t->exiting)
			return pid;
		int64_t points = t->rss + t->swap_ptes;
		if (points > best) {
			best = points;
			chosen = pid;
		}
	}
	if (!chosen)
		return 0;
	struct task *t = &e->task[chosen];
	t->oom_killed = 1;
	t->oom_event = replay_events(e);
	if (mem)
		e->ctr.oom_kills++;
	else
		e->ctr.global_oom_kills++;
	/*
	 * The charging task itself gets TIF_MEMDIE: its fault first drops what it
	 * holds (the new page, VM_FAULT_OOM) and then it dies (fault_killed).
	 */
	if (chosen != current && !t->busy)
		do_exit(e, chosen);
	else
		t->memdie = 1;
	e->lock_gen++;
	return chosen;
}

int32_t mem_cgroup_out_of_memory(pmc_engine *e, int32_t mem_over_limit, int32_t current)
{
	return oom_kill(e, mem_over_limit, current);
}

/* out_of_memory (global): no frame is free and direct reclaim freed none. */
int32_t out_of_memory(pmc_engine *e, int32_t current)
{
	return oom_kill(e, 0, current);
}
