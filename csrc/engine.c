/*
 * engine.c - create and destroy an engine, the per-engine error message,
 * engine-wide counters and /proc/meminfo.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"

int pmc_err(pmc_engine *e, int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(e->errmsg, sizeof e->errmsg, fmt, ap);
	va_end(ap);
	return code;
}

const char *pmc_errmsg(const pmc_engine *e)
{
	return e->errmsg;
}

const char *pmc_strerror(int code)
{
	switch (code) {
	case PMC_OK: return "success";
	case PMC_EINVAL: return "invalid argument";
	case PMC_ENOMEM: return "no free page frame";
	case PMC_ESRCH: return "task is not alive";
	case PMC_ENOENT: return "no such cgroup";
	case PMC_EBUSY: return "cgroup busy";
	case PMC_ECGINVAL: return "control-file write refused";
	case PMC_ENOSPC: return "out of ids";
	case PMC_EINVARIANT: return "invariant broken";
	case PMC_ESTATE: return "operation out of sequence";
	case PMC_EALLOC: return "host out of memory";
	case PMC_ESTOP: return "the explicit schedule stopped the replay";
	default: return "unknown error";
	}
}

/* Validate a vpn batch before anything is touched, so that a bad batch changes nothing. */
int pmc_vpns_check(pmc_engine *e, const int64_t *vpns, int64_t n, int64_t start)
{
	if (n < 0)
		return pmc_err(e, PMC_EINVAL, "negative page count %lld", (long long)n);
	if (!vpns) {
		if (start < 0 || start > TASK_VPN_LIMIT - n)
			return pmc_err(e, PMC_EINVAL, "vpn range of %lld pages from %lld leaves [0, 2^%d)",
			               (long long)n, (long long)start, TASK_VPN_BITS);
		return 0;
	}
	for (int64_t i = 0; i < n; i++)
		if (vpns[i] < 0 || vpns[i] >= TASK_VPN_LIMIT)
			return pmc_err(e, PMC_EINVAL, "vpns[%lld] = %lld outside [0, 2^%d)",
			               (long long)i, (long long)vpns[i], TASK_VPN_BITS);
	return 0;
}

/*
 * What the Python side relies on, checked where it is defined: pfns and
 * swap offsets fit an int32 with -1 (NIL) to spare, a batch's arrays hold
 * SWAP_CLUSTER_MAX pages, and the numpy arrays are 48 bytes per frame and 8
 * per swap slot (docs/architecture.md, "state").
 */
_Static_assert(PMC_MAX_PAGES == INT32_MAX - 1, "pfns and swap offsets are int32 with NIL = -1");
_Static_assert(sizeof ((struct pmc_batch_info *)0)->pfn == SWAP_CLUSTER_MAX * sizeof(int32_t),
               "pmc_batch_info.pfn holds one batch");
_Static_assert(sizeof ((struct pmc_batch_info *)0)->outcome == SWAP_CLUSTER_MAX,
               "pmc_batch_info.outcome holds one batch");
_Static_assert(sizeof *((struct pmc_arrays *)0)->flags + sizeof *((struct pmc_arrays *)0)->count
               + sizeof *((struct pmc_arrays *)0)->mapcount + sizeof *((struct pmc_arrays *)0)->private
               + sizeof *((struct pmc_arrays *)0)->anon_vma + sizeof *((struct pmc_arrays *)0)->vpn
               + sizeof *((struct pmc_arrays *)0)->memcg + sizeof *((struct pmc_arrays *)0)->lru_prev
               + sizeof *((struct pmc_arrays *)0)->lru_next + sizeof *((struct pmc_arrays *)0)->mlru_prev
               + sizeof *((struct pmc_arrays *)0)->mlru_next == 48, "48 bytes per page frame");
_Static_assert(sizeof *((struct pmc_arrays *)0)->swap_map + sizeof *((struct pmc_arrays *)0)->swap_cgroup
               + sizeof *((struct pmc_arrays *)0)->swap_cache == 8, "8 bytes per swap slot");
_Static_assert(MAX_MEMCG <= UINT16_MAX, "swap_cgroup records a memcg id in 16 bits");

int pmc_validate_settings(const struct pmc_config *c, char *err, size_t errlen)
{
	if (c->nr_pages < 1 || c->nr_pages > PMC_MAX_PAGES) {
		snprintf(err, errlen, "ram must be 1 to %d pages, got %lld", PMC_MAX_PAGES, (long long)c->nr_pages);
		return PMC_EINVAL;
	}
	if (c->nr_swap < 0 || c->nr_swap > PMC_MAX_PAGES || c->nr_swap == 1 || c->nr_swap == 2) {
		snprintf(err, errlen, "swap must be 0 or 3 to %d pages (the header and the last page are not used), got %lld",
		         PMC_MAX_PAGES, (long long)c->nr_swap);
		return PMC_EINVAL;
	}
	if (c->kernel != PMC_KERNEL_2_6_30 && c->kernel != PMC_KERNEL_2_6_31) {
		snprintf(err, errlen, "unknown kernel %d", c->kernel);
		return PMC_EINVAL;
	}
	if (c->strategy && pmc_strategy_check(c->strategy, err, errlen))
		return PMC_EINVAL;
	if (c->page_cluster < 0 || c->page_cluster > 16) {
		snprintf(err, errlen, "page_cluster must be 0..16, got %d", c->page_cluster);
		return PMC_EINVAL;
	}
	return 0;
}

int pmc_engine_create(const struct pmc_config *cfg, const struct pmc_arrays *arrays,
                      pmc_engine **out, char *err, size_t errlen)
{
	int rc = pmc_validate_settings(cfg, err, errlen);
	if (rc)
		return rc;
	pmc_engine *e = calloc(1, sizeof *e);
	if (!e) {
		snprintf(err, errlen, "cannot allocate the engine");
		return PMC_EALLOC;
	}
	e->cfg = *cfg;
	e->a = *arrays;
	e->nr_pages = cfg->nr_pages;
	for (int l = 0; l < NR_LRU_LISTS; l++)
		e->lru_head[l] = e->lru_tail[l] = NIL;

	/*
	 * The free list starts in pfn order so that the first allocations are
	 * sequential; freed pages go to its head (hot pages are reused first).
	 */
	/*
	 * Every field is written here, not only the links: numpy hands us lazily
	 * zeroed memory, and touching it first inside a fault would charge the
	 * host's page clearing to the fault path.
	 */
	for (int64_t pfn = 0; pfn < cfg->nr_pages; pfn++) {
		e->a.count[pfn] = e->a.mapcount[pfn] = e->a.anon_vma[pfn] = e->a.memcg[pfn] = 0;
		e->a.private[pfn] = 0;
		e->a.vpn[pfn] = 0;
		e->a.flags[pfn] = PG_buddy;
		e->a.lru_next[pfn] = pfn + 1 < cfg->nr_pages ? (int32_t)(pfn + 1) : NIL;
		e->a.lru_prev[pfn] = NIL;
		e->a.mlru_prev[pfn] = e->a.mlru_next[pfn] = NIL;
	}
	e->free_head = 0;
	e->nr_free = cfg->nr_pages;
	for (int64_t off = 0; off < cfg->nr_swap; off++)
		e->a.swap_cache[off] = NIL;
	e->leak_pending = NIL;
	swap_info_init(e);
	setup_watermarks(e);
	if (pt_pool_init(e)) {
		pt_pool_destroy(e);
		free(e);
		snprintf(err, errlen, "cannot allocate the page-table pool");
		return PMC_EALLOC;
	}
	e->laptop_mode = cfg->laptop_mode != 0;

	e->task = calloc(16, sizeof *e->task);
	e->memcg = calloc(16, sizeof *e->memcg);
	if (strategy_init(e, cfg->strategy) || !e->task || !e->memcg) {
		free(e->task);
		free(e->memcg);
		strategy_destroy(e);
		pt_pool_destroy(e);
		free(e);
		snprintf(err, errlen, "cannot allocate the engine");
		return PMC_EALLOC;
	}
	e->cap_task = e->cap_memcg = 16;
	e->nr_task = 1;
	e->nr_memcg = 1;
	if (mem_cgroup_create_root(e) != 1) {
		snprintf(err, errlen, "%s", e->errmsg);
		pmc_engine_destroy(e);
		return PMC_EALLOC;
	}
	*out = e;
	return 0;
}

void pmc_engine_destroy(pmc_engine *e)
{
	if (!e)
		return;
	for (int32_t pid = 1; pid < e->nr_task; pid++) {
		free_pgtables(e, &e->task[pid]);
		free(e->task[pid].gather);
	}
	free(e->task);
	free(e->memcg);
	pmc_replay_end(e);
	strategy_destroy(e);
	pt_pool_destroy(e);
	for (int32_t b = 0; b < e->nr_batch; b++)
		free(e->batch[b]);
	free(e->batch);
	free(e);
}

int pmc_root_memcg(const pmc_engine *e)
{
	(void)e;
	return 1;
}

int pmc_counters(const pmc_engine *e, struct pmc_counters *out)
{
	*out = e->ctr;
	return 0;
}

int pmc_meminfo(const pmc_engine *e, struct pmc_meminfo *out)
{
	memset(out, 0, sizeof *out);
	out->MemTotal = e->nr_pages;
	out->MemFree = e->nr_free;
	out->SwapTotal = e->total_swap_pages;
	out->SwapFree = e->nr_swap_pages;
	out->SwapCached = e->swapcache_pages;
	out->Active_anon = e->lru_count[LRU_ACTIVE_ANON];
	out->Inactive_anon = e->lru_count[LRU_INACTIVE_ANON];
	out->Unevictable = e->lru_count[LRU_UNEVICTABLE];
	out->Mlocked = e->nr_mlock;
	out->AnonPages = e->nr_anon_pages;
	out->PageTables = e->nr_pt_pages;
	return 0;
}
