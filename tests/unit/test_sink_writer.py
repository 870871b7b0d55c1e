"""The writer's batching, backoff and bounds, on a fake clock over the in-memory store."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from sinks.errors import SinkBackpressure, SinkError
from sinks.memory import MemoryStore
from sinks.tables import TABLES, TableSpec
from sinks.writer import Columns, RetryPolicy, Sink, SinkPolicy, dedup_token
from topics.outputs import Rejection


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class SpyStore(MemoryStore):
    """Records every attempt (table, size, token), landed or not."""

    def __init__(self) -> None:
        super().__init__()
        self.attempts: list[tuple[str, int, str]] = []
        self.broken: SinkError | None = None

    def insert(self, spec: TableSpec, columns: Columns, token: str) -> None:
        self.attempts.append((spec.name, len(columns[0]), token))
        if self.broken is not None:
            raise self.broken
        super().insert(spec, columns, token)


def rejections(first: int, count: int) -> list[Rejection]:
    return [
        Rejection(reason="not JSON", topic="tierflow.cases.v1", partition=0, offset=o,
                  value_b64="e30=", rejected_at=datetime(2026, 3, 1, tzinfo=UTC))
        for o in range(first, first + count)
    ]  # fmt: skip


def token(first: int, count: int) -> str:
    return dedup_token("rejected_events", "tierflow.dlq.v1", 0, first, first + count - 1)


POLICY = SinkPolicy(
    batch_rows=10,
    max_delay_s=5.0,
    max_buffered_rows=25,
    retry=RetryPolicy(first_delay_s=0.5, max_delay_s=2.0, budget_s=6.0),
)


@pytest.fixture
def fake() -> FakeTime:
    return FakeTime()


@pytest.fixture
def store() -> SpyStore:
    return SpyStore()


@pytest.fixture
def sink(fake: FakeTime, store: SpyStore) -> Sink:
    return Sink(store, POLICY, clock=fake.clock, sleep=fake.sleep)


def landed(store: SpyStore) -> list[int | None]:
    return [row["offset"] for row in store.fetch(TABLES["rejected_events"], final=False)]


def test_dedup_token_names_table_topic_partition_and_range() -> None:
    assert dedup_token("cases", "tierflow.cases.v1", 3, 100, 199) == (
        "cases:tierflow.cases.v1:3:100-199"
    )
    with pytest.raises(SinkError):
        dedup_token("cases", "tierflow.cases.v1", 3, 5, 4)


def test_rows_wait_for_a_full_batch(sink: Sink, store: SpyStore) -> None:
    sink.write("rejected_events", rejections(0, 4), token(0, 4))
    sink.write("rejected_events", rejections(4, 4), token(4, 4))
    assert store.attempts == []
    sink.write("rejected_events", rejections(8, 4), token(8, 4))
    # 12 rows: the table is due; each write is its own insert under its own token.
    assert store.attempts == [
        ("rejected_events", 4, token(0, 4)),
        ("rejected_events", 4, token(4, 4)),
        ("rejected_events", 4, token(8, 4)),
    ]
    assert sink.buffered_rows == 0
    assert landed(store) == list(range(12))


def test_a_quiet_table_lands_after_max_delay(sink: Sink, store: SpyStore, fake: FakeTime) -> None:
    sink.write("rejected_events", rejections(0, 3), token(0, 3))
    fake.now += 4.9
    sink.flush_due()
    assert store.attempts == []
    fake.now += 0.2
    sink.flush_due()
    assert store.attempts == [("rejected_events", 3, token(0, 3))]


def test_retries_resend_each_write_under_its_own_token(
    sink: Sink, store: SpyStore, fake: FakeTime
) -> None:
    store.reachable = False
    sink.write("rejected_events", rejections(0, 2), token(0, 2))
    sink.write("rejected_events", rejections(2, 2), token(2, 2))
    with pytest.raises(SinkBackpressure):
        sink.flush()
    assert {(size, t) for _, size, t in store.attempts} == {(2, token(0, 2))}
    store.reachable = True
    sink.flush()
    assert store.attempts[-2:] == [
        ("rejected_events", 2, token(0, 2)),
        ("rejected_events", 2, token(2, 2)),
    ]
    assert landed(store) == [0, 1, 2, 3]


def test_backoff_doubles_up_to_the_cap_then_backpressure(
    sink: Sink, store: SpyStore, fake: FakeTime
) -> None:
    store.reachable = False
    sink.write("rejected_events", rejections(0, 3), token(0, 3))
    with pytest.raises(SinkBackpressure):
        sink.flush()
    # 0.5 + 1 + 2 + 2 = 5.5 s of the 6 s budget; the next 2 s wait would pass it.
    assert fake.sleeps == [0.5, 1.0, 2.0, 2.0]
    assert len(store.attempts) == 5
    assert sink.buffered_rows == 3
    store.reachable = True
    sink.flush()
    assert landed(store) == [0, 1, 2]
    assert sink.buffered_rows == 0


def test_full_buffer_refuses_the_write_and_keeps_what_it_has(sink: Sink, store: SpyStore) -> None:
    store.reachable = False
    for first in (0, 8, 16):
        sink.write("rejected_events", rejections(first, 8), token(first, 8))
    assert sink.buffered_rows == 24
    with pytest.raises(SinkBackpressure):
        sink.write("rejected_events", rejections(24, 8), token(24, 8))
    assert sink.buffered_rows == 24  # the refused rows are still the caller's
    store.reachable = True
    sink.write("rejected_events", rejections(24, 8), token(24, 8))
    sink.flush()
    assert landed(store) == list(range(32))


def test_writes_do_not_wait_while_the_store_is_down(
    sink: Sink, store: SpyStore, fake: FakeTime
) -> None:
    store.reachable = False
    sink.write("rejected_events", rejections(0, 10), token(0, 10))
    sink.write("rejected_events", rejections(10, 2), token(10, 2))  # inside the backoff
    assert fake.sleeps == []
    assert len(store.attempts) == 1


def test_a_token_already_buffered_is_not_taken_twice(sink: Sink, store: SpyStore) -> None:
    sink.write("rejected_events", rejections(0, 3), token(0, 3))
    sink.write("rejected_events", rejections(0, 3), token(0, 3))
    assert sink.buffered_rows == 3
    sink.flush()
    assert landed(store) == [0, 1, 2]


def test_a_permanent_error_keeps_the_batch_queued(sink: Sink, store: SpyStore) -> None:
    store.broken = SinkError("no such table")
    sink.write("rejected_events", rejections(0, 3), token(0, 3))
    with pytest.raises(SinkError, match="no such table"):
        sink.flush()
    assert sink.buffered_rows == 3
    store.broken = None
    sink.flush()
    assert landed(store) == [0, 1, 2]


def test_a_write_larger_than_the_buffer_is_an_error(sink: Sink) -> None:
    with pytest.raises(SinkError, match="exceeds the buffer"):
        sink.write("rejected_events", rejections(0, 26), token(0, 26))
    assert sink.buffered_rows == 0
