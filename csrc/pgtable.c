/*
 * pgtable.c - a task's page table: four levels of 512 entries over a 36-bit
 * vpn, as x86-64 lays out a 48-bit address space (mm/memory.c's walkers).  Tables are allocated when
 * first needed, so a mapped virtual page costs 8 bytes plus its share of a
 * 4 KiB pte page.
 *
 * Table pages come from a pool made ready at engine start-up, one per 512
 * frames (the kernel's quicklists), so a fault does not pay the host for
 * first touching them; past the pool they are calloc'd.
 *
 * Simplification: pte pages stay allocated until the task exits
 * (free_pgtables); the kernel frees them at munmap too.
 */
#include <stdlib.h>
#include <string.h>

#include "engine.h"

#define PT_LEVELS 4

struct ptdir {
	void *slot[PT_ENTRIES];
};

#define PT_PAGE 4096
_Static_assert(sizeof(struct ptdir) == PT_PAGE && PT_ENTRIES * sizeof(uint64_t) == PT_PAGE, "table pages are 4 KiB");

int pt_pool_init(pmc_engine *e)
{
	e->pt_block_pages = e->nr_pages / PT_ENTRIES + 8;
	e->pt_block = aligned_alloc(PT_PAGE, (size_t)e->pt_block_pages * PT_PAGE);
	e->pt_free = malloc((size_t)e->pt_block_pages * sizeof *e->pt_free);
	if (!e->pt_block || !e->pt_free)
		return -1;
	memset(e->pt_block, 0, (size_t)e->pt_block_pages * PT_PAGE);
	for (int64_t i = 0; i < e->pt_block_pages; i++)
		e->pt_free[i] = e->pt_block + (e->pt_block_pages - 1 - i) * PT_PAGE;
	e->pt_nfree = e->pt_block_pages;
	return 0;
}

void pt_pool_destroy(pmc_engine *e)
{
	free(e->pt_block);
	free(e->pt_free);
}

/* A zeroed table page, from the pool when it has one. */
static void *pt_page_alloc(pmc_engine *e)
{
	e->nr_pt_pages++;
	if (e->pt_nfree)
		return e->pt_free[--e->pt_nfree];
	return calloc(1, PT_PAGE);
}

static void pt_page_free(pmc_engine *e, void *page)
{
	char *p = page;
	e->nr_pt_pages--;
	if (p >= e->pt_block && p < e->pt_block + e->pt_block_pages * PT_PAGE) {
		memset(p, 0, PT_PAGE);
		e->pt_free[e->pt_nfree++] = p;
	} else {
		free(p);
	}
}

static inline unsigned pt_index(int64_t vpn, int level)
{
	return (unsigned)(vpn >> (PT_BITS * level)) & (PT_ENTRIES - 1);
}

static uint64_t *leaf_of(const struct task *t, int64_t vpn)
{
	void *p = t->pgd;
	for (int level = PT_LEVELS - 1; level >= 1 && p; level--)
		p = ((struct ptdir *)p)->slot[pt_index(vpn, level)];
	return p;
}

uint64_t pte_read(const struct task *t, int64_t vpn)
{
	uint64_t *leaf = leaf_of(t, vpn);
	return leaf ? leaf[vpn & (PT_ENTRIES - 1)] : 0;
}

/*
 * Start loading vpn's pte into the host's cache, for a fault that will look
 * at it a few scheduler steps later.  A hint: it changes nothing, not even
 * the leaf cache.
 */
void pte_prefetch(const struct task *t, int64_t vpn)
{
	const uint64_t *leaf = t->leaf_cache && t->leaf_cache_idx == vpn >> PT_BITS ? t->leaf_cache : leaf_of(t, vpn);
	if (leaf)
		__builtin_prefetch(&leaf[vpn & (PT_ENTRIES - 1)]);
}

/* pte_offset (engine.h) when the leaf cache does not hold vpn's pte page. */
uint64_t *pte_offset_walk(struct task *t, int64_t vpn)
{
	int64_t idx = vpn >> PT_BITS;
	uint64_t *leaf = leaf_of(t, vpn);
	if (!leaf)
		return NULL;
	t->leaf_cache = leaf;
	t->leaf_cache_idx = idx;
	return &leaf[vpn & (PT_ENTRIES - 1)];
}

/* pte_alloc (engine.h) when vpn has no pte page yet: make the missing tables. */
uint64_t *pte_alloc_walk(pmc_engine *e, struct task *t, int64_t vpn)
{
	void **slot = &t->pgd;
	for (int level = PT_LEVELS - 1; level >= 0; level--) {
		if (!*slot && !(*slot = pt_page_alloc(e)))
			return NULL;
		if (level)
			slot = &((struct ptdir *)*slot)->slot[pt_index(vpn, level)];
	}
	return pte_offset(t, vpn);
}

static void walk_level(pmc_engine *e, int32_t pid, void *table, int level, int64_t base,
                       pte_visit_fn fn, void *ctx)
{
	if (!level) {
		uint64_t *ptes = table;
		for (int i = 0; i < PT_ENTRIES; i++)
			if (ptes[i])
				fn(e, pid, base + i, &ptes[i], ctx);
		return;
	}
	struct ptdir *dir = table;
	for (int i = 0; i < PT_ENTRIES; i++)
		if (dir->slot[i])
			walk_level(e, pid, dir->slot[i], level - 1,
			           base + ((int64_t)i << (PT_BITS * level)), fn, ctx);
}

/* Visit every non-empty pte of a task in vpn order; fn may change the pte. */
void walk_ptes(pmc_engine *e, int32_t pid, pte_visit_fn fn, void *ctx)
{
	if (e->task[pid].pgd)
		walk_level(e, pid, e->task[pid].pgd, PT_LEVELS - 1, 0, fn, ctx);
}

static void free_level(pmc_engine *e, void *table, int level)
{
	if (level) {
		struct ptdir *dir = table;
		for (int i = 0; i < PT_ENTRIES; i++)
			if (dir->slot[i])
				free_level(e, dir->slot[i], level - 1);
	}
	pt_page_free(e, table);
}

void free_pgtables(pmc_engine *e, struct task *t)
{
	if (t->pgd)
		free_level(e, t->pgd, PT_LEVELS - 1);
	t->pgd = NULL;
	t->leaf_cache = NULL;
	t->leaf_cache_idx = -1;
}

static uint64_t *next_in(void *table, int level, int64_t base, int64_t from, int64_t *vpn)
{
	int64_t span = (int64_t)1 << (PT_BITS * level);
	int first = from > base ? (int)((from - base) / span) : 0;
	for (int i = first; i < PT_ENTRIES; i++) {
		int64_t b = base + i * span;
		if (!level) {
			uint64_t *ptes = table;
			if (ptes[i]) {
				*vpn = b;
				return &ptes[i];
			}
			continue;
		}
		void *child = ((struct ptdir *)table)->slot[i];
		if (child) {
			uint64_t *pte = next_in(child, level - 1, b, from > b ? from : b, vpn);
			if (pte)
				return pte;
		}
	}
	return NULL;
}

/* The first non-empty pte at or after vpn from (an exit walks its mm with this), or NULL. */
uint64_t *next_pte(struct task *t, int64_t from, int64_t *vpn)
{
	if (!t->pgd || from >= TASK_VPN_LIMIT)
		return NULL;
	return next_in(t->pgd, PT_LEVELS - 1, 0, from, vpn);
}
