/*
 * audit.c - pmc_check: every invariant the engine keeps, recomputed from
 * scratch (semantics.md K4.4 for I1-I5, the rest the engine's own
 * bookkeeping), and pmc_leaks: the leak definitions of K4.4.  The first
 * violation is reported as "NAME: detail" naming an offending page, slot,
 * task or cgroup.
 */
#include <stdlib.h>

#include "engine.h"

struct audit {
	pmc_engine *e;
	int32_t *maps;      /* present ptes per pfn                    */
	int32_t *refs;      /* references found per pfn                */
	uint8_t *isolated;  /* pfn held by a step-API batch            */
	int32_t *ptes;      /* swap ptes per slot                      */
	int64_t *charged;   /* USED pages per memcg, local             */
	int64_t *records;   /* swap_cgroup records per memcg           */
	int64_t rss;        /* present ptes of the task being walked   */
	int64_t swap;       /* its swap ptes                           */
	int64_t locked;     /* its ptes in locked ranges               */
	int rc;
};

#define FAIL(a, ...) do { if (!(a)->rc) (a)->rc = pmc_err((a)->e, PMC_EINVARIANT, __VA_ARGS__); } while (0)

static void audit_pte(pmc_engine *e, int32_t pid, int64_t vpn, uint64_t *pte, void *ctx)
{
	struct audit *a = ctx;
	a->locked += !!(*pte & PTE_LOCKED);
	if (*pte & PTE_SWAP) {
		int32_t off = pte_pfn(*pte);
		a->swap++;
		if (off < 1 || off >= e->nr_swap)
			FAIL(a, "pte: task %d vpn %lld holds swap entry %d outside the device", pid, (long long)vpn, off);
		else
			a->ptes[off]++;
		return;
	}
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

static void held_ref(void *ctx, int32_t pfn, int isolated)
{
	struct audit *a = ctx;
	if (pfn < 0 || pfn >= a->e->nr_pages) {
		FAIL(a, "batch: a batch holds pfn %d, which does not exist", pfn);
		return;
	}
	if (isolated != HELD_FROZEN)
		a->refs[pfn]++;
	if (isolated)
		a->isolated[pfn] = 1;
}

/* Walk every live task's page table and gather, every batch's isolated pages, and what replay operations hold. */
static void count_references(struct audit *a)
{
	pmc_engine *e = a->e;
	for (int32_t pid = 1; pid < e->nr_task; pid++) {
		const struct task *t = &e->task[pid];
		if (t->state != TASK_ALIVE)
			continue;
		a->rss = a->swap = a->locked = 0;
		walk_ptes(e, pid, audit_pte, a);
		if (a->rss != t->rss || a->swap != t->swap_ptes || a->locked != t->locked_ptes)
			FAIL(a, "task: task %d has %lld present, %lld swap and %lld locked ptes; it counts %lld, %lld, %lld",
			     pid, (long long)a->rss, (long long)a->swap, (long long)a->locked, (long long)t->rss,
			     (long long)t->swap_ptes, (long long)t->locked_ptes);
		for (int i = 0; i < t->gather_nr; i++)
			if (t->gather[i] < 0 || t->gather[i] >= e->nr_pages)
				FAIL(a, "gather: task %d parks pfn %d, which does not exist", pid, t->gather[i]);
			else
				a->refs[t->gather[i]]++;
	}
	replay_held_refs(e, held_ref, a);
	for (int32_t id = 0; id < e->nr_batch; id++)
		if (e->batch[id])
			batch_refs(e->batch[id], held_ref, a);
}

static void check_free_list(struct audit *a)
{
	pmc_engine *e = a->e;
	int64_t n = 0;
	for (int32_t pfn = e->free_head; pfn != NIL && n <= e->nr_pages; pfn = e->a.lru_next[pfn], n++) {
		if (pfn < 0 || pfn >= e->nr_pages) {
			FAIL(a, "free: the free list reaches pfn %d, which does not exist", pfn);
			break;
		}
		if ((e->a.flags[pfn] & ~PCG_CACHE) != PG_buddy)
			FAIL(a, "free: page %d on the free list has flags %#x", pfn, e->a.flags[pfn]);
	}
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
			if (pfn < 0 || pfn >= e->nr_pages) {
				FAIL(a, "%s: list %d of %d reaches pfn %d, which does not exist", what, l, owner, pfn);
				break;
			}
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
	int64_t lru_pages = 0, linked = 0, mlocked = 0, anon_mapped = 0, cached = 0;
	for (int32_t pfn = 0; pfn < e->nr_pages; pfn++) {
		uint32_t f = e->a.flags[pfn];
		if (f & PG_buddy) {
			if (e->a.count[pfn] || e->a.mapcount[pfn] || (f & (PCG_USED | PCG_LINKED)))
				FAIL(a, "free: free page %d has count %d mapcount %d flags %#x", pfn,
				     e->a.count[pfn], e->a.mapcount[pfn], f);
			continue;
		}
		if (f & PG_swapcache) {
			uint32_t off = e->a.private[pfn];
			cached++;
			a->refs[pfn]++;
			if (off < 1 || off >= e->nr_swap || e->a.swap_cache[off] != pfn)
				FAIL(a, "swapcache: page %d says slot %u, the slot's cache holds page %d", pfn, off,
				     off < e->nr_swap ? e->a.swap_cache[off] : NIL);
		}
		if (e->a.mapcount[pfn] != a->maps[pfn])
			FAIL(a, "mapcount: page %d has mapcount %d but %d ptes map it", pfn, e->a.mapcount[pfn], a->maps[pfn]);
		if (e->a.count[pfn] != a->refs[pfn])
			FAIL(a, "refcount: page %d has count %d but %d mappings, cache, parked and isolation references",
			     pfn, e->a.count[pfn], a->refs[pfn]);
		if (!(f & PG_lru) && !a->isolated[pfn])
			FAIL(a, "lru: allocated page %d is on no LRU list and in no batch (flags %#x)", pfn, f);
		if ((f & PG_lru) && a->isolated[pfn])
			FAIL(a, "lru: isolated page %d still has PG_lru", pfn);
		if ((f & PCG_USED) && (f & PG_lru) && !(f & PCG_LINKED))
			FAIL(a, "I4: page %d is charged to memcg %d and on the zone LRU but not on the memcg's list",
			     pfn, e->a.memcg[pfn]);
		if ((f & PG_mlocked) && (f & PG_lru) && !(f & PG_unevictable))
			FAIL(a, "mlock: mlocked page %d is on an evictable list", pfn);
		lru_pages += !!(f & PG_lru);
		linked += !!(f & PCG_LINKED);
		mlocked += !!(f & PG_mlocked);
		anon_mapped += (f & PG_anon) && e->a.mapcount[pfn] > 0;
		if ((f & (PCG_USED | PCG_LINKED)) && (e->a.memcg[pfn] < 1 || e->a.memcg[pfn] >= e->nr_memcg)) {
			FAIL(a, "memcg: page %d names memcg %d, which does not exist", pfn, e->a.memcg[pfn]);
			continue;
		}
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
	if (cached != e->swapcache_pages)
		FAIL(a, "swapcache: %lld pages in the swap cache, total_swapcache_pages says %lld", (long long)cached,
		     (long long)e->swapcache_pages);
}

/* swap_map against the ptes and the cache, in the kernel's encoding; the allocator's counts. */
static void check_swap(struct audit *a)
{
	pmc_engine *e = a->e;
	const struct swap_ops *ops = e->swap_ops;
	int64_t used = 0;
	if (e->nr_swap && e->a.swap_map[0] != ops->bad)
		FAIL(a, "swap_map: the header slot 0 is %#x, not SWAP_MAP_BAD", e->a.swap_map[0]);
	for (int32_t off = 1; off < e->nr_swap; off++) {
		uint16_t v = e->a.swap_map[off];
		int32_t cpfn = e->a.swap_cache[off];
		if ((cpfn != NIL && (cpfn < 0 || cpfn >= e->nr_pages)) || e->a.swap_cgroup[off] >= e->nr_memcg) {
			FAIL(a, "swap: slot %d names page %d and memcg %d, which do not exist", off, cpfn,
			     e->a.swap_cgroup[off]);
			continue;
		}
		int cached = cpfn != NIL;
		if (cached && !PageTest(e, e->a.swap_cache[off], PG_swapcache))
			FAIL(a, "swapcache: slot %d's cache page %d is not PG_swapcache", off, e->a.swap_cache[off]);
		/* 2.6.30 counts the cache in the count; 2.6.31 keeps it in a bit. Saturated counts are sticky. */
		uint16_t count = (uint16_t)(v & ~ops->cache_bit);
		int want = a->ptes[off] + (ops->cache_bit ? 0 : cached);
		if ((count != want && count != ops->max) || (ops->cache_bit && !!(v & ops->cache_bit) != cached))
			FAIL(a, "swap_map: slot %d is %#x with %d swap ptes and %s", off, v, a->ptes[off],
			     cached ? "a cache page" : "no cache page");
		used += v != 0;
		if (e->a.swap_cgroup[off])
			a->records[e->a.swap_cgroup[off]]++;
		if (e->cfg.kernel == PMC_KERNEL_2_6_31 && e->a.swap_cgroup[off] && !a->ptes[off])
			FAIL(a, "I3: slot %d is recorded for memcg %d with no swap pte", off, e->a.swap_cgroup[off]);
	}
	if (e->nr_swap && (used != e->inuse_pages || e->nr_swap_pages != e->total_swap_pages - used))
		FAIL(a, "swap: %lld slots in use, inuse_pages %lld, nr_swap_pages %lld of %lld", (long long)used,
		     (long long)e->inuse_pages, (long long)e->nr_swap_pages, (long long)e->total_swap_pages);
}

/*
 * I1 and I2: counters equal the charged pages (and swap records) below them,
 * counting the charges replay operations hold uncommitted.
 */
static void check_memcgs(struct audit *a)
{
	pmc_engine *e = a->e;
	int64_t *hier = calloc((size_t)e->nr_memcg, sizeof *hier);
	int64_t *hier_rec = calloc((size_t)e->nr_memcg, sizeof *hier_rec);
	int32_t *tasks = calloc((size_t)e->nr_memcg, sizeof *tasks);
	int64_t *pending = calloc((size_t)e->nr_memcg, sizeof *pending);
	if (!hier || !hier_rec || !tasks || !pending) {
		FAIL(a, "audit: out of host memory");
		goto out;
	}
	replay_held_charges(e, pending);
	for (int32_t m = 1; m < e->nr_memcg; m++)
		for (int32_t c = m; c; c = e->memcg[c].counter_parent) {
			hier[c] += a->charged[m] + pending[m];
			hier_rec[c] += a->records[m];
		}
	for (int32_t pid = 1; pid < e->nr_task; pid++)
		if (e->task[pid].state == TASK_ALIVE)
			tasks[e->task[pid].memcg]++;
	for (int32_t m = 1; m < e->nr_memcg; m++) {
		const struct mem_cgroup *g = &e->memcg[m];
		if (g->res.usage != (uint64_t)hier[m] * PAGE_SIZE)
			FAIL(a, "I1: memcg %d res usage %llu, but %lld pages are charged below it", m,
			     (unsigned long long)g->res.usage, (long long)hier[m]);
		if (e->cfg.swap_account && g->memsw.usage != g->res.usage + (uint64_t)hier_rec[m] * PAGE_SIZE)
			FAIL(a, "I2: memcg %d memsw usage %llu != res usage %llu + %lld swap records", m,
			     (unsigned long long)g->memsw.usage, (unsigned long long)g->res.usage, (long long)hier_rec[m]);
		if (g->refcnt != a->records[m])
			FAIL(a, "memcg: memcg %d is pinned by %d swap records, %lld slots name it", m, g->refcnt,
			     (long long)a->records[m]);
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
	free(hier_rec);
	free(tasks);
	free(pending);
}

static int audit_begin(pmc_engine *e, struct audit *a)
{
	*a = (struct audit){ .e = e };
	a->maps = calloc((size_t)e->nr_pages, sizeof *a->maps);
	a->refs = calloc((size_t)e->nr_pages, sizeof *a->refs);
	a->isolated = calloc((size_t)e->nr_pages, 1);
	a->ptes = calloc((size_t)e->nr_swap + 1, sizeof *a->ptes);
	a->charged = calloc((size_t)e->nr_memcg, sizeof *a->charged);
	a->records = calloc((size_t)e->nr_memcg, sizeof *a->records);
	if (!a->maps || !a->refs || !a->isolated || !a->ptes || !a->charged || !a->records)
		return pmc_err(e, PMC_EALLOC, "audit: out of host memory");
	count_references(a);
	return 0;
}

static void audit_end(struct audit *a)
{
	free(a->maps);
	free(a->refs);
	free(a->isolated);
	free(a->ptes);
	free(a->charged);
	free(a->records);
}

/* The leak figures kept up to date (leaks.c) against a count from scratch. */
static void check_leak_figures(struct audit *a)
{
	pmc_engine *e = a->e;
	struct leak_figures want;
	leak_commit(e);
	leak_recount(e, &want);
	const struct leak_figures *got = &e->leak;
	if (got->stale_type1 != want.stale_type1 || got->stale_type2 != want.stale_type2 ||
	    got->no_cache != want.no_cache || got->orphan != want.orphan || got->leaked_memsw != want.leaked_memsw ||
	    got->saturated != want.saturated)
		FAIL(a, "leaks: kept figures stale %lld+%lld, no cache %lld, orphan %lld, memsw %lld, saturated %lld; "
		     "counted %lld+%lld, %lld, %lld, %lld, %lld",
		     (long long)got->stale_type1, (long long)got->stale_type2, (long long)got->no_cache,
		     (long long)got->orphan, (long long)got->leaked_memsw, (long long)got->saturated,
		     (long long)want.stale_type1, (long long)want.stale_type2, (long long)want.no_cache,
		     (long long)want.orphan, (long long)want.leaked_memsw, (long long)want.saturated);
}

int pmc_check(pmc_engine *e)
{
	struct audit a;
	int rc = audit_begin(e, &a);
	if (!rc) {
		check_free_list(&a);
		check_pages(&a);
		check_lists(&a, "zone-lru", 0, e->lru_head, e->lru_tail, e->lru_count, e->a.lru_prev, e->a.lru_next);
		check_swap(&a);
		check_memcgs(&a);
		check_leak_figures(&a);
		rc = a.rc;
	}
	audit_end(&a);
	return rc;
}

/*
 * The leak figures (leaks.c keeps them up to date; while a slot's count is
 * saturated they are counted here from the page tables instead).
 * K4.4: a stale swap-cache page is in the cache, uncharged, unmapped, and no
 * swap pte uses its slot (Type-2 pages are PageAnon, Type-1 pages are not);
 * an orphan charged one is the same but still USED; a leaked swap entry is an
 * allocated slot with no pte whose cache page is missing or stale; a leaked
 * memsw charge is a swap_cgroup record with no pte.
 */
int pmc_leaks(pmc_engine *e, struct pmc_leaks *out)
{
	leak_commit(e);
	if (!e->leak.saturated) {                 /* the kept figures: exact while no count saturated */
		leaks_from_figures(&e->leak, out);
		return 0;
	}
	struct audit a;
	int rc = audit_begin(e, &a);
	*out = (struct pmc_leaks){ 0 };
	for (int32_t off = 1; !rc && off < e->nr_swap; off++) {
		if (a.ptes[off])
			continue;
		if (e->a.swap_cgroup[off])
			out->leaked_memsw++;
		if (!e->a.swap_map[off])
			continue;
		int32_t pfn = e->a.swap_cache[off];
		if (pfn == NIL) {
			out->leaked_swap_entries++;
			continue;
		}
		if (page_mapped(e, pfn))
			continue;
		if (PageTest(e, pfn, PCG_USED)) {
			out->orphan_charged_swapcache++;
			continue;
		}
		out->leaked_swap_entries++;
		if (PageTest(e, pfn, PG_anon))
			out->stale_swapcache_type2++;
		else
			out->stale_swapcache_type1++;
	}
	out->stale_swapcache = out->stale_swapcache_type1 + out->stale_swapcache_type2;
	audit_end(&a);
	return rc;
}
