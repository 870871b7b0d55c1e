"""The decide stage's reader: its input partitions in batches, outside Faust's per-record
stream path.

Why: Faust's stream machinery costs about 100 µs of CPU per record on this machine (a
no-op ``take_events`` agent reads 8–15k records/s where aiokafka's ``getmany`` reads
250–500k/s, BENCHMARKS.md). So the worker reads the decide sources with its own aiokafka
consumer, up to ``worker_batch_max`` records per ``getmany``, and hands each batch to the
Faust decide agent through an in-memory channel (:class:`streams.live.app`).

Which partitions: the worker's Faust group owns the state table. Its agent on the ticks
topic makes Faust assign ticks partitions together with the table's changelog partitions
of the same numbers (co-partitioned) and recover them; when the rebalance is complete,
:meth:`Intake.assign` gets those numbers and the intake reads exactly those partitions of
every decide source (manual assignment: no second group protocol to agree with Faust's).

Order: the agencies' topics are decided in step, oldest Kafka timestamp first across the
partitions read (:mod:`streams.live.in_step`): records read ahead of the others are held
back, at most :data:`HOLD_RECORDS` per topic-partition (its fetching paused meanwhile), and
dropped on a revoke (read again from the offsets decided).

Offsets: committed under the group ``<prefix>.decide-intake``, which only the intake uses,
at most every ``commit_interval_s`` and, while there is more to read, at least
:data:`COMMIT_COST_FACTOR` times what the last commit took apart (encoding a state is
O(state): not after every batch); caught up, every ``commit_interval_s``; and only after
the agent has decided the batches and their outputs are durable in Kafka. The ``commit``
the worker gives puts the states they changed in the table's changelog and the offsets in
the group together, per partition, in a transaction a paused worker that lost the partition
cannot complete (:mod:`streams.live.fencing`): every committed offset is covered by an
acknowledged changelog record. A rebalance during a batch drops its work uncommitted
(:meth:`Intake.revoke`) and stops waiting for it (Faust may have cleared it from the
channel); the next assignment reads again from the committed offsets, and the
core's event-id idempotence makes the repeat harmless.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from streams.live import journal
from streams.live.in_step import InStep
from streams.live.waiting import Progress
from streams.stages.batch import Record, consumed

log = logging.getLogger("tierflow.live.intake")

# Commits are spaced to at least this many times what the last one took (states, flush).
COMMIT_COST_FACTOR = 10.0
# ... but never further apart than this (the stall watchdog waits 300 s for a commit).
MAX_COMMIT_SPACING_S = 60.0
# How often a wait for the decide agent looks whether the partitions were revoked.
REVOKE_POLL_S = 0.5
# A topic-partition holding this many records read ahead of its partition's others is not
# fetched until some are decided (bounds the memory of a catch-up: streams.live.in_step).
HOLD_RECORDS = 1_000
# A topic-partition the broker says has more, unpaused, whose position has not moved this long
# no longer holds its partition's other topics back (a stuck fetch must not stop the rest).
MAX_HOLD_S = 5.0


class Intake:
    """Batches of the decide sources' records for the partitions Faust gave the worker."""

    def __init__(
        self,
        *,
        kafka: Mapping[str, Any],
        group: str,
        topics: Iterable[str],
        in_step: Iterable[str] = (),
        batch_max: int,
        wait_s: float,
        commit_interval_s: float,
        journal_topic: str,
        write_journal: Callable[[dict[int, bytes]], Awaitable[dict[int, int]]],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.group = group
        self.journal_topic = journal_topic
        self.write_journal = write_journal  # entries by partition -> their offsets, durable
        self.topics = tuple(topics)
        # decided in step (streams.live.in_step): the agencies' topics, stamped alike by
        # the broker on arrival; ticks and forwards carry their producer's time and go as
        # soon as they are read, as before
        self.in_step = frozenset(in_step)
        self.batch_max = batch_max
        self.wait_ms = max(int(wait_s * 1000), 1)
        self.commit_interval_s = commit_interval_s
        self.clock = clock
        self.kafka = kafka  # aiokafka client options (streams.config.kafka_security)
        self._consumer: AIOKafkaConsumer | None = None  # made in run(): it needs the loop
        self._partitions: frozenset[int] | None = None  # None: nothing to read (rebalance)
        self._generation = 0  # moves on every revoke and assign
        self._assigned = asyncio.Event()
        self._committed: dict[TopicPartition, int] = {}
        self._stepped: list[TopicPartition] = []  # the partitions read in step
        self._in_step: InStep[Any] = InStep()
        self._paused: set[TopicPartition] = set()  # by the intake: too much held
        self._still: dict[TopicPartition, tuple[int, float]] = {}  # (position, since)

    def assign(self, partitions: Iterable[int]) -> None:
        """Faust's rebalance is complete (tables recovered): read these partitions."""
        self._generation += 1
        self._partitions = frozenset(partitions)
        self._assigned.set()
        log.info("decide intake: partitions %s", sorted(self._partitions))

    def revoke(self) -> None:
        """A rebalance began: stop, and commit nothing of a batch in flight."""
        self._generation += 1
        self._partitions = None
        self._assigned.clear()

    def lag_offsets(self) -> Iterator[tuple[tuple[str, int], int | None, int | None]]:
        """``((topic, partition), high watermark, committed offset)`` of what it reads."""
        consumer = self._consumer
        if consumer is None:
            return
        for tp in consumer.assignment():
            if tp.topic != self.journal_topic:  # read only on a takeover
                yield (tp.topic, tp.partition), consumer.highwater(tp), self._committed.get(tp)

    async def run(
        self,
        decide: Callable[[list[Record], int], Awaitable[None]],
        commit: Callable[[dict[TopicPartition, int]], Awaitable[None]],
    ) -> None:
        """Read, journal and ``decide`` each batch, ``commit`` (the states, then these next
        offsets); forever. A fresh assignment first decides again the journaled batches
        after the commit. ``decide`` gets a batch with the :attr:`generation` it was read
        in, and must not decide it in another (its partitions may be another worker's, and
        the journaled batches before it are decided again first)."""
        consumer = self._consumer = batch_consumer(self.kafka, self.group)
        await consumer.start()
        try:
            reading: tuple[int, frozenset[int]] | None = None
            decided: dict[TopicPartition, int] = {}  # next offsets, decided, not committed
            last_commit, spacing = self.clock(), self.commit_interval_s
            while True:
                await self._assigned.wait()
                generation, partitions = self._generation, self._partitions
                if partitions is None:
                    continue
                if reading != (generation, partitions):
                    reading, decided = (generation, partitions), {}
                    if not await self._redo(consumer, partitions, decide, decided, generation):
                        continue
                fetched = await consumer.getmany(
                    timeout_ms=self.wait_ms, max_records=self.batch_max
                )
                stepped = {tp: ms for tp, ms in fetched.items() if tp.topic in self.in_step}
                self._in_step.add(stepped)
                released = self._in_step.release(await self._behind(consumer), self.batch_max)
                released.update((tp, ms) for tp, ms in fetched.items() if tp not in stepped)
                self._hold(consumer)
                # in decide order (journal.in_order) without sorting every record: each
                # partition's records come in offset order
                records = [consumed(m) for _, batch in sorted(released.items()) for m in batch]
                if records and not await self._decided(records, decide, decided, generation):
                    continue  # revoked meanwhile: the next assignment decides it again
                # caught up (nothing read, nothing held): commit at the base interval,
                # the spacing keeps commits a small share of busy time only
                idle = not fetched and not len(self._in_step)
                since = self.clock() - last_commit
                due = since >= spacing or (idle and since >= self.commit_interval_s)
                if not decided or not due or generation != self._generation:
                    continue  # (rebalanced meanwhile: the decider forgot; nothing to commit)
                began = self.clock()
                await commit(decided)
                self._committed.update(decided)
                decided, last_commit = {}, self.clock()
                # states grow over an incident and their encoding with them: keep it a
                # small share of the time (a restart decides again at most one spacing)
                spacing = min(
                    max(self.commit_interval_s, COMMIT_COST_FACTOR * (last_commit - began)),
                    MAX_COMMIT_SPACING_S,
                )
        finally:
            await consumer.stop()

    async def _decided(
        self,
        records: list[Record],
        decide: Callable[[list[Record], int], Awaitable[None]],
        decided: dict[TopicPartition, int],
        generation: int,
        journaled: dict[int, int] | None = None,
    ) -> bool:
        """Journal the batch (unless it is a redo of ``journaled`` entries: partition ->
        journal offset), decide it, and note both in ``decided``; False if revoked first."""
        # Revoked before the journal write, or during it (a broker failover makes it
        # long): nothing decided here; the next assignment reads again from the journal.
        if generation != self._generation:
            return False
        if journaled is None:
            journaled = await self.write_journal(journal.entries(records))
        if generation != self._generation:
            return False
        if not await self._unless_revoked(decide(records, generation), generation):
            return False
        for r in records:
            decided[TopicPartition(r.topic, r.partition)] = r.offset + 1
        for partition, offset in journaled.items():
            decided[TopicPartition(self.journal_topic, partition)] = offset + 1
        return True

    async def _redo(
        self,
        consumer: AIOKafkaConsumer,
        partitions: frozenset[int],
        decide: Callable[[list[Record], int], Awaitable[None]],
        decided: dict[TopicPartition, int],
        generation: int,
    ) -> bool:
        """Take the assignment: read the journal after the committed offsets, decide those
        batches again, each partition's part exactly as journaled, and leave the consumer
        at the offsets after them (or the committed ones); False if revoked first."""
        inputs = [TopicPartition(t, p) for t in self.topics for p in sorted(partitions)]
        books = [TopicPartition(self.journal_topic, p) for p in sorted(partitions)]
        consumer.assign([*inputs, *books])
        self._stepped = [tp for tp in inputs if tp.topic in self.in_step]
        self._paused, self._still = set(), {}
        self._in_step.clear()
        self._committed = await _committed_offsets(consumer)
        consumer.pause(*inputs)
        unfinished = []
        for book, offset, entry in await _journal_entries(consumer, books, self._committed):
            if _behind(entry, book.partition, self._committed):
                # Written after the commit by a worker that had lost the partition (paused
                # past its session, it read on until it heard of the rebalance): its owner
                # decided those records since. Deciding them again would seek back and
                # commit offsets before the owner's, in batches the owner never made.
                decided[book] = max(decided.get(book, 0), offset + 1)
            else:
                unfinished.append((book, offset, entry))
        consumer.pause(*books)
        consumer.resume(*inputs)
        batches = await _journaled_batches(consumer, unfinished)
        progress = Progress(log, "decide intake: journaled batches decided again", len(batches))
        for done, ((book, offset, _), records) in enumerate(zip(unfinished, batches, strict=True)):
            journaled = {book.partition: offset}
            if not await self._decided(records, decide, decided, generation, journaled):
                return False
            progress.step(done + 1)
        never_read = []
        for tp in inputs:  # the normal reading goes on after what was decided
            position = decided.get(tp, self._committed.get(tp))
            if position is None:
                never_read.append(tp)
            else:
                consumer.seek(tp, position)
        if never_read:  # one request: each call waits for its offset lookup (~0.3-0.5 s)
            await consumer.seek_to_beginning(*never_read)
        if unfinished:
            log.info("decide intake: decided %d journaled batches again", len(unfinished))
        return True

    async def _behind(self, consumer: AIOKafkaConsumer) -> set[TopicPartition]:
        """The partitions of the topics read in step that the broker has more of than was
        fetched (or that were not fetched yet), except those stuck longer than
        :data:`MAX_HOLD_S`."""
        behind, now = set(), self.clock()
        for tp in self._stepped:
            high, position = consumer.highwater(tp), await consumer.position(tp)
            if high is not None and position >= high:
                self._still.pop(tp, None)
                continue
            last = self._still.get(tp)
            if tp in self._paused or last is None or last[0] != position:
                self._still[tp] = (position, now)  # (paused: still on purpose, not stuck)
            elif now - last[1] >= MAX_HOLD_S:
                continue
            behind.add(tp)
        return behind

    def _hold(self, consumer: AIOKafkaConsumer) -> None:
        """Fetch nothing more of a topic-partition while it holds :data:`HOLD_RECORDS`."""
        full = self._in_step.full(HOLD_RECORDS)
        if full - self._paused:
            consumer.pause(*(full - self._paused))
        if self._paused - full:
            consumer.resume(*(self._paused - full))
        self._paused = full

    @property
    def reading(self) -> bool:
        """Whether it has partitions to read (False from a revoke to the next assign)."""
        return self._partitions is not None

    @property
    def generation(self) -> int:
        """Moves on every revoke and assign: a batch handed over in an older generation is
        not to be decided (:meth:`run`)."""
        return self._generation

    async def _unless_revoked(self, work: Awaitable[None], generation: int) -> bool:
        """Run ``work`` (a batch handed to the decide agent) to its end, unless the
        partitions are revoked first: then stop waiting and return False. Faust clears
        its channels' queues on a rebalance, so a batch still queued would never be done;
        the agent skips a batch of an older :attr:`generation` if it gets to it."""
        task = asyncio.ensure_future(work)
        while not task.done():
            await asyncio.wait({task}, timeout=REVOKE_POLL_S)
            if generation != self._generation:
                task.cancel()
                return False
        task.result()  # its exception, if any
        return True


def batch_consumer(kafka: Mapping[str, Any], group: str | None) -> AIOKafkaConsumer:
    """A consumer for whole-batch ``getmany`` reads: large fetches, nothing committed
    by itself, the earliest offset where none is committed. (bench/raw_consume.py reads
    with the same consumer, so the ratio it prints compares like with like.)"""
    return AIOKafkaConsumer(
        **kafka,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_partition_fetch_bytes=4 << 20,
        fetch_max_bytes=64 << 20,
    )


async def _journal_entries(
    consumer: AIOKafkaConsumer, books: list[TopicPartition], committed: dict[TopicPartition, int]
) -> list[tuple[TopicPartition, int, bytes]]:
    """(journal partition, offset, entry) of every entry after the committed journal
    offsets, in order per partition."""
    ends = await consumer.end_offsets(books)
    starts = await consumer.beginning_offsets(books)
    spans = {book: (committed.get(book, starts[book]), ends[book]) for book in books}
    found = await _read_spans(consumer, spans)
    return [(book, m.offset, m.value) for book in books for m in found[book] if m.value is not None]


async def _journaled_batches(
    consumer: AIOKafkaConsumer, unfinished: list[tuple[TopicPartition, int, bytes]]
) -> list[list[Record]]:
    """The records of each journaled batch (one per entry of ``unfinished``), in decide
    order. Every input partition is read once from the first offset any entry names to
    the last: a seek costs a fetch round trip (about the consumer's ``fetch_max_wait_ms``,
    0.5 s), so reading entry by entry made a restart take half a second per batch decided
    since the last commit, minutes after a long commit spacing."""
    spans: dict[TopicPartition, tuple[int, int]] = {}
    for book, _, entry in unfinished:
        for topic, first, end in journal.ranges(entry):
            tp = TopicPartition(topic, book.partition)
            low, high = spans.get(tp, (first, end))
            spans[tp] = (min(low, first), max(high, end))
    found = {
        tp: {m.offset: m for m in messages}
        for tp, messages in (await _read_spans(consumer, spans)).items()
    }
    batches = []
    for book, _, entry in unfinished:
        batch = []
        for topic, first, end in journal.ranges(entry):
            read = found[TopicPartition(topic, book.partition)]
            batch += [consumed(read[n]) for n in range(first, end) if n in read]
        batches.append(journal.in_order(batch))
    return batches


def _behind(entry: bytes, partition: int, committed: Mapping[TopicPartition, int]) -> bool:
    """Whether a journal entry names records before the committed offsets (decided and
    committed already)."""
    return any(
        first < committed.get(TopicPartition(topic, partition), 0)
        for topic, first, _ in journal.ranges(entry)
    )


async def _read_spans(
    consumer: AIOKafkaConsumer, spans: Mapping[TopicPartition, tuple[int, int]]
) -> dict[TopicPartition, list[Any]]:
    """The messages of every ``tp: (first, end)`` (``end`` exclusive), all partitions
    read together, each sought once."""
    found: dict[TopicPartition, list[Any]] = {tp: [] for tp in spans}
    pending = set()
    for tp, (first, end) in spans.items():
        if first < end:
            consumer.seek(tp, first)
            pending.add(tp)
    while pending:
        fetched = await consumer.getmany(*pending, timeout_ms=1000)
        for tp, messages in fetched.items():
            first, end = spans[tp]
            found[tp] += [m for m in messages if first <= m.offset < end]
            if messages and messages[-1].offset + 1 >= end:
                pending.discard(tp)
    return found


async def _committed_offsets(consumer: AIOKafkaConsumer) -> dict[TopicPartition, int]:
    found: dict[TopicPartition, int] = {}
    for tp in consumer.assignment():
        offset = await consumer.committed(tp)
        if offset is not None:
            found[tp] = offset
    return found
