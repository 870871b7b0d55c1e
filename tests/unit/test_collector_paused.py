"""The cyclic collector is off while a decide batch is folded and as before afterwards
(streams/ops/runtime.py ``collector_paused``); what a batch leaves is frozen without a
collection (``BatchCollector``: streams/live/app.py's decide batch, and a review's,
streams/replay/session.py), and the cycles frozen as garbage are found once the frozen
objects have grown enough (a worker's), or never (a review's)."""

from __future__ import annotations

import asyncio
import gc
import weakref
from collections.abc import Iterator, Sequence
from typing import Any

import pytest

from streams.live.app import _decide_batch
from streams.ops import runtime
from streams.ops.runtime import BatchCollector, collector_paused


@pytest.fixture
def collector_on() -> Iterator[None]:
    enabled = gc.isenabled()
    gc.enable()
    yield
    if not enabled:
        gc.disable()


@pytest.mark.usefixtures("collector_on")
def test_paused_inside_and_on_again_after_even_on_an_error() -> None:
    with collector_paused():
        assert not gc.isenabled()
    assert gc.isenabled()
    with pytest.raises(RuntimeError), collector_paused():
        raise RuntimeError("a batch failed")
    assert gc.isenabled()


@pytest.mark.usefixtures("collector_on")
def test_left_off_when_it_was_off() -> None:
    gc.disable()
    with collector_paused():
        pass
    assert not gc.isenabled()


class _Decider:
    def __init__(self) -> None:
        self.collecting: list[bool] = []

    def process(self, records: Sequence[Any]) -> list[str]:
        self.collecting.append(gc.isenabled())
        return ["out"]


class _Outputs:
    def __init__(self) -> None:
        self.collecting: list[bool] = []

    async def send(self, outgoing: Sequence[Any]) -> None:
        self.collecting.append(gc.isenabled())


@pytest.mark.usefixtures("collector_on")
def test_a_decide_batch_is_folded_with_the_collector_paused_and_sent_after() -> None:
    decider, outputs = _Decider(), _Outputs()
    try:
        asyncio.run(_decide_batch(outputs, decider, [], BatchCollector()))  # type: ignore[arg-type]
    finally:
        gc.unfreeze()
    assert decider.collecting == [False]
    assert outputs.collecting == [True]
    assert gc.isenabled()


def _no_collection() -> int:
    raise AssertionError("a review batch must not run a full collection")


@pytest.mark.usefixtures("collector_on")
def test_a_review_batch_is_frozen_without_a_collection(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gc, "collect", _no_collection)
    frozen = gc.get_freeze_count()
    try:
        with BatchCollector(full_after_growth=None).batch():
            assert not gc.isenabled()
            kept = [[n] for n in range(10_000)]  # tracked containers the batch leaves
        assert gc.isenabled()
        # Frozen, and the young generation emptied: no collection re-scans them later.
        assert gc.get_freeze_count() >= frozen + len(kept)
        assert gc.get_count()[0] < 1_000
    finally:
        gc.unfreeze()


class _Node:
    """A cycle when it refers to itself."""

    def __init__(self) -> None:
        self.me = self


def _batch_leaving_a_dead_cycle(collector: BatchCollector, found: list[int]) -> None:
    with collector.batch():
        node = _Node()
        weakref.finalize(node, found.append, 1)
        del node  # garbage only the cyclic collector can find


@pytest.mark.usefixtures("collector_on")
@pytest.mark.parametrize("growth", [0.5, None])
def test_cycles_frozen_as_garbage_are_found_once_the_frozen_objects_grow(
    monkeypatch: pytest.MonkeyPatch, growth: float | None
) -> None:
    monkeypatch.setattr(runtime, "FULL_AFTER_AT_LEAST", 1_000)
    gc.collect()
    gc.freeze()  # as a shell starts (tune_gc_for_core_state)
    found: list[int] = []
    kept: list[Any] = []
    try:
        collector = BatchCollector(full_after_growth=growth)
        _batch_leaving_a_dead_cycle(collector, found)
        assert found == []  # frozen, not collected
        with collector.batch():  # the live objects grow by more than half
            kept.extend([n] for n in range(gc.get_freeze_count()))
        assert found == ([1] if growth is not None else [])
        assert gc.get_freeze_count() >= len(kept)  # what lives is frozen again
        _batch_leaving_a_dead_cycle(collector, found)
        assert found == ([1] if growth is not None else [])  # no growth since
    finally:
        gc.unfreeze()
        gc.collect()
