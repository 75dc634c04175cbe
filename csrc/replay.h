/*
 * replay.h - the replay scheduler's state (replay.c), shared with the
 * explicit scheduler (explicit.c), which picks the actors from a caller's
 * schedule, records the choice points and hashes the state at each.
 */
#ifndef PMC_REPLAY_H
#define PMC_REPLAY_H

#include "engine.h"

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

#define CPUS_MAX 63              /* the fast paths keep the actors (and kswapd) in 64-bit masks */

struct feed;
struct explicit_sched;

struct replay {
	int32_t ncpus;
	int32_t sched;
	uint64_t rng;
	struct actor *actor;         /* ncpus CPUs, then kswapd */
	struct actor *kswapd;        /* &actor[ncpus] */
	uint8_t cpu_of[256];         /* event.cpu -> the CPU it runs on (event.cpu modulo ncpus) */
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
	struct feed *feed;           /* the chunk pmc_replay_run is feeding in, or NULL */
	int32_t fast;                /* the fast paths on (else every step goes through the scan) */
	int64_t *marks;              /* the trace's cgroup changes (mkdir, rmdir) validation saw */
	int64_t nmarks, cap_marks;
	struct explicit_sched *ex;   /* PMC_SCHED_EXPLICIT: the schedule and its records, else NULL */
};

/* The other busy actors seen from the actor picked: how many, and (when there is one) which. */
struct others {
	int n;
	int one;
};

/* replay.c: the first event not started (trace index) and the started bits past it */
int64_t replay_position(const struct replay *r, uint64_t *started);

/* explicit.c */
#define EXPLICIT_MAX_CPUS 63         /* the runnable set of a choice point is one 64-bit mask */
struct explicit_sched *explicit_new(int ncpus);
void explicit_free(struct explicit_sched *x);
int explicit_pick(pmc_engine *e, struct replay *r, struct others *o, int *pick);
int explicit_step_begin(pmc_engine *e, struct replay *r, int actor);
void explicit_step_end(pmc_engine *e, struct replay *r, int actor, int rc);
int explicit_deadlock(pmc_engine *e, struct replay *r);
void explicit_op_started(struct replay *r, int actor, int64_t event);

#endif
