"""ICU occupancy as a condition of a tier rule (issue 13 item 3): the default rulebook's
``respiratory-icu-III`` (>= 10 confirmed influenza or COVID-19 cases in the incident and
the city's ICU >= 85 % occupied), worked out by hand: escalation at the instant both hold,
a late ICU snapshot recomputing from its own time, the fall after the beds recover and the
quiet period (influenza: 4 days) has passed; and the rulebook checks that name the path."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

import pytest

from streams.core import default_rulebook, initial_state, parse_rulebook, step_many, tier_timeline
from streams.core.rulebook import RulebookError
from tests.core_events import T0, case, incident, tick
from tests.folding import snapshot
from topics.outputs import Escalation

RULES = default_rulebook()
HOUR = timedelta(hours=1)


def h(hours: float) -> datetime:
    return T0 + hours * HOUR


def flu(n: int, hour: float) -> Any:
    return case(n, h(hour), disease="influenza")


def icu(hour: float, site: str, free: float) -> Any:
    return snapshot(h(hour), site, "bed.icu", free, 20)  # each hospital: 20 ICU beds


# Ten influenza cases, one an hour from hour 0 to hour 9. H1 and H2 have 20 ICU beds each:
# at hour 1 H1 has 2 free, at hour 2 H2 has 3 free: occupancy 1 - 5/40 = 87.5 % >= 85 %.
CASES = [flu(n, n) for n in range(10)]
FULL = [icu(1, "H1", 2), icu(2, "H2", 3)]


def steps(events: list[Any]) -> list[tuple[str | None, datetime, dict[str, float]]]:
    """(tier, effective_at, evidence) of the city's timeline, each event its own batch."""
    state = initial_state("5101")
    for event in events:
        state, _ = step_many(state, [event], RULES)
    return [(e.tier, e.effective_at, e.evidence) for e in tier_timeline(state)]


def test_tier_three_when_the_tenth_case_meets_a_full_icu() -> None:
    # at hour 9: 10 confirmed and 87.5 % occupied; nothing earlier (9 cases at hour 8)
    [(tier, at, evidence)] = steps(FULL + CASES)
    assert (tier, at) == ("III", h(9))
    assert evidence == {
        "confirmed.city.all": 10.0,
        "icu_occupancy": 0.875,
        "icu_free": 5.0,
        "icu_baseline": 40.0,
    }


def test_the_icu_filling_after_the_cases_escalates_at_the_snapshot() -> None:
    # H2 reports 20 free at hour 0 and H1 2 free at hour 1 (1 - 22/40 = 45 %); H2 has 3
    # free at hour 12 (87.5 %): the ten cases are in by then, the tier rises at hour 12
    events = [icu(0, "H2", 20), icu(1, "H1", 2), *CASES, icu(12, "H2", 3)]
    [(tier, at, _)] = steps(events)
    assert (tier, at) == ("III", h(12))


def test_a_late_icu_snapshot_recomputes_from_its_own_time() -> None:
    # in arrival order: III at hour 9 is emitted, then a late H1 snapshot of hour 5 says 20
    # free (1 - 23/40 = 42.5 %): the hour-9 escalation is taken back; H1 reports 2 free again
    # at hour 12 (87.5 %): III at hour 12.
    late = icu(5, "H1", 20)
    events = [*FULL, *CASES, icu(12, "H1", 2)]
    state = initial_state("5101")
    out: list[Any] = []
    for event in [*events, late]:
        state, got = step_many(state, [event], RULES)
        out += got
    assert [(e.tier, e.effective_at) for e in tier_timeline(state)] == [("III", h(12))]
    escalations = [o for o in out if isinstance(o, Escalation) and o.basis == "recommended"]
    assert [(e.tier, e.effective_at, e.retracted) for e in escalations] == [
        ("III", h(9), False),
        ("III", h(9), True),
        ("III", h(12), False),
    ]


@pytest.mark.parametrize("seed", range(6))
def test_the_timeline_does_not_depend_on_arrival_order(seed: int) -> None:
    events = [*FULL, *CASES, icu(5, "H1", 20), icu(12, "H1", 2), icu(150, "H1", 15), tick(h(200))]
    want = steps(events)
    shuffled = events[:-1]
    random.Random(seed).shuffle(shuffled)
    assert steps([*shuffled, events[-1]]) == want


def test_a_stand_down_shows_the_same_icu_whether_the_snapshot_came_before_or_after() -> None:
    # found by Hypothesis: an influenza mass-casualty incident (no confirmed case) at tier IV
    # from 10 casualties at hour 0, 0 casualties at hour 1 (stand-down: nothing holds, so
    # the evidence names every rule's metrics, the ICU's among them). The hour-0 snapshot
    # (H1: 0 of 20 free) must show in that evidence however late it arrives.
    reports = [
        incident("r1", h(0), disease="influenza", casualties={"total": 10, "critical": 2}),
        incident("r2", h(1), disease="influenza", casualties={"total": 0, "critical": 0}),
    ]
    full = icu(0, "H1", 0)
    want = steps([full, *reports])
    assert [s[:2] for s in want] == [("IV", h(0)), (None, h(1))]
    assert want[1][2]["icu_occupancy"] == 1.0
    assert (want[1][2]["icu_free"], want[1][2]["icu_baseline"]) == (0.0, 20.0)
    assert steps([*reports, full]) == want
    assert steps([reports[1], full, reports[0]]) == want


def test_the_tier_falls_when_the_beds_recover_after_the_quiet_period() -> None:
    # last case at hour 9, quiet period 4 days: not before hour 105; at hour 140 the ICU
    # is still full and the tier holds. H1 reports 15 free at hour 150 (1 - 18/40 = 55 %):
    # the rule stops there, and the tier falls at hour 150 (the snapshot, an hour ahead of
    # the clock or more, waits for a tick to reach it: input_checks.ahead_of_clock_minutes).
    assert [s[:2] for s in steps([*FULL, *CASES, tick(h(140))])] == [("III", h(9))]
    got = steps([*FULL, *CASES, tick(h(140)), icu(150, "H1", 15), tick(h(150))])
    assert [s[:2] for s in got] == [("III", h(9)), (None, h(150))]
    assert got[1][2]["quiet_days"] == pytest.approx((150 - 9) / 24)
    assert got[1][2]["icu_occupancy"] == pytest.approx(0.55)


def test_beds_recovering_inside_the_quiet_period_wait_for_it() -> None:
    # H1 recovers at hour 50 (55 %); the tier still waits for hour 9 + 96 = 105
    events = [*FULL, *CASES, icu(50, "H1", 15), tick(h(110))]
    assert [s[:2] for s in steps(events)] == [("III", h(9)), (None, h(105))]


def test_a_full_icu_alone_sets_no_tier() -> None:
    # 9 cases: the rule's case count does not hold, however full the ICU
    assert steps([icu(0, "H1", 0), icu(0, "H2", 0), *CASES[:9]]) == []


def _book(rule: str) -> str:
    text = (
        "version: t\ntiers:\n  - {tier: I, name: a, color: red}\n"
        "  - {tier: II, name: b, color: orange}\n  - {tier: III, name: c, color: yellow}\n"
        "  - {tier: IV, name: d, color: blue}\n"
        "diseases:\n  influenza: {class: C, max_incubation_days: 4}\n"
    )
    return text + "rules:\n  - " + rule + "\n"


@pytest.mark.parametrize(
    ("rule", "path", "says"),
    [
        (
            "{id: r, tier: III, diseases: [influenza], metric: icu_occupancy, threshold: 0.9}",
            "rules[0].metric",
            "icu_occupancy alone sets no tier",
        ),
        (
            "{id: r, tier: III, diseases: [influenza], metric: confirmed, threshold: 10,"
            " and: [{metric: icu_occupancy, threshold: 85}]}",
            "rules[0].and[0].threshold",
            "a fraction",
        ),
        (
            "{id: r, tier: III, diseases: [influenza], metric: confirmed, threshold: 10,"
            " and: [{metric: icu_occupancy, threshold: 0.85, window: 7}]}",
            "rules[0].and[0].window",
            "takes no window",
        ),
        (
            "{id: r, tier: III, diseases: [influenza], metric: confirmed, threshold: 10,"
            " and: [{metric: icu_occupncy, threshold: 0.85}]}",
            "rules[0].and[0].metric",
            "icu_occupancy",
        ),
    ],
)
def test_rulebook_checks_name_the_path(rule: str, path: str, says: str) -> None:
    with pytest.raises(RulebookError) as err:
        parse_rulebook(_book(rule))
    assert any(p.path == path and says in p.message for p in err.value.problems), str(err.value)
