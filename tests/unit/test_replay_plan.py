"""A Kafka review's reading (:mod:`streams.replay.kafka_range`): every partition read whole
in the plan's batches (:func:`chunked`), and :class:`RangeFilter` keeps exactly the records
whose event time is in the range, counting what it left out. Checked against a filter of
every record by its own time, computed here (hypothesis)."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
from aiokafka import ConsumerRecord
from hypothesis import given
from hypothesis import strategies as st

from streams.replay.kafka_range import PartitionRange, RangeCensus, RangeFilter, chunked
from streams.stages.batch import LOG_APPEND_TIME

FROM_MS, TO_MS = 1_000_000, 2_000_000
STAMP_MS = 1_500_000  # every record's Kafka timestamp: inside the range
CREATE_TIME = 0


def _record(
    partition: int,
    offset: int,
    at_ms: int | None,
    field: str = "tick_at",
    stamp_type: int = LOG_APPEND_TIME,
) -> ConsumerRecord[bytes, bytes]:
    value = b"not json" if at_ms is None else orjson.dumps({field: _iso(at_ms)})
    return ConsumerRecord("t", partition, offset, STAMP_MS, stamp_type, None, value, None, 0, 0, ())


def _iso(at_ms: int) -> str:
    return datetime.fromtimestamp(at_ms / 1000, UTC).isoformat()


# event times in whole seconds within one day; None: no readable time (judged by its Kafka
# stamp, which is inside the range)
times = st.one_of(st.none(), st.integers(0, 3000).map(lambda s: s * 1000))
partitions = st.lists(st.lists(times, max_size=12), min_size=1, max_size=3)


def _in_range(at_ms: int | None) -> bool:
    return FROM_MS <= (STAMP_MS if at_ms is None else at_ms) < TO_MS


@given(partitions, st.integers(1, 10))
def test_the_batches_read_back_keep_exactly_the_records_inside(
    logs: list[list[int | None]], batch_records: int
) -> None:
    records = [_record(p, o, at) for p, log in enumerate(logs) for o, at in enumerate(log)]
    plan = [PartitionRange("t", p, 0, len(log)) for p, log in enumerate(logs)]
    in_range = RangeFilter(FROM_MS, TO_MS, RangeCensus())
    kept = []
    for batch in chunked(plan, batch_records):
        spans = {p.partition: range(p.start, p.end) for p in batch}
        sliced = [r for r in records if r.offset in spans.get(r.partition, range(0))]
        kept.extend((r.partition, r.offset) for r in in_range.keep(sliced))
    every = [(p, o, at) for p, log in enumerate(logs) for o, at in enumerate(log)]
    assert sorted(kept) == [(p, o) for p, o, at in every if _in_range(at)]
    census = in_range.census
    assert census.scanned == len(records)
    assert census.inside == len(kept)
    assert census.before == sum(at is not None and at < FROM_MS for _, _, at in every)
    assert census.after == sum(at is not None and at >= TO_MS for _, _, at in every)
    assert census.undated == sum(at is None for _, _, at in every)


def test_an_event_stamped_by_its_producer_s_clock_is_counted_as_restamped() -> None:
    far = STAMP_MS + 60_000  # an event time a minute from its Kafka timestamp
    records = [
        _record(0, 0, far, "occurred_at", CREATE_TIME),  # a producer's wall clock
        _record(0, 1, far, "occurred_at", LOG_APPEND_TIME),  # the broker's, by design
        _record(0, 2, STAMP_MS + 500, "occurred_at", CREATE_TIME),  # within the tolerance
        _record(0, 3, far, "tick_at", CREATE_TIME),  # the worker stamps its ticks when sent
    ]
    in_range = RangeFilter(FROM_MS, TO_MS, RangeCensus(scanned=10, restamped=1))
    assert in_range.keep(records) == records
    assert in_range.census == RangeCensus(scanned=14, inside=14 - 10, restamped=2)
