"""The roll-up agent: the one-partition roll-up feed folded in Faust batches, its states in a
one-partition table beside it, committed like the decide stage's (fenced,
:mod:`streams.live.fencing`): a batch's outputs are produced and acknowledged, then its
changed states and the feed offset after it go in one transaction of the feed partition's
producer.

That transaction is the **only** writer of the feed's committed offset (under Faust's
group, which the feed's consumer reads its position from). Faust's own consumer commits
what its agents *acked*, for every topic whose channel acks (``acks=True``, the default);
its commits are generation-checked, but its bookkeeping is not: a zombie's agent that
finishes a batch while its consumer is between a revoke and Faust's seek to the committed
offsets (no committed offset known then) acks that batch, and the next commit timer sends
it in the new generation if the feed is assigned there again — the feed's offset went
back from 188 to 58 once in CI that way, past every fenced transaction. So the feed topic
is declared with ``acks=False``: Faust's ``Consumer.ack`` records no offset of a topic no
acking channel reads, and ``Consumer.commit`` only ever commits recorded ones
(faust-streaming 0.15.3, ``faust/transport/consumer.py``; ``tests/unit/
test_rollup_feed_offsets.py`` runs Faust's own consumer to show it). Why not a consumer of
its own assigned by hand, as the decide intake reads the inputs: the feed is small (Faust's
per-record cost does not matter there), and Faust's assignment keeps the feed partition
and the ``rollup`` table's changelog partition on one worker and recovers the table before
the agent reads; a hand-assigned reader would have to rebuild both. Only the commit was
wrong, and one switch removes it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, NoReturn

from aiokafka import TopicPartition

from streams.live import metrics
from streams.live.fencing import PartitionCommitter, log_lost
from streams.live.state_store import FencedStateStore
from streams.stages.batch import Outgoing
from streams.stages.rollup_stage import RollupStage
from streams.stages.topology import ROLLUP_FEED, TopicNames
from topics.kafka_security import aiokafka_options
from topics.settings import Settings

# The roll-up feed is small (city snapshots): Faust's own batches are fast enough.
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
