"""The decide intake's loop (:class:`streams.live.intake.Intake`) with a stand-in consumer:
a batch the decide agent never finishes (Faust cleared it from its channel in a
rebalance) must not hang the intake, nothing of it is committed, and the next assignment
reads it again from the committed offset. The real consumer is exercised by the live
integration tests."""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass
from typing import Any

import pytest
from aiokafka import TopicPartition

import streams.live.intake as intake_module
from streams.live.decide import Record
from streams.live.intake import Intake

TP = TopicPartition("t", 0)


@dataclass(frozen=True)
class _Message:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes


class _Consumer:
    """Three records on partition 0 of topic ``t``; commits are recorded."""

    def __init__(self) -> None:
        self.log = [_Message("t", 0, n, None, b"{}") for n in range(3)]
        self.committed_offsets: dict[TopicPartition, int] = {}
        self.commits: list[dict[TopicPartition, int]] = []
        self._assigned: list[TopicPartition] = []
        self._position = 0

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass

    def assign(self, tps: list[TopicPartition]) -> None:
        self._assigned = list(tps)
        self._position = self.committed_offsets.get(TP, 0)

    def assignment(self) -> set[TopicPartition]:
        return set(self._assigned)

    async def committed(self, tp: TopicPartition) -> int | None:
        return self.committed_offsets.get(tp)

    async def getmany(self, timeout_ms: int, max_records: int) -> dict[TopicPartition, Any]:
        batch = self.log[self._position : self._position + max_records]
        if not batch:
            await asyncio.sleep(timeout_ms / 1000)
            return {}
        self._position += len(batch)
        return {TP: batch}

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        self.committed_offsets.update(offsets)
        self.commits.append(dict(offsets))


async def _until(condition: Any) -> None:
    for _ in range(500):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not met within 5 s")


def test_a_batch_cleared_by_a_rebalance_does_not_hang_the_intake_and_is_read_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    consumer = _Consumer()
    monkeypatch.setattr(intake_module, "batch_consumer", lambda *_: consumer)
    monkeypatch.setattr(intake_module, "REVOKE_POLL_S", 0.01)
    ticks = itertools.count(step=100)  # every commit is due
    decided: list[list[Record]] = []

    async def decide(records: list[Record]) -> None:
        decided.append(records)
        if len(decided) == 1:
            await asyncio.Event().wait()  # never done: Faust dropped it from its channel

    async def before_commit() -> None:
        pass

    async def scenario() -> None:
        intake = Intake(
            bootstrap="unused",
            group="g",
            topics=["t"],
            batch_max=10,
            wait_s=0.01,
            commit_interval_s=0,
            clock=lambda: float(next(ticks)),
        )
        running = asyncio.ensure_future(intake.run(decide, before_commit))
        intake.assign([0])
        await _until(lambda: len(decided) == 1)
        intake.revoke()
        await asyncio.sleep(0.1)
        assert consumer.commits == []  # nothing of the abandoned batch
        intake.assign([0])
        await _until(lambda: consumer.commits)
        running.cancel()
        assert [[r.offset for r in batch] for batch in decided] == [[0, 1, 2], [0, 1, 2]]
        assert consumer.commits == [{TP: 3}]

    asyncio.run(scenario())
