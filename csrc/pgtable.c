/*
 * pgtable.c - a task's page table: four levels of 512 entries over a 36-bit
 * vpn, as x86-64 lays out a 48-bit address space.  Tables are allocated when
 * first needed, so a mapped virtual page costs 8 bytes plus its share of a
 * 4 KiB pte page.
 *
 * Simplification: pte pages stay allocated until the task exits
 * (free_pgtables); the kernel frees them at munmap too.
 */
#include <stdlib.h>

#include "engine.h"

#define PT_BITS 9
#define PT_ENTRIES (1 << PT_BITS)
#define PT_LEVELS 4

struct ptdir {
	void *slot[PT_ENTRIES];
};

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

uint64_t *pte_offset(struct task *t, int64_t vpn)
{
	int64_t idx = vpn >> PT_BITS;
	if (t->leaf_cache && t->leaf_cache_idx == idx)
		return &t->leaf_cache[vpn & (PT_ENTRIES - 1)];
	uint64_t *leaf = leaf_of(t, vpn);
	if (!leaf)
		return NULL;
	t->leaf_cache = leaf;
	t->leaf_cache_idx = idx;
	return &leaf[vpn & (PT_ENTRIES - 1)];
}

uint64_t *pte_alloc(struct task *t, int64_t vpn)
{
	uint64_t *pte = pte_offset(t, vpn);
	if (pte)
		return pte;
	void **slot = &t->pgd;
	for (int level = PT_LEVELS - 1; level >= 0; level--) {
		if (!*slot) {
			*slot = calloc(1, level ? sizeof(struct ptdir) : PT_ENTRIES * sizeof(uint64_t));
			if (!*slot)
				return NULL;
		}
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

static void free_level(void *table, int level)
{
	if (level) {
		struct ptdir *dir = table;
		for (int i = 0; i < PT_ENTRIES; i++)
			if (dir->slot[i])
				free_level(dir->slot[i], level - 1);
	}
	free(table);
}

void free_pgtables(struct task *t)
{
	if (t->pgd)
		free_level(t->pgd, PT_LEVELS - 1);
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
