"""The roll-up stages: rules that span jurisdictions ("cholera spread to >= 2 cities",
"pneumonic plague in >= 2 provinces").

Both fold the IncidentState snapshots the city stage emits (the newest ``version`` per
city and disease wins, so repeats and stale snapshots change nothing):

* the **provincial** stage (area: a province, the first 2 digits of a city's code) counts
  cities — a city counts for a disease while its incident of that disease has a tier,
  since its ``tier_since`` — and decides the rules with ``min_cities``;
* the **national** stage (area :data:`NATION`) counts provinces — a province counts
  while any of its cities has a tier for the disease, since the earliest ``tier_since``
  among them — and decides the rules with ``min_provinces``.

A rule holds when at least N units count, effective at the N-th earliest start among
them. The roll-up incident (uuid5 of status, area and disease) escalates at once and
stands down, without a further quiet period (each city already had its own), at the
``updated_at`` of the snapshot that made the rule stop holding. Every tier change issues
the rulebook plan's tasks of the new tier (``stand_down`` when it is dropped) to each
agency, with ids derived as the city stage derives them; acks and ``task_overdue`` are
followed by the city stage only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson

from streams.core.compiled import compile_rulebook
from streams.core.eventtime import SECOND, from_us, to_us
from streams.core.ids import content_id
from streams.core.plan import task_specs
from streams.core.rulebook import TIER_RANK, RollupLevel, RollupRule, Rulebook
from streams.core.state import Entry
from topics.models import Escalation, IncidentState, Task, Tier

NATION = "nation"  # the area of the national stage
_TIERS: dict[int, Tier | None] = {0: None, **{rank: tier for tier, rank in TIER_RANK.items()}}
Output = Escalation | IncidentState | Task


@dataclass(frozen=True)
class RollupState:
    """One area: a province (2 digits) or :data:`NATION`. ``cities``: (status, disease)
    -> city -> (version, tier_since | None); ``timeline``: (status, disease) ->
    [(effective_at_us, rank, rule_ids)]."""

    province: str
    cities: dict[str, dict[str, list[Any]]] = field(default_factory=dict)
    timeline: dict[str, list[list[Any]]] = field(default_factory=dict)
    seq: int = 0

    @property
    def level(self) -> RollupLevel:
        return "nation" if self.province == NATION else "province"


def initial_rollup(area: str) -> RollupState:
    """The empty roll-up state of a province (the first 2 digits of a region code) or of
    the nation (:data:`NATION`)."""
    return RollupState(area)


def _key(status: str, disease: str) -> str:
    return f"{status}|{disease}"


def _unit_starts(state: RollupState, cities: dict[str, list[Any]]) -> list[int]:
    """When each unit (a city, or a province at the national stage) began to count."""
    if state.level == "province":
        return sorted(v[1] for v in cities.values() if v[1] is not None)
    provinces: dict[str, int] = {}
    for city, (_, since) in cities.items():
        if since is not None:
            provinces[city[:2]] = min(provinces.get(city[:2], since), since)
    return sorted(provinces.values())


def _decide(rules: list[RollupRule], starts: list[int], updated: int) -> tuple[int, int, list[str]]:
    """(rank, effective time, rule ids) of the highest tier whose rules hold."""
    rank, effective = 0, updated
    ids: list[str] = []
    for rule in rules:
        r = TIER_RANK[rule.tier]
        if len(starts) >= rule.min_units and r >= rank:
            at = starts[rule.min_units - 1]
            if r > rank:
                rank, ids, effective = r, [], at
            ids.append(rule.id)
            effective = min(effective, at)
    return rank, effective, ids


def rollup_step(
    state: RollupState,
    incident_state: IncidentState,
    rulebook: Rulebook,
) -> tuple[RollupState, list[Output]]:
    """Fold one city IncidentState into the area; returns the new state and outputs
    (snapshots of other roll-up incidents are not folded: they change nothing)."""
    s = incident_state
    rules = [r for r in rulebook.rollup if s.disease in r.diseases and r.level == state.level]
    if s.disease is None or not rules or len(s.jurisdiction) < 4:
        return state, []
    key = _key(s.status, s.disease)
    cities = dict(state.cities.get(key, {}))
    known = cities.get(s.jurisdiction)
    if known is not None and known[0] >= s.version:
        return state, []
    since = s.metrics.get("tier_since")
    active_since = round(since * SECOND) if s.tier is not None and since is not None else None
    cities[s.jurisdiction] = [s.version, active_since]
    starts = _unit_starts(state, cities)
    rank, effective, ids = _decide(rules, starts, to_us(s.updated_at))
    line = list(state.timeline.get(key, []))
    current = line[-1][1] if line else 0
    outputs: list[Output] = []
    seq = state.seq
    if rank != current:
        at = effective if rank > current else max(to_us(s.updated_at), line[-1][0])
        line.append([at, rank, sorted(ids)])
        seq += 1
        outputs += _tier_change(state, s, (current, at, rank, sorted(ids)), len(starts), rulebook)
        outputs.append(_snapshot(state, s, line, len(starts), rulebook=rulebook, seq=seq))
    new = RollupState(
        state.province, {**state.cities, key: cities}, {**state.timeline, key: line}, seq
    )
    return new, outputs


def _units(state: RollupState) -> str:
    return "provinces" if state.level == "nation" else "cities"


def _tier_change(
    state: RollupState,
    s: IncidentState,
    change: tuple[int, int, int, list[str]],
    units: int,
    rulebook: Rulebook,
) -> list[Output]:
    """The escalation of a roll-up tier change and the tasks it issues."""
    current, at, rank, ids = change
    inc = content_id("rollup", s.status, state.province, s.disease)
    escalation = Escalation(
        decision_id=content_id("decision", s.status, inc, _TIERS[rank], at, *ids),
        incident_id=inc,
        jurisdiction=state.province,
        status=s.status,
        tier=_TIERS[rank],
        previous_tier=_TIERS[current],
        effective_at=from_us(at),
        rule_ids=tuple(ids),
        evidence={_units(state): float(units)},
        rulebook_version=rulebook.version,
    )
    entry: Entry = (at, rank, tuple(ids), {})
    tasks: list[Output] = [
        Task(
            task_id=task_id,
            incident_id=inc,
            jurisdiction=state.province,
            status=s.status,
            tier=task_tier,
            agency_type=item.agency,
            action=item.action,
            issued_at=from_us(at),
            due_at=from_us(at + item.due),
        )
        for task_id, item, task_tier in task_specs(
            s.status, inc, (current, entry), compile_rulebook(rulebook)
        )
    ]
    return [escalation, *tasks]


def _snapshot(
    state: RollupState,
    s: IncidentState,
    line: list[list[Any]],
    units: int,
    *,
    rulebook: Rulebook,
    seq: int,
) -> IncidentState:
    at, rank, _ = line[-1]
    where = "the country" if state.level == "nation" else f"province {state.province}"
    return IncidentState(
        incident_id=content_id("rollup", s.status, state.province, s.disease),
        jurisdiction=state.province,
        status=s.status,
        category="infectious_disease",
        disease=s.disease,
        headline=f"{s.disease} in {units} {_units(state)} of {where}",
        tier=_TIERS[rank],
        opened_at=from_us(line[0][0]),
        updated_at=from_us(at),
        metrics={_units(state): float(units)},
        rulebook_version=rulebook.version,
        version=seq,
    )


def rollup_timeline(state: RollupState) -> list[tuple[str, str, datetime, Tier | None]]:
    """``(status, disease, effective_at, tier)`` of every roll-up tier change."""
    return [
        (k.split("|")[0], k.split("|")[1], from_us(at), _TIERS[rank])
        for k in sorted(state.timeline)
        for at, rank, _ in state.timeline[k]
    ]


def encode_rollup(state: RollupState) -> bytes:
    return orjson.dumps(
        [state.province, state.cities, state.timeline, state.seq], option=orjson.OPT_SORT_KEYS
    )


def decode_rollup(data: bytes) -> RollupState:
    province, cities, timeline, seq = orjson.loads(data)
    return RollupState(province, cities, timeline, seq)
