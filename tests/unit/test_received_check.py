"""A record reported after the broker received it (hostile input): the DLQ with a reason,
and nothing else in the picture changes.

The headline, found by probing the demo's stack: a signed case whose ``occurred_at`` and
``reported_at`` both lie ten years ahead passes every check that compares a record with
itself (occurred before reported, values in range), and, in a city whose clock has no tick
yet, carries the city's event time to 2036: an unrelated mass-casualty incident's four open
tasks went ``task_overdue`` at once. The broker's receipt time (the input topics are
LogAppendTime) bounds what a record may claim, the same in a review as live. Expectations
are by hand from the default rulebook (52 casualties, 6 critical: Tier III, four tasks)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

from streams.stages.batch import Record, consumed
from streams.stages.observer import reason_class
from streams.stages.topology import partition_for
from tests.core_events import T0, case, incident
from tests.unit.test_input_checks import decider, picture
from topics.codec import encode

P = "unit"
CHENGDU = partition_for("5101")
RECEIVED = T0 + timedelta(minutes=5)  # when the broker took each record of these tests
FUTURE = T0 + timedelta(days=3652)


def _record(event: Any, offset: int, received: datetime | None = RECEIVED) -> Record:
    topic = {"incident": "incidents", "case": "cases"}[event.kind]
    return Record(f"{P}.{topic}.v1", CHENGDU, offset, None, encode(event), (), received)


def _mci() -> Any:
    return incident("mci-1", T0, casualties={"total": 52, "critical": 6})


def _hostile(received: datetime | None = RECEIVED) -> Record:
    return _record(case(999, FUTURE, event_id="far-ahead"), 1, received)


def _picture(batch: list[Record]) -> tuple[list[tuple[str, dict[str, Any]]], list[Any]]:
    return picture(batch, decider(now=T0 + timedelta(hours=1)))


def _overdue(picture: list[tuple[str, dict[str, Any]]]) -> list[str]:
    return [m["alert_kind"] for _, m in picture if m.get("alert_kind") == "task_overdue"]


def test_a_case_reported_ten_years_ahead_is_refused_and_changes_nothing() -> None:
    clean, none = _picture([_record(_mci(), 0)])
    assert none == []
    tasks = [m for topic, m in clean if topic.endswith("tasks.v1")]
    assert len(tasks) == 4 and _overdue(clean) == []

    guarded, [rejection] = _picture([_record(_mci(), 0), _hostile()])
    assert guarded == clean
    assert (rejection.field, rejection.offset) == ("reported_at", 1)
    assert "reported after received" in rejection.reason
    assert FUTURE.isoformat() in rejection.reason and RECEIVED.isoformat() in rejection.reason


def test_without_the_broker_s_receipt_the_same_record_makes_every_task_overdue() -> None:
    """What the guard stops (planted: the record read from a topic producers stamp)."""
    unguarded, none = _picture([_record(_mci(), 0), _hostile(received=None)])
    assert none == []
    assert len(_overdue(unguarded)) == 4


def test_a_sender_clock_up_to_the_allowance_ahead_is_believed() -> None:
    within = case(1, T0, reported_at=RECEIVED + timedelta(minutes=59))
    beyond = case(2, T0, reported_at=RECEIVED + timedelta(minutes=61))
    _, [rejection] = _picture([_record(within, 0), _record(beyond, 1)])
    assert rejection.offset == 1
    assert "61 min after the broker received" in rejection.reason
    assert reason_class(rejection) == "reported after received"


def test_only_the_broker_s_stamp_counts_as_receipt() -> None:
    """LogAppendTime (timestamp_type 1) is the broker's clock; CreateTime is the sender's."""
    stamp = int(RECEIVED.timestamp() * 1000)
    message = SimpleNamespace(
        topic="t", partition=0, offset=7, key=None, value=b"{}", headers=(), timestamp=stamp
    )
    by_broker = consumed(SimpleNamespace(**vars(message), timestamp_type=1))
    assert by_broker.received_at == RECEIVED.astimezone(UTC)
    assert consumed(SimpleNamespace(**vars(message), timestamp_type=0)).received_at is None
