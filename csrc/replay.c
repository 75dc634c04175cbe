/*
 * replay.c - a trace on several simulated CPUs (DESIGN.md "Operations are
 * resumable", "Traces and replay").
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

#define MAX_TRACE_TASKS (1 << 26)
#define NAME_CHUNK 16
#define NAME_MAX 255

enum actor_job { ACT_IDLE = 0, ACT_FAULT, ACT_ZAP, ACT_HREC, ACT_RECLAIM };

struct actor {
	int32_t job;
	int32_t pid;
	int32_t blocked;             /* its last step could not progress */
	int64_t vtime;               /* this CPU's simulated clock       */
	union {
		struct fault_op fault;
		struct zap_op zap;
		struct hrec_state hrec;
		struct reclaim_state rs;
	} u;
};

enum { V_UNKNOWN = 0, V_LIVE, V_GONE };

struct replay {
	int32_t ncpus;
	int32_t sched;
	uint64_t rng;
	struct actor *actor;         /* ncpus CPUs, then kswapd */
	int32_t last;
	/* validation */
	uint8_t *vtask;
	int64_t vtask_cap;
	uint8_t vcg[MAX_MEMCG + 1];
	/* trace ids -> engine ids */
	int32_t *task_pid;
	int32_t cg_id[MAX_MEMCG + 1];
	struct pmc_replay_stats st;
	int64_t next_sample;
	int64_t nsamples;
	int32_t freed;               /* an operation ended since the last dispatch attempt */
	int64_t head;                /* the first event of the trace not yet started */
	uint64_t started;            /* bit k: event head + k has started */
	int32_t any_blocked;         /* some actor's blocked is set (saves clearing them all every step) */
};

static uint64_t splitmix64(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

void pmc_replay_end(pmc_engine *e)
{
	struct replay *r = e->replay;
	if (!r)
		return;
	for (int32_t pid = 1; pid < e->nr_task; pid++)
		e->task[pid].busy = 0;
	free(r->actor);
	free(r->vtask);
	free(r->task_pid);
	free(r);
	e->replay = NULL;
}

int pmc_replay_begin(pmc_engine *e, int cpus, int sched, uint64_t seed)
{
	if (cpus < 1 || cpus > 256)
		return pmc_err(e, PMC_EINVAL, "cpus must be 1..256, got %d", cpus);
	if (sched != PMC_SCHED_RR && sched != PMC_SCHED_RANDOM)
		return pmc_err(e, PMC_EINVAL, "unknown scheduler %d", sched);
	int32_t open = first_open_batch(e);
	if (open >= 0)
		return pmc_err(e, PMC_ESTATE, "shrink batch %d is still isolated: finish it before a replay", open);
	pmc_replay_end(e);
	struct replay *r = calloc(1, sizeof *r);
	if (!r || !(r->actor = calloc((size_t)cpus + 1, sizeof *r->actor))) {
		free(r);
		return pmc_err(e, PMC_EALLOC, "cannot allocate a replay");
	}
	r->ncpus = cpus;
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
	if (b->phase == SP_ISOLATE || b->phase == SP_DONE)
		return;
	for (int i = 0; i < b->nr; i++) {
		if (i == b->idx && b->phase == SP_LABEL && b->label == L_FREE)
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
	pmc_leaks(e, &lk);
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
	return r->ncpus == 1 ? 0 : v->cpu % r->ncpus;
}

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
		if (v->op == PMC_OP_EXIT || v->op == PMC_OP_MUNMAP) {
			int exit = v->op == PMC_OP_EXIT;
			zap_op_init(&a->u.zap, pid, NULL, exit ? TASK_VPN_LIMIT : v->count, exit ? 0 : v->vpn, 1, exit);
			a->job = ACT_ZAP;
			if (exit)
				e->task[pid].exiting = 1;
		} else {
			fault_op_init(&a->u.fault, pid, NULL, v->count, v->vpn, v->flags & 1, v->op == PMC_OP_MLOCK);
			if (v->op == PMC_OP_MLOCK)
				a->u.fault.write = 1;
			a->job = ACT_FAULT;
		}
		a->pid = pid;
		e->task[pid].busy = 1;
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
	r->st.events++;
	tick(e, COST_DISPATCH_NS);
	return consumed;
}

/* One step of an actor; returns OP_DONE, OP_MORE or OP_BLOCKED. */
static int actor_step(pmc_engine *e, struct actor *a)
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

/* After a step: did an operation end, so that more events may start? */
static void note_end(struct replay *r, const struct actor *a)
{
	if (!a->job)
		r->freed = 1;
}

/* kswapd wakes when free memory falls below the low watermark (wakeup_kswapd). */
static void kswapd_wake(pmc_engine *e, struct replay *r)
{
	struct actor *k = &r->actor[r->ncpus];
	if (!k->job && e->nr_swap && e->nr_free < e->pages_low) {
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

static int schedule_one(pmc_engine *e, struct replay *r)
{
	int n = r->ncpus + 1, pick = pick_actor(r, n);
	if (pick < 0) {
		int busy = 0;
		for (int i = 0; i < n; i++)
			busy += r->actor[i].job != 0;
		if (!busy)
			return 0;
		if (!io_wait_one(e, -1))
			return pmc_err(e, PMC_ESTATE, "replay deadlock: every operation waits for a page lock");
		for (int i = 0; i < n; i++)
			r->actor[i].blocked = 0;
		r->any_blocked = 0;
		return 1;
	}
	struct actor *a = &r->actor[pick];
	if (pick != r->last)
		r->st.interleavings++;
	r->last = pick;
	if (a->vtime > e->now)
		advance_time(e, a->vtime);
	int64_t start = e->now;
	int s = actor_step(e, a);
	note_end(r, a);
	if (e->debug_check && !a->job && pmc_check(e))
		return PMC_EINVARIANT;
	int64_t cost = e->now - start;
	if (r->sched == PMC_SCHED_RANDOM)
		cost = cost / 2 + (int64_t)(splitmix64(&r->rng) % (uint64_t)(cost + 1));
	a->vtime = start + cost;
	if (s == OP_BLOCKED) {
		a->vtime = start;
		r->any_blocked = 1;
	} else if (r->any_blocked) {               /* progress may have released a lock */
		for (int i = 0; i < n; i++)
			r->actor[i].blocked = 0;
		r->any_blocked = 0;
	}
	r->st.steps++;
	kswapd_wake(e, r);
	return 1;
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

/*
 * Dispatch what can start now from a window of WINDOW events past the first
 * one not yet started.  Each CPU takes its events in trace order; an event
 * also waits for every earlier event of its task, and nothing passes a
 * cgroup change.  Returns the events started.
 */
#define WINDOW 64                /* the bits of the started mask */
static int dispatch_window(pmc_engine *e, struct replay *r, const struct pmc_event *ev, int64_t n,
                           int64_t *head, uint64_t *started)
{
	/*
	 * Every CPU busy: nothing can start, and the window is already slid past
	 * what started (the slide below ends every call), so there is nothing to do.
	 */
	int idle = 0;
	for (int c = 0; c < r->ncpus && !idle; c++)
		idle = !r->actor[c].job;
	if (!idle)
		return 0;
	uint8_t cpu_held[256];
	uint32_t held[2 * WINDOW];
	int nheld = 0, dispatched = 0, cpus_held = 0;
	int64_t end = *head + WINDOW < n ? *head + WINDOW : n;
	memset(cpu_held, 0, (size_t)r->ncpus);
	for (int64_t i = *head; i < end && cpus_held < r->ncpus; i++) {
		const struct pmc_event *v = &ev[i];
		if ((*started >> (i - *head) & 1) || v->op == PMC_OP_NAME)
			continue;
		int cpu = event_cpu(r, v);
		uint32_t t[2];
		int nt = event_tasks(v, t);
		int can = !cpu_held[cpu] && !r->actor[cpu].job && !task_held(held, nheld, t, nt);
		if (can && is_barrier(v->op))
			can = i == *head;
		if (can && nt && v->op != PMC_OP_SPAWN) {
			int32_t pid = t[0] < r->vtask_cap ? r->task_pid[t[0]] : 0;
			can = !(pid > 0 && e->task[pid].busy);
		}
		int consumed = can ? dispatch(e, r, v) : 0;
		if (consumed && e->debug_check && pmc_check(e))
			return PMC_EINVARIANT;
		if (consumed) {
			for (int k = 0; k < consumed && i + k < end; k++)
				*started |= 1ull << (i + k - *head);
			dispatched++;
		}
		if (is_barrier(v->op))
			break;
		if ((!consumed || r->actor[cpu].job) && !cpu_held[cpu]) {
			cpu_held[cpu] = 1;
			cpus_held++;
		}
		if (!consumed)
			for (int k = 0; k < nt; k++)
				held[nheld++] = t[k];
	}
	/* slide the window past what has started */
	int64_t k = 0;
	while (*head + k < end && ((*started >> k & 1) || ev[*head + k].op == PMC_OP_NAME))
		k++;
	if (k) {
		*started = k < WINDOW ? *started >> k : 0;
		*head += k;
	}
	return dispatched;
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
#define LOOKAHEAD (WINDOW + (NAME_MAX + NAME_CHUNK - 1) / NAME_CHUNK)
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
	int64_t written = 0, head = 0;
	uint64_t started = r->started;
	if (!r->next_sample)
		r->next_sample = sample_every;
	while (head < n && (final || head + LOOKAHEAD <= n)) {
		int started_now = r->freed ? (r->freed = 0, dispatch_window(e, r, ev, n, &head, &started)) : 0;
		if (started_now < 0)
			return started_now;
		if (started_now) {
			r->freed = 1;
			kswapd_wake(e, r);
			while (sample_every > 0 && r->st.events >= r->next_sample) {
				r->next_sample += sample_every;
				if (written < max_samples) {
					take_sample(e, r, &samples[written], cg_usage + written * 2 * ncg, ncg);
					written++;
				}
			}
			continue;
		}
		int rc = schedule_one(e, r);
		if (rc < 0)
			return rc;
		if (!rc)
			return pmc_err(e, PMC_ESTATE, "replay stalled at event %lld with every CPU idle", (long long)(base + head));
	}
	r->head = base + head;
	r->started = started;
	return written;
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
