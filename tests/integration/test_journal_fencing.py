"""The decide journal's entries are fenced (streams/live/journal_write.py): on the real
broker, with the worker's credentials, a worker whose journal partition another worker
claimed writes nothing more there (so it decides nothing more there), an entry left in a
transaction open at the claim is never read, and the intake's own reader
(streams/live/journal_read.py, read_committed) reads every committed entry to the end,
past the commit markers. The expected entries are written by hand."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from aiokafka import TopicPartition

from streams.config.kafka_security import aiokafka_options
from streams.config.settings import Settings
from streams.live.batch_consumer import batch_consumer
from streams.live.journal_read import journal_entries
from streams.live.journal_write import FencedJournal
from streams.stages.topology import DECIDE_JOURNAL

from .live_support import live_settings, prepare


def _journal(settings: Settings) -> FencedJournal:
    return FencedJournal(
        kafka=aiokafka_options(settings, "worker"),
        prefix=settings.topic_prefix,
        topic=DECIDE_JOURNAL.name(settings.topic_prefix),
    )


async def _read_back(settings: Settings, partitions: list[int]) -> dict[int, list[bytes]]:
    """Every entry of ``partitions``, as the intake reads them on a takeover (nothing
    committed: from the beginning)."""
    consumer = batch_consumer(aiokafka_options(settings, "worker"), None)
    await consumer.start()
    try:
        books = [TopicPartition(DECIDE_JOURNAL.name(settings.topic_prefix), p) for p in partitions]
        consumer.assign(books)
        found = await asyncio.wait_for(journal_entries(consumer, books, {}), timeout=30)
    finally:
        await consumer.stop()
    out: dict[int, list[bytes]] = {p: [] for p in partitions}
    for book, _offset, entry in found:
        out[book.partition].append(entry)
    return out


def test_a_worker_whose_journal_partition_was_claimed_writes_nothing_more_there(
    stack: Settings, unique_name: Callable[..., str]
) -> None:
    settings = live_settings(stack, unique_name("journal"))
    prepare(settings, migrate=False)

    async def scenario() -> tuple[list[int], dict[int, int], dict[int, list[bytes]]]:
        old, paused, new = _journal(settings), _journal(settings), _journal(settings)
        await old.claim([0, 1])
        first = await old.write({0: b"old-0-a", 1: b"old-1-a"})
        assert first.lost == [] and sorted(first.offsets) == [0, 1]
        # A worker paused in the middle of writing partition 2's entry: its transaction is
        # open when the new owner claims the partition.
        await paused.claim([2])
        producer = paused._producers[2]
        await producer.begin_transaction()
        await producer.send_and_wait(
            DECIDE_JOURNAL.name(settings.topic_prefix), b"open-2", partition=2
        )
        await new.claim([0, 2])
        # Resumed, the old owner goes on: partition 0 is the new owner's now.
        second = await old.write({0: b"old-0-b", 1: b"old-1-b"})
        third = await new.write({0: b"new-0"})
        assert third.lost == []
        for journal in (old, paused, new):
            for p in list(journal._producers):
                await journal._producers.pop(p).stop()
        return second.lost, second.offsets, await _read_back(settings, [0, 1, 2])

    lost, offsets, entries = asyncio.run(scenario())
    assert lost == [0]
    assert sorted(offsets) == [1]  # written where it still owns the partition
    assert entries == {
        0: [b"old-0-a", b"new-0"],  # nothing the old owner wrote after the claim
        1: [b"old-1-a", b"old-1-b"],
        2: [],  # the transaction open at the claim: aborted, never read
    }
