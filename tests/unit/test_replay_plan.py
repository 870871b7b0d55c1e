"""A Kafka review's plan (:class:`streams.replay.kafka_range.RangePlanner`): each partition's
range runs from its first to its last record inside the event-time range, and is ``whole``
only when no record between them lies outside; the reader (:func:`inside`) then keeps a
whole slice's records without reading their times, and filters the others. Checked against
a filter of every record by its own time (hypothesis)."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
from aiokafka import ConsumerRecord, TopicPartition
from hypothesis import given
from hypothesis import strategies as st

from streams.replay.kafka_range import PartitionRange, RangePlanner, chunked, inside

FROM_MS, TO_MS = 1_000_000, 2_000_000


def _record(partition: int, offset: int, at_ms: int | None) -> ConsumerRecord[bytes, bytes]:
    value = b"not json" if at_ms is None else orjson.dumps({"tick_at": _iso(at_ms)})
    return ConsumerRecord("t", partition, offset, 1_500_000, 1, None, value, None, 0, 0, ())


def _iso(at_ms: int) -> str:
    return datetime.fromtimestamp(at_ms / 1000, UTC).isoformat()


# event times in whole seconds within one day; None: no readable time (its Kafka stamp,
# 1 500 000 ms, is inside the range)
times = st.one_of(st.none(), st.integers(0, 3000).map(lambda s: s * 1000))
partitions = st.lists(st.lists(times, max_size=12), min_size=1, max_size=3)


def _plan(logs: list[list[int | None]]) -> tuple[list[PartitionRange], list[ConsumerRecord]]:
    planner = RangePlanner(FROM_MS, TO_MS)
    records = [_record(p, o, at) for p, log in enumerate(logs) for o, at in enumerate(log)]
    for record in records:
        planner.see(record)
    tps = [TopicPartition("t", p) for p in range(len(logs))]
    return planner.plan(tps, {tp: len(logs[tp.partition]) for tp in tps}).ranges, records


def _in_range(at_ms: int | None) -> bool:
    return FROM_MS <= (1_500_000 if at_ms is None else at_ms) < TO_MS


@given(partitions, st.integers(1, 10))
def test_a_plan_read_back_keeps_exactly_the_records_inside(
    logs: list[list[int | None]], batch_records: int
) -> None:
    ranges, records = _plan(logs)
    kept = []
    for batch in chunked(ranges, batch_records):
        spans = {p.partition: range(p.start, p.end) for p in batch}
        sliced = [r for r in records if r.offset in spans.get(r.partition, range(0))]
        kept.extend((r.partition, r.offset) for r in inside(batch, sliced, FROM_MS, TO_MS))
    expected = [(p, o) for p, log in enumerate(logs) for o, at in enumerate(log) if _in_range(at)]
    assert sorted(kept) == expected
    for r in ranges:
        inner = logs[r.partition][r.start : r.end]
        assert r.whole == all(_in_range(at) for at in inner)


def test_a_record_outside_between_two_inside_makes_its_partition_not_whole() -> None:
    ranges, _ = _plan([[0, 1_200_000, 5_000_000, 1_300_000, 9_000_000], [1_100_000, 0]])
    assert [(r.start, r.end, r.whole) for r in ranges] == [(1, 4, False), (0, 1, True)]


def test_a_whole_slice_is_kept_without_reading_its_values() -> None:
    unread = [_record(0, 0, 5_000_000)]  # outside: kept only because the plan said whole
    assert inside([PartitionRange("t", 0, 0, 1, True)], unread, FROM_MS, TO_MS) == unread
    assert inside([PartitionRange("t", 0, 0, 1, False)], unread, FROM_MS, TO_MS) == []
