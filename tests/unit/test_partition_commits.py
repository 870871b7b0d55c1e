"""A commit's partitions are committed side by side, each in its own transaction: the
intake reads nothing while it commits, so a commit must take the round trips of one
partition, not of every partition in turn; a fenced partition is left out, and a state the
changelog refuses in one partition commits nothing anywhere (streams/live/fencing.py)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiokafka.errors import ProducerFenced
from aiokafka.structs import TopicPartition

from streams.live.fencing import PartitionCommitter
from streams.live.state_store import ChangelogError

RECORDS_PER_BATCH = 3


class _Batch:
    """A produce batch of at most :data:`RECORDS_PER_BATCH` records (aiokafka's
    BatchBuilder's ``append``: None when full)."""

    def __init__(self) -> None:
        self.keys: list[bytes] = []

    def append(self, *, key: bytes, value: bytes | None, timestamp: int | None) -> object:
        if len(self.keys) == RECORDS_PER_BATCH:
            return None
        self.keys.append(key)
        return object()  # the record's metadata


class _Producer:
    """A transactional producer whose transaction begins only once ``everyone`` has
    begun: a committer that runs the partitions in turn never gets past the first."""

    def __init__(
        self,
        everyone: asyncio.Barrier,
        fail: BaseException | None = None,
        refused: bytes | None = None,
    ) -> None:
        # fail: every batch fails with it, or only the one with the key ``refused``
        self.everyone, self.fail, self.refused = everyone, fail, refused
        self.calls: list[str] = []

    async def begin_transaction(self) -> None:
        self.calls.append("begin")
        await asyncio.wait_for(self.everyone.wait(), timeout=2)

    def create_batch(self) -> _Batch:
        return _Batch()

    async def send_batch(self, batch: _Batch, topic: str, *, partition: int) -> Any:
        self.calls.append(f"send {b' '.join(batch.keys).decode()}")
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if self.fail is None or self.refused not in (None, *batch.keys):
            done.set_result(None)
        else:
            done.set_exception(self.fail)
        return done

    async def send_offsets_to_transaction(self, offsets: Any, group: str) -> None:
        self.calls.append(f"offsets {sorted(tp.partition for tp in offsets)}")

    async def commit_transaction(self) -> None:
        self.calls.append("commit")

    async def abort_transaction(self) -> None:
        self.calls.append("abort")

    async def stop(self) -> None:
        self.calls.append("stop")


def _committer() -> PartitionCommitter:
    return PartitionCommitter(
        kafka={}, prefix="unit", stage="decide-intake", group="g", changelog="c", max_bytes=1
    )


def _commit(
    fails: dict[int, BaseException],
    states: dict[int, dict[bytes, bytes | None]] | None = None,
    refused: bytes | None = None,
) -> tuple[dict[int, _Producer], Any]:
    async def run() -> tuple[dict[int, _Producer], Any]:
        everyone = asyncio.Barrier(4)
        producers = {p: _Producer(everyone, fails.get(p), refused) for p in range(4)}
        committer = _committer()
        committer._producers = dict(producers)  # type: ignore[assignment]
        nonlocal states
        states = states or {p: {f"k{p}".encode(): b"v"} for p in range(4)}
        offsets = {TopicPartition("in", p): 10 + p for p in range(4)}
        try:
            return producers, await committer.commit(states, offsets)
        except Exception as exc:  # the outcome under test
            return producers, exc

    return asyncio.run(run())


def test_the_partitions_commit_side_by_side() -> None:
    producers, lost = _commit({})
    assert lost == []
    for p, producer in producers.items():
        assert producer.calls == ["begin", f"send k{p}", f"offsets [{p}]", "commit"]


def test_a_fenced_partition_is_left_out_and_the_others_commit() -> None:
    producers, lost = _commit({2: ProducerFenced()})
    assert lost == [2]
    assert producers[2].calls[-2:] == ["abort", "stop"]
    assert all(producers[p].calls[-1] == "commit" for p in (0, 1, 3))


def test_a_state_refused_in_one_partition_commits_nothing_anywhere() -> None:
    producers, outcome = _commit({1: RuntimeError("record too large")})
    assert isinstance(outcome, ChangelogError), outcome
    assert "k1" in str(outcome)
    for producer in producers.values():
        assert "commit" not in producer.calls
        assert producer.calls[-1] == "abort"


def test_the_states_go_in_whole_batches_in_order() -> None:
    keys = [f"k{i}".encode() for i in range(7)]
    producers, lost = _commit({}, {0: dict.fromkeys(keys, b"v")})
    assert lost == []
    assert producers[0].calls == [
        "begin", "send k0 k1 k2", "send k3 k4 k5", "send k6", "offsets [0]", "commit",
    ]  # fmt: skip


def test_a_refused_batch_names_its_largest_record_and_commits_nothing() -> None:
    states: dict[int, dict[bytes, bytes | None]] = {
        p: {b"a": b"x" * 5, b"b": b"y" * 50, b"c": None, b"d": b"z"} for p in range(4)
    }
    producers, outcome = _commit({1: RuntimeError("batch too large")}, states, refused=b"b")
    assert isinstance(outcome, ChangelogError), outcome
    assert "3 state records (55 bytes in one batch, the largest b of 50 bytes)" in str(outcome)
    assert "RuntimeError: batch too large" in str(outcome)
    for producer in producers.values():
        assert "commit" not in producer.calls


@pytest.mark.parametrize("partitions", [[0], [0, 1, 2, 3]])
def test_a_partition_never_claimed_here_is_lost(partitions: list[int]) -> None:
    async def run() -> list[int]:
        committer = _committer()
        offsets = {TopicPartition("in", p): 1 for p in partitions}
        return await committer.commit({}, offsets)

    assert asyncio.run(run()) == partitions
