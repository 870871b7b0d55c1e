"""Who holds which partitions after a rebalance: the claims (fencing) wrapped around Faust's
table rebalance, and what was claimed in which group generation."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from streams.live.fencing import PartitionCommitter

log = logging.getLogger("tierflow.live.fencing")


class ClaimedPartitions:
    """What this worker claimed in the group generation it last claimed in, by topic: the
    partitions it may read once their tables are recovered.

    Faust signals ``on_rebalance_complete`` when *a* recovery ends, also one of an older
    generation whose assignment a newer rebalance has already replaced in the consumer
    (its generation check comes after the signal). The consumer's assignment at that
    moment is the newer one, neither claimed nor recovered yet: an intake given it decided
    partitions another worker owned and was deciding too, from states without that
    worker's (the compose fault test's divergence, issue 16). So the intake reads what
    was claimed, and only while the generation it was claimed in is still the current one.
    """

    def __init__(self, app: Any) -> None:
        self._app = app
        self._generation: int | None = None
        self._partitions: dict[str, frozenset[int]] = {}

    def current(self, topic: str) -> frozenset[int] | None:
        """The partitions of ``topic`` claimed in the consumer's current generation; None
        when that generation has claimed nothing yet (its rebalance is under way)."""
        if self._generation is None or self._generation != self._app.consumer_generation_id:
            return None
        return self._partitions.get(topic, frozenset())

    def record(self, generation: int, partitions: dict[str, frozenset[int]]) -> None:
        """Note the partitions claimed, by topic, in ``generation``."""
        self._generation, self._partitions = generation, partitions


def fence_on_rebalance(app: Any, claims: Mapping[str, PartitionCommitter]) -> ClaimedPartitions:
    """Wrap Faust's table rebalance so that, for each ``topic -> committer`` of ``claims``,
    the previous owners of the topic's partitions assigned here are fenced before the
    tables recover (as Faust's ``exactly_once`` does). Returns what was claimed.

    A rebalance of a generation the consumer has already left behind claims nothing (Faust
    skips its recovery too): its assignment may give partitions that the newer generation
    gives another worker, and a claim would fence that worker's commits."""
    recover = app.tables.on_rebalance
    claimed = ClaimedPartitions(app)

    async def fence_then_recover(
        assigned: set[Any], revoked: set[Any], newly_assigned: set[Any], generation_id: int = 0
    ) -> None:
        if generation_id == app.consumer_generation_id:
            # Nothing the previous owners send after the claim becomes visible, so the
            # state recovered next is final.
            held = {
                topic: frozenset(tp.partition for tp in assigned if tp.topic == topic)
                for topic in claims
            }
            for topic, committer in claims.items():
                await committer.claim(held[topic])
            claimed.record(generation_id, held)
        else:
            log.info(
                "rebalance of generation %d skipped: the consumer is in generation %d already",
                generation_id,
                app.consumer_generation_id,
            )
        await recover(assigned, revoked, newly_assigned, generation_id)

    app.tables.on_rebalance = fence_then_recover
    return claimed
