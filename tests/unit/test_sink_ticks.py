"""The ClickHouse store sends DateTime64(3) columns as millisecond ticks: clickhouse-connect
must serialise them to the very bytes it makes of the datetimes themselves."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from typing import Any

import pytest
from clickhouse_connect.datatypes.registry import get_from_name
from clickhouse_connect.driver.insert import InsertContext
from clickhouse_connect.driver.transform import NativeTransform
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic_core import TzInfo

from sinks.clickhouse import ClickHouseStore, millisecond_ticks
from sinks.tables import table
from streams.config.settings import Settings
from topics.outputs import Task

DATETIME = "DateTime64(3, 'UTC')"
NULLABLE = "Nullable(DateTime64(3, 'UTC'))"

# Fixed offsets to the second, as the standard library and pydantic's decoder make them,
# and named zones (1900's local mean times have offsets in seconds).
fixed = st.integers(-86_399, 86_399).flatmap(
    lambda s: st.sampled_from([timezone(timedelta(seconds=s)), TzInfo(s)])
)
zones = st.one_of(fixed, st.timezones())
# Whole milliseconds: where milliseconds made from a float timestamp can come out one short.
micros = st.integers(0, 999_999) | st.integers(0, 999).map(lambda ms: ms * 1000)


def _instant(year: int, second: int, micro: int, zone: tzinfo) -> datetime:
    start = datetime(year, 1, 1, tzinfo=UTC)
    return (start + timedelta(seconds=second, microseconds=micro)).astimezone(zone)


instants = st.one_of(
    # Any wall time, gaps and folds of named zones included.
    st.datetimes(datetime(1900, 1, 1), datetime(2200, 1, 1), timezones=zones),
    # Instants spread over the years (one integer of microseconds crowds around 1970).
    st.builds(_instant, st.integers(1900, 2199), st.integers(0, 365 * 86_400), micros, zones),
)


def _native(names: Sequence[str], types: Sequence[str], columns: Sequence[Any]) -> bytes:
    """The Native-format insert clickhouse-connect builds (no server needed)."""
    context = InsertContext(
        "t", names, [get_from_name(t) for t in types], data=columns, column_oriented=True
    )
    return b"".join(NativeTransform.build_insert(context))


def _assert_sent_alike(type_name: str, values: list[datetime | None]) -> None:
    ticks = millisecond_ticks(values)
    assert all(isinstance(t, int) for t in ticks if t is not None)
    assert [t is None for t in ticks] == [v is None for v in values]
    assert _native(["at"], [type_name], [ticks]) == _native(["at"], [type_name], [values])


@settings(max_examples=300, deadline=None)
@given(st.lists(instants, min_size=1, max_size=20))
def test_ticks_serialise_like_the_datetimes(values: list[datetime | None]) -> None:
    _assert_sent_alike(DATETIME, values)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.none() | instants, min_size=1, max_size=20))
def test_nullable_ticks_serialise_like_the_datetimes(values: list[datetime | None]) -> None:
    # None first or everywhere included: clickhouse-connect picks its path by the first
    # value that is not None.
    _assert_sent_alike(NULLABLE, values)


def test_whole_milliseconds_across_the_years_serialise_alike() -> None:
    # A float timestamp times 1000 is one short for about one whole millisecond in a
    # hundred: too rare for the draws above to meet every time.
    start, step = datetime(1900, 1, 1, tzinfo=UTC), timedelta(milliseconds=473_346_131)
    _assert_sent_alike(DATETIME, [start + step * k for k in range(20_000)])


class _Client:
    """Answers the store's column query as the server would and keeps what it inserts."""

    def __init__(self, names: Sequence[str], types: Sequence[str]) -> None:
        self.result_rows = list(zip(names, types, strict=True))
        self.inserted: dict[str, Any] = {}

    def query(self, *_: Any, **__: Any) -> _Client:
        return self

    def insert(self, _table: str, data: Any, **kwargs: Any) -> None:
        self.inserted = {"data": data, **kwargs}


def test_the_store_sends_datetime_columns_as_ticks_and_keeps_the_batch(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    spec = table("tasks")
    names, types = spec.column_names, spec.mapper.column_types
    client = _Client(names, types)
    monkeypatch.setattr("sinks.clickhouse.connect", lambda *_, **__: client)
    at = datetime(2026, 3, 1, 8, 0, 0, 123_456, tzinfo=TzInfo(8 * 3600))
    tasks = [
        Task(
            task_id=f"t{n}",
            incident_id="i1",
            jurisdiction="5101",
            tier="II",
            agency_type="health",
            action="designate hospitals",
            issued_at=at,
            due_at=at + timedelta(hours=1),
            acked_at=at + timedelta(minutes=n) if n else None,
            revision=n,
        )
        for n in range(3)
    ]
    columns = spec.columns(tasks)
    ClickHouseStore(Settings(), "tierflow_test").insert(spec, columns, "token")

    sent = client.inserted["data"]
    assert client.inserted["column_type_names"] == list(types)
    for name, kind, column, wire in zip(names, types, columns, sent, strict=True):
        if kind in (DATETIME, NULLABLE):
            # A retry re-sends the batch: its own columns keep their datetimes.
            assert wire is not column, name
            assert all(isinstance(v, datetime) for v in column if v is not None), name
        else:
            assert wire is column, name
    assert _native(names, types, sent) == _native(names, types, columns)
