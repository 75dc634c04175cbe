/*
 * pymemcg_strategy.h - the reclaim strategy interface of pymemcg.
 *
 * A strategy is a table of hook points (struct pmc_strategy) that the engine
 * calls at fixed places of the kernel paths.  It sees the engine only
 * through the accessor table in ctx->api: what it asks for goes through the
 * kernel's own functions, and a request the kernel would not allow is
 * refused (the call returns 0 and the engine counts a strategy_refused).
 * docs/strategies.md is the guide; the comments here are the reference.
 *
 * A strategy built outside the project includes this file (installed with
 * the package: pymemcg.strategies.include_dir()), fills in a table and ends
 * with PMC_EXPORT(table);  pymemcg.strategies.compile() builds it with the
 * core's compiler flags into an extension module of its own.  Such a module
 * cannot call the core's symbols, which is why everything a strategy may do
 * is a function pointer in struct pmc_api.
 *
 * The region between the CDEF markers is read by cffi as well (the core's
 * cdef): plain declarations only, no preprocessor lines there.
 */
#ifndef PYMEMCG_STRATEGY_H
#define PYMEMCG_STRATEGY_H

#include <stdint.h>

/* CDEF BEGIN */

typedef struct pmc_engine pmc_engine;

/* The interface version a table is built against, and its fixed sizes. */
enum { PMC_STRATEGY_ABI = 1, PMC_STRATEGY_COUNTERS = 8 };

/* Page flags (page->flags plus the page_cgroup bits, one word per pfn). */
enum pmc_page_flag {
	PG_locked = 1,
	PG_referenced = 2,
	PG_uptodate = 4,
	PG_dirty = 8,
	PG_lru = 16,
	PG_active = 32,
	PG_writeback = 64,
	PG_swapcache = 128,
	PG_reclaim = 256,
	PG_swapbacked = 512,
	PG_unevictable = 1024,
	PG_mlocked = 2048,
	PG_anon = 4096,        /* page->mapping carries the anon bit               */
	PG_buddy = 8192,       /* on the free list                                 */
	PCG_USED = 65536,      /* page_cgroup: charged                             */
	PCG_LINKED = 131072,   /* page_cgroup: pc->lru is on its owner's list      */
	PCG_CACHE = 262144     /* page_cgroup: charged as cache                    */
};

/*
 * What a hook point answers.  Each hook point accepts PMC_GO_ON and the
 * decisions its comment lists; any other answer is refused (counted in
 * strategy_refused) and the kernel goes on as with PMC_GO_ON.
 */
enum pmc_decision {
	PMC_GO_ON = 0,         /* do what the kernel does here                     */
	PMC_KEEP_LOCKED = 1,   /* shrink_page_list: leave by the keep_locked label */
	PMC_ACTIVATE = 2,      /* shrink_page_list: leave by activate_locked       */
	PMC_DEFER = 3,         /* an uncharge point: the page keeps its charge     */
	PMC_KEEP_CACHE = 4,    /* leave the page in the swap cache                 */
	PMC_RECLAIM = 5        /* scan_swap_map: reclaim this slot's page, take it */
};

/* The exit labels of shrink_page_list a strategy is shown. */
enum pmc_exit {
	PMC_EXIT_KEEP = 1,            /* page unlocked already (pageout started I/O)  */
	PMC_EXIT_KEEP_LOCKED = 2,
	PMC_EXIT_ACTIVATE_LOCKED = 3
};

struct pmc_ctx;

/*
 * Everything a strategy may read or ask for.  pfn is a page frame
 * (0 .. ctx->nr_pages-1), off a swap slot (1 .. ctx->nr_swap-1); an index
 * out of range reads as 0 and counts a refusal.
 */
struct pmc_api {
	uint32_t abi;
	uint32_t size;
	/* page state */
	uint32_t (*page_flags)(const struct pmc_ctx *c, int32_t pfn);     /* enum pmc_page_flag bits  */
	int32_t (*page_count)(const struct pmc_ctx *c, int32_t pfn);      /* page_count               */
	int32_t (*page_mapcount)(const struct pmc_ctx *c, int32_t pfn);   /* ptes mapping it          */
	int32_t (*page_mapped)(const struct pmc_ctx *c, int32_t pfn);
	int32_t (*page_memcg)(const struct pmc_ctx *c, int32_t pfn);      /* owner if PCG_USED, else 0 */
	int32_t (*page_swap_slot)(const struct pmc_ctx *c, int32_t pfn);  /* its slot if PG_swapcache, else 0 */
	int32_t (*page_swapcount)(const struct pmc_ctx *c, int32_t pfn);  /* swap ptes on its slot     */
	/* swap slots */
	int32_t (*swap_count)(const struct pmc_ctx *c, int32_t off);      /* swap ptes using the slot */
	int32_t (*swap_cache_page)(const struct pmc_ctx *c, int32_t off); /* pfn in the swap cache, or -1 */
	int32_t (*swap_cgroup)(const struct pmc_ctx *c, int32_t off);     /* memsw owner record, or 0 */
	int32_t (*vm_swap_full)(const struct pmc_ctx *c);
	/*
	 * try_to_free_swap (semantics.md K2.8): drop the page's swap slot if
	 * no swap pte uses it and it is not under writeback.  Only for the page
	 * the hook point holds locked (ctx->locked): any other page is refused.
	 * Returns 1 if the page left the swap cache.
	 */
	int32_t (*try_to_free_swap)(const struct pmc_ctx *c, int32_t pfn);
	/*
	 * mem_cgroup_uncharge_page: uncharge res and memsw of a charged page that
	 * nobody maps and that is not in the swap cache; anything else (mapped,
	 * in the swap cache, already uncharged) is refused.  Returns 1 if it
	 * uncharged the page.
	 */
	int32_t (*uncharge_page)(const struct pmc_ctx *c, int32_t pfn);
};

/* What every hook receives: the engine, as far as a strategy may see it. */
struct pmc_ctx {
	const struct pmc_api *api;
	pmc_engine *e;             /* opaque: pass it nowhere but back through api */
	void *data;                /* the table's data pointer                      */
	int64_t *counters;         /* PMC_STRATEGY_COUNTERS counters of its own      */
	int32_t locked;            /* the page this hook point holds locked, or -1  */
	int32_t kernel;            /* 30 or 31 (enum pmc_kernel)                    */
	int64_t nr_pages;
	int64_t nr_swap;           /* slots 1 .. nr_swap-1 (0 is the header)        */
};

/*
 * A strategy: where each hook sits, what it may do, what its answer decides
 * (docs/strategies.md has the same as a table).  A member left NULL costs
 * the hot path one predictable branch.  abi and size must be
 * PMC_STRATEGY_ABI and sizeof(struct pmc_strategy) (PMC_STRATEGY_INIT sets
 * both); name is 1-40 characters of [a-z0-9._-] starting with a letter or
 * digit; counters names up to PMC_STRATEGY_COUNTERS counters of its own.
 */
struct pmc_strategy {
	uint32_t abi;
	uint32_t size;
	const char *name;
	const char *doc;                            /* one line, shown by the CLI  */
	const char *counters[8];                    /* PMC_STRATEGY_COUNTERS names */
	void *data;                                 /* handed to every hook as ctx->data */
	/*
	 * shrink_page_list, right after a successful add_to_swap (K3 step 6, the
	 * seed patch's place).  The page is locked, isolated, anon, in the swap
	 * cache.  PMC_KEEP_LOCKED: leave by keep_locked; PMC_GO_ON: on to
	 * try_to_unmap and pageout.
	 */
	int32_t (*after_add_to_swap)(const struct pmc_ctx *c, int32_t pfn);
	/*
	 * shrink_page_list, at the keep, keep_locked and activate_locked labels,
	 * before the label's own work (exit: enum pmc_exit).  The page is
	 * isolated; locked except at PMC_EXIT_KEEP.  At a locked exit the answer
	 * may pick the other locked exit (PMC_KEEP_LOCKED or PMC_ACTIVATE);
	 * PMC_GO_ON keeps the kernel's.
	 */
	int32_t (*shrink_page_list_exit)(const struct pmc_ctx *c, int32_t pfn, int32_t exit);
	/*
	 * page_remove_rmap: the last pte of a charged anon page that is not in
	 * the swap cache went, and mem_cgroup_uncharge_page is about to uncharge
	 * it (the Type-2 race's step 3).  Not locked.  PMC_DEFER: the page stays
	 * charged (until it is freed, or an uncharge_page call).
	 */
	int32_t (*page_remove_rmap)(const struct pmc_ctx *c, int32_t pfn);
	/*
	 * delete_from_swap_cache: a charged, unmapped page has left the swap
	 * cache and stays in memory; swapcache_free is about to uncharge it
	 * (mem_cgroup_uncharge_swapcache: res, and memsw moves to the slot's
	 * swap_cgroup record or goes).  Locked.  PMC_DEFER: the page keeps res
	 * and memsw, the slot gets no record.
	 */
	int32_t (*delete_from_swap_cache)(const struct pmc_ctx *c, int32_t pfn);
	/*
	 * free_hot_cold_page: the page's last reference is gone and it is still
	 * charged (only after a PMC_DEFER).  The engine then uncharges res and
	 * memsw whatever the answer (a free page cannot stay charged); answer
	 * PMC_GO_ON.
	 */
	int32_t (*free_hot_cold_page)(const struct pmc_ctx *c, int32_t pfn);
	/*
	 * do_swap_page, once the page is mapped by the faulting pte, committed
	 * (mem_cgroup_commit_charge_swapin; memcg is the memcg the fault charged,
	 * 0 if none) and the pte's slot reference dropped (swap_free).  Locked.
	 * PMC_KEEP_CACHE: keep the page in the swap cache even where the kernel
	 * drops it (swap more than half full, or an mlocked page).
	 */
	int32_t (*do_swap_page)(const struct pmc_ctx *c, int32_t pfn, int32_t memcg);
	/*
	 * free_swap_and_cache: a zapped swap pte was the slot's last user, only
	 * the swap cache holds it, and the trylock of its page was tried
	 * (locked: 1 it succeeded, the page is ours; 0 someone else holds the
	 * lock, the Type-1 window of K4.2).  PMC_KEEP_CACHE (locked only): do
	 * not delete the page from the swap cache.
	 */
	int32_t (*free_swap_and_cache)(const struct pmc_ctx *c, int32_t off, int32_t pfn, int32_t locked);
	/*
	 * scan_swap_map meets slot off, held by the swap cache alone (page pfn,
	 * no swap pte), which the kernel itself would pass over.  Not locked.
	 * PMC_RECLAIM: reclaim it as 2.6.31 does (__try_to_reclaim_swap: trylock,
	 * try_to_free_swap) and take the slot if that freed it.  May be asked
	 * more than once per slot and allocation: answer from the slot's state.
	 */
	int32_t (*scan_swap_map)(const struct pmc_ctx *c, int32_t off, int32_t pfn);
};

/* CDEF END */

/* --- for strategy sources: table set-up and short names for the accessors --- */

#define PMC_STRATEGY_INIT .abi = PMC_STRATEGY_ABI, .size = sizeof(struct pmc_strategy)

/* The one line a strategy compiled by pymemcg.strategies.compile() ends with. */
#define PMC_EXPORT(table) \
	void *pmc_strategy_export(void); \
	void *pmc_strategy_export(void) { return (void *)&(table); }

static inline int pmc_page_test(const struct pmc_ctx *c, int32_t pfn, uint32_t flags)
{
	return (c->api->page_flags(c, pfn) & flags) != 0;
}

static inline int pmc_page_mapped(const struct pmc_ctx *c, int32_t pfn)
{
	return c->api->page_mapped(c, pfn);
}

static inline int pmc_try_to_free_swap(const struct pmc_ctx *c, int32_t pfn)
{
	return c->api->try_to_free_swap(c, pfn);
}

static inline int pmc_uncharge_page(const struct pmc_ctx *c, int32_t pfn)
{
	return c->api->uncharge_page(c, pfn);
}

/* counter i of the strategy's own (counters[i] names it) */
static inline void pmc_count(const struct pmc_ctx *c, int i)
{
	if (i >= 0 && i < PMC_STRATEGY_COUNTERS)
		c->counters[i]++;
}

#endif
