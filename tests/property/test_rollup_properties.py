"""The roll-up stages' invariants as Hypothesis properties: over generated histories of
city incidents (each a series of snapshots whose tier periods change, as late events make
the city stage revise them), any order and repetition of the snapshots gives the same
area timeline and the same standing escalations and tasks, equal to a brute-force count
of the cities (or provinces) with a tier at each instant; and a state encoded and decoded
mid-stream goes on to the same result."""

from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from streams.core import (
    NATION,
    decode_rollup,
    default_rulebook,
    encode_rollup,
    initial_rollup,
    rollup_areas,
    rollup_step,
    rollup_timeline,
)
from streams.core.rulebook import TIER_RANK
from topics.models import Escalation, IncidentState, Task

RULES = default_rulebook()
T0 = datetime(2026, 3, 1, tzinfo=timezone(timedelta(hours=8)))
EXAMPLES = settings(max_examples=int(os.environ.get("TIERFLOW_EXAMPLES", "60")), deadline=None)

# (city, disease) pairs: cholera has a provincial rule (>= 2 cities), pneumonic plague a
# national one (>= 2 provinces); 51xx and 53xx are two provinces.
CITIES = ("5101", "5107", "5109", "5301")
DISEASES = ("cholera", "plague_pneumonic")
period = st.tuples(st.integers(0, 40), st.integers(1, 20), st.booleans()).map(
    lambda p: (p[0], None if p[2] else p[0] + p[1])  # (start hour, end hour | open)
)
versions = st.lists(st.lists(period, max_size=3), min_size=1, max_size=3)
incidents = st.lists(
    st.tuples(st.sampled_from(CITIES), st.sampled_from(DISEASES), versions), max_size=6
)


def _snapshots(generated: list[Any]) -> list[IncidentState]:
    """Every version of every generated incident; the last version is its truth."""
    out = []
    for n, (city, disease, history) in enumerate(generated):
        for version, periods in enumerate(history, start=1):
            out.append(_snapshot(f"inc-{n}", city, disease, periods, version))
    return out


def _snapshot(inc: str, city: str, disease: str, periods: list[Any], version: int) -> IncidentState:
    h = timedelta(hours=1)
    return IncidentState(
        incident_id=inc,
        jurisdiction=city,
        category="infectious_disease",
        disease=disease,
        tier="III" if periods and periods[-1][1] is None else None,
        opened_at=T0,
        updated_at=T0,
        rulebook_version=RULES.version,
        tier_periods=tuple((T0 + a * h, None if b is None else T0 + b * h) for a, b in periods),
        version=version,
    )


def _fold(snapshots: list[IncidentState], split: int | None = None) -> tuple[dict, list[Any]]:
    areas: dict[str, Any] = {}
    outputs: list[Any] = []
    for i, snapshot in enumerate(snapshots):
        if i == split:
            areas = {a: decode_rollup(encode_rollup(s)) for a, s in areas.items()}
        for area in rollup_areas(snapshot, RULES):
            areas[area], out = rollup_step(areas.get(area, initial_rollup(area)), snapshot, RULES)
            outputs += out
    return areas, outputs


def _standing(outputs: list[Any]) -> set[tuple[Any, ...]]:
    """Per id the copy with the highest revision, retractions left out."""
    last: dict[str, Any] = {}
    for o in outputs:
        if isinstance(o, IncidentState):
            continue
        oid = o.decision_id if isinstance(o, Escalation) else o.task_id
        if oid not in last or o.revision > last[oid].revision:
            last[oid] = o
    shown = set()
    for o in last.values():
        if isinstance(o, Escalation) and not o.retracted:
            shown.add(("e", o.decision_id, o.tier, o.effective_at))
        elif isinstance(o, Task) and o.state != "retracted":
            shown.add(("t", o.task_id, o.tier, o.issued_at))
    return shown


def _timelines(areas: dict[str, Any]) -> dict[str, list[Any]]:
    return {a: rollup_timeline(s) for a, s in sorted(areas.items()) if rollup_timeline(s)}


def _brute_force(generated: list[Any]) -> dict[str, list[Any]]:
    """Each area's timeline by counting, at every boundary instant, the units with a tier
    at that instant (half-open periods), from the last version of each incident."""
    truth = [(city, disease, history[-1]) for city, disease, history in generated]
    found: dict[str, list[Any]] = {}
    for disease in DISEASES:
        for rule_level, areas in (("province", {c[:2] for c in CITIES}), ("nation", {NATION})):
            rules = [r for r in RULES.rollup if disease in r.diseases and r.level == rule_level]
            if not rules:
                continue
            for area in areas:
                mine = [
                    (city, periods)
                    for city, d, periods in truth
                    if d == disease and (area == NATION or city[:2] == area)
                ]
                instants = sorted({t for _, ps in mine for p in ps for t in p if t is not None})
                line, current = [], 0
                for t in instants:
                    units = {
                        city if rule_level == "province" else city[:2]
                        for city, ps in mine
                        for a, b in ps
                        if a <= t and (b is None or t < b)
                    }
                    rank = max(
                        (TIER_RANK[r.tier] for r in rules if len(units) >= r.min_units), default=0
                    )
                    if rank != current:
                        tier = next((k for k, v in TIER_RANK.items() if v == rank), None)
                        line.append(("Actual", disease, T0 + timedelta(hours=t), tier))
                        current = rank
                if line:
                    found.setdefault(area, []).extend(line)
    return {a: sorted(line, key=lambda x: (x[1], x[2])) for a, line in sorted(found.items())}


@EXAMPLES
@given(incidents, st.randoms(use_true_random=False), st.integers(0, 30))
def test_any_order_and_repetition_gives_the_brute_force_timeline(
    generated: list[Any], rnd: Any, split: int
) -> None:
    snapshots = _snapshots(generated)
    in_order, out_in_order = _fold(snapshots)
    shuffled = snapshots + rnd.sample(snapshots, k=len(snapshots) // 2)  # repeats too
    rnd.shuffle(shuffled)
    # a shuffled stream leaves each incident's truth as its highest version, whatever came last
    any_order, out_any_order = _fold(shuffled, split=split)
    expected = _brute_force(generated)
    assert {a: sorted(t, key=lambda x: (x[1], x[2])) for a, t in _timelines(in_order).items()} == (
        expected
    )
    assert _timelines(any_order) == _timelines(in_order)
    assert _standing(out_any_order) == _standing(out_in_order)
    # standing escalations: one per timeline entry
    entries = sum(len(t) for t in expected.values())
    assert len([s for s in _standing(out_in_order) if s[0] == "e"]) == entries
