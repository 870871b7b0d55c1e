"""Who holds which partitions after a rebalance: the claims (fencing) wrapped around Faust's
table rebalance, what was claimed in which group generation, and whether the tables are
recovered since."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any, Protocol

from streams.live.fencing import PartitionCommitter

log = logging.getLogger("tierflow.live.fencing")


class Claimant(Protocol):
    """What owns a stage's partitions by transactional ids of theirs: the stage's commits
    (:class:`streams.live.fencing.PartitionCommitter`), the decide journal
    (:class:`streams.live.journal_write.FencedJournal`)."""

    async def claim(self, partitions: Iterable[int]) -> None: ...


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
        if not self.claimed_now:
            return None
        return self._partitions.get(topic, frozenset())

    @property
    def claimed_now(self) -> bool:
        """Whether the consumer's current generation has claimed (its rebalance is done)."""
        return self._generation is not None and self._generation == self._app.consumer_generation_id

    def record(self, generation: int, partitions: dict[str, frozenset[int]]) -> None:
        """Note the partitions claimed, by topic, in ``generation``."""
        self._generation, self._partitions = generation, partitions


class RecoveryGate:
    """Open while the tables are recovered: closed by a revoke, opened when Faust's
    recovery of the generation this worker last claimed in has ended.

    A stage committing to a table's changelog outside the decide intake (which reads
    nothing from a revoke to its assignment) passes here. A claim ends each changelog
    partition with a record and reads it back; Faust's recovery then reads from there
    to the highwater it takes a little later. A transaction committed in between leaves
    its commit marker last, at that highwater, and a marker is never delivered: the
    recovery waited for it until the stall watchdog stopped the worker (a roll-up batch
    taken before a second decide worker joined, committed after the claim, 2026-12-07).
    """

    def __init__(self) -> None:
        self._open = asyncio.Event()

    @property
    def is_open(self) -> bool:
        return self._open.is_set()

    def close(self) -> None:
        self._open.clear()

    def open(self) -> None:
        self._open.set()

    @asynccontextmanager
    async def turn(self, committer: PartitionCommitter) -> AsyncIterator[None]:
        """Hold ``committer``'s turn (:meth:`PartitionCommitter.exclusive`) while the gate
        is open: no claim comes before the end of the block, and none came since the
        last recovery ended (a revoke, which closes the gate, precedes every claim)."""
        while True:
            await self._open.wait()
            async with committer.exclusive():
                if self.is_open:
                    yield
                    return


def fence_on_rebalance(
    app: Any, claims: Mapping[str, Sequence[Claimant]], recovered: RecoveryGate
) -> ClaimedPartitions:
    """Wrap Faust's table rebalance so that, for each ``topic -> claimants`` of ``claims``,
    the previous owners of the topic's partitions assigned here are fenced before the
    tables recover (as Faust's ``exactly_once`` does), claimant by claimant in their order.
    Returns what was claimed. Closes
    ``recovered`` on every revoke and opens it when a recovery of the generation claimed
    in ends.

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
            for topic, claimants in claims.items():
                for claimant in claimants:
                    await claimant.claim(held[topic])
            claimed.record(generation_id, held)
        else:
            log.info(
                "rebalance of generation %d skipped: the consumer is in generation %d already",
                generation_id,
                app.consumer_generation_id,
            )
        await recover(assigned, revoked, newly_assigned, generation_id)

    def on_revoked(sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
        recovered.close()

    def on_recovered(sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
        # (Faust signals the end of an older generation's recovery too: not this one's.)
        if claimed.claimed_now:
            recovered.open()

    app.tables.on_rebalance = fence_then_recover
    app.on_partitions_revoked.connect(on_revoked)
    app.on_rebalance_complete.connect(on_recovered)
    return claimed
