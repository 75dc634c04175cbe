"""Speed work never changes a decision: every golden replay (tests/replay_golden.py) gives the
digest recorded before the work began, bit for bit.  The cases span 1, 2 and 4 CPUs, the rr and
random schedulers, the churn, zipf, zipf cut into four tasks, mixed, fork_heavy and steady
workloads, both kernels and both hooks."""
import pytest

import replay_golden as golden

SCHEMA, GOLDEN = golden.load()


def test_the_golden_file_covers_every_case():
    assert sorted(GOLDEN) == sorted(golden.case_id(c) for c in golden.cases())


def test_the_cases_race_leak_and_swap():
    """The recorded replays are worth pinning: they interleave, leak, swap in and OOM nothing away."""
    v = GOLDEN
    assert v["churn-cpus4-random-2.6.30-none"]["stale"] > 50
    assert v["churn-cpus4-random-2.6.30-seed"]["stale"] == 0
    assert v["churn-cpus4-random-2.6.30-seed"]["hook_freed"] > 0
    assert v["zipf-cpus1-rr-2.6.30-none"]["pgmajfault"] > 1000
    assert v["zipf4-cpus4-random-2.6.31-none"]["interleavings"] > 100_000
    assert v["fork_heavy-cpus4-rr-2.6.30-none"]["swapouts"] > 0
    assert len({c["digest"] for c in v.values()}) > 100


@pytest.mark.parametrize("case", golden.cases(), ids=golden.case_id)
def test_replay_is_bit_identical_to_the_recording(case):
    want = GOLDEN[golden.case_id(case)]
    got, brief, _ = golden.run_case(case, SCHEMA[case[0]])
    if got != want["digest"]:
        diff = {k: (want[k], brief[k]) for k in brief if brief[k] != want[k]}
        pytest.fail(f"the replay's observable state changed; figures that differ (recorded, now): {diff}")


@pytest.mark.parametrize("case", golden.cases()[::3], ids=golden.case_id)
def test_the_reference_scheduler_gives_the_recording_too(case):
    """Without the fast paths (one step per pick through the scan, the general dispatch, no
    hits in one go) a third of the cases, spread over every workload and setting, give the
    recorded digest as well: the recording is the scheduler's, not the fast paths'."""
    want = GOLDEN[golden.case_id(case)]
    got, brief, _ = golden.run_case(case, SCHEMA[case[0]], slow=True)
    assert got == want["digest"], {k: (want[k], brief[k]) for k in brief if brief[k] != want[k]}
