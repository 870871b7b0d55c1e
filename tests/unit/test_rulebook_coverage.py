"""The default rulebook covers the seeds' diseases and poisonings (issue 13 item 3): each
expectation worked out by hand from the bands cited in streams/rulebooks/default.yaml."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from streams.core import default_rulebook, initial_state, parse_rulebook, step_many, tier_timeline
from topics.models import CaseEvent, IncidentEvent
from topics.outputs import Alert

CST = timezone(timedelta(hours=8))
T0 = datetime(2026, 3, 1, 8, 0, tzinfo=CST)
RULES = default_rulebook()
CDC = {"agency_id": "cdc-5101", "agency_type": "health"}


def case(n: int, at: datetime, disease: str, cls: str = "confirmed", **extra: Any) -> CaseEvent:
    return CaseEvent(
        event_id=f"{disease}-{n}",
        kind="case",
        source=CDC,
        occurred_at=at,
        reported_at=at,
        region="510104",
        case_id=f"{disease}-{n}",
        patient_ref=f"p{n}",
        disease=disease,
        classification=cls,
        facility_id="H1",
        **extra,
    )


def poisoning(category: str, total: int, dead: int) -> IncidentEvent:
    return IncidentEvent(
        event_id="p1",
        kind="incident",
        occurred_at=T0,
        reported_at=T0,
        region="510104",
        source={"agency_id": "em-5101", "agency_type": "emergency"},
        incident_id="POI-1",
        category=category,
        casualties={"total": total, "dead": dead, "critical": 0},
    )


@pytest.mark.parametrize("category", ["occupational_poisoning", "chemical_poisoning"])
@pytest.mark.parametrize(
    ("total", "dead", "tier"),
    [
        (8, 0, None),  # fewer than 10 poisoned, nobody dead: below IV
        (12, 0, "IV"),  # 10–99 poisoned, no death
        (5, 2, "IV"),  # 1–2 dead
        (120, 1, "III"),  # >= 100 poisoned and 1 dead
        (20, 3, "III"),  # 3–9 dead
        (120, 2, "II"),  # >= 100 poisoned and 2–9 dead
        (40, 12, "II"),  # 10–29 dead
        (150, 10, "I"),  # >= 100 poisoned and >= 10 dead
        (35, 30, "I"),  # >= 30 dead
    ],
)
def test_poisoning_bands_of_the_2011_plan(category: str, total: int, dead: int, tier: Any) -> None:
    state, _ = step_many(initial_state("5101"), [poisoning(category, total, dead)], RULES)
    assert [e.tier for e in tier_timeline(state)] == ([tier] if tier else [])


def test_ten_ili_cases_in_schools_within_a_week_open_the_ili_warning() -> None:
    # suspected ILI at one hospital, a school setting, 12 h apart: the 10th at T0 + 108 h
    ili = [
        case(n, T0 + timedelta(hours=12 * n), "ili", "suspected", setting="school")
        for n in range(10)
    ]
    _, out = step_many(initial_state("5101"), ili[:9], RULES)
    assert not [a for a in out if isinstance(a, Alert) and a.alert_kind == "warning_opened"]
    _, out = step_many(initial_state("5101"), ili, RULES)
    (warned,) = [a for a in out if isinstance(a, Alert) and a.alert_kind == "warning_opened"]
    assert warned.details["triggers"] == ["ili-institution"]
    assert warned.at == T0 + timedelta(hours=108)


def test_a_new_disease_imported_and_spreading_is_tier_one() -> None:
    first = case(1, T0, "new_imported")
    second = case(2, T0 + timedelta(days=13), "new_imported")  # within its 14 days
    state, out = step_many(initial_state("5101"), [first], RULES)
    assert tier_timeline(state) == ()  # one case: an early warning only
    assert [a.alert_kind for a in out if isinstance(a, Alert)] == ["warning_opened"]
    state, _ = step_many(state, [second], RULES)
    ((tier, at, rules),) = [(e.tier, e.effective_at, e.rule_ids) for e in tier_timeline(state)]
    assert (tier, at, rules) == ("I", second.occurred_at, ("new-disease-spreading-I",))


def test_covid19_and_influenza_count_against_their_baselines() -> None:
    text = (
        Path(__file__).resolve().parents[2] / "streams" / "rulebooks" / "default.yaml"
    ).read_text(encoding="utf-8")
    book = parse_rulebook(
        text.replace(
            "baselines: {}", 'baselines: {covid19: {"510104": 2.0}, influenza: {"510104": 4.0}}'
        )
    )
    assert (
        book.diseases["covid19"].disease_class == "B" and book.diseases["ili"].name == "流感样病例"
    )
    # 2 covid19 cases in a week against a weekly average of 2: ratio 1 -> III
    covid = [case(n, T0 + timedelta(days=n), "covid19") for n in range(2)]
    # 3 influenza cases against 4: ratio 0.75 -> no tier
    flu = [case(n, T0 + timedelta(days=n), "influenza") for n in range(3)]
    state, _ = step_many(initial_state("5101"), covid + flu, book)
    assert [(e.tier, e.effective_at) for e in tier_timeline(state)] == [
        ("III", covid[1].occurred_at)
    ]


def test_a_disease_the_rulebook_does_not_list_opens_an_unknown_disease_warning() -> None:
    mystery = case(1, T0, "mystery_fever", "suspected")
    state, out = step_many(initial_state("5101"), [mystery], RULES)
    (warned,) = [a for a in out if isinstance(a, Alert) and a.alert_kind == "warning_opened"]
    assert (warned.at, warned.details["triggers"]) == (T0, ["unknown_disease"])
    shown = [o for o in out if type(o).__name__ == "IncidentState"][-1]
    assert (shown.category, shown.warning, shown.tier) == ("unknown_cluster", True, None)
    # an agency reports the cluster at T0 + 3 h: unknown-cluster-III ("declared" by a report)
    report = IncidentEvent(
        event_id="u1",
        kind="incident",
        occurred_at=T0 + timedelta(hours=3),
        reported_at=T0 + timedelta(hours=3),
        region="510104",
        source={"agency_id": "cdc-5101", "agency_type": "health"},
        incident_id="UNK-1",
        category="unknown_cluster",
        disease="mystery_fever",
    )
    state, _ = step_many(state, [report], RULES)
    assert [(e.tier, e.rule_ids) for e in tier_timeline(state)] == [
        ("III", ("unknown-cluster-III",))
    ]


def test_within_one_institution_means_one_institution() -> None:
    # ten measles cases in schools within a week (trigger measles-group-institution, >= 10)
    def measles(n: int, school: str | None) -> CaseEvent:
        at = T0 + timedelta(hours=6 * n)
        return case(n, at, "measles", "suspected", setting="school", institution_id=school)

    def opened(cases: list[CaseEvent]) -> list[list[str]]:
        _, out = step_many(initial_state("5101"), cases, RULES)
        return [
            a.details["triggers"]
            for a in out
            if isinstance(a, Alert) and a.alert_kind == "warning_opened"
        ]

    # ten different schools, one hospital: no school has ten cases, no warning
    assert opened([measles(n, f"SCH-{n}") for n in range(10)]) == []
    # ten in one school: that school's warning, at the tenth case
    assert opened([measles(n, "SCH-1") for n in range(10)]) == [["measles-group-institution@SCH-1"]]
    # naming no institution: counted together by setting type, city-wide (as before)
    assert opened([measles(n, None) for n in range(10)]) == [["measles-group-institution"]]
