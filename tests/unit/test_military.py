"""Agency type ``military`` (issue 13 item 4): military hospitals and medical teams send
events like any agency, and the Tier I plan tasks them (军地联动)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from streams.core import auto_declared, default_rulebook, initial_state, step_many
from topics.codec import decode
from topics.models import IncidentEvent, StockEvent
from topics.outputs import StockLevel, Task

CST = timezone(timedelta(hours=8))
T0 = datetime(2026, 3, 1, 8, 0, tzinfo=CST)
ARMY_HOSPITAL = {"agency_id": "PLA-H-452", "agency_type": "military"}


def test_a_military_hospital_reports_its_icu_beds() -> None:
    line = (
        b'{"event_id":"m1","kind":"stock","schema_version":1,"msg_type":"Alert",'
        b'"status":"Actual","source":{"agency_id":"PLA-H-452","agency_type":"military"},'
        b'"occurred_at":"2026-03-01T08:00:00+08:00","reported_at":"2026-03-01T08:05:00+08:00",'
        b'"region":"510104","site_id":"PLA-H-452","site_type":"hospital","item":"bed.icu",'
        b'"unit":"bed","on_hand":6,"baseline":20}'
    )
    event = decode(line)
    assert isinstance(event, StockEvent) and event.source.agency_type == "military"
    _, out = step_many(initial_state("5101"), [event], default_rulebook())
    (level,) = [o for o in out if isinstance(o, StockLevel)]
    assert (level.site_id, level.on_hand, level.baseline) == ("PLA-H-452", 6.0, 20.0)


def test_tier_one_tasks_the_military_medical_teams() -> None:
    # 120 casualties: mass-casualty I (>= 100); with auto_declare the plan follows at once
    report = IncidentEvent(
        event_id="r1",
        kind="incident",
        occurred_at=T0,
        reported_at=T0,
        region="510104",
        source={"agency_id": "em-5101", "agency_type": "emergency"},
        incident_id="INC-1",
        category="mass_casualty",
        casualties={"total": 120, "dead": 4, "critical": 20},
    )
    _, out = step_many(initial_state("5101"), [report], auto_declared(default_rulebook()))
    (army,) = [t for t in out if isinstance(t, Task) and t.agency_type == "military"]
    assert (army.tier, army.issued_at, army.due_at) == ("I", T0, T0 + timedelta(hours=6))
    assert "军地联动" in army.action
