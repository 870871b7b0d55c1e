"""Process settings the shells apply before they fold the core over a stream."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

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


@contextmanager
def collector_paused() -> Iterator[None]:
    """No cyclic collection inside (one batch of the core); as before afterwards.

    Why: most of what a batch allocates (its decoded records, their outputs) lives until the
    batch ends, so the young-generation collections inside re-scan and promote it over and
    over, and the promotions bring on full collections of every state not frozen: ~10 % of
    the decide stage's time at 1 M events (BENCHMARKS.md). After the batch, reference
    counting has freed most of it and the collector's next run sees only what survived."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
