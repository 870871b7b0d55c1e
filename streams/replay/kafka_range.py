"""Read exactly one event-time range of the source topics, with a consumer of its own.

A record's event time is in its value: ``occurred_at`` (events), ``tick_at`` (ticks). Its
Kafka timestamp is not: the input topics tierflow creates carry the broker's receipt time
(LogAppendTime), and elsewhere it says what its producer chose: ``tierflow publish`` stamps
``occurred_at``, but kcat and other producers stamp their wall clock, the demo's malformed
records carry the time they were sent, and the worker stamps its ticks when it writes
them. A time index over such stamps cannot say where a range ends: ``offsets_for_times`` of
the range's end stopped a partition at its first wall-clock stamp, and a review of March
read 1,141 of 1,465 records and called a city's cholera timeline missing.

So a review reads every partition of every source whole, from its first offset to its end
at planning time (the **plan**: no record read), and keeps exactly the records whose event
time is in ``[from, to)`` (:class:`RangeFilter`). Chosen over an event-time index written
by the worker because it works for any source topic (one the worker never reads, such as a
topic of decided events), for records written before any index existed and whoever wrote
them. Until the eighth session a plan was a scan: every partition read once to find its
first and last record inside, then that span read again; the second read of the same
records cost 11 % of a replay of 1 M records (BENCHMARKS.md), and the scan saved nothing
over reading once and filtering as the records pass. A record without a readable event time
(malformed: the review dead-letters it as the live run did) is judged by its Kafka
timestamp. The filter counts what it saw (:class:`RangeCensus`), so what was left out and
which records carry a foreign timestamp are said, never silent.

The end of each range is fixed at planning time, so a replay never chases a live
pipeline that keeps writing. The consumer has no group and commits nothing: the live
pipeline's group and offsets are never touched.
"""

from __future__ import annotations

from collections import deque
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import orjson
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

from streams.config.kafka_security import aiokafka_options
from streams.config.settings import Settings
from streams.stages.batch import LOG_APPEND_TIME

# A Kafka timestamp further than this from the record's event time is someone else's
# clock (tierflow publish stamps the event time to the millisecond).
STAMP_TOLERANCE_MS = 1000

EventTimeSource = Literal["occurred_at", "tick_at", "kafka"]


@dataclass(frozen=True)
class PartitionRange:
    """Offsets ``[start, end)`` of one partition, read whole; its records outside the
    event-time range are left out as they pass."""

    topic: str
    partition: int
    start: int
    end: int

    @property
    def size(self) -> int:
        return max(0, self.end - self.start)


@dataclass
class RangeCensus:
    """What a review read: records inside the range, before and after it, events whose
    producer stamped a Kafka timestamp that is not their event time, records with no event
    time."""

    scanned: int = 0
    inside: int = 0
    before: int = 0
    after: int = 0
    restamped: int = 0
    undated: int = 0

    @property
    def outside(self) -> int:
        return self.before + self.after


def event_time_ms(value: bytes | None, stamp_ms: int) -> tuple[int, EventTimeSource]:
    """A record's event time (epoch ms) and where it came from: the value's
    ``occurred_at``, else its ``tick_at``, else (no readable time: a malformed record)
    ``stamp_ms``, its Kafka timestamp."""
    try:
        parsed = orjson.loads(value) if value is not None else None
    except orjson.JSONDecodeError:
        parsed = None
    if isinstance(parsed, dict):
        for name in ("occurred_at", "tick_at"):
            at = _instant_ms(parsed.get(name))
            if at is not None:
                return at, name
    return stamp_ms, "kafka"


def _instant_ms(text: object) -> int | None:
    if not isinstance(text, str):
        return None
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        return None
    return None if at.tzinfo is None else int(at.timestamp() * 1000)


@asynccontextmanager
async def range_consumer(settings: Settings) -> AsyncIterator[AIOKafkaConsumer]:
    """A consumer with no group id: it reads what it is assigned and commits nothing."""
    consumer = AIOKafkaConsumer(
        **aiokafka_options(settings, "worker"),
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="none",
        max_partition_fetch_bytes=8 * 1024 * 1024,
        fetch_max_bytes=64 * 1024 * 1024,
    )
    try:
        await consumer.start()
    except BaseException:
        await consumer.stop()  # release what start() opened before it failed
        raise
    try:
        yield consumer
    finally:
        await consumer.stop()


async def plan_ranges(consumer: AIOKafkaConsumer, topics: Iterable[str]) -> list[PartitionRange]:
    """Every partition of ``topics``, from its first offset (retention may have cut its
    head) to its end now."""
    partitions: list[TopicPartition] = []
    for topic in topics:
        await consumer._client.force_metadata_update()  # topic may be new to this client
        found = consumer.partitions_for_topic(topic) or set()
        partitions.extend(TopicPartition(topic, p) for p in sorted(found))
    if not partitions:
        return []
    ends = await consumer.end_offsets(partitions)
    begins = await consumer.beginning_offsets(partitions)
    return [PartitionRange(tp.topic, tp.partition, begins[tp], ends[tp]) for tp in partitions]


class RangeFilter:
    """Keeps the records whose event time (:func:`event_time_ms`) is in ``[from_ms,
    to_ms)``, counting in ``census`` what it saw."""

    def __init__(self, from_ms: int, to_ms: int, census: RangeCensus) -> None:
        self.from_ms, self.to_ms = from_ms, to_ms
        self.census = census

    def keep(
        self, records: list[ConsumerRecord[bytes, bytes]]
    ) -> list[ConsumerRecord[bytes, bytes]]:
        """The ``records`` inside the range, in their order."""
        from_ms, to_ms = self.from_ms, self.to_ms
        kept = []
        before = after = restamped = undated = 0
        for record in records:
            at, source = event_time_ms(record.value, record.timestamp)
            if source == "occurred_at":
                restamped += (
                    record.timestamp_type != LOG_APPEND_TIME  # the broker's, by design
                    and abs(record.timestamp - at) > STAMP_TOLERANCE_MS
                )
            elif source == "kafka":
                undated += 1
            if at < from_ms:
                before += 1
            elif at >= to_ms:
                after += 1
            else:
                kept.append(record)
        census = self.census
        census.scanned += len(records)
        census.inside += len(kept)
        census.before += before
        census.after += after
        census.restamped += restamped
        census.undated += undated
        return kept


def chunked(ranges: list[PartitionRange], batch_records: int) -> list[list[PartitionRange]]:
    """The ranges cut into batches of about ``batch_records`` offsets: batch ``k`` holds,
    of every range, the ``k``-th of as many equal slices as there are batches. The cuts
    depend on the plan alone, never on how fetches interleave, so a review resumed after
    batch ``k`` decides batches ``k + 1`` … exactly as the first run did (the core's output
    diffs depend on batch boundaries; the live worker's decide journal says why)."""
    total = sum(r.size for r in ranges)
    count = max(1, -(-total // max(1, batch_records)))
    batches: list[list[PartitionRange]] = [[] for _ in range(count)]
    for r in ranges:
        cuts = [r.start + r.size * k // count for k in range(count + 1)]
        for k in range(count):
            if cuts[k + 1] > cuts[k]:
                part = PartitionRange(r.topic, r.partition, cuts[k], cuts[k + 1])
                batches[k].append(part)
    return [batch for batch in batches if batch]


async def read_batches(
    consumer: AIOKafkaConsumer, batches: list[list[PartitionRange]]
) -> AsyncIterator[tuple[list[PartitionRange], list[ConsumerRecord[bytes, bytes]]]]:
    """Each batch of ranges (:func:`chunked`) with every record of its slices, ordered by
    topic, partition and offset (an order that does not depend on fetch timing). Each
    partition is read once, front to back."""
    last: dict[TopicPartition, int] = {}  # where each partition's final slice ends
    for batch in batches:
        for part in batch:
            last[TopicPartition(part.topic, part.partition)] = part.end
    if not last:
        return
    consumer.assign(list(last))
    buffered: dict[TopicPartition, deque[ConsumerRecord[bytes, bytes]]] = {}
    for batch in batches:
        pending = {TopicPartition(p.topic, p.partition): p for p in batch}
        kept: dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]] = {tp: [] for tp in pending}
        for tp, part in pending.items():
            if tp not in buffered:
                consumer.seek(tp, part.start)
                buffered[tp] = deque()
        while pending:
            for tp, part in list(pending.items()):
                buffer = buffered[tp]
                into = kept[tp]
                while buffer and buffer[0].offset < part.end:
                    into.append(buffer.popleft())
                # Position, not the last record, decides: control records leave offset gaps.
                if buffer or await consumer.position(tp) >= part.end:
                    del pending[tp]
                    if part.end >= last[tp]:
                        consumer.pause(tp)
            if pending:
                fetched = await consumer.getmany(*pending, timeout_ms=1000)
                for tp, records in fetched.items():
                    buffered[tp].extend(records)
        # each partition's records are in offset order already
        yield batch, [r for tp in sorted(kept) for r in kept[tp]]


def landed(batch: list[PartitionRange], positions: dict[str, int]) -> bool:
    """Whether a checkpoint's ``positions`` are past every range of ``batch`` (it landed
    before)."""
    return all(positions.get(f"{p.topic}:{p.partition}", -1) >= p.end for p in batch)
