/*
 * snapshot.c - the engine's own state (everything but the per-frame and
 * per-slot arrays, which numpy owns) as one flat byte string, and back:
 * engine copies and saved engines.  A snapshot is taken between calls, so no
 * replay is in progress; step-API batches are included.
 */
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "snapshot.h"

#define SNAP_MAGIC 0x706d6367736e7031ull   /* "pmcgsnp1" */

struct snap_head {
	uint64_t magic;
	uint64_t checksum;                     /* FNV-1a of everything after the header */
	int64_t nr_pages, nr_swap_cfg;
	int32_t nr_memcg, nr_task, nr_batch, kernel;
	int64_t nr_ptes;                       /* (vpn, pte) pairs of all live tasks */
	int64_t nr_gather;
};

static uint64_t fnv1a(const void *buf, size_t n)
{
	const unsigned char *p = buf;
	uint64_t h = 0xcbf29ce484222325ull;
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 0x100000001b3ull;
	return h;
}

struct pte_pair {
	int64_t vpn;
	uint64_t pte;
};

struct count_ctx {
	int64_t n;
	struct pte_pair *out;
};

static void count_pte(pmc_engine *e, int32_t pid, int64_t vpn, uint64_t *pte, void *ctx)
{
	struct count_ctx *c = ctx;
	(void)e;
	(void)pid;
	if (c->out)
		c->out[c->n] = (struct pte_pair){ vpn, *pte };
	c->n++;
}

static int64_t live_batches(const pmc_engine *e)
{
	int64_t n = 0;
	for (int32_t id = 0; id < e->nr_batch; id++)
		n += e->batch[id] != NULL;
	return n;
}

/* The byte size pmc_snapshot needs, or an error. */
int64_t pmc_snapshot_size(pmc_engine *e)
{
	if (e->replay)
		return pmc_err(e, PMC_ESTATE, "a replay is in progress");
	struct count_ctx c = { 0, NULL };
	int64_t gather = 0;
	for (int32_t pid = 1; pid < e->nr_task; pid++)
		if (e->task[pid].state == TASK_ALIVE) {
			walk_ptes(e, pid, count_pte, &c);
			gather += e->task[pid].gather_nr;
		}
	return (int64_t)(sizeof(struct snap_head) + sizeof(struct snap_engine) +
	                 (size_t)e->nr_memcg * sizeof(struct mem_cgroup) + (size_t)e->nr_task * sizeof(struct task) +
	                 (size_t)e->nr_task * sizeof(int64_t) + (size_t)c.n * sizeof(struct pte_pair) +
	                 (size_t)gather * sizeof(int32_t) + (size_t)e->nr_batch * sizeof(int32_t) +
	                 (size_t)live_batches(e) * sizeof(struct shrink_batch));
}

int pmc_snapshot(pmc_engine *e, void *buf, int64_t size)
{
	int64_t need = pmc_snapshot_size(e);
	if (need < 0)
		return (int)need;
	if (size != need)
		return pmc_err(e, PMC_EINVAL, "snapshot buffer of %lld bytes, %lld needed", (long long)size, (long long)need);
	char *p = buf;
	struct snap_head *h = (struct snap_head *)p;
	*h = (struct snap_head){ .magic = SNAP_MAGIC, .nr_pages = e->nr_pages, .nr_swap_cfg = e->cfg.nr_swap,
	                         .nr_memcg = e->nr_memcg, .nr_task = e->nr_task, .nr_batch = e->nr_batch,
	                         .kernel = e->cfg.kernel };
	p += sizeof *h;
	struct snap_engine se;
	memset(&se, 0, sizeof se);
	COPY_FIELDS(&se, e);
	memcpy(p, &se, sizeof se);
	p += sizeof se;
	memcpy(p, e->memcg, (size_t)e->nr_memcg * sizeof(struct mem_cgroup));
	p += (size_t)e->nr_memcg * sizeof(struct mem_cgroup);
	int64_t *counts = (int64_t *)(p + (size_t)e->nr_task * sizeof(struct task));
	for (int32_t pid = 0; pid < e->nr_task; pid++) {
		struct task t = e->task[pid];
		t.pgd = NULL;
		t.leaf_cache = NULL;
		t.leaf_cache_idx = -1;
		t.gather = NULL;
		memcpy(p + (size_t)pid * sizeof t, &t, sizeof t);
	}
	p = (char *)(counts + e->nr_task);
	for (int32_t pid = 0; pid < e->nr_task; pid++) {
		struct count_ctx c = { 0, (struct pte_pair *)p };
		if (pid && e->task[pid].state == TASK_ALIVE)
			walk_ptes(e, pid, count_pte, &c);
		counts[pid] = c.n;
		p += (size_t)c.n * sizeof(struct pte_pair);
		h->nr_ptes += c.n;
	}
	for (int32_t pid = 1; pid < e->nr_task; pid++)
		if (e->task[pid].state == TASK_ALIVE) {
			memcpy(p, e->task[pid].gather, (size_t)e->task[pid].gather_nr * sizeof(int32_t));
			p += (size_t)e->task[pid].gather_nr * sizeof(int32_t);
			h->nr_gather += e->task[pid].gather_nr;
		}
	for (int32_t id = 0; id < e->nr_batch; id++) {
		int32_t live = e->batch[id] != NULL;
		memcpy(p, &live, sizeof live);
		p += sizeof live;
	}
	for (int32_t id = 0; id < e->nr_batch; id++)
		if (e->batch[id]) {
			memcpy(p, e->batch[id], sizeof(struct shrink_batch));
			p += sizeof(struct shrink_batch);
		}
	h->checksum = fnv1a(h + 1, (size_t)(size - (int64_t)sizeof *h));
	return 0;
}

/*
 * Load a snapshot into an engine created with the same RAM, swap and kernel
 * (and fresh: no tasks, cgroups or batches of its own).  The numpy arrays are
 * the caller's to copy.
 */
int pmc_restore(pmc_engine *e, const void *buf, int64_t size)
{
	const char *p = buf, *end = p + size;
	struct snap_head h;
	if (size < (int64_t)(sizeof h + sizeof(struct snap_engine)))
		return pmc_err(e, PMC_EINVAL, "snapshot truncated");
	memcpy(&h, p, sizeof h);
	if (h.magic != SNAP_MAGIC)
		return pmc_err(e, PMC_EINVAL, "not a pymemcg snapshot");
	if (h.checksum != fnv1a(p + sizeof h, (size_t)(size - (int64_t)sizeof h)))
		return pmc_err(e, PMC_EINVAL, "snapshot is corrupt (checksum mismatch)");
	if (h.nr_pages != e->nr_pages || h.nr_swap_cfg != e->cfg.nr_swap || h.kernel != e->cfg.kernel)
		return pmc_err(e, PMC_EINVAL, "snapshot of another machine (RAM, swap or kernel differ)");
	if (e->nr_task != 1 || e->nr_memcg != 2 || e->nr_batch)
		return pmc_err(e, PMC_ESTATE, "restore needs a fresh engine");
	if (h.nr_memcg < 2 || h.nr_memcg > MAX_MEMCG + 1 || h.nr_task < 1 || h.nr_batch < 0 || h.nr_ptes < 0 ||
	    h.nr_gather < 0)
		return pmc_err(e, PMC_EINVAL, "snapshot header is corrupt");
	int64_t need = (int64_t)(sizeof h + sizeof(struct snap_engine) + (size_t)h.nr_memcg * sizeof(struct mem_cgroup) +
	                         (size_t)h.nr_task * (sizeof(struct task) + sizeof(int64_t)) +
	                         (size_t)h.nr_ptes * sizeof(struct pte_pair) + (size_t)h.nr_gather * sizeof(int32_t) +
	                         (size_t)h.nr_batch * sizeof(int32_t));
	if (size < need)
		return pmc_err(e, PMC_EINVAL, "snapshot truncated");
	p += sizeof h;
	struct snap_engine se;
	memcpy(&se, p, sizeof se);
	p += sizeof se;

	struct mem_cgroup *memcg = malloc((size_t)h.nr_memcg * sizeof *memcg);
	struct task *task = calloc((size_t)h.nr_task, sizeof *task);
	struct shrink_batch **batch = h.nr_batch ? calloc((size_t)h.nr_batch, sizeof *batch) : NULL;
	if (!memcg || !task || (h.nr_batch && !batch))
		goto nomem;
	memcpy(memcg, p, (size_t)h.nr_memcg * sizeof *memcg);
	p += (size_t)h.nr_memcg * sizeof *memcg;
	memcpy(task, p, (size_t)h.nr_task * sizeof *task);
	p += (size_t)h.nr_task * sizeof *task;
	for (int32_t pid = 0; pid < h.nr_task; pid++) {   /* pointers never travel (all cleared before */
		task[pid].pgd = NULL;                          /* the first goto corrupt, which frees them) */
		task[pid].leaf_cache = NULL;
		task[pid].gather = NULL;
	}
	for (int32_t pid = 0; pid < h.nr_task; pid++)
		if (task[pid].state < TASK_UNUSED || task[pid].state > TASK_DEAD || task[pid].memcg < 0 ||
		    task[pid].memcg >= h.nr_memcg)
			goto corrupt;
	const int64_t *counts = (const int64_t *)p;
	p += (size_t)h.nr_task * sizeof(int64_t);
	for (int32_t pid = 1; pid < h.nr_task; pid++) {
		struct task *t = &task[pid];
		if (t->state != TASK_ALIVE)
			continue;
		if (!(t->gather = malloc(FREE_PTE_NR * sizeof(int32_t))))
			goto nomem;
		for (int64_t k = 0; k < counts[pid]; k++) {
			struct pte_pair pp;
			if (p + sizeof pp > end)
				goto corrupt;
			memcpy(&pp, p, sizeof pp);
			p += sizeof pp;
			if (pp.vpn < 0 || pp.vpn >= TASK_VPN_LIMIT)
				goto corrupt;
			uint64_t *pte = pte_alloc(e, t, pp.vpn);
			if (!pte)
				goto nomem;
			*pte = pp.pte;
		}
	}
	for (int32_t pid = 1; pid < h.nr_task; pid++)
		if (task[pid].state == TASK_ALIVE) {
			if (task[pid].gather_nr < 0 || task[pid].gather_nr > FREE_PTE_NR ||
			    p + (size_t)task[pid].gather_nr * sizeof(int32_t) > end)
				goto corrupt;
			memcpy(task[pid].gather, p, (size_t)task[pid].gather_nr * sizeof(int32_t));
			p += (size_t)task[pid].gather_nr * sizeof(int32_t);
		}
	const int32_t *live = (const int32_t *)p;
	p += (size_t)h.nr_batch * sizeof(int32_t);
	for (int32_t id = 0; id < h.nr_batch; id++)
		if (live[id]) {
			if (p + sizeof(struct shrink_batch) > end || !(batch[id] = malloc(sizeof(struct shrink_batch))))
				goto corrupt;
			memcpy(batch[id], p, sizeof(struct shrink_batch));
			p += sizeof(struct shrink_batch);
		}

	if (se.free_head < NIL || se.free_head >= e->nr_pages || se.nr_free < 0 || se.nr_free > e->nr_pages)
		goto corrupt;
	free(e->memcg);
	for (int32_t pid = 1; pid < e->nr_task; pid++)
		free(e->task[pid].gather);
	free(e->task);
	e->memcg = memcg;
	e->nr_memcg = e->cap_memcg = h.nr_memcg;
	e->task = task;
	e->nr_task = e->cap_task = h.nr_task;
	e->batch = batch;
	e->nr_batch = e->cap_batch = h.nr_batch;
	int32_t laptop_mode = e->laptop_mode;
	COPY_FIELDS(e, &se);
	e->laptop_mode = laptop_mode;        /* a copy may change it */
	e->leak_pending = NIL;
	leak_recount(e, &e->leak);           /* derived state: counted again from the slots */
	return 0;

corrupt:
	for (int32_t pid = 1; pid < h.nr_task; pid++) {
		free_pgtables(e, &task[pid]);
		free(task[pid].gather);
	}
	for (int32_t id = 0; batch && id < h.nr_batch; id++)
		free(batch[id]);
	free(memcg);
	free(task);
	free(batch);
	return pmc_err(e, PMC_EINVAL, "snapshot is corrupt");
nomem:
	for (int32_t pid = 1; task && pid < h.nr_task; pid++) {
		free_pgtables(e, &task[pid]);
		free(task[pid].gather);
	}
	free(memcg);
	free(task);
	free(batch);
	return pmc_err(e, PMC_EALLOC, "out of host memory restoring a snapshot");
}
