/*
 * oom_kill.c - the memcg OOM killer of 2.6.30 (mem_cgroup_out_of_memory,
 * select_bad_process restricted by task_in_mem_cgroup).
 *
 * Simplification: badness is the task's mapped pages plus its swap ptes (the
 * kernel uses total_vm, which for these tasks is the same anon footprint,
 * with adjustments for children, nice, uptime and oom_adj that the engine
 * does not model).  Ties go to the lowest pid, the first in task-list order.
 * The victim exits at once; the kernel gives it TIF_MEMDIE and it exits soon.
 */
#include "engine.h"

/* task_in_mem_cgroup: a hierarchical memcg's tasks count for its ancestors. */
static int task_in_mem_cgroup(const pmc_engine *e, const struct task *t, int32_t mem)
{
	if (e->memcg[t->memcg].use_hierarchy)
		return mem_cgroup_in_subtree(e, t->memcg, mem);
	return t->memcg == mem;
}

/* Kill the largest task charged under mem_over_limit; returns its pid, or 0. */
int32_t mem_cgroup_out_of_memory(pmc_engine *e, int32_t mem_over_limit)
{
	int32_t chosen = 0;
	int64_t best = -1;
	for (int32_t pid = 1; pid < e->nr_task; pid++) {
		const struct task *t = &e->task[pid];
		if (t->state != TASK_ALIVE || !task_in_mem_cgroup(e, t, mem_over_limit))
			continue;
		int64_t points = t->rss + t->swap_ptes;
		if (points > best) {
			best = points;
			chosen = pid;
		}
	}
	if (chosen) {
		e->task[chosen].oom_killed = 1;
		e->ctr.oom_kills++;
		do_exit(e, chosen);
	}
	return chosen;
}
