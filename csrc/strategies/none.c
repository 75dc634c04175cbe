/*
 * none: 2.6.30 as it was.  Every hook point is empty, so reclaim takes the
 * released kernel's decisions, race windows and all (semantics.md K4).
 */
#include "pymemcg_strategy.h"

const struct pmc_strategy pmc_strategy_none = {
	PMC_STRATEGY_INIT,
	.name = "none",
	.doc = "2.6.30 as it was: no hook",
};
