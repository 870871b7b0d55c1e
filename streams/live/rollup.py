"""The roll-up agent: the one-partition roll-up feed folded in Faust batches, its states in a
one-partition table beside it, committed like the decide stage's (fenced,
:mod:`streams.live.fencing`): a batch's outputs are produced and acknowledged, then its
changed states and the feed offset after it go in one transaction of the feed partition's
producer.

That transaction is the **only** writer of the feed's committed offset (under Faust's
group, which the feed's consumer takes its position from after a rebalance). Faust's own
consumer commits, on its timer and on a revoke, the offsets its agents *acked*, for every
topic a channel with ``acks=True`` (the default) reads. Its commits are generation-checked,
its bookkeeping is not: an ack is recorded whenever the partition's committed offset is
unknown or lower, as it is from a revoke until Faust's seek after the next assignment, so
a resumed zombie's agent finishing a batch taken before its pause can leave offsets that
its consumer commits once it holds the feed again in a later generation (how the feed's
offset went back from 188 to 58 once in CI; the exact interleaving was not reproduced,
``tests/unit/test_rollup_feed_offsets.py`` shows Faust committing such stale acks). So the
feed topic is declared with ``acks=False``: ``Consumer.ack`` records no offset of a topic
no acking channel reads, and every commit Faust makes is taken from recorded acks
(faust-streaming 0.15.3, ``faust/transport/consumer.py``), whatever the interleaving. The
unit test runs the worker's app and Faust's own consumer, so a Faust upgrade that commits
otherwise fails it. Why not a consumer of the stage's own, assigned by hand as the decide
intake reads the inputs: the feed is small next to the inputs (Faust's per-record cost
matters little there), and Faust's assignment keeps the feed partition and the ``rollup``
table's changelog partition on one worker and recovers the table before the agent reads;
a hand-assigned reader would have to rebuild both. Only the commit was wrong, and one
per-topic switch removes it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, NamedTuple, NoReturn

from aiokafka import TopicPartition

from streams.config.kafka_security import aiokafka_options
from streams.config.settings import Settings
from streams.live import metrics
from streams.live.changelog_read import STORE_URL
from streams.live.fencing import PartitionCommitter, log_lost
from streams.live.rebalance import RecoveryGate
from streams.live.state_store import FencedStateStore
from streams.stages.batch import Outgoing
from streams.stages.rollup_stage import RollupStage
from streams.stages.topology import ROLLUP_FEED, TopicNames

log = logging.getLogger("tierflow.live.rollup")

# The roll-up feed is small next to the inputs: Faust's own batches are fast enough.
ROLLUP_BATCH_MAX = 1000
ROLLUP_BATCH_WAIT_S = 0.2
# A gap still there this long after the consumer was sent back is sent back again, whether
# records come or not (FeedCursor says why); records fetched before a seek are expected to
# drain well within it.
RESEEK_AFTER_S = 5.0


def feed_topic(app: Any, prefix: str) -> Any:
    """The roll-up feed as the roll-up agent reads it: raw bytes, and never acked, so Faust
    commits none of its offsets (the module's docstring says why)."""
    return app.topic(
        TopicNames(prefix).of(ROLLUP_FEED),
        key_type=bytes,
        value_type=bytes,
        key_serializer="raw",
        value_serializer="raw",
        acks=False,
    )


def rollup_stage(
    app: Any,
    settings: Settings,
    rulebook: Any,
    *,
    recovered: RecoveryGate,
    max_bytes: int,
    produce: Callable[[list[Outgoing]], Awaitable[None]],
    stop_hard: Callable[[str, int], NoReturn],
) -> tuple[RollupStage, PartitionCommitter]:
    """Register the roll-up agent on ``app``; ``produce`` sends a batch's outputs and
    returns once they are durable, ``stop_hard`` ends the worker when a batch raises.
    Returns the stage (its cache is dropped on a rebalance) and the feed's committer
    (claimed on every rebalance)."""
    store = FencedStateStore(
        app.Table(
            "rollup",
            key_type=bytes,
            value_type=bytes,
            partitions=ROLLUP_FEED.partitions,
            use_partitioner=True,
            store=STORE_URL,  # read back by the worker itself: streams.live.changelog_read
        ),
        aiokafka_options(settings, "worker"),
        partitions=ROLLUP_FEED.partitions,
    )
    stage = RollupStage(
        prefix=settings.topic_prefix,
        rulebook=rulebook,
        now=lambda: datetime.now(UTC),
        store=store,
        observer=metrics,
    )
    committer = PartitionCommitter(
        kafka=aiokafka_options(settings, "worker"),
        prefix=settings.topic_prefix,
        stage="rollup",
        group=app.conf.id,  # Faust's group: the feed's consumer seeks to what it holds
        changelog=store.changelog,
        max_bytes=max_bytes,
        reload=store.refill,
        source=TopicNames(settings.topic_prefix).of(ROLLUP_FEED),
    )

    cursor = FeedCursor(committer)

    async def roll_up(stream: Any) -> None:
        async for taken in stream.take_events(ROLLUP_BATCH_MAX, within=ROLLUP_BATCH_WAIT_S):
            # No claim's read-back from admitting to committing, and no commit before the
            # recovery after a claim has ended (a batch taken before a rebalance waits).
            async with recovered.turn(committer):
                await roll_up_batch(taken)

    async def reseek() -> None:
        async with recovered.turn(committer):  # (no claim moves the consumer meanwhile)
            await seek(cursor.unfilled())

    async def seek(gaps: dict[TopicPartition, int]) -> None:
        for tp, offset in gaps.items():
            log.warning(
                "roll-up feed %s: nothing decided from %d on yet; reading again from there",
                tp,
                offset,
            )
            await app.consumer.seek(tp, offset)

    async def roll_up_batch(taken: list[Any]) -> None:
        events, gaps = cursor.admit(taken)
        await seek(gaps)
        if not events:
            return
        try:
            outgoing = stage.decide_records([event.value for event in events])
            await produce([o.encoded() for o in outgoing])
            stage.flush_states()
            offsets: dict[TopicPartition, int] = {}
            for event in events:
                message = event.message
                offsets[TopicPartition(message.topic, message.partition)] = message.offset + 1
            lost = await committer.commit_exclusive(store.take_unsent(), offsets)
            log_lost(committer.stage, lost)
            if lost:  # as the decide stage's commit (fencing.fenced_commits)
                store.drop_partitions(lost)
                stage.forget()
        except Exception:
            stop_hard("roll-up", len(events))

    app.agent(feed_topic(app, settings.topic_prefix))(roll_up)
    app.timer(interval=RESEEK_AFTER_S)(reseek)
    return stage, committer


class _Seek(NamedTuple):
    """Where the consumer of a feed partition was sent back to, and when."""

    tp: TopicPartition
    offset: int
    at: float


class FeedCursor:
    """Which feed records the roll-up agent decides: each partition's records in offset
    order from where the last claim found it committed
    (:attr:`streams.live.fencing.PartitionCommitter.resume_from`), each once.

    Faust's consumer begins a partition taken over with no committed offset (or 0) where
    its position happens to be: a worker taking the feed over from one paused before its
    first roll-up commit began at the feed's end, and what was fed before the takeover was
    never rolled up (the zombie test's lost province timeline). So a record past the
    expected offset is a gap: the consumer is sent back there and the records after it are
    left until it is filled. Records before it were decided and committed already.

    A seek can be lost: Faust's consumer goes on delivering what it fetched before the
    seek, noting each offset as read, and then drops the records fetched again from the
    gap as read already (``_drain_messages``, faust-streaming 0.15.3). So a gap still open
    :data:`RESEEK_AFTER_S` after the last seek sends the consumer back again: when records
    past it come (:meth:`admit`), and on a timer whether they come or not
    (:meth:`unfilled`): at the end of the feed no record comes, so without the timer a
    lost seek stays lost (BENCHMARKS.md, issue 14, "A lost seek of the roll-up feed").

    Nothing of a partition found fenced since the claim
    (:meth:`streams.live.fencing.PartitionCommitter.holds`) is admitted until the next
    claim: its states were dropped, and outputs decided from none would still go out (the
    outputs' producer is not fenced); the next claim reads again from what it finds
    committed."""

    def __init__(
        self, committer: PartitionCommitter, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.committer = committer
        self._clock = clock
        self._claims = -1
        self._next: dict[int, int] = {}
        self._sought: dict[int, _Seek] = {}  # by partition: its gap's latest seek

    def admit(self, events: list[Any]) -> tuple[list[Any], dict[TopicPartition, int]]:
        """The events to decide, in order, and the partitions to seek (to the offset)."""
        if self._claims != self.committer.claims:
            self._claims = self.committer.claims
            self._next = dict(self.committer.resume_from)
            self._sought = {}
        admitted: list[Any] = []
        gaps: dict[TopicPartition, int] = {}
        for event in events:
            message = event.message
            partition, offset = message.partition, message.offset
            if not self.committer.holds(partition):
                continue
            want = self._next.get(partition)
            if want is None or offset == want:
                admitted.append(event)
                self._next[partition] = offset + 1
                self._sought.pop(partition, None)
            elif offset > want:
                now = self._clock()
                sent = self._sought.get(partition)
                if sent is None or sent.offset != want or now - sent.at > RESEEK_AFTER_S:
                    tp = TopicPartition(message.topic, partition)
                    gaps[tp] = want
                    self._sought[partition] = _Seek(tp, want, now)
        return admitted, gaps

    def unfilled(self) -> dict[TopicPartition, int]:
        """The partitions to seek again (to the offset): each gap still open
        :data:`RESEEK_AFTER_S` after the consumer was last sent back, noted as sent now.
        Nothing after a claim since the last :meth:`admit` (the consumer starts from what the
        claim found committed), nor any of a partition found fenced."""
        if self._claims != self.committer.claims:
            return {}
        now, due = self._clock(), dict[TopicPartition, int]()
        for partition, sent in self._sought.items():
            if self.committer.holds(partition) and now - sent.at > RESEEK_AFTER_S:
                due[sent.tp] = sent.offset
                self._sought[partition] = sent._replace(at=now)
        return due
