"""A Kafka review's batches (:func:`streams.replay.kafka_range.chunked`): slices of the plan
that cover every range exactly once, in order, about ``batch_records`` offsets each, and
depend on the plan alone, so a resumed review skips exactly the batches it landed."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from streams.replay.kafka_range import PartitionRange, chunked, landed

ranges = st.lists(
    st.tuples(st.integers(0, 1000), st.integers(0, 3000)).map(lambda r: (r[0], r[0] + r[1])),
    min_size=1,
    max_size=8,
).map(lambda spans: [PartitionRange("t", n, start, end) for n, (start, end) in enumerate(spans)])


@given(ranges, st.integers(1, 5000))
def test_batches_slice_every_range_once_in_order(plan: list[PartitionRange], size: int) -> None:
    batches = chunked(plan, size)
    for r in plan:
        slices = [p for batch in batches for p in batch if p.partition == r.partition]
        covered = [(p.start, p.end) for p in slices]
        expected_start = r.start
        for start, end in covered:  # contiguous, front to back, nothing empty
            assert start == expected_start < end
            expected_start = end
        assert expected_start == (r.end if r.size else r.start)
    total = sum(r.size for r in plan)
    assert len(batches) <= max(1, -(-total // size))  # (slices empty everywhere are dropped)
    # each batch holds at most its share of every range, rounded up
    assert all(sum(p.size for p in batch) <= size + len(plan) for batch in batches)


def test_a_checkpoint_after_batch_k_skips_exactly_batches_up_to_k() -> None:
    plan = [PartitionRange("t", 0, 0, 10), PartitionRange("t", 1, 100, 105)]
    batches = chunked(plan, 5)  # 15 offsets: 3 batches
    assert [[(p.partition, p.start, p.end) for p in b] for b in batches] == [
        [(0, 0, 3), (1, 100, 101)],
        [(0, 3, 6), (1, 101, 103)],
        [(0, 6, 10), (1, 103, 105)],
    ]
    positions = {"t:0": 6, "t:1": 103}  # what landing batch 1 left in the checkpoint
    assert [landed(b, positions) for b in batches] == [True, True, False]
