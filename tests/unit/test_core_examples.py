"""Hand-computed examples for the core: every expectation below is worked out by hand from
the default rulebook's thresholds (DESIGN.md section 4), not by re-running the code."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from streams.core import (
    NATION,
    auto_declared,
    decode_state,
    default_rulebook,
    encode_state,
    fold,
    initial_rollup,
    initial_state,
    parse_rulebook,
    rollup_step,
    rollup_timeline,
    step,
    step_many,
    tier_timeline,
)
from streams.core.ids import TIERFLOW_NS, content_id
from topics.models import (
    Alert,
    CaseEvent,
    Escalation,
    IncidentEvent,
    IncidentState,
    StockEvent,
    StockLevel,
    Task,
    Tick,
    TransferEvent,
)

CST = timezone(timedelta(hours=8))
T0 = datetime(2026, 3, 1, 8, 0, tzinfo=CST)
# auto_declare: the plan's tasks on the recommendation, so these examples pin the rules and
# the plan together (declarations by people: tests/unit/test_core_declarations.py)
RULES = auto_declared(default_rulebook())
HEALTH = {"agency_id": "cdc-510104", "agency_type": "health"}
EMERGENCY = {"agency_id": "em-5101", "agency_type": "emergency"}


def case(
    n: int,
    at: datetime,
    *,
    disease: str = "cholera",
    cls: str = "confirmed",
    facility: str = "H1",
    region: str = "510104",
    status: str = "Actual",
    **extra: Any,
) -> CaseEvent:
    return CaseEvent(
        event_id=extra.pop("event_id", f"case-{disease}-{n}-{cls}-{status}"),
        kind="case",
        status=status,
        source=HEALTH,
        occurred_at=at,
        reported_at=extra.pop("reported_at", at),
        region=region,
        case_id=f"{disease}-{n}",
        patient_ref=f"p{n}",
        disease=disease,
        classification=cls,
        facility_id=facility,
        **extra,
    )


def incident(
    event_id: str,
    at: datetime,
    incident_id: str = "INC-1",
    **extra: Any,
) -> IncidentEvent:
    fields: dict[str, Any] = {
        "category": "mass_casualty",
        "region": "510104",
        "source": EMERGENCY,
        **extra,
    }
    return IncidentEvent(
        event_id=event_id,
        kind="incident",
        occurred_at=at,
        reported_at=at,
        incident_id=incident_id,
        **fields,
    )


def stock(
    event_id: str,
    at: datetime,
    site: str,
    item: str,
    on_hand: float,
    *,
    received: float | None = None,
    region: str = "510104",
) -> StockEvent:
    return StockEvent(
        event_id=event_id,
        kind="stock",
        source=HEALTH,
        occurred_at=at,
        reported_at=at,
        region=region,
        site_id=site,
        site_type="hospital",
        item=item,
        on_hand=on_hand,
        received=received,
    )


def transfer(
    event_id: str,
    at: datetime,
    state: str,
    *,
    to: str = "H-A",
    bed: str = "icu",
    eta: datetime | None = None,
) -> TransferEvent:
    return TransferEvent(
        event_id=event_id,
        kind="transfer",
        source=HEALTH,
        occurred_at=at,
        reported_at=at,
        region="510104",
        transfer_id="TR-1",
        patient_ref="p1",
        from_facility="H-field",
        to_facility=to,
        required_bed=bed,
        transfer_status=state,
        eta=eta,
    )  # type: ignore[arg-type]


def tick(at: datetime, n: int = 0) -> Tick:
    return Tick(event_id=f"tick-{at.isoformat()}-{n}", tick_at=at)


def of(kind: type, outputs: list[Any]) -> list[Any]:
    return [o for o in outputs if isinstance(o, kind)]


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


def test_fold_groups_by_city_and_rollup_sees_spread_to_two_cities() -> None:
    chengdu = [case(k, T0 + timedelta(hours=k)) for k in range(3)]
    mianyang = [case(k, T0 + timedelta(hours=k + 10), region="510703") for k in (10, 11)]
    states, outputs = fold([*chengdu, *mianyang], RULES)
    assert sorted(states) == ["5101", "5107"]
    province = initial_rollup("51")
    escalations = []
    for snapshot in of(IncidentState, outputs):
        province, out = rollup_step(province, snapshot, RULES)
        escalations += of(Escalation, out)
    (spread,) = escalations
    # II from the moment the second city (Mianyang, first case at T0 + 20 h) had a tier
    assert (spread.tier, spread.effective_at) == ("II", T0 + timedelta(hours=20))
    assert spread.rule_ids == ("cholera-cities-II",)
    assert [row[3] for row in rollup_timeline(province)] == ["II"]


def test_national_rollup_declares_tier_I_when_pneumonic_plague_reaches_a_second_province() -> None:
    # One confirmed pneumonic plague case is Tier III in its county (pneumonic-county-III):
    # Chengdu (Sichuan, 51) at T0, Kunming (Yunnan, 53) at T0 + 5 h. The national stage
    # counts provinces: two from T0 + 5 h, so Tier I (pneumonic-provinces-I) then.
    chengdu = case(1, T0, disease="plague_pneumonic")
    kunming = case(2, T0 + timedelta(hours=5), disease="plague_pneumonic", region="530102")
    _, outputs = fold([chengdu, kunming], RULES)
    nation, provinces = initial_rollup(NATION), {"51": initial_rollup("51")}
    decided: list[Any] = []
    for snapshot in of(IncidentState, outputs):
        nation, out = rollup_step(nation, snapshot, RULES)
        decided += out
        area = snapshot.jurisdiction[:2]
        provinces[area], out = rollup_step(
            provinces.get(area, initial_rollup(area)), snapshot, RULES
        )
        assert out == [], "no provincial rule for pneumonic plague: one city per province"
    (spread,) = of(Escalation, decided)
    inc = str(uuid.uuid5(TIERFLOW_NS, "rollup|Actual|nation|plague_pneumonic"))
    at = T0 + timedelta(hours=5)
    assert (spread.incident_id, spread.jurisdiction) == (inc, "nation")
    assert (spread.tier, spread.previous_tier, spread.effective_at) == ("I", None, at)
    assert spread.rule_ids == ("pneumonic-provinces-I",)
    assert spread.evidence == {"provinces": 2.0}
    assert [row[2:] for row in rollup_timeline(nation)] == [(at, "I")]
    # the plan's Tier I tasks, ids as the city stage derives them
    at_us = (at - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)
    tasks = of(Task, decided)
    assert len(tasks) == len(RULES.plan["I"]) > 0
    assert {(t.agency_type, t.action) for t in tasks} == {
        (item.agency, item.action) for item in RULES.plan["I"]
    }
    for task in tasks:
        name = f"task|Actual|{inc}|I|{task.agency_type}|{task.action}|{at_us}"
        assert task.task_id == str(uuid.uuid5(TIERFLOW_NS, name))
        assert (task.jurisdiction, task.tier, task.issued_at) == ("nation", "I", at)


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


# --- alerts from event time, not arrival; retractions ------------------------------


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
