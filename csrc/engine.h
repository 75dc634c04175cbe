/*
 * engine.h - the engine's private state and the internal calls between the
 * core's files.  Nothing here crosses the Python boundary.
 */
#ifndef PMC_ENGINE_H
#define PMC_ENGINE_H

#include "pymemcg.h"

#define PAGE_SIZE ((uint64_t)PMC_PAGE_SIZE)
#define NIL (-1)
#define TASK_VPN_BITS PMC_TASK_VPN_BITS     /* 48-bit user address space, as x86-64 */
#define TASK_VPN_LIMIT (1ll << TASK_VPN_BITS)
#define PT_BITS 9                           /* 512 entries per page-table page */
#define PT_ENTRIES (1 << PT_BITS)
#define FREE_PTE_NR PMC_FREE_PTE_NR         /* pages one mmu_gather parks */
#define MEM_CGROUP_RECLAIM_RETRIES 5
#define RESOURCE_MAX ((uint64_t)INT64_MAX)  /* res_counter "unlimited" */
#define MAX_MEMCG 65535                     /* css_id space */
#define MAX_TASKS (1 << 30)
#define SWAP_CLUSTER_MAX PMC_SWAP_CLUSTER_MAX
#define DEF_PRIORITY 12
/*
 * The cost model: simulated time one page-step takes, by kind of step.  The
 * replay scheduler runs whichever CPU is furthest behind in time, so these
 * set how often paths overlap (a zap of one pte is much quicker than
 * reclaim's work on one page, as on real hardware).  Orders of magnitude
 * for a 2009 x86 machine; docs/replay.md lists them.
 */
#define COST_FAULT_NS 250ll           /* one page of a fault batch            */
#define COST_ZAP_NS 50ll              /* one pte of zap_pte_range             */
#define COST_DISPATCH_NS 200ll        /* spawn, fork, mkdir, control writes   */
#define COST_RECLAIM_NS 100ll         /* reclaim bookkeeping between batches  */
#define COST_PAGE_LRU_NS 50ll         /* per page isolated or put back        */
#define SWAP_IO_NS 50000ll                  /* one swap read or write on the device */
#define CONGESTION_WAIT_NS 100000000ll      /* congestion_wait(WRITE, HZ/10) */
#define IO_RING 256                         /* NR_REQUESTS per direction, two directions */
#define PCG_MASK ((uint32_t)(PCG_USED | PCG_LINKED | PCG_CACHE))

/* uncharge types of __mem_cgroup_uncharge_common (semantics.md K2.2) */
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
	CHARGE_NOMEM = 3,       /* refused, and no task to OOM-kill on its behalf     */
	CHARGE_MORE = 4         /* __mem_cgroup_try_charge: not finished yet         */
};

/* zone_reclaim_stat: [0] anon, [1] file */
struct reclaim_stat {
	int64_t recent_scanned[2];
	int64_t recent_rotated[2];
};

/* int_sqrt (lib/int_sqrt.c): the largest r with r * r <= x. */
static inline int64_t int_sqrt(int64_t x)
{
	int64_t r = 0;
	while ((r + 1) * (r + 1) <= x)
		r++;
	return r;
}

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
	struct reclaim_stat stat_reclaim;
	int32_t last_scanned_child;
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
	int32_t busy;            /* an operation of this task runs on a replay CPU    */
	int32_t memdie;          /* OOM victim, dies when that operation stops (TIF_MEMDIE) */
	int32_t exiting;         /* its exit is in flight (PF_EXITING)               */
	int32_t gather_nr;
	int32_t *gather;         /* FREE_PTE_NR parked page refs, allocated lazily   */
	int64_t rss;
	int64_t swap_ptes;
	int64_t locked_ptes;
	int64_t oom_event;       /* replay events dispatched when the OOM killer chose it, or -1 */
	int64_t events_skipped;  /* replay events of this task skipped after it died  */
};

/* The two kernels' swap_map encodings and slot rules (swapfile.c). */
struct swap_ops {
	uint16_t cache_only;   /* a slot held by the swap cache alone */
	uint16_t bad;          /* SWAP_MAP_BAD */
	uint16_t new_slot;     /* what get_swap_page writes */
	uint16_t cache_bit;    /* SWAP_HAS_CACHE, or 0 when the count includes the cache */
	uint16_t max;          /* SWAP_MAP_MAX: a saturated count never changes */
	int (*swap_count)(uint16_t v);
	uint16_t (*entry_free)(pmc_engine *e, int32_t off, int cache);
	int (*duplicate)(pmc_engine *e, int32_t off);
	int (*swapcache_prepare)(pmc_engine *e, int32_t off);
	void (*swapcache_free)(pmc_engine *e, int32_t off, int32_t pfn);
	int (*reusable)(const pmc_engine *e, int32_t off);
};

enum { IO_READ = 0, IO_WRITE = 1 };

struct io_req {
	int64_t complete_at;
	int32_t pfn;
	int32_t rw;
};

struct io_queue {
	struct io_req ring[IO_RING];
	int32_t head, tail;
	int32_t inflight[2];
	int32_t congested[2];
	int64_t device_free_at;
};

struct scan_control {
	int64_t nr_scanned;
	int64_t nr_reclaimed;
	int32_t may_writepage;
	int32_t may_unmap;
	int32_t may_swap;
	int32_t swappiness;
	int32_t mem_cgroup;      /* 0: global reclaim (zone lists) */
	int32_t kswapd;          /* PF_SWAPWRITE: writes even to a congested device */
};

/* outcome of one page of shrink_page_list: enum pmc_page_outcome, under the core's short names */
enum page_outcome {
	PO_NONE = PMC_PO_PENDING, PO_KEEP = PMC_PO_KEPT, PO_ACTIVATE = PMC_PO_ACTIVATED,
	PO_CULLED = PMC_PO_CULLED, PO_FREED = PMC_PO_FREED
};

/* The stop points of a shrink batch are the public enum pmc_shrink_phase (pymemcg.h). */

enum page_label { L_NONE = 0, L_KEEP, L_KEEP_LOCKED, L_ACTIVATE_LOCKED, L_CULL_MLOCKED, L_FREE };

/* shrink_inactive_list on one batch of at most SWAP_CLUSTER_MAX pages, one stop point per step. */
struct shrink_batch {
	struct scan_control sc;
	int32_t nr_to_scan;
	int32_t phase;           /* enum pmc_shrink_phase                          */
	int32_t nr;              /* pages isolated                                 */
	int32_t idx;             /* the page in hand                               */
	int32_t label;           /* where the page in hand leaves                  */
	int32_t referenced;      /* page_referenced of the page in hand            */
	int32_t pfn[SWAP_CLUSTER_MAX];
	uint8_t outcome[SWAP_CLUSTER_MAX];
	int64_t nr_taken;
	int64_t nr_isolate_scanned;
	int64_t hook_calls;
	int64_t hook_freed;
	int64_t nr_activated;
	int64_t nr_pageout;
	int64_t nr_pageout_keep;
};

enum reclaim_kind { RK_DIRECT = 0, RK_MEMCG, RK_KSWAPD };
enum reclaim_phase { RP_PRIORITY = 0, RP_ZONE, RP_BATCH, RP_ZONE_END, RP_DONE };

/* do_try_to_free_pages (direct, memcg) or balance_pgdat (kswapd) in progress. */
struct reclaim_state {
	struct scan_control sc;
	int32_t kind;
	int32_t phase;
	int32_t priority;
	int32_t lru;                 /* shrink_zone's cursor over the lists          */
	int64_t swap_cluster_max;
	int64_t nr[NR_LRU_LISTS];
	int64_t total_scanned;
	int64_t batch_max_scan;      /* shrink_inactive_list's do-while bound        */
	int64_t batch_scanned;
	int64_t hook_calls;
	int64_t hook_freed;
	int64_t ret;
	struct shrink_batch batch;
};

enum hrec_phase { HR_SELECT = 0, HR_SCAN, HR_DONE };

/* mem_cgroup_hierarchical_reclaim in progress. */
struct hrec_state {
	int64_t swap_cluster_max;
	int32_t root;
	int32_t noswap;
	int32_t shrink;          /* a limit write's: stop after the first memcg reclaimed from */
	int32_t loop;
	int32_t phase;
	int64_t total;
	int64_t ret;
	struct reclaim_state scan;
};

/* Where a charge stands: trying, reclaiming, or finished (CH_OK on: its outcome, in enum charge_result's order). */
enum charge_phase { CH_TRY = 0, CH_RECLAIM, CH_OK, CH_OOM_RETRY, CH_OOM_SELF, CH_NOMEM };

/* __mem_cgroup_try_charge in progress. */
struct charge_state {
	int32_t memcg;
	int32_t pid;                 /* 0: nobody to OOM-kill for (charge moving)    */
	int32_t nr_retries;
	int32_t over;
	int32_t phase;
	struct hrec_state hrec;
};

enum op_status { OP_DONE = 0, OP_MORE = 1, OP_BLOCKED = 2 };

enum fault_phase {
	FP_NEXT = 0,         /* look at the next vpn's pte                         */
	FP_ALLOC,            /* a frame for a new or COW page                       */
	FP_DIRECT,           /* direct reclaim for a frame                          */
	FP_CHARGE,           /* mem_cgroup_newpage_charge, reclaiming as needed     */
	FP_SWAPIN,           /* do_swap_page: swap cache lookup                     */
	FP_READAHEAD,        /* swapin_readahead, one slot per step                 */
	FP_SWAPIN_TARGET,    /* read_swap_cache_async of the faulting slot          */
	FP_SWAPIN_LOCK,      /* lock_page: wait for the read                        */
	FP_SWAPIN_CHARGE,    /* mem_cgroup_try_charge_swapin                        */
	FP_SWAPIN_MAP,       /* pte, rmap, commit, swap_free                        */
	FP_DONE,
	/* what a stop point may answer instead of a next phase (never stored) */
	FP_BLOCKED,          /* waits for a page lock: nothing done, the phase stays */
	FP_RECLAIMING        /* the reclaim inside did this step's work, and ticked  */
};

/* A batch of faults (handle_mm_fault per vpn) in progress. */
struct fault_op {
	int32_t pid;
	int32_t write;
	int32_t lock;                /* mlock: the range becomes VM_LOCKED        */
	int32_t phase;
	int32_t after_direct;        /* where direct reclaim returns to           */
	int32_t cow;                 /* FP_ALLOC makes a COW copy                 */
	int32_t new_pfn;
	int32_t cow_old;             /* do_wp_page's reference on the page it copies */
	int32_t swap_pfn;
	int32_t swap_locked;         /* this fault holds swap_pfn's page lock */
	int32_t swap_off;
	int32_t ra_next, ra_end;     /* the readahead window still to read        */
	int32_t charge_memcg;        /* the memcg a swap-in charged, or 0         */
	int32_t error;               /* a PMC_E* code that stopped the batch      */
	int32_t alone;               /* no other CPU runs: runs of fresh pages may be done in bulk */
	const int64_t *vpns;
	int64_t n, start, i;
	int64_t touched;
	uint64_t orig_pte;           /* pte_same() check before mapping           */
	struct charge_state charge;
	struct reclaim_state direct;
};

enum zap_phase { ZP_PTES = 0, ZP_FINISH, ZP_DONE };

/* zap_page_range (munmap, zap) or exit_mmap in progress. */
struct zap_op {
	int32_t pid;
	int32_t flush;
	int32_t exit;
	int32_t phase;
	const int64_t *vpns;
	int64_t n, start, i;
	int64_t cursor;              /* exit: the next vpn to look at             */
	int64_t zapped;
};

/*
 * The leak figures of semantics.md K4.4 kept up to date (leaks.c): every
 * change that can move a swap slot between classes first "touches" it, which
 * takes the slot's share out of the figures; the share is added back, as the
 * slot then stands, when another slot is touched or the figures are read, so
 * changes nested in one another count once.
 */
struct leak_figures {
	int64_t stale_type1;      /* stale swap-cache pages not anon (Type-1)        */
	int64_t stale_type2;      /* ... anon (Type-2)                               */
	int64_t no_cache;         /* allocated, no pte, no cache page                */
	int64_t orphan;           /* orphan but charged swap-cache pages             */
	int64_t leaked_memsw;     /* swap_cgroup records with no pte                 */
	int64_t saturated;        /* slots whose count saturated: their ptes are unknown */
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

	/* the swap device (one swap_info_struct) and the swap cache */
	const struct swap_ops *swap_ops;
	int64_t nr_swap;            /* si->max                           */
	int64_t nr_swap_pages;      /* free slots                        */
	int64_t total_swap_pages;
	int64_t inuse_pages;
	int32_t lowest_bit, highest_bit, cluster_next, cluster_nr;
	int64_t swapcache_pages;    /* total_swapcache_pages             */

	/* time and the device queue */
	int64_t now;
	struct io_queue io;
	/*
	 * Bumped whenever a page lock is released or a task dies or is marked
	 * for death: what could let a fault waiting in lock_page go on.  Only
	 * compared within one scheduler call (run_cpus's rounds); not state.
	 */
	uint64_t lock_gen;

	/* global reclaim */
	int64_t pages_min, pages_low, pages_high;
	int32_t inactive_ratio;
	int32_t vm_swappiness;
	struct reclaim_stat zone_stat;
	int64_t zone_nr_scan[NR_LRU_LISTS];
	int32_t laptop_mode;
	int32_t debug_check;        /* pmc_check after every replay operation */
	int32_t replay_slow;        /* replays without their fast paths (pmc_set_replay_slow) */

	struct replay *replay;      /* the replay in progress, if any */

	/* page-table pages made ready at start-up (a quicklist), one per 512 frames */
	char *pt_block;
	int64_t pt_block_pages;
	void **pt_free;
	int64_t pt_nfree;
	int64_t nr_pt_pages;        /* NR_PAGETABLE: table pages in use */

	/* shrink batches of the step API, by id; NULL once shrunk */
	struct shrink_batch **batch;
	int32_t nr_batch, cap_batch;

	struct pmc_counters ctr;
	struct leak_figures leak;   /* see leaks.c: up to date once leak_commit ran */
	int32_t leak_pending;       /* the slot whose share is out of the figures, or NIL */
	char errmsg[256];

	/* the reclaim strategy (strategy.c): its table, copied; what its hooks see; its counters */
	struct pmc_strategy ops;
	struct pmc_ctx sctx;
	int64_t sctr[PMC_STRATEGY_COUNTERS];
	uint32_t *scan_memo;        /* by slot: the scan_swap_map hook's answer, tagged with scan_gen */
	uint32_t scan_gen;          /* scan_swap_map allocations so far (wraps)                 */
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
uint64_t *pte_offset_walk(struct task *t, int64_t vpn);       /* pte_offset past the leaf cache */
uint64_t pte_read(const struct task *t, int64_t vpn);         /* 0 if none, no caching */
void pte_prefetch(const struct task *t, int64_t vpn);         /* a hint for the host's cache */
uint64_t *pte_alloc_walk(pmc_engine *e, struct task *t, int64_t vpn);
/* pte_offset's leaf-cache hit inline: sequential batches look up the same pte page in a row */
static inline uint64_t *pte_offset(struct task *t, int64_t vpn)   /* NULL if no pte page */
{
	if (t->leaf_cache && t->leaf_cache_idx == vpn >> PT_BITS)
		return &t->leaf_cache[vpn & (PT_ENTRIES - 1)];
	return pte_offset_walk(t, vpn);
}
static inline uint64_t *pte_alloc(pmc_engine *e, struct task *t, int64_t vpn) /* NULL if out of host memory */
{
	uint64_t *pte = pte_offset(t, vpn);
	return pte ? pte : pte_alloc_walk(e, t, vpn);
}
/*
 * A fault of a present pte that needs nothing but its accessed bit (and its
 * dirty bit on a write): writable if this is a write, outside any locked
 * range (mlock takes the page lock).  The pte, or NULL when the fault must
 * go the long way (handle_mm_fault).
 */
static inline uint64_t *pte_hit(struct task *t, int64_t vpn, int write)
{
	uint64_t *pte = pte_offset(t, vpn);
	const uint64_t want = PTE_PRESENT | (write ? PTE_WRITE : 0);
	return pte && (*pte & (want | PTE_LOCKED)) == want ? pte : NULL;
}
static inline void pte_mkyoung_hit(uint64_t *pte, int write)
{
	*pte |= PTE_YOUNG | (write ? PTE_DIRTY : 0);
}
typedef void (*pte_visit_fn)(pmc_engine *e, int32_t pid, int64_t vpn, uint64_t *pte, void *ctx);
void walk_ptes(pmc_engine *e, int32_t pid, pte_visit_fn fn, void *ctx);
void free_pgtables(pmc_engine *e, struct task *t);
int pt_pool_init(pmc_engine *e);
void pt_pool_destroy(pmc_engine *e);
uint64_t *next_pte(struct task *t, int64_t from, int64_t *vpn);

/* rmap.c */
void page_add_new_anon_rmap(pmc_engine *e, int32_t pfn, int32_t anon_vma, int64_t vpn, int locked);
void page_dup_rmap(pmc_engine *e, int32_t pfn);
void page_remove_rmap(pmc_engine *e, int32_t pfn);
typedef int (*rmap_one_fn)(pmc_engine *e, int32_t pfn, int32_t pid, uint64_t *pte, void *ctx);
int rmap_walk_anon(pmc_engine *e, int32_t pfn, rmap_one_fn fn, void *ctx);
void page_add_anon_rmap(pmc_engine *e, int32_t pfn, int32_t anon_vma, int64_t vpn);
int page_referenced(pmc_engine *e, int32_t pfn, int32_t mem_cgroup);
enum { SWAP_SUCCESS = 0, SWAP_AGAIN, SWAP_FAIL, SWAP_MLOCK };
int try_to_unmap(pmc_engine *e, int32_t pfn);

/* mlock.c */
void mlock_vma_page(pmc_engine *e, int32_t pfn);
int TestSetPageMlocked(pmc_engine *e, int32_t pfn);
void munlock_vma_page(pmc_engine *e, int32_t pfn, int32_t unlocking_pid);

/* memory.c */
void fault_op_init(struct fault_op *f, int32_t pid, const int64_t *vpns, int64_t n, int64_t start, int write, int lock);
int fault_step(pmc_engine *e, struct fault_op *f);
void fault_release(pmc_engine *e, struct fault_op *f);
int64_t fault_would_wait(pmc_engine *e, const struct fault_op *f);
void zap_op_init(struct zap_op *z, int32_t pid, const int64_t *vpns, int64_t n, int64_t start, int flush, int exit);
int zap_step(pmc_engine *e, struct zap_op *z);
void tlb_flush_mmu(pmc_engine *e, struct task *t);
int copy_mm(pmc_engine *e, int32_t parent, int32_t child);

/* task.c */
int task_lookup(pmc_engine *e, int pid, struct task **out);
void do_exit(pmc_engine *e, int32_t pid);
void exit_mm_done(pmc_engine *e, int32_t pid);

/* replay.c */
/* isolated: 0 a reference, 1 a reference off every list, HELD_FROZEN off every list with its count frozen to 0 */
#define HELD_FROZEN 2
typedef void (*held_fn)(void *ctx, int32_t pfn, int isolated);
void replay_held_refs(const pmc_engine *e, held_fn fn, void *ctx);
void replay_held_charges(const pmc_engine *e, int64_t *pending);
void batch_refs(const struct shrink_batch *b, held_fn fn, void *ctx);
int32_t first_open_batch(const pmc_engine *e);
int64_t replay_events(const pmc_engine *e);

/* lru.c (continued) */
void mark_page_accessed(pmc_engine *e, int32_t pfn);

/* memcontrol.c */
enum charge_result mem_cgroup_try_charge(pmc_engine *e, int32_t pid, int32_t memcg);
void mem_cgroup_commit_charge(pmc_engine *e, int32_t memcg, int32_t pfn, enum charge_type ctype);
void mem_cgroup_cancel_charge(pmc_engine *e, int32_t memcg);
int32_t __mem_cgroup_uncharge_common(pmc_engine *e, int32_t pfn, enum charge_type ctype);
void mem_cgroup_uncharge_swapcache(pmc_engine *e, int32_t pfn, int32_t off, int swapout);
void mem_cgroup_uncharge_swap(pmc_engine *e, int32_t off);
int32_t res_charge_page(pmc_engine *e, int32_t memcg, int *noswap);
int64_t mem_cgroup_charge_headroom(const pmc_engine *e, int32_t memcg);
void mem_cgroup_charge_new_pages(pmc_engine *e, int32_t memcg, int64_t k);
int mem_cgroup_check_under_limit(pmc_engine *e, int32_t memcg);
int32_t mem_cgroup_try_charge_swapin(pmc_engine *e, int32_t pfn, int32_t task_memcg);
void mem_cgroup_commit_charge_swapin(pmc_engine *e, int32_t pfn, int32_t memcg);
void mem_cgroup_uncharge_page(pmc_engine *e, int32_t pfn);
int mem_cgroup_in_subtree(const pmc_engine *e, int32_t memcg, int32_t root);
int memcg_valid(const pmc_engine *e, int memcg);
int mem_cgroup_create_root(pmc_engine *e);
int32_t mem_cgroup_swappiness(const pmc_engine *e, int32_t memcg);

/* swapfile.c */
int vm_swap_full(const pmc_engine *e);
void swap_info_init(pmc_engine *e);
int32_t get_swap_page(pmc_engine *e);
void swap_free(pmc_engine *e, int32_t off);
int swap_duplicate(pmc_engine *e, int32_t off);
int page_swapcount(const pmc_engine *e, int32_t pfn);
int try_to_free_swap(pmc_engine *e, int32_t pfn);
int reuse_swap_page(pmc_engine *e, int32_t pfn);
void free_swap_and_cache(pmc_engine *e, int32_t off);
int valid_swaphandles(const pmc_engine *e, int32_t target, int32_t *first);

/* swap_state.c */
void delete_from_swap_cache(pmc_engine *e, int32_t pfn);
int __remove_mapping(pmc_engine *e, int32_t pfn);
int add_to_swap(pmc_engine *e, int32_t pfn);
void free_swap_cache(pmc_engine *e, int32_t pfn);
int32_t read_swap_cache_async(pmc_engine *e, int32_t off);

/* page_io.c */
int bdi_write_congested(const pmc_engine *e);
void io_complete_due(pmc_engine *e);
void advance_time(pmc_engine *e, int64_t t);
int io_wait_one(pmc_engine *e, int rw);
void congestion_wait(pmc_engine *e);
void swap_writepage(pmc_engine *e, int32_t pfn);
void swap_readpage(pmc_engine *e, int32_t pfn);

/* vmscan.c */
void shrink_inactive_list_init(pmc_engine *e, struct shrink_batch *b, const struct scan_control *sc, int32_t nr_to_scan);
int shrink_inactive_list(pmc_engine *e, struct shrink_batch *b);
void shrink_active_list(pmc_engine *e, int64_t nr_pages, struct scan_control *sc, int priority);
void move_page_to_zone_tail(pmc_engine *e, int32_t pfn);
void setup_watermarks(pmc_engine *e);

/* reclaim.c */
void reclaim_init(pmc_engine *e, struct reclaim_state *rs, enum reclaim_kind kind, int32_t memcg,
                  int noswap, int64_t swap_cluster_max);
int reclaim_step(pmc_engine *e, struct reclaim_state *rs);   /* do_try_to_free_pages or balance_pgdat */
int64_t reclaim_run(pmc_engine *e, struct reclaim_state *rs);
void hrec_init(pmc_engine *e, struct hrec_state *h, int32_t root, int noswap);
int hrec_step(pmc_engine *e, struct hrec_state *h);
void charge_init(struct charge_state *cs, int32_t memcg, int32_t pid);
enum charge_result __mem_cgroup_try_charge(pmc_engine *e, struct charge_state *cs);
int64_t try_to_free_mem_cgroup_pages(pmc_engine *e, int32_t memcg, int noswap);
int64_t mem_cgroup_hierarchical_reclaim(pmc_engine *e, int32_t root, int noswap, int shrink);
void wakeup_kswapd(pmc_engine *e);

/* strategy.c */
int strategy_init(pmc_engine *e, const struct pmc_strategy *s);
void strategy_destroy(pmc_engine *e);
int32_t strategy_refuse(pmc_engine *e);
void strategy_uncharge_at_free(pmc_engine *e, int32_t pfn);
void strategy_scan_begin(pmc_engine *e);
int strategy_scan_swap_map(pmc_engine *e, int32_t off);

/* leaks.c */
void leak_touch(pmc_engine *e, int32_t off);
void leak_commit(pmc_engine *e);
static inline void leak_touch_slot(pmc_engine *e, int32_t off)
{
	if (e->leak_pending != off)
		leak_touch(e, off);
}
void leak_recount(pmc_engine *e, struct leak_figures *out);
void leaks_from_figures(const struct leak_figures *lf, struct pmc_leaks *out);

/* oom_kill.c */
int32_t mem_cgroup_out_of_memory(pmc_engine *e, int32_t mem_over_limit, int32_t current);
int32_t out_of_memory(pmc_engine *e, int32_t current);

/* page_io.c's queue state, and tick: inline, as every page-step of every path ticks */
static inline int io_pending(const pmc_engine *e)
{
	return e->io.head != e->io.tail;
}

static inline const struct io_req *io_oldest(const pmc_engine *e)
{
	return &e->io.ring[e->io.head];
}

/* One page-step of work, ns of simulated time. */
static inline void tick(pmc_engine *e, int64_t ns)
{
	e->now += ns;
	if (io_pending(e) && io_oldest(e)->complete_at <= e->now)
		io_complete_due(e);
}

/* get_reclaim_stat (vmscan.c): the memcg's reclaim statistics under memcg reclaim, else the zone's. */
static inline struct reclaim_stat *get_reclaim_stat(pmc_engine *e, const struct scan_control *sc)
{
	return sc->mem_cgroup ? &e->memcg[sc->mem_cgroup].stat_reclaim : &e->zone_stat;
}

/* the page state, spelled like the kernel's helpers */
#define PF(e, pfn) ((e)->a.flags[pfn])
static inline int PageTest(const pmc_engine *e, int32_t pfn, uint32_t f) { return (e->a.flags[pfn] & f) != 0; }
static inline void SetPage(pmc_engine *e, int32_t pfn, uint32_t f) { e->a.flags[pfn] |= f; }
static inline void ClearPage(pmc_engine *e, int32_t pfn, uint32_t f) { e->a.flags[pfn] &= ~f; }
/* The page lock: reclaim and the swap paths only ever trylock it. */
static inline int trylock_page(pmc_engine *e, int32_t pfn)
{
	if (e->a.flags[pfn] & PG_locked)
		return 0;
	e->a.flags[pfn] |= PG_locked;
	return 1;
}
static inline void unlock_page(pmc_engine *e, int32_t pfn)
{
	e->a.flags[pfn] &= ~PG_locked;
	e->lock_gen++;
}

static inline int page_mapped(const pmc_engine *e, int32_t pfn) { return e->a.mapcount[pfn] > 0; }

/* A change to a page's charge or mapping moves its swap slot's leak class only while it is in the swap cache. */
static inline void leak_touch_page(pmc_engine *e, int32_t pfn)
{
	if (e->a.flags[pfn] & PG_swapcache)
		leak_touch_slot(e, (int32_t)e->a.private[pfn]);
}

static inline int32_t pte_pfn(uint64_t pte) { return (int32_t)(pte >> PTE_SHIFT); }
static inline uint64_t mk_pte(int32_t pfn, uint64_t bits) { return ((uint64_t)pfn << PTE_SHIFT) | bits; }

#include "hookpoints.h"   /* the strategy's hook points, called from the kernel paths */

#endif
