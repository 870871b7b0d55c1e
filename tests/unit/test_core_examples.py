"""Hand-computed examples for the core: every expectation below is worked out by hand from
the default rulebook's thresholds (DESIGN.md section 4), not by re-running the code."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from streams.core import (
    decode_state,
    encode_state,
    initial_state,
    parse_rulebook,
    step,
    step_many,
    tier_timeline,
)
from streams.core.ids import TIERFLOW_NS, content_id
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
from topics.models import CaseEvent
from topics.outputs import Alert, Escalation, IncidentState, StockLevel, Task


@pytest.mark.parametrize(
    "parts", [("a",), ("task", "INC-1", "II", 1_772_000_000, 0.5), ("中文", None)]
)
def test_content_id_is_uuid5_of_the_joined_parts(parts: tuple[object, ...]) -> None:
    name = "|".join(str(p) for p in parts)
    assert content_id(*parts) == str(uuid.uuid5(TIERFLOW_NS, name))


def test_thirtieth_cholera_case_in_a_week_is_tier_two_at_its_occurred_at() -> None:
    # 30 confirmed cases 5 h apart: case k at T0 + 5k h, all within 145 h < 7 days.
    cases = [case(k, T0 + timedelta(hours=5 * k)) for k in range(30)]
    state, outputs = step_many(initial_state("5101"), cases, RULES)
    line = tier_timeline(state)
    assert [(e.tier, e.effective_at) for e in line] == [
        ("IV", cases[0].occurred_at),  # >= 1 a week
        ("III", cases[9].occurred_at),  # the 10th case
        ("II", cases[29].occurred_at),  # the 30th case
    ]
    assert line[-1].rule_ids == ("cholera-week-II",)
    assert line[-1].evidence == {"confirmed.city.7d": 30.0}
    assert [e.tier for e in of(Escalation, outputs)] == ["IV", "III", "II"]


def test_thirty_cases_spread_over_more_than_a_week_stay_tier_three() -> None:
    # 6 h apart: 30 cases span 174 h > 168 h, so at most 29 fall in any 7-day window.
    cases = [case(k, T0 + timedelta(hours=6 * k)) for k in range(30)]
    state, _ = step_many(initial_state("5101"), cases, RULES)
    assert [e.tier for e in tier_timeline(state)] == ["IV", "III"]


def test_road_accident_with_52_casualties_and_6_critical_is_tier_two() -> None:
    report = incident(
        "r1", T0, category="mass_casualty", casualties={"total": 52, "dead": 0, "critical": 6}
    )
    state, outputs = step(initial_state("5101"), report, RULES)
    (entry,) = tier_timeline(state)
    assert (entry.incident_id, entry.tier, entry.effective_at) == ("INC-1", "II", T0)
    assert entry.rule_ids == ("mass-casualty-II",)
    assert entry.evidence == {"casualties": 52.0, "dead_or_critical": 6.0}
    # II's plan: four agencies, the joint command due within 1 h
    tasks = of(Task, outputs)
    assert sorted(t.agency_type for t in tasks) == [
        "emergency",
        "health",
        "public_security",
        "transport",
    ]
    command = next(t for t in tasks if t.agency_type == "emergency")
    assert command.due_at == T0 + timedelta(hours=1)
    assert of(IncidentState, outputs)[-1].tier == "II"


@pytest.mark.parametrize(
    ("total", "dead", "critical", "tier"),
    [(52, 0, 5, "III"), (49, 2, 2, "III"), (30, 0, 3, "IV"), (100, 0, 0, "I"), (9, 5, 5, None)],
)
def test_mass_casualty_bands(total: int, dead: int, critical: int, tier: str | None) -> None:
    # 52 with 5 dead/critical misses II (>5) but is III (30-49 band's ">3" also holds above 49)
    report = incident("r1", T0, casualties={"total": total, "dead": dead, "critical": critical})
    state, _ = step(initial_state("5101"), report, RULES)
    assert [e.tier for e in tier_timeline(state)] == ([tier] if tier else [])


def test_no_free_icu_bed_redirects_to_the_facility_with_most_free_icu_beds() -> None:
    beds = [
        stock("s1", T0, "H-A", "bed.icu", 0),
        stock("s2", T0, "H-B", "bed.icu", 3),
        stock("s3", T0, "H-C", "bed.icu", 7),
        stock("s4", T0, "H-D", "bed.icu", 7),
        stock("s5", T0, "H-E", "bed.general", 40),
    ]
    state, _ = step_many(initial_state("5101"), beds, RULES)
    state, outputs = step(state, transfer("t1", T0 + timedelta(minutes=5), "requested"), RULES)
    (alert,) = of(Alert, outputs)
    assert alert.alert_kind == "capacity_redirect"
    assert alert.details["suggested_facility"] == "H-C"  # 7 free, tie with H-D: smallest id
    assert alert.details["suggested_free"] == 7
    # repeated report: no second alert
    _, again = step(state, transfer("t2", T0 + timedelta(minutes=6), "dispatched"), RULES)
    assert of(Alert, again) == []


def test_ppe_at_five_days_of_cover_raises_the_red_stock_alert() -> None:
    # 1200 gowns, a day later 1000 with nothing received: burn 200/day, cover 1000/200 = 5 d
    day1 = T0 + timedelta(days=1)
    snapshots = [
        stock("p1", T0, "H-A", "ppe.gown", 1200),
        stock("p2", day1, "H-A", "ppe.gown", 1000),
    ]
    _, outputs = step_many(initial_state("5101"), snapshots, RULES)
    levels = of(StockLevel, outputs)
    assert levels[0].burn_rate_per_day is None
    assert levels[1].burn_rate_per_day == pytest.approx(200.0)
    assert levels[1].days_of_cover == pytest.approx(5.0)
    (alert,) = of(Alert, outputs)
    assert (alert.alert_kind, alert.level, alert.subject_id) == ("stock_low", "red", "H-A/ppe.gown")


def test_burn_rate_counts_receipts() -> None:
    # 1000 → (received 500) 1300 in 2 days: consumption 1000 + 500 - 1300 = 200, 100/day
    snapshots = [
        stock("p1", T0, "H-A", "ppe.n95", 1000),
        stock("p2", T0 + timedelta(days=2), "H-A", "ppe.n95", 1300, received=500),
    ]
    _, outputs = step_many(initial_state("5101"), snapshots, RULES)
    last = of(StockLevel, outputs)[-1]
    assert last.burn_rate_per_day == pytest.approx(100.0)
    assert last.days_of_cover == pytest.approx(13.0)
    assert of(Alert, outputs)[0].level == "orange"  # 7 <= 13 < 14


def _plague_outbreak() -> tuple[list[CaseEvent], datetime]:
    # 5 pneumonic plague cases in county 510104 within 2 days: Tier II (>= 5 per county)
    cases = [case(k, T0 + timedelta(hours=12 * k), disease="plague_pneumonic") for k in range(5)]
    return cases, cases[-1].occurred_at


def test_deescalation_happens_when_the_quiet_period_has_passed_and_not_a_tick_earlier() -> None:
    cases, last = _plague_outbreak()
    quiet_end = last + timedelta(days=3)  # pneumonic plague: max incubation 3 days
    state, _ = step_many(initial_state("5101"), cases, RULES)
    assert tier_timeline(state)[-1].tier == "II"
    almost = quiet_end - timedelta(microseconds=1)
    state, outputs = step(state, tick(almost), RULES)
    assert tier_timeline(state)[-1].tier == "II"
    assert of(Escalation, outputs) == []
    state, outputs = step(state, tick(quiet_end), RULES)
    (down,) = of(Escalation, outputs)
    assert (down.tier, down.previous_tier, down.effective_at) == (None, "II", quiet_end)
    assert down.evidence["quiet_days"] == 3.0
    assert tier_timeline(state)[-1].effective_at == quiet_end


def test_a_late_case_inside_the_quiet_period_cancels_the_deescalation() -> None:
    cases, last = _plague_outbreak()
    state, _ = step_many(initial_state("5101"), [*cases, tick(last + timedelta(days=4))], RULES)
    assert tier_timeline(state)[-1].tier is None
    late = case(99, last + timedelta(days=2), disease="plague_pneumonic")
    state, _ = step(state, late, RULES)
    # the stand-down at last + 3 d is retracted: a case came within the quiet period; the
    # window (late - 3 d, late] holds 3 cases (III) but the tier only drops 3 d after it
    assert [(e.tier, e.effective_at) for e in tier_timeline(state)] == [
        ("III", cases[0].occurred_at),
        ("II", cases[4].occurred_at),
    ]
    state, _ = step(state, tick(late.occurred_at + timedelta(days=3)), RULES)
    assert tier_timeline(state)[-1][1:3] == (late.occurred_at + timedelta(days=3), None)


def test_tasks_are_acked_and_unacked_ones_go_overdue() -> None:
    report = incident("r1", T0, casualties={"total": 52, "critical": 6})
    state, outputs = step(initial_state("5101"), report, RULES)
    tasks = {t.agency_type: t for t in of(Task, outputs)}
    ack = incident(
        "ack1", T0 + timedelta(minutes=30), msg_type="Ack", ack_task_id=tasks["emergency"].task_id
    )
    state, outputs = step(state, ack, RULES)
    (acked,) = of(Task, outputs)
    assert (acked.state, acked.acked_at) == ("acked", T0 + timedelta(minutes=30))
    # 2 h 1 min later: health and public_security (due 2 h) are overdue, transport (4 h) not
    state, outputs = step(state, tick(T0 + timedelta(hours=2, minutes=1)), RULES)
    overdue = sorted(a.details["agency_type"] for a in of(Alert, outputs))
    assert overdue == ["health", "public_security"]
    assert all(a.alert_kind == "task_overdue" for a in of(Alert, outputs))
    _, outputs = step(state, tick(T0 + timedelta(hours=3), 1), RULES)
    assert of(Alert, outputs) == []  # not twice


def test_reporting_late_over_two_hours() -> None:
    late = case(1, T0, reported_at=T0 + timedelta(hours=2, minutes=1))
    on_time = case(2, T0, reported_at=T0 + timedelta(hours=2))
    _, outputs = step_many(initial_state("5101"), [late, on_time], RULES)
    alerts = [a for a in of(Alert, outputs) if a.alert_kind == "reporting_late"]
    assert [a.subject_id for a in alerts] == [late.event_id]


def test_transfer_delayed_once_its_eta_passes_before_arrival() -> None:
    eta = T0 + timedelta(minutes=40)
    state, _ = step(initial_state("5101"), transfer("t1", T0, "en_route", eta=eta), RULES)
    state, outputs = step(state, tick(eta), RULES)
    assert of(Alert, outputs) == []  # at eta is not past it
    state, outputs = step(state, tick(eta + timedelta(seconds=1)), RULES)
    assert [a.alert_kind for a in of(Alert, outputs)] == ["transfer_delayed"]


def test_transfer_arrived_on_time_is_not_delayed() -> None:
    eta = T0 + timedelta(minutes=40)
    events = [
        transfer("t1", T0, "en_route", eta=eta),
        transfer("t2", eta - timedelta(minutes=1), "arrived"),
        tick(eta + timedelta(hours=1)),
    ]
    _, outputs = step_many(initial_state("5101"), events, RULES)
    assert of(Alert, outputs) == []


def test_measles_from_two_facilities_opens_a_warning_incident_before_any_declaration() -> None:
    events = [
        case(1, T0, disease="measles", facility="H1"),
        case(2, T0 + timedelta(hours=3), disease="measles", facility="H2"),
    ]
    state, outputs = step_many(initial_state("5101"), events, RULES)
    (alert,) = of(Alert, outputs)
    assert (alert.alert_kind, alert.at) == ("warning_opened", events[1].occurred_at)
    (inc,) = of(IncidentState, outputs)
    assert inc.warning and inc.tier is None and inc.disease == "measles"
    warning_id = inc.incident_id
    # the id is deterministic: the same events elsewhere give the same id
    again = step_many(initial_state("5101"), list(reversed(events)), RULES)[1]
    assert of(IncidentState, again)[0].incident_id == warning_id
    # an agency declares it: the incident takes the agency's id, warning off
    declared = incident(
        "d1",
        T0 + timedelta(hours=5),
        incident_id="MEASLES-1",
        category="infectious_disease",
        disease="measles",
    )
    _, outputs = step(state, declared, RULES)
    merged, inc = of(IncidentState, outputs)
    assert (inc.incident_id, inc.warning, inc.merged_into) == ("MEASLES-1", False, None)
    # the warning's row is closed, naming its successor, with a higher version than before
    assert (merged.incident_id, merged.phase, merged.merged_into) == (
        warning_id,
        "closed",
        "MEASLES-1",
    )
    assert of(IncidentState, again)[0].version < merged.version < inc.version


def test_cases_without_incident_id_join_the_declared_incident_of_their_disease() -> None:
    declared = incident(
        "d1", T0, incident_id="CHOLERA-7", category="infectious_disease", disease="cholera"
    )
    state, _ = step_many(
        initial_state("5101"),
        [declared, *[case(k, T0 + timedelta(hours=k)) for k in range(10)]],
        RULES,
    )
    assert {e.incident_id for e in tier_timeline(state)} == {"CHOLERA-7"}
    assert [e.tier for e in tier_timeline(state)] == ["IV", "III"]


def test_discarded_case_stops_counting() -> None:
    cases = [case(k, T0 + timedelta(hours=k)) for k in range(10)]
    state, _ = step_many(initial_state("5101"), cases, RULES)
    assert tier_timeline(state)[-1].tier == "III"
    discard = case(9, T0 + timedelta(days=1), cls="discarded")
    state, _ = step(state, discard, RULES)
    # 9 cases remain: the III entry (made by the 10th case) is gone, IV stays
    assert [e.tier for e in tier_timeline(state)] == ["IV"]


def test_exercise_events_never_touch_actual_state() -> None:
    drill = [case(k, T0 + timedelta(hours=k), status="Exercise") for k in range(12)]
    real = [case(100, T0)]
    state, outputs = step_many(initial_state("5101"), [*real, *drill], RULES)
    assert [e.tier for e in tier_timeline(state)] == ["IV"]
    assert [e.tier for e in tier_timeline(state, "Exercise")] == ["IV", "III"]
    assert {o.status for o in of(Escalation, outputs) if o.tier == "III"} == {"Exercise"}


def test_state_survives_encode_and_decode() -> None:
    cases, last = _plague_outbreak()
    state, _ = step_many(initial_state("5101"), cases[:3], RULES)
    resumed = decode_state(encode_state(state))
    assert encode_state(resumed) == encode_state(state)
    direct, _ = step_many(state, [*cases[3:], tick(last + timedelta(days=5))], RULES)
    via, _ = step_many(resumed, [*cases[3:], tick(last + timedelta(days=5))], RULES)
    assert tier_timeline(via) == tier_timeline(direct)
    assert encode_state(via) == encode_state(direct)


def test_step_leaves_the_input_state_untouched() -> None:
    state, _ = step_many(
        initial_state("5101"), [case(k, T0 + timedelta(hours=k)) for k in range(5)], RULES
    )
    before = encode_state(state)
    step_many(state, [case(k, T0 + timedelta(hours=k)) for k in range(5, 40)], RULES)
    assert encode_state(state) == before


WITH_BASELINES = parse_rulebook(
    (Path(__file__).resolve().parents[2] / "streams/rulebooks/default.yaml")
    .read_text(encoding="utf-8")
    .replace("baselines: {}", 'baselines: {measles: {"510104": 1.5, "510105": 2.0}}')
)


def test_baseline_rules_compare_each_county_with_its_weekly_average() -> None:
    # Measles has no count rule of its own: only the 5-year averages decide. 510104: 1.5 a
    # week, 510105: 2.0, 510106: none configured (five cases there never count).
    # III (count/average >= 1 in one county): 510104's 2nd case, T0 + 1 d (2 / 1.5).
    # II (>= 2 counties at twice the average within 7 days): 510104 needs 3 cases (T0 + 2 d),
    # 510105 needs 4 (T0 + 2 d + 4 h) -> II at T0 + 2 d + 4 h. Quiet period 21 d after
    # the last case (T0 + 2 d + 4 h), by when every count is 0: stood down at T0 + 23 d + 4 h.
    h, d = timedelta(hours=1), timedelta(days=1)
    events = [
        *(case(k, T0 + k * h, disease="measles", region="510106") for k in range(5)),
        *(case(10 + k, T0 + k * d, disease="measles", region="510104") for k in range(3)),
        *(
            case(20 + k, T0 + 2 * d + (k + 1) * h, disease="measles", region="510105")
            for k in range(4)
        ),
        tick(T0 + 30 * d),
    ]
    state, _ = step_many(initial_state("5101"), events, WITH_BASELINES)
    line = tier_timeline(state)
    assert [(e.tier, e.effective_at) for e in line] == [
        ("III", T0 + d),
        ("II", T0 + 2 * d + 4 * h),
        (None, T0 + 23 * d + 4 * h),
    ]
    assert line[0].rule_ids == ("bc-baseline-county-III",)
    assert line[0].evidence == {"baseline_ratio.7d": 2 / 1.5}
    assert line[1].rule_ids == ("bc-baseline-counties-II",)
    assert line[1].evidence["baseline_counties.x2.7d"] == 2.0
    # without figures the same events decide nothing
    bare, _ = step_many(initial_state("5101"), events, RULES)
    assert tier_timeline(bare) == ()


def test_a_report_without_casualties_keeps_the_figures() -> None:
    figures = incident("r1", T0, casualties={"total": 52, "critical": 6})
    notice = incident("r2", T0 + timedelta(minutes=30), headline="green corridor open")
    state, _ = step_many(initial_state("5101"), [notice, figures], RULES)
    assert [(e.tier, e.effective_at) for e in tier_timeline(state)] == [("II", T0)]
