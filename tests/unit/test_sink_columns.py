"""The generic model → columns mapping, version rules and the privacy guards."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any, Literal

import orjson
import pytest
from hypothesis import given, settings
from pydantic import AwareDatetime, BaseModel

from sinks.columns import RowMapper, VersionRule, columns_of
from sinks.errors import PrivacyViolation, SinkError
from sinks.tables import TABLES, table
from tests.wire_strategies import case_events
from topics.models import CaseEvent, TransferEvent
from topics.outputs import IncidentState, Task
from topics.privacy import scrub_input

KEY = b"test-key"
CST = timezone(timedelta(hours=8))


class _Point(BaseModel):
    lat: float
    lon: float


class _Toy(BaseModel):
    code: Literal["a", "b"]
    jurisdiction: str  # a code-like field: LowCardinality
    note: str
    tier: Literal["I", "II"] | None = None
    count: int
    ratio: float
    flag: bool
    at: AwareDatetime
    when: AwareDatetime | None = None
    where: _Point | None = None
    tags: tuple[str, ...] = ()
    metrics: dict[str, float] = {}
    details: dict[str, Any] = {}


def test_column_types_follow_the_rules() -> None:
    got = [(c.name, c.ch_type) for c in columns_of(_Toy)]
    assert got == [
        ("code", "LowCardinality(String)"),
        ("jurisdiction", "LowCardinality(String)"),
        ("note", "String"),
        ("tier", "LowCardinality(Nullable(String))"),
        ("count", "Int64"),
        ("ratio", "Float64"),
        ("flag", "Bool"),
        ("at", "DateTime64(3, 'UTC')"),
        ("when", "Nullable(DateTime64(3, 'UTC'))"),
        ("where_lat", "Nullable(Float64)"),
        ("where_lon", "Nullable(Float64)"),
        ("tags", "Array(String)"),
        ("metrics", "Map(String, Float64)"),
        ("details", "String"),
    ]


def test_a_row_holds_the_model_values_in_column_order() -> None:
    mapper = RowMapper(columns_of(_Toy), VersionRule())
    at = datetime(2026, 3, 1, 8, tzinfo=CST)
    toy = _Toy(
        code="a",
        jurisdiction="5101",
        note="n",
        count=3,
        ratio=0.5,
        flag=True,
        at=at,
        where=_Point(lat=30.5, lon=104.0),
        tags=("r1", "r2"),
        metrics={"confirmed": 4.0},
        details={"beds": 2, "site": "h1"},
    )
    row = mapper.row(toy)
    assert row == (
        "a", "5101", "n", None, 3, 0.5, True, at, None, 30.5, 104.0,
        ("r1", "r2"), {"confirmed": 4.0}, '{"beds":2,"site":"h1"}', 0,
    )  # fmt: skip
    assert orjson.loads(row[13]) == {"beds": 2, "site": "h1"}
    empty = mapper.row(toy.model_copy(update={"where": None}))
    assert empty[9:11] == (None, None)


def test_a_batch_of_many_chunks_keeps_every_row_in_order() -> None:
    # Rows are read in chunks: a batch that ends inside its third chunk, built by hand.
    mapper = RowMapper(columns_of(_Toy), VersionRule(rank_field="count"))
    at = datetime(2026, 3, 1, 8, tzinfo=CST)
    toys = [
        _Toy(
            code="ab"[n % 2],
            jurisdiction=f"51{n % 7:02d}",
            note=str(n),
            count=n,
            ratio=n / 4,
            flag=n % 3 == 0,
            at=at + timedelta(seconds=n),
            where=None if n % 5 else _Point(lat=n, lon=-n),
            details={"n": n},
        )
        for n in range(1_300)
    ]
    columns = mapper.columnar(toys)
    step = 2**44  # a version is rank * 2**44 + milliseconds; no time field here
    assert columns[2] == [str(n) for n in range(1_300)]
    assert columns[4] == list(range(1_300))
    assert columns[7] == [at + timedelta(seconds=n) for n in range(1_300)]
    assert columns[9] == [None if n % 5 else float(n) for n in range(1_300)]
    assert columns[10] == [None if n % 5 else float(-n) for n in range(1_300)]
    assert columns[13] == [f'{{"n":{n}}}' for n in range(1_300)]
    assert columns[14] == [n * step for n in range(1_300)]
    assert all(len(c) == 1_300 for c in columns)


class _One(BaseModel):
    only: int


def test_a_model_of_one_field_maps_to_one_column_and_its_version() -> None:
    mapper = RowMapper(columns_of(_One), VersionRule())
    assert mapper.columnar([_One(only=1), _One(only=2)]) == [[1, 2], [0, 0]]
    assert mapper.columnar([]) == [[], []]


def test_a_model_with_a_name_field_cannot_become_a_table() -> None:
    class Person(BaseModel):
        name: str

    with pytest.raises(PrivacyViolation):
        columns_of(Person)


def test_cases_table_has_no_name_and_no_wire_only_fields() -> None:
    names = TABLES["cases"].column_names
    assert "name" not in names
    assert "kind" not in names and "schema_version" not in names
    assert "national_id" in names


def _case(**changes: Any) -> CaseEvent:
    base: dict[str, Any] = {
        "kind": "case",
        "event_id": "e1",
        "source": {"agency_id": "cdc-5101", "agency_type": "health"},
        "occurred_at": "2026-03-02T08:00:00+08:00",
        "reported_at": "2026-03-02T09:00:00+08:00",
        "region": "510104",
        "case_id": "c1",
        "patient_ref": "h1-0001",
        "disease": "cholera",
        "classification": "confirmed",
        "facility_id": "h1",
    }
    return CaseEvent.model_validate({**base, **changes})


def test_a_raw_national_id_is_refused() -> None:
    with pytest.raises(PrivacyViolation):
        table("cases").rows([_case(national_id="510104199001011234")])


def test_unknown_extra_fields_never_land() -> None:
    event = scrub_input(_case(nickname="Lao Wang", national_id="5101041990"), KEY)
    row = table("cases").rows([event])[0]
    assert "Lao Wang" not in row
    assert "5101041990" not in row


@settings(max_examples=200, deadline=None)
@given(case_events)
def test_any_pseudonymised_case_maps_without_personal_data(raw: dict[str, Any]) -> None:
    raw = {**raw, "name": "Zhang San", "national_id": "110101199003077777"}
    event = scrub_input(CaseEvent.model_validate(raw), KEY)
    row = table("cases").rows([event])[0]
    names = TABLES["cases"].column_names
    assert len(row) == len(names)
    values = dict(zip(names, row, strict=True))
    assert "Zhang San" not in row
    assert values["national_id"] != raw["national_id"]
    assert values["event_id"] == raw["event_id"]
    assert values["source_agency_type"] == raw["source"]["agency_type"]


def _task(state: str, decided_minute: int, revision: int = 0) -> Task:
    return Task(
        task_id="t1",
        incident_id="i1",
        jurisdiction="5101",
        tier="II",
        agency_type="health",
        action="designate hospitals",
        issued_at=datetime(2026, 3, 1, 8, tzinfo=UTC),
        due_at=datetime(2026, 3, 1, 9, tzinfo=UTC),
        state=state,
        decided_at=datetime(2026, 3, 1, 8, decided_minute, tzinfo=UTC),
        revision=revision,
    )


def _version(name: str, model: BaseModel) -> int:
    return int(table(name).rows([model])[0][-1])


def test_task_versions_grow_with_revision_and_keep_the_first_decision() -> None:
    # A later copy wins whatever its state and decision time: a task can go back to open.
    assert _version("tasks", _task("open", 50)) < _version("tasks", _task("overdue", 1, 1))
    assert _version("tasks", _task("retracted", 1, 2)) < _version("tasks", _task("open", 0, 3))
    # The same copy decided twice (a re-processed output): the earlier one wins.
    assert _version("tasks", _task("acked", 5, 1)) > _version("tasks", _task("acked", 7, 1))
    assert _version("tasks", _task("acked", 59, 4)) == 4 * 2**44 + 2**44 - 1 - (
        int(datetime(2026, 3, 1, 8, 59, tzinfo=UTC).timestamp()) * 1000
    )


def _types(name: str) -> dict[str, str]:
    mapper = TABLES[name].mapper
    return dict(zip(mapper.column_names, mapper.column_types, strict=True))


def test_revisions_are_small_unsigned_counters() -> None:
    for name in ("tier_timeline", "tasks", "alerts"):
        assert _types(name)["revision"] == "UInt32", name
    assert _types("incidents")["merged_into"] == "Nullable(String)"


def _transfer(state: str, minute: int) -> TransferEvent:
    return TransferEvent.model_validate(
        {
            "kind": "transfer",
            "event_id": f"x-{state}-{minute}",
            "source": {"agency_id": "120-5101", "agency_type": "health"},
            "occurred_at": datetime(2026, 3, 1, 8, minute, tzinfo=UTC).isoformat(),
            "reported_at": datetime(2026, 3, 1, 8, minute, tzinfo=UTC).isoformat(),
            "region": "510104",
            "transfer_id": "tr1",
            "patient_ref": "p1",
            "from_facility": "h1",
            "to_facility": "h2",
            "required_bed": "icu",
            "transfer_status": state,
        }
    )


def test_transfer_state_outranks_a_later_stale_report() -> None:
    arrived = _version("transfers", _transfer("arrived", 10))
    assert arrived > _version("transfers", _transfer("en_route", 30))
    assert _version("transfers", _transfer("en_route", 31)) > _version(
        "transfers", _transfer("en_route", 30)
    )


def test_incident_version_is_its_own() -> None:
    state = IncidentState(
        incident_id="i1",
        jurisdiction="5101",
        category="infectious_disease",
        opened_at=datetime(2026, 3, 1, tzinfo=UTC),
        updated_at=datetime(2026, 3, 1, tzinfo=UTC),
        rulebook_version="2026.1",
        version=17,
    )
    assert _version("incidents", state) == 17
    assert list(TABLES["incidents"].column_names).count("version") == 1


def test_unknown_table_is_named() -> None:
    with pytest.raises(SinkError, match="known: incidents"):
        table("incident")
