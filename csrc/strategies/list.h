/*
 * The strategies shipped in the core, one line each, in the order the CLI,
 * the benchmarks and the demo list them.  Each is a file of this folder
 * defining const struct pmc_strategy pmc_strategy_<id>.
 */
STRATEGY(none)
STRATEGY(seed)
STRATEGY(uncharge_at_free)
