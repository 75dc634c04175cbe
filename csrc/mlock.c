/*
 * mlock.c - moving pages to and from the unevictable list (mm/mlock.c).
 *
 * Simplification: VM_LOCKED is kept per pte (PTE_LOCKED) since the engine has
 * no vmas; a page faulted into a locked range is mlocked at fault time
 * (2.6.30 puts it on the unevictable list at fault and sets PG_mlocked when
 * mlock or vmscan next sees it).
 */
#include "engine.h"

/* TestSetPageMlocked, with NR_MLOCK and the mlocked event counted on a change; the old bit. */
int TestSetPageMlocked(pmc_engine *e, int32_t pfn)
{
	if (PageTest(e, pfn, PG_mlocked))
		return 1;
	SetPage(e, pfn, PG_mlocked);
	e->nr_mlock++;
	e->ctr.mlocked++;
	return 0;
}

/* mlock_vma_page: the first locker moves the page to the unevictable list. */
void mlock_vma_page(pmc_engine *e, int32_t pfn)
{
	if (TestSetPageMlocked(e, pfn))
		return;
	if (!isolate_lru_page(e, pfn))
		putback_lru_page(e, pfn);
}

static int locked_elsewhere(pmc_engine *e, int32_t pfn, int32_t pid, uint64_t *pte, void *ctx)
{
	(void)e;
	(void)pfn;
	return pid != *(int32_t *)ctx && (*pte & PTE_LOCKED);
}

/*
 * munlock_vma_page: the range of unlocking_pid stops being VM_LOCKED.  As
 * try_to_munlock does, the page stays mlocked if another task still maps it
 * from a locked range; otherwise it returns to the evictable lists.
 */
void munlock_vma_page(pmc_engine *e, int32_t pfn, int32_t unlocking_pid)
{
	if (!PageTest(e, pfn, PG_mlocked))
		return;
	if (rmap_walk_anon(e, pfn, locked_elsewhere, &unlocking_pid))
		return;
	ClearPage(e, pfn, PG_mlocked);
	e->nr_mlock--;
	e->ctr.munlocked++;
	if (!isolate_lru_page(e, pfn))
		putback_lru_page(e, pfn);
}
