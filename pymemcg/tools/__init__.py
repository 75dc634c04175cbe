"""The tools built on pymemcg's API: the `pymemcg` command (cli), the demo, the benchmarks of a
strategy (bench), plots, sweeps over settings and traces, and miss-ratio curves (mrc).  The API
does not import them (pymemcg.explore, which runs its schedules on the sweep's executors, is
the one module on both sides); they are reachable as before, as ``pymemcg.sweep``, ``pymemcg.bench``,
and so on (docs/architecture.md, "Layout")."""
