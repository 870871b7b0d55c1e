"""Whole streams and read-outs: :func:`fold` from empty states, and the recommended tier
timeline of a state (:func:`tier_timeline`; the declared one is
:func:`streams.core.declare.declared_timeline`)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, NamedTuple

from streams.core.engine import InputEvent, Output, step_many
from streams.core.eventtime import from_us
from streams.core.plan import TIER_BY_RANK, incident_id
from streams.core.rulebook import Rulebook
from streams.core.state import CoreState, initial_state
from topics.outputs import Tick
from topics.vocabulary import Status, Tier


class TimelineEntry(NamedTuple):
    """One tier change of one incident: ``tier`` None means stood down."""

    incident_id: str
    effective_at: Any  # datetime (aware, UTC)
    tier: Tier | None
    rule_ids: tuple[str, ...]
    evidence: dict[str, float]


def fold(
    events: Iterable[InputEvent | Tick], rulebook: Rulebook, jurisdiction_digits: int = 4
) -> tuple[dict[str, CoreState], list[Output]]:
    """Fold a whole stream from empty states, grouped by jurisdiction (the first
    ``jurisdiction_digits`` of ``region``). Ticks with a jurisdiction go to it; ticks
    without one go to every jurisdiction of the stream, in stream order."""
    stream = list(events)
    groups: dict[str, list[InputEvent | Tick]] = {}
    for ev in stream:
        if isinstance(ev, Tick):
            if ev.jurisdiction is not None:
                groups.setdefault(ev.jurisdiction, [])
        else:
            groups.setdefault(ev.region[:jurisdiction_digits], [])
    for ev in stream:
        if isinstance(ev, Tick):
            for juris in groups if ev.jurisdiction is None else (ev.jurisdiction,):
                groups[juris].append(ev)
        else:
            groups[ev.region[:jurisdiction_digits]].append(ev)
    states: dict[str, CoreState] = {}
    outputs: list[Output] = []
    for juris in sorted(groups):
        states[juris], out = step_many(initial_state(juris), groups[juris], rulebook)
        outputs.extend(out)
    return states, outputs


def tier_timeline(state: CoreState, status: Status = "Actual") -> tuple[TimelineEntry, ...]:
    """Every tier change of every incident of ``status``, sorted by (effective_at, incident)."""
    ns = state.namespaces.get(status)
    if ns is None:
        return ()
    rows = sorted(
        (t, incident_id(status, state.jurisdiction, track), key, rank, ids, evidence)
        for key, track in ns.tracks.items()
        for t, rank, ids, evidence in track.timeline
    )  # (time, incident, track) is unique: later fields never need comparing
    return tuple(
        TimelineEntry(inc, from_us(t), TIER_BY_RANK[rank], ids, evidence)
        for t, inc, _, rank, ids, evidence in rows
    )
