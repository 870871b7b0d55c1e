"""The landing's gathering of fetches into one landing (:meth:`streams.live.landing.Landing.
_gather`), against a scripted consumer: a fetch that returned records is followed by more
for up to the linger, never past ``batch_records``, and a topic-partition sought back
meanwhile starts anew."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from aiokafka import ConsumerRecord, TopicPartition

from streams.live.landing import Landing

A = TopicPartition("unit.alerts.v1", 0)
B = TopicPartition("unit.tasks.v1", 3)


def records(tp: TopicPartition, first: int, count: int) -> list[ConsumerRecord[Any, Any]]:
    return [
        ConsumerRecord(tp.topic, tp.partition, o, 0, 0, None, b"{}", None, 2, 0, ())
        for o in range(first, first + count)
    ]


class ScriptedConsumer:
    """``getmany`` answers from a script, then (script spent) waits out its timeout with
    nothing, as a consumer with nothing to read does; notes each call's arguments."""

    def __init__(self, *answers: dict[TopicPartition, list[Any]]) -> None:
        self.answers = list(answers)
        self.calls: list[tuple[int, int]] = []

    async def getmany(self, *, timeout_ms: int, max_records: int) -> dict[TopicPartition, Any]:
        self.calls.append((timeout_ms, max_records))
        if self.answers:
            return self.answers.pop(0)
        await asyncio.sleep(timeout_ms / 1000)
        return {}


def landing(linger_s: float, batch_records: int = 20_000) -> Landing:
    return Landing(
        kafka={}, prefix="unit", sinks={}, pseudonym_key=b"k", linger_s=linger_s,
        batch_records=batch_records,
    )  # fmt: skip


def offsets(batch: dict[TopicPartition, list[Any]]) -> dict[TopicPartition, list[int]]:
    return {tp: [r.offset for r in rs] for tp, rs in batch.items()}


def gather(stage: Landing, consumer: ScriptedConsumer) -> tuple[dict[TopicPartition, Any], float]:
    began = time.monotonic()
    batch = asyncio.run(stage._gather(consumer))
    return batch, time.monotonic() - began


def test_fetches_within_the_linger_land_as_one_batch() -> None:
    consumer = ScriptedConsumer(
        {A: records(A, 10, 3)}, {B: records(B, 0, 2), A: []}, {A: records(A, 13, 2)}
    )
    batch, took = gather(landing(0.3), consumer)
    assert offsets(batch) == {A: [10, 11, 12, 13, 14], B: [0, 1]}
    assert 0.25 < took < 1.0  # the rest of the linger waited out for more
    assert [m for _, m in consumer.calls][:4] == [20_000, 19_997, 19_995, 19_993]


def test_a_full_batch_lands_without_waiting() -> None:
    consumer = ScriptedConsumer({A: records(A, 0, 6)}, {B: records(B, 0, 4)}, {A: records(A, 6, 1)})
    batch, took = gather(landing(5.0, batch_records=10), consumer)
    assert offsets(batch) == {A: [0, 1, 2, 3, 4, 5], B: [0, 1, 2, 3]}
    assert took < 1.0
    assert [m for _, m in consumer.calls] == [10, 4]


def test_nothing_fetched_waits_for_no_linger() -> None:
    consumer = ScriptedConsumer({})
    batch, took = gather(landing(5.0), consumer)
    assert batch == {} and took < 1.0 and len(consumer.calls) == 1


def test_no_linger_lands_each_fetch() -> None:
    consumer = ScriptedConsumer({A: records(A, 0, 2)}, {A: records(A, 2, 2)})
    batch, _ = gather(landing(0.0), consumer)
    assert offsets(batch) == {A: [0, 1]} and len(consumer.calls) == 1


def test_offsets_that_skip_forward_are_kept() -> None:
    """A transactional producer's commit markers (and compaction, aborted records) leave
    gaps in a partition's offsets: the records after a gap are the same read going on,
    and dropping those before it would commit past records never landed."""
    consumer = ScriptedConsumer({A: records(A, 0, 3)}, {A: records(A, 4, 2)})
    batch, _ = gather(landing(0.2), consumer)
    assert offsets(batch) == {A: [0, 1, 2, 4, 5]}


def test_a_partition_sought_back_meanwhile_starts_anew() -> None:
    """A rebalance seeks the consumer back to the committed offset: what was held of that
    partition is dropped (its new owner, or this worker again, reads it from there), so a
    partition's records stay in offset order and its commit is the last one's."""
    consumer = ScriptedConsumer(
        {A: records(A, 20, 5), B: records(B, 7, 1)}, {A: records(A, 18, 4)}, {A: records(A, 22, 1)}
    )
    batch, _ = gather(landing(0.2, batch_records=12), consumer)
    assert offsets(batch) == {A: [18, 19, 20, 21, 22], B: [7]}
    # held counts only what is kept: 6, then 6 - 5 + 4 = 5, then 6
    assert [m for _, m in consumer.calls][:3] == [12, 6, 7]
