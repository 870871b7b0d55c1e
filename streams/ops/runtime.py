"""Process settings the shells apply before they fold the core over a stream."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

# Allocations between young-generation collections (CPython's default is 700).
_GEN0_THRESHOLD = 50_000
# BatchCollector: a full collection once the frozen objects have grown by this share since
# the last one, and not below this many objects
FULL_AFTER_GROWTH = 0.5
FULL_AFTER_AT_LEAST = 200_000


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


class BatchCollector:
    """The cyclic collector around a shell's batches of the core.

    A batch runs with the collector paused (:func:`collector_paused`), and what is alive
    after it is frozen (:func:`gc.freeze`) uncollected: the states a batch leaves are
    long-lived and hold no cycles, so collections that scan them are pure cost, and even
    scanning once just what each batch left (a young collection before the freeze) costs
    nearly all that freezing saves: the ceiling of 1 M bench events took 46.1 s as before,
    36.9 s frozen and 44.2 s with the young collection (BENCHMARKS.md, ninth session).
    Reference counting frees everything acyclic as before, frozen or not.

    Cycles that become garbage once frozen are found by a full collection (unfreeze, collect,
    freeze again) when the frozen objects have grown by ``full_after_growth`` since the last
    one (and are at least :data:`FULL_AFTER_AT_LEAST`): what it scans grows with the live
    objects, and it runs less often the more there are, like CPython's own rule for full
    collections. ``None``: never (a bounded run, such as a review, keeps its few cycles
    until it ends). Made after the start-up freeze (:func:`tune_gc_for_core_state`), the
    growth counts from what that froze."""

    def __init__(self, full_after_growth: float | None = FULL_AFTER_GROWTH) -> None:
        self._growth = full_after_growth
        self._frozen_after_full = gc.get_freeze_count()

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Around one batch: the collector paused inside, what is alive frozen after."""
        with collector_paused():
            try:
                yield
            finally:
                self._freeze()

    def _freeze(self) -> None:
        gc.freeze()
        if self._growth is None:
            return
        if gc.get_freeze_count() > max(
            self._frozen_after_full * (1 + self._growth), FULL_AFTER_AT_LEAST
        ):
            gc.unfreeze()
            gc.collect()
            gc.freeze()
            self._frozen_after_full = gc.get_freeze_count()
