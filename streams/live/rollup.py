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

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, NoReturn

from aiokafka import TopicPartition

from streams.config.kafka_security import aiokafka_options
from streams.config.settings import Settings
from streams.live import metrics
from streams.live.fencing import PartitionCommitter, log_lost
from streams.live.state_store import FencedStateStore
from streams.stages.batch import Outgoing
from streams.stages.rollup_stage import RollupStage
from streams.stages.topology import ROLLUP_FEED, TopicNames

# The roll-up feed is small next to the inputs: Faust's own batches are fast enough.
ROLLUP_BATCH_MAX = 1000
ROLLUP_BATCH_WAIT_S = 0.2


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
        ),
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
    )

    async def roll_up(stream: Any) -> None:
        async for events in stream.take_events(ROLLUP_BATCH_MAX, within=ROLLUP_BATCH_WAIT_S):
            try:
                outgoing = stage.decide_records([event.value for event in events])
                await produce([o.encoded() for o in outgoing])
                stage.flush_states()
                offsets: dict[TopicPartition, int] = {}
                for event in events:
                    message = event.message
                    offsets[TopicPartition(message.topic, message.partition)] = message.offset + 1
                lost = await committer.commit(store.take_unsent(), offsets)
                log_lost(committer, lost)
                if lost:  # as the decide stage's commit (fencing.fenced_commits)
                    store.drop_partitions(lost)
                    stage.forget()
            except Exception:
                stop_hard("roll-up", len(events))

    app.agent(feed_topic(app, settings.topic_prefix))(roll_up)
    return stage, committer
