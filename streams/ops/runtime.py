"""Process settings the shells apply before they fold the core over a stream."""

from __future__ import annotations

import ctypes
import gc
from collections.abc import Callable, Iterator
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
def collector_paused(*, freeze: bool = False) -> Iterator[None]:
    """No cyclic collection inside (one batch of the core); as before afterwards. With
    ``freeze``, what is tracked when the block ends (the batch's states, long-lived and
    free of cycles) is frozen before the collector runs again, so no collection rescans it.

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
        if freeze:
            gc.freeze()
        if enabled:
            gc.enable()


def _malloc_trim() -> Callable[[int], int] | None:
    try:
        libc = ctypes.CDLL(None)  # the process's own symbols: the C library's among them
    except OSError:
        return None
    return getattr(libc, "malloc_trim", None)


_MALLOC_TRIM = _malloc_trim()


def release_freed_memory() -> None:
    """Give the C allocator's free pages back to the system: glibc's ``malloc_trim(0)``,
    a no-op where there is none.

    Why: Python's small objects live in its own arenas, but every block over 512 bytes
    (fetched record values, the outputs and state records sent, the columns a batch copies)
    comes from glibc's heap, where the long-lived ones pin the freed ones between them and
    the heap only shrinks from its top. In the decide process at 5 M bench events 190 MB
    of that heap was free and still resident at the end (BENCHMARKS.md "Cases and
    transfers packed")."""
    if _MALLOC_TRIM is not None:
        _MALLOC_TRIM(0)
