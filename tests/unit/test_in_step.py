"""Records held back so a partition's topics are decided in step
(:class:`streams.live.in_step.InStep`): the answers are worked out by hand, and a property
checks that what is released is each topic-partition's oldest prefix and never younger
than what a partition still holds."""

from __future__ import annotations

from dataclasses import dataclass

from aiokafka import TopicPartition
from hypothesis import given
from hypothesis import strategies as st

from streams.live.in_step import InStep

CASES, STOCK, TICKS = (TopicPartition(t, 0) for t in ("cases", "stock", "ticks"))
CASES_1 = TopicPartition("cases", 1)


@dataclass(frozen=True)
class _Msg:
    offset: int
    timestamp: int


def _log(*stamps: int) -> list[_Msg]:
    return [_Msg(n, at) for n, at in enumerate(stamps)]


def _stamps(released: dict[TopicPartition, list[_Msg]]) -> dict[str, list[int]]:
    return {f"{tp.topic}-{tp.partition}": [m.timestamp for m in ms] for tp, ms in released.items()}


def test_a_topic_behind_holds_its_partition_back_at_the_oldest_record_it_may_precede() -> None:
    held: InStep[_Msg] = InStep()
    held.add({STOCK: _log(10, 20, 30, 40), CASES: _log(5, 15)})
    released = held.release({CASES}, limit=100)
    # cases 5, stock 10, cases 15; then the cases topic is empty and the broker has more
    assert _stamps(released) == {"cases-0": [5, 15], "stock-0": [10]}
    assert len(held) == 3 and held.holding() == {0}
    held.add({CASES: [_Msg(2, 35)]})
    assert _stamps(held.release(set(), limit=100)) == {"stock-0": [20, 30, 40], "cases-0": [35]}
    assert held.holding() == set()


def test_a_topic_read_to_its_end_holds_nothing_back() -> None:
    held: InStep[_Msg] = InStep()
    held.add({STOCK: _log(10, 20), TICKS: _log(99)})
    # the broker has more stock: the tick waits for it
    assert _stamps(held.release({STOCK}, limit=100)) == {"stock-0": [10, 20]}
    held.add({STOCK: [_Msg(2, 30)]})
    # every topic read to its end (cases never had a record): all goes
    assert _stamps(held.release(set(), limit=100)) == {"stock-0": [30], "ticks-0": [99]}
    held.add({CASES: _log(1), STOCK: [_Msg(3, 0)]})
    assert held.release({TICKS}, limit=100) == {}  # a tick may come before either


def test_partitions_are_held_back_independently_and_go_oldest_first_together() -> None:
    held: InStep[_Msg] = InStep()
    held.add({STOCK: _log(*range(10)), CASES_1: _log(*range(100, 110))})
    released = held.release({CASES}, limit=100)  # partition 0's cases: none fetched yet
    assert _stamps(released) == {"cases-1": list(range(100, 110))}
    held.add({CASES_1: _log(*range(5, 15)), CASES: _log(*range(300, 310))})
    released = held.release(set(), limit=8)
    assert _stamps(released) == {"stock-0": [0, 1, 2, 3, 4, 5], "cases-1": [5, 6]}
    assert sorted(held.full(hold=8)) == [CASES, CASES_1]


@given(
    st.dictionaries(
        st.sampled_from([CASES, STOCK, TICKS, CASES_1]),
        st.lists(st.integers(0, 50), max_size=20).map(sorted),
    ),
    st.sets(st.sampled_from([CASES, STOCK, TICKS, CASES_1])),
    st.integers(1, 80),
)
def test_what_is_released_is_the_oldest_prefix_of_each_topic_partition(
    logs: dict[TopicPartition, list[int]], behind: set[TopicPartition], limit: int
) -> None:
    held: InStep[_Msg] = InStep()
    held.add({tp: _log(*stamps) for tp, stamps in logs.items()})
    released = held.release(behind, limit)
    total = sum(len(ms) for ms in released.values())
    assert total <= limit
    assert total + len(held) == sum(len(s) for s in logs.values())
    for ms in released.values():
        assert [m.offset for m in ms] == list(range(len(ms)))  # a prefix, in offset order
    gone = {tp: len(released.get(tp, [])) for tp in logs}
    heads = {tp: logs[tp][gone[tp]] for tp in logs if gone[tp] < len(logs[tp])}
    out = [m.timestamp for ms in released.values() for m in ms]
    for partition in {tp.partition for tp in logs}:
        # it waited from the start, or since it released all a topic behind had
        waited = any(
            tp.partition == partition and gone.get(tp, 0) == len(logs.get(tp, ())) for tp in behind
        )
        if not waited:  # nothing it still holds is older than anything released
            kept = [at for tp, at in heads.items() if tp.partition == partition]
            assert not out or not kept or max(out) <= min(kept)
        elif not any(logs.get(tp) for tp in behind if tp.partition == partition):
            assert not any(released.get(tp) for tp in logs if tp.partition == partition)
    if not behind and limit >= sum(len(s) for s in logs.values()):
        assert len(held) == 0


def test_a_record_stamped_far_ahead_holds_back_only_what_follows_it_on_its_topic() -> None:
    """A topic its producers stamp (CreateTime, created before tierflow stamped its inputs
    on arrival) with a stamp from the year 2100: the other topics go on meanwhile."""
    held: InStep[_Msg] = InStep()
    far = 4_102_444_800_000
    held.add({STOCK: _log(10, far, 20), CASES: _log(15, 30), CASES_1: _log(5)})
    released = held.release({CASES, CASES_1}, limit=100)
    assert _stamps(released) == {"stock-0": [10], "cases-0": [15, 30], "cases-1": [5]}
    held.add({CASES: [_Msg(2, 40)]})
    assert _stamps(held.release(set(), limit=100)) == {"cases-0": [40], "stock-0": [far, 20]}
