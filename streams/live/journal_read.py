"""Reading the decide journal back when a worker takes partitions over
(:meth:`streams.live.intake.Intake.run`): the entries after the committed offsets and the
records of the batches they name (:mod:`streams.live.journal` for what an entry is)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from streams.live import journal
from streams.stages.batch import Record, consumed

# A span that ends with a commit marker (the journal's always does) delivers nothing at its
# end, and a poll that delivers nothing waits its whole timeout: poll briefly and look at
# the positions in between (a 1 s poll made every takeover wait a second for the marker).
SPAN_POLL_MS = 50


async def journal_entries(
    consumer: AIOKafkaConsumer, books: list[TopicPartition], committed: dict[TopicPartition, int]
) -> list[tuple[TopicPartition, int, bytes]]:
    """(journal partition, offset, entry) of every entry after the committed journal
    offsets, in order per partition."""
    ends = await consumer.end_offsets(books)
    starts = await consumer.beginning_offsets(books)
    spans = {book: (committed.get(book, starts[book]), ends[book]) for book in books}
    found = await read_spans(consumer, spans)
    return [(book, m.offset, m.value) for book in books for m in found[book] if m.value is not None]


async def journaled_batches(
    consumer: AIOKafkaConsumer, unfinished: list[tuple[TopicPartition, int, bytes]]
) -> list[list[Record]]:
    """The records of each journaled batch (one per entry of ``unfinished``), in decide
    order. Every input partition is read once from the first offset any entry names to
    the last: a seek costs a fetch round trip (up to the consumer's ``fetch_max_wait_ms``,
    0.5 s then), so reading entry by entry made a restart take half a second per batch
    decided since the last commit, minutes after a long commit spacing."""
    spans: dict[TopicPartition, tuple[int, int]] = {}
    for book, _, entry in unfinished:
        for topic, first, end in journal.ranges(entry):
            tp = TopicPartition(topic, book.partition)
            low, high = spans.get(tp, (first, end))
            spans[tp] = (min(low, first), max(high, end))
    found = {
        tp: {m.offset: m for m in messages}
        for tp, messages in (await read_spans(consumer, spans)).items()
    }
    batches = []
    for book, _, entry in unfinished:
        batch = []
        for topic, first, end in journal.ranges(entry):
            read = found[TopicPartition(topic, book.partition)]
            batch += [consumed(read[n]) for n in range(first, end) if n in read]
        batches.append(journal.in_order(batch))
    return batches


def behind_commit(entry: bytes, partition: int, committed: Mapping[TopicPartition, int]) -> bool:
    """Whether a journal entry names records before the committed offsets (decided and
    committed already)."""
    return any(
        first < committed.get(TopicPartition(topic, partition), 0)
        for topic, first, _ in journal.ranges(entry)
    )


async def read_spans(
    consumer: AIOKafkaConsumer, spans: Mapping[TopicPartition, tuple[int, int]]
) -> dict[TopicPartition, list[Any]]:
    """The messages of every ``tp: (first, end)`` (``end`` exclusive), all partitions
    read together, each sought once. A partition is read when the consumer's position
    reaches ``end``: a transaction's commit marker can end a span (the journal's), and a
    marker is never delivered, so the positions are looked at every
    :data:`SPAN_POLL_MS`."""
    found: dict[TopicPartition, list[Any]] = {tp: [] for tp in spans}
    pending = set()
    for tp, (first, end) in spans.items():
        if first < end:
            consumer.seek(tp, first)
            pending.add(tp)
    while pending:
        fetched = await consumer.getmany(*pending, timeout_ms=SPAN_POLL_MS)
        for tp, messages in fetched.items():
            first, end = spans[tp]
            found[tp] += [m for m in messages if first <= m.offset < end]
        for tp in list(pending):
            if await consumer.position(tp) >= spans[tp][1]:
                pending.discard(tp)
    return found


async def committed_offsets(consumer: AIOKafkaConsumer) -> dict[TopicPartition, int]:
    """The group's committed offsets of the consumer's assignment (those it has)."""
    # asked together: aiokafka asks one partition per request, and a takeover of six
    # partitions of seven topics waited for 42 round trips one after the other
    tps = sorted(consumer.assignment())
    offsets = await asyncio.gather(*(consumer.committed(tp) for tp in tps))
    return {tp: offset for tp, offset in zip(tps, offsets, strict=True) if offset is not None}
