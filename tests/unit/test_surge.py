"""Peacetime/wartime conversion (issue 15 item 2), worked out by hand: a declared Tier II
orders the designated and reserve hospitals of the city (facility registry) to open their
convertible ICU beds; an acked conversion counts its beds 24 h after the ack, which lets
the ICU tier rule (respiratory-icu-III) stop holding; the same for any arrival order."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

import pytest

from streams.core import default_rulebook, initial_state, step_many, tier_timeline
from streams.core.persist import decode_state, encode_state
from streams.core.rulebook import Rulebook
from streams.core.surge import SURGE_ACTION
from tests.core_events import T0, case, tick
from tests.folding import snapshot
from topics.models import IncidentEvent
from topics.outputs import Task

H = timedelta(hours=1)
BASE = default_rulebook()
REGISTRY = {
    "version": "test-1",
    "facilities": [
        {"id": "H2", "name": "Designated", "designation": "designated", "jurisdiction": "510104"},
        {"id": "R1", "name": "Reserve", "designation": "reserve", "jurisdiction": "5101"},
        {"id": "N1", "name": "Not designated", "jurisdiction": "510104"},
        {"id": "X9", "name": "Other city", "designation": "designated", "jurisdiction": "5103"},
    ],
}
RULES = Rulebook.model_validate(
    {
        **BASE.model_dump(by_alias=True),
        "resources": {
            **BASE.resources.model_dump(by_alias=True),
            "facilities": REGISTRY,
            "surge": {"item": "bed.icu", "level": "II", "lead_hours": 24},
        },
    }
)
INC = "INC-FLU"


def h(hours: float) -> datetime:
    return T0 + hours * H


def icu(hour: float, site: str, free: float, baseline: float, convertible: float = 0) -> Any:
    return snapshot(h(hour), site, "bed.icu", free, baseline, convertible=convertible)


def _incident(event_id: str, hour: float, agency: tuple[str, str], **fields: Any) -> IncidentEvent:
    return IncidentEvent(
        event_id=event_id,
        kind="incident",
        occurred_at=h(hour),
        reported_at=h(hour),
        region="510104",
        source={"agency_id": agency[0], "agency_type": agency[1]},
        incident_id=INC,
        category="infectious_disease",
        disease="influenza",
        **fields,
    )


def declare_ii(hour: float) -> IncidentEvent:
    return _incident(
        f"declare-{hour}", hour, ("em-5101", "emergency"), msg_type="Update",
        declared_tier="II", reason="joint assessment: ICUs full",
    )  # fmt: skip


def ack(task_id: str, hour: float, site: str) -> IncidentEvent:
    return _incident(
        f"ack-{site}-{hour}", hour, (site, "health"), msg_type="Ack", ack_task_id=task_id
    )


# Ten influenza cases at hours 0..9. ICU: H1 2 free of 20, H2 3 of 20, R1 0 of 10 with
# 10 convertible: occupancy 1 - 5/50 = 90 % >= 85 %, so III at hour 9.
CASES = [case(n, h(n), disease="influenza", incident_id=INC) for n in range(10)]
BEDS = [
    icu(0, "R1", 0, 10, convertible=10),
    icu(1, "H1", 2, 20),
    icu(2, "H2", 3, 20, convertible=0),
]


def fold(events: list[Any]) -> tuple[Any, list[Any]]:
    state, out = initial_state("5101"), []
    for event in events:
        state, got = step_many(state, [event], RULES)
        out += got
    return state, out


def conversion_tasks(out: list[Any]) -> dict[str, Task]:
    """The last copy of each conversion task, by the hospital its action names."""
    found: dict[str, Task] = {}
    for o in out:
        if isinstance(o, Task) and o.action.startswith(SURGE_ACTION):
            found[o.action.split(" beds of ")[1].split(" ")[0]] = o
    return found


def test_declared_tier_two_orders_the_designated_and_reserve_hospitals() -> None:
    _, out = fold([*BEDS, *CASES, declare_ii(10)])
    tasks = conversion_tasks(out)
    assert sorted(tasks) == ["H2", "R1"]  # not N1 (no designation), not X9 (another city)
    r1 = tasks["R1"]
    assert (r1.agency_type, r1.tier, r1.issued_at, r1.due_at) == ("health", "II", h(10), h(12))
    assert (
        r1.action
        == f"{SURGE_ACTION}: open the convertible bed.icu beds of R1 (Reserve) within 24 h"
    )


def test_no_conversion_before_the_declared_level() -> None:
    # the rules recommend III; nobody declared: nothing is ordered
    _, out = fold([*BEDS, *CASES])
    assert conversion_tasks(out) == {}


def _events() -> list[Any]:
    _, out = fold([*BEDS, *CASES, declare_ii(10)])
    tasks = conversion_tasks(out)
    # R1 acks at hour 100: its 10 convertible beds open at hour 124; H2 (none) acks too
    return [
        *BEDS, *CASES, declare_ii(10),
        ack(tasks["R1"].task_id, 100, "R1"), ack(tasks["H2"].task_id, 100, "H2"),
    ]  # fmt: skip


def test_an_acked_conversion_counts_its_beds_after_the_lead_time() -> None:
    # quiet period: last case 9 + 96 = 105; the ICU is still full then (90 %). At 124 R1's
    # 10 beds open: 1 - 15/60 = 75 % < 85 %, the rule stops: the tier falls at 124.
    state, _ = fold([*_events(), tick(h(110)), tick(h(120))])
    assert [(e.tier, e.effective_at) for e in tier_timeline(state)] == [("III", h(9))]
    state, _ = fold([*_events(), tick(h(110)), tick(h(125))])
    steps = tier_timeline(state)
    assert [(e.tier, e.effective_at) for e in steps] == [("III", h(9)), (None, h(124))]
    assert steps[1].evidence["icu_free"] == 15.0
    assert steps[1].evidence["icu_baseline"] == 60.0
    assert steps[1].evidence["icu_occupancy"] == pytest.approx(0.75)


def test_without_the_ack_the_tier_holds() -> None:
    events = [e for e in _events() if not e.event_id.startswith("ack-R1")]
    state, _ = fold([*events, tick(h(110)), tick(h(125))])
    assert [(e.tier, e.effective_at) for e in tier_timeline(state)] == [("III", h(9))]


@pytest.mark.parametrize("seed", range(6))
def test_the_same_for_any_arrival_order(seed: int) -> None:
    events = _events()
    want, _ = fold([*events, tick(h(110)), tick(h(125))])
    random.Random(seed).shuffle(events)
    got, _ = fold([*events, tick(h(110)), tick(h(125))])
    assert tier_timeline(got) == tier_timeline(want)


def test_state_survives_bytes_and_older_snapshots_read_without_convertible() -> None:
    state, _ = fold(_events())
    again = decode_state(encode_state(state))
    assert tier_timeline(again) == tier_timeline(state)
    series = again.namespaces["Actual"].stock[("R1", "bed.icu")]
    assert series.meta[0][3] == 10.0


def test_an_ack_arriving_after_the_clock_passed_its_opening_recomputes() -> None:
    # R1's ack (hour 100) arrives after a tick at hour 125: the tier falls at 124 all the same
    events = _events()
    late = [e for e in events if e.event_id.startswith("ack-R1")]
    rest = [e for e in events if e not in late]
    state, _ = fold([*rest, tick(h(110)), tick(h(125)), *late])
    assert [(e.tier, e.effective_at) for e in tier_timeline(state)] == [
        ("III", h(9)),
        (None, h(124)),
    ]
