"""The tables and checks the core exports for the Python side (docs/architecture.md, "one
source of truth"): what Python shows or checks must be what the core defines."""
import pytest

from pymemcg import batch, replay, sizes, trace
from pymemcg._ffi import ffi, lib


def test_stop_points_and_outcomes_are_the_cores():
    # batch reads them from the core; the names are what users' scripts step to, so they stay
    assert batch.PHASES == ("isolate", "start", "add_to_swap", "unmap", "pageout", "remove", "label", "putback",
                            "done")
    assert len(batch.PHASES) == lib.PMC_SP_DONE + 1
    assert batch.OUTCOMES == ("pending", "kept", "activated", "culled", "freed")
    assert lib.pmc_shrink_phase_name(-1) == ffi.NULL


def test_limits_are_the_cores():
    assert sizes.PAGE_SIZE == lib.PMC_PAGE_SIZE
    assert replay.SWAP_CLUSTER_MAX == lib.PMC_SWAP_CLUSTER_MAX
    assert trace.VPN_LIMIT == 1 << lib.PMC_TASK_VPN_BITS
    assert lib.PMC_MAX_PAGES == 2**31 - 2


def _validate(**kw):
    cfg = ffi.new("struct pmc_config *", dict(dict(nr_pages=1024, nr_swap=1024, kernel=lib.PMC_KERNEL_2_6_30), **kw))
    err = ffi.new("char[256]")
    return lib.pmc_validate_settings(cfg, err, 256), ffi.string(err).decode()


@pytest.mark.parametrize("kw, words", [
    (dict(nr_pages=0), "ram must be 1 to 2147483646 pages, got 0"),
    (dict(nr_pages=2**31 - 1), "ram must be 1 to 2147483646 pages"),
    (dict(nr_swap=2), "swap must be 0 or 3 to 2147483646 pages"),
    (dict(kernel=32), "unknown kernel 32"),
    (dict(page_cluster=17), "page_cluster must be 0..16"),
])
def test_validate_settings_refuses_with_the_reason(kw, words):
    rc, msg = _validate(**kw)
    assert rc == lib.PMC_EINVAL
    assert words in msg


def test_validate_settings_accepts_the_limits():
    assert _validate(nr_pages=2**31 - 2, nr_swap=0)[0] == 0
    assert _validate(nr_pages=1, nr_swap=3)[0] == 0
