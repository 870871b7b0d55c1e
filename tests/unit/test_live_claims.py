"""What the decide intake may read after a rebalance (streams/live/rebalance.py,
ClaimedPartitions): the partitions claimed in the consumer's current generation, never an
assignment that no rebalance of this worker has claimed and recovered yet; and when the
roll-up agent may commit (RecoveryGate): never between a claim and the end of the
recovery after it.

The sequence is the one the compose fault test's worker logs showed (issue 16): worker 1's
recovery of one generation ended after the consumer had joined the next one, Faust
signalled the end of that recovery anyway, and the intake was given the consumer's newer
assignment (all six partitions) six seconds before worker 1 claimed them, while worker 2
was deciding three of them as their owner."""

from __future__ import annotations

import asyncio
from typing import Any

from faust.types import TP

from streams.live.rebalance import ClaimedPartitions, RecoveryGate, fence_on_rebalance

TICKS = "p.ticks.v1"
FEED = "p.rollup-feed.v1"


class _Committer:
    def __init__(self) -> None:
        self.claims: list[frozenset[int]] = []
        self.turn = asyncio.Lock()  # (made in the test's loop)

    async def claim(self, partitions: Any) -> None:
        self.claims.append(frozenset(partitions))

    def exclusive(self) -> asyncio.Lock:
        return self.turn


class _Tables:
    def __init__(self) -> None:
        self.recovered: list[int] = []

    async def on_rebalance(
        self, assigned: set[TP], revoked: set[TP], newly: set[TP], generation_id: int = 0
    ) -> None:
        self.recovered.append(generation_id)


class _Signal:
    def __init__(self) -> None:
        self.receivers: list[Any] = []

    def connect(self, receiver: Any) -> None:
        self.receivers.append(receiver)

    def send(self) -> None:
        for receiver in self.receivers:
            receiver(self, signal=self)


class _App:
    """What fence_on_rebalance uses of a Faust app: its tables' rebalance hook, the
    generation the consumer thread last joined (set before the rebalance reaches the app),
    and the signals of a revoke and of a recovery's end."""

    def __init__(self) -> None:
        self.tables = _Tables()
        self.consumer_generation_id = 0
        self.on_partitions_revoked = _Signal()
        self.on_rebalance_complete = _Signal()


def _ticks(*partitions: int) -> set[TP]:
    return {TP(TICKS, p) for p in partitions} | {TP(FEED, 0)}


def _setup(gate: RecoveryGate | None = None) -> tuple[_App, _Committer, ClaimedPartitions]:
    app = _App()
    committer = _Committer()
    claims = {TICKS: (committer,), FEED: (_Committer(),)}
    claimed = fence_on_rebalance(app, claims, gate or RecoveryGate())  # type: ignore[arg-type]
    return app, committer, claimed


async def _rebalance(app: _App, generation: int, assigned: set[TP]) -> None:
    await app.tables.on_rebalance(assigned, set(), set(), generation)


def test_the_intake_reads_what_was_claimed_in_the_current_generation() -> None:
    app, committer, claimed = _setup()
    app.consumer_generation_id = 7
    asyncio.run(_rebalance(app, 7, _ticks(1, 3, 5)))
    assert committer.claims == [frozenset({1, 3, 5})]
    assert claimed.current(TICKS) == frozenset({1, 3, 5})
    assert claimed.current(FEED) == frozenset({0})
    assert app.tables.recovered == [7]  # Faust's own recovery still runs after the claim


def test_an_older_generations_recovery_end_gives_the_intake_nothing() -> None:
    app, _, claimed = _setup()
    app.consumer_generation_id = 7
    asyncio.run(_rebalance(app, 7, _ticks(1, 3, 5)))
    # The consumer thread joins generation 8 (all six partitions here); the app has not
    # handled that rebalance yet when the recovery of generation 7 signals its end.
    app.consumer_generation_id = 8
    assert claimed.current(TICKS) is None
    # Generation 8's rebalance reaches the app: claimed, then readable.
    asyncio.run(_rebalance(app, 8, _ticks(0, 1, 2, 3, 4, 5)))
    assert claimed.current(TICKS) == frozenset(range(6))


def test_a_rebalance_of_a_generation_already_left_behind_claims_nothing() -> None:
    app, committer, claimed = _setup()
    app.consumer_generation_id = 9  # generation 8's assignment arrives late
    asyncio.run(_rebalance(app, 8, _ticks(0, 1, 2, 3, 4, 5)))
    # a claim would fence the producers of the worker that owns them in generation 9
    assert committer.claims == []
    assert claimed.current(TICKS) is None
    assert app.tables.recovered == [8]  # (Faust skips it itself: its generation check)


def test_the_gate_opens_when_the_claimed_generations_recovery_ends() -> None:
    gate = RecoveryGate()
    app, _, _ = _setup(gate)
    app.consumer_generation_id = 7
    app.on_partitions_revoked.send()
    asyncio.run(_rebalance(app, 7, _ticks(1, 3, 5)))
    assert not gate.is_open  # claimed, not recovered yet
    app.on_rebalance_complete.send()
    assert gate.is_open
    app.on_partitions_revoked.send()
    assert not gate.is_open
    # generation 7's recovery signals its end again after the consumer joined 8: still shut
    app.consumer_generation_id = 8
    app.on_rebalance_complete.send()
    assert not gate.is_open
    asyncio.run(_rebalance(app, 8, _ticks(0, 2, 4)))
    app.on_rebalance_complete.send()
    assert gate.is_open


def test_a_batch_taken_before_a_rebalance_commits_after_the_recovery_not_the_claim() -> None:
    """The roll-up agent's batch waits out the claim (the committer's turn) and then the
    recovery after it: committed between the two, its transaction marker would end the
    changelog past the read-back, where Faust's recovery waits for a record forever."""

    async def story() -> list[str]:
        gate = RecoveryGate()
        app, _, _ = _setup(gate)
        feed = _Committer()
        seen: list[str] = []
        app.consumer_generation_id = 7
        await _rebalance(app, 7, _ticks(1))
        app.on_rebalance_complete.send()

        async def batch() -> None:
            async with gate.turn(feed):  # type: ignore[arg-type]
                seen.append("batch committed")

        app.on_partitions_revoked.send()  # the batch was taken before this
        async with feed.exclusive():  # generation 8's claim and read-back
            committing = asyncio.ensure_future(batch())
            await asyncio.sleep(0.01)
            app.consumer_generation_id = 8
            await _rebalance(app, 8, _ticks(1))
            seen.append("claimed")
        await asyncio.sleep(0.01)  # Faust's recovery reads to its highwater meanwhile
        seen.append("recovered")
        app.on_rebalance_complete.send()
        await committing
        return seen

    assert asyncio.run(story()) == ["claimed", "recovered", "batch committed"]
