/*
 * engine.h - the engine's private state and the internal calls between the
 * core's files.  Nothing here crosses the Python boundary.
 */
#ifndef PMC_ENGINE_H
#define PMC_ENGINE_H

#include "pymemcg.h"

#define PAGE_SIZE 4096ull
#define NIL (-1)
#define TASK_VPN_BITS 36                    /* 48-bit user address space, as x86-64 */
#define TASK_VPN_LIMIT (1ll << TASK_VPN_BITS)
#define FREE_PTE_NR 506                     /* pages one mmu_gather parks */
#define MEM_CGROUP_RECLAIM_RETRIES 5
#define RESOURCE_MAX ((uint64_t)INT64_MAX)  /* res_counter "unlimited" */
#define MAX_MEMCG 65535                     /* css_id space */
#define MAX_TASKS (1 << 30)
#define PCG_MASK ((uint32_t)(PCG_USED | PCG_LINKED | PCG_CACHE))

/* uncharge types of __mem_cgroup_uncharge_common (kernel-semantics §2.2) */
enum charge_type {
	MEM_CGROUP_CHARGE_TYPE_CACHE = 0,
	MEM_CGROUP_CHARGE_TYPE_MAPPED,
	MEM_CGROUP_CHARGE_TYPE_SHMEM,
	MEM_CGROUP_CHARGE_TYPE_FORCE,
	MEM_CGROUP_CHARGE_TYPE_SWAPOUT,
	MEM_CGROUP_CHARGE_TYPE_DROP
};

/* Outcome of a charge that may have to OOM-kill (see mem_cgroup_try_charge). */
enum charge_result {
	CHARGE_OK = 0,
	CHARGE_OOM_RETRY = 1,   /* the OOM killer killed another task: retry the fault */
	CHARGE_OOM_SELF = 2,    /* the OOM killer killed the charging task            */
	CHARGE_NOMEM = 3        /* refused, and no task to OOM-kill on its behalf     */
};

enum mem_cgroup_stat { MEMCG_CACHE = 0, MEMCG_RSS, MEMCG_PGPGIN, MEMCG_PGPGOUT, MEMCG_NSTATS };

struct mem_cgroup {
	struct pmc_res_counter res;    /* kernel/res_counter.c's fields */
	struct pmc_res_counter memsw;
	int32_t parent;          /* cgroup parent; 0 for the root                     */
	int32_t counter_parent;  /* res_counter parent: the parent if it used hierarchy */
	int32_t first_child;     /* children, newest first                           */
	int32_t next_sibling;
	int32_t use_hierarchy;
	int32_t swappiness;
	int32_t removed;
	int32_t refcnt;          /* swap_cgroup records pointing here (mem_cgroup_get) */
	int32_t nr_tasks;
	int32_t nr_children;
	int64_t stat[MEMCG_NSTATS];
	int32_t lru_head[NR_LRU_LISTS];
	int32_t lru_tail[NR_LRU_LISTS];
	int64_t lru_count[NR_LRU_LISTS];
};

enum task_state { TASK_UNUSED = 0, TASK_ALIVE = 1, TASK_DEAD = 2 };

struct task {
	void *pgd;               /* radix page table, see pgtable.c                  */
	uint64_t *leaf_cache;    /* last pte page looked up, for sequential batches  */
	int64_t leaf_cache_idx;
	int32_t state;
	int32_t oom_killed;
	int32_t memcg;           /* mm->owner's memcg                                */
	int32_t anon_vma;        /* fork family = pid of the founder                 */
	int32_t fam_next;        /* the family's member list (the anon_vma's vmas)  */
	int32_t fam_prev;
	int32_t fam_head;        /* the family's list, kept on the founder's slot    */
	int32_t fam_tail;
	int32_t gather_nr;
	int32_t *gather;         /* FREE_PTE_NR parked page refs, allocated lazily   */
	int64_t rss;
	int64_t swap_ptes;
	int64_t locked_ptes;
};

struct pmc_engine {
	struct pmc_config cfg;
	struct pmc_arrays a;
	int64_t nr_pages;
	int64_t nr_free;
	int32_t free_head;
	int64_t nr_anon_pages;      /* NR_ANON_PAGES: mapped anon pages */
	int64_t nr_mlock;           /* NR_MLOCK */

	/* the zone's LRU lists (one node, one zone) */
	int32_t lru_head[NR_LRU_LISTS];
	int32_t lru_tail[NR_LRU_LISTS];
	int64_t lru_count[NR_LRU_LISTS];

	struct mem_cgroup *memcg;   /* by id; [0] unused, [1] is the root */
	int32_t nr_memcg;           /* ids handed out so far, plus one     */
	int32_t cap_memcg;

	struct task *task;          /* by pid; [0] unused */
	int32_t nr_task;
	int32_t cap_task;

	struct pmc_counters ctr;
	char errmsg[256];
};

/* engine.c */
int pmc_err(pmc_engine *e, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int pmc_vpns_check(pmc_engine *e, const int64_t *vpns, int64_t n, int64_t start);

static inline int64_t vpn_at(const int64_t *vpns, int64_t i, int64_t start)
{
	return vpns ? vpns[i] : start + i;
}

/* page_alloc.c and release of page references (mm/page_alloc.c, mm/swap.c) */
int32_t alloc_page(pmc_engine *e);
void free_hot_cold_page(pmc_engine *e, int32_t pfn);
void put_page(pmc_engine *e, int32_t pfn);
void release_pages(pmc_engine *e, const int32_t *pfns, int n);

/* lru.c: zone lists and their memcg shadows */
enum pmc_lru page_lru(const pmc_engine *e, int32_t pfn);
void add_page_to_lru_list(pmc_engine *e, int32_t pfn, enum pmc_lru lru);
void del_page_from_lru_list(pmc_engine *e, int32_t pfn, enum pmc_lru lru);
void del_page_from_lru(pmc_engine *e, int32_t pfn);
void lru_cache_add_lru(pmc_engine *e, int32_t pfn, enum pmc_lru lru);
int isolate_lru_page(pmc_engine *e, int32_t pfn);
void putback_lru_page(pmc_engine *e, int32_t pfn);
void mem_cgroup_add_lru_list(pmc_engine *e, int32_t pfn, enum pmc_lru lru);
void mem_cgroup_del_lru_list(pmc_engine *e, int32_t pfn, enum pmc_lru lru);

/* pgtable.c */
uint64_t *pte_offset(struct task *t, int64_t vpn);            /* NULL if no pte page */
uint64_t pte_read(const struct task *t, int64_t vpn);         /* 0 if none, no caching */
uint64_t *pte_alloc(struct task *t, int64_t vpn);             /* NULL if out of host memory */
typedef void (*pte_visit_fn)(pmc_engine *e, int32_t pid, int64_t vpn, uint64_t *pte, void *ctx);
void walk_ptes(pmc_engine *e, int32_t pid, pte_visit_fn fn, void *ctx);
void free_pgtables(struct task *t);

/* rmap.c */
void page_add_new_anon_rmap(pmc_engine *e, int32_t pfn, int32_t anon_vma, int64_t vpn);
void page_dup_rmap(pmc_engine *e, int32_t pfn);
void page_remove_rmap(pmc_engine *e, int32_t pfn);
typedef int (*rmap_one_fn)(pmc_engine *e, int32_t pfn, int32_t pid, uint64_t *pte, void *ctx);
int rmap_walk_anon(pmc_engine *e, int32_t pfn, rmap_one_fn fn, void *ctx);

/* mlock.c */
void mlock_vma_page(pmc_engine *e, int32_t pfn);
void munlock_vma_page(pmc_engine *e, int32_t pfn, int32_t unlocking_pid);

/* memory.c */
int do_exit(pmc_engine *e, int32_t pid);
struct task *task_get(pmc_engine *e, int pid);

/* memcontrol.c */
enum charge_result mem_cgroup_try_charge(pmc_engine *e, int32_t pid, int32_t memcg);
void mem_cgroup_commit_charge(pmc_engine *e, int32_t memcg, int32_t pfn, enum charge_type ctype);
void mem_cgroup_cancel_charge(pmc_engine *e, int32_t memcg);
int32_t __mem_cgroup_uncharge_common(pmc_engine *e, int32_t pfn, enum charge_type ctype);
void mem_cgroup_uncharge_page(pmc_engine *e, int32_t pfn);
int mem_cgroup_in_subtree(const pmc_engine *e, int32_t memcg, int32_t root);
int memcg_valid(const pmc_engine *e, int memcg);

/* oom_kill.c */
int32_t mem_cgroup_out_of_memory(pmc_engine *e, int32_t mem_over_limit);

/* the page state, spelled like the kernel's helpers */
#define PF(e, pfn) ((e)->a.flags[pfn])
static inline int PageTest(const pmc_engine *e, int32_t pfn, uint32_t f) { return (e->a.flags[pfn] & f) != 0; }
static inline void SetPage(pmc_engine *e, int32_t pfn, uint32_t f) { e->a.flags[pfn] |= f; }
static inline void ClearPage(pmc_engine *e, int32_t pfn, uint32_t f) { e->a.flags[pfn] &= ~f; }
static inline int page_mapped(const pmc_engine *e, int32_t pfn) { return e->a.mapcount[pfn] > 0; }

static inline int32_t pte_pfn(uint64_t pte) { return (int32_t)(pte >> PTE_SHIFT); }
static inline uint64_t mk_pte(int32_t pfn, uint64_t bits) { return ((uint64_t)pfn << PTE_SHIFT) | bits; }

#endif
