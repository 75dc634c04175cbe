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

#include "pymemcg_strategy.h"   /* page flags, pmc_engine, the strategy interface */

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
	PMC_EALLOC = -10,     /* the host could not allocate memory                  */
	PMC_ESTOP = -11       /* an explicit schedule stopped the replay (pmc_stop)  */
};

/* Kernel versions whose behaviour the engine follows. */
enum pmc_kernel { PMC_KERNEL_2_6_30 = 30, PMC_KERNEL_2_6_31 = 31 };

/* The five LRU lists of a zone and of each memcg, in the kernel's order. */
enum pmc_lru {
	LRU_INACTIVE_ANON = 0,
	LRU_ACTIVE_ANON = 1,
	LRU_INACTIVE_FILE = 2,
	LRU_ACTIVE_FILE = 3,
	LRU_UNEVICTABLE = 4,
	NR_LRU_LISTS = 5
};

/* Engine settings; validated by pmc_engine_create. */
struct pmc_config {
	int64_t nr_pages;        /* page frames of RAM                             */
	int64_t nr_swap;         /* swap device size in pages, header page included */
	int32_t kernel;          /* enum pmc_kernel                                */
	int32_t swap_account;    /* do_swap_account                                */
	int32_t page_cluster;    /* log2 of the swap readahead window              */
	int32_t laptop_mode;     /* vm.laptop_mode                                 */
	uint64_t seed;
	const struct pmc_strategy *strategy;   /* the reclaim strategy; NULL: none */
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
	int64_t oom_event;     /* events a replay had dispatched when the OOM killer chose it; -1 */
	int64_t events_skipped; /* replay events of this task skipped after it died  */
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
	int64_t PageTables;
};

/* Engine-wide event counters; Python turns every field into a dict entry. */
struct pmc_counters {
	int64_t pgfault;           /* pages touched by fault calls                 */
	int64_t pgmajfault;        /* faults that had to read swap                 */
	int64_t pgalloc;           /* frames handed out                            */
	int64_t pgfree;            /* frames returned                              */
	int64_t anon_faults;       /* do_anonymous_page                            */
	int64_t cow_faults;        /* do_wp_page that copied                       */
	int64_t cow_reuse;         /* do_wp_page that reused the page              */
	int64_t swapins;           /* do_swap_page that mapped a page              */
	int64_t swapin_cache_hits; /* ... found in the swap cache                  */
	int64_t readahead_pages;   /* pages read by swapin_readahead               */
	int64_t swapouts;          /* successful add_to_swap                       */
	int64_t pswpin;            /* swap reads submitted                         */
	int64_t pswpout;           /* swap writes submitted                        */
	int64_t writeback_done;    /* swap writes completed                        */
	int64_t pgrotated;         /* rotate_reclaimable_page                      */
	int64_t pgscan;            /* pages scanned by shrink_page_list            */
	int64_t pgsteal;           /* pages reclaimed (nr_reclaimed)               */
	int64_t pgactivate;
	int64_t pgdeactivate;
	int64_t pageout_keep;
	int64_t pageout_activate;
	int64_t pageout_success;
	int64_t pageout_clean;
	int64_t writepage_freed_swap; /* swap_writepage dropped an unused slot     */
	int64_t hook_calls;        /* the strategy's after_add_to_swap calls       */
	int64_t hook_freed;        /* ... after which the page was out of the swap cache */
	int64_t swap_reuse;        /* 2.6.31 scan_swap_map reclaimed a cache-only slot */
	int64_t free_swap_trylock_failed; /* free_swap_and_cache/free_swap_cache gave up */
	int64_t kswapd_runs;
	int64_t direct_reclaims;   /* global direct reclaim passes                 */
	int64_t memcg_reclaims;    /* try_to_free_mem_cgroup_pages calls           */
	int64_t congestion_waits;
	int64_t forks;
	int64_t exits;
	int64_t tlb_flushes;       /* tlb_flush_mmu calls that released pages      */
	int64_t charge_failures;   /* try_charge attempts refused by a limit       */
	int64_t oom_kills;
	int64_t global_oom_kills;
	int64_t mlocked;           /* pages moved to the unevictable list          */
	int64_t munlocked;         /* pages moved back from it                     */
	int64_t moved_charges;     /* pages moved to a parent by force_empty/rmdir */
	int64_t strategy_refused;  /* strategy answers and requests the kernel refused */
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

/* What one shrink_page_list batch or reclaim pass did. */
struct pmc_reclaim_result {
	int64_t isolated;
	int64_t scanned;           /* sc->nr_scanned (mapped/swap-cache pages count twice) */
	int64_t reclaimed;         /* nr_reclaimed (pages the hook frees are not counted)  */
	int64_t hook_calls;
	int64_t hook_freed;
	int64_t activated;
	int64_t pageout;
	int64_t pageout_keep;
};

/* Where a shrink batch stands (the step API). */
struct pmc_batch_info {
	int32_t nr;                /* pages isolated                                */
	int32_t idx;               /* the page in hand                              */
	int32_t phase;             /* enum pmc_shrink_phase                         */
	int32_t memcg;             /* 0: global reclaim                             */
	int32_t pfn[32];
	uint8_t outcome[32];       /* enum pmc_page_outcome                         */
};

/*
 * The stop points of a shrink batch (shrink_inactive_list around
 * shrink_page_list), in the order a page goes through them; the core's one
 * list of them.  pmc_shrink_phase_name gives each its Python name.
 */
enum pmc_shrink_phase {
	PMC_SP_ISOLATE = 0,      /* isolate from the inactive anon list              */
	PMC_SP_START,            /* trylock, evictable?, writeback?, page_referenced */
	PMC_SP_ADD_TO_SWAP,      /* add_to_swap and the after_add_to_swap hook       */
	PMC_SP_UNMAP,            /* try_to_unmap                                     */
	PMC_SP_PAGEOUT,          /* dirty checks and pageout                         */
	PMC_SP_REMOVE,           /* __remove_mapping                                 */
	PMC_SP_LABEL,            /* the exit label: activate, unlock, cull, free     */
	PMC_SP_PUTBACK,          /* back onto the LRU, drop the isolation references */
	PMC_SP_DONE
};

/* What happened to each page of a shrink batch (pmc_batch_info's outcome). */
enum pmc_page_outcome { PMC_PO_PENDING = 0, PMC_PO_KEPT, PMC_PO_ACTIVATED, PMC_PO_CULLED, PMC_PO_FREED };

/* Sizes and limits the Python side uses, exported so that it reads them from here. */
enum pmc_limits {
	PMC_PAGE_SIZE = 4096,
	PMC_SWAP_CLUSTER_MAX = 32,        /* pages a shrink batch isolates at most       */
	PMC_TASK_VPN_BITS = 36,           /* vpns are 0 .. 2**36-1 (48-bit addresses)    */
	PMC_FREE_PTE_NR = 506,            /* pages one mmu_gather parks before a flush   */
	PMC_MAX_PAGES = 2147483646        /* RAM frames and swap slots: at most 2**31-2  */
};

/* The leak audit of semantics.md K4.4, in pages or slots. */
struct pmc_leaks {
	int64_t stale_swapcache;
	int64_t stale_swapcache_type1;
	int64_t stale_swapcache_type2;
	int64_t leaked_swap_entries;
	int64_t leaked_memsw;
	int64_t orphan_charged_swapcache;
};

/* The swap device's queue and simulated time. */
struct pmc_io_info {
	int64_t now_ns;
	int32_t writes_in_flight;
	int32_t reads_in_flight;
	int32_t write_congested;
	int32_t vm_swap_full;
	int64_t pages_min;
	int64_t pages_low;
	int64_t pages_high;
};

/* One trace event (pymemcg.trace.TRACE_DTYPE, 24 bytes). */
struct pmc_event {
	uint8_t op;
	uint8_t cpu;
	uint16_t flags;
	uint32_t task;
	int64_t vpn;
	int64_t count;
};

enum pmc_op {
	PMC_OP_SPAWN = 1, PMC_OP_FAULT, PMC_OP_MUNMAP, PMC_OP_FORK, PMC_OP_EXIT, PMC_OP_MLOCK, PMC_OP_MOVE,
	PMC_OP_MKDIR, PMC_OP_NAME, PMC_OP_WRITE, PMC_OP_RECLAIM, PMC_OP_RMDIR
};

enum pmc_write_file {
	PMC_FILE_LIMIT = 1, PMC_FILE_MEMSW_LIMIT, PMC_FILE_SWAPPINESS, PMC_FILE_USE_HIERARCHY,
	PMC_FILE_FORCE_EMPTY, PMC_FILE_FAILCNT, PMC_FILE_MAX_USAGE
};

enum pmc_sched { PMC_SCHED_RR = 0, PMC_SCHED_RANDOM = 1, PMC_SCHED_EXPLICIT = 2 };

/*
 * The explicit scheduler (PMC_SCHED_EXPLICIT, explicit.c).  Actors are the
 * CPUs 0..cpus-1 and kswapd (actor cpus).  A choice point is a pick where two
 * or more actors could run; its choice comes from the caller's schedule, and
 * past it from the default: the actor that ran last, if it can go on with the
 * operation it was running, else the lowest-numbered one that can run.
 */
enum pmc_stop {
	PMC_STOP_NONE = 0,       /* ran to its end                                  */
	PMC_STOP_BOUND = 1,      /* the step bound was reached: a livelock or a lost wake-up */
	PMC_STOP_PRUNED = 2,     /* a choice point past the schedule met a state already explored */
	PMC_STOP_DEADLOCK = 3    /* every operation waits and no I/O is in flight   */
};

/* The machines a step runs in (the operation's own, or the innermost one it is inside). */
enum pmc_machine {
	PMC_M_NONE = 0, PMC_M_FAULT = 1, PMC_M_ZAP = 2, PMC_M_HREC = 3, PMC_M_RECLAIM = 4, PMC_M_SHRINK = 5
};

struct pmc_choice {
	int64_t step;              /* steps taken before it                          */
	uint64_t runnable;         /* bit i: actor i could run                       */
	uint64_t hash;             /* the state's key where it was checked for pruning, else 0 */
	int32_t chosen;
	int32_t prev;              /* the actor of the step before; -1 at the start */
	int32_t keep;              /* prev could go on with its operation            */
	int32_t preempted;         /* keep, and another actor was chosen             */
	int32_t given;             /* the choice came from the schedule (else the default) */
	int32_t pad;
};

/* One step of an explicit replay, logged when asked: where its actor stood before it. */
struct pmc_step {
	int64_t event;             /* trace event of the operation; -1 for kswapd    */
	int64_t vpn;               /* the task's page it works on, or -1             */
	int64_t choice;            /* the choice point it was picked at, or -1       */
	int32_t actor;
	int32_t job;               /* the operation: enum pmc_machine                */
	int32_t outer;             /* the operation's own phase                      */
	int32_t machine;           /* the innermost machine running                  */
	int32_t phase;             /* its phase (pmc_phase_name)                     */
	int32_t pfn;               /* the page a shrink batch holds in hand, or -1   */
	int32_t status;            /* 0 the operation ended, 1 more to do, 2 blocked */
	int32_t pad;
};

struct pmc_explicit_info {
	int64_t choices;           /* choice points recorded                         */
	int64_t steps;             /* steps logged                                   */
	int64_t preemptions;       /* choices that preempted                         */
	int64_t pruned_at;         /* the choice point where it was pruned, or -1    */
	int32_t stop;              /* enum pmc_stop                                  */
	int32_t pad;
};

/* A set of explored state keys, each with the fewest preemptions it was reached with. */
typedef struct pmc_seen pmc_seen;

/* One point of a replay's time series. */
struct pmc_sample {
	int64_t events;            /* events dispatched so far                      */
	int64_t now_ns;            /* simulated time                                */
	int64_t mem_free;          /* pages                                         */
	int64_t swap_used;         /* slots                                         */
	int64_t swap_cached;       /* pages in the swap cache                       */
	int64_t stale;             /* stale swap-cache pages (K4.4)                 */
	int64_t stale_type1;       /* ... not anon: readahead vs free_swap_and_cache */
	int64_t stale_type2;       /* ... anon: unmapped between isolation and add_to_swap */
	int64_t leaked_swap_entries;
	int64_t orphan_charged_swapcache;
	int64_t leaked_memsw;      /* swap_cgroup records with no pte               */
	int64_t hook_calls;
	int64_t hook_freed;
	int64_t pgscan;
	int64_t pgsteal;
	int64_t oom_kills;
	int64_t pswpout;
	int64_t pswpin;
	int64_t pgfault;           /* pages touched by finished faults              */
	int64_t anon_faults;       /* ... first touches                             */
	int64_t swapins;           /* ... mapped back from swap                     */
	int64_t swapin_cache_hits; /* ... of which found in the swap cache          */
	int64_t pgmajfault;        /* ... of which read from the device             */
};

/* Replay totals (besides the engine's counters). */
struct pmc_replay_stats {
	int64_t events;            /* events dispatched                             */
	int64_t steps;             /* scheduler steps taken                         */
	int64_t skipped_dead;      /* events for tasks the OOM killer had killed    */
	int64_t refused;           /* control writes and rmdirs the kernel refused  */
	int64_t max_task;          /* trace task ids seen, plus one                 */
	int64_t max_cgroup;        /* trace cgroup ids seen, plus one               */
	int64_t interleavings;     /* steps where another CPU ran than the last     */
};

/* engine.c */
int pmc_engine_create(const struct pmc_config *cfg, const struct pmc_arrays *arrays,
                      pmc_engine **out, char *err, size_t errlen);
/*
 * The one validation of engine settings (ram, swap, kernel, page_cluster,
 * strategy): 0, or PMC_EINVAL with the reason in err.  pmc_engine_create
 * runs it first; the Python side calls it to check settings without
 * building an engine.
 */
int pmc_validate_settings(const struct pmc_config *cfg, char *err, size_t errlen);
/* The Python names of the stop points and page outcomes, by value; NULL past the last. */
const char *pmc_shrink_phase_name(int phase);
const char *pmc_page_outcome_name(int outcome);
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

/* step.c: reclaim entry points and the step API */
int pmc_isolate(pmc_engine *e, int memcg, int nr);
int pmc_batch_step(pmc_engine *e, int batch);
int pmc_batch_info(const pmc_engine *e, int batch, struct pmc_batch_info *out);
int pmc_shrink_page_list(pmc_engine *e, int batch, struct pmc_reclaim_result *out);
int64_t pmc_shrink_active_list(pmc_engine *e, int memcg, int64_t nr);
int pmc_shrink_inactive_list(pmc_engine *e, int memcg, int64_t nr, int kswapd, struct pmc_reclaim_result *out);
int pmc_reclaim(pmc_engine *e, int memcg, int64_t nr, struct pmc_reclaim_result *out);
int64_t pmc_end_writeback(pmc_engine *e, int64_t n);
int pmc_set_laptop_mode(pmc_engine *e, int on);
int pmc_set_debug_check(pmc_engine *e, int on);
int pmc_set_replay_slow(pmc_engine *e, int on);
int pmc_io_info(const pmc_engine *e, struct pmc_io_info *out);

/* replay.c */
int pmc_replay_begin(pmc_engine *e, int cpus, int sched, uint64_t seed);
int pmc_replay_preload(pmc_engine *e, const int32_t *task_pid, const uint8_t *task_state, int64_t ntask,
                       const int32_t *cg_id, const uint8_t *cg_state, int64_t ncg);
int pmc_replay_alias(pmc_engine *e, int64_t trace_cgroup, int memcg);
int64_t pmc_replay_validate(pmc_engine *e, const struct pmc_event *ev, int64_t n, int64_t base);
int64_t pmc_replay_marks(const pmc_engine *e, int64_t *out, int64_t cap);
int64_t pmc_replay_run(pmc_engine *e, const struct pmc_event *ev, int64_t base, int64_t n, int final,
                       int64_t sample_every, struct pmc_sample *samples, int64_t *cg_usage, int64_t max_samples,
                       int64_t ncg);
int64_t pmc_replay_head(const pmc_engine *e);
int64_t pmc_replay_finish(pmc_engine *e);
int pmc_replay_stats(const pmc_engine *e, struct pmc_replay_stats *out);
int pmc_replay_maps(const pmc_engine *e, int32_t *task_pid, uint8_t *task_state, int64_t ntask, int32_t *cg_id,
                    uint8_t *cg_state, int64_t ncg);
void pmc_replay_end(pmc_engine *e);

/* explicit.c: the explicit scheduler's schedule and records */
int pmc_replay_schedule(pmc_engine *e, const int32_t *choices, int64_t n, int64_t max_steps, pmc_seen *seen,
                        int log_steps);
int64_t pmc_replay_choices(const pmc_engine *e, struct pmc_choice *out, int64_t cap);
int64_t pmc_replay_steps(const pmc_engine *e, struct pmc_step *out, int64_t cap);
int pmc_replay_explicit_info(const pmc_engine *e, struct pmc_explicit_info *out);
const char *pmc_phase_name(int machine, int phase);

/* state_hash.c */
uint64_t pmc_state_hash(const pmc_engine *e);
pmc_seen *pmc_seen_new(void);
void pmc_seen_free(pmc_seen *s);
int64_t pmc_seen_size(const pmc_seen *s);

/* snapshot.c */
int64_t pmc_snapshot_size(pmc_engine *e);
int pmc_snapshot(pmc_engine *e, void *buf, int64_t size);
int pmc_restore(pmc_engine *e, const void *buf, int64_t size);

/* audit.c */
int pmc_check(pmc_engine *e);
int pmc_leaks(pmc_engine *e, struct pmc_leaks *out);

/* strategy.c: the strategies shipped in the core, table checks, a strategy's counters */
const struct pmc_strategy *pmc_strategy_shipped(int i);
const struct pmc_strategy *pmc_strategy_find(const char *name);
int pmc_strategy_check(const struct pmc_strategy *s, char *err, size_t errlen);
int pmc_strategy_counters(const pmc_engine *e, int64_t *out, int n);
int pmc_strategy_set_counters(pmc_engine *e, const int64_t *in, int n);

/* CDEF END */

#endif
