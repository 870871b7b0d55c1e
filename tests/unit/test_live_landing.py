"""The landing stage's plan (:meth:`streams.live.landing.Landing.plan`): which table and
which namespace each record lands in, under which deduplication token; cases and
transfers only from the decided log. No I/O."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from aiokafka import ConsumerRecord, TopicPartition
from pydantic import BaseModel

from sinks.errors import SinkRejected
from sinks.writer import Sink
from streams.live.landing import Landing
from streams.stages.topology import DECIDED, TopicNames
from topics.codec import decode, encode
from topics.models import CaseEvent
from topics.outputs import Escalation, Rejection, StockLevel, Task
from topics.privacy import pseudonym, scrub_input

P = "unit"
KEY = b"unit-pseudonym-key"
T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


def landing() -> Landing:
    return Landing(kafka={}, prefix=P, sinks={}, pseudonym_key=KEY)


def record(topic: str, partition: int, offset: int, value: bytes) -> ConsumerRecord[Any, Any]:
    return ConsumerRecord(f"{P}.{topic}.v1", partition, offset, 0, 0, None, value, None, 0, 0, ())


def batch(*records: ConsumerRecord[Any, Any]) -> dict[TopicPartition, list[Any]]:
    out: dict[TopicPartition, list[Any]] = {}
    for r in records:
        out.setdefault(TopicPartition(r.topic, r.partition), []).append(r)
    return out


def escalation(decision_id: str, status: str = "Actual") -> bytes:
    return orjson.dumps(
        {
            "decision_id": decision_id,
            "incident_id": "INC-1",
            "jurisdiction": "5101",
            "status": status,
            "tier": "IV",
            "effective_at": T0.isoformat(),
            "rule_ids": ["mass-casualty-IV"],
            "evidence": {"casualties": 12.0},
            "rulebook_version": "2026.1",
        }
    )


def case(event_id: str, status: str = "Actual") -> bytes:
    return orjson.dumps(
        {
            "kind": "case",
            "event_id": event_id,
            "status": status,
            "source": {"agency_id": "cdc-510104", "agency_type": "health"},
            "occurred_at": T0.isoformat(),
            "reported_at": T0.isoformat(),
            "region": "510104",
            "case_id": f"c-{event_id}",
            "patient_ref": "h1-1",
            "national_id": "510104199001011234",
            "name": "Zhang San",
            "disease": "cholera",
            "classification": "confirmed",
            "facility_id": "h1",
        }
    )


def decided(raw: bytes) -> bytes:
    """An agency's record as the decide stage writes it to the decided log once accepted:
    decoded, pseudonymised, encoded."""
    event = scrub_input(decode(raw), KEY, raw)
    assert not isinstance(event, Rejection)
    return encode(event)


def test_each_output_topic_lands_in_its_table_with_a_token_from_its_offsets() -> None:
    task = {
        "task_id": "t1",
        "incident_id": "INC-1",
        "jurisdiction": "5101",
        "tier": "IV",
        "agency_type": "emergency",
        "action": "convene joint command",
        "issued_at": T0.isoformat(),
        "due_at": T0.isoformat(),
    }
    stock = {
        "site_id": "h1",
        "site_type": "hospital",
        "jurisdiction": "5101",
        "item": "n95",
        "unit": "pcs",
        "at": T0.isoformat(),
        "on_hand": 300.0,
    }
    rejection = {"reason": "not JSON", "value_b64": "eA==", "topic": f"{P}.cases.v1"}
    writes = landing().plan(
        batch(
            record("escalations", 2, 10, escalation("d1")),
            record("escalations", 2, 12, escalation("d2")),  # a gap: compacted or skipped
            record("tasks", 0, 7, orjson.dumps(task)),
            record("stock-levels", 5, 0, orjson.dumps(stock)),
            record("dlq", 0, 3, orjson.dumps(rejection)),
        )
    )
    planned = {(w.namespace, w.table, w.token): w.rows for w in writes}
    assert set(planned) == {
        ("live", "tier_timeline", f"tier_timeline:{P}.escalations.v1:2:10-12"),
        ("live", "tasks", f"tasks:{P}.tasks.v1:0:7-7"),
        ("live", "stock_levels", f"stock_levels:{P}.stock-levels.v1:5:0-0"),
        ("live", "rejected_events", f"rejected_events:{P}.dlq.v1:0:3-3"),
    }
    timeline = planned["live", "tier_timeline", f"tier_timeline:{P}.escalations.v1:2:10-12"]
    assert [type(r) for r in timeline] == [Escalation, Escalation]
    assert [r.decision_id for r in timeline] == ["d1", "d2"]  # type: ignore[attr-defined]
    assert all(
        isinstance(rows[0], model)
        for (_, table, _), rows in planned.items()
        for t, model in (
            ("tasks", Task),
            ("stock_levels", StockLevel),
            ("rejected_events", Rejection),
        )
        if table == t
    )


def test_one_write_per_table_and_partition() -> None:
    writes = landing().plan(
        batch(
            record("escalations", 0, 4, escalation("a")),
            record("escalations", 3, 4, escalation("b")),
        )
    )
    assert sorted(w.token for w in writes) == [
        f"tier_timeline:{P}.escalations.v1:0:4-4",
        f"tier_timeline:{P}.escalations.v1:3:4-4",
    ]


def test_drills_land_in_the_exercise_namespace_never_in_the_live_one() -> None:
    writes = landing().plan(
        batch(
            record("escalations", 1, 0, escalation("real")),
            record("escalations", 1, 1, escalation("drill", "Exercise")),
            record("escalations", 1, 2, escalation("test", "Test")),
            record("decided", 1, 0, decided(case("c-drill", "Exercise"))),
        )
    )
    by_namespace = {
        (w.namespace, w.table): [getattr(r, "decision_id", None) or r.event_id for r in w.rows]  # type: ignore[attr-defined]
        for w in writes
    }
    assert by_namespace == {
        ("live", "tier_timeline"): ["real"],
        ("exercise", "tier_timeline"): ["drill", "test"],
        ("exercise", "cases"): ["c-drill"],
    }
    # Both halves of one record range keep the range's token: each namespace is its own
    # database, and a re-sent range must be recognised in both.
    assert {w.token for w in writes if w.table == "tier_timeline"} == {
        f"tier_timeline:{P}.escalations.v1:1:0-2"
    }


def test_cases_and_transfers_land_from_the_decided_log_as_written() -> None:
    def envelope(kind: str, event_id: str) -> dict[str, Any]:
        source = {"agency_id": "h1", "agency_type": "health"}
        at = T0.isoformat()
        return {"kind": kind, "event_id": event_id, "source": source, "occurred_at": at,
                "reported_at": at, "region": "510104"}  # fmt: skip

    transfer = {
        **envelope("transfer", "tr-1"),
        "transfer_id": "T-1",
        "patient_ref": "h1-1",
        "from_facility": "h1",
        "to_facility": "h2",
        "required_bed": "icu",
        "transfer_status": "requested",
    }
    stock = {
        **envelope("stock", "s-1"),
        "site_id": "h1",
        "site_type": "hospital",
        "item": "bed.icu",
        "unit": "bed",
        "on_hand": 3,
    }
    writes = landing().plan(
        batch(
            record("decided", 4, 20, decided(case("e1"))),
            record("decided", 4, 21, b"not json"),  # a foreign writer's record
            record("decided", 4, 22, decided(orjson.dumps(transfer))),
            record("decided", 4, 23, decided(orjson.dumps(stock))),  # lands as its levels
            record("decided", 4, 24, decided(case("e2"))),
            record("tasks", 4, 0, b'{"task_id": "only"}'),  # a foreign writer's record
        )
    )
    [cases] = [w for w in writes if w.table == "cases"]
    assert cases.token == f"cases:{P}.decided.v1:4:20-24"
    assert [type(r) for r in cases.rows] == [CaseEvent, CaseEvent]
    assert [o.offset for o in cases.origins or []] == [20, 24]
    for row in cases.rows:  # pseudonymised once, by the decide stage: not hashed again
        assert row.national_id == pseudonym("510104199001011234", KEY)  # type: ignore[attr-defined]
        assert row.name is None  # type: ignore[attr-defined]
    [transfers] = [w for w in writes if w.table == "transfers"]
    assert transfers.token == f"transfers:{P}.decided.v1:4:20-24"
    assert [r.transfer_id for r in transfers.rows] == ["T-1"]  # type: ignore[attr-defined]
    assert {w.table for w in writes} == {"cases", "transfers"}


def test_the_agencies_topics_are_not_landed() -> None:
    # What an agency sent lands only once the decide stage accepted it (the decided log):
    # an unsigned or forged case is in the DLQ, never in the cases table beside it.
    names = TopicNames(P)
    assert names.of(DECIDED) in names.landing_sources
    assert not set(names.inputs) & set(names.landing_sources)


def test_an_empty_batch_plans_nothing() -> None:
    assert landing().plan({TopicPartition(f"{P}.tasks.v1", 0): []}) == []


def test_models_land_as_their_records_would_under_the_given_token() -> None:
    # The replay hands over models: the same tables, namespaces and rows as the records.
    values = {
        "escalations": [escalation("real"), escalation("drill", "Exercise")],
        "cases": [case("e1"), case("e2", "Test")],
    }
    records = [
        record("decided", 0, offset, decided(value))
        if topic == "cases"
        else record(topic, 0, offset, value)
        for topic, vs in values.items()
        for offset, value in enumerate(vs)
    ]
    from_records = {(w.namespace, w.table): w.rows for w in landing().plan(batch(*records))}
    models: dict[str, list[BaseModel]] = {
        "escalations": [Escalation.model_validate_json(v) for v in values["escalations"]],
        "cases": [
            CaseEvent.model_validate_json(v).model_copy(
                update={"national_id": pseudonym("510104199001011234", KEY), "name": None}
            )
            for v in values["cases"]
        ],
    }
    writes = [
        w for topic, ms in models.items() for w in landing().writes(f"{P}.{topic}.v1", ms, "tok")
    ]
    assert {w.token for w in writes} == {"tok"}
    assert {(w.namespace, w.table): w.rows for w in writes} == from_records
    assert set(from_records) == {
        ("live", "tier_timeline"),
        ("exercise", "tier_timeline"),
        ("live", "cases"),
        ("exercise", "cases"),
    }
    # A model the topic's table does not hold is left out, as an undecodable record is.
    assert landing().writes(f"{P}.cases.v1", models["escalations"], "tok") == []


class RefusingStore:
    """A store that refuses any batch holding the decision id ``poison`` (as ClickHouse
    refuses a value out of its column's range) and keeps what it took."""

    def __init__(self) -> None:
        self.landed: list[str] = []

    def insert(self, spec: Any, columns: Any, token: str) -> None:
        ids = list(columns[spec.column_names.index("decision_id")])
        if "poison" in ids:
            raise SinkRejected(f"refused {token}: decision_id out of range")
        self.landed.extend(ids)


def test_a_refused_row_is_isolated_and_every_other_row_lands() -> None:
    store = RefusingStore()
    sink = Sink(store)
    stage = Landing(kafka={}, prefix=P, sinks={"live": sink}, pseudonym_key=KEY)
    ids = [f"d{n}" for n in range(9)]
    ids[5] = "poison"
    records = [record("escalations", 1, 100 + n, escalation(i)) for n, i in enumerate(ids)]
    refused = stage.land(stage.plan(batch(*records)))
    assert [(r.origin.offset, r.table) for r in refused] == [(105, "tier_timeline")]
    assert "decision_id out of range" in refused[0].reason
    assert sorted(store.landed) == sorted(i for i in ids if i != "poison")
    assert sink.buffered_rows == 0  # the refused write was taken back, not left to retry


def test_a_refused_model_that_never_was_a_record_is_not_swallowed() -> None:
    stage = Landing(kafka={}, prefix=P, sinks={"live": Sink(RefusingStore())}, pseudonym_key=KEY)
    poison = Escalation.model_validate_json(escalation("poison"))
    with pytest.raises(SinkRejected):
        stage.land(stage.writes(f"{P}.escalations.v1", [poison], "tok"))
