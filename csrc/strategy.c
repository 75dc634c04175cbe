/*
 * strategy.c - reclaim strategies: the shipped ones (one line each in
 * strategies/list.h), the check every table passes before an engine uses it,
 * the accessor table (struct pmc_api) through which a strategy sees and asks,
 * and the out-of-line halves of the hook points (hookpoints.h).
 *
 * A strategy is untrusted in what it asks for, not in how it is built: an
 * answer a hook point does not accept, or a request the kernel would not
 * allow (try_to_free_swap on a page the hook point does not hold locked,
 * uncharging a page that is mapped, in the swap cache or not charged), is
 * refused and counted in strategy_refused, and the kernel path goes on as
 * if the strategy had said PMC_GO_ON.
 */
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "engine.h"

#define STRATEGY(id) extern const struct pmc_strategy pmc_strategy_##id;
#include "strategies/list.h"
#undef STRATEGY

static const struct pmc_strategy *const shipped[] = {
#define STRATEGY(id) &pmc_strategy_##id,
#include "strategies/list.h"
#undef STRATEGY
};

#define NR_SHIPPED ((int)(sizeof shipped / sizeof shipped[0]))
#define NAME_MAX_LEN 40

const struct pmc_strategy *pmc_strategy_shipped(int i)
{
	return i >= 0 && i < NR_SHIPPED ? shipped[i] : NULL;
}

const struct pmc_strategy *pmc_strategy_find(const char *name)
{
	for (int i = 0; name && i < NR_SHIPPED; i++)
		if (!strcmp(shipped[i]->name, name))
			return shipped[i];
	return NULL;
}

/* [a-z0-9._-], 1..NAME_MAX_LEN, starting with a letter or digit (extra: also '_' allowed, for counters). */
static int valid_name(const char *s, const char *extra)
{
	size_t n = 0;
	while (n <= NAME_MAX_LEN && s[n])
		n++;
	if (n == 0 || n > NAME_MAX_LEN)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];
		int alnum = (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9');
		if (!alnum && (i == 0 || !strchr(extra, ch)))
			return 0;
	}
	return 1;
}

/* A table the engine can use: this interface's version and size, a name, well-formed counter names. */
int pmc_strategy_check(const struct pmc_strategy *s, char *err, size_t errlen)
{
	if (!s) {
		snprintf(err, errlen, "no strategy table");
		return PMC_EINVAL;
	}
	if (s->abi != PMC_STRATEGY_ABI) {
		snprintf(err, errlen, "strategy table built for interface %u, this engine has %u: rebuild it against "
		         "this pymemcg's pymemcg_strategy.h", s->abi, (unsigned)PMC_STRATEGY_ABI);
		return PMC_EINVAL;
	}
	if (s->size != sizeof *s) {
		snprintf(err, errlen, "strategy table of %u bytes, this engine's is %zu: set it up with PMC_STRATEGY_INIT",
		         s->size, sizeof *s);
		return PMC_EINVAL;
	}
	if (!s->name || !valid_name(s->name, "._-")) {
		snprintf(err, errlen, "strategy name must be 1-%d characters of a-z 0-9 . _ - starting with a letter or "
		         "digit, got '%.*s'", NAME_MAX_LEN, NAME_MAX_LEN + 1, s->name ? s->name : "(none)");
		return PMC_EINVAL;
	}
	int last = -1;
	for (int i = 0; i < PMC_STRATEGY_COUNTERS; i++) {
		if (!s->counters[i])
			continue;
		if (last != i - 1) {
			snprintf(err, errlen, "strategy '%s': counter %d is named but counter %d is not", s->name, i, i - 1);
			return PMC_EINVAL;
		}
		last = i;
		if (!valid_name(s->counters[i], "_")) {
			snprintf(err, errlen, "strategy '%s': counter %d's name must be 1-%d characters of a-z 0-9 _",
			         s->name, i, NAME_MAX_LEN);
			return PMC_EINVAL;
		}
		for (int j = 0; j < i; j++)
			if (!strcmp(s->counters[i], s->counters[j])) {
				snprintf(err, errlen, "strategy '%s': counter name '%s' given twice", s->name, s->counters[i]);
				return PMC_EINVAL;
			}
	}
	return 0;
}

int32_t strategy_refuse(pmc_engine *e)
{
	e->ctr.strategy_refused++;
	return PMC_GO_ON;
}

/* --- the accessors (struct pmc_api) --------------------------------------------- */

static int pfn_ok(const struct pmc_ctx *c, int32_t pfn)
{
	if (pfn >= 0 && pfn < c->nr_pages)
		return 1;
	strategy_refuse(c->e);
	return 0;
}

static int off_ok(const struct pmc_ctx *c, int32_t off)
{
	if (off >= 1 && off < c->nr_swap)
		return 1;
	strategy_refuse(c->e);
	return 0;
}

static uint32_t api_page_flags(const struct pmc_ctx *c, int32_t pfn)
{
	return pfn_ok(c, pfn) ? c->e->a.flags[pfn] : 0;
}

static int32_t api_page_count(const struct pmc_ctx *c, int32_t pfn)
{
	return pfn_ok(c, pfn) ? c->e->a.count[pfn] : 0;
}

static int32_t api_page_mapcount(const struct pmc_ctx *c, int32_t pfn)
{
	return pfn_ok(c, pfn) ? c->e->a.mapcount[pfn] : 0;
}

static int32_t api_page_mapped(const struct pmc_ctx *c, int32_t pfn)
{
	return pfn_ok(c, pfn) && page_mapped(c->e, pfn);
}

static int32_t api_page_memcg(const struct pmc_ctx *c, int32_t pfn)
{
	return pfn_ok(c, pfn) && PageTest(c->e, pfn, PCG_USED) ? c->e->a.memcg[pfn] : 0;
}

static int32_t api_page_swap_slot(const struct pmc_ctx *c, int32_t pfn)
{
	return pfn_ok(c, pfn) && PageTest(c->e, pfn, PG_swapcache) ? (int32_t)c->e->a.private[pfn] : 0;
}

static int32_t api_page_swapcount(const struct pmc_ctx *c, int32_t pfn)
{
	return pfn_ok(c, pfn) && PageTest(c->e, pfn, PG_swapcache) ? page_swapcount(c->e, pfn) : 0;
}

/* Swap ptes using a slot: 2.6.31 keeps them apart from SWAP_HAS_CACHE, 2.6.30 counts the cache in. */
static int32_t api_swap_count(const struct pmc_ctx *c, int32_t off)
{
	if (!off_ok(c, off))
		return 0;
	const pmc_engine *e = c->e;
	uint16_t v = e->a.swap_map[off];
	if (v == e->swap_ops->bad)
		return 0;
	if (e->swap_ops->cache_bit)
		return v & ~e->swap_ops->cache_bit;
	return v - (v && e->a.swap_cache[off] != NIL);
}

static int32_t api_swap_cache_page(const struct pmc_ctx *c, int32_t off)
{
	return off_ok(c, off) ? c->e->a.swap_cache[off] : NIL;
}

static int32_t api_swap_cgroup(const struct pmc_ctx *c, int32_t off)
{
	return off_ok(c, off) ? c->e->a.swap_cgroup[off] : 0;
}

static int32_t api_vm_swap_full(const struct pmc_ctx *c)
{
	return vm_swap_full(c->e);
}

static int32_t api_try_to_free_swap(const struct pmc_ctx *c, int32_t pfn)
{
	if (!pfn_ok(c, pfn))
		return 0;
	if (pfn != c->locked)
		return strategy_refuse(c->e);           /* the kernel's helper needs the page lock */
	return try_to_free_swap(c->e, pfn);
}

static int32_t api_uncharge_page(const struct pmc_ctx *c, int32_t pfn)
{
	if (!pfn_ok(c, pfn))
		return 0;
	pmc_engine *e = c->e;
	if ((e->a.flags[pfn] & (PCG_USED | PG_swapcache)) != PCG_USED || page_mapped(e, pfn))
		return strategy_refuse(e);              /* mapped, in the swap cache, or not charged */
	return __mem_cgroup_uncharge_common(e, pfn, MEM_CGROUP_CHARGE_TYPE_MAPPED) != 0;
}

static const struct pmc_api pmc_api = {
	.abi = PMC_STRATEGY_ABI, .size = sizeof(struct pmc_api),
	.page_flags = api_page_flags, .page_count = api_page_count, .page_mapcount = api_page_mapcount,
	.page_mapped = api_page_mapped, .page_memcg = api_page_memcg, .page_swap_slot = api_page_swap_slot,
	.page_swapcount = api_page_swapcount, .swap_count = api_swap_count, .swap_cache_page = api_swap_cache_page,
	.swap_cgroup = api_swap_cgroup, .vm_swap_full = api_vm_swap_full, .try_to_free_swap = api_try_to_free_swap,
	.uncharge_page = api_uncharge_page,
};

/* --- an engine's strategy ------------------------------------------------------- */

/* Copy the table (the caller checked it; NULL is "none") and set up what the hooks see. */
int strategy_init(pmc_engine *e, const struct pmc_strategy *s)
{
	e->ops = s ? *s : pmc_strategy_none;
	e->sctx = (struct pmc_ctx){ .api = &pmc_api, .e = e, .data = e->ops.data, .counters = e->sctr,
	                            .locked = NIL, .kernel = e->cfg.kernel, .nr_pages = e->nr_pages,
	                            .nr_swap = e->nr_swap };
	if (e->ops.scan_swap_map && e->nr_swap) {
		e->scan_memo = calloc((size_t)e->nr_swap, sizeof *e->scan_memo);
		if (!e->scan_memo)
			return PMC_EALLOC;
	}
	return 0;
}

void strategy_destroy(pmc_engine *e)
{
	free(e->scan_memo);
	e->scan_memo = NULL;
}

/* free_hot_cold_page of a page a PMC_DEFER left charged: the strategy's hook, then 3.17's uncharge at free. */
void strategy_uncharge_at_free(pmc_engine *e, int32_t pfn)
{
	if (e->ops.free_hot_cold_page) {
		int32_t old = hook_enter(e, NIL);
		hook_answer(e, old, e->ops.free_hot_cold_page(&e->sctx, pfn), PMC_GO_ON);
	}
	__mem_cgroup_uncharge_common(e, pfn, MEM_CGROUP_CHARGE_TYPE_FORCE);
}

/* memo[off] holds (gen << 1) | answer; bit 0 is the answer, the rest names the allocation it was given in. */
void strategy_scan_begin(pmc_engine *e)
{
	if (++e->scan_gen >= (1u << 31)) {
		e->scan_gen = 1;
		memset(e->scan_memo, 0, (size_t)e->nr_swap * sizeof *e->scan_memo);
	}
}

int strategy_scan_swap_map(pmc_engine *e, int32_t off)
{
	int32_t pfn = e->a.swap_cache[off];
	if (pfn == NIL || e->swap_ops->swap_count(e->a.swap_map[off]))
		return 0;                                   /* not held by the swap cache alone */
	uint32_t m = e->scan_memo[off];
	if (m >> 1 == e->scan_gen)
		return (int)(m & 1);
	int32_t old = hook_enter(e, NIL);
	int reclaim = hook_answer(e, old, e->ops.scan_swap_map(&e->sctx, off, pfn), PMC_RECLAIM);
	e->scan_memo[off] = (e->scan_gen << 1) | (uint32_t)reclaim;
	return reclaim;
}

int pmc_strategy_counters(const pmc_engine *e, int64_t *out, int n)
{
	if (n < 0 || n > PMC_STRATEGY_COUNTERS)
		return PMC_EINVAL;
	memcpy(out, e->sctr, (size_t)n * sizeof *out);
	return n;
}

int pmc_strategy_set_counters(pmc_engine *e, const int64_t *in, int n)
{
	if (n < 0 || n > PMC_STRATEGY_COUNTERS)
		return pmc_err(e, PMC_EINVAL, "a strategy has %d counters, not %d", PMC_STRATEGY_COUNTERS, n);
	memset(e->sctr, 0, sizeof e->sctr);
	memcpy(e->sctr, in, (size_t)n * sizeof *in);
	return n;
}
