/*
 * lru.c - the zone LRU lists and each memcg's shadow lists
 * (include/linux/mm_inline.h, mm/swap.c, and the LRU hooks of
 * mm/memcontrol.c; semantics.md K1.4 and K2.13).
 *
 * Lists link pages by int32 index, head = most recently added, tail = the
 * end reclaim scans from.  The memcg list of a page is its page_cgroup's
 * owner's; whether the pc is linked is PCG_LINKED (2.6.30 tests
 * !list_empty(&pc->lru)).
 *
 * Simplification: no per-cpu pagevecs; every LRU add lands at once, as if
 * each pagevec were drained immediately.
 */
#include "engine.h"

static void link_head(int32_t *head, int32_t *tail, int32_t *prev, int32_t *next, int32_t pfn)
{
	prev[pfn] = NIL;
	next[pfn] = *head;
	if (*head != NIL)
		prev[*head] = pfn;
	else
		*tail = pfn;
	*head = pfn;
}

static void unlink(int32_t *head, int32_t *tail, int32_t *prev, int32_t *next, int32_t pfn)
{
	int32_t p = prev[pfn], n = next[pfn];
	if (p != NIL)
		next[p] = n;
	else
		*head = n;
	if (n != NIL)
		prev[n] = p;
	else
		*tail = p;
	prev[pfn] = next[pfn] = NIL;
}

enum pmc_lru page_lru(const pmc_engine *e, int32_t pfn)
{
	uint32_t f = e->a.flags[pfn];
	if (f & PG_unevictable)
		return LRU_UNEVICTABLE;
	int lru = (f & PG_swapbacked) ? LRU_INACTIVE_ANON : LRU_INACTIVE_FILE;
	if (f & PG_active)
		lru += 1;
	return (enum pmc_lru)lru;
}

/* mem_cgroup_add_lru_list: only a charged (USED) page joins its owner's list. */
void mem_cgroup_add_lru_list(pmc_engine *e, int32_t pfn, enum pmc_lru lru)
{
	if (!PageTest(e, pfn, PCG_USED))
		return;
	struct mem_cgroup *mem = &e->memcg[e->a.memcg[pfn]];
	link_head(&mem->lru_head[lru], &mem->lru_tail[lru], e->a.mlru_prev, e->a.mlru_next, pfn);
	mem->lru_count[lru]++;
	SetPage(e, pfn, PCG_LINKED);
}

/* mem_cgroup_del_lru_list: acts on any linked pc with an owner, USED or not. */
void mem_cgroup_del_lru_list(pmc_engine *e, int32_t pfn, enum pmc_lru lru)
{
	if (!PageTest(e, pfn, PCG_LINKED) || !e->a.memcg[pfn])
		return;
	struct mem_cgroup *mem = &e->memcg[e->a.memcg[pfn]];
	unlink(&mem->lru_head[lru], &mem->lru_tail[lru], e->a.mlru_prev, e->a.mlru_next, pfn);
	mem->lru_count[lru]--;
	ClearPage(e, pfn, PCG_LINKED);
}

void add_page_to_lru_list(pmc_engine *e, int32_t pfn, enum pmc_lru lru)
{
	link_head(&e->lru_head[lru], &e->lru_tail[lru], e->a.lru_prev, e->a.lru_next, pfn);
	e->lru_count[lru]++;
	mem_cgroup_add_lru_list(e, pfn, lru);
}

void del_page_from_lru_list(pmc_engine *e, int32_t pfn, enum pmc_lru lru)
{
	unlink(&e->lru_head[lru], &e->lru_tail[lru], e->a.lru_prev, e->a.lru_next, pfn);
	e->lru_count[lru]--;
	mem_cgroup_del_lru_list(e, pfn, lru);
}

/* del_page_from_lru: take a page off whichever list its flags name, forgetting active/unevictable. */
void del_page_from_lru(pmc_engine *e, int32_t pfn)
{
	enum pmc_lru lru = page_lru(e, pfn);
	ClearPage(e, pfn, PG_lru | PG_active | PG_unevictable);
	del_page_from_lru_list(e, pfn, lru);
}

/*
 * update_page_reclaim_stat: what get_scan_ratio balances on.  A page added to
 * an evictable list counts as scanned, and as rotated if it goes on the
 * active list, for the zone and for the memcg that has it charged.
 */
static void update_page_reclaim_stat(pmc_engine *e, int32_t pfn, int rotated)
{
	e->zone_stat.recent_scanned[0]++;
	e->zone_stat.recent_rotated[0] += rotated;
	if (PageTest(e, pfn, PCG_USED)) {
		struct reclaim_stat *rs = &e->memcg[e->a.memcg[pfn]].stat_reclaim;
		rs->recent_scanned[0]++;
		rs->recent_rotated[0] += rotated;
	}
}

/*
 * lru_cache_add_lru (with its pagevec drained at once): set the flags the list
 * implies, then add; ____pagevec_lru_add updates the reclaim stat of an
 * evictable page (the unevictable list has its own path without it).
 */
void lru_cache_add_lru(pmc_engine *e, int32_t pfn, enum pmc_lru lru)
{
	uint32_t f = PG_lru;
	int active = lru == LRU_ACTIVE_ANON || lru == LRU_ACTIVE_FILE;
	if (active)
		f |= PG_active;
	if (lru == LRU_UNEVICTABLE)
		f |= PG_unevictable;
	SetPage(e, pfn, f);
	add_page_to_lru_list(e, pfn, lru);
	if (lru != LRU_UNEVICTABLE)
		update_page_reclaim_stat(e, pfn, active);
}

/*
 * isolate_lru_page: take a page off the LRU for mlock or charge moving.  The
 * caller gets a reference; PG_active is kept so putback_lru_page can restore it.
 * Returns 0, or -1 if the page was not on an LRU.
 */
int isolate_lru_page(pmc_engine *e, int32_t pfn)
{
	if (!PageTest(e, pfn, PG_lru))
		return -1;
	e->a.count[pfn]++;
	enum pmc_lru lru = page_lru(e, pfn);
	ClearPage(e, pfn, PG_lru);
	del_page_from_lru_list(e, pfn, lru);
	return 0;
}

/*
 * putback_lru_page: return an isolated page to the list its state calls for
 * (mlocked pages are unevictable) and drop the isolation reference.
 */
void putback_lru_page(pmc_engine *e, int32_t pfn)
{
	int active = PageTest(e, pfn, PG_active);
	ClearPage(e, pfn, PG_active | PG_unevictable);
	if (!PageTest(e, pfn, PG_mlocked)) {
		int base = PageTest(e, pfn, PG_swapbacked) ? LRU_INACTIVE_ANON : LRU_INACTIVE_FILE;
		lru_cache_add_lru(e, pfn, (enum pmc_lru)(base + active));
	} else {
		lru_cache_add_lru(e, pfn, LRU_UNEVICTABLE);
	}
	put_page(e, pfn);
}

/* activate_page: an inactive page moves to the head of its active list, zone and memcg. */
static void activate_page(pmc_engine *e, int32_t pfn)
{
	if (!PageTest(e, pfn, PG_lru) || PageTest(e, pfn, PG_active | PG_unevictable))
		return;
	enum pmc_lru lru = page_lru(e, pfn);
	del_page_from_lru_list(e, pfn, lru);
	SetPage(e, pfn, PG_active);
	add_page_to_lru_list(e, pfn, (enum pmc_lru)(lru + 1));
	e->ctr.pgactivate++;
	update_page_reclaim_stat(e, pfn, 1);
}

/* mark_page_accessed: inactive,referenced -> active; unreferenced -> referenced. */
void mark_page_accessed(pmc_engine *e, int32_t pfn)
{
	uint32_t f = e->a.flags[pfn];
	if (!(f & (PG_active | PG_unevictable)) && (f & PG_referenced) && (f & PG_lru)) {
		activate_page(e, pfn);
		ClearPage(e, pfn, PG_referenced);
	} else if (!(f & PG_referenced)) {
		SetPage(e, pfn, PG_referenced);
	}
}
