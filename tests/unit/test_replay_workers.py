"""The review's worker pool as a shell (streams/replay/workers.py), with a stand-in for the
Review in each forked worker: which worker decides which record and forward, the order of
the roll-up feed, failures, and which states a checkpoint gets encoded. (What a real
review in workers decides: tests/integration/test_replay_workers.py.)"""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, cast

import pytest

from streams.core import CoreState, decode_state, initial_state
from streams.replay.runner import DecidedBatch, Decisions, ReplayError, Review
from streams.replay.workers import ReviewPool, _feed, _Passed, worker_count
from streams.stages.batch import Record
from streams.stages.topology import PARTITIONS
from topics.outputs import Tick

AT = datetime(2026, 3, 1, tzinfo=UTC)


class LandingDown(Exception):
    """A planted landing failure."""


class StandIn:
    """What the pool uses of a Review. Worker ``index`` turns each record into a feed
    item ``(index, pass, partition, offset)``; a record keyed ``forward`` becomes a
    forward to the partition its value names; each record replaces the state of
    jurisdiction ``j<partition>``. ``fail`` plants a landing failure in that worker."""

    def __init__(self, index: int = -1, fail: int | None = None) -> None:
        self.index, self.fail = index, fail
        self.states: dict[str, CoreState] = {}
        self.fed: list[list[Any]] = []  # the coordinator: each batch's roll-up feed
        self.passes = 0

    def wanted(self, records: Sequence[Record]) -> list[Record]:
        return list(records)

    def token(self, records: Sequence[Record]) -> str:
        return "batch"

    def decide_records(self, records: Sequence[Record], into: Decisions | None = None) -> Decisions:
        decisions = into or Decisions()
        self.passes += 1
        for r in records:
            if r.key == b"forward":
                decisions.forwards.append(Record(r.topic, int(r.value), r.offset, b"fw", b""))
                continue
            item = (self.index, 1 if into is None else 2, r.partition, r.offset)
            decisions.feed.append(cast(Any, item))
            self.states[f"j{r.partition}"] = initial_state(f"j{r.partition}")
        return decisions

    def rows(self, by_topic: object, token: str) -> list[Any]:
        return []

    def land(self, batch: DecidedBatch) -> None:
        if self.index == self.fail:
            raise LandingDown

    def roll_up(self, decisions: Decisions) -> None:
        self.fed.append(list(decisions.feed))


def _pool(workers: int, fail: int | None = None) -> tuple[ReviewPool, StandIn]:
    coordinator = StandIn()
    pool = ReviewPool(cast(Review, coordinator), workers, lambda i: cast(Review, StandIn(i, fail)))
    return pool, coordinator


def _record(partition: int, offset: int, forward_to: int | None = None) -> Record:
    if forward_to is None:
        return Record("t", partition, offset, b"j", b"")
    return Record("t", partition, offset, b"forward", str(forward_to).encode())


def test_each_record_goes_to_the_worker_of_its_partition_and_a_forward_to_its_target_s() -> None:
    pool, coordinator = _pool(3)
    try:
        records = [_record(p, 10 + p) for p in range(6)] + [_record(1, 20, forward_to=5)]
        batch = pool.decide(records)
        assert batch.events == 7
        (fed,) = coordinator.fed
        firsts = [(0, 1, 0, 10), (0, 1, 3, 13), (1, 1, 1, 11), (1, 1, 4, 14)]
        firsts += [(2, 1, 2, 12), (2, 1, 5, 15)]
        # the forward: read by worker 1, decided by worker 2 (partition 5) in the second pass
        assert fed == [*firsts, (2, 2, 5, 20)]
    finally:
        pool.close()


def test_the_batch_s_newest_tick_follows_every_first_pass_item() -> None:
    def tick(hours: int) -> Tick:
        return Tick(event_id=f"t{hours}", tick_at=AT.replace(hour=hours))

    firsts = [
        _Passed([], cast(Any, ["a1", tick(3), "a2"])),
        _Passed([], cast(Any, ["b1", tick(5)])),
    ]
    seconds = [_Passed([], cast(Any, ["c1"])), _Passed([], [])]
    assert _feed(firsts, seconds) == ["a1", "a2", "b1", tick(5), "c1"]


def test_a_failed_landing_names_its_worker_and_never_counts_as_landed() -> None:
    pool, _ = _pool(2, fail=1)
    try:
        pool.decide([_record(0, 0), _record(1, 1)])  # batch 0 lands in the background
        with pytest.raises(ReplayError, match=r"(?s)review worker 1 failed:.*LandingDown"):
            pool.decide([_record(0, 2), _record(1, 3)])  # answered once batch 0 has landed
        with pytest.raises(ReplayError, match="review worker 1 failed"):
            pool.flush(0)
    finally:
        pool.close()


def test_a_checkpoint_gets_only_the_states_changed_since_the_last_one_encoded() -> None:
    pool, _ = _pool(2)
    try:
        pool.decide([_record(0, 0), _record(1, 1)])
        pool.decide([_record(1, 2)])
        pool.flush(1)
        first = pool.encoded(0)
        assert sorted(first) == ["j0", "j1"]
        assert all(blob is not None for blob in first.values())
        assert decode_state(cast(bytes, first["j0"])).jurisdiction == "j0"
        # after batch 1, only j1 has changed since batch 0's states were encoded
        second = pool.encoded(1)
        assert second["j0"] is None
        assert second["j1"] is not None
        assert pool.encoded(1) == {"j0": None, "j1": None}
    finally:
        pool.close()


def test_one_worker_per_core_unless_asked() -> None:
    assert worker_count(3) == 3
    assert 1 <= worker_count(None) <= min(os.cpu_count() or 1, PARTITIONS)
