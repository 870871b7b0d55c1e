"""The cyclic collector is off while a decide batch is folded and as before afterwards
(streams/ops/runtime.py ``collector_paused``, used by streams/live/app.py's decide batch);
a review's batch is frozen without a collection (streams/replay/session.py)."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Iterator, Sequence
from typing import Any

import pytest

from streams.live.app import _decide_batch
from streams.ops.runtime import collector_paused
from streams.replay.session import _collector_paused as review_batch


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

    async def queue(self, outgoing: Sequence[Any]) -> list[Any]:
        self.collecting.append(gc.isenabled())
        return []


@pytest.mark.usefixtures("collector_on")
def test_a_decide_batch_is_folded_with_the_collector_paused_and_sent_after() -> None:
    decider, outputs = _Decider(), _Outputs()

    async def decide() -> None:
        await (await _decide_batch(outputs, decider, []))  # type: ignore[arg-type]

    asyncio.run(decide())
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
        with review_batch():
            assert not gc.isenabled()
            kept = [[n] for n in range(10_000)]  # tracked containers the batch leaves
        assert gc.isenabled()
        # Frozen, and the young generation emptied: no collection re-scans them later.
        assert gc.get_freeze_count() >= frozen + len(kept)
        assert gc.get_count()[0] < 1_000
    finally:
        gc.unfreeze()
