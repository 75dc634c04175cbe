/*
 * state_hash.c - a 64-bit digest of the whole simulated state, and the set
 * of explored states the explicit scheduler prunes against (explicit.c).
 *
 * The digest covers what decides the future and what a user can observe:
 * the strategy (its name and counters), every per-frame and per-slot array,
 * the engine's scalars (snapshot.h: free
 * list, LRU heads, swap allocator, clock, the device queue's requests in
 * flight, counters), every memcg, every task with its ptes and its parked
 * gather, the step API's open batches, and in a replay the trace position,
 * the trace's id maps and each actor's operation.  It leaves out what only
 * caches or measures: page-table pointers and the leaf cache, the leak
 * figures (leaks.c keeps them as a function of the slots), the replay's step
 * and interleaving counts, and the actors' clocks (the explicit scheduler
 * never reads them: every clock stays at or behind the machine's).
 * Operations are hashed field by field, and only their live parts (the
 * inner reclaim of a fault only while it runs, a batch's first nr pages),
 * so that neither padding nor the leftovers of an earlier page make two
 * equal states differ.
 *
 * The mix is FNV-1a over 64-bit words (xor, multiply by the FNV prime), with
 * a xor-shift after each multiply so that a difference in the top bit
 * cannot pass through unmixed; two different states collide with
 * probability about 2^-64.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "replay.h"
#include "snapshot.h"

#define FNV_OFFSET 0xcbf29ce484222325ull
#define FNV_PRIME 0x100000001b3ull

static inline uint64_t mix(uint64_t h, uint64_t w)
{
	h = (h ^ w) * FNV_PRIME;
	return h ^ (h >> 29);
}

static uint64_t mix_bytes(uint64_t h, const void *buf, size_t n)
{
	const unsigned char *p = buf;
	for (; n >= 8; p += 8, n -= 8) {
		uint64_t w;
		memcpy(&w, p, 8);
		h = mix(h, w);
	}
	uint64_t tail = 0;
	memcpy(&tail, p, n);
	return mix(h, tail ^ (uint64_t)n << 56);
}

#define MIX(v) (h = mix(h, (uint64_t)(v)))

/* The byte ranges hashed raw below hold no padding (a new field must keep it so). */
_Static_assert(offsetof(struct task, gather) - offsetof(struct task, state) == 12 * sizeof(int32_t) &&
               sizeof(struct task) - offsetof(struct task, rss) == 5 * sizeof(int64_t), "struct task: padding");
_Static_assert(offsetof(struct mem_cgroup, last_scanned_child) ==
               2 * sizeof(struct pmc_res_counter) + 10 * sizeof(int32_t) + MEMCG_NSTATS * sizeof(int64_t) +
               2 * NR_LRU_LISTS * sizeof(int32_t) + NR_LRU_LISTS * sizeof(int64_t) + sizeof(struct reclaim_stat),
               "struct mem_cgroup: padding");
_Static_assert(sizeof(struct shrink_batch) == offsetof(struct shrink_batch, nr_pageout_keep) + sizeof(int64_t) &&
               offsetof(struct shrink_batch, nr_taken) ==
               sizeof(struct scan_control) + 6 * sizeof(int32_t) + SWAP_CLUSTER_MAX * (sizeof(int32_t) + 1),
               "struct shrink_batch: padding");

/* --- the engine ------------------------------------------------------------------ */

static void mix_pte(pmc_engine *e, int32_t pid, int64_t vpn, uint64_t *pte, void *ctx)
{
	(void)e;
	(void)pid;
	uint64_t *h = ctx;
	*h = mix(mix(*h, (uint64_t)vpn), *pte);
}

static uint64_t hash_engine(const pmc_engine *e)
{
	uint64_t h = FNV_OFFSET;
	MIX(e->cfg.kernel);
	if (e->ops.name)                           /* the strategy by name (its table holds pointers) */
		h = mix_bytes(h, e->ops.name, strlen(e->ops.name));
	h = mix_bytes(h, e->sctr, sizeof e->sctr); /* its own counters (eng.strategy_counters()) */
	MIX(e->cfg.swap_account);
	MIX(e->cfg.page_cluster);
	const struct pmc_arrays *a = &e->a;
	const size_t np = (size_t)e->nr_pages, ns = (size_t)e->cfg.nr_swap;
	h = mix_bytes(h, a->flags, np * sizeof *a->flags);
	h = mix_bytes(h, a->count, np * sizeof *a->count);
	h = mix_bytes(h, a->mapcount, np * sizeof *a->mapcount);
	h = mix_bytes(h, a->private, np * sizeof *a->private);
	h = mix_bytes(h, a->anon_vma, np * sizeof *a->anon_vma);
	h = mix_bytes(h, a->vpn, np * sizeof *a->vpn);
	h = mix_bytes(h, a->memcg, np * sizeof *a->memcg);
	h = mix_bytes(h, a->lru_prev, np * sizeof *a->lru_prev);
	h = mix_bytes(h, a->lru_next, np * sizeof *a->lru_next);
	h = mix_bytes(h, a->mlru_prev, np * sizeof *a->mlru_prev);
	h = mix_bytes(h, a->mlru_next, np * sizeof *a->mlru_next);
	h = mix_bytes(h, a->swap_map, ns * sizeof *a->swap_map);
	h = mix_bytes(h, a->swap_cgroup, ns * sizeof *a->swap_cgroup);
	h = mix_bytes(h, a->swap_cache, ns * sizeof *a->swap_cache);

	struct snap_engine se;
	memset(&se, 0, sizeof se);
	COPY_FIELDS(&se, e);
	for (int i = 0; i < IO_RING; i++)          /* only the requests in flight */
		if ((i - e->io.head + IO_RING) % IO_RING >= (e->io.tail - e->io.head + IO_RING) % IO_RING)
			se.io.ring[i] = (struct io_req){ 0, 0, 0 };
	h = mix_bytes(h, &se, sizeof se);

	MIX(e->nr_memcg);
	for (int32_t id = 0; id < e->nr_memcg; id++)  /* up to its last field: not the tail padding */
		h = mix_bytes(h, &e->memcg[id], offsetof(struct mem_cgroup, last_scanned_child) + sizeof(int32_t));
	MIX(e->nr_task);
	for (int32_t pid = 1; pid < e->nr_task; pid++) {
		const struct task *t = &e->task[pid];
		h = mix_bytes(h, &t->state, offsetof(struct task, gather) - offsetof(struct task, state));
		h = mix_bytes(h, &t->rss, sizeof *t - offsetof(struct task, rss));
		if (t->state != TASK_ALIVE)
			continue;
		if (t->gather_nr)
			h = mix_bytes(h, t->gather, (size_t)t->gather_nr * sizeof *t->gather);
		walk_ptes((pmc_engine *)e, pid, mix_pte, &h);
		MIX(-1);
	}
	for (int32_t id = 0; id < e->nr_batch; id++)
		if (e->batch[id]) {
			MIX(id);
			h = mix_bytes(h, e->batch[id], sizeof *e->batch[id]);
		}
	return h;
}

/* --- operations in flight, field by field and only their live parts ---------------------- */

static uint64_t hash_sc(uint64_t h, const struct scan_control *sc)
{
	MIX(sc->nr_scanned);
	MIX(sc->nr_reclaimed);
	MIX(sc->may_writepage);
	MIX(sc->may_unmap);
	MIX(sc->may_swap);
	MIX(sc->swappiness);
	MIX(sc->mem_cgroup);
	return MIX(sc->kswapd);
}

static uint64_t hash_batch(uint64_t h, const struct shrink_batch *b)
{
	h = hash_sc(h, &b->sc);
	MIX(b->nr_to_scan);
	MIX(b->phase);
	MIX(b->nr);
	MIX(b->idx);
	MIX(b->label);
	MIX(b->referenced);
	for (int i = 0; i < b->nr; i++)
		h = mix(mix(h, (uint64_t)b->pfn[i]), b->outcome[i]);
	MIX(b->nr_taken);
	MIX(b->nr_isolate_scanned);
	MIX(b->hook_calls);
	MIX(b->hook_freed);
	MIX(b->nr_activated);
	MIX(b->nr_pageout);
	return MIX(b->nr_pageout_keep);
}

static uint64_t hash_reclaim(uint64_t h, const struct reclaim_state *rs)
{
	h = hash_sc(h, &rs->sc);
	MIX(rs->kind);
	MIX(rs->phase);
	MIX(rs->priority);
	MIX(rs->lru);
	MIX(rs->swap_cluster_max);
	for (int l = 0; l < NR_LRU_LISTS; l++)
		MIX(rs->nr[l]);
	MIX(rs->total_scanned);
	MIX(rs->batch_max_scan);
	MIX(rs->batch_scanned);
	MIX(rs->hook_calls);
	MIX(rs->hook_freed);
	MIX(rs->ret);
	return rs->phase == RP_BATCH ? hash_batch(h, &rs->batch) : h;
}

static uint64_t hash_hrec(uint64_t h, const struct hrec_state *hr)
{
	MIX(hr->swap_cluster_max);
	MIX(hr->root);
	MIX(hr->noswap);
	MIX(hr->shrink);
	MIX(hr->loop);
	MIX(hr->phase);
	MIX(hr->total);
	MIX(hr->ret);
	return hr->phase == HR_SCAN ? hash_reclaim(h, &hr->scan) : h;
}

static uint64_t hash_fault(uint64_t h, const struct fault_op *f)
{
	MIX(f->pid);
	MIX(f->write);
	MIX(f->lock);
	MIX(f->phase);
	MIX(f->after_direct);
	MIX(f->cow);
	MIX(f->new_pfn);
	MIX(f->cow_old);
	MIX(f->swap_pfn);
	MIX(f->swap_locked);
	MIX(f->swap_off);
	MIX(f->ra_next);
	MIX(f->ra_end);
	MIX(f->charge_memcg);
	MIX(f->error);
	MIX(f->alone);
	MIX(f->vpns != NULL);                     /* a replay's faults are ranges */
	MIX(f->n);
	MIX(f->start);
	MIX(f->i);
	MIX(f->touched);
	MIX(f->orig_pte);
	if (f->phase == FP_CHARGE || f->phase == FP_SWAPIN_CHARGE) {
		const struct charge_state *cs = &f->charge;
		MIX(cs->memcg);
		MIX(cs->pid);
		MIX(cs->nr_retries);
		MIX(cs->over);
		MIX(cs->phase);
		if (cs->phase == CH_RECLAIM)
			h = hash_hrec(h, &cs->hrec);
	}
	return f->phase == FP_DIRECT ? hash_reclaim(h, &f->direct) : h;
}

static uint64_t hash_zap(uint64_t h, const struct zap_op *z)
{
	MIX(z->pid);
	MIX(z->flush);
	MIX(z->exit);
	MIX(z->phase);
	MIX(z->vpns != NULL);
	MIX(z->n);
	MIX(z->start);
	MIX(z->i);
	MIX(z->cursor);
	return MIX(z->zapped);
}

/* The replay's part: where the trace stands, its id maps, and every actor's operation. */
static uint64_t hash_replay(uint64_t h, const struct replay *r)
{
	uint64_t started;
	MIX(replay_position(r, &started));
	MIX(started);
	MIX(r->freed);
	MIX(r->st.events);
	MIX(r->st.skipped_dead);
	MIX(r->st.refused);
	MIX(r->st.max_task);
	MIX(r->st.max_cgroup);
	for (int64_t t = 0; t < r->st.max_task && t < r->vtask_cap; t++)
		h = mix(mix(h, (uint64_t)r->task_pid[t]), r->vtask[t]);
	for (int64_t c = 0; c < r->st.max_cgroup; c++)
		h = mix(mix(h, (uint64_t)r->cg_id[c]), r->vcg[c]);
	for (int i = 0; i <= r->ncpus; i++) {
		const struct actor *a = &r->actor[i];
		MIX(a->job);
		MIX(a->pid);
		MIX(a->blocked);
		switch (a->job) {
		case ACT_FAULT: h = hash_fault(h, &a->u.fault); break;
		case ACT_ZAP: h = hash_zap(h, &a->u.zap); break;
		case ACT_HREC: h = hash_hrec(h, &a->u.hrec); break;
		case ACT_RECLAIM: h = hash_reclaim(h, &a->u.rs); break;
		default: break;
		}
	}
	return h;
}

/* The digest of the engine's state, and of the replay in progress if there is one. */
uint64_t pmc_state_hash(const pmc_engine *e)
{
	uint64_t h = hash_engine(e);
	return e->replay ? hash_replay(h, e->replay) : h;
}

/* The key of a choice point: the state, and the actor that may go on (-1: none), which the default follows. */
uint64_t explicit_state_key(const pmc_engine *e, int32_t prev)
{
	uint64_t key = mix(pmc_state_hash(e), (uint64_t)(int64_t)prev);
	return key ? key : 1;                    /* 0 marks an empty slot of the set */
}

/* --- the set of explored states ------------------------------------------------------ */

struct pmc_seen {
	uint64_t *key;
	int64_t *used;               /* the fewest preemptions the state was reached with */
	int64_t cap, n;
};

pmc_seen *pmc_seen_new(void)
{
	return calloc(1, sizeof(struct pmc_seen));
}

void pmc_seen_free(pmc_seen *s)
{
	if (!s)
		return;
	free(s->key);
	free(s->used);
	free(s);
}

int64_t pmc_seen_size(const pmc_seen *s)
{
	return s->n;
}

static int64_t slot_of(const pmc_seen *s, uint64_t key)
{
	int64_t i = (int64_t)(key & (uint64_t)(s->cap - 1));
	while (s->key[i] && s->key[i] != key)
		i = (i + 1) & (s->cap - 1);
	return i;
}

static int seen_grow(pmc_seen *s)
{
	int64_t cap = s->cap ? 2 * s->cap : 1024;
	uint64_t *key = calloc((size_t)cap, sizeof *key);
	int64_t *used = malloc((size_t)cap * sizeof *used);
	if (!key || !used) {
		free(key);
		free(used);
		return -1;
	}
	pmc_seen old = *s;
	s->key = key;
	s->used = used;
	s->cap = cap;
	for (int64_t i = 0; i < old.cap; i++)
		if (old.key[i]) {
			int64_t j = slot_of(s, old.key[i]);
			s->key[j] = old.key[i];
			s->used[j] = old.used[i];
		}
	free(old.key);
	free(old.used);
	return 0;
}

/*
 * A state met at a choice point with `used` preemptions so far: 1 if it was
 * met before with no more (everything from here was explored within the same
 * bound), else 0 after noting it; -1 if the host is out of memory.
 */
int seen_visit(pmc_seen *s, uint64_t key, int64_t used)
{
	if (2 * (s->n + 1) > s->cap && seen_grow(s))
		return -1;
	int64_t i = slot_of(s, key);
	if (s->key[i]) {
		if (s->used[i] <= used)
			return 1;
		s->used[i] = used;
		return 0;
	}
	s->key[i] = key;
	s->used[i] = used;
	s->n++;
	return 0;
}
