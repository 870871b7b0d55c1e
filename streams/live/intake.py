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

Offsets: committed under the group ``<prefix>.decide-intake``, which only the intake
uses, at most every ``commit_interval_s`` and at least :data:`COMMIT_COST_FACTOR` times
what the last commit took apart (encoding a state is O(state): not after every batch),
and only after the agent has decided the batches, their outputs are durable in
Kafka and the states they changed are in the table's changelog (``before_commit``): every
committed offset is covered by a changelog record. A rebalance during a batch drops its work
uncommitted (:meth:`Intake.revoke`) and stops waiting for it (Faust may have cleared it
from the channel); the next assignment reads again from the committed offsets, and the
core's event-id idempotence makes the repeat harmless.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator

from aiokafka import AIOKafkaConsumer, TopicPartition

from streams.live.decide import Record

log = logging.getLogger("tierflow.live.intake")

# Commits are spaced to at least this many times what the last one took (states, flush).
COMMIT_COST_FACTOR = 10.0
# ... but never further apart than this (the stall watchdog waits 300 s for a commit).
MAX_COMMIT_SPACING_S = 60.0
# How often a wait for the decide agent looks whether the partitions were revoked.
REVOKE_POLL_S = 0.5


class Intake:
    """Batches of the decide sources' records for the partitions Faust gave the worker."""

    def __init__(
        self,
        *,
        bootstrap: str,
        group: str,
        topics: Iterable[str],
        batch_max: int,
        wait_s: float,
        commit_interval_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.group = group
        self.topics = tuple(topics)
        self.batch_max = batch_max
        self.wait_ms = max(int(wait_s * 1000), 1)
        self.commit_interval_s = commit_interval_s
        self.clock = clock
        self.bootstrap = bootstrap
        self._consumer: AIOKafkaConsumer | None = None  # made in run(): it needs the loop
        self._partitions: frozenset[int] | None = None  # None: nothing to read (rebalance)
        self._generation = 0  # moves on every revoke and assign
        self._assigned = asyncio.Event()
        self._committed: dict[TopicPartition, int] = {}

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
            yield (tp.topic, tp.partition), consumer.highwater(tp), self._committed.get(tp)

    async def run(
        self,
        decide: Callable[[list[Record]], Awaitable[None]],
        before_commit: Callable[[], Awaitable[None]],
    ) -> None:
        """Read, ``decide`` each batch, ``before_commit``, commit; forever."""
        consumer = self._consumer = batch_consumer(self.bootstrap, self.group)
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
                    # a fresh assignment starts every partition from its committed offset
                    consumer.assign([TopicPartition(t, p) for t in self.topics for p in partitions])
                    self._committed = await _committed_offsets(consumer)
                    reading, decided = (generation, partitions), {}
                fetched = await consumer.getmany(
                    timeout_ms=self.wait_ms, max_records=self.batch_max
                )
                records = [
                    Record(m.topic, m.partition, m.offset, m.key, m.value)
                    for batch in fetched.values()
                    for m in batch
                ]
                if records:
                    if not await self._unless_revoked(decide(records), generation):
                        continue  # revoked while it waited: the next assignment reads again
                    decided.update(
                        (tp, batch[-1].offset + 1) for tp, batch in fetched.items() if batch
                    )
                due = self.clock() - last_commit >= spacing
                if not decided or not due or generation != self._generation:
                    continue  # (rebalanced meanwhile: the decider forgot; nothing to commit)
                began = self.clock()
                await before_commit()
                if generation != self._generation:
                    continue
                await consumer.commit(decided)
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


def batch_consumer(bootstrap: str, group: str | None) -> AIOKafkaConsumer:
    """A consumer for whole-batch ``getmany`` reads: large fetches, nothing committed
    by itself, the earliest offset where none is committed. (bench/raw_consume.py reads
    with the same consumer, so the ratio it prints compares like with like.)"""
    return AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_partition_fetch_bytes=4 << 20,
        fetch_max_bytes=64 << 20,
    )


async def _committed_offsets(consumer: AIOKafkaConsumer) -> dict[TopicPartition, int]:
    found: dict[TopicPartition, int] = {}
    for tp in consumer.assignment():
        offset = await consumer.committed(tp)
        if offset is not None:
            found[tp] = offset
    return found
