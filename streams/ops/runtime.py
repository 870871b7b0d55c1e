"""Process settings the shells apply before they fold the core over a stream."""

from __future__ import annotations

import gc

# Allocations between young-generation collections (CPython's default is 700).
_GEN0_THRESHOLD = 50_000


def tune_gc_for_core_state() -> None:
    """The core's state is large, long-lived and holds no reference cycles of its own;
    CPython's cyclic collector re-scanning it costs about 40 % of core time (bench/core.py
    --no-gc). Move what exists after start-up out of the collector's view and collect the
    young generation less often. Reference counting still frees everything acyclic at once;
    cycles are still collected, later."""
    gc.freeze()
    _, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(_GEN0_THRESHOLD, gen1, gen2)
