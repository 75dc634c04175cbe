"""Batch: pages isolated for shrink_page_list, walked one stop point at a time (docs/race.md)."""
import numpy as np

from ._ffi import check, ffi, lib


def _names(name_of):
    """A table the core exports by value (NULL past the last), as a tuple."""
    out = []
    while (p := name_of(len(out))) != ffi.NULL:
        out.append(ffi.string(p).decode())
    return tuple(out)


# the stop points of shrink_page_list in the order a page meets them, and the page outcomes,
# as the core names them (pymemcg.h)
PHASES = _names(lib.pmc_shrink_phase_name)
OUTCOMES = _names(lib.pmc_page_outcome_name)


class Batch:
    """Up to 32 pages isolated from an inactive anon list by ``Engine.isolate``.

    ``step()`` runs shrink_page_list up to its next stop point (where another CPU
    could run) and returns the name of the stop point reached; ``Engine.shrink_page_list``
    runs the rest and puts the pages back.  Stop points per page: "start" (trylock,
    page_referenced), "add_to_swap" (add_to_swap and the hook), "unmap" (try_to_unmap),
    "pageout", "remove" (__remove_mapping) and "label" (unlock, activate or free)."""

    __slots__ = ("_eng", "_id")

    def __init__(self, eng, batch_id):
        self._eng = eng
        self._id = batch_id

    def _info(self):
        info = ffi.new("struct pmc_batch_info *")
        check(lib.pmc_batch_info(self._eng._ptr, self._id, info), self._eng._ptr)
        return info

    def __repr__(self):
        return f"<Batch {self._id} {len(self)} pages, next: {self.phase}>"

    def __len__(self):
        return self._info().nr

    @property
    def pages(self):
        """The isolated pfns, in the order shrink_page_list takes them."""
        i = self._info()
        return np.array(ffi.unpack(i.pfn, i.nr), dtype=np.int32)

    @property
    def phase(self):
        """The stop point the next step() runs."""
        return PHASES[self._info().phase]

    @property
    def index(self):
        """Position in pages of the page in hand."""
        return self._info().idx

    @property
    def outcomes(self):
        """Per page: pending, kept, activated, culled or freed."""
        i = self._info()
        return [OUTCOMES[o] for o in ffi.unpack(i.outcome, i.nr)]

    @property
    def done(self):
        return self._info().phase == PHASES.index("done")

    def step(self):
        """Run one stop point; returns the name of the next one."""
        return PHASES[check(lib.pmc_batch_step(self._eng._ptr, self._id), self._eng._ptr)]

    def step_until(self, phase, page=None):
        """Step until the next step would run ``phase`` (for ``page``, an index into pages, if given)."""
        if phase not in PHASES:
            raise ValueError(f"unknown stop point {phase!r}; one of {PHASES}")
        while not (self.phase == phase and (page is None or self.index == page)):
            if self.phase == "putback":
                raise ValueError(f"the batch ended before reaching {phase!r}")
            self.step()
        return self
