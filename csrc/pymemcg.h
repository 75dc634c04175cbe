/*
 * pymemcg.h - the public interface of the pymemcg core.
 *
 * Everything between the CDEF markers is read verbatim by pymemcg/_build.py
 * as the cffi cdef, so each declaration exists exactly once.  Keep that region
 * free of preprocessor lines: cffi parses it as plain C declarations.
 *
 * Conventions (LMDB style): every function returns 0, a non-negative count or
 * id, or a negative PMC_E* code; the engine keeps a one-line message for the
 * last error (pmc_errmsg).  A call that fails changes no simulated state.
 */
#ifndef PYMEMCG_H
#define PYMEMCG_H

#include <stdint.h>
#include <stddef.h>

/* CDEF BEGIN */

enum pmc_error {
	PMC_OK = 0,
	PMC_EINVAL = -1,      /* bad argument: out-of-range id, vpn, size            */
	PMC_ENOMEM = -2,      /* no free page frame and no way to make one           */
	PMC_ESRCH = -3,       /* the task is not alive                               */
	PMC_ENOENT = -4,      /* the cgroup does not exist (never created, removed)  */
	PMC_EBUSY = -5,       /* the kernel answers EBUSY (tasks, children, usage)   */
	PMC_ECGINVAL = -6,    /* the kernel answers EINVAL to a control-file write   */
	PMC_ENOSPC = -7,      /* out of ids (cgroups, tasks)                         */
	PMC_EINVARIANT = -8,  /* pmc_check found a broken invariant                  */
	PMC_ESTATE = -9,      /* an operation out of sequence (step API misuse)      */
	PMC_EALLOC = -10      /* the host could not allocate memory                  */
};

/* Kernel versions whose behaviour the engine follows. */
enum pmc_kernel { PMC_KERNEL_2_6_30 = 30, PMC_KERNEL_2_6_31 = 31 };

/* Reclaim strategies (hook tables), chosen at engine creation. */
enum pmc_hook { PMC_HOOK_NONE = 0, PMC_HOOK_SEED = 1 };

/* The five LRU lists of a zone and of each memcg, in the kernel's order. */
enum pmc_lru {
	LRU_INACTIVE_ANON = 0,
	LRU_ACTIVE_ANON = 1,
	LRU_INACTIVE_FILE = 2,
	LRU_ACTIVE_FILE = 3,
	LRU_UNEVICTABLE = 4,
	NR_LRU_LISTS = 5
};

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

/* Engine settings; validated by pmc_engine_create. */
struct pmc_config {
	int64_t nr_pages;        /* page frames of RAM                             */
	int64_t nr_swap;         /* swap device size in pages, header page included */
	int32_t kernel;          /* enum pmc_kernel                                */
	int32_t hook;            /* enum pmc_hook                                  */
	int32_t swap_account;    /* do_swap_account                                */
	int32_t page_cluster;    /* log2 of the swap readahead window              */
	int32_t laptop_mode;     /* vm.laptop_mode                                 */
	uint64_t seed;
};

/*
 * Per-frame and per-slot state.  The caller (numpy) owns these arrays, sized
 * nr_pages and nr_swap, and keeps them alive as long as the engine; the engine
 * only borrows them.  48 bytes per frame, 8 per swap slot.
 */
struct pmc_arrays {
	uint32_t *flags;       /* enum pmc_page_flag                               */
	int32_t *count;        /* page->_count                                     */
	int32_t *mapcount;     /* present ptes mapping the page (_mapcount + 1)    */
	uint32_t *private;     /* swap offset while PG_swapcache, else 0           */
	int32_t *anon_vma;     /* fork family (anon_vma id) of an anon page        */
	int64_t *vpn;          /* virtual page number in that family               */
	int32_t *memcg;        /* pc->mem_cgroup (kept stale after uncharge)       */
	int32_t *lru_prev;     /* zone LRU links (free list uses lru_next)         */
	int32_t *lru_next;
	int32_t *mlru_prev;    /* memcg LRU links (pc->lru)                        */
	int32_t *mlru_next;
	uint16_t *swap_map;    /* by swap offset                                   */
	uint16_t *swap_cgroup; /* by swap offset: memcg id owning the memsw charge */
	int32_t *swap_cache;   /* by swap offset: pfn in the swap cache, or -1     */
};

/* A task, as Python sees it. */
struct pmc_task_info {
	int32_t alive;
	int32_t oom_killed;
	int32_t memcg;
	int32_t anon_vma;
	int64_t rss;           /* present ptes                                     */
	int64_t swap_ptes;     /* swap entries held by its ptes                    */
	int32_t gather_nr;     /* page references parked in its mmu_gather        */
	int32_t locked_ptes;   /* ptes inside VM_LOCKED ranges                     */
};

/* One res_counter. */
struct pmc_res_counter {
	uint64_t usage;
	uint64_t max_usage;
	uint64_t limit;
	uint64_t failcnt;
};

/* Everything memory.* files show for one memcg. */
struct pmc_memcg_info {
	int32_t parent;            /* 0 for the root                                */
	int32_t removed;
	int32_t use_hierarchy;
	int32_t swappiness;
	int32_t nr_tasks;
	int32_t nr_children;
	int32_t refcnt;            /* swap_cgroup records pinning it                */
	int32_t pad;
	struct pmc_res_counter res;
	struct pmc_res_counter memsw;
	/* local memory.stat, in pages (pgpgin/pgpgout are events) */
	int64_t cache;
	int64_t rss;
	int64_t pgpgin;
	int64_t pgpgout;
	int64_t lru[5];
	/* the same summed over the hierarchy (total_*) */
	int64_t total_cache;
	int64_t total_rss;
	int64_t total_pgpgin;
	int64_t total_pgpgout;
	int64_t total_lru[5];
	uint64_t hierarchical_memory_limit;
	uint64_t hierarchical_memsw_limit;
};

/* /proc/meminfo lines the engine models, in pages. */
struct pmc_meminfo {
	int64_t MemTotal;
	int64_t MemFree;
	int64_t SwapTotal;
	int64_t SwapFree;
	int64_t SwapCached;
	int64_t Active_anon;
	int64_t Inactive_anon;
	int64_t Unevictable;
	int64_t Mlocked;
	int64_t AnonPages;
};

/* Engine-wide event counters; Python turns every field into a dict entry. */
struct pmc_counters {
	int64_t pgfault;           /* pages touched by fault calls                 */
	int64_t pgalloc;           /* frames handed out                            */
	int64_t pgfree;            /* frames returned                              */
	int64_t anon_faults;       /* do_anonymous_page                            */
	int64_t cow_faults;        /* do_wp_page that copied                       */
	int64_t cow_reuse;         /* do_wp_page that reused the page              */
	int64_t forks;
	int64_t exits;
	int64_t tlb_flushes;       /* tlb_flush_mmu calls that released pages      */
	int64_t charge_failures;   /* try_charge attempts refused by a limit       */
	int64_t oom_kills;
	int64_t mlocked;           /* pages moved to the unevictable list          */
	int64_t munlocked;         /* pages moved back from it                     */
	int64_t moved_charges;     /* pages moved to a parent by force_empty/rmdir */
};

/* Counters reset by memory.max_usage_in_bytes / memory.failcnt writes. */
enum pmc_memcg_reset {
	PMC_RESET_MAX_USAGE = 0,
	PMC_RESET_FAILCNT = 1,
	PMC_RESET_MEMSW_MAX_USAGE = 2,
	PMC_RESET_MEMSW_FAILCNT = 3
};

/* pte encoding (pmc_pte_lookup); the pfn or swap offset sits above PTE_SHIFT. */
enum pmc_pte_bits {
	PTE_PRESENT = 1,
	PTE_WRITE = 2,
	PTE_YOUNG = 4,
	PTE_DIRTY = 8,
	PTE_LOCKED = 16,   /* the vpn lies in a VM_LOCKED range                    */
	PTE_SWAP = 32,     /* the pte holds a swap entry                           */
	PTE_SHIFT = 8
};

typedef struct pmc_engine pmc_engine;

/* engine.c */
int pmc_engine_create(const struct pmc_config *cfg, const struct pmc_arrays *arrays,
                      pmc_engine **out, char *err, size_t errlen);
void pmc_engine_destroy(pmc_engine *e);
const char *pmc_errmsg(const pmc_engine *e);
const char *pmc_strerror(int code);
int pmc_counters(const pmc_engine *e, struct pmc_counters *out);
int pmc_meminfo(const pmc_engine *e, struct pmc_meminfo *out);
int pmc_root_memcg(const pmc_engine *e);

/* memory.c: tasks.  vpns == NULL means the range [start, start + n). */
int pmc_spawn(pmc_engine *e, int memcg);
int64_t pmc_fault(pmc_engine *e, int pid, const int64_t *vpns, int64_t n, int64_t start, int write);
int64_t pmc_mlock(pmc_engine *e, int pid, const int64_t *vpns, int64_t n, int64_t start);
int64_t pmc_zap(pmc_engine *e, int pid, const int64_t *vpns, int64_t n, int64_t start, int flush);
int pmc_tlb_flush(pmc_engine *e, int pid);
int pmc_exit(pmc_engine *e, int pid);
int pmc_fork(pmc_engine *e, int pid);
int pmc_move(pmc_engine *e, int pid, int memcg);
int pmc_task_info(const pmc_engine *e, int pid, struct pmc_task_info *out);
int pmc_task_pids(const pmc_engine *e, int memcg, int32_t *out, int cap);
int64_t pmc_pte_lookup(const pmc_engine *e, int pid, int64_t vpn);

/* memcontrol.c: cgroups */
int pmc_memcg_create(pmc_engine *e, int parent);
int pmc_memcg_rmdir(pmc_engine *e, int memcg);
int pmc_memcg_force_empty(pmc_engine *e, int memcg);
int pmc_memcg_resize_limit(pmc_engine *e, int memcg, uint64_t val);
int pmc_memcg_resize_memsw_limit(pmc_engine *e, int memcg, uint64_t val);
int pmc_memcg_set_use_hierarchy(pmc_engine *e, int memcg, uint64_t val);
int pmc_memcg_set_swappiness(pmc_engine *e, int memcg, uint64_t val);
int pmc_memcg_reset(pmc_engine *e, int memcg, int which);
int pmc_memcg_info(const pmc_engine *e, int memcg, struct pmc_memcg_info *out);

/* audit.c */
int pmc_check(pmc_engine *e);

/* CDEF END */

#endif
