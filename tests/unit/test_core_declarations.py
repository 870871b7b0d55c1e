"""Recommended and declared tiers, worked out by hand from the default rulebook:
mass-casualty II at >= 50 casualties with > 5 dead or critical; ``authority``: emergency
declares, joint assessment due in 2 h, a declaration may lag 12 h; II's plan is four tasks
(emergency's due in 1 h)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from pydantic import ValidationError

from streams.core import (
    auto_declared,
    decode_state,
    default_rulebook,
    encode_state,
    initial_state,
    state_fingerprint,
    step_many,
)
from streams.core.declared import DeclaredChange, decision_lag, declared_changes
from topics.models import IncidentEvent
from topics.outputs import Alert, Escalation, IncidentState, Task, Tick

CST = timezone(timedelta(hours=8))
T0 = datetime(2026, 3, 1, 8, 0, tzinfo=CST)
H = timedelta(hours=1)
RULES = default_rulebook()
EMERGENCY = {"agency_id": "em-5101", "agency_type": "emergency"}
POLICE = {"agency_id": "ps-5101", "agency_type": "public_security"}
ASSESS = "joint assessment (会商研判) of the recommended tier"


def pileup(at: datetime = T0) -> IncidentEvent:
    """52 casualties, 6 critical: mass-casualty II at ``at``."""
    return IncidentEvent(
        event_id="r1",
        kind="incident",
        occurred_at=at,
        reported_at=at,
        region="510104",
        source=EMERGENCY,
        incident_id="INC-1",
        category="mass_casualty",
        casualties={"total": 52, "dead": 0, "critical": 6},
    )


def declare(
    event_id: str, at: datetime, tier: str, source: dict[str, str] = EMERGENCY, **extra: Any
) -> IncidentEvent:
    return IncidentEvent(
        event_id=event_id,
        kind="incident",
        msg_type="Update",
        occurred_at=at,
        reported_at=at,
        region="510104",
        source=source,
        incident_id="INC-1",
        category="mass_casualty",
        declared_tier=tier,
        reason=extra.pop("reason", f"leading group declares {tier}"),
        **extra,
    )


def tick(at: datetime) -> Tick:
    return Tick(event_id=f"tick-{at.isoformat()}", tick_at=at)


def of(kind: type, outputs: list[Any], **match: Any) -> list[Any]:
    return [
        o
        for o in outputs
        if isinstance(o, kind) and all(getattr(o, k) == v for k, v in match.items())
    ]


def last_state(outputs: list[Any]) -> IncidentState:
    return of(IncidentState, outputs)[-1]


def test_a_recommendation_asks_the_command_agency_to_assess_and_issues_no_plan_task() -> None:
    _, out = step_many(initial_state("5101"), [pileup()], RULES)
    (esc,) = of(Escalation, out)
    assert (esc.basis, esc.tier, esc.effective_at, esc.rule_ids) == (
        "recommended",
        "II",
        T0,
        ("mass-casualty-II",),
    )
    (rec,) = of(Alert, out, alert_kind="tier_recommended")
    assert (rec.at, rec.details["tier"], rec.details["rule_ids"]) == (
        T0,
        "II",
        ["mass-casualty-II"],
    )
    (task,) = of(Task, out)
    assert (task.agency_type, task.action, task.due_at, task.tier) == (
        "emergency",
        ASSESS,
        T0 + 2 * H,
        "II",
    )
    state = last_state(out)
    assert (state.tier, state.declared_tier, state.decision_lag_s) == ("II", None, None)


def test_a_declaration_issues_the_plan_of_the_declared_tier_and_its_lag() -> None:
    events = [pileup(), declare("d1", T0 + 45 * timedelta(minutes=1), "II")]
    _, out = step_many(initial_state("5101"), events, RULES)
    (decl,) = of(Escalation, out, basis="declared")
    assert (decl.tier, decl.previous_tier, decl.effective_at, decl.declared_by) == (
        "II",
        None,
        T0 + 45 * timedelta(minutes=1),
        "em-5101",
    )
    assert decl.reason == "leading group declares II" and decl.rule_ids == ()
    plan = [t for t in of(Task, out) if t.action != ASSESS]
    assert sorted(t.agency_type for t in plan) == [
        "emergency",
        "health",
        "public_security",
        "transport",
    ]
    assert {t.issued_at for t in plan} == {T0 + 45 * timedelta(minutes=1)}
    (command,) = [t for t in plan if t.agency_type == "emergency"]
    assert command.due_at == T0 + 105 * timedelta(minutes=1)  # 45 min + 1 h
    state = last_state(out)
    assert (state.tier, state.declared_tier, state.declared_by) == ("II", "II", "em-5101")
    assert state.decision_lag_s == 45 * 60


def test_a_declaration_arriving_first_decides_the_same() -> None:
    events = [pileup(), declare("d1", T0 + H, "II"), tick(T0 + 3 * H)]
    a, out_a = step_many(initial_state("5101"), events, RULES)
    b, out_b = step_many(initial_state("5101"), events[::-1], RULES)
    assert state_fingerprint(a) == state_fingerprint(b)
    assert last_state(out_a).model_dump(exclude={"version"}) == last_state(out_b).model_dump(
        exclude={"version"}
    )

    def final(out: list[Any]) -> set[str]:
        latest = {t.task_id: t for t in of(Task, out)}
        return {f"{t.agency_type}/{t.state}" for t in latest.values() if t.state != "retracted"}

    # the assessment was due at T0+2h and never acked: overdue in both orders
    assert final(out_a) == final(out_b)
    assert "emergency/overdue" in final(out_a)


def test_declared_below_recommended_for_12_h_is_overdue_until_a_late_declaration() -> None:
    # recommended II at T0; declared III (lower) at T0+1h: the gap runs from T0
    events = [pileup(), declare("d1", T0 + H, "III")]
    state, out = step_many(initial_state("5101"), events, RULES)
    state, out = step_many(state, [tick(T0 + 12 * H)], RULES)
    assert of(Alert, out, alert_kind="declaration_overdue") == []  # due at T0+12h, not past it
    state, out = step_many(state, [tick(T0 + 12 * H + timedelta(seconds=1))], RULES)
    (late,) = of(Alert, out, alert_kind="declaration_overdue")
    assert (late.at, late.retracted) == (T0 + 12 * H, False)
    assert (late.details["recommended_tier"], late.details["declared_tier"]) == ("II", "III")
    # a declaration of II at T0+11h, reported late, closes the gap within the limit
    state, out = step_many(state, [declare("d2", T0 + 11 * H, "II")], RULES)
    (gone,) = of(Alert, out, alert_kind="declaration_overdue")
    assert (gone.alert_id, gone.retracted) == (late.alert_id, True)
    assert last_state(out).decision_lag_s == 11 * 3600


def test_no_declaration_at_all_is_overdue_at_the_limit() -> None:
    _, out = step_many(initial_state("5101"), [pileup(), tick(T0 + 13 * H)], RULES)
    (late,) = of(Alert, out, alert_kind="declaration_overdue")
    assert late.at == T0 + 12 * H and late.details["declared_tier"] is None


def test_a_declaration_from_an_agency_without_authority_is_rejected_once() -> None:
    bad = declare("p1", T0 + H, "I", source=POLICE)
    state, out = step_many(initial_state("5101"), [pileup(), bad, bad], RULES)
    (rej,) = of(Alert, out, alert_kind="declaration_rejected")
    assert "ps-5101 (public_security) may not declare tier I" in rej.message
    assert "emergency" in rej.message
    assert of(Escalation, out, basis="declared") == []
    assert last_state(out).declared_tier is None
    assert state.namespaces["Actual"].tracks["i:INC-1"].decls == []


def test_standing_down_by_declaration_issues_the_stand_down_plan() -> None:
    events = [pileup(), declare("d1", T0 + H, "II"), declare("d2", T0 + 30 * H, "none")]
    _, out = step_many(initial_state("5101"), events, RULES)
    down = of(Escalation, out, basis="declared")[-1]
    assert (down.tier, down.previous_tier) == (None, "II")
    (stand,) = [t for t in of(Task, out) if t.issued_at == T0 + 30 * H]
    assert (stand.agency_type, stand.action) == (
        "emergency",
        "stand down and file after-action review",
    )
    assert last_state(out).declared_tier is None


def test_auto_declare_keeps_the_plan_on_the_recommendation() -> None:
    _, out = step_many(initial_state("5101"), [pileup()], auto_declared(RULES))
    assert sorted(t.agency_type for t in of(Task, out)) == [
        "emergency",
        "health",
        "public_security",
        "transport",
    ]
    assert of(Alert, out, alert_kind="tier_recommended") == []
    assert last_state(out).declared_tier == "II"


def test_declared_tier_goes_with_update_only() -> None:
    with pytest.raises(ValidationError, match="declared_tier goes with msg_type Update"):
        IncidentEvent.model_validate(
            {**declare("x", T0, "II").model_dump(mode="json"), "msg_type": "Alert"}
        )


def test_declarations_survive_a_saved_state() -> None:
    state, _ = step_many(initial_state("5101"), [pileup(), declare("d1", T0 + H, "II")], RULES)
    again = decode_state(encode_state(state))
    assert again.namespaces["Actual"].tracks["i:INC-1"].decls == [
        (int((T0 + H).timestamp() * 1_000_000), "d1", 3, "em-5101", "leading group declares II")
    ]
    # a repeated declaration changes nothing
    _, out = step_many(again, [declare("d1", T0 + H, "II")], RULES)
    assert of(Escalation, out) == [] and of(Task, out) == []


def test_decision_lag_is_measured_from_the_recommendation_of_the_declared_tier() -> None:
    # recommended IV at 0, III at 10, II at 20 (hours, as microseconds below)
    line = [(0, 1, (), {}), (10, 2, (), {}), (20, 3, (), {})]
    decls = [(12, "a", 2, "em", ""), (15, "b", 2, "em", ""), (26, "c", 3, "em", "")]
    changes = declared_changes(decls)
    assert changes == [DeclaredChange(0, 12, 2, "em", ""), DeclaredChange(2, 26, 3, "em", "")]
    assert [decision_lag(line, c) for c in changes] == [2, 6]
    # declared I, which the rules never recommended: no lag
    assert decision_lag(line, DeclaredChange(3, 30, 4, "em", "")) is None
