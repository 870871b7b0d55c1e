"""The roll-up stages: rules that span jurisdictions ("cholera spread to >= 2 cities",
"pneumonic plague in >= 2 provinces").

Both fold the IncidentState snapshots the city stage emits. Per incident only the newest
``version`` counts (repeats and stale snapshots change nothing), and a snapshot carries the
incident's whole story as ``tier_periods`` (when it had a tier), so an area's timeline is
a function of the latest snapshot of each incident, whatever order and batching they came
in (``tests/property/test_rollup_properties.py``):

* the **provincial** stage (area: a province, the first 2 digits of a city's code) counts
  cities — a city counts for a disease while any of its incidents of that disease has a
  tier — and decides the rules with ``min_cities``;
* the **national** stage (area :data:`NATION`) counts provinces — a province counts while
  any of its cities does — and decides the rules with ``min_provinces``.

The area's tier at instant t is the highest tier whose rules hold for the units counting
at t: it escalates when the N-th unit starts to count and stands down when fewer than N
count (each city already had its own quiet period). A merged incident (``merged_into``)
counts no more: its successor carries its periods.

Outputs follow the city stage's contract (``streams.core.engine``): the roll-up incident
(uuid5 of status, area and disease) gets an Escalation per timeline entry and the rulebook
plan's tasks of each tier change (``stand_down`` when the tier is dropped), task ids
derived as the city stage derives them; an entry a later snapshot drops is re-emitted
retracted (its tasks ``retracted``), and every copy carries its ``revision``.

Tasks are followed as the city's are (``open`` -> ``overdue`` -> ``acked``, with
``task_overdue`` raised and retracted by the same code): each area keeps a task ledger
(:mod:`streams.core.rollup_tasks`) that :func:`rollup_ack` feeds acks of its tasks and
:func:`rollup_tick` feeds time. Which area an ack or a tick reaches is decided by
:func:`streams.core.rollup_feed.rollup_many`, the stage over a batch of its feed.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

import orjson

from streams.core.compact import dumps
from streams.core.compiled import compile_rulebook
from streams.core.eventtime import from_us, to_us
from streams.core.persist import decode_state, encode_state
from streams.core.plan import escalation, tier_periods
from streams.core.revisions import revise
from streams.core.rollup_tasks import (
    NATION,
    follow_ack,
    follow_line,
    follow_tick,
    initial_ledger,
    rollup_incident_id,
)
from streams.core.rulebook import TIER_RANK, RollupLevel, RollupRule, Rulebook
from streams.core.state import NO_TIME, CoreState, Entry
from streams.core.tasks import TIER_BY_RANK
from streams.core.tiers import Pair
from topics.models import IncidentEvent
from topics.outputs import Alert, Escalation, IncidentState, Task
from topics.vocabulary import Status, Tier

Output = Escalation | IncidentState | Task | Alert
Line = list[list[Any]]  # [[at_us, rank, rule_ids, units]]


@dataclass(frozen=True)
class RollupState:
    """One area: a province (2 digits) or :data:`NATION`. ``ledger``: its tasks, acks and
    watermark (:mod:`streams.core.rollup_tasks`); ``incidents``: (status, disease) ->
    incident id -> [version, city, [[since_us, until_us | None]]]; ``timeline``: (status,
    disease) -> [[at_us, rank, rule_ids, units]]; ``revisions``: output id -> copies
    emitted so far; ``seq``: versions of the area's own snapshots; ``beds`` and
    ``redirects``: what a province keeps to redirect a transfer into another of its
    cities (:mod:`streams.core.rollup_beds`)."""

    area: str
    ledger: CoreState
    incidents: dict[str, dict[str, list[Any]]] = field(default_factory=dict)
    timeline: dict[str, Line] = field(default_factory=dict)
    revisions: dict[str, int] = field(default_factory=dict)
    seq: int = 0
    beds: dict[str, dict[str, list[list[Any]]]] = field(default_factory=dict)
    redirects: dict[str, list[Any]] = field(default_factory=dict)

    @property
    def level(self) -> RollupLevel:
        return "nation" if self.area == NATION else "province"


def initial_rollup(area: str, clock: int = NO_TIME) -> RollupState:
    """The empty roll-up state of a province (the first 2 digits of a region code) or of
    the nation (:data:`NATION`); ``clock``: the newest tick (µs) the stage saw before."""
    return RollupState(area, initial_ledger(area, clock))


def rollup_areas(snapshot: IncidentState, rulebook: Rulebook) -> list[str]:
    """The areas whose stages fold ``snapshot``: its province and/or the nation, where a
    roll-up rule names its disease; none for a snapshot that is not a city's."""
    if snapshot.disease is None or len(snapshot.jurisdiction) < 4:
        return []
    levels = {r.level for r in rulebook.rollup if snapshot.disease in r.diseases}
    areas = [snapshot.jurisdiction[:2]] if "province" in levels else []
    return [*areas, NATION] if "nation" in levels else areas


def _key(status: str, disease: str) -> str:
    return f"{status}|{disease}"


def rollup_step(
    state: RollupState,
    incident_state: IncidentState,
    rulebook: Rulebook,
) -> tuple[RollupState, list[Output]]:
    """Fold one city IncidentState into the area; returns the new state (the same object
    when nothing changed) and the outputs."""
    s = incident_state
    rules = [r for r in rulebook.rollup if s.disease in r.diseases and r.level == state.level]
    if s.disease is None or not rules or len(s.jurisdiction) < 4:
        return state, []
    key = _key(s.status, s.disease)
    known = state.incidents.get(key, {}).get(s.incident_id)
    if known is not None and known[0] >= s.version:
        return state, []
    periods = [] if s.merged_into else [[to_us(a), _us(b)] for a, b in s.tier_periods]
    incidents = {
        **state.incidents.get(key, {}),
        s.incident_id: [s.version, s.jurisdiction, periods],
    }
    before = state.timeline.get(key, [])
    line = _area_line(state.level, rules, incidents.values())
    opened = (line or before)[0][0] if line or before else None
    outputs: list[Output] = []
    ledger, revisions, seq = state.ledger, state.revisions, state.seq
    if line != before:
        inc = rollup_incident_id(s.status, state.area, s.disease)
        old, now = _pairs(state.area, before), _pairs(state.area, line)
        outputs += _changes(state.area, s.status, inc, (old, now), rulebook)
        comp = compile_rulebook(rulebook)
        ledger = follow_line(ledger, s.status, inc, (old, now), comp=comp, out=outputs)
        revisions = number_area_copies(outputs, revisions)
        seq += 1
        outputs.append(_snapshot(state, s, inc, (opened, line), rulebook=rulebook, seq=seq))
    new = replace(
        state,
        ledger=ledger,
        incidents={**state.incidents, key: incidents},
        timeline={**state.timeline, key: line},
        revisions=revisions,
        seq=seq,
    )
    return new, outputs


def rollup_ack(
    state: RollupState, ack: IncidentEvent, rulebook: Rulebook
) -> tuple[RollupState, list[Output]]:
    """Fold an ack of one of the area's tasks in (see :func:`rollup_tasks.ack_area`);
    returns the very state when it changes nothing."""
    out: list[Output] = []
    ledger = follow_ack(state.ledger, ack, comp=compile_rulebook(rulebook), out=out)
    return _followed(state, ledger, out)


def rollup_tick(state: RollupState, at: datetime) -> tuple[RollupState, list[Output]]:
    """Time has reached ``at`` (a tick): raise what it leaves overdue; returns the very
    state when ``at`` is not newer than the area's ticks."""
    out: list[Output] = []
    ledger = follow_tick(state.ledger, to_us(at), out)
    return _followed(state, ledger, out)


def _followed(
    state: RollupState, ledger: CoreState, out: list[Output]
) -> tuple[RollupState, list[Output]]:
    if ledger is state.ledger:
        return state, []
    revisions = number_area_copies(out, state.revisions)
    return replace(state, ledger=ledger, revisions=revisions), out


def number_area_copies(outputs: list[Output], revisions: dict[str, int]) -> dict[str, int]:
    """Number the copies of each escalation, task and alert id in emission order (as the
    city stage does); returns the counts after them."""
    counts = dict(revisions)
    revise(outputs, lambda _output, _output_id: counts)
    return counts


def _us(at: datetime | None) -> int | None:
    return None if at is None else to_us(at)


def _area_line(level: RollupLevel, rules: list[RollupRule], incidents: Any) -> Line:
    """The area's timeline from its incidents' periods: at every instant a unit starts or
    stops counting, the highest tier whose rules hold for the units counting then."""
    by_unit: dict[str, list[tuple[int, int | None]]] = {}
    for _, city, periods in incidents:
        unit = city[:2] if level == "nation" else city
        by_unit.setdefault(unit, []).extend((a, b) for a, b in periods)
    deltas: dict[int, int] = {}
    for periods in by_unit.values():
        for since, until in _union(periods):
            deltas[since] = deltas.get(since, 0) + 1
            if until is not None:
                deltas[until] = deltas.get(until, 0) - 1
    line: Line = []
    units = 0
    current: tuple[int, list[str]] = (0, [])
    for at in sorted(deltas):
        units += deltas[at]
        decided = _decide(rules, units)
        if decided != current:
            line.append([at, decided[0], decided[1], units])
            current = decided
    return line


def _union(periods: list[tuple[int, int | None]]) -> list[tuple[int, int | None]]:
    """Overlapping or touching periods of one unit merged (it counts once)."""
    merged: list[tuple[int, int | None]] = []
    for since, until in sorted(periods, key=lambda p: p[0]):
        if merged and (merged[-1][1] is None or since <= merged[-1][1]):
            last_since, last_until = merged[-1]
            ends = None if until is None or last_until is None else max(until, last_until)
            merged[-1] = (last_since, ends)
        else:
            merged.append((since, until))
    return merged


def _decide(rules: list[RollupRule], units: int) -> tuple[int, list[str]]:
    """(rank, sorted rule ids) of the highest tier whose rules hold for ``units``."""
    rank, ids = 0, list[str]()
    for rule in rules:
        r = TIER_RANK[rule.tier]
        if units >= rule.min_units and r >= rank:
            if r > rank:
                rank, ids = r, []
            ids.append(rule.id)
    return rank, sorted(ids)


def _units_name(area: str) -> str:
    return "provinces" if area == NATION else "cities"


def _pairs(area: str, line: Line) -> list[Pair]:
    """The line as (rank before, entry) pairs, as the city stage's escalations say."""
    ranks = [0] + [row[1] for row in line]
    return [
        (prev, (at, rank, tuple(ids), {_units_name(area): float(units)}))
        for prev, (at, rank, ids, units) in zip(ranks, line, strict=False)
    ]


def _changes(
    area: str, status: Status, inc: str, pairs: tuple[list[Pair], list[Pair]], rulebook: Rulebook
) -> list[Output]:
    """Retractions of the escalations the old line said and the new one does not, then
    those the new line says and the old one did not."""
    before, after = (
        {e.decision_id: e for e in _escalations(area, status, inc, line, rulebook)}
        for line in pairs
    )
    out: list[Output] = [
        e.model_copy(update={"retracted": True}) for oid, e in before.items() if oid not in after
    ]
    return out + [e for oid, e in after.items() if oid not in before]


def _escalations(
    area: str, status: Status, inc: str, pairs: list[Pair], rulebook: Rulebook
) -> list[Escalation]:
    return [escalation(status, inc, area, pair, version=rulebook.version) for pair in pairs]


def _snapshot(
    state: RollupState,
    s: IncidentState,
    inc: str,
    story: tuple[int | None, Line],
    *,
    rulebook: Rulebook,
    seq: int,
) -> IncidentState:
    opened, line = story
    name = _units_name(state.area)
    where = "the country" if state.area == NATION else f"province {state.area}"
    units = line[-1][3] if line else 0
    entries: list[Entry] = [(row[0], row[1], (), {}) for row in line]
    return IncidentState(
        incident_id=inc,
        jurisdiction=state.area,
        status=s.status,
        category="infectious_disease",
        disease=s.disease,
        headline=f"{s.disease} in {units} {name} of {where}",
        tier=TIER_BY_RANK[line[-1][1]] if line else None,
        opened_at=s.updated_at if opened is None else from_us(opened),
        updated_at=from_us(line[-1][0]) if line else s.updated_at,
        metrics={name: float(units)},
        rulebook_version=rulebook.version,
        tier_periods=tier_periods(entries),
        version=seq,
    )


def rollup_timeline(state: RollupState) -> list[tuple[str, str, datetime, Tier | None]]:
    """``(status, disease, effective_at, tier)`` of every roll-up tier change."""
    return [
        (k.split("|")[0], k.split("|")[1], from_us(row[0]), TIER_BY_RANK[row[1]])
        for k in sorted(state.timeline)
        for row in state.timeline[k]
    ]


def encode_rollup(state: RollupState) -> bytes:
    """Deterministic bytes of ``state``: its fields, the ledger as ``encode_state`` writes
    a city's state; ``beds`` and ``redirects`` only when a province has any (an area
    without them encodes as before they existed)."""
    ledger = orjson.Fragment(encode_state(state.ledger))
    fields = [state.area, state.incidents, state.timeline, state.revisions, state.seq, ledger]
    if state.beds or state.redirects:
        fields += [state.beds, state.redirects]
    return dumps(fields, option=orjson.OPT_SORT_KEYS)


def decode_rollup(data: bytes) -> RollupState:
    """The state ``encode_rollup`` wrote; one written before roll-up tasks were followed
    (no ledger) gets an empty ledger, and the tasks it issued are taken into it at the
    area's next tier change (:func:`streams.core.rollup_tasks.follow_line`); one written
    before provinces kept beds and redirects has none."""
    area, incidents, timeline, revisions, seq, *rest = orjson.loads(data)
    follow = decode_state(orjson.dumps(rest[0])) if rest else initial_ledger(area, NO_TIME)
    beds, redirects = rest[1:3] if len(rest) == 3 else ({}, {})
    return RollupState(area, follow, incidents, timeline, revisions, seq, beds, redirects)
