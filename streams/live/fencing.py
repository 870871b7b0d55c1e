"""Commits a zombie cannot make: each partition's states and offsets in one Kafka transaction
of a producer whose ``transactional.id`` belongs to the partition.

A worker paused (SIGSTOP, a long GC, a frozen VM) past the session timeout loses its
partitions to another worker without knowing it; resumed, it would go on where it stopped:
write the states it holds to the changelog (over the new owner's) and commit offsets for
partitions it no longer owns. Kafka's own fencing stops it (classic exactly-once, one
transactional producer per input partition, as Faust's ``exactly_once`` guarantee does),
for both stages that keep states:

- The transactional id of partition ``p`` of a stage is ``<prefix>.<stage>.p``
  (``decide-intake``: the decide stage's partitions, numbered as the ticks topic's;
  ``rollup``: the roll-up feed's one partition). Whoever is given ``p`` initialises that
  id (:meth:`PartitionCommitter.claim`) *before* the table's changelog is recovered (the
  worker wraps Faust's table rebalance,
  :func:`streams.live.rebalance.fence_on_rebalance`): the broker bumps the id's epoch,
  aborts the previous owner's open transaction, and refuses every later send or commit
  of the previous owner's producer (``ProducerFenced``).
- A commit (:meth:`PartitionCommitter.commit`) is, per partition, one transaction: the
  changelog records of the states of the partition's keys, and the stage's offsets of the
  partition (``send_offsets_to_transaction``), committed together or not at all; every
  send is acknowledged before the commit.

So a zombie's commit fails on its first attempt (nothing of those partitions committed;
the worker goes on with what it still owns until its own rebalance), and the broker appends
nothing it sends after the new owner's claim. (Records of a transaction open at the claim
are aborted; Faust's recovery reads uncommitted records, so such a state can be recovered:
a state ahead of the committed offsets, which the idempotent core tolerates as it tolerates
a crash between a changelog write and a commit. It never lands after the new owner's.)

Why not generation-checked group commits: the intake assigns partitions by hand (no group
generation of its own), and a generation check guards offsets only, never the changelog
records written before them. (The roll-up agent's offsets are Faust's group's; its
transaction is their only writer, Faust commits none of them: :mod:`streams.live.rollup`.)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from typing import Any

from aiokafka import AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import ProducerFenced

from streams.live import metrics
from streams.live.output_sender import BATCH_BYTES, whole_batches
from streams.live.state_store import ChangelogError, DecideStateStore
from streams.live.transactions import abort_quietly, claim_producers, side_by_side
from streams.ops.runtime import release_freed_memory
from streams.stages.decide import Decider

log = logging.getLogger("tierflow.live.fencing")

# The changelog key of the records that end a partition after a claim (no jurisdiction).
FENCE_KEY = b"~fence"


class PartitionCommitter:
    """One transactional producer per claimed partition of a stage (``stage``: the middle
    of its transactional ids)."""

    def __init__(
        self,
        *,
        kafka: Mapping[str, Any],
        prefix: str,
        stage: str,
        group: str,
        changelog: str,
        max_bytes: int,
        reload: Callable[[frozenset[int]], Awaitable[None]] | None = None,
        source: str | None = None,
    ) -> None:
        self.kafka = kafka  # aiokafka client options (streams.config.kafka_security)
        self.prefix = prefix
        self.stage = stage
        self.group = group
        self.changelog = changelog
        self.max_bytes = max_bytes
        self.reload = reload
        # The topic whose offsets the stage commits, and where each claimed partition of it
        # resumes, noted at each claim (``claims`` counts them): the roll-up agent's
        # streams.live.rollup.FeedCursor.
        self.source = source
        self.resume_from: dict[int, int] = {}
        self.claims = 0
        self._producers: dict[int, AIOKafkaProducer] = {}
        # A claim waits for the commit in flight, and a commit for the claim: a claim that
        # replaced a kept partition's producer mid-commit left that commit undone while
        # its states were already in the table's local copy and no longer unsent, so the
        # worker went on with states the changelog never got and later committed offsets
        # past them (the compose fault test's lost incident).
        self._turn = asyncio.Lock()

    def transactional_id(self, partition: int) -> str:
        return f"{self.prefix}.{self.stage}.{partition}"

    def holds(self, partition: int) -> bool:
        """Whether ``partition`` is this worker's: claimed at the last claim and not found
        fenced since."""
        return partition in self._producers

    async def claim(self, partitions: Iterable[int]) -> None:
        """Own exactly ``partitions`` from now on, each with a freshly initialised producer
        (returns once the broker has bumped every id's epoch). Every rebalance claims all of
        them again, kept ones too: another worker may have claimed one in between (this
        worker paused), which left this worker's producer fenced for good. Waits for a
        commit in flight to end first. Then ``reload`` (if given) reads the claimed
        partitions' states back, still before any commit: a commit landing during that
        read could be missing from what it read."""
        async with self._turn:
            await self._claim(partitions)

    async def _claim(self, partitions: Iterable[int]) -> None:
        for producer in self._producers.values():
            await producer.stop()
        self._producers = await claim_producers(
            self.kafka,
            {p: self.transactional_id(p) for p in set(partitions)},
            max_request_size=self.max_bytes,
            max_batch_size=BATCH_BYTES,  # whole batches, as the outputs go
        )
        await self._end_with_a_record(sorted(self._producers))
        log.info("%s: fenced and claimed partitions %s", self.stage, sorted(self._producers))
        if self.source is not None:
            await self._note_the_start(sorted(self._producers))
        if self.reload is not None:
            started = time.perf_counter()
            await self.reload(frozenset(self._producers))
            log.info(
                "%s: states of partitions %s read back in %.1fs",
                self.stage,
                sorted(self._producers),
                time.perf_counter() - started,
            )

    async def _note_the_start(self, partitions: list[int]) -> None:
        """Set :attr:`resume_from`: each of ``partitions`` of :attr:`source` at its offset
        committed in the stage's group (0 when none), and count the claim."""
        assert self.source is not None
        tps = [TopicPartition(self.source, p) for p in partitions]
        admin = AIOKafkaAdminClient(**self.kafka)
        await admin.start()
        try:
            committed = await admin.list_consumer_group_offsets(self.group, partitions=tps)
        finally:
            await admin.close()
        self.resume_from = {
            tp.partition: max(committed[tp].offset, 0) if tp in committed else 0 for tp in tps
        }
        self.claims += 1

    async def _end_with_a_record(self, partitions: list[int]) -> None:
        """Append a tombstone of :data:`FENCE_KEY` (outside any transaction) to each
        changelog partition. A committed transaction leaves its commit marker last in the
        log; Faust's recovery (outside its own exactly-once mode) waits for a record at the
        highwater, and a marker is never delivered, so it would wait forever. A tombstone
        of a key no jurisdiction has changes no state."""
        producer = AIOKafkaProducer(**self.kafka, acks="all")
        await producer.start()
        try:
            sent = [
                await producer.send(self.changelog, None, FENCE_KEY, partition)
                for partition in partitions
            ]
            for acknowledged in sent:
                await acknowledged
        finally:
            await producer.stop()

    @contextlib.asynccontextmanager
    async def exclusive(self) -> AsyncIterator[None]:
        """While this is held no claim runs (a claim waits for it), so no claim's read-back
        empties and refills the states under a batch that read them before it and commits
        them after. The roll-up agent holds it over each batch, reading to committing,
        and commits inside it with :meth:`commit_exclusive`. (The decide stage reads no
        state from a revoke to the next assignment, so its batches need not.)"""
        async with self._turn:
            yield

    async def commit_exclusive(
        self,
        states: Mapping[int, Mapping[bytes, bytes | None]],
        offsets: Mapping[TopicPartition, int],
    ) -> list[int]:
        """:meth:`commit`, inside :meth:`exclusive`."""
        return await self._commit(states, offsets)

    async def commit(
        self,
        states: Mapping[int, Mapping[bytes, bytes | None]],
        offsets: Mapping[TopicPartition, int],
    ) -> list[int]:
        """Per partition, in one transaction: the changelog records ``states[p]`` (key ->
        state record, None: a tombstone) and the intake's ``offsets`` of partition ``p``.
        Returns the partitions another worker owns now (fenced, or never claimed here):
        nothing of them was committed. ChangelogError when a state is not acknowledged.
        A claim that begins meanwhile waits for it to end."""
        async with self._turn:
            return await self._commit(states, offsets)

    async def _commit(
        self,
        states: Mapping[int, Mapping[bytes, bytes | None]],
        offsets: Mapping[TopicPartition, int],
    ) -> list[int]:
        by_partition: dict[int, dict[TopicPartition, int]] = {}
        for tp, offset in offsets.items():
            by_partition.setdefault(tp.partition, {})[tp] = offset
        partitions = sorted(set(by_partition) | set(states))
        lost = [p for p in partitions if p not in self._producers]
        mine = [p for p in partitions if p in self._producers]
        # The partitions' transactions are independent (a producer each), so they run side
        # by side: a commit takes the round trips of one partition, not of every one in
        # turn (the intake reads nothing meanwhile). In two steps, so that a state the
        # changelog refuses in one partition still commits nothing anywhere: first every
        # transaction gets its records and offsets, then, if all did, every one commits.
        prepared = await self._each(mine, lost, lambda p: self._prepare(p, states, by_partition))
        await self._each(prepared, lost, self._commit_prepared, abort=False)
        return sorted(lost)

    async def _each(
        self,
        partitions: list[int],
        lost: list[int],
        step: Callable[[int], Awaitable[None]],
        *,
        abort: bool = True,
    ) -> list[int]:
        """Run ``step`` for every partition at once; returns those it succeeded for. A
        fenced partition is added to ``lost`` (its producer stopped); on any other failure
        the first one is raised, after the others' transactions are aborted (``abort``:
        still open)."""
        outcomes = await side_by_side(self._producers, partitions, step)
        lost += outcomes.lost
        if outcomes.failed is not None:
            for partition in outcomes.done if abort else ():
                await abort_quietly(self._producers[partition])
            raise outcomes.failed
        return sorted(outcomes.done)

    async def _commit_prepared(self, partition: int) -> None:
        await self._producers[partition].commit_transaction()

    async def _prepare(
        self,
        partition: int,
        states: Mapping[int, Mapping[bytes, bytes | None]],
        offsets: Mapping[int, dict[TopicPartition, int]],
    ) -> None:
        """Begin the partition's transaction with its changelog records (acknowledged) and
        its offsets in it; aborted on failure."""
        producer = self._producers[partition]
        await producer.begin_transaction()
        try:
            await self._send_states(producer, partition, states.get(partition, {}))
            if offsets.get(partition):
                await producer.send_offsets_to_transaction(offsets[partition], self.group)
        except BaseException:
            await abort_quietly(producer)
            raise

    async def _send_states(
        self, producer: AIOKafkaProducer, partition: int, states: Mapping[bytes, bytes | None]
    ) -> None:
        """Send the records in whole produce batches (a ``send`` each costs ~10x the CPU,
        streams.live.output_sender) and wait for every one to be acknowledged."""
        sending = [
            await self._send_batch(producer, batch, partition, members)
            for members, batch in whole_batches(producer, states.items())
        ]
        # every outcome retrieved (a fenced producer fails them all), the first one raised
        outcomes = await asyncio.gather(*(a for _, a in sending), return_exceptions=True)
        for (members, _), outcome in zip(sending, outcomes, strict=True):
            if isinstance(outcome, ProducerFenced):
                raise outcome
            if isinstance(outcome, Exception):  # the broker refused it
                raise ChangelogError.not_written(self.changelog, members, outcome) from outcome

    async def _send_batch(
        self,
        producer: AIOKafkaProducer,
        batch: Any,
        partition: int,
        members: list[tuple[bytes, bytes | None]],
    ) -> tuple[list[tuple[bytes, bytes | None]], Awaitable[Any]]:
        """Hand ``batch`` (of ``members``) over; returns them with its acknowledgement."""
        try:
            acknowledged: Awaitable[Any] = await producer.send_batch(
                batch, self.changelog, partition=partition
            )
        except ProducerFenced:
            raise
        except Exception as exc:  # e.g. the producer failed on an earlier batch
            raise ChangelogError.not_written(self.changelog, members, exc) from exc
        return members, acknowledged

    async def close(self) -> None:
        for producer in self._producers.values():
            await producer.stop()
        self._producers.clear()


def fenced_commits(
    committer: PartitionCommitter,
    *,
    decider: Decider,
    states: DecideStateStore,
    stop_reading: Callable[[], None],
) -> Callable[[dict[TopicPartition, int]], Awaitable[None]]:
    """The intake's commit over ``committer``: the changed states (taken when it is called)
    and the offsets, per partition, in one transaction (sent by the future it returns).
    The partitions of a fenced commit are logged and left to their new owner, and their
    records leave the local copy and the decider's cache: what this worker decided there
    since its last commit is not in the changelog, so it must not be read back here.
    Reading stops (``stop_reading``) until the rebalance that follows says what is this
    worker's: deciding on meanwhile would start from states without that history."""

    def commit(offsets: dict[TopicPartition, int]) -> asyncio.Future[None]:
        # The states changed so far are taken now; what the batches decided while the
        # returned future sends them goes in the next commit.
        started = time.perf_counter()
        if decider.flush_states():
            metrics.STATE_FLUSH_SECONDS.observe(time.perf_counter() - started)
        unsent = states.take_unsent()

        async def send() -> None:
            lost = await committer.commit(unsent, offsets)
            metrics.COMMIT_SECONDS.observe(time.perf_counter() - started)
            # once a commit: often enough that freed pages do not pile up between commits,
            # at ~7 ms a time (BENCHMARKS.md "Cases and transfers packed")
            trimming = time.perf_counter()
            release_freed_memory()
            metrics.MEMORY_TRIM_SECONDS.observe(time.perf_counter() - trimming)
            leave_lost(lost, committer.stage, decider=decider, states=states, stop=stop_reading)

        return asyncio.ensure_future(send())

    return commit


def leave_lost(
    lost: list[int],
    stage: str,
    *,
    decider: Decider,
    states: DecideStateStore,
    stop: Callable[[], None],
) -> None:
    """After a fenced write of the decide stage (a commit, a journal entry): say which
    partitions another worker owns now, drop their records from the local copy and every
    state from the decider's cache (what was decided since the last commit is redone by
    the partitions' owners), and stop reading (``stop``) until the rebalance that follows
    says what is this worker's. Nothing when ``lost`` is empty."""
    log_lost(stage, lost)
    if lost:
        states.drop_partitions(lost)
        decider.forget()
        stop()


def log_lost(stage: str, lost: list[int]) -> None:
    """Say which partitions a fenced write of ``stage`` left to another worker."""
    if lost:
        log.warning(
            "%s: partitions %s are another worker's now (this one was paused past the"
            " session timeout, or they moved in a rebalance): nothing of them written",
            stage,
            lost,
        )
