"""A warning is verified (issue 13 item 2), worked out by hand from the default rulebook:
one cholera case (class A) opens a warning at its time (trigger class-a-single-case); the
warning issues the rulebook's verification task to health, due 2 h later; the ack says
``confirmed`` (an incident) or ``discarded`` (closed: its tier stands down)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from pydantic import ValidationError

from streams.core import (
    default_rulebook,
    initial_state,
    step_many,
    tier_timeline,
    warning_incident_id,
)
from topics.models import CaseEvent, IncidentEvent
from topics.outputs import Alert, IncidentState, Task, Tick

CST = timezone(timedelta(hours=8))
T0 = datetime(2026, 3, 1, 8, 0, tzinfo=CST)
H = timedelta(hours=1)
RULES = default_rulebook()
CDC = {"agency_id": "cdc-5101", "agency_type": "health"}
WARNING = warning_incident_id("Actual", "5101", "cholera")


def cholera(cls: str = "suspected") -> CaseEvent:
    return CaseEvent(
        event_id=f"c1-{cls}",
        kind="case",
        source=CDC,
        occurred_at=T0,
        reported_at=T0,
        region="510104",
        case_id="c1",
        patient_ref="p1",
        disease="cholera",
        classification=cls,
        facility_id="H1",
    )


def verified(task_id: str, outcome: str, at: datetime = T0 + H) -> IncidentEvent:
    return IncidentEvent(
        event_id=f"v-{outcome}",
        kind="incident",
        msg_type="Ack",
        source=CDC,
        occurred_at=at,
        reported_at=at,
        region="510104",
        incident_id=WARNING,
        category="infectious_disease",
        disease="cholera",
        ack_task_id=task_id,
        verification=outcome,
    )


def of(kind: type, outputs: list[Any]) -> list[Any]:
    return [o for o in outputs if isinstance(o, kind)]


def opened() -> tuple[Any, Task]:
    state, out = step_many(initial_state("5101"), [cholera()], RULES)
    (warned,) = [a for a in of(Alert, out) if a.alert_kind == "warning_opened"]
    assert (warned.at, warned.incident_id) == (T0, WARNING)
    (task,) = of(Task, out)
    return state, task


def test_a_warning_issues_the_verification_task_to_health_due_in_two_hours() -> None:
    state, task = opened()
    assert (task.agency_type, task.incident_id, task.issued_at, task.due_at, task.state) == (
        "health",
        WARNING,
        T0,
        T0 + 2 * H,
        "open",
    )
    assert task.action == "verify the warning on site (调查核实)"
    _, out = step_many(
        state, [Tick(event_id="t", tick_at=T0 + 2 * H + timedelta(seconds=1))], RULES
    )
    assert [t.state for t in of(Task, out)] == ["overdue"]
    assert [a.alert_kind for a in of(Alert, out)] == ["task_overdue"]


def test_confirmed_makes_the_warning_an_incident() -> None:
    state, task = opened()
    _, out = step_many(state, [verified(task.task_id, "confirmed")], RULES)
    assert [(t.task_id, t.state, t.acked_at) for t in of(Task, out)] == [
        (task.task_id, "acked", T0 + H)
    ]
    last = of(IncidentState, out)[-1]
    assert (last.incident_id, last.warning, last.phase) == (WARNING, False, "confirmed")


def test_discarded_closes_it_and_stands_its_tier_down() -> None:
    # the case is confirmed at T0 (cholera IV), the check at T0+1h finds nothing
    state, out = step_many(initial_state("5101"), [cholera("confirmed")], RULES)
    (task,) = [t for t in of(Task, out) if t.agency_type == "health" and "verify" in t.action]
    state, out = step_many(state, [verified(task.task_id, "discarded")], RULES)
    assert [(e.tier, e.effective_at) for e in tier_timeline(state)] == [
        ("IV", T0),
        (None, T0 + H),
    ]
    assert of(IncidentState, out)[-1].phase == "closed"


def test_verification_goes_with_an_ack_only() -> None:
    with pytest.raises(ValidationError, match="verification goes with msg_type Ack"):
        IncidentEvent.model_validate(
            {**verified("t", "confirmed").model_dump(mode="json"), "msg_type": "Update"}
        )
