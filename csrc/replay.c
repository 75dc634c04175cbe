/*
 * replay.c - a trace on several simulated CPUs (docs/architecture.md "Resumable
 * machines and stop points", docs/replay.md).
 *
 * Each event runs on its CPU (event.cpu modulo the CPU count), which takes
 * its events in trace order, one operation at a time; an event also waits for
 * the earlier events of its task, and cgroup changes (mkdir, rmdir, control
 * writes) wait for everything before them and hold back everything after.  Faults, unmaps, exits and reclaim are
 * machines advanced one page-step at a time; kswapd is an actor of its own,
 * woken below the low watermark.  The scheduler picks the next actor to step
 * round-robin or from a seeded generator, so the same trace, seed and
 * settings replay identically, and with one CPU nothing ever interleaves.
 *
 * Simplifications: control-file writes, spawn, fork, move, mkdir and rmdir
 * are single steps; a task's events wait while an operation of that task is
 * still running on another CPU.
 */
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "replay.h"

#define MAX_TRACE_TASKS (1 << 26)
#define NAME_CHUNK 16
#define NAME_MAX 255

static uint64_t splitmix64(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static inline int random_sched(const struct replay *r)
{
	return r->sched == PMC_SCHED_RANDOM;
}

void pmc_replay_end(pmc_engine *e)
{
	struct replay *r = e->replay;
	if (!r)
		return;
	for (int32_t pid = 1; pid < e->nr_task; pid++)
		e->task[pid].busy = 0;
	explicit_free(r->ex);
	free(r->actor);
	free(r->marks);
	free(r->vtask);
	free(r->task_pid);
	free(r);
	e->replay = NULL;
}

int pmc_replay_begin(pmc_engine *e, int cpus, int sched, uint64_t seed)
{
	if (cpus < 1 || cpus > 256)
		return pmc_err(e, PMC_EINVAL, "cpus must be 1..256, got %d", cpus);
	if (sched != PMC_SCHED_RR && sched != PMC_SCHED_RANDOM && sched != PMC_SCHED_EXPLICIT)
		return pmc_err(e, PMC_EINVAL, "unknown scheduler %d", sched);
	if (sched == PMC_SCHED_EXPLICIT && cpus > EXPLICIT_MAX_CPUS)
		return pmc_err(e, PMC_EINVAL, "the explicit scheduler runs at most %d cpus, got %d", EXPLICIT_MAX_CPUS, cpus);
	int32_t open = first_open_batch(e);
	if (open >= 0)
		return pmc_err(e, PMC_ESTATE, "shrink batch %d is still isolated: finish it before a replay", open);
	pmc_replay_end(e);
	struct replay *r = calloc(1, sizeof *r);
	if (!r || !(r->actor = calloc((size_t)cpus + 1, sizeof *r->actor)) ||
	    (sched == PMC_SCHED_EXPLICIT && !(r->ex = explicit_new(cpus)))) {
		if (r)
			free(r->actor);
		free(r);
		return pmc_err(e, PMC_EALLOC, "cannot allocate a replay");
	}
	r->ncpus = cpus;
	/* explicit, and more CPUs than run_cpus keeps in its masks: the reference path */
	r->fast = !e->replay_slow && sched != PMC_SCHED_EXPLICIT && cpus <= CPUS_MAX;
	r->kswapd = &r->actor[cpus];
	for (int c = 0; c < 256; c++)
		r->cpu_of[c] = (uint8_t)(c % cpus);
	r->sched = sched;
	r->rng = seed;
	r->last = cpus;
	r->freed = 1;
	r->vcg[0] = V_LIVE;
	r->cg_id[0] = pmc_root_memcg(e);
	e->replay = r;
	return 0;
}

/* --- what operations in flight hold (for the audit) -------------------------------- */

/* The pages a batch holds isolated (the one __remove_mapping froze holds no reference). */
void batch_refs(const struct shrink_batch *b, held_fn fn, void *ctx)
{
	if (b->phase == PMC_SP_ISOLATE || b->phase == PMC_SP_DONE)
		return;
	for (int i = 0; i < b->nr; i++) {
		if (i == b->idx && b->phase == PMC_SP_LABEL && b->label == L_FREE)
			fn(ctx, b->pfn[i], HELD_FROZEN);
		else if (b->outcome[i] == PO_NONE || b->outcome[i] == PO_KEEP || b->outcome[i] == PO_ACTIVATE)
			fn(ctx, b->pfn[i], 1);
	}
}

static void reclaim_refs(const struct reclaim_state *rs, held_fn fn, void *ctx)
{
	if (rs->phase == RP_BATCH)
		batch_refs(&rs->batch, fn, ctx);
}

static void hrec_refs(const struct hrec_state *h, held_fn fn, void *ctx)
{
	if (h->phase == HR_SCAN)
		reclaim_refs(&h->scan, fn, ctx);
}

static void fault_refs(const struct fault_op *f, held_fn fn, void *ctx)
{
	if (f->phase == FP_DONE)
		return;
	if (f->new_pfn != NIL)
		fn(ctx, f->new_pfn, 1);             /* allocated, on no list yet */
	if (f->cow_old != NIL)
		fn(ctx, f->cow_old, 0);
	if (f->swap_pfn != NIL)
		fn(ctx, f->swap_pfn, 0);
	if (f->phase == FP_DIRECT)
		reclaim_refs(&f->direct, fn, ctx);
	if ((f->phase == FP_CHARGE || f->phase == FP_SWAPIN_CHARGE) && f->charge.phase == CH_RECLAIM)
		hrec_refs(&f->charge.hrec, fn, ctx);
}

/* Call fn for every page reference an operation in flight holds (isolated: off every list). */
void replay_held_refs(const pmc_engine *e, held_fn fn, void *ctx)
{
	const struct replay *r = e->replay;
	if (!r)
		return;
	for (int i = 0; i <= r->ncpus; i++) {
		const struct actor *a = &r->actor[i];
		switch (a->job) {
		case ACT_FAULT: fault_refs(&a->u.fault, fn, ctx); break;
		case ACT_HREC: hrec_refs(&a->u.hrec, fn, ctx); break;
		case ACT_RECLAIM: reclaim_refs(&a->u.rs, fn, ctx); break;
		default: break;
		}
	}
}

/*
 * Add to pending[memcg] the page charges operations in flight hold but have
 * not committed to a page: a swap-in charged before its pte is set.
 */
void replay_held_charges(const pmc_engine *e, int64_t *pending)
{
	const struct replay *r = e->replay;
	if (!r)
		return;
	for (int i = 0; i <= r->ncpus; i++) {
		const struct actor *a = &r->actor[i];
		if (a->job == ACT_FAULT && a->u.fault.phase == FP_SWAPIN_MAP && a->u.fault.charge_memcg)
			pending[a->u.fault.charge_memcg]++;
	}
}

/* --- validation ------------------------------------------------------------------ */

static int grow_tasks(pmc_engine *e, struct replay *r, int64_t id)
{
	if (id < r->vtask_cap)
		return 0;
	int64_t cap = r->vtask_cap ? r->vtask_cap : 1024;
	while (cap <= id)
		cap *= 2;
	uint8_t *v = realloc(r->vtask, (size_t)cap);
	int32_t *p = realloc(r->task_pid, (size_t)cap * sizeof *p);
	if (v)
		r->vtask = v;
	if (p)
		r->task_pid = p;
	if (!v || !p)
		return pmc_err(e, PMC_EALLOC, "cannot grow the trace's task table");
	memset(r->vtask + r->vtask_cap, 0, (size_t)(cap - r->vtask_cap));
	memset(r->task_pid + r->vtask_cap, 0, (size_t)(cap - r->vtask_cap) * sizeof *p);
	r->vtask_cap = cap;
	return 0;
}

/*
 * Continue a trace replayed before: its task and cgroup ids keep the pids
 * and memcgs they had, and the trace's own view of which ids exist (as
 * pmc_replay_maps returned them): a task the OOM killer took is still one
 * the trace may name (its events are skipped), one the trace exited is not.
 * Without the states (NULL: an engine saved before they were kept), tasks
 * that died and cgroups removed since count as gone.
 */
int pmc_replay_preload(pmc_engine *e, const int32_t *task_pid, const uint8_t *task_state, int64_t ntask,
                       const int32_t *cg_id, const uint8_t *cg_state, int64_t ncg)
{
	struct replay *r = e->replay;
	if (!r)
		return pmc_err(e, PMC_ESTATE, "no replay begun");
	if (ntask < 0 || ntask > MAX_TRACE_TASKS || ncg < 0 || ncg > MAX_MEMCG + 1)
		return pmc_err(e, PMC_EINVAL, "trace maps of %lld tasks and %lld cgroups", (long long)ntask, (long long)ncg);
	if (ntask && grow_tasks(e, r, ntask - 1))
		return PMC_EALLOC;
	for (int64_t t = 0; t < ntask; t++) {
		int32_t pid = task_pid[t];
		if (pid < 0 || pid >= e->nr_task || (task_state && task_state[t] > V_GONE))
			return pmc_err(e, PMC_EINVAL, "trace task %lld: pid %d, state %d", (long long)t, pid,
			               task_state ? task_state[t] : -1);
		r->task_pid[t] = pid;
		r->vtask[t] = task_state ? task_state[t] : pid > 0 && e->task[pid].state == TASK_ALIVE ? V_LIVE
		                                         : pid ? V_GONE : V_UNKNOWN;
	}
	r->st.max_task = ntask;
	for (int64_t c = 1; c < ncg; c++) {
		if (cg_id[c] < 0 || cg_id[c] >= e->nr_memcg || (cg_state && cg_state[c] > V_GONE))
			return pmc_err(e, PMC_EINVAL, "trace cgroup %lld: memcg %d, state %d", (long long)c, cg_id[c],
			               cg_state ? cg_state[c] : -1);
		r->cg_id[c] = cg_id[c];
		r->vcg[c] = cg_state ? cg_state[c] : memcg_valid(e, cg_id[c]) ? V_LIVE : cg_id[c] ? V_GONE : V_UNKNOWN;
	}
	r->st.max_cgroup = ncg;
	return 0;
}

/*
 * A trace's mkdir of a directory the engine already has: the kernel answers
 * EEXIST, and what the trace then does with that path acts on the existing
 * cgroup.  The mkdir event will count as refused.
 */
int pmc_replay_alias(pmc_engine *e, int64_t trace_cgroup, int memcg)
{
	struct replay *r = e->replay;
	if (!r)
		return pmc_err(e, PMC_ESTATE, "no replay begun");
	if (trace_cgroup < 1 || trace_cgroup > MAX_MEMCG || !memcg_valid(e, memcg))
		return pmc_err(e, PMC_EINVAL, "cannot alias trace cgroup %lld to memcg %d", (long long)trace_cgroup, memcg);
	r->cg_id[trace_cgroup] = memcg;
	return 0;
}

#define BAD(...) return pmc_err(e, PMC_EINVAL, __VA_ARGS__)

static int v_task(pmc_engine *e, struct replay *r, int64_t idx, uint32_t task, int want_new)
{
	if (task >= MAX_TRACE_TASKS)
		BAD("event %lld: task id %u is too large (at most %d)", (long long)idx, task, MAX_TRACE_TASKS - 1);
	if (grow_tasks(e, r, task))
		return PMC_EALLOC;
	if (want_new) {
		if (r->vtask[task] != V_UNKNOWN)
			BAD("event %lld: task %u already exists", (long long)idx, task);
		r->vtask[task] = V_LIVE;
		if (task >= r->st.max_task)
			r->st.max_task = task + 1;
	} else if (r->vtask[task] != V_LIVE) {
		BAD("event %lld: task %u used %s", (long long)idx, task,
		    r->vtask[task] == V_GONE ? "after its exit" : "before it was spawned");
	}
	return 0;
}

static int v_cg(pmc_engine *e, struct replay *r, int64_t idx, int64_t cg)
{
	if (cg < 0 || cg > MAX_MEMCG || r->vcg[cg] != V_LIVE)
		BAD("event %lld: cgroup %lld does not exist", (long long)idx, (long long)cg);
	return 0;
}

static int v_range(pmc_engine *e, int64_t idx, const struct pmc_event *ev)
{
	if (ev->vpn < 0 || ev->count < 1 || ev->count > TASK_VPN_LIMIT || ev->vpn > TASK_VPN_LIMIT - ev->count)
		BAD("event %lld: pages [%lld, +%lld) outside [0, 2^%d)", (long long)idx, (long long)ev->vpn,
		    (long long)ev->count, TASK_VPN_BITS);
	return 0;
}

/* A mkdir's name, from the name events after it; *k gets how many. */
static int v_name(pmc_engine *e, const struct pmc_event *ev, int64_t n, int64_t i, int64_t idx, int *k)
{
	int64_t len = ev[i].count;
	if (len < 1 || len > NAME_MAX)
		BAD("event %lld: a cgroup name is 1 to %d bytes, not %lld", (long long)idx, NAME_MAX, (long long)len);
	*k = (int)((len + NAME_CHUNK - 1) / NAME_CHUNK);
	if (i + *k >= n)
		BAD("event %lld: mkdir's name events are missing (truncated trace)", (long long)idx);
	char name[NAME_MAX + NAME_CHUNK];
	for (int j = 0; j < *k; j++) {
		if (ev[i + 1 + j].op != PMC_OP_NAME)
			BAD("event %lld: mkdir needs %d name events after it", (long long)idx, *k);
		memcpy(name + NAME_CHUNK * j, &ev[i + 1 + j].vpn, 8);
		memcpy(name + NAME_CHUNK * j + 8, &ev[i + 1 + j].count, 8);
	}
	for (int64_t c = 0; c < len; c++)
		if (name[c] == '/' || name[c] == '\0')
			BAD("event %lld: a cgroup name may not hold '/' or NUL", (long long)idx);
	if ((len == 1 && name[0] == '.') || (len == 2 && name[0] == '.' && name[1] == '.'))
		BAD("event %lld: '.' and '..' are not cgroup names", (long long)idx);
	return 0;
}

/* Note a cgroup change's event index, so that Python need not scan the trace for them. */
static int mark(pmc_engine *e, struct replay *r, int64_t idx)
{
	if (r->nmarks == r->cap_marks) {
		int64_t cap = r->cap_marks ? 2 * r->cap_marks : 64;
		int64_t *m = realloc(r->marks, (size_t)cap * sizeof *m);
		if (!m)
			return pmc_err(e, PMC_EALLOC, "cannot grow the list of cgroup events");
		r->marks = m;
		r->cap_marks = cap;
	}
	r->marks[r->nmarks++] = idx;
	return 0;
}

/* The event indices of the mkdir and rmdir events validated so far, in trace order; returns how many. */
int64_t pmc_replay_marks(const pmc_engine *e, int64_t *out, int64_t cap)
{
	const struct replay *r = e->replay;
	if (!r)
		return PMC_ESTATE;
	for (int64_t i = 0; i < r->nmarks && i < cap; i++)
		out[i] = r->marks[i];
	return r->nmarks;
}

/*
 * Check a chunk of events against the trace so far: known ops, ids used only
 * while they exist, pages inside the address space.  A replay validates the
 * whole trace before it applies any of it.  Returns 0 or the error.
 */
int64_t pmc_replay_validate(pmc_engine *e, const struct pmc_event *ev, int64_t n, int64_t base)
{
	struct replay *r = e->replay;
	if (!r)
		return pmc_err(e, PMC_ESTATE, "no replay begun");
	for (int64_t i = 0; i < n; i++) {
		/* the common case first, in a loop of its own: faults of live tasks, inside the address space */
		const uint8_t *vtask = r->vtask;
		const int64_t cap = r->vtask_cap;
		for (; i < n; i++) {
			const struct pmc_event *v = &ev[i];
			if (v->op != PMC_OP_FAULT || (v->flags & ~1u) || v->task >= cap || vtask[v->task] != V_LIVE ||
			    v->vpn < 0 || v->count < 1 || v->count > TASK_VPN_LIMIT || v->vpn > TASK_VPN_LIMIT - v->count)
				break;
		}
		if (i == n)
			break;
		const struct pmc_event *v = &ev[i];
		int64_t idx = base + i;
		int rc = 0, k;
		switch (v->op) {
		case PMC_OP_SPAWN:
			rc = v_cg(e, r, idx, v->vpn);
			if (!rc)
				rc = v_task(e, r, idx, v->task, 1);
			break;
		case PMC_OP_FAULT:
			if (v->flags & ~1u)
				BAD("event %lld: unknown fault flags %#x", (long long)idx, v->flags);
			/* fall through */
		case PMC_OP_MUNMAP:
			if (v->op == PMC_OP_MUNMAP && (v->flags & ~1u))
				BAD("event %lld: unknown munmap flags %#x", (long long)idx, v->flags);
			/* fall through */
		case PMC_OP_MLOCK:
			rc = v_task(e, r, idx, v->task, 0);
			if (!rc)
				rc = v_range(e, idx, v);
			break;
		case PMC_OP_FORK:
			rc = v_task(e, r, idx, v->task, 0);
			if (!rc && (v->vpn < 0 || v->vpn > UINT32_MAX))
				BAD("event %lld: child task id %lld out of range", (long long)idx, (long long)v->vpn);
			if (!rc)
				rc = v_task(e, r, idx, (uint32_t)v->vpn, 1);
			break;
		case PMC_OP_EXIT:
			rc = v_task(e, r, idx, v->task, 0);
			if (!rc)
				r->vtask[v->task] = V_GONE;
			break;
		case PMC_OP_MOVE:
			rc = v_task(e, r, idx, v->task, 0);
			if (!rc)
				rc = v_cg(e, r, idx, v->vpn);
			break;
		case PMC_OP_MKDIR:
			if (mark(e, r, idx))
				return PMC_EALLOC;
			if (v->task == 0 || v->task > MAX_MEMCG || r->vcg[v->task] != V_UNKNOWN)
				BAD("event %lld: cgroup id %u is taken or out of range", (long long)idx, v->task);
			rc = v_cg(e, r, idx, v->vpn);
			if (!rc)
				rc = v_name(e, ev, n, i, idx, &k);
			if (rc)
				return rc;
			r->vcg[v->task] = V_LIVE;
			if (v->task >= r->st.max_cgroup)
				r->st.max_cgroup = v->task + 1;
			i += k;
			break;
		case PMC_OP_WRITE:
			rc = v_cg(e, r, idx, v->task);
			if (!rc && (v->flags < PMC_FILE_LIMIT || v->flags > PMC_FILE_MAX_USAGE))
				BAD("event %lld: unknown control file %u", (long long)idx, v->flags);
			if (!rc && v->count < 0)
				BAD("event %lld: negative control-file value %lld", (long long)idx, (long long)v->count);
			break;
		case PMC_OP_RECLAIM:
			if (v->flags > 1)
				BAD("event %lld: unknown reclaim flags %#x", (long long)idx, v->flags);
			if (!(v->flags & 1))
				rc = v_cg(e, r, idx, v->task);
			if (!rc && (v->count < 1 || v->count > (1 << 30)))
				BAD("event %lld: reclaim of %lld pages", (long long)idx, (long long)v->count);
			break;
		case PMC_OP_RMDIR:
			if (mark(e, r, idx))
				return PMC_EALLOC;
			if (v->task == 0)
				BAD("event %lld: the root cgroup cannot be removed", (long long)idx);
			rc = v_cg(e, r, idx, v->task);
			if (!rc)
				r->vcg[v->task] = V_GONE;
			break;
		case PMC_OP_NAME:
			BAD("event %lld: a name event that does not follow a mkdir", (long long)idx);
		default:
			BAD("event %lld: unknown op %u", (long long)idx, v->op);
		}
		if (rc)
			return rc;
	}
	return 0;
}

/* --- running ------------------------------------------------------------------------ */

static int task_usable(const pmc_engine *e, int32_t pid)
{
	return pid > 0 && e->task[pid].state == TASK_ALIVE && !e->task[pid].memdie;
}

/* The events a replay has dispatched so far (when the OOM killer struck), or -1 outside a replay. */
int64_t replay_events(const pmc_engine *e)
{
	return e->replay ? e->replay->st.events : -1;
}

/* An event of a task that died (OOM-killed) is skipped, and counted against the task. */
static void skip_dead(pmc_engine *e, struct replay *r, int32_t pid)
{
	r->st.skipped_dead++;
	if (pid > 0)
		e->task[pid].events_skipped++;
}

static void take_sample(pmc_engine *e, struct replay *r, struct pmc_sample *s, int64_t *cg_usage, int64_t ncg)
{
	struct pmc_leaks lk;
	pmc_leaks(e, &lk);                   /* O(1) from the kept figures (leaks.c) */
	*s = (struct pmc_sample){
		.events = r->st.events, .now_ns = e->now, .mem_free = e->nr_free,
		.swap_used = e->total_swap_pages - e->nr_swap_pages, .swap_cached = e->swapcache_pages,
		.stale = lk.stale_swapcache, .stale_type1 = lk.stale_swapcache_type1,
		.stale_type2 = lk.stale_swapcache_type2, .leaked_swap_entries = lk.leaked_swap_entries,
		.orphan_charged_swapcache = lk.orphan_charged_swapcache, .leaked_memsw = lk.leaked_memsw,
		.hook_calls = e->ctr.hook_calls,
		.hook_freed = e->ctr.hook_freed, .pgscan = e->ctr.pgscan, .pgsteal = e->ctr.pgsteal,
		.oom_kills = e->ctr.oom_kills + e->ctr.global_oom_kills, .pswpout = e->ctr.pswpout,
		.pswpin = e->ctr.pswpin, .pgfault = e->ctr.pgfault, .anon_faults = e->ctr.anon_faults,
		.swapins = e->ctr.swapins, .swapin_cache_hits = e->ctr.swapin_cache_hits,
		.pgmajfault = e->ctr.pgmajfault };
	for (int64_t c = 0; c < ncg; c++) {
		int32_t id = c <= MAX_MEMCG ? r->cg_id[c] : 0;
		cg_usage[2 * c] = id ? (int64_t)e->memcg[id].res.usage : 0;
		cg_usage[2 * c + 1] = id ? (int64_t)e->memcg[id].memsw.usage : 0;
	}
}

static void apply_write(pmc_engine *e, struct replay *r, const struct pmc_event *v)
{
	int32_t id = r->cg_id[v->task];
	uint64_t val = (uint64_t)v->count;
	int rc = PMC_ENOENT;
	if (memcg_valid(e, id)) {
		switch (v->flags) {
		case PMC_FILE_LIMIT: rc = pmc_memcg_resize_limit(e, id, (val + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1)); break;
		case PMC_FILE_MEMSW_LIMIT:
			rc = pmc_memcg_resize_memsw_limit(e, id, (val + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1));
			break;
		case PMC_FILE_SWAPPINESS: rc = pmc_memcg_set_swappiness(e, id, val); break;
		case PMC_FILE_USE_HIERARCHY: rc = pmc_memcg_set_use_hierarchy(e, id, val); break;
		case PMC_FILE_FORCE_EMPTY: rc = pmc_memcg_force_empty(e, id); break;
		case PMC_FILE_FAILCNT: rc = pmc_memcg_reset(e, id, PMC_RESET_FAILCNT); break;
		case PMC_FILE_MAX_USAGE: rc = pmc_memcg_reset(e, id, PMC_RESET_MAX_USAGE); break;
		}
	}
	if (rc < 0)
		r->st.refused++;
}

/* The CPU an event runs on (no division when there is one CPU). */
static inline int event_cpu(const struct replay *r, const struct pmc_event *v)
{
	return r->cpu_of[v->cpu];
}

/* A fault, mlock, munmap or exit of a live task starts on its CPU (the actor a). */
static inline void start_task_op(pmc_engine *e, struct actor *a, const struct pmc_event *v, int32_t pid)
{
	if (v->op == PMC_OP_EXIT || v->op == PMC_OP_MUNMAP) {
		int exit = v->op == PMC_OP_EXIT;
		/* munmap flag 1: zap only, the references stay parked in the gather for a later flush */
		zap_op_init(&a->u.zap, pid, NULL, exit ? TASK_VPN_LIMIT : v->count, exit ? 0 : v->vpn,
		            exit || !(v->flags & 1), exit);
		a->job = ACT_ZAP;
		if (exit)
			e->task[pid].exiting = 1;
	} else {
		fault_op_init(&a->u.fault, pid, NULL, v->count, v->vpn, v->flags & 1 || v->op == PMC_OP_MLOCK,
		              v->op == PMC_OP_MLOCK);
		a->job = ACT_FAULT;
	}
	a->pid = pid;
	e->task[pid].busy = 1;
}

static int64_t event_index(const struct replay *r, const struct pmc_event *v);

/*
 * Start one event on its CPU.  Returns the events consumed (a mkdir takes its
 * name events along), or 0 when the CPU or the task is still busy.
 */
static int dispatch(pmc_engine *e, struct replay *r, const struct pmc_event *v)
{
	struct actor *a = &r->actor[event_cpu(r, v)];
	if (a->job)
		return 0;
	if (a->vtime < e->now)
		a->vtime = e->now;              /* an idle CPU catches up with the clock */
	int32_t pid = v->task < r->vtask_cap ? r->task_pid[v->task] : 0;
	int consumed = 1;
	switch (v->op) {
	case PMC_OP_SPAWN: {
		int32_t id = r->cg_id[v->vpn];
		int rc = memcg_valid(e, id) ? pmc_spawn(e, id) : PMC_ENOENT;
		r->task_pid[v->task] = rc > 0 ? rc : -1;
		if (rc < 0)
			r->st.refused++;
		break;
	}
	case PMC_OP_FAULT:
	case PMC_OP_MLOCK:
	case PMC_OP_MUNMAP:
	case PMC_OP_EXIT:
		if (!task_usable(e, pid)) {
			skip_dead(e, r, pid);
			break;
		}
		if (e->task[pid].busy)
			return 0;
		start_task_op(e, a, v, pid);
		break;
	case PMC_OP_FORK: {
		if (!task_usable(e, pid)) {
			r->task_pid[v->vpn] = -1;
			skip_dead(e, r, pid);
			break;
		}
		if (e->task[pid].busy)
			return 0;
		int rc = pmc_fork(e, pid);
		r->task_pid[v->vpn] = rc > 0 ? rc : -1;
		if (rc < 0)
			r->st.refused++;
		break;
	}
	case PMC_OP_MOVE: {
		if (!task_usable(e, pid)) {
			skip_dead(e, r, pid);
			break;
		}
		if (pmc_move(e, pid, r->cg_id[v->vpn]) < 0)
			r->st.refused++;
		break;
	}
	case PMC_OP_MKDIR: {
		if (r->cg_id[v->task]) {                 /* the path exists: EEXIST */
			r->st.refused++;
			consumed += (int)((v->count + NAME_CHUNK - 1) / NAME_CHUNK);
			break;
		}
		int rc = memcg_valid(e, r->cg_id[v->vpn]) ? pmc_memcg_create(e, r->cg_id[v->vpn]) : PMC_ENOENT;
		r->cg_id[v->task] = rc > 0 ? rc : 0;
		if (rc < 0)
			r->st.refused++;
		consumed += (int)((v->count + NAME_CHUNK - 1) / NAME_CHUNK);
		break;
	}
	case PMC_OP_WRITE:
		apply_write(e, r, v);
		break;
	case PMC_OP_RECLAIM:
		if (v->flags & 1) {
			reclaim_init(e, &a->u.rs, RK_DIRECT, 0, 0, v->count);
			a->job = ACT_RECLAIM;
		} else if (memcg_valid(e, r->cg_id[v->task])) {
			hrec_init(e, &a->u.hrec, r->cg_id[v->task], 0);
			a->u.hrec.swap_cluster_max = v->count;
			a->job = ACT_HREC;
		} else {
			r->st.refused++;
		}
		a->pid = 0;
		break;
	case PMC_OP_RMDIR:
		if (pmc_memcg_rmdir(e, r->cg_id[v->task]) < 0)
			r->st.refused++;
		break;
	}
	if (r->ex && a->job)
		explicit_op_started(r, event_cpu(r, v), event_index(r, v));
	r->st.events++;
	tick(e, COST_DISPATCH_NS);
	return consumed;
}

/* Control-file writes, mkdir and rmdir change cgroups: nothing is dispatched past them. */
static int is_barrier(uint8_t op)
{
	return op == PMC_OP_MKDIR || op == PMC_OP_RMDIR || op == PMC_OP_WRITE;
}

/* The trace tasks an event concerns (fork: parent and child); 0, 1 or 2. */
static int event_tasks(const struct pmc_event *v, uint32_t *t)
{
	switch (v->op) {
	case PMC_OP_SPAWN: case PMC_OP_FAULT: case PMC_OP_MUNMAP: case PMC_OP_EXIT: case PMC_OP_MLOCK:
	case PMC_OP_MOVE:
		t[0] = v->task;
		return 1;
	case PMC_OP_FORK:
		t[0] = v->task;
		t[1] = (uint32_t)v->vpn;
		return 2;
	default:
		return 0;
	}
}

static int task_held(const uint32_t *held, int nheld, const uint32_t *t, int nt)
{
	for (int i = 0; i < nt; i++)
		for (int j = 0; j < nheld; j++)
			if (held[j] == t[i])
				return 1;
	return 0;
}

/* One step of an actor; returns OP_DONE, OP_MORE or OP_BLOCKED. */
static inline __attribute__((always_inline)) int actor_step(pmc_engine *e, struct actor *a)
{
	int s;
	switch (a->job) {
	case ACT_FAULT:
		s = fault_step(e, &a->u.fault);
		if (s == OP_DONE)
			e->ctr.pgfault += a->u.fault.touched;
		break;
	case ACT_ZAP: s = zap_step(e, &a->u.zap); break;
	case ACT_HREC: s = hrec_step(e, &a->u.hrec) ? OP_MORE : OP_DONE; break;
	case ACT_RECLAIM: s = reclaim_step(e, &a->u.rs) ? OP_MORE : OP_DONE; break;
	default: return OP_DONE;
	}
	a->blocked = s == OP_BLOCKED;
	if (s == OP_DONE) {
		if (a->pid) {
			struct task *t = &e->task[a->pid];
			t->busy = 0;
			if (t->state == TASK_ALIVE && t->memdie)
				do_exit(e, a->pid);          /* the OOM victim dies once its operation is done */
		}
		a->job = ACT_IDLE;
		a->pid = 0;
	}
	return s;
}

/* kswapd wakes when free memory falls below the low watermark (wakeup_kswapd). */
static void kswapd_wake(pmc_engine *e, struct replay *r)
{
	struct actor *k = r->kswapd;
	if (e->nr_free < e->pages_low && !k->job && e->nr_swap) {
		reclaim_init(e, &k->u.rs, RK_KSWAPD, 0, 0, SWAP_CLUSTER_MAX);
		k->job = ACT_RECLAIM;
		k->pid = 0;
		if (k->vtime < e->now)
			k->vtime = e->now;
	}
}

/*
 * Step the busy actor whose clock is furthest behind, so that paths overlap
 * as their costs say.  Ties go round-robin from the last actor (rr), or the
 * random scheduler perturbs every step's cost by a seeded factor in
 * [0.5, 1.5), so that seeds give different interleavings.  Returns 0 when
 * nothing is busy.
 */
static inline int runnable(const struct actor *a)
{
	return a->job && !a->blocked;
}

/* The busy, unblocked actor furthest behind; ties go to the first after the last picked. -1: none. */
static inline int pick_actor(const struct replay *r, int n)
{
	const struct actor *act = r->actor;
	if (n == 2) {                              /* one CPU and kswapd: the same rule, unrolled */
		int ok0 = runnable(&act[0]), ok1 = runnable(&act[1]);
		if (ok0 && ok1)
			return act[0].vtime == act[1].vtime ? 1 - r->last : act[1].vtime < act[0].vtime;
		return ok0 ? 0 : ok1 ? 1 : -1;
	}
	int pick = -1;
	int64_t best = 0;
	/* from the one after the last actor, wrapping without a division per actor */
	for (int k = 0, i = r->last; k < n; k++) {
		if (++i == n)
			i = 0;
		const struct actor *a = &act[i];
		if (runnable(a) && (pick < 0 || a->vtime < best)) {
			pick = i;
			best = a->vtime;
		}
	}
	return pick;
}

/* --- the chunk being fed in, and starting its events ------------------------------- */

#define WINDOW 64                /* the bits of the started mask */
#define LOOKAHEAD (WINDOW + (NAME_MAX + NAME_CHUNK - 1) / NAME_CHUNK)

/* The chunk of the trace pmc_replay_run feeds in, and where its samples go. */
struct feed {
	const struct pmc_event *ev;
	int64_t n;                   /* events in the chunk                           */
	int64_t head;                /* the first not started, from the chunk's start  */
	uint64_t started;            /* bit k: event head + k has started              */
	int final;                   /* the trace's last chunk                         */
	int64_t sample_every, max_samples, written, ncg;
	struct pmc_sample *samples;
	int64_t *cg_usage;
	/*
	 * Lanes (several CPUs): each CPU's events chained in trace order, so the
	 * next event a CPU may start is found without walking the window.
	 */
	int lanes;
	int32_t *next_on_cpu;        /* the CPU's next event, or n (name events: n)  */
	int32_t *prev_of_task;       /* the last earlier event naming the same task: -1 none, -2 a fork */
	int32_t *barriers;           /* the cgroup changes, in order                  */
	int64_t nbarriers, bcur;     /* ... and the first not behind the head         */
	int32_t cand[256];           /* each CPU's first event not started, or n      */
};

/* The trace index of an event of the chunk being fed in (r->head is the chunk's first while it runs). */
static int64_t event_index(const struct replay *r, const struct pmc_event *v)
{
	return r->head + (v - r->feed->ev);
}

/*
 * Events left to start from this chunk.  A chunk that is not the last stops
 * while the window and a mkdir's names at its end would still fit, so the
 * next chunk shows the scheduler what one call over the whole trace would.
 */
static inline int feed_more(const struct feed *f)
{
	return f->head < f->n && (f->final || f->head + LOOKAHEAD <= f->n);
}

/* The samples due once r->st.events reached r->next_sample. */
static __attribute__((noinline)) void samples_due(pmc_engine *e, struct replay *r, struct feed *f)
{
	while (r->st.events >= r->next_sample) {
		r->next_sample += f->sample_every;
		if (f->written < f->max_samples) {
			take_sample(e, r, &f->samples[f->written], f->cg_usage + f->written * 2 * f->ncg, f->ncg);
			f->written++;
		}
	}
}

/* After events started: more may start, kswapd may wake, samples fall due. */
static inline void events_started(pmc_engine *e, struct replay *r, struct feed *f)
{
	r->freed = 1;
	kswapd_wake(e, r);
	if (f->sample_every > 0 && r->st.events >= r->next_sample)
		samples_due(e, r, f);
}

/*
 * dispatch_window with one CPU, where it reduces to this: events start in
 * trace order while the CPU is idle (an event that is over at once, such as
 * a spawn, leaves it idle), no further than the window, and a cgroup change
 * starts only as the first event of a call and ends it.  Every event starts
 * in order, so no started bit is ever left past the head.
 */
static int dispatch_one_cpu(pmc_engine *e, struct replay *r, struct feed *f)
{
	const struct actor *a = &r->actor[0];
	if (a->job)
		return 0;
	int64_t i = f->head, end = f->head + WINDOW < f->n ? f->head + WINDOW : f->n;
	int dispatched = 0;
	while (i < end) {
		const struct pmc_event *v = &f->ev[i];
		int barrier = is_barrier(v->op);
		if (barrier && i != f->head)
			break;
		int consumed = dispatch(e, r, v);    /* a mkdir takes its name events along */
		if (!consumed)
			break;
		i += consumed;
		dispatched++;
		if (e->debug_check && pmc_check(e))
			return PMC_EINVARIANT;
		if (barrier || a->job)
			break;
	}
	f->head = i;
	return dispatched;
}

/*
 * Build the lanes of a chunk (several CPUs): a pass back for each CPU's chain
 * and a pass forward for each event's predecessor of its task.  Returns 0,
 * or 1 when the chunk goes without them (too many events, task ids or CPUs to
 * index cheaply, or no memory).
 */
static int lanes_build(const pmc_engine *e, const struct replay *r, struct feed *f)
{
	const int64_t n = f->n;
	if (n >= INT32_MAX || r->vtask_cap > (1 << 22) || r->ncpus > 64)
		return 1;
	f->next_on_cpu = malloc((size_t)(n ? n : 1) * sizeof(int32_t));
	f->prev_of_task = malloc((size_t)(n ? n : 1) * sizeof(int32_t));
	f->barriers = malloc((size_t)(n ? n : 1) * sizeof(int32_t));
	int32_t *last = malloc((size_t)(r->vtask_cap ? r->vtask_cap : 1) * sizeof(int32_t));
	if (!f->next_on_cpu || !f->prev_of_task || !f->barriers || !last) {
		free(last);
		return 1;
	}
	(void)e;
	for (int c = 0; c < 256; c++)
		f->cand[c] = (int32_t)n;
	for (int64_t i = n - 1; i >= 0; i--) {
		const struct pmc_event *v = &f->ev[i];
		if (v->op == PMC_OP_NAME) {
			f->next_on_cpu[i] = (int32_t)n;
			continue;
		}
		int c = event_cpu(r, v);
		f->next_on_cpu[i] = f->cand[c];
		f->cand[c] = (int32_t)i;
	}
	for (int64_t t = 0; t < r->vtask_cap; t++)
		last[t] = -1;
	f->nbarriers = f->bcur = 0;
	for (int64_t i = 0; i < n; i++) {
		const struct pmc_event *v = &f->ev[i];
		uint32_t t[2];
		int nt = v->op == PMC_OP_NAME ? 0 : event_tasks(v, t);
		f->prev_of_task[i] = nt == 1 ? last[t[0]] : nt ? -2 : -1;
		for (int k = 0; k < nt; k++)
			if (t[k] < r->vtask_cap)
				last[t[k]] = (int32_t)i;
		if (is_barrier(v->op))
			f->barriers[f->nbarriers++] = (int32_t)i;
	}
	free(last);
	for (int c = 0; c < r->ncpus; c++)          /* past what the previous chunk started */
		while (f->cand[c] < f->n && f->cand[c] - f->head < WINDOW && (f->started >> (f->cand[c] - f->head) & 1))
			f->cand[c] = f->next_on_cpu[f->cand[c]];
	f->lanes = 1;
	return 0;
}

static void lanes_free(struct feed *f)
{
	free(f->next_on_cpu);
	free(f->prev_of_task);
	free(f->barriers);
	f->next_on_cpu = f->prev_of_task = f->barriers = NULL;
	f->lanes = 0;
}

/* An event started: its CPU's lane moves on (a CPU starts its events in trace order). */
static inline void lane_started(struct feed *f, int cpu, int64_t i)
{
	if (f->lanes && f->cand[cpu] == i)
		f->cand[cpu] = f->next_on_cpu[i];
}

/* Slide the window past what has started. */
static void window_slide(struct feed *f, uint64_t started, int64_t end)
{
	int64_t k = 0;
	while (f->head + k < end && ((started >> k & 1) || f->ev[f->head + k].op == PMC_OP_NAME))
		k++;
	f->started = k < WINDOW ? started >> k : 0;
	f->head += k;
}

/*
 * dispatch_window with lanes: the idle CPUs' next events, in trace order, as
 * the window walk would meet them.  Each starts unless a cgroup change comes
 * first (the walk stops there), an earlier event not started names its task
 * (it waits for that one; that event is in the window, before it), or its
 * task is busy; one that waits holds its CPU for the rest of the walk, one
 * that starts and keeps its CPU busy too.  Returns the events started, or -1
 * when a fork, or a cgroup change at the head, is next and the walk must
 * decide: then *pre gets what started up to there (the same the walk starts
 * first: it is left in f->started, the head unmoved, for the walk to go on).
 */
static int dispatch_lanes(pmc_engine *e, struct replay *r, struct feed *f, uint64_t open, int *pre)
{
	const int64_t head = f->head, end = head + WINDOW < f->n ? head + WINDOW : f->n;
	while (f->bcur < f->nbarriers && f->barriers[f->bcur] < head)
		f->bcur++;
	const int64_t barrier = f->bcur < f->nbarriers ? f->barriers[f->bcur] : INT64_MAX;
	int dispatched = 0;
	uint64_t started = f->started;
	int rc = 0;
	while (open) {
		int c = -1;
		int64_t x = end;
		for (uint64_t m = open; m; m &= m - 1) {
			int k = __builtin_ctzll(m);
			if (f->cand[k] < x) {
				x = f->cand[k];
				c = k;
			}
		}
		if (c < 0)
			break;
		if (barrier <= x) {
			/* a cgroup change: it starts only as the first event of the walk, which stops at it */
			rc = barrier == head ? -1 : 0;
			break;
		}
		const struct pmc_event *v = &f->ev[x];
		int32_t prev = f->prev_of_task[x];
		if (prev == -2) {
			rc = -1;                         /* a fork names two tasks: the walk decides */
			break;
		}
		uint32_t t[2];
		int32_t pid = event_tasks(v, t) && v->op != PMC_OP_SPAWN && t[0] < r->vtask_cap ? r->task_pid[t[0]] : 0;
		if ((prev >= head && !(started >> (prev - head) & 1)) || (pid > 0 && e->task[pid].busy)) {
			open &= ~(1ull << c);            /* it waits: its CPU is held */
			continue;
		}
		dispatch(e, r, v);
		started |= 1ull << (x - head);
		f->cand[c] = f->next_on_cpu[x];
		dispatched++;
		if (e->debug_check && pmc_check(e))
			return PMC_EINVARIANT;
		if (r->actor[c].job)
			open &= ~(1ull << c);
	}
	if (rc < 0) {
		f->started = started;
		*pre = dispatched;
		return -1;
	}
	window_slide(f, started, end);
	return dispatched;
}

/*
 * Dispatch what can start now from a window of WINDOW events past the first
 * one not yet started.  Each CPU takes its events in trace order; an event
 * also waits for every earlier event of its task, and nothing passes a
 * cgroup change.  Returns the events started.
 */
static int dispatch_window(pmc_engine *e, struct replay *r, struct feed *f)
{
	if (r->ncpus == 1 && !f->started && r->fast)
		return dispatch_one_cpu(e, r, f);
	/*
	 * Every CPU busy: nothing can start, and the window is already slid past
	 * what started (the slide below ends every call), so there is nothing to do.
	 */
	int idle = 0;
	uint64_t open = 0;                       /* the idle CPUs (lanes: at most 64 CPUs) */
	for (int c = 0; c < r->ncpus; c++)
		if (!r->actor[c].job) {
			idle++;
			open |= 1ull << (c & 63);
		}
	if (!idle)
		return 0;
	int pre = 0;                             /* started by the lanes before the walk */
	if (f->lanes) {
		int rc = dispatch_lanes(e, r, f, open, &pre);
		if (rc >= 0)
			return rc;
		idle = 0;                            /* the walk goes on from where the lanes stopped */
		for (int c = 0; c < r->ncpus; c++)
			idle += !r->actor[c].job;
	}
	const struct pmc_event *ev = f->ev;
	uint8_t cpu_held[256];
	uint32_t held[2 * WINDOW];
	int nheld = 0, dispatched = 0, idle_held = 0;
	int64_t head = f->head, end = head + WINDOW < f->n ? head + WINDOW : f->n;
	uint64_t started = f->started;
	memset(cpu_held, 0, (size_t)r->ncpus);
	/*
	 * Only an idle CPU can start an event; once every CPU that was idle is
	 * held (it started one, or its next event must wait), the rest of the
	 * window could only hold more, so the scan stops there.
	 */
	uint64_t todo = ~started & (end - head >= WINDOW ? ~0ull : (1ull << (end - head)) - 1);
	while (todo && idle_held < idle) {      /* the events not started, in order */
		int64_t i = head + __builtin_ctzll(todo);
		todo &= todo - 1;
		const struct pmc_event *v = &ev[i];
		if (v->op == PMC_OP_NAME)
			continue;
		int cpu = event_cpu(r, v);
		uint32_t t[2];
		int nt = event_tasks(v, t);
		int can = !cpu_held[cpu] && !r->actor[cpu].job && !task_held(held, nheld, t, nt);
		if (can && is_barrier(v->op))
			can = i == head;
		if (can && nt && v->op != PMC_OP_SPAWN) {
			int32_t pid = t[0] < r->vtask_cap ? r->task_pid[t[0]] : 0;
			can = !(pid > 0 && e->task[pid].busy);
		}
		int consumed = can ? dispatch(e, r, v) : 0;
		if (consumed && e->debug_check && pmc_check(e))
			return PMC_EINVARIANT;
		if (consumed)
			lane_started(f, cpu, i);
		if (consumed) {
			for (int k = 0; k < consumed && i + k < end; k++)
				started |= 1ull << (i + k - head);
			dispatched++;
		}
		if (is_barrier(v->op))
			break;
		if ((!consumed || r->actor[cpu].job) && !cpu_held[cpu]) {
			cpu_held[cpu] = 1;
			idle_held += consumed || !r->actor[cpu].job;    /* it was idle when the scan began */
		}
		if (!consumed)
			for (int k = 0; k < nt; k++)
				if (!task_held(held, nheld, &t[k], 1))
					held[nheld++] = t[k];
	}
	window_slide(f, started, end);
	return pre + dispatched;
}

/*
 * With one CPU, when its operation ends and the next event keeps it busy (a
 * fault, mlock, munmap or exit of a live task), start that event here, as
 * pmc_replay_run's loop would next (dispatch_one_cpu starting one event, then
 * events_started; its next dispatch attempt finds the CPU busy).  Returns 1
 * if it did; 0 leaves it to the loop.
 */
/*
 * What dispatch does for an event that keeps its idle CPU (actor a) busy: a
 * fault, mlock, munmap or exit of a live task that is not busy elsewhere.
 * Returns 1 if v was one (it started), else 0 (nothing done).
 */
static inline int start_busy_event(pmc_engine *e, struct replay *r, struct actor *a, const struct pmc_event *v)
{
	if (v->op != PMC_OP_FAULT && v->op != PMC_OP_MLOCK && v->op != PMC_OP_MUNMAP && v->op != PMC_OP_EXIT)
		return 0;
	int32_t pid = v->task < r->vtask_cap ? r->task_pid[v->task] : 0;
	if (!task_usable(e, pid) || e->task[pid].busy)
		return 0;
	if (a->vtime < e->now)
		a->vtime = e->now;
	start_task_op(e, a, v, pid);
	r->st.events++;
	tick(e, COST_DISPATCH_NS);
	return 1;
}

static int start_next_event(pmc_engine *e, struct replay *r)
{
	struct feed *f = r->feed;
	if (!f || !r->fast || r->ncpus != 1 || r->actor[0].job || f->started || e->debug_check || !feed_more(f) ||
	    !start_busy_event(e, r, &r->actor[0], &f->ev[f->head]))
		return 0;
	f->head++;
	events_started(e, r, f);
	r->freed = 0;
	return 1;
}

/*
 * Hits in one go (one CPU, idle after an operation ended): while the next
 * event is a one-page fault that needs nothing but the pte's accessed and
 * dirty bits (pte_hit), do what its dispatch, its page-step, its last step
 * and the scheduler's bookkeeping around them do, without setting the
 * operation up on the CPU: the clocks, the costs (the random scheduler's
 * draws included), the I/O completions the clock passes, the counters, the
 * samples, the steps.  This holds while the CPU would be picked at every
 * step: kswapd, if busy, must have a later clock (a tie goes to kswapd), and
 * hits change nothing kswapd_wake looks at.  Where kswapd would run, the
 * operation is set up as the step-by-step path would have it there, and the
 * caller goes on from that point; at any other event the caller goes on as
 * after any operation's end.
 */
/* Where run_hits stands; the loop keeps it in registers. */
struct hits {
	int64_t head, now, vt, io_due, done;     /* done: events over (dispatch and both steps) */
	uint64_t rng;
	int stop_at;                             /* -1, or the step at which kswapd would run: 0 or 1 */
	uint32_t task_id;
	struct task *t;
	uint64_t orig;
};

static inline __attribute__((always_inline)) void hits_loop(pmc_engine *e, struct replay *r, struct feed *f,
                                                             struct hits *h, const int random)
{
	const int64_t kswapd_at = r->kswapd->job ? r->kswapd->vtime : INT64_MAX;   /* kswapd does not move meanwhile */
	/* feed_more() as a bound on the head */
	const int64_t end = f->final ? f->n : f->n - LOOKAHEAD + 1 < f->n ? f->n - LOOKAHEAD + 1 : f->n;
	const struct pmc_event *ev = f->ev;
	int64_t head = h->head, now = h->now, vt = h->vt, io_due = h->io_due, done = 0;
	int64_t sample_after = f->sample_every > 0 ? r->next_sample - r->st.events - 1 : INT64_MAX;
	uint64_t rng = h->rng;
	uint32_t task_id = h->task_id;
	struct task *t = h->t;
#define PASS_TIME(t_) do { if ((t_) >= io_due) { e->now = (t_); io_complete_due(e); \
	now = e->now; io_due = io_pending(e) ? io_oldest(e)->complete_at : INT64_MAX; } } while (0)
	for (; head < end; head++) {
		const struct pmc_event *v = &ev[head];
		if (v->op != PMC_OP_FAULT || v->count != 1)
			break;
		if (v->task != task_id) {
			int32_t p = v->task < r->vtask_cap ? r->task_pid[v->task] : 0;
			if (!task_usable(e, p))
				break;
			task_id = v->task;
			t = &e->task[p];
		}
		const int write = v->flags & 1;
		uint64_t *pte = pte_hit(t, v->vpn, write);
		if (!pte)
			break;
		if (vt < now)                        /* dispatch */
			vt = now;
		now += COST_DISPATCH_NS;
		PASS_TIME(now);
		if (done >= sample_after) {
			e->now = now;
			r->actor[0].vtime = vt;
			r->st.events += done + 1;
			e->ctr.pgfault += done;
			r->rng = rng;
			f->head = head + 1;
			samples_due(e, r, f);
			r->st.events -= done + 1;         /* counted again below */
			e->ctr.pgfault -= done;
			sample_after = r->next_sample - r->st.events - 1;
		}
		if (kswapd_at <= vt || head + 1 >= end) {
			h->stop_at = 0;                   /* kswapd runs, or the chunk ends, first */
			break;
		}
		if (vt > now) {                      /* the page-step: advance_time */
			now = vt;
			PASS_TIME(now);
		}
		int64_t start = now, cost = COST_FAULT_NS;
		h->orig = *pte;
		pte_mkyoung_hit(pte, write);
		now += COST_FAULT_NS;
		PASS_TIME(now);
		if (random)
			cost = cost / 2 + (int64_t)(splitmix64(&rng) % (uint64_t)(cost + 1));
		vt = start + cost;
		if (kswapd_at <= vt) {
			h->stop_at = 1;
			break;
		}
		if (vt > now) {                      /* the last step, at no cost: advance_time */
			now = vt;
			PASS_TIME(now);
		}
		if (random)
			(void)splitmix64(&rng);
		vt = now;
		done++;
	}
#undef PASS_TIME
	h->head = head;
	h->now = now;
	h->vt = vt;
	h->io_due = io_due;
	h->done = done;
	h->rng = rng;
	h->task_id = task_id;
	h->t = t;
}

/*
 * Hits in one go (one CPU, idle after an operation ended): while the next
 * event is a one-page fault that needs nothing but the pte's accessed and
 * dirty bits (pte_hit), do what its dispatch, its page-step, its last step
 * and the scheduler's bookkeeping around them do, without setting the
 * operation up on the CPU: the clocks, the costs (the random scheduler's
 * draws included), the I/O completions the clock passes, the counters, the
 * samples, the steps.  This holds while the CPU would be picked at every
 * step: kswapd, if busy, must have a later clock (a tie goes to kswapd), and
 * hits change nothing kswapd_wake looks at.  Where kswapd would run, the
 * operation is set up as the step-by-step path would have it there, and the
 * caller goes on from that point; at any other event the caller goes on as
 * after any operation's end.
 */
static void run_hits(pmc_engine *e, struct replay *r, int64_t *steps)
{
	struct feed *f = r->feed;
	struct actor *a = &r->actor[0];
	const struct actor *k = r->kswapd;
	if (!f || !r->fast || r->ncpus != 1 || a->job || f->started || e->debug_check ||
	    (!k->job && e->nr_free < e->pages_low && e->nr_swap))
		return;
	struct hits h = { .head = f->head, .now = e->now, .vt = a->vtime, .rng = r->rng, .stop_at = -1,
	                  .task_id = UINT32_MAX, .io_due = io_pending(e) ? io_oldest(e)->complete_at : INT64_MAX };
	if (r->sched == PMC_SCHED_RANDOM)
		hits_loop(e, r, f, &h, 1);
	else
		hits_loop(e, r, f, &h, 0);
	e->now = h.now;
	a->vtime = h.vt;
	r->rng = h.rng;
	r->st.events += h.done + (h.stop_at >= 0);
	e->ctr.pgfault += h.done;
	*steps += 2 * h.done + (h.stop_at > 0);
	f->head = h.head;
	if (h.stop_at >= 0) {                    /* the step-by-step path from here, the operation as it stands */
		const struct pmc_event *v = &f->ev[h.head];
		fault_op_init(&a->u.fault, r->task_pid[v->task], NULL, 1, v->vpn, v->flags & 1, 0);
		a->u.fault.i = a->u.fault.touched = h.stop_at;
		a->u.fault.orig_pte = h.stop_at ? h.orig : 0;
		a->job = ACT_FAULT;
		a->pid = a->u.fault.pid;
		h.t->busy = 1;
		r->freed = 0;
		f->head++;
	}
}

/*
 * What pmc_replay_run's loop does after an operation ended, before it calls
 * the scheduler again: start events while some start (each round of starts
 * may free more), as long as the chunk has events to start.  Returns a
 * negative error, 0 when the loop must look first (the chunk is done, or
 * there is no chunk: pmc_replay_finish), 1 to go on picking.
 */
static int dispatch_pending(pmc_engine *e, struct replay *r)
{
	struct feed *f = r->feed;
	if (!f || !r->fast || e->debug_check)
		return 0;
	for (;;) {
		if (!feed_more(f))
			return 0;
		if (!r->freed)
			return 1;
		r->freed = 0;
		int started = dispatch_window(e, r, f);
		if (started < 0)
			return started;
		if (!started)
			return 1;
		events_started(e, r, f);
	}
}

/*
 * dispatch_pending after CPU c's operation ended, when the lanes show what
 * its first pass would do: the other idle CPUs (`idle`) have their next
 * events past the window, and c's next event starts (inside the window, no
 * cgroup change or fork first, its task's earlier events started and the task
 * not busy): a fault, mlock, munmap or exit of a live task, which keeps c
 * busy.  Then the next pass starts nothing unless the window, sliding, took
 * in another idle CPU's next event (dispatch_pending goes on from there).
 * Returns what dispatch_pending returns, or -1 (nothing done) when it must
 * decide from the start.
 */
static int dispatch_on_cpu(pmc_engine *e, struct replay *r, int c, uint64_t idle)
{
	struct feed *f = r->feed;
	if (!f || !f->lanes || e->debug_check || !feed_more(f))
		return -1;
	const int64_t head = f->head, end = head + WINDOW < f->n ? head + WINDOW : f->n, x = f->cand[c];
	if (x >= end)
		return -1;
	for (uint64_t m = idle; m; m &= m - 1)
		if (f->cand[__builtin_ctzll(m)] < end)
			return -1;
	while (f->bcur < f->nbarriers && f->barriers[f->bcur] < head)
		f->bcur++;
	if (f->bcur < f->nbarriers && f->barriers[f->bcur] <= x)
		return -1;
	const struct pmc_event *v = &f->ev[x];
	int32_t prev = f->prev_of_task[x];
	struct actor *a = &r->actor[c];
	if ((prev >= head && !(f->started >> (prev - head) & 1)) || !start_busy_event(e, r, a, v))
		return -1;
	if (a->job == ACT_FAULT)                 /* its first step comes after the other CPUs' */
		pte_prefetch(&e->task[a->pid], v->vpn);
	f->cand[c] = f->next_on_cpu[x];
	window_slide(f, f->started | 1ull << (x - head), end);
	events_started(e, r, f);
	const int64_t end2 = f->head + WINDOW < f->n ? f->head + WINDOW : f->n;
	for (uint64_t m = idle; m; m &= m - 1)
		if (f->cand[__builtin_ctzll(m)] < end2)
			return dispatch_pending(e, r);
	if (!feed_more(f))
		return 0;
	r->freed = 0;                            /* the next pass, with the idle CPUs' events past the window */
	return 1;
}

/* --- the scheduler ------------------------------------------------------------------ */

/*
 * pick_actor, and the other busy actors seen from the actor it picks
 * (the reference scheduler, and one CPU's).  -1 when nothing is runnable.
 */
static inline int pick_next(const struct replay *r, struct others *o)
{
	const int n = r->ncpus + 1;
	if (n == 2) {
		int pick = pick_actor(r, n);
		const struct actor *b = pick < 0 ? NULL : &r->actor[1 - pick];
		*o = !b || !b->job ? (struct others){ 0, -1 } : (struct others){ 1, 1 - pick };
		return pick;
	}
	int pick = pick_actor(r, n), busy = 0, one = -1;
	for (int i = 0; i < n; i++)
		if (i != pick && r->actor[i].job) {
			busy++;
			one = i;
		}
	*o = (struct others){ busy, busy == 1 ? one : -1 };
	return pick;
}

/* A fault waiting in lock_page. */
static inline int in_lock_page(const struct actor *x)
{
	return x->job == ACT_FAULT && x->u.fault.phase == FP_SWAPIN_LOCK;
}

/* ... whose wait cannot end yet: its task lives on and the read still holds the page (pfn). */
static inline int still_waiting(const pmc_engine *e, const struct task *t, int32_t pfn)
{
	return t->state == TASK_ALIVE && !t->memdie && PageTest(e, pfn, PG_locked);
}

/* A step's cost as it took, or perturbed by a seeded factor in [0.5, 1.5) (the random scheduler). */
static inline int64_t step_cost(struct replay *r, int64_t cost)
{
	return random_sched(r) ? cost / 2 + (int64_t)(splitmix64(&r->rng) % (uint64_t)(cost + 1)) : cost;
}

/*
 * A retry of a lock wait that cannot succeed yet: a fault in lock_page whose
 * page the read still holds (fault_step returns OP_BLOCKED at once, changing
 * nothing).  Its clock does not lead the machine's, so no time passes first.
 */
static inline int retry_is_futile(const pmc_engine *e, const struct actor *b)
{
	return in_lock_page(b) && b->vtime <= e->now && still_waiting(e, &e->task[b->u.fault.pid], b->u.fault.swap_pfn);
}

/*
 * Step the actor `ia` the scan picked (pick_next, explicit_pick) and, with
 * the fast paths on one CPU, go on stepping whichever actor the scan would
 * pick next for as long as that takes no scan (several CPUs: run_cpus).
 * Each step: the actor's clock catches the machine up, the step's cost
 * (perturbed by the random scheduler) moves its clock on, a blocked step
 * leaves it where it was, and progress lets blocked actors try again.
 *
 * One CPU has two actors, the CPU and kswapd.  After a step that did not
 * block, the other may run (its blocked flag is cleared), and the next pick
 * is the one further behind, a tie going to the other.  So the one that ran
 * goes on while the other's clock leads its own, else the other runs; when
 * the other would run only to retry a lock it cannot take yet
 * (retry_is_futile), that retry's bookkeeping is done here and the first goes
 * on.  When the CPU's operation ends, the next event starts here
 * (start_next_event, runs of hits in run_hits); when kswapd's reclaim ends
 * with the CPU busy the loop would start nothing, so the stepping goes on.
 * Returns a negative error, 1 when the next pick needs the scan, or 0 when
 * pmc_replay_run's loop must look first.
 */
static int run_actor(pmc_engine *e, struct replay *r, int ia, struct others o)
{
	const int n = r->ncpus + 1, random = random_sched(r);
	struct actor *const k = r->kswapd;
	int ib = o.one, others = o.n;
	struct actor *a = &r->actor[ia], *b = others == 1 ? &r->actor[ib] : NULL;
	int64_t steps = 0, switches = ia != r->last;
	int rc = 1;
	/*
	 * A round: kswapd (a) reclaims while the CPU's fault (b) waits in
	 * lock_page for a read.  After each of kswapd's steps b is picked (its
	 * clock is behind) and retries in vain, until the read completes; it
	 * stays blocked throughout, so only its page's lock and its task need a
	 * look.  rtask: b's task during a round, else NULL.
	 */
	const struct task *rtask = NULL;
	int32_t rpfn = NIL;
	for (;;) {
		int kswapd_was_idle = !k->job;
		if (a->vtime > e->now)
			advance_time(e, a->vtime);
		int64_t start = e->now;
		int s = actor_step(e, a), ended = !a->job;
		steps++;
		if (rtask && !ended) {               /* kswapd's step never blocks */
			int64_t cost = step_cost(r, e->now - start);
			a->vtime = start + cost;
			if (still_waiting(e, rtask, rpfn)) {
				if (random)              /* retry_is_futile, what can change of it */
					(void)splitmix64(&r->rng);
				b->vtime = e->now;
				steps++;
				switches += 2;               /* b's retry, and kswapd again */
				continue;
			}
			b->blocked = 0;                  /* b's retry will succeed: a's progress unblocked it */
			r->any_blocked = 0;
			break;
		}
		rtask = NULL;
		if (ended) {
			r->freed = 1;                    /* an operation ended: events may start */
			if (e->debug_check && pmc_check(e)) {
				rc = PMC_EINVARIANT;
				break;
			}
		}
		int64_t cost = step_cost(r, e->now - start);
		if (s == OP_BLOCKED) {
			a->vtime = start;
			r->any_blocked = 1;
			kswapd_wake(e, r);
			break;                           /* the scan picks among the others */
		}
		a->vtime = start + cost;
		if (r->any_blocked) {                /* progress may have released a lock */
			if (others == 1)
				b->blocked = 0;                  /* idle actors are never blocked */
			else
				for (int i = 0; i < n; i++)
					r->actor[i].blocked = 0;
			r->any_blocked = 0;
		}
		kswapd_wake(e, r);
		if (!r->fast) {                      /* one step at a time: the reference scheduler */
			rc = !ended;
			break;
		}
		if (ended) {
			if (a != k) {                    /* the CPU's operation ended */
				run_hits(e, r, &steps);
				if ((!a->job && !start_next_event(e, r)) || !feed_more(r->feed)) {
					rc = 0;
					break;
				}
				b = k->job ? k : NULL;       /* kswapd is the only other actor */
				ib = r->ncpus;
				others = b != NULL;
				kswapd_was_idle = 0;
			} else {                         /* kswapd's reclaim ended */
				if (!others) {
					rc = 0;                  /* the CPU is idle: the loop dispatches */
					break;
				}
				r->freed = 0;                /* the loop would find the CPU busy */
				if (!a->job) {               /* and kswapd was not woken again */
					a = b;                   /* the CPU runs next */
					ia = ib;
					b = NULL;
					others = 0;
					switches++;
					continue;
				}
				kswapd_was_idle = 0;
			}
		}
		if (kswapd_was_idle && k->job && k != a) {   /* kswapd woke up: the other busy actor */
			others = 1;
			b = k;
			ib = r->ncpus;
		}
		if (!others)
			continue;
		if (b->vtime > a->vtime)
			continue;                        /* a is picked again */
		if (!retry_is_futile(e, b)) {
			struct actor *t = a;             /* b runs next, a becomes the other */
			int it = ia;
			a = b;
			ia = ib;
			b = t;
			ib = it;
			switches++;
			continue;
		}
		/* b's futile retry, then a again: a zero-cost step draws once */
		if (random)
			(void)splitmix64(&r->rng);
		b->vtime = e->now;
		b->blocked = 1;
		r->any_blocked = 1;
		steps++;
		switches++;
		if (!k->job) {                       /* kswapd_wake after b's step */
			kswapd_wake(e, r);
			if (k->job) {
				ia = ib;                     /* the scan picks next, after b */
				break;
			}
		}
		switches++;
		if (a == k) {                        /* a round */
			rtask = &e->task[b->u.fault.pid];
			rpfn = b->u.fault.swap_pfn;
		}
	}
	r->last = ia;
	r->st.steps += steps;
	r->st.interleavings += switches;
	return rc;
}

/* --- several CPUs -------------------------------------------------------------------- */

/*
 * After the step of a round's actor: how many of its nw waiters (in order)
 * retry in vain before the first that would go on (nw: all), each drawing
 * as its step would.  *gen: e->lock_gen when they were last seen waiting; no
 * lock released and no task died since means all of them, unlooked at.
 */
static inline int round_futile(pmc_engine *e, struct replay *r, const struct task *const *wtask,
                               const int32_t *wpfn, int nw, uint64_t *gen)
{
	int x = 0;
	if (e->lock_gen == *gen) {
		x = nw;
	} else {
		while (x < nw && still_waiting(e, wtask[x], wpfn[x]))
			x++;
		*gen = e->lock_gen;
	}
	for (int y = 0; random_sched(r) && y < x; y++)
		(void)splitmix64(&r->rng);
	return x;
}

/*
 * A round ends: its first x waiters retried just now, the others last at
 * t_w; their clocks, kept aside during the round, are written.  Returns the
 * ones that retried now (they are blocked).
 */
static inline uint64_t round_end(pmc_engine *e, struct replay *r, int64_t *vt, const int *who, int x, int nw,
                                 int64_t t_w)
{
	uint64_t retried = 0;
	for (int y = 0; y < nw; y++) {
		r->actor[who[y]].vtime = vt[who[y]] = y < x ? e->now : t_w;
		retried |= (uint64_t)(y < x) << who[y];
	}
	return retried;
}

/* The first of the actors in mask m (not empty) after `last` in index order, wrapping. */
static inline int first_after(uint64_t m, int last)
{
	uint64_t after = last >= 63 ? 0 : m & (~0ull << (last + 1));
	return __builtin_ctzll(after ? after : m);
}

/*
 * The scan (pick_actor) over the candidates' dense clocks: the earliest, a
 * tie to the first after `last`.  *tie_out gets the candidates at that clock.
 */
static inline int scan_pick(uint64_t cand, int last, const int64_t *vt, uint64_t *tie_out)
{
	int64_t best = INT64_MAX;
	uint64_t tie = 0;                        /* the candidates at the earliest clock */
	for (uint64_t m = cand; m; m &= m - 1) {
		int i = __builtin_ctzll(m);
		if (vt[i] < best) {
			best = vt[i];
			tie = 1ull << i;
		} else if (vt[i] == best) {
			tie |= 1ull << i;
		}
	}
	*tie_out = tie;
	return first_after(tie, last);
}

/* A futile retry (retry_is_futile): the blocked step changes nothing but the clock, to the machine's. */
static inline void futile_retry(pmc_engine *e, struct replay *r, struct actor *x, int64_t *vt)
{
	if (random_sched(r))
		(void)splitmix64(&r->rng);
	x->vtime = vt[x - r->actor] = e->now;
}

#define NO_PICK 2

/*
 * Several CPUs (the fast paths, at most CPUS_MAX): step whichever actor the
 * scan picks, one step at a time, exactly as the reference scheduler does,
 * with the scan's state in masks (busy, blocked) and a dense copy of the
 * clocks, so that a pick reads a few words.  Two kinds of step are
 * bookkeeping:
 *  - a futile retry: the scan picks a fault whose read still holds the page
 *    lock.  No time passes, so the next pick is the next candidate at the
 *    same clock, if any, without a scan;
 *  - a round: when an actor p made progress and every other busy actor then
 *    retried in vain, after p's next progress step they are picked again in
 *    index order from p's (their clocks are equal and behind p's), so each
 *    only needs its page lock and task looked at, and not even that while
 *    no lock was released and no task died (e->lock_gen).  Their clocks are
 *    written when the round ends.  kswapd reclaiming while every CPU waits
 *    for a read, the common case of a machine short of memory, has a loop
 *    of its own.
 * When a CPU's operation ends, the events that may start start here
 * (dispatch_on_cpu, dispatch_pending), and when every busy actor waits the
 * time moves on to the next I/O completion.  Returns a negative error,
 * NO_PICK when nothing is runnable before any step, or 0 or 1 when
 * pmc_replay_run's loop must look first.
 */
static int run_cpus(pmc_engine *e, struct replay *r)
{
	const int n = r->ncpus + 1, kb = r->ncpus;
	const uint64_t cpus = (1ull << r->ncpus) - 1;
	struct actor *const act = r->actor, *const k = r->kswapd;
	int64_t vt[CPUS_MAX + 1];
	uint64_t busy = 0, blocked = 0, wave = 0, lw = 0, wbits = 0;   /* lw: the faults in lock_page */
	for (int i = 0; i < n; i++) {
		vt[i] = act[i].vtime;
		busy |= (uint64_t)(act[i].job != 0) << i;
		blocked |= (uint64_t)(act[i].blocked != 0) << i;
		lw |= (uint64_t)in_lock_page(&act[i]) << i;
	}
	int last = r->last, rc = 1, runner = -1;
	int64_t steps = 0, switches = 0, t_w = 0;   /* t_w: when a round's waiters last retried */
	uint64_t gen = 0;                           /* e->lock_gen when they were last seen waiting */
	int who[CPUS_MAX + 1], nw = 0;
	const struct task *wtask[CPUS_MAX + 1];
	int32_t wpfn[CPUS_MAX + 1];
/* kswapd_wake after a step, and kswapd in the masks */
#define WAKE() do { if (!k->job) { kswapd_wake(e, r); if (k->job) { busy |= 1ull << kb; vt[kb] = k->vtime; } } } while (0)
	for (;;) {
		uint64_t cand = busy & ~blocked;
		if (!cand) {
			/*
			 * Every busy actor waits for a page lock: the time moves on to the
			 * next I/O completion (schedule_one does it when nothing ran, or
			 * when pmc_replay_run's loop would dispatch or stop first).
			 */
			if (!steps || !busy || r->freed || !r->feed || !feed_more(r->feed) || !io_wait_one(e, -1)) {
				rc = steps ? 1 : NO_PICK;
				break;
			}
			blocked = 0;
			continue;
		}
		uint64_t tie;
		int p = scan_pick(cand, last, vt, &tie), rescan = 0;
		struct actor *a = &act[p];
		while ((lw >> p & 1) && retry_is_futile(e, a)) {
			futile_retry(e, r, a, vt);
			blocked |= 1ull << p;
			steps++;
			switches += p != last;
			last = p;
			wave |= 1ull << p;
			uint64_t was = busy;
			WAKE();
			/* no time passed: the next pick is the next at the same clock, if any is left */
			tie &= ~(1ull << p);
			if ((rescan = !tie || busy != was))
				break;
			a = &act[p = first_after(tie, last)];
		}
		if (rescan)
			continue;
		nw = 0;
		if (p == runner && wave && (busy & ~(1ull << p)) == wave) {
			/* a round: the waiters in index order from p, with what retry_is_futile looks at */
			for (uint64_t m = wave; m; m &= ~(1ull << who[nw - 1])) {
				int i = first_after(m, nw ? who[nw - 1] : p);
				who[nw] = i;
				wtask[nw] = &e->task[act[i].u.fault.pid];
				wpfn[nw++] = act[i].u.fault.swap_pfn;
			}
			wbits = wave;
			t_w = vt[who[0]];
			gen = e->lock_gen;               /* each was seen waiting in vain since */
		}
		runner = -1;
		wave = 0;
		for (;;) {                           /* p's step, and again while a round holds */
			switches += p != last;
			last = p;
			if (vt[p] > e->now)
				advance_time(e, vt[p]);
			int64_t start = e->now;
			int s, ended;
			if (p == kb && nw) {
				/*
				 * kswapd's round, a machine waiting for its reads: what the
				 * loop below does for each of kswapd's steps, reduced (they
				 * never block, and while kswapd reclaims kswapd_wake has
				 * nothing to do), until its reclaim ends or a waiter goes on.
				 */
				while (reclaim_step(e, &k->u.rs)) {
					steps++;
					int64_t cost = step_cost(r, e->now - start);
					k->vtime = vt[kb] = start + cost;
					int x = round_futile(e, r, wtask, wpfn, nw, &gen);
					steps += x;
					switches += x;
					if (x < nw) {
						if (x)
							last = who[x - 1];
						blocked = round_end(e, r, vt, who, x, nw, t_w);
						nw = 0;
						goto next;           /* the scan decides */
					}
					switches++;              /* and kswapd again */
					t_w = e->now;
					if (vt[kb] > e->now)
						advance_time(e, vt[kb]);
					start = e->now;
				}
				k->blocked = 0;              /* actor_step, for the step that ended its reclaim */
				k->job = ACT_IDLE;
				k->pid = 0;
				s = OP_DONE;
			} else {
				s = actor_step(e, a);
			}
			ended = !a->job;
			steps++;
			lw = (lw & ~(1ull << p)) | (uint64_t)in_lock_page(a) << p;
			if (nw && (ended || s == OP_BLOCKED)) {
				round_end(e, r, vt, who, 0, nw, t_w);   /* the round is over */
				nw = 0;
			}
			if (ended) {
				r->freed = 1;                /* an operation ended: events may start */
				if (e->debug_check && pmc_check(e)) {
					rc = PMC_EINVARIANT;
					goto out;
				}
			}
			int64_t cost = step_cost(r, e->now - start);
			if (s == OP_BLOCKED) {
				a->vtime = vt[p] = start;
				blocked |= 1ull << p;
				WAKE();
				break;
			}
			a->vtime = vt[p] = start + cost;
			blocked = 0;                     /* progress may have released a lock */
			uint64_t was = busy;
			WAKE();
			if (ended) {
				if (!a->job)
					busy &= ~(1ull << p);
				if (p != kb) {               /* a CPU's operation ended: dispatch */
					rc = dispatch_on_cpu(e, r, p, ~busy & cpus & ~(1ull << p));
					if (rc < 0)
						rc = dispatch_pending(e, r);
					if (rc <= 0)
						goto out;
					for (uint64_t m = (~busy & cpus) | 1ull << kb; m; m &= m - 1) {
						int i = __builtin_ctzll(m);        /* what dispatch may have started or woken */
						vt[i] = act[i].vtime;
						busy |= (uint64_t)(act[i].job != 0) << i;
						lw &= ~(1ull << i);                 /* an operation just started is not in lock_page */
					}
				} else if ((busy & cpus) != cpus) {
					rc = 1;                  /* kswapd's reclaim ended and a CPU is idle: the loop dispatches */
					goto out;
				} else {
					r->freed = 0;            /* the loop would find every CPU busy */
				}
				break;
			}
			if (!nw || busy != was) {
				round_end(e, r, vt, who, 0, nw, t_w);
				nw = 0;
				runner = p;                  /* the waves after its steps may make a round */
				break;
			}
			/*
			 * The round: each waiter retries in vain, its clock (t_w) written
			 * when the round ends.  kswapd_wake after each retry would find
			 * what it found after p's step: a retry changes nothing it reads.
			 */
			int x = round_futile(e, r, wtask, wpfn, nw, &gen);
			steps += x;
			switches += x;
			if (x)
				last = who[x - 1];
			if (x == nw) {
				blocked = wbits;
				t_w = e->now;
				continue;
			}
			blocked = round_end(e, r, vt, who, x, nw, t_w);
			nw = 0;
			break;                           /* the scan decides */
		}
next:;
	}
out:
#undef WAKE
	for (int i = 0; i < n; i++)
		act[i].blocked = (int32_t)(blocked >> i & 1);
	r->any_blocked = blocked != 0;
	r->last = last;
	r->st.steps += steps;
	r->st.interleavings += switches;
	return rc;
}

/*
 * Step actors, each time the one pick_actor chooses, until an operation ends
 * (the caller then dispatches what may start) or nothing can run.  Returning
 * to the caller between steps would change nothing: it only dispatches after
 * an operation ended, and otherwise calls here again.  Returns 0 when nothing
 * is busy, 1 otherwise, or a negative error.
 */
static int schedule_one(pmc_engine *e, struct replay *r)
{
	int n = r->ncpus + 1;
	struct others o;
	int pick, rc;
	if (r->fast && r->ncpus > 1) {
		rc = run_cpus(e, r);
		if (rc != NO_PICK)
			return rc < 0 ? rc : 1;
		pick = -1;
	} else if (r->ex && (rc = explicit_pick(e, r, &o, &pick)) < 0) {
		return rc;
	} else if (!r->ex) {
		pick = pick_next(r, &o);
	}
	if (pick < 0) {
		int busy = 0;
		for (int i = 0; i < n; i++)
			busy += r->actor[i].job != 0;
		if (!busy)
			return 0;
		if (!io_wait_one(e, -1))
			return r->ex ? explicit_deadlock(e, r)
			             : pmc_err(e, PMC_ESTATE, "replay deadlock: every operation waits for a page lock");
		for (int i = 0; i < n; i++)
			r->actor[i].blocked = 0;
		r->any_blocked = 0;
		return 1;
	}
	if (r->ex)                               /* one step per pick, each logged and bounded */
		for (;;) {
			if ((rc = explicit_step_begin(e, r, pick)) < 0)
				return rc;
			rc = run_actor(e, r, pick, o);
			explicit_step_end(e, r, pick, rc);
			if (rc <= 0)
				return rc < 0 ? rc : 1;
			if ((rc = explicit_pick(e, r, &o, &pick)) < 0)
				return rc;
			if (pick < 0)
				return 1;
		}
	while ((rc = run_actor(e, r, pick, o)) > 0 && (pick = pick_next(r, &o)) >= 0)
		;
	return rc < 0 ? rc : 1;
}

/*
 * Run events [base, base + n) of a validated trace; base must be the first
 * event not yet started (pmc_replay_head).  A call that is not the last
 * (final == 0) returns while the window and a mkdir's names at its end would
 * still fit in the chunk, so the next chunk, starting at the new head, shows
 * the scheduler exactly what one call over the whole trace would: how a trace
 * is cut into chunks never changes the replay.  Operations still running go
 * on in the next call (or pmc_replay_finish).  Samples are taken every
 * sample_every started events while room remains; returns how many were
 * written.
 */
int64_t pmc_replay_run(pmc_engine *e, const struct pmc_event *ev, int64_t base, int64_t n, int final,
                       int64_t sample_every, struct pmc_sample *samples, int64_t *cg_usage, int64_t max_samples,
                       int64_t ncg)
{
	struct replay *r = e->replay;
	if (!r)
		return pmc_err(e, PMC_ESTATE, "no replay begun");
	if (base != r->head || n < 0)
		return pmc_err(e, PMC_EINVAL, "a chunk must start at event %lld, the first not started, not %lld",
		               (long long)r->head, (long long)base);
	struct feed f = { .ev = ev, .n = n, .started = r->started, .final = final, .sample_every = sample_every,
	                  .max_samples = max_samples, .ncg = ncg, .samples = samples, .cg_usage = cg_usage };
	if (!r->next_sample)
		r->next_sample = sample_every;
	r->feed = &f;
	if (r->ncpus > 1 && r->fast)
		lanes_build(e, r, &f);
	int64_t rc = 0;
	while (feed_more(&f)) {
		int started_now = r->freed ? (r->freed = 0, dispatch_window(e, r, &f)) : 0;
		if (started_now < 0) {
			rc = started_now;
			break;
		}
		if (started_now) {
			events_started(e, r, &f);
			continue;
		}
		rc = schedule_one(e, r);
		if (rc < 0)
			break;
		if (!rc) {
			rc = pmc_err(e, PMC_ESTATE, "replay stalled at event %lld with every CPU idle", (long long)(base + f.head));
			break;
		}
		rc = 0;
	}
	lanes_free(&f);
	r->feed = NULL;
	r->head = base + f.head;
	r->started = f.started;
	return rc < 0 ? rc : f.written;
}

/* The first event not started, as a trace index, and the started bits of the window past it. */
int64_t replay_position(const struct replay *r, uint64_t *started)
{
	if (r->feed) {
		*started = r->feed->started;
		return r->head + r->feed->head;   /* r->head is the chunk's first event while it runs */
	}
	*started = r->started;
	return r->head;
}

int64_t pmc_replay_head(const pmc_engine *e)
{
	return e->replay ? e->replay->head : PMC_ESTATE;
}

/*
 * Let every operation in flight, kswapd's included, run to its end, then let
 * the machine idle until the swap device is quiet, so that the final state
 * is quiescent (what leaks() is defined on).
 */
int64_t pmc_replay_finish(pmc_engine *e)
{
	struct replay *r = e->replay;
	if (!r)
		return pmc_err(e, PMC_ESTATE, "no replay begun");
	int rc;
	while ((rc = schedule_one(e, r)) > 0)
		;
	while (rc == 0 && io_wait_one(e, -1))
		;
	return rc;
}

int pmc_replay_stats(const pmc_engine *e, struct pmc_replay_stats *out)
{
	if (!e->replay)
		return PMC_ESTATE;
	*out = e->replay->st;
	return 0;
}

/* The engine pids and memcg ids of the trace's tasks and cgroups (-1 / 0: never made). */
int pmc_replay_maps(const pmc_engine *e, int32_t *task_pid, uint8_t *task_state, int64_t ntask, int32_t *cg_id,
                    uint8_t *cg_state, int64_t ncg)
{
	const struct replay *r = e->replay;
	if (!r)
		return PMC_ESTATE;
	for (int64_t t = 0; t < ntask; t++) {
		task_pid[t] = t < r->vtask_cap ? r->task_pid[t] : 0;
		task_state[t] = t < r->vtask_cap ? r->vtask[t] : V_UNKNOWN;
	}
	for (int64_t c = 0; c < ncg; c++) {
		cg_id[c] = c <= MAX_MEMCG ? r->cg_id[c] : 0;
		cg_state[c] = c <= MAX_MEMCG ? r->vcg[c] : V_UNKNOWN;
	}
	return 0;
}
