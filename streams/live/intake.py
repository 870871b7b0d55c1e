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

Offsets: committed under the group ``<prefix>.decide-intake``, which only the intake
uses, at most every ``commit_interval_s`` and, while there is more to read, at least
:data:`COMMIT_COST_FACTOR` times what the intake waited for the last commit apart
(encoding a state is O(state): not after every batch); caught up, every
``commit_interval_s``; and only after the agent has decided the batches and their
outputs are durable in Kafka. A batch's outputs are acknowledged while the intake reads
and journals the next batch (its entries in transactions: streams.live.journal_write),
waited for before that batch is handed over (at most one batch's in flight) and before a
commit. A commit takes the states to write when it is called, and sends them and the
offsets while the intake decides on (one commit at a time; a new assignment waits for it
before it reads the journal). The ``commit`` the worker gives puts the states in the
table's changelog and the offsets in the group together, per partition, in a transaction
a paused worker that lost the partition cannot complete (:mod:`streams.live.fencing`):
every committed offset is covered by an acknowledged changelog record. A rebalance
during a batch drops its work uncommitted (:meth:`Intake.revoke`) and stops waiting for
it (Faust may have cleared it from the channel); the next assignment reads again from
the committed offsets, and the core's event-id idempotence makes the repeat harmless.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from typing import Any, TypeAlias, TypeVar

from aiokafka import AIOKafkaConsumer, TopicPartition

from streams.live import journal
from streams.live.batch_consumer import batch_consumer
from streams.live.in_step import InStep
from streams.live.journal_read import (
    behind_commit,
    committed_offsets,
    journal_entries,
    journaled_batches,
)
from streams.live.waiting import Progress, reporting, settled
from streams.stages.batch import Record, consumed

log = logging.getLogger("tierflow.live.intake")

T = TypeVar("T")
# The decide agent, given a batch and the generation it was read in: returns once the batch
# is decided and its outputs handed to the producer, with what is done once they are
# durable (None: durable already).
Decide: TypeAlias = Callable[[list[Record], int], Awaitable["asyncio.Future[None] | None"]]

# Commits are spaced to at least this many times what the intake waited for the last one
# (encoding the states; the one before, still being sent).
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
        self._waiting: frozenset[int] = frozenset()
        self._generation = 0  # moves on every revoke and assign
        self._assigned = asyncio.Event()
        self._committed: dict[TopicPartition, int] = {}
        self._stepped: list[TopicPartition] = []  # the partitions read in step
        self._in_step: InStep[Any] = InStep()
        self._paused: set[TopicPartition] = set()  # by the intake: too much held
        self._still: dict[TopicPartition, tuple[int, float]] = {}  # (position, since)
        self._in_flight: list[asyncio.Future[None]] = []  # decided batches' outputs
        self._committing: asyncio.Future[None] | None = None  # the commit being sent
        self._spacing = commit_interval_s  # between commits while busy

    def assign(self, partitions: Iterable[int]) -> None:
        """Faust's rebalance is complete (tables recovered): read these partitions."""
        self._generation += 1
        self._partitions = self._waiting = frozenset(partitions)  # unread yet
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
        decide: Decide,
        commit: Callable[[dict[TopicPartition, int]], Awaitable[None]],
    ) -> None:
        """Read, journal and ``decide`` each batch, ``commit`` (the states, then these next
        offsets: the call takes the states changed so far, the awaitable it returns sends
        them while the next batches are decided); forever. A fresh assignment first
        decides again the journaled batches after the commit. ``decide`` gets a batch with
        the :attr:`generation` it was read in, and must not decide it in another (its
        partitions may be another worker's; the journaled batches before it come first)."""
        consumer = self._consumer = batch_consumer(self.kafka, self.group)
        await consumer.start()
        try:
            reading: tuple[int, frozenset[int]] | None = None
            decided: dict[TopicPartition, int] = {}  # next offsets, decided, not committed
            last_commit, self._spacing = self.clock(), self.commit_interval_s
            while True:
                await self._assigned.wait()
                generation, partitions = self._generation, self._partitions
                if partitions is None:
                    continue
                if self._committing is not None and self._committing.done():
                    self._committing.result()  # a commit that failed raises: the worker stops
                if reading != (generation, partitions):
                    # the redo reads the journal after the committed offsets: none may move
                    if not await self._one_commit_at_a_time(generation):
                        continue
                    reading, decided = (generation, partitions), {}
                    self._in_flight = []  # (a revoked batch's: decided again, not committed)
                    if not await self._redo(consumer, partitions, decide, decided, generation):
                        continue
                fetched = await consumer.getmany(
                    timeout_ms=self.wait_ms, max_records=self.batch_max
                )
                stepped = {tp: ms for tp, ms in fetched.items() if tp.topic in self.in_step}
                self._in_step.add(stepped)
                behind = await self._behind(consumer)
                released = self._in_step.release(behind, self.batch_max)
                self._waiting = frozenset({tp.partition for tp in behind} | self._in_step.holding())
                released.update((tp, ms) for tp, ms in fetched.items() if tp not in stepped)
                self._hold(consumer)
                # in decide order (journal.in_order) without sorting every record: each
                # partition's records come in offset order
                records = [consumed(m) for _, batch in sorted(released.items()) for m in batch]
                if records and not await self._decided(records, decide, decided, generation):
                    continue  # revoked meanwhile: the next assignment decides it again
                # caught up (nothing read, nothing held): commit at the base interval
                idle = not fetched and not len(self._in_step)
                since = self.clock() - last_commit
                due = since >= self._spacing or (idle and since >= self.commit_interval_s)
                if not decided or not due or generation != self._generation:
                    continue  # (rebalanced meanwhile: the decider forgot; nothing to commit)
                if self._in_flight and not await self._outputs_durable(generation):
                    continue
                began = self.clock()
                if not await self._one_commit_at_a_time(generation):
                    continue
                sending, last_commit = commit(decided), self.clock()
                self._committing = asyncio.ensure_future(self._commit_sent(sending, decided))
                decided = {}
                # states grow, and encoding them: keep the wait for commits a small share of
                # the time (a restart redoes one spacing at most; sending goes on beside)
                self._spacing = min(
                    max(self.commit_interval_s, COMMIT_COST_FACTOR * (last_commit - began)),
                    MAX_COMMIT_SPACING_S,
                )
        finally:
            await consumer.stop()

    async def _decided(
        self,
        records: list[Record],
        decide: Decide,
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
        # the batch before's outputs went out meanwhile (the journal's round trip)
        if self._in_flight and not await self._outputs_durable(generation):
            return False
        done = await self._unless_revoked(
            decide(records, generation), generation, f"the decide agent ({len(records)} records)"
        )
        if done is None:
            return False
        durable = done.result()
        if durable is not None:
            self._in_flight.append(durable)
        for r in records:
            decided[TopicPartition(r.topic, r.partition)] = r.offset + 1
        for partition, offset in journaled.items():
            decided[TopicPartition(self.journal_topic, partition)] = offset + 1
        return True

    async def _redo(
        self,
        consumer: AIOKafkaConsumer,
        partitions: frozenset[int],
        decide: Decide,
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
        self._committed = await committed_offsets(consumer)
        consumer.pause(*inputs)
        # looked up now, while nothing is fetched: a seek to the beginning at the end waited
        # for its lookup behind the consumer's fetches (~0.5 s of every takeover)
        uncommitted = [tp for tp in inputs if tp not in self._committed]
        starts = await consumer.beginning_offsets(uncommitted) if uncommitted else {}
        unfinished = []
        found = journal_entries(consumer, books, self._committed)
        for book, offset, entry in await reporting(found, lambda: "journal read back", log):
            if behind_commit(entry, book.partition, self._committed):
                # Written after the commit by a worker that had lost the partition (paused
                # past its session, it read on until it heard of the rebalance): its owner
                # decided those records since. Deciding them again would seek back and
                # commit offsets before the owner's, in batches the owner never made.
                decided[book] = max(decided.get(book, 0), offset + 1)
            else:
                unfinished.append((book, offset, entry))
        consumer.pause(*books)
        consumer.resume(*inputs)
        batches = await reporting(
            journaled_batches(consumer, unfinished), lambda: "journaled records read back", log
        )
        progress = Progress(log, "decide intake: journaled batches decided again", len(batches))
        for done, ((book, offset, _), records) in enumerate(zip(unfinished, batches, strict=True)):
            journaled = {book.partition: offset}
            if not await self._decided(records, decide, decided, generation, journaled):
                return False
            progress.step(done + 1)
        for tp in inputs:  # the normal reading goes on after what was decided
            position = decided.get(tp, self._committed.get(tp))
            consumer.seek(tp, starts[tp] if position is None else position)
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
    def waiting(self) -> frozenset[int]:
        """The partition numbers with records of the topics read in step that are not
        decided yet (held, or at the broker and not fetched): their ticks wait for them."""
        return self._waiting

    @property
    def generation(self) -> int:
        """Moves on every revoke and assign: a batch handed over in an older generation is
        not to be decided (:meth:`run`)."""
        return self._generation

    async def _unless_revoked(
        self, work: Awaitable[T], generation: int, what: str
    ) -> asyncio.Future[T] | None:
        """Run ``work`` (a batch handed to the decide agent, a wait for outputs) to its
        end and return it done, unless the partitions are revoked first: then stop
        waiting and return None. Faust clears its channels' queues on a rebalance, so a
        batch still queued would never be done; the agent skips a batch of an older
        :attr:`generation` if it gets to it."""
        task = asyncio.ensure_future(reporting(work, lambda: f"decide intake: {what}", log))
        while not task.done():
            await asyncio.wait({task}, timeout=REVOKE_POLL_S)
            if generation != self._generation:
                task.cancel()
                return None
        task.result()  # its exception, if any
        return task

    async def _commit_sent(
        self, sending: Awaitable[None], offsets: dict[TopicPartition, int]
    ) -> None:
        await sending
        self._committed.update(offsets)

    async def _one_commit_at_a_time(self, generation: int) -> bool:
        """Wait until the commit being sent is done (a failed one raises); False when the
        partitions of ``generation`` are revoked first (the commit goes on)."""
        if self._committing is not None:
            committing = settled([self._committing])
            if await self._unless_revoked(committing, generation, "the commit in flight") is None:
                return False
            self._committing = None
        return True

    async def _outputs_durable(self, generation: int) -> bool:
        """Wait until the outputs of every batch decided so far are durable (a failed send
        raises); False when the partitions are revoked first (the sends go on)."""
        acks = settled(self._in_flight)
        if await self._unless_revoked(acks, generation, "outputs acknowledged") is None:
            return False
        self._in_flight = []
        return True
