/*
 * explicit.c - the explicit scheduler (PMC_SCHED_EXPLICIT): a replay whose
 * interleaving is a caller's schedule, for the systematic exploration of
 * interleavings (pymemcg.explore, docs/explore.md), in the manner of CHESS.
 *
 * The replay runs the reference path (no fast paths: one step per pick).  At
 * each pick where two or more actors could run (a choice point) the choice
 * is the schedule's next entry; past the schedule's end it is the default,
 * which never preempts: the actor that ran last, if it can go on with the
 * operation it was running, else the lowest-numbered actor that can run.  A
 * choice preempts when that last actor could have gone on and another was
 * chosen.  Each choice point is recorded (who could run, who ran, who ran
 * before, whether it preempted), and so, when asked, is each step (the
 * actor, its operation, the phase of the innermost machine it stands in and
 * the page), which is what a reproducer prints.
 *
 * A step bound ends a schedule that runs too long (a livelock or a lost
 * wake-up), and with a set of explored states (pmc_seen) a choice point past
 * the schedule whose state was already reached with no more preemptions ends
 * the run too: everything after it was, or will be, explored from there.
 * Each ends the replay with PMC_ESTOP and pmc_replay_explicit_info says why.
 */
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "replay.h"

struct explicit_sched {
	int32_t *given;              /* the caller's choices, one per choice point */
	int64_t ngiven;
	int64_t max_steps;           /* 0: no bound */
	pmc_seen *seen;              /* explored state keys (NULL: no pruning) */
	int log;                     /* log every step */
	int32_t prev;                /* the actor of the last step, -1 before the first */
	int32_t prev_ended;          /* that step ended its operation */
	int32_t stop;                /* enum pmc_stop */
	int64_t preemptions;
	int64_t pruned_at;
	int64_t cur_choice;          /* the choice point of the pick being stepped, or -1 */
	struct pmc_choice *choice;
	int64_t nchoice, cap_choice;
	struct pmc_step *step;
	int64_t nstep, cap_step;
	int64_t op_event[EXPLICIT_MAX_CPUS + 1];   /* the trace event each CPU's operation came from */
};

/* state_hash.c: the state's key at a choice point; 1 if it was explored with at most `used` preemptions. */
uint64_t explicit_state_key(const pmc_engine *e, int32_t prev);
int seen_visit(pmc_seen *s, uint64_t key, int64_t used);

struct explicit_sched *explicit_new(int ncpus)
{
	struct explicit_sched *x = calloc(1, sizeof *x);
	if (!x)
		return NULL;
	x->prev = -1;
	x->pruned_at = -1;
	x->cur_choice = -1;
	for (int i = 0; i <= ncpus; i++)
		x->op_event[i] = -1;
	return x;
}

void explicit_free(struct explicit_sched *x)
{
	if (!x)
		return;
	free(x->given);
	free(x->choice);
	free(x->step);
	free(x);
}

static struct explicit_sched *explicit_of(const pmc_engine *e)
{
	return e->replay ? e->replay->ex : NULL;
}

/*
 * The schedule of a replay begun with PMC_SCHED_EXPLICIT, set before it runs:
 * the choices (actor numbers) of its first n choice points, a step bound
 * (0: none), the explored states to prune against (NULL: none; the set is
 * the caller's and must outlive the replay) and whether to log every step.
 */
int pmc_replay_schedule(pmc_engine *e, const int32_t *choices, int64_t n, int64_t max_steps, pmc_seen *seen,
                        int log_steps)
{
	struct replay *r = e->replay;
	if (!r || !r->ex)
		return pmc_err(e, PMC_ESTATE, "no replay begun with the explicit scheduler");
	struct explicit_sched *x = r->ex;
	if (r->st.steps || x->nchoice)
		return pmc_err(e, PMC_ESTATE, "the schedule is set before the replay runs");
	if (n < 0 || (n && !choices) || max_steps < 0)
		return pmc_err(e, PMC_EINVAL, "a schedule of %lld choices with a bound of %lld steps", (long long)n,
		               (long long)max_steps);
	for (int64_t i = 0; i < n; i++)
		if (choices[i] < 0 || choices[i] > r->ncpus)
			return pmc_err(e, PMC_EINVAL, "schedule choice %lld: actor %d, not one of 0..%d (the cpus, then kswapd)",
			               (long long)i, choices[i], r->ncpus);
	int32_t *given = n ? malloc((size_t)n * sizeof *given) : NULL;
	if (n && !given)
		return pmc_err(e, PMC_EALLOC, "cannot allocate a schedule of %lld choices", (long long)n);
	if (n)
		memcpy(given, choices, (size_t)n * sizeof *given);
	free(x->given);
	x->given = given;
	x->ngiven = n;
	x->max_steps = max_steps;
	x->seen = seen;
	x->log = log_steps != 0;
	return 0;
}

static int grow(pmc_engine *e, void **arr, int64_t *cap, int64_t n, size_t size)
{
	if (n < *cap)
		return 0;
	int64_t c = *cap ? 2 * *cap : 256;
	void *p = realloc(*arr, (size_t)c * size);
	if (!p)
		return pmc_err(e, PMC_EALLOC, "cannot grow the explicit scheduler's records");
	*arr = p;
	*cap = c;
	return 0;
}

/*
 * The explicit scheduler's pick: *pick is the actor to step, or -1 when none
 * can run.  Fills *o as pick_next does (run_actor's reference path reads
 * only how many others are busy, and which when there is one).  Returns 0 or
 * a negative error (PMC_ESTOP when the run is pruned here).
 */
int explicit_pick(pmc_engine *e, struct replay *r, struct others *o, int *pick)
{
	struct explicit_sched *x = r->ex;
	const int n = r->ncpus + 1;
	uint64_t mask = 0;
	int busy = 0, first = -1, second = -1;
	for (int i = 0; i < n; i++) {
		const struct actor *a = &r->actor[i];
		if (!a->job)
			continue;
		if (busy++)
			second = i;
		else
			first = i;
		if (!a->blocked)
			mask |= 1ull << i;
	}
	x->cur_choice = -1;
	if (!mask) {
		*pick = -1;
		return 0;
	}
	int p = __builtin_ctzll(mask);
	if (mask & (mask - 1)) {                 /* a choice point */
		int64_t ci = x->nchoice;
		int keep = x->prev >= 0 && !x->prev_ended && (mask >> x->prev & 1);
		int given = ci < x->ngiven;
		uint64_t key = 0;
		if (given) {
			p = x->given[ci];
			if (!(mask >> p & 1))
				return pmc_err(e, PMC_EINVAL, "schedule choice %lld: actor %d cannot run there (runnable mask %#llx)",
				               (long long)ci, p, (unsigned long long)mask);
		} else {
			if (keep)
				p = x->prev;
			if (x->seen) {
				/* the default continuation and the cost of each alternative depend on the state and on keep/prev */
				key = explicit_state_key(e, keep ? x->prev : -1);
				int seen = seen_visit(x->seen, key, x->preemptions);
				if (seen < 0)
					return pmc_err(e, PMC_EALLOC, "cannot grow the set of explored states");
				if (seen) {
					x->pruned_at = ci;
					x->stop = PMC_STOP_PRUNED;
					return pmc_err(e, PMC_ESTOP, "explicit schedule: pruned at choice point %lld, a state "
					               "already explored", (long long)ci);
				}
			}
		}
		if (grow(e, (void **)&x->choice, &x->cap_choice, ci, sizeof *x->choice))
			return PMC_EALLOC;
		int preempted = keep && p != x->prev;
		x->choice[ci] = (struct pmc_choice){ .step = r->st.steps, .runnable = mask, .hash = key, .chosen = p,
		                                     .prev = x->prev, .keep = keep, .preempted = preempted, .given = given };
		x->nchoice++;
		x->preemptions += preempted;
		x->cur_choice = ci;
	}
	o->n = busy - 1;
	o->one = busy == 2 ? (first == p ? second : first) : -1;
	*pick = p;
	return 0;
}

/* Where a reclaim driver or a shrink batch inside it stands. */
static void describe_reclaim(const struct reclaim_state *rs, struct pmc_step *s)
{
	if (rs->phase == RP_BATCH) {
		const struct shrink_batch *b = &rs->batch;
		s->machine = PMC_M_SHRINK;
		s->phase = b->phase;
		s->pfn = b->phase != PMC_SP_ISOLATE && b->idx < b->nr ? b->pfn[b->idx] : -1;
	} else {
		s->machine = PMC_M_RECLAIM;
		s->phase = rs->phase;
	}
}

static void describe_hrec(const struct hrec_state *h, struct pmc_step *s)
{
	if (h->phase == HR_SCAN) {
		describe_reclaim(&h->scan, s);
	} else {
		s->machine = PMC_M_HREC;
		s->phase = h->phase;
	}
}

/* The operation an actor runs, and the innermost machine it stands in, before its next step. */
static void describe(const struct actor *a, struct pmc_step *s)
{
	s->vpn = -1;
	s->pfn = -1;
	switch (a->job) {
	case ACT_FAULT: {
		const struct fault_op *f = &a->u.fault;
		s->job = s->machine = PMC_M_FAULT;
		s->outer = s->phase = f->phase;
		if (f->i < f->n)
			s->vpn = vpn_at(f->vpns, f->i, f->start);
		if (f->phase == FP_DIRECT)
			describe_reclaim(&f->direct, s);
		else if ((f->phase == FP_CHARGE || f->phase == FP_SWAPIN_CHARGE) && f->charge.phase == CH_RECLAIM)
			describe_hrec(&f->charge.hrec, s);
		break;
	}
	case ACT_ZAP:
		s->job = s->machine = PMC_M_ZAP;
		s->outer = s->phase = a->u.zap.phase;
		break;
	case ACT_HREC:
		s->job = PMC_M_HREC;
		s->outer = a->u.hrec.phase;
		describe_hrec(&a->u.hrec, s);
		break;
	case ACT_RECLAIM:
		s->job = PMC_M_RECLAIM;
		s->outer = a->u.rs.phase;
		describe_reclaim(&a->u.rs, s);
		break;
	}
}

/* Before the step of `actor`: the step bound, and the log. */
int explicit_step_begin(pmc_engine *e, struct replay *r, int actor)
{
	struct explicit_sched *x = r->ex;
	if (x->max_steps && r->st.steps >= x->max_steps) {
		x->stop = PMC_STOP_BOUND;
		return pmc_err(e, PMC_ESTOP, "explicit schedule: the bound of %lld steps was reached with operations still "
		               "running (a livelock or a lost wake-up)", (long long)x->max_steps);
	}
	if (!x->log)
		return 0;
	if (grow(e, (void **)&x->step, &x->cap_step, x->nstep, sizeof *x->step))
		return PMC_EALLOC;
	const struct actor *a = &r->actor[actor];
	struct pmc_step *s = &x->step[x->nstep++];
	memset(s, 0, sizeof *s);
	describe(a, s);
	s->actor = actor;
	s->choice = x->cur_choice;
	s->event = actor < r->ncpus ? x->op_event[actor] : -1;
	if (a->job == ACT_ZAP)
		s->vpn = a->u.zap.cursor;            /* which pte the step zaps is known after it */
	return 0;
}

/* After the step of `actor` (rc: run_actor's, 0 when the operation ended). */
void explicit_step_end(pmc_engine *e, struct replay *r, int actor, int rc)
{
	(void)e;
	struct explicit_sched *x = r->ex;
	x->prev = actor;
	x->prev_ended = rc == 0;
	if (!x->log || !x->nstep)
		return;
	const struct actor *a = &r->actor[actor];
	struct pmc_step *s = &x->step[x->nstep - 1];
	s->status = rc == 0 ? OP_DONE : a->blocked ? OP_BLOCKED : OP_MORE;
	if (s->job == PMC_M_ZAP)
		s->vpn = s->outer == ZP_PTES && a->u.zap.cursor != s->vpn ? a->u.zap.cursor - 1 : -1;
}

int explicit_deadlock(pmc_engine *e, struct replay *r)
{
	r->ex->stop = PMC_STOP_DEADLOCK;
	return pmc_err(e, PMC_ESTOP, "explicit schedule: deadlock after %lld steps: every operation waits for a page "
	               "lock and no I/O is in flight", (long long)r->st.steps);
}

void explicit_op_started(struct replay *r, int actor, int64_t event)
{
	r->ex->op_event[actor] = event;
}

int64_t pmc_replay_choices(const pmc_engine *e, struct pmc_choice *out, int64_t cap)
{
	const struct explicit_sched *x = explicit_of(e);
	if (!x)
		return PMC_ESTATE;
	for (int64_t i = 0; i < x->nchoice && i < cap; i++)
		out[i] = x->choice[i];
	return x->nchoice;
}

int64_t pmc_replay_steps(const pmc_engine *e, struct pmc_step *out, int64_t cap)
{
	const struct explicit_sched *x = explicit_of(e);
	if (!x)
		return PMC_ESTATE;
	for (int64_t i = 0; i < x->nstep && i < cap; i++)
		out[i] = x->step[i];
	return x->nstep;
}

int pmc_replay_explicit_info(const pmc_engine *e, struct pmc_explicit_info *out)
{
	const struct explicit_sched *x = explicit_of(e);
	if (!x)
		return PMC_ESTATE;
	*out = (struct pmc_explicit_info){ .choices = x->nchoice, .steps = x->nstep, .preemptions = x->preemptions,
	                                   .pruned_at = x->pruned_at, .stop = x->stop };
	return 0;
}

/* The name of a machine's phase (the stop points of engine.h's phase enums), or NULL. */
const char *pmc_phase_name(int machine, int phase)
{
	static const char *const fault[FP_DONE + 1] = {
		[FP_NEXT] = "next", [FP_ALLOC] = "alloc", [FP_DIRECT] = "direct", [FP_CHARGE] = "charge",
		[FP_SWAPIN] = "swapin", [FP_READAHEAD] = "readahead", [FP_SWAPIN_TARGET] = "swapin_target",
		[FP_SWAPIN_LOCK] = "swapin_lock", [FP_SWAPIN_CHARGE] = "swapin_charge", [FP_SWAPIN_MAP] = "swapin_map",
		[FP_DONE] = "done" };
	static const char *const zap[ZP_DONE + 1] = { [ZP_PTES] = "zap_pte", [ZP_FINISH] = "tlb_flush",
	                                              [ZP_DONE] = "done" };
	static const char *const hrec[HR_DONE + 1] = { [HR_SELECT] = "select_victim", [HR_SCAN] = "scan",
	                                               [HR_DONE] = "done" };
	static const char *const reclaim[RP_DONE + 1] = { [RP_PRIORITY] = "priority", [RP_ZONE] = "shrink_zone",
	                                                  [RP_BATCH] = "batch", [RP_ZONE_END] = "zone_end",
	                                                  [RP_DONE] = "done" };
	switch (machine) {
	case PMC_M_FAULT: return phase >= 0 && phase <= FP_DONE ? fault[phase] : NULL;
	case PMC_M_ZAP: return phase >= 0 && phase <= ZP_DONE ? zap[phase] : NULL;
	case PMC_M_HREC: return phase >= 0 && phase <= HR_DONE ? hrec[phase] : NULL;
	case PMC_M_RECLAIM: return phase >= 0 && phase <= RP_DONE ? reclaim[phase] : NULL;
	case PMC_M_SHRINK: return pmc_shrink_phase_name(phase);         /* the step API's names (step.c) */
	default: return NULL;
	}
}
