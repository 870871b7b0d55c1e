"""The simulate scenarios produce the tier timelines their scripts intend.

The core folds each scenario's valid lines (duplicates, late events and ticks included)
with the default rulebook (and the facility registry the scenario names); its tier
timeline, the provincial roll-up and its alerts must match the truth file, which the
scenario worked out from its own constants without the core. Steps are compared by tier
and effective_at (rule ids are the rulebook's business).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from streams.simulate import generate, rulebook_for
from tests.folding import valid_records
from topics.outputs import Alert, IncidentState, Task, Tick

core = pytest.importorskip("streams.core", reason="the core is not there yet")
if not all(hasattr(core, name) for name in ("fold", "default_rulebook", "tier_timeline")):
    pytest.skip(
        "streams.core has no fold/default_rulebook/tier_timeline yet", allow_module_level=True
    )

SCENARIOS = (
    "cholera", "road-mci", "supply-squeeze", "chemical-poisoning", "ili-school", "surge"
)  # fmt: skip
SEEDS = (1, 2)
Step = tuple[str | None, datetime]


def _folded(
    name: str, seed: int
) -> tuple[dict[str, Any], dict[str, list[Step]], dict[str, list[Step]], list[Alert]]:
    """(truth, core steps by incident, core steps by jurisdiction, Actual alerts)."""
    scenario = generate(name, seed)
    rulebook = rulebook_for(name)
    records = valid_records(scenario.jsonl().splitlines())
    states, outputs = core.fold(records, rulebook)
    by_incident: dict[str, list[Step]] = {}
    by_place: dict[str, list[Step]] = {}
    for jurisdiction, state in states.items():
        for entry in core.tier_timeline(state):
            step = (entry.tier, entry.effective_at)
            by_incident.setdefault(entry.incident_id, []).append(step)
            by_place.setdefault(jurisdiction, []).append(step)
    # The provincial stage folds the cities' incident states as the live shell sees them:
    # each record stepped in publish order (``fold`` coalesces them per batch).
    provinces: dict[str, Any] = {}
    for snapshot in _incident_states_in_order(records, rulebook):
        province = snapshot.jurisdiction[:2]
        state = provinces.get(province) or core.initial_rollup(province)
        provinces[province], _ = core.rollup_step(state, snapshot, rulebook)
    for province, state in provinces.items():
        for status, _, at, tier in core.rollup_timeline(state):
            if status == "Actual":
                by_place.setdefault(province, []).append((tier, at))
    # ... and the provinces' redirects into another city, from the bed levels and no-bed
    # redirects the decide stage forwards (with a registry)
    _, rolled = core.rollup_many(
        {}, [o for o in outputs if core.output_feeds_rollup(o, rulebook)], rulebook
    )
    alerts = [o for o in [*outputs, *rolled] if isinstance(o, Alert) and o.status == "Actual"]
    return scenario.truth, by_incident, by_place, alerts


def _incident_states_in_order(records: list[Any], rulebook: Any) -> list[IncidentState]:
    cities = {r.region[:4] for r in records if not isinstance(r, Tick)}
    states = {city: core.initial_state(city) for city in cities}
    snapshots: list[IncidentState] = []
    for record in records:
        targets = sorted(cities) if isinstance(record, Tick) else [record.region[:4]]
        for city in targets:
            states[city], out = core.step(states[city], record, rulebook)
            snapshots += [o for o in out if isinstance(o, IncidentState) and o.status == "Actual"]
    return snapshots


def _intended(truth: dict[str, Any]) -> tuple[dict[str, list[Step]], dict[str, list[Step]]]:
    by_incident: dict[str, list[Step]] = {}
    by_place: dict[str, list[Step]] = {}
    for s in truth["timeline"]:
        step = (s["tier"], datetime.fromisoformat(s["effective_at"]))
        if s["incident_id"] is not None:
            by_incident.setdefault(s["incident_id"], []).append(step)
        else:  # opened by the core itself: one incident per jurisdiction
            by_place.setdefault(s["jurisdiction"], []).append(step)
    return by_incident, by_place


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("name", SCENARIOS)
def test_core_follows_the_intended_tier_timeline(name: str, seed: int) -> None:
    truth, got_incident, got_place, _ = _folded(name, seed)
    want_incident, want_place = _intended(truth)
    for incident, steps in want_incident.items():
        assert got_incident.get(incident) == steps, incident
    for place, steps in want_place.items():
        assert sorted(got_place.get(place, []), key=lambda s: s[1]) == steps, place
    # Nothing tiered that the script did not mean to tier.
    named = set(want_incident)
    places = set(want_place)
    assert {i for i in got_incident if i in named} == named
    assert {p for p in got_place if got_place[p]} <= places | {
        s["jurisdiction"] for s in truth["timeline"]
    }


# kinds raised at an instant the truth names (the others: some time the core works out)
_AT_THE_INSTANT = (
    "stock_low", "icu_capacity_low", "beds_converted", "staff_ratio_low", "stockpile_short"
)  # fmt: skip


def _matches(alert: Alert, intent: dict[str, Any]) -> bool:
    if alert.alert_kind != intent["kind"] or alert.jurisdiction != intent["jurisdiction"]:
        return False
    if intent["subject_id"] is not None and alert.subject_id != intent["subject_id"]:
        return False
    if "level" in intent and alert.level != intent["level"]:
        return False
    if "at" in intent and intent["kind"] in _AT_THE_INSTANT:
        return alert.at == datetime.fromisoformat(intent["at"])
    if "suggested" in intent:
        return alert.details.get("suggested_facility") == intent["suggested"]
    return True


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("name", SCENARIOS)
def test_core_raises_the_intended_alerts(name: str, seed: int) -> None:
    truth, _, _, alerts = _folded(name, seed)
    missing = [a for a in truth["alerts"] if not any(_matches(al, a) for al in alerts)]
    assert missing == []
    # Redirects, delays and late reports are exactly the intended ones.
    for kind in ("capacity_redirect", "transfer_delayed", "reporting_late"):
        got = {a.subject_id for a in alerts if a.alert_kind == kind}
        assert got == {a["subject_id"] for a in truth["alerts"] if a["kind"] == kind}, kind


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("name", SCENARIOS)
def test_core_follows_the_intended_declarations(name: str, seed: int) -> None:
    """The command agencies' declarations, as the truth file intends them (tier, time,
    who, decision lag), are the core's declared timeline; each acks the joint assessment
    its recommendation asked for, and none is overdue or rejected."""
    scenario = generate(name, seed)
    rulebook = rulebook_for(name)
    records = valid_records(scenario.jsonl().splitlines())
    states, outputs = core.fold(records, rulebook)
    got = sorted(
        (
            entry.declared_at,
            entry.incident_id,
            entry.tier,
            entry.declared_by,
            entry.decision_lag.total_seconds() if entry.decision_lag else None,
        )
        for state in states.values()
        for entry in core.declared_timeline(state)
    )
    want = sorted(
        (
            datetime.fromisoformat(d["declared_at"]),
            d["incident_id"],
            d["tier"],
            d["by"],
            None if d["decision_lag_s"] is None else float(d["decision_lag_s"]),
        )
        for d in scenario.truth["declarations"]
    )
    assert got == want
    kinds = {o.alert_kind for o in outputs if isinstance(o, Alert) and not o.retracted}
    assert not kinds & {"declaration_overdue", "declaration_rejected"}
    latest: dict[str, Task] = {}
    for out in outputs:
        if isinstance(out, Task):
            latest[out.task_id] = out
    assessments = [
        t
        for t in latest.values()
        if t.action.startswith("joint assessment")
        and t.status == "Actual"
        and t.state != "retracted"  # issued under the warning's id before it was named
    ]
    assert len(assessments) == len(want)
    assert {t.state for t in assessments} <= {"acked"}
    # each warning's on-site check was acked "confirmed" in time (cholera: one per city;
    # ili-school: the ILI warning's and the influenza warning's)
    checks = [t for t in latest.values() if "verify" in t.action and t.state != "retracted"]
    assert len(checks) == {"cholera": 2, "ili-school": 2}.get(name, 0)
    assert {t.state for t in checks} <= {"acked"}


def test_the_poisoning_scenario_s_tiers_are_the_2011_plan_s_bands() -> None:
    from streams.simulate.poisoning import UPDATES, poisoning_tier

    tier = None
    for _, _, (poisoned, dead), now, _ in UPDATES:
        tier = now or tier
        assert poisoning_tier(poisoned, dead) == tier, (poisoned, dead)
    # and by hand: 14 poisoned, none dead: IV; 3 dead: III
    assert [u[3] for u in UPDATES if u[3]] == ["IV", "III"]
