"""The cyclic collector is off while a decide batch is folded and as before afterwards
(streams/ops/runtime.py ``collector_paused``, used by streams/live/app.py's decide batch),
off while the landing gathers, lands and commits a batch, then its young generation
collected and the collector on between batches (streams/live/landing.py); a review's batch
is frozen without a collection (streams/replay/session.py)."""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import Iterator, Sequence
from typing import Any

import pytest

from streams.live import landing as landing_module
from streams.live.app import _decide_batch
from streams.ops.runtime import collector_paused


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


class _Client:
    def __init__(self, *topics: str, **settings: Any) -> None:
        pass

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass


class _Stop(Exception):
    pass


@pytest.mark.usefixtures("collector_on")
def test_a_landing_batch_is_gathered_landed_and_committed_with_the_collector_paused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Batch by batch: gathered and planned while the one before lands (in a thread),
    then that one is dead-lettered and committed, each with the collector paused."""
    monkeypatch.setattr(landing_module, "AIOKafkaConsumer", _Client)
    monkeypatch.setattr(landing_module, "AIOKafkaProducer", _Client)
    stage = landing_module.Landing(kafka={}, prefix="unit", sinks={}, pseudonym_key=b"k")
    seen: list[tuple[str, bool]] = []  # the event loop's steps
    order: list[str] = []  # every step, the landing thread's too
    batches = [{"a partition": ["a record"]}, {"a partition": ["another"]}]

    def note(step: str, result: Any = None) -> Any:
        seen.append((step, gc.isenabled()))
        order.append(step)
        return result

    async def gather(consumer: Any) -> Any:
        if not batches:
            raise _Stop
        return note("gather", batches.pop(0))

    async def after(*args: Any) -> None:
        note("between batches")

    async def commit(consumer: Any, batch: Any) -> None:
        note(f"commit {batch['a partition'][0]}")

    async def dead_letter(producer: Any, refused: Any) -> None:
        note("dead-letter")

    def land(writes: list[str]) -> list[Any]:
        time.sleep(0.1)  # slower than the next gather: a commit must wait for it
        order.append(f"land {writes[0]}")
        return []

    monkeypatch.setattr(stage, "_gather", gather)
    monkeypatch.setattr(stage, "plan", lambda batch: note("plan", batch["a partition"]))
    monkeypatch.setattr(stage, "land", land)
    monkeypatch.setattr(stage, "_dead_letter", dead_letter)
    monkeypatch.setattr(stage, "_commit", commit)
    monkeypatch.setattr(stage, "_refresh_lag", after)
    monkeypatch.setattr(gc, "collect", lambda generation=2: note(f"collect {generation}", 0))
    with pytest.raises(_Stop):
        asyncio.run(stage.run(["unit.alerts.v1"]))
    after_batch = [("collect 0", True), ("between batches", True)]
    assert seen == [
        ("gather", False), ("plan", False), *after_batch,
        ("gather", False), ("plan", False), ("dead-letter", False), ("commit a record", False),
        *after_batch,
    ]  # fmt: skip
    assert order.index("land a record") < order.index("commit a record")
    assert "commit another" not in order  # in flight when the stage stopped: not committed
    assert gc.isenabled()


def _no_collection() -> int:
    raise AssertionError("a review batch must not run a full collection")


@pytest.mark.usefixtures("collector_on")
def test_a_review_batch_is_frozen_without_a_collection(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gc, "collect", _no_collection)
    frozen = gc.get_freeze_count()
    try:
        with collector_paused(freeze=True):  # a review's batch (streams/replay/session.py)
            assert not gc.isenabled()
            kept = [[n] for n in range(10_000)]  # tracked containers the batch leaves
        assert gc.isenabled()
        # Frozen, and the young generation emptied: no collection re-scans them later.
        assert gc.get_freeze_count() >= frozen + len(kept)
        assert gc.get_count()[0] < 1_000
    finally:
        gc.unfreeze()
