"""A plain-Python reference model of pymemcg's synchronous API (not shipped in the package).

Written from docs/semantics.md and docs/semantics.md, for clarity rather than
speed, over dicts and lists.  See model.py.
"""
from .model import (Model, ModelStateError, ModelTaskDead, ModelCgroupError, Unmodeled,
                    NeedQuiescentIO, PG, PTE, SWAP_HAS_CACHE)

__all__ = ["Model", "ModelStateError", "ModelTaskDead", "ModelCgroupError", "Unmodeled", "NeedQuiescentIO", "PG", "PTE",
           "SWAP_HAS_CACHE"]
