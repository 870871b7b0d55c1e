"""A commit some of whose partitions another worker owns now (fenced): their records
leave the local copy, the decider forgets its cached states, and the intake stops reading
until the rebalance says what is this worker's (streams/live/fencing.fenced_commits). Once a
commit is sent, the C allocator's free pages are given back."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from streams.live import fencing
from streams.live.fencing import fenced_commits


class _Committer:
    stage = "decide-intake"

    def __init__(self, lost: list[int]) -> None:
        self.lost = lost
        self.sent: list[Any] = []

    async def commit(self, states: Any, offsets: Any) -> list[int]:
        self.sent.append((states, offsets))
        return self.lost


class _Decider:
    def __init__(self) -> None:
        self.calls: list[str] = []

    def flush_states(self) -> int:
        self.calls.append("flush")
        return 1

    def forget(self) -> None:
        self.calls.append("forget")


class _States:
    def __init__(self) -> None:
        self.dropped: list[list[int]] = []

    def take_unsent(self) -> dict[int, dict[bytes, bytes]]:
        return {4: {b"5101|": b"x"}}

    def drop_partitions(self, partitions: list[int]) -> None:
        self.dropped.append(list(partitions))


def _commit(lost: list[int]) -> tuple[_Decider, _States, list[str]]:
    decider, states, stopped = _Decider(), _States(), []
    commit = fenced_commits(
        _Committer(lost),  # type: ignore[arg-type]
        decider=decider,  # type: ignore[arg-type]
        states=states,  # type: ignore[arg-type]
        stop_reading=lambda: stopped.append("stopped"),
    )

    async def committed() -> None:
        sending = commit({})
        # the states are taken at the call: batches decided while it is sent are not in it
        assert decider.calls == ["flush"]
        await sending

    asyncio.run(committed())
    return decider, states, stopped


def test_a_fenced_partition_is_dropped_forgotten_and_reading_stops() -> None:
    decider, states, stopped = _commit([4])
    assert states.dropped == [[4]]
    assert decider.calls == ["flush", "forget"]
    assert stopped == ["stopped"]


def test_a_commit_that_lost_nothing_changes_nothing() -> None:
    decider, states, stopped = _commit([])
    assert (states.dropped, decider.calls, stopped) == ([], ["flush"], [])


def test_the_free_heap_pages_are_given_back_once_the_commit_is_sent(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    committer, released = _Committer([]), []
    monkeypatch.setattr(fencing, "release_freed_memory", lambda: released.append(committer.sent))
    commit = fenced_commits(
        committer,  # type: ignore[arg-type]
        decider=_Decider(),  # type: ignore[arg-type]
        states=_States(),  # type: ignore[arg-type]
        stop_reading=lambda: None,
    )

    async def committed() -> None:
        sending = commit({})
        assert released == []
        await sending

    asyncio.run(committed())
    assert released == [[({4: {b"5101|": b"x"}}, {})]]  # once, after the states were sent
