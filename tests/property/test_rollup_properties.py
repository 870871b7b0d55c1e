"""The roll-up stages' invariants as Hypothesis properties: over generated histories of
city incidents (each a series of snapshots whose tier periods change, as late events make
the city stage revise them), any order and repetition of the snapshots gives the same
area timeline and the same standing escalations and tasks, equal to a brute-force count
of the cities (or provinces) with a tier at each instant; and a state encoded and decoded
mid-stream goes on to the same result. With acks of the issued tasks and ticks in the
mix (``rollup_many``, random batches), the standing task states and overdue alerts are
the same for any order, batching and repetition, equal to the hand rules (acked at the
earliest ack, else overdue once the area's time is past due; an alert where no ack came
by the due time), and feeding everything again changes nothing."""

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
    rollup_many,
    rollup_step,
    rollup_timeline,
)
from streams.core.rulebook import TIER_RANK
from topics.models import IncidentEvent
from topics.outputs import Alert, Escalation, IncidentState, Task, Tick

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


# --- roll-up tasks followed: acks and ticks in the mix ---------------------------------


def _ack(n: int, task: Task, hour: int) -> IncidentEvent:
    at = T0 + timedelta(hours=hour)
    return IncidentEvent(
        event_id=f"ack-{n}",
        kind="incident",
        msg_type="Ack",
        source={"agency_id": f"{task.agency_type}-1", "agency_type": task.agency_type},
        occurred_at=at,
        reported_at=at,
        region="510100",
        incident_id=task.incident_id,  # an ack names the incident of the task it acks
        category="infectious_disease",
        ack_task_id=task.task_id,
    )


def _batches(items: list[Any], rnd: Any, split: int) -> tuple[dict[str, Any], list[Any]]:
    """Fold ``items`` in random batches; the states go through encode/decode at ``split``."""
    areas: dict[str, Any] = {}
    outputs: list[Any] = []
    i = 0
    while i < len(items):
        size = rnd.randint(1, 4)
        if i <= split < i + size:
            areas = {a: decode_rollup(encode_rollup(s)) for a, s in areas.items()}
        areas, out = rollup_many(areas, items[i : i + size], RULES)
        outputs += out
        i += size
    return areas, outputs


def _followed(outputs: list[Any]) -> tuple[dict[str, Any], set[tuple[Any, ...]]]:
    """Standing tasks (task id -> (state, acked_at)) and standing alerts: per id the copy
    with the highest revision, retractions left out."""
    last: dict[str, Any] = {}
    for o in outputs:
        if isinstance(o, Task | Alert):
            oid = o.task_id if isinstance(o, Task) else o.alert_id
            if oid not in last or o.revision > last[oid].revision:
                last[oid] = o
    tasks = {
        o.task_id: (o.state, o.acked_at)
        for o in last.values()
        if isinstance(o, Task) and o.state != "retracted"
    }
    alerts = {
        (o.alert_kind, o.subject_id, o.at)
        for o in last.values()
        if isinstance(o, Alert) and not o.retracted
    }
    return tasks, alerts


def _expected(tasks: list[Task], acks: list[IncidentEvent], ticks: list[Tick]) -> tuple[Any, Any]:
    """By hand from the standing tasks: acked at the earliest ack, else overdue once the
    area's time (the newest tick, or ack routed to the area) is past due; an alert where
    the due time passed with no ack at or before it."""
    first: dict[str, datetime] = {}
    for a in acks:
        if a.ack_task_id is not None and (
            a.ack_task_id not in first or a.occurred_at < first[a.ack_task_id]
        ):
            first[a.ack_task_id] = a.occurred_at
    clock = max((t.tick_at for t in ticks), default=None)
    states, alerts = {}, set()
    for task in tasks:
        times = [a.occurred_at for a in acks if a.incident_id == task.incident_id]
        now = max([*times, *([clock] if clock else [])], default=None)
        acked = first.get(task.task_id)
        past = now is not None and task.due_at < now
        states[task.task_id] = ("acked", acked) if acked else ("overdue" if past else "open", None)
        if past and (acked is None or acked > task.due_at):
            alerts.add(("task_overdue", task.task_id, task.due_at))
    return states, alerts


@EXAMPLES
@given(incidents, st.data(), st.randoms(use_true_random=False), st.integers(0, 40))
def test_tasks_acks_and_ticks_in_any_order_and_batching_follow_the_hand_rules(
    generated: list[Any], data: Any, rnd: Any, split: int
) -> None:
    snapshots = _snapshots(generated)
    _, plain = rollup_many({}, snapshots, RULES)
    issued = list({t.task_id: t for t in plain if isinstance(t, Task)}.values())
    acked = (
        data.draw(st.lists(st.tuples(st.sampled_from(issued), st.integers(0, 70)), max_size=6))
        if issued
        else []
    )
    acks = [_ack(n, task, hour) for n, (task, hour) in enumerate(acked)]
    hours = data.draw(st.lists(st.integers(0, 80), max_size=4))
    ticks = [Tick(event_id=f"tick-{h}", tick_at=T0 + timedelta(hours=h)) for h in hours]
    items: list[Any] = [*snapshots, *acks, *ticks]
    in_order, out_in_order = _batches(items, rnd, len(items) + 1)
    shuffled = items + rnd.sample(items, k=len(items) // 2)  # repeats too
    rnd.shuffle(shuffled)
    any_order, out_any_order = _batches(shuffled, rnd, split)

    assert _timelines(any_order) == _timelines(in_order)
    assert _followed(out_any_order) == _followed(out_in_order)
    assert {a: encode_rollup(s) for a, s in any_order.items()}.keys() == in_order.keys()
    standing = {t.task_id: t for t in plain if isinstance(t, Task)}
    live = [standing[tid] for tid in _standing_task_ids(plain)]
    assert _followed(out_in_order) == _expected(live, acks, ticks)
    # idempotent: everything again changes nothing
    again, out_again = rollup_many(any_order, shuffled, RULES)
    assert all(again[a] is any_order[a] for a in any_order) and out_again == []


def _standing_task_ids(outputs: list[Any]) -> list[str]:
    return [s[1] for s in _standing(outputs) if s[0] == "t"]
