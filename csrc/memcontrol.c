/*
 * memcontrol.c - the memory controller of cgroup v1 as 2.6.30 has it:
 * res/memsw counters charged up the hierarchy, the try/commit/cancel charge
 * protocol, __mem_cgroup_uncharge_common with its gates, statistics, and the
 * control-file actions (limits, use_hierarchy, swappiness, force_empty,
 * rmdir) (mm/memcontrol.c, kernel/res_counter.c; semantics.md K1.3, K2.1,
 * K2.2).
 */
#include <stdlib.h>
#include <string.h>

#include "engine.h"

int memcg_valid(const pmc_engine *e, int memcg)
{
	return memcg >= 1 && memcg < e->nr_memcg && !e->memcg[memcg].removed;
}

static int memcg_lookup(pmc_engine *e, int memcg)
{
	if (memcg < 1 || memcg >= e->nr_memcg)
		return pmc_err(e, PMC_ENOENT, "no cgroup with id %d", memcg);
	if (e->memcg[memcg].removed)
		return pmc_err(e, PMC_ENOENT, "cgroup %d was removed", memcg);
	return 0;
}

/* --- res_counter (kernel/res_counter.c) --------------------------------- */

static inline struct pmc_res_counter *counter_of(pmc_engine *e, int32_t memcg, int memsw)
{
	return memsw ? &e->memcg[memcg].memsw : &e->memcg[memcg].res;
}

/*
 * res_counter_charge: charge one page to memcg and every counter ancestor.
 * On failure the level that refused gets failcnt++, the partial charge is
 * undone, and that level's memcg id is returned (mem_over_limit); 0 on success.
 */
static int32_t res_counter_charge(pmc_engine *e, int32_t memcg, int memsw)
{
	for (int32_t c = memcg; c; c = e->memcg[c].counter_parent) {
		struct pmc_res_counter *rc = counter_of(e, c, memsw);
		if (rc->usage + PAGE_SIZE > rc->limit) {
			rc->failcnt++;
			for (int32_t u = memcg; u != c; u = e->memcg[u].counter_parent)
				counter_of(e, u, memsw)->usage -= PAGE_SIZE;
			return c;
		}
		rc->usage += PAGE_SIZE;
		if (rc->usage > rc->max_usage)
			rc->max_usage = rc->usage;
	}
	return 0;
}

static void res_counter_uncharge(pmc_engine *e, int32_t memcg, int memsw)
{
	for (int32_t c = memcg; c; c = e->memcg[c].counter_parent)
		counter_of(e, c, memsw)->usage -= PAGE_SIZE;
}

int mem_cgroup_check_under_limit(pmc_engine *e, int32_t memcg)
{
	const struct mem_cgroup *m = &e->memcg[memcg];
	if (m->res.usage >= m->res.limit)
		return 0;
	return !e->cfg.swap_account || m->memsw.usage < m->memsw.limit;
}

/* --- charge protocol (K2.1; the retry loop is __mem_cgroup_try_charge in reclaim.c) -- */

/* How many pages memcg can be charged right now without any counter refusing. */
int64_t mem_cgroup_charge_headroom(const pmc_engine *e, int32_t memcg)
{
	int64_t room = INT64_MAX;
	for (int32_t c = memcg; c; c = e->memcg[c].counter_parent) {
		const struct mem_cgroup *m = &e->memcg[c];
		int64_t r = m->res.usage >= m->res.limit ? 0 : (int64_t)((m->res.limit - m->res.usage) / PAGE_SIZE);
		if (r < room)
			room = r;
		if (e->cfg.swap_account) {
			r = m->memsw.usage >= m->memsw.limit ? 0 : (int64_t)((m->memsw.limit - m->memsw.usage) / PAGE_SIZE);
			if (r < room)
				room = r;
		}
	}
	return room;
}

/*
 * Charge and commit k fresh anon pages at once: the same counters, maxima and
 * statistics as k successful try/commit rounds (usage only rises, so each
 * max_usage ends at the final usage).  The caller checked the headroom.
 */
void mem_cgroup_charge_new_pages(pmc_engine *e, int32_t memcg, int64_t k)
{
	for (int32_t c = memcg; c; c = e->memcg[c].counter_parent)
		for (int memsw = 0; memsw <= !!e->cfg.swap_account; memsw++) {
			struct pmc_res_counter *rc = counter_of(e, c, memsw);
			rc->usage += (uint64_t)k * PAGE_SIZE;
			if (rc->usage > rc->max_usage)
				rc->max_usage = rc->usage;
		}
	e->memcg[memcg].stat[MEMCG_RSS] += k;
	e->memcg[memcg].stat[MEMCG_PGPGIN] += k;
}

/*
 * One attempt of __mem_cgroup_try_charge's loop: res, then memsw.  Returns 0,
 * or the memcg whose counter refused (mem_over_limit); *noswap tells that it
 * was memsw, so reclaim must not swap.
 */
int32_t res_charge_page(pmc_engine *e, int32_t memcg, int *noswap)
{
	*noswap = 0;
	int32_t over = res_counter_charge(e, memcg, 0);
	if (over || !e->cfg.swap_account)
		return over;
	over = res_counter_charge(e, memcg, 1);
	if (over) {
		res_counter_uncharge(e, memcg, 0);
		*noswap = 1;
	}
	return over;
}

static void mem_cgroup_charge_statistics(pmc_engine *e, int32_t memcg, int32_t pfn, int charge)
{
	struct mem_cgroup *m = &e->memcg[memcg];
	m->stat[PageTest(e, pfn, PCG_CACHE) ? MEMCG_CACHE : MEMCG_RSS] += charge ? 1 : -1;
	m->stat[charge ? MEMCG_PGPGIN : MEMCG_PGPGOUT]++;
}

void mem_cgroup_cancel_charge(pmc_engine *e, int32_t memcg)
{
	res_counter_uncharge(e, memcg, 0);
	if (e->cfg.swap_account)
		res_counter_uncharge(e, memcg, 1);
}

/* __mem_cgroup_commit_charge: a page already USED keeps its charge and the new one is undone. */
void mem_cgroup_commit_charge(pmc_engine *e, int32_t memcg, int32_t pfn, enum charge_type ctype)
{
	if (PageTest(e, pfn, PCG_USED)) {
		mem_cgroup_cancel_charge(e, memcg);
		return;
	}
	leak_touch_page(e, pfn);
	e->a.memcg[pfn] = memcg;
	ClearPage(e, pfn, PCG_CACHE);
	SetPage(e, pfn, PCG_USED |
	        ((ctype == MEM_CGROUP_CHARGE_TYPE_CACHE || ctype == MEM_CGROUP_CHARGE_TYPE_SHMEM) ? PCG_CACHE : 0));
	mem_cgroup_charge_statistics(e, memcg, pfn, 1);
}

/*
 * __mem_cgroup_uncharge_common (K2.2): the single gate of every uncharge.
 * Returns the memcg it uncharged, or 0.  SWAPOUT leaves memsw charged: the
 * caller hands that charge to the swap slot.
 */
int32_t __mem_cgroup_uncharge_common(pmc_engine *e, int32_t pfn, enum charge_type ctype)
{
	if (PageTest(e, pfn, PG_swapcache))
		return 0;
	if (!PageTest(e, pfn, PCG_USED))
		return 0;
	switch (ctype) {
	case MEM_CGROUP_CHARGE_TYPE_MAPPED:
	case MEM_CGROUP_CHARGE_TYPE_DROP:
		if (page_mapped(e, pfn))
			return 0;
		break;
	case MEM_CGROUP_CHARGE_TYPE_SWAPOUT:
		if (PageTest(e, pfn, PG_anon) && page_mapped(e, pfn))
			return 0;
		break;
	default:
		break;
	}
	int32_t memcg = e->a.memcg[pfn];
	res_counter_uncharge(e, memcg, 0);
	if (e->cfg.swap_account && ctype != MEM_CGROUP_CHARGE_TYPE_SWAPOUT)
		res_counter_uncharge(e, memcg, 1);
	mem_cgroup_charge_statistics(e, memcg, pfn, 0);
	leak_touch_page(e, pfn);
	ClearPage(e, pfn, PCG_USED);
	return memcg;
}

/* mem_cgroup_uncharge_page: the anon uncharge of the last unmap. */
void mem_cgroup_uncharge_page(pmc_engine *e, int32_t pfn)
{
	if (page_mapped(e, pfn))
		return;
	__mem_cgroup_uncharge_common(e, pfn, MEM_CGROUP_CHARGE_TYPE_MAPPED);
}

/* swap_cgroup_record: set a slot's memsw owner, returning the old one. */
static int32_t swap_cgroup_record(pmc_engine *e, int32_t off, int32_t memcg)
{
	int32_t old = e->a.swap_cgroup[off];
	if (old != memcg)
		leak_touch_slot(e, off);
	e->a.swap_cgroup[off] = (uint16_t)memcg;
	return old;
}

/*
 * mem_cgroup_uncharge_swapcache (K2.2, K2.12): a page leaves the swap cache.
 * swapout (2.6.30 always; 2.6.31 when pte users remain): SWAPOUT uncharge,
 * res only, and the slot now owns the memsw charge (swap_cgroup record,
 * mem_cgroup_get).  Otherwise (2.6.31, no users) DROP: res and memsw go.
 */
void mem_cgroup_uncharge_swapcache(pmc_engine *e, int32_t pfn, int32_t off, int swapout)
{
	int32_t memcg = __mem_cgroup_uncharge_common(e, pfn, swapout ? MEM_CGROUP_CHARGE_TYPE_SWAPOUT
	                                                            : MEM_CGROUP_CHARGE_TYPE_DROP);
	if (swapout && memcg && e->cfg.swap_account) {
		swap_cgroup_record(e, off, memcg);
		e->memcg[memcg].refcnt++;
	}
}

/* mem_cgroup_uncharge_swap: the slot's memsw charge goes back to its owner, removed or not. */
void mem_cgroup_uncharge_swap(pmc_engine *e, int32_t off)
{
	if (!e->cfg.swap_account)
		return;
	int32_t memcg = swap_cgroup_record(e, off, 0);
	if (memcg) {
		res_counter_uncharge(e, memcg, 1);
		e->memcg[memcg].refcnt--;
	}
}

/*
 * mem_cgroup_try_charge_swapin's choice of memcg (K2.7): the page's owner if it
 * is charged, else the slot's recorded owner if that memcg still lives, else
 * the faulting task's.  0: the page left the swap cache, charge nothing.
 */
int32_t mem_cgroup_try_charge_swapin(pmc_engine *e, int32_t pfn, int32_t task_memcg)
{
	if (!e->cfg.swap_account)
		return task_memcg;
	if (!PageTest(e, pfn, PG_swapcache))
		return 0;
	int32_t memcg = PageTest(e, pfn, PCG_USED) ? e->a.memcg[pfn] : e->a.swap_cgroup[e->a.private[pfn]];
	return memcg_valid(e, memcg) ? memcg : task_memcg;
}

/*
 * mem_cgroup_commit_charge_swapin: move the pc from a stale owner's list,
 * commit (undone if already USED), relink, and if the page is still in the
 * swap cache end the slot's memsw charge: the page is now charged as memory.
 */
void mem_cgroup_commit_charge_swapin(pmc_engine *e, int32_t pfn, int32_t memcg)
{
	if (!memcg)
		return;
	if (!PageTest(e, pfn, PCG_USED) && PageTest(e, pfn, PG_lru))
		mem_cgroup_del_lru_list(e, pfn, page_lru(e, pfn));
	mem_cgroup_commit_charge(e, memcg, pfn, MEM_CGROUP_CHARGE_TYPE_MAPPED);
	if (PageTest(e, pfn, PG_lru) && !PageTest(e, pfn, PCG_LINKED))
		mem_cgroup_add_lru_list(e, pfn, page_lru(e, pfn));
	if (e->cfg.swap_account && PageTest(e, pfn, PG_swapcache))
		mem_cgroup_uncharge_swap(e, (int32_t)e->a.private[pfn]);
}

/* --- the cgroup tree ---------------------------------------------------- */

int mem_cgroup_in_subtree(const pmc_engine *e, int32_t memcg, int32_t root)
{
	for (int32_t c = memcg; c; c = e->memcg[c].parent)
		if (c == root)
			return 1;
	return 0;
}

/* Next memcg of root's subtree in pre-order, 0 at the end. */
static int32_t subtree_next(const pmc_engine *e, int32_t pos, int32_t root)
{
	if (e->memcg[pos].first_child)
		return e->memcg[pos].first_child;
	for (; pos != root; pos = e->memcg[pos].parent)
		if (e->memcg[pos].next_sibling)
			return e->memcg[pos].next_sibling;
	return 0;
}

static int mem_cgroup_create(pmc_engine *e, int parent);

/* The root memcg, made once by pmc_engine_create. */
int mem_cgroup_create_root(pmc_engine *e)
{
	return mem_cgroup_create(e, 0);
}

int pmc_memcg_create(pmc_engine *e, int parent)
{
	if (memcg_lookup(e, parent))
		return PMC_ENOENT;
	return mem_cgroup_create(e, parent);
}

static int mem_cgroup_create(pmc_engine *e, int parent)
{
	if (e->nr_memcg > MAX_MEMCG)
		return pmc_err(e, PMC_ENOSPC, "no css id left (%d cgroups)", MAX_MEMCG);
	if (e->nr_memcg == e->cap_memcg) {
		struct mem_cgroup *m = realloc(e->memcg, 2 * (size_t)e->cap_memcg * sizeof *m);
		if (!m)
			return pmc_err(e, PMC_EALLOC, "cannot grow the cgroup table");
		e->memcg = m;
		e->cap_memcg *= 2;
	}
	int32_t id = e->nr_memcg++;
	struct mem_cgroup *m = &e->memcg[id];
	memset(m, 0, sizeof *m);
	m->res.limit = m->memsw.limit = RESOURCE_MAX;
	m->swappiness = 60;
	for (int l = 0; l < NR_LRU_LISTS; l++)
		m->lru_head[l] = m->lru_tail[l] = NIL;
	if (parent) {
		struct mem_cgroup *p = &e->memcg[parent];
		m->parent = parent;
		m->use_hierarchy = p->use_hierarchy;
		m->counter_parent = p->use_hierarchy ? parent : 0;
		m->swappiness = p->swappiness;
		m->next_sibling = p->first_child;
		p->first_child = id;
		p->nr_children++;
	}
	return id;
}

/* --- charge moving: force_empty and rmdir ------------------------------ */

/*
 * mem_cgroup_move_parent: move one page's charge from child to its parent.
 * The parent is charged first (which may fail at its limit: -ENOMEM, as in
 * 2.6.30 even when the hierarchy makes the net change zero), then the page is
 * isolated, its charge moved, and put back on the parent's list.
 */
static int mem_cgroup_move_parent(pmc_engine *e, int32_t pfn, int32_t child)
{
	int32_t parent = e->memcg[child].parent;
	if (!parent)
		return PMC_ECGINVAL;
	if (mem_cgroup_try_charge(e, 0, parent) != CHARGE_OK)
		return PMC_ENOMEM;
	if (isolate_lru_page(e, pfn)) {
		mem_cgroup_cancel_charge(e, parent);
		return PMC_EBUSY;
	}
	int ret = 0;
	if (!PageTest(e, pfn, PCG_USED) || e->a.memcg[pfn] != child) {
		ret = PMC_ECGINVAL;     /* obsolete pc: uncharged while still linked */
		mem_cgroup_cancel_charge(e, parent);
	} else {                    /* mem_cgroup_move_account */
		res_counter_uncharge(e, child, 0);
		if (e->cfg.swap_account)
			res_counter_uncharge(e, child, 1);
		mem_cgroup_charge_statistics(e, child, pfn, 0);
		e->a.memcg[pfn] = parent;
		mem_cgroup_charge_statistics(e, parent, pfn, 1);
		e->ctr.moved_charges++;
	}
	putback_lru_page(e, pfn);
	return ret;
}

/*
 * mem_cgroup_force_empty_list: move every page of one list to the parent.
 * The kernel retries a busy page until it moves; with no other CPU to make
 * progress here, a pass that moves nothing ends with -EBUSY instead.
 */
static int mem_cgroup_force_empty_list(pmc_engine *e, int32_t memcg, enum pmc_lru lru)
{
	struct mem_cgroup *m = &e->memcg[memcg];
	int64_t budget = m->lru_count[lru];
	while (m->lru_tail[lru] != NIL && budget-- > 0) {
		int ret = mem_cgroup_move_parent(e, m->lru_tail[lru], memcg);
		if (ret == PMC_ENOMEM)
			return ret;
		m = &e->memcg[memcg];
	}
	return m->lru_tail[lru] == NIL ? 0 : PMC_EBUSY;
}

static int mem_cgroup_force_empty(pmc_engine *e, int32_t memcg, int free_all)
{
	int shrink = 0;
	struct mem_cgroup *m = &e->memcg[memcg];
	if (free_all)
		goto try_to_free;
move_account:
	while (m->res.usage > 0) {
		if (m->nr_tasks || m->nr_children)
			return pmc_err(e, PMC_EBUSY, "cgroup has tasks or children");
		if (!m->parent)
			return pmc_err(e, PMC_EBUSY, "the root cgroup has no parent to move charges to");
		uint64_t before = m->res.usage;
		int ret = 0;
		for (int l = 0; l < NR_LRU_LISTS && !ret; l++)
			ret = mem_cgroup_force_empty_list(e, memcg, (enum pmc_lru)l);
		m = &e->memcg[memcg];
		if (ret == PMC_ENOMEM)
			goto try_to_free;
		if (m->res.usage == before)
			return pmc_err(e, PMC_EBUSY, "%llu bytes stay charged: pages off every LRU list",
			               (unsigned long long)m->res.usage);
	}
	return 0;

try_to_free:
	if (m->nr_tasks || m->nr_children || shrink)
		return pmc_err(e, PMC_EBUSY, m->nr_tasks || m->nr_children ? "cgroup has tasks or children"
		                             : "the parent cannot take the charges and reclaim cannot free them");
	shrink = 1;
	for (int nr_retries = MEM_CGROUP_RECLAIM_RETRIES; nr_retries && e->memcg[memcg].res.usage > 0;)
		if (!try_to_free_mem_cgroup_pages(e, memcg, 0))
			nr_retries--;
	m = &e->memcg[memcg];
	if (m->res.usage)
		goto move_account;
	return 0;
}

int pmc_memcg_force_empty(pmc_engine *e, int memcg)
{
	if (memcg_lookup(e, memcg))
		return PMC_ENOENT;
	return mem_cgroup_force_empty(e, memcg, 1);
}

int pmc_memcg_rmdir(pmc_engine *e, int memcg)
{
	if (memcg_lookup(e, memcg))
		return PMC_ENOENT;
	struct mem_cgroup *m = &e->memcg[memcg];
	if (!m->parent)
		return pmc_err(e, PMC_EBUSY, "the root cgroup cannot be removed");
	if (m->nr_tasks || m->nr_children)
		return pmc_err(e, PMC_EBUSY, "cgroup has %d tasks and %d children", m->nr_tasks, m->nr_children);
	int ret = mem_cgroup_force_empty(e, memcg, 0);
	if (ret)
		return ret;
	m = &e->memcg[memcg];
	struct mem_cgroup *p = &e->memcg[m->parent];
	for (int32_t *link = &p->first_child; *link; link = &e->memcg[*link].next_sibling)
		if (*link == memcg) {
			*link = m->next_sibling;
			break;
		}
	p->nr_children--;
	m->removed = 1;
	return 0;
}

/* --- control files ------------------------------------------------------ */

static int mem_cgroup_count_children(const pmc_engine *e, int32_t memcg)
{
	int n = 0;
	for (int32_t c = memcg; c; c = subtree_next(e, c, memcg))
		n++;
	return n;
}

/* Limits reach the core page aligned (res_counter_memparse_write_strategy) or unlimited. */
static int limit_arg(pmc_engine *e, uint64_t val)
{
	if (val % PAGE_SIZE && val != RESOURCE_MAX)
		return pmc_err(e, PMC_EINVAL, "limit %llu is not a multiple of the page size", (unsigned long long)val);
	return 0;
}

/*
 * mem_cgroup_resize_limit / mem_cgroup_resize_memsw_limit: the memory limit
 * never above the mem+swap limit; a limit below usage first reclaims from
 * the subtree (without swapping for memsw), retrying while usage falls, at
 * most 5 fruitless rounds per memcg in the subtree, then EBUSY.
 */
static int resize_limit(pmc_engine *e, int memcg, uint64_t val, int memsw)
{
	if (memcg_lookup(e, memcg))
		return PMC_ENOENT;
	if (memsw && !e->cfg.swap_account)
		return pmc_err(e, PMC_ECGINVAL, "swap accounting is off");
	if (limit_arg(e, val))
		return PMC_EINVAL;
	int retry_count = MEM_CGROUP_RECLAIM_RETRIES * mem_cgroup_count_children(e, memcg);
	uint64_t oldusage = counter_of(e, memcg, memsw)->usage;
	int ret = 0;
	while (retry_count) {
		struct mem_cgroup *m = &e->memcg[memcg];
		if (!memsw && m->memsw.limit < val)
			return pmc_err(e, PMC_ECGINVAL, "memory limit %llu above the mem+swap limit %llu",
			               (unsigned long long)val, (unsigned long long)m->memsw.limit);
		if (memsw && m->res.limit > val)
			return pmc_err(e, PMC_ECGINVAL, "mem+swap limit %llu below the memory limit %llu",
			               (unsigned long long)val, (unsigned long long)m->res.limit);
		struct pmc_res_counter *rc = counter_of(e, memcg, memsw);
		if (rc->usage <= val) {
			rc->limit = val;
			return 0;
		}
		ret = pmc_err(e, PMC_EBUSY, "%s usage %llu above the new limit %llu and reclaim cannot free enough",
		              memsw ? "mem+swap" : "memory", (unsigned long long)rc->usage, (unsigned long long)val);
		mem_cgroup_hierarchical_reclaim(e, memcg, memsw, 1);   /* one victim of the subtree a round */
		uint64_t curusage = counter_of(e, memcg, memsw)->usage;
		if (curusage >= oldusage)
			retry_count--;
		else
			oldusage = curusage;
	}
	return ret;
}

int pmc_memcg_resize_limit(pmc_engine *e, int memcg, uint64_t val)
{
	return resize_limit(e, memcg, val, 0);
}

int pmc_memcg_resize_memsw_limit(pmc_engine *e, int memcg, uint64_t val)
{
	return resize_limit(e, memcg, val, 1);
}

/* mem_cgroup_hierarchy_write: only 0 or 1, never under a hierarchical parent, never with children. */
int pmc_memcg_set_use_hierarchy(pmc_engine *e, int memcg, uint64_t val)
{
	if (memcg_lookup(e, memcg))
		return PMC_ENOENT;
	struct mem_cgroup *m = &e->memcg[memcg];
	if ((m->parent && e->memcg[m->parent].use_hierarchy) || val > 1)
		return pmc_err(e, PMC_ECGINVAL, val > 1 ? "use_hierarchy takes 0 or 1"
		                                         : "the parent uses hierarchy");
	if (m->nr_children)
		return pmc_err(e, PMC_EBUSY, "cgroup has children");
	m->use_hierarchy = (int32_t)val;
	return 0;
}

/*
 * mem_cgroup_swappiness: the swappiness reclaim of memcg (0: global) uses;
 * the root cgroup's is vm.swappiness.
 */
int32_t mem_cgroup_swappiness(const pmc_engine *e, int32_t memcg)
{
	return memcg && e->memcg[memcg].parent ? e->memcg[memcg].swappiness : e->vm_swappiness;
}

/* mem_cgroup_swappiness_write: 0..100, not on the root, not inside or over a hierarchy. */
int pmc_memcg_set_swappiness(pmc_engine *e, int memcg, uint64_t val)
{
	if (memcg_lookup(e, memcg))
		return PMC_ENOENT;
	struct mem_cgroup *m = &e->memcg[memcg];
	if (!m->parent)
		return pmc_err(e, PMC_ECGINVAL, "the root's swappiness is vm.swappiness");
	if (val > 100)
		return pmc_err(e, PMC_ECGINVAL, "swappiness above 100");
	if (e->memcg[m->parent].use_hierarchy || (m->use_hierarchy && m->nr_children))
		return pmc_err(e, PMC_ECGINVAL, "swappiness is set at the top of a hierarchy with no children");
	m->swappiness = (int32_t)val;
	return 0;
}

int pmc_memcg_reset(pmc_engine *e, int memcg, int which)
{
	if (memcg_lookup(e, memcg))
		return PMC_ENOENT;
	struct mem_cgroup *m = &e->memcg[memcg];
	switch (which) {
	case PMC_RESET_MAX_USAGE: m->res.max_usage = m->res.usage; return 0;
	case PMC_RESET_FAILCNT: m->res.failcnt = 0; return 0;
	case PMC_RESET_MEMSW_MAX_USAGE: m->memsw.max_usage = m->memsw.usage; return 0;
	case PMC_RESET_MEMSW_FAILCNT: m->memsw.failcnt = 0; return 0;
	default: return pmc_err(e, PMC_EINVAL, "unknown reset %d", which);
	}
}

int pmc_memcg_info(const pmc_engine *e, int memcg, struct pmc_memcg_info *out)
{
	if (memcg < 1 || memcg >= e->nr_memcg)
		return PMC_ENOENT;
	const struct mem_cgroup *m = &e->memcg[memcg];
	memset(out, 0, sizeof *out);
	out->parent = m->parent;
	out->removed = m->removed;
	out->use_hierarchy = m->use_hierarchy;
	out->swappiness = m->swappiness;
	out->nr_tasks = m->nr_tasks;
	out->nr_children = m->nr_children;
	out->refcnt = m->refcnt;
	out->res = m->res;
	out->memsw = m->memsw;
	out->cache = m->stat[MEMCG_CACHE];
	out->rss = m->stat[MEMCG_RSS];
	out->pgpgin = m->stat[MEMCG_PGPGIN];
	out->pgpgout = m->stat[MEMCG_PGPGOUT];
	for (int l = 0; l < NR_LRU_LISTS; l++)
		out->lru[l] = m->lru_count[l];

	/* memcg_get_hierarchical_limit: the smallest limit up the hierarchy */
	out->hierarchical_memory_limit = m->res.limit;
	out->hierarchical_memsw_limit = m->memsw.limit;
	if (m->use_hierarchy)
		for (int32_t c = m->parent; c && e->memcg[c].use_hierarchy; c = e->memcg[c].parent) {
			if (e->memcg[c].res.limit < out->hierarchical_memory_limit)
				out->hierarchical_memory_limit = e->memcg[c].res.limit;
			if (e->memcg[c].memsw.limit < out->hierarchical_memsw_limit)
				out->hierarchical_memsw_limit = e->memcg[c].memsw.limit;
		}

	/* total_*: mem_cgroup_walk_tree covers the subtree only under use_hierarchy */
	for (int32_t c = memcg; c; c = m->use_hierarchy ? subtree_next(e, c, memcg) : 0) {
		const struct mem_cgroup *s = &e->memcg[c];
		out->total_cache += s->stat[MEMCG_CACHE];
		out->total_rss += s->stat[MEMCG_RSS];
		out->total_pgpgin += s->stat[MEMCG_PGPGIN];
		out->total_pgpgout += s->stat[MEMCG_PGPGOUT];
		for (int l = 0; l < NR_LRU_LISTS; l++)
			out->total_lru[l] += s->lru_count[l];
	}
	return 0;
}
