"""What a review of the raw inputs cannot see: case records the cases topic's retention
(``cases_retention_days``, counted from arrival) has already deleted.

``tierflow replay --source inputs`` (the default) of a range that starts before the
retention horizon would otherwise decide without those cases and say nothing; the
command warns with these counts and names ``--source decided`` (the pseudonymised log the
live worker keeps without limit).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from aiokafka import TopicPartition

from streams.config.settings import Settings
from streams.replay.kafka_range import range_consumer
from topics.registry import CASES


@dataclass(frozen=True)
class ExpiredCases:
    """Case records deleted by retention (``expired``) and those still held (``held``)."""

    topic: str
    expired: int
    held: int


def before_horizon(settings: Settings, start: datetime, now: datetime) -> bool:
    """True when ``start`` is earlier than the raw cases' retention reaches back from
    ``now`` (cases of the range may have expired)."""
    return start < now - timedelta(days=settings.cases_retention_days)


async def expired_cases(settings: Settings) -> ExpiredCases:
    """How many records of the cases topic retention has deleted (the sum of its
    partitions' log start offsets) and how many it still holds."""
    topic = CASES.name(settings.topic_prefix)
    partitions = [TopicPartition(topic, p) for p in range(CASES.partitions)]
    async with range_consumer(settings) as consumer:
        starts = await consumer.beginning_offsets(partitions)
        ends = await consumer.end_offsets(partitions)
    expired = sum(starts.values())
    return ExpiredCases(topic, expired, sum(ends.values()) - expired)
