/*
 * audit.c - pmc_check: every invariant the engine keeps, recomputed from
 * scratch (kernel-semantics §4.4 for I1-I4; the rest are the engine's own
 * bookkeeping).  The first violation is reported as "NAME: detail" naming
 * the invariant and an offending page, task or cgroup.
 */
#include <stdlib.h>

#include "engine.h"

struct audit {
	pmc_engine *e;
	int32_t *maps;      /* present ptes per pfn */
	int32_t *refs;      /* references found per pfn */
	int64_t *charged;   /* USED pages per memcg, local */
	int64_t rss;        /* present ptes of the task being walked */
	int64_t locked;     /* its ptes in locked ranges */
	int rc;
};

#define FAIL(a, ...) do { if (!(a)->rc) (a)->rc = pmc_err((a)->e, PMC_EINVARIANT, __VA_ARGS__); } while (0)

static void audit_pte(pmc_engine *e, int32_t pid, int64_t vpn, uint64_t *pte, void *ctx)
{
	struct audit *a = ctx;
	a->locked += !!(*pte & PTE_LOCKED);
	if (!(*pte & PTE_PRESENT))
		return;
	a->rss++;
	int32_t pfn = pte_pfn(*pte);
	if (pfn < 0 || pfn >= e->nr_pages || PageTest(e, pfn, PG_buddy)) {
		FAIL(a, "pte: task %d vpn %lld maps pfn %d, which is not an allocated page", pid, (long long)vpn, pfn);
		return;
	}
	a->maps[pfn]++;
	a->refs[pfn]++;
	if (e->a.anon_vma[pfn] != e->task[pid].anon_vma || e->a.vpn[pfn] != vpn)
		FAIL(a, "rmap: page %d records family %d vpn %lld but task %d (family %d) maps it at vpn %lld",
		     pfn, e->a.anon_vma[pfn], (long long)e->a.vpn[pfn], pid, e->task[pid].anon_vma, (long long)vpn);
}

static void check_free_list(struct audit *a)
{
	pmc_engine *e = a->e;
	int64_t n = 0;
	for (int32_t pfn = e->free_head; pfn != NIL && n <= e->nr_pages; pfn = e->a.lru_next[pfn], n++)
		if (e->a.flags[pfn] != PG_buddy && (e->a.flags[pfn] & ~PCG_CACHE) != PG_buddy)
			FAIL(a, "free: page %d on the free list has flags %#x", pfn, e->a.flags[pfn]);
	if (n != e->nr_free)
		FAIL(a, "free: free list holds %lld pages, nr_free says %lld", (long long)n, (long long)e->nr_free);
}

static void check_lists(struct audit *a, const char *what, int32_t owner, const int32_t *head,
                        const int32_t *tail, const int64_t *count, const int32_t *prev, const int32_t *next)
{
	pmc_engine *e = a->e;
	for (int l = 0; l < NR_LRU_LISTS; l++) {
		int64_t n = 0;
		int32_t last = NIL;
		for (int32_t pfn = head[l]; pfn != NIL && n <= e->nr_pages; last = pfn, pfn = next[pfn], n++) {
			if (prev[pfn] != last)
				FAIL(a, "%s: page %d on list %d of %d has a broken back link", what, pfn, l, owner);
			if (!PageTest(e, pfn, PG_lru) || (int)page_lru(e, pfn) != l)
				FAIL(a, "%s: page %d on list %d of %d, but its flags %#x name list %d",
				     what, pfn, l, owner, e->a.flags[pfn], (int)page_lru(e, pfn));
			if (owner && (!PageTest(e, pfn, PCG_LINKED) || e->a.memcg[pfn] != owner))
				FAIL(a, "%s: page %d on memcg %d's list %d but owned by %d (flags %#x)",
				     what, pfn, owner, l, e->a.memcg[pfn], e->a.flags[pfn]);
		}
		if (n != count[l] || last != tail[l])
			FAIL(a, "%s: list %d of %d holds %lld pages, its count says %lld", what, l, owner,
			     (long long)n, (long long)count[l]);
	}
}

static void check_pages(struct audit *a)
{
	pmc_engine *e = a->e;
	int64_t lru_pages = 0, linked = 0, mlocked = 0, anon_mapped = 0;
	for (int32_t pfn = 0; pfn < e->nr_pages; pfn++) {
		uint32_t f = e->a.flags[pfn];
		if (f & PG_buddy) {
			if (e->a.count[pfn] || e->a.mapcount[pfn] || (f & (PCG_USED | PCG_LINKED)))
				FAIL(a, "free: free page %d has count %d mapcount %d flags %#x", pfn,
				     e->a.count[pfn], e->a.mapcount[pfn], f);
			continue;
		}
		if (e->a.mapcount[pfn] != a->maps[pfn])
			FAIL(a, "mapcount: page %d has mapcount %d but %d ptes map it", pfn, e->a.mapcount[pfn], a->maps[pfn]);
		if (e->a.count[pfn] != a->refs[pfn])
			FAIL(a, "refcount: page %d has count %d but %d mappings and parked references", pfn,
			     e->a.count[pfn], a->refs[pfn]);
		if (!(f & PG_lru))
			FAIL(a, "lru: allocated page %d is on no LRU list (flags %#x)", pfn, f);
		if ((f & PCG_USED) && (f & PG_lru) && !(f & PCG_LINKED))
			FAIL(a, "I4: page %d is charged to memcg %d and on the zone LRU but not on the memcg's list",
			     pfn, e->a.memcg[pfn]);
		if ((f & PG_mlocked) && (f & PG_lru) && !(f & PG_unevictable))
			FAIL(a, "mlock: mlocked page %d is on an evictable list", pfn);
		lru_pages += !!(f & PG_lru);
		linked += !!(f & PCG_LINKED);
		mlocked += !!(f & PG_mlocked);
		anon_mapped += (f & PG_anon) && e->a.mapcount[pfn] > 0;
		if (f & PCG_USED)
			a->charged[e->a.memcg[pfn]]++;
	}
	int64_t zone_total = 0;
	for (int l = 0; l < NR_LRU_LISTS; l++)
		zone_total += e->lru_count[l];
	if (lru_pages != zone_total)
		FAIL(a, "lru: %lld pages have PG_lru, the zone lists hold %lld", (long long)lru_pages, (long long)zone_total);
	int64_t memcg_total = 0;
	for (int32_t m = 1; m < e->nr_memcg; m++)
		for (int l = 0; l < NR_LRU_LISTS; l++)
			memcg_total += e->memcg[m].lru_count[l];
	if (linked != memcg_total)
		FAIL(a, "lru: %lld pages are linked to a memcg list, the memcg lists hold %lld",
		     (long long)linked, (long long)memcg_total);
	if (mlocked != e->nr_mlock)
		FAIL(a, "mlock: %lld pages are mlocked, NR_MLOCK says %lld", (long long)mlocked, (long long)e->nr_mlock);
	if (anon_mapped != e->nr_anon_pages)
		FAIL(a, "anon: %lld mapped anon pages, NR_ANON_PAGES says %lld", (long long)anon_mapped,
		     (long long)e->nr_anon_pages);
}

/* I1 (and I2, with no swap records yet): counters equal the charged pages below them. */
static void check_memcgs(struct audit *a)
{
	pmc_engine *e = a->e;
	int64_t *hier = calloc((size_t)e->nr_memcg, sizeof *hier);
	int32_t *tasks = calloc((size_t)e->nr_memcg, sizeof *tasks);
	if (!hier || !tasks) {
		FAIL(a, "audit: out of host memory");
		goto out;
	}
	for (int32_t m = 1; m < e->nr_memcg; m++)
		for (int32_t c = m; c; c = e->memcg[c].counter_parent)
			hier[c] += a->charged[m];
	for (int32_t pid = 1; pid < e->nr_task; pid++)
		if (e->task[pid].state == TASK_ALIVE)
			tasks[e->task[pid].memcg]++;
	for (int32_t m = 1; m < e->nr_memcg; m++) {
		const struct mem_cgroup *g = &e->memcg[m];
		uint64_t want = (uint64_t)hier[m] * PAGE_SIZE;
		if (g->res.usage != want)
			FAIL(a, "I1: memcg %d res usage %llu, but %lld pages are charged below it", m,
			     (unsigned long long)g->res.usage, (long long)hier[m]);
		if (e->cfg.swap_account && g->memsw.usage != g->res.usage)
			FAIL(a, "I2: memcg %d memsw usage %llu != res usage %llu with no swap records", m,
			     (unsigned long long)g->memsw.usage, (unsigned long long)g->res.usage);
		if (g->stat[MEMCG_RSS] + g->stat[MEMCG_CACHE] != a->charged[m])
			FAIL(a, "stat: memcg %d rss+cache %lld != %lld charged pages", m,
			     (long long)(g->stat[MEMCG_RSS] + g->stat[MEMCG_CACHE]), (long long)a->charged[m]);
		if (g->nr_tasks != tasks[m])
			FAIL(a, "tasks: memcg %d counts %d tasks, %d live tasks are in it", m, g->nr_tasks, tasks[m]);
		if (g->res.usage > g->res.max_usage || g->memsw.usage > g->memsw.max_usage)
			FAIL(a, "counter: memcg %d usage above its max_usage", m);
		check_lists(a, "memcg-lru", m, g->lru_head, g->lru_tail, g->lru_count, e->a.mlru_prev, e->a.mlru_next);
	}
out:
	free(hier);
	free(tasks);
}

int pmc_check(pmc_engine *e)
{
	struct audit a = { e, NULL, NULL, NULL, 0, 0, 0 };
	a.maps = calloc((size_t)e->nr_pages, sizeof *a.maps);
	a.refs = calloc((size_t)e->nr_pages, sizeof *a.refs);
	a.charged = calloc((size_t)e->nr_memcg, sizeof *a.charged);
	if (!a.maps || !a.refs || !a.charged) {
		FAIL(&a, "audit: out of host memory");
		goto out;
	}
	for (int32_t pid = 1; pid < e->nr_task; pid++) {
		const struct task *t = &e->task[pid];
		if (t->state != TASK_ALIVE)
			continue;
		a.rss = a.locked = 0;
		walk_ptes(e, pid, audit_pte, &a);
		if (a.rss != t->rss || a.locked != t->locked_ptes)
			FAIL(&a, "task: task %d has %lld present and %lld locked ptes, it counts %lld and %lld", pid,
			     (long long)a.rss, (long long)a.locked, (long long)t->rss, (long long)t->locked_ptes);
		for (int i = 0; i < t->gather_nr; i++)
			a.refs[t->gather[i]]++;
	}
	check_free_list(&a);
	check_pages(&a);
	check_lists(&a, "zone-lru", 0, e->lru_head, e->lru_tail, e->lru_count, e->a.lru_prev, e->a.lru_next);
	check_memcgs(&a);
out:
	free(a.maps);
	free(a.refs);
	free(a.charged);
	return a.rc;
}
