"""Hand-computed examples of the core deciding from event time, not arrival: a late
event moves or retracts what was emitted, and revisions number each copy."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from streams.core import (
    decode_state,
    encode_state,
    initial_state,
    step,
    step_many,
    tier_timeline,
)
from tests.core_events import (
    RULES,
    T0,
    case,
    incident,
    of,
    stock,
    tick,
    transfer,
)
from topics.outputs import Alert, Escalation, StockLevel, Task


def _dumps(outputs: list[Any]) -> list[dict[str, Any]]:
    return [o.model_dump() for o in outputs]


def test_a_decision_retracted_then_reinstated_numbers_its_copies() -> None:
    # c1 confirmed, discarded an hour later, confirmed again: IV at T0, gone, back.
    confirmed = case(1, T0, event_id="c1-a")
    discarded = case(1, T0 + timedelta(hours=1), cls="discarded", event_id="c1-b")
    again = case(1, T0 + timedelta(hours=2), event_id="c1-c")
    state, first = step(initial_state("5101"), confirmed, RULES)
    state, second = step(decode_state(encode_state(state)), discarded, RULES)  # resumed
    before_third = encode_state(state)
    _, third = step(decode_state(before_third), again, RULES)
    copies = [(e.decision_id, e.tier, e.retracted, e.revision) for e in of(Escalation, first)]
    [(decision_id, tier, _, _)] = copies
    assert tier == "IV"
    for out in (second, third):
        copies += [(e.decision_id, e.tier, e.retracted, e.revision) for e in of(Escalation, out)]
    assert copies == [
        (decision_id, "IV", False, 0),
        (decision_id, "IV", True, 1),
        (decision_id, "IV", False, 2),
    ]

    def plan_tasks(out: list[Any]) -> list[Task]:  # the warning's verification aside
        return [t for t in of(Task, out) if "verify" not in t.action]

    task_copies = [(t.state, t.revision) for out in (first, second, third) for t in plan_tasks(out)]
    issued = len(plan_tasks(first))
    assert issued > 0
    assert (
        task_copies == [("open", 0)] * issued + [("retracted", 1)] * issued + [("open", 2)] * issued
    )
    # A worker that crashed after deciding the third event decides it again from the state
    # saved before it: the same copies, the same revisions.
    _, redone = step(decode_state(before_third), again, RULES)
    assert _dumps(redone) == _dumps(third)


def test_redirect_is_the_same_when_the_bed_count_arrives_after_the_request() -> None:
    beds = [stock("s1", T0, "H-A", "bed.icu", 0), stock("s3", T0, "H-C", "bed.icu", 7)]
    request = transfer("t1", T0 + timedelta(minutes=5), "requested")
    _, in_order = step_many(initial_state("5101"), [*beds, request], RULES)
    _, late_beds = step_many(initial_state("5101"), [request, *reversed(beds)], RULES)
    (alert,) = of(Alert, in_order)
    assert (alert.subject_id, alert.at) == ("TR-1", request.occurred_at)
    assert alert.details["suggested_facility"] == "H-C"
    assert _dumps(of(Alert, late_beds)) == _dumps([alert])


def test_a_later_snapshot_before_the_request_with_free_beds_retracts_the_redirect() -> None:
    events = [
        stock("s1", T0, "H-A", "bed.icu", 0),
        stock("s3", T0, "H-C", "bed.icu", 7),
        transfer("t1", T0 + timedelta(minutes=5), "requested"),
    ]
    state, outputs = step_many(initial_state("5101"), events, RULES)
    (alert,) = of(Alert, outputs)
    # H-A reported 2 free ICU beds at T0 + 1 min, before the request: no redirect then
    _, outputs = step(state, stock("s2", T0 + timedelta(minutes=1), "H-A", "bed.icu", 2), RULES)
    (gone,) = of(Alert, outputs)
    assert gone.model_dump() == {**alert.model_dump(), "retracted": True, "revision": 1}


def test_the_suggestion_is_the_facility_with_most_free_beds_as_of_the_request() -> None:
    events = [
        stock("s1", T0, "H-A", "bed.icu", 0),
        stock("s2", T0, "H-B", "bed.icu", 3),
        stock("s3", T0, "H-C", "bed.icu", 7),
        stock("s4", T0 + timedelta(hours=1), "H-C", "bed.icu", 1),  # after the request
        transfer("t1", T0 + timedelta(minutes=5), "requested"),
    ]
    _, outputs = step_many(initial_state("5101"), events, RULES)
    (alert,) = of(Alert, outputs)
    assert (alert.details["suggested_facility"], alert.details["suggested_free"]) == ("H-C", 7)
    # H-C's snapshot at T0 + 2 min (late) leaves it 1 bed: H-B (3) is the suggestion now
    state, _ = step_many(initial_state("5101"), events, RULES)
    _, outputs = step(state, stock("s5", T0 + timedelta(minutes=2), "H-C", "bed.icu", 1), RULES)
    gone, new = of(Alert, outputs)
    assert (gone.retracted, gone.alert_id) == (True, alert.alert_id)
    assert (new.retracted, new.details["suggested_facility"]) == (False, "H-B")


def test_a_late_case_that_moves_tier_two_earlier_retracts_the_old_decision_and_tasks() -> None:
    # 29 cases 5 h apart (the last at 140 h) and one at 150 h: the 30th in 7 days → II at 150 h
    cases = [case(k, T0 + timedelta(hours=5 * k)) for k in range(29)]
    at_150 = case(150, T0 + timedelta(hours=150))
    state, outputs = step_many(initial_state("5101"), [*cases, at_150], RULES)
    (old,) = [e for e in of(Escalation, outputs) if e.tier == "II"]
    old_tasks = [t for t in of(Task, outputs) if t.tier == "II"]
    assert old.effective_at == at_150.occurred_at and len(old_tasks) == 4
    # a case at 145 h reported late: 30 cases in (145 h - 7 d, 145 h] → II at 145 h
    late = case(145, T0 + timedelta(hours=145))
    state, outputs = step(state, late, RULES)
    assert [(e.tier, e.effective_at) for e in tier_timeline(state)][-1] == ("II", late.occurred_at)
    retracted = [e for e in of(Escalation, outputs) if e.retracted]
    assert [e.model_dump() for e in retracted] == [
        {**old.model_dump(), "retracted": True, "revision": 1}
    ]
    (new,) = [e for e in of(Escalation, outputs) if not e.retracted]
    assert (new.tier, new.previous_tier, new.effective_at) == ("II", "III", late.occurred_at)
    gone = {t.task_id: t.state for t in of(Task, outputs) if t.state == "retracted"}
    assert gone == {t.task_id: "retracted" for t in old_tasks}
    issued = [t for t in of(Task, outputs) if t.state != "retracted"]
    assert {t.issued_at for t in issued} == {late.occurred_at} and len(issued) == 4
    # the watermark (150 h) is past every due time already (145 h + at most 4 h)
    assert {t.state for t in issued} == {"overdue"}


def test_an_agency_report_older_than_the_warning_retracts_the_warning() -> None:
    events = [
        case(1, T0, disease="measles", facility="H1"),
        case(2, T0 + timedelta(hours=3), disease="measles", facility="H2"),
    ]
    state, outputs = step_many(initial_state("5101"), events, RULES)
    (warning,) = of(Alert, outputs)
    declared = incident(
        "d1",
        T0 + timedelta(hours=1),  # before the second facility's case: no warning was due
        incident_id="MEASLES-1",
        category="infectious_disease",
        disease="measles",
    )
    _, outputs = step(state, declared, RULES)
    assert _dumps(of(Alert, outputs)) == [
        {**warning.model_dump(), "retracted": True, "revision": 1}
    ]
    _, direct = step_many(initial_state("5101"), [declared, *events], RULES)
    assert of(Alert, direct) == []


def test_a_late_arrival_within_the_eta_retracts_transfer_delayed() -> None:
    eta = T0 + timedelta(minutes=40)
    state, outputs = step_many(
        initial_state("5101"),
        [transfer("t1", T0, "en_route", eta=eta), tick(eta + timedelta(minutes=20))],
        RULES,
    )
    (delayed,) = of(Alert, outputs)
    assert (delayed.alert_kind, delayed.at) == ("transfer_delayed", eta)
    _, outputs = step(state, transfer("t2", eta - timedelta(minutes=1), "arrived"), RULES)
    assert _dumps(of(Alert, outputs)) == [
        {**delayed.model_dump(), "retracted": True, "revision": 1}
    ]


def test_a_late_ack_within_the_due_time_retracts_task_overdue() -> None:
    report = incident("r1", T0, casualties={"total": 52, "critical": 6})
    state, outputs = step_many(
        initial_state("5101"), [report, tick(T0 + timedelta(hours=3))], RULES
    )
    command = next(t for t in of(Task, outputs) if t.agency_type == "emergency")
    overdue = next(a for a in of(Alert, outputs) if a.subject_id == command.task_id)
    ack = incident("ack1", T0 + timedelta(minutes=50), msg_type="Ack", ack_task_id=command.task_id)
    _, outputs = step(state, ack, RULES)
    assert [(t.task_id, t.state) for t in of(Task, outputs)] == [(command.task_id, "acked")]
    assert _dumps(of(Alert, outputs)) == [
        {**overdue.model_dump(), "retracted": True, "revision": 1}
    ]


def test_a_late_snapshot_moves_the_stock_alert_to_when_the_level_was_reached() -> None:
    # gowns 1200 → 1000 a day later: 200/day, 5 days of cover: red at day 1
    day = timedelta(days=1)
    state, outputs = step_many(
        initial_state("5101"),
        [stock("p1", T0, "H-A", "ppe.gown", 1200), stock("p3", T0 + day, "H-A", "ppe.gown", 1000)],
        RULES,
    )
    (red,) = of(Alert, outputs)
    assert (red.level, red.at) == ("red", T0 + day)
    # a noon snapshot (late): 1100 with 100 received, so 1200 + 100 - 1100 = 200 used in
    # half a day (400/day, 2.75 days: red at noon), then 100 more by day 1 (300/day)
    noon = T0 + day / 2
    late = stock("p2", noon, "H-A", "ppe.gown", 1100, received=100)
    _, outputs = step(state, late, RULES)
    alerts = sorted(of(Alert, outputs), key=lambda a: a.at)
    assert [(a.at, a.level, a.retracted) for a in alerts] == [
        (noon, "red", False),
        (T0 + day, "red", True),  # still red at day 1, but no longer a change of level
    ]
    assert alerts[0].details["days_of_cover"] == pytest.approx(2.75)
    levels = {s.at: s.burn_rate_per_day for s in of(StockLevel, outputs)}
    assert levels == {noon: pytest.approx(400.0), T0 + day: pytest.approx(300.0)}
