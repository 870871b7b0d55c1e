"""The provincial roll-up stage: rules that span cities ("cholera spread to >= 2 cities").

Input: the IncidentState snapshots the city stage emits (the newest ``version`` per city
and disease wins, so repeats and stale snapshots change nothing). A city counts for a
disease while its incident of that disease has a tier; the roll-up rule holds when at
least ``min_cities`` cities count, effective at the ``min_cities``-th earliest
``tier_since`` among them. The provincial incident (uuid5 of status, province and disease)
escalates at once and stands down, without a further quiet period (each city already had
its own), at the ``updated_at`` of the snapshot that made the rule stop holding.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson

from streams.core.eventtime import SECOND, from_us, to_us
from streams.core.ids import content_id
from streams.core.rulebook import TIER_RANK, Rulebook
from topics.models import Escalation, IncidentState, Tier

_TIERS: dict[int, Tier | None] = {0: None, **{rank: tier for tier, rank in TIER_RANK.items()}}


@dataclass(frozen=True)
class RollupState:
    """One province. ``cities``: (status, disease) -> city -> (version, tier_since | None);
    ``timeline``: (status, disease) -> [(effective_at_us, rank, rule_ids)]."""

    province: str
    cities: dict[str, dict[str, list[Any]]] = field(default_factory=dict)
    timeline: dict[str, list[list[Any]]] = field(default_factory=dict)
    seq: int = 0


def initial_rollup(province: str) -> RollupState:
    """The empty roll-up state of a province (the first 2 digits of a region code)."""
    return RollupState(province)


def _key(status: str, disease: str) -> str:
    return f"{status}|{disease}"


def rollup_step(
    state: RollupState,
    incident_state: IncidentState,
    rulebook: Rulebook,
) -> tuple[RollupState, list[Escalation | IncidentState]]:
    """Fold one city IncidentState into the province; returns the new state and outputs."""
    s = incident_state
    rules = [r for r in rulebook.rollup if s.disease in r.diseases]
    if s.disease is None or not rules:
        return state, []
    key = _key(s.status, s.disease)
    cities = dict(state.cities.get(key, {}))
    known = cities.get(s.jurisdiction)
    if known is not None and known[0] >= s.version:
        return state, []
    since = s.metrics.get("tier_since")
    active_since = round(since * SECOND) if s.tier is not None and since is not None else None
    cities[s.jurisdiction] = [s.version, active_since]
    starts = sorted(v[1] for v in cities.values() if v[1] is not None)
    rank, effective = 0, to_us(s.updated_at)
    ids: list[str] = []
    for rule in rules:
        r = TIER_RANK[rule.tier]
        if len(starts) >= rule.min_cities and r >= rank:
            at = starts[rule.min_cities - 1]
            if r > rank:
                rank, ids, effective = r, [], at
            ids.append(rule.id)
            effective = min(effective, at)
    line = list(state.timeline.get(key, []))
    current = line[-1][1] if line else 0
    outputs: list[Escalation | IncidentState] = []
    seq = state.seq
    if rank != current:
        at = effective if rank > current else max(to_us(s.updated_at), line[-1][0])
        line.append([at, rank, sorted(ids)])
        inc = content_id("rollup", s.status, state.province, s.disease)
        outputs.append(
            Escalation(
                decision_id=content_id("decision", s.status, inc, _TIERS[rank], at, *sorted(ids)),
                incident_id=inc,
                jurisdiction=state.province,
                status=s.status,
                tier=_TIERS[rank],
                previous_tier=_TIERS[current],
                effective_at=from_us(at),
                rule_ids=tuple(sorted(ids)),
                evidence={"cities": float(len(starts))},
                rulebook_version=rulebook.version,
            )
        )
        seq += 1
        outputs.append(
            IncidentState(
                incident_id=inc,
                jurisdiction=state.province,
                status=s.status,
                category="infectious_disease",
                disease=s.disease,
                headline=f"{s.disease} in {len(starts)} cities of province {state.province}",
                tier=_TIERS[rank],
                opened_at=from_us(line[0][0]),
                updated_at=from_us(at),
                metrics={"cities": float(len(starts))},
                rulebook_version=rulebook.version,
                version=seq,
            )
        )
    new = RollupState(
        state.province, {**state.cities, key: cities}, {**state.timeline, key: line}, seq
    )
    return new, outputs


def rollup_timeline(state: RollupState) -> list[tuple[str, str, datetime, Tier | None]]:
    """``(status, disease, effective_at, tier)`` of every provincial tier change."""
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
