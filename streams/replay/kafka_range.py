"""Read exactly one event-time range of the input topics, with a consumer of its own.

Input records carry their event time as the Kafka timestamp (the publisher sets it to
``occurred_at``), so ``offsets_for_times`` finds where a range starts. Because late events
sit after later ones in the log, the search starts ``lateness`` before the range and the
reader keeps only records whose timestamp falls inside it. The end is the log end at
planning time (or the first offset past ``to + lateness``), so a replay never chases a
live pipeline that keeps writing.

Ticks are different: the worker's timer writes them with the time of writing as the record
timestamp, which is never earlier than their ``tick_at`` but may be much later (event-time
ticks of a scenario in the past). So a ticks partition is searched from the same start
(nothing with ``tick_at`` at or after it can sit before it), read to its log end, and
filtered by the ``tick_at`` in the record.

The consumer has no group and commits nothing: the live pipeline's group and offsets are
never touched.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime

import orjson
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

from topics.settings import Settings


@dataclass(frozen=True)
class PartitionRange:
    """Offsets ``[start, end)`` of one partition and the event-time range kept from them."""

    topic: str
    partition: int
    start: int
    end: int
    stamped: bool = True  # the record timestamp is the event time (else: read it from the value)

    @property
    def size(self) -> int:
        return max(0, self.end - self.start)


@asynccontextmanager
async def range_consumer(settings: Settings) -> AsyncIterator[AIOKafkaConsumer]:
    """A consumer with no group id: it reads what it is assigned and commits nothing."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="none",
        max_partition_fetch_bytes=8 * 1024 * 1024,
        fetch_max_bytes=64 * 1024 * 1024,
    )
    await consumer.start()
    try:
        yield consumer
    finally:
        await consumer.stop()


async def plan_ranges(
    consumer: AIOKafkaConsumer,
    topics: Iterable[str],
    from_ms: int,
    to_ms: int,
    lateness_ms: int,
    *,
    ticks: str | None = None,
) -> list[PartitionRange]:
    """The offset range of every partition of ``topics`` that may hold events of
    ``[from_ms, to_ms)`` (event time), allowing records up to ``lateness_ms`` out of order;
    ``ticks`` names the topic whose records are stamped at writing time (see above)."""
    partitions: list[TopicPartition] = []
    for topic in topics:
        await consumer._client.force_metadata_update()  # topic may be new to this client
        found = consumer.partitions_for_topic(topic) or set()
        partitions.extend(TopicPartition(topic, p) for p in sorted(found))
    if not partitions:
        return []
    ends = await consumer.end_offsets(partitions)
    # Retention may have deleted the head of a log (by record timestamp, i.e. event time).
    begins = await consumer.beginning_offsets(partitions)
    starts = await consumer.offsets_for_times(
        {tp: max(0, from_ms - lateness_ms) for tp in partitions}
    )
    stops = await consumer.offsets_for_times({tp: to_ms + lateness_ms for tp in partitions})
    ranges = []
    for tp in partitions:
        start = starts[tp].offset if starts[tp] is not None else ends[tp]
        start = max(start, begins[tp])
        stamped = tp.topic != ticks
        stop = stops[tp].offset if stops[tp] is not None and stamped else ends[tp]
        ranges.append(PartitionRange(tp.topic, tp.partition, start, min(stop, ends[tp]), stamped))
    return ranges


async def read_ranges(
    consumer: AIOKafkaConsumer,
    ranges: list[PartitionRange],
    from_ms: int,
    to_ms: int,
    max_records: int = 100_000,
) -> AsyncIterator[list[ConsumerRecord[bytes, bytes]]]:
    """Batches of the records inside the ranges whose event time is in ``[from_ms, to_ms)``;
    fetches are gathered until a batch holds ``max_records`` (the last one may hold less)."""
    todo = {TopicPartition(r.topic, r.partition): r for r in ranges if r.size > 0}
    stamped = {tp for tp, r in todo.items() if r.stamped}
    if not todo:
        return
    consumer.assign(list(todo))
    for tp, part in todo.items():
        consumer.seek(tp, part.start)
    batch: list[ConsumerRecord[bytes, bytes]] = []
    while todo:
        fetched = await consumer.getmany(
            *todo, timeout_ms=1000, max_records=max(1, max_records - len(batch))
        )
        for tp, records in fetched.items():
            end = todo[tp].end
            if tp in stamped:
                batch.extend(
                    r for r in records if r.offset < end and from_ms <= r.timestamp < to_ms
                )
            else:
                batch.extend(
                    r for r in records if r.offset < end and from_ms <= _tick_ms(r) < to_ms
                )
        for tp in list(todo):
            # Position, not the last record, decides: control records leave offset gaps.
            if await consumer.position(tp) >= todo[tp].end:
                todo.pop(tp)
                consumer.pause(tp)
        if batch and (len(batch) >= max_records or not todo):
            yield batch
            batch = []


def _tick_ms(record: ConsumerRecord[bytes, bytes]) -> int:
    """A tick's ``tick_at`` (epoch ms); the record timestamp when the value is no tick (the
    decide stage dead-letters it, as the live run did)."""
    try:
        at = orjson.loads(record.value)["tick_at"]
        return int(datetime.fromisoformat(str(at)).timestamp() * 1000)
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        return int(record.timestamp)
