"""Declarations: what the core emits for the declared tier (the timelines themselves are
:mod:`streams.core.declared`).

* An incident ``Update`` with ``declared_tier`` from an agency type the rulebook's
  ``authority.declare_by`` names is kept on its track (:func:`note_declaration`); from any
  other agency type it is rejected: an alert ``declaration_rejected`` says why, and the
  event changes nothing else.
* Each declared change is an Escalation with ``basis: declared`` (who, reason), and,
  unless the rulebook has ``auto_declare``, it issues the plan's tasks of the declared
  tier (``stand_down`` for ``none``). With ``auto_declare`` the recommendation is the
  declaration: tasks follow the recommended changes (as before declarations existed) and a
  declaration is only recorded.
* Without ``auto_declare`` a recommended change raises ``tier_recommended`` and the command
  agency's joint-assessment task (:func:`streams.core.plan.timeline_changed`), and a gap
  longer than ``authority.declare_within_hours`` raises ``declaration_overdue``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, NamedTuple

from streams.core.alerts import alert, show
from streams.core.cases import disease_key
from streams.core.compiled import Compiled, compile_rulebook
from streams.core.declared import DeclaredChange, decision_lag, declared_changes, overdue_gaps
from streams.core.eventtime import HOUR, NEVER, from_us, to_us
from streams.core.plan import escalation, incident_id, name_of
from streams.core.rulebook import TIER_RANK, Rulebook
from streams.core.state import CoreState, Namespace, Track
from streams.core.tasks import (
    TIER_BY_RANK,
    issue_tasks,
    task_specs,
    verification_task_id,
    withdraw_tasks,
)
from streams.core.tiers import Pair
from topics.models import IncidentEvent
from topics.outputs import Alert, Escalation
from topics.vocabulary import Status, Tier


def declared_rank(ev: IncidentEvent) -> int:
    """The rank an event declares (0: ``none``, stand down)."""
    tier = ev.declared_tier
    return 0 if tier is None or tier == "none" else TIER_RANK[tier]


def note_declaration(track: Track, ev: IncidentEvent, t: int) -> bool:
    """Keep an authorised declaration on its track; False if it was seen already."""
    entry = (t, ev.event_id, declared_rank(ev), ev.source.agency_id, ev.reason)
    decls = track.decls
    i = len(decls)
    while i and decls[i - 1][:2] > entry[:2]:  # mostly in order: insert from the end
        i -= 1
    if i and decls[i - 1][:2] == entry[:2]:
        return False
    decls.insert(i, entry)
    return True


def rejected(ns: Namespace, jurisdiction: str, ev: IncidentEvent, t: int, comp: Compiled) -> Alert:
    """``declaration_rejected``: an agency type without authority declared a tier."""
    allowed = ", ".join(sorted(comp.declare_by))
    return alert(
        ns,
        jurisdiction,
        "declaration_rejected",
        "yellow",
        about=(ev.event_id,),
        at=t,
        message=(
            f"{ev.source.agency_id} ({ev.source.agency_type}) may not declare tier "
            f"{ev.declared_tier}: the rulebook lets {allowed} declare; ignored"
        ),
        details={
            "event_id": ev.event_id,
            "agency_id": ev.source.agency_id,
            "agency_type": ev.source.agency_type,
            "declared_tier": ev.declared_tier,
            "declare_by": sorted(comp.declare_by),
        },
        subject=ev.event_id,
        incident=ev.incident_id,
    )


def _pair(change: DeclaredChange) -> Pair:
    return change.previous, (change.at, change.rank, (), {})


def _escalation(
    ns: Namespace,
    jurisdiction: str,
    track: Track,
    inc: str,
    change: DeclaredChange,
    *,
    comp: Compiled,
    gone: bool,
) -> Escalation:
    esc = escalation(
        ns.status,
        inc,
        jurisdiction,
        _pair(change),
        version=comp.version,
        scope=(track.key, "declared", change.agency_id, change.reason),
        gone=gone,
    )
    return esc.model_copy(
        update={"basis": "declared", "declared_by": change.agency_id, "reason": change.reason}
    )


def sync_declared(
    ns: Namespace,
    jurisdiction: str,
    track: Track,
    before: tuple[str, list[DeclaredChange]] | None,
    *,
    comp: Compiled,
    watermark: int,
    out: list[Any],
) -> None:
    """Emit what changed in the track's declared timeline since ``before`` (its incident
    id and declared changes then): retract the escalations and tasks of changes gone (or
    named under an old id), issue those of new ones."""
    inc = incident_id(ns.status, jurisdiction, track)
    now = declared_changes(track.decls)
    old_inc, old = before if before is not None else (inc, [])
    if old_inc == inc and old == now:
        return
    renamed = old_inc != inc
    tasks = not comp.auto_declare
    kept = (
        {spec[0] for c in now for spec in task_specs(ns.status, inc, _pair(c), comp)}
        if tasks
        else set()
    )
    for change in old:
        if renamed or change not in now:
            out.append(_escalation(ns, jurisdiction, track, old_inc, change, comp=comp, gone=True))
            if tasks:
                withdraw_tasks(
                    ns,
                    jurisdiction,
                    track.key,
                    old_inc,
                    _pair(change),
                    comp=comp,
                    kept=kept,
                    out=out,
                )
    for change in now:
        if renamed or change not in old:
            out.append(_escalation(ns, jurisdiction, track, inc, change, comp=comp, gone=False))
            if tasks:
                issue_tasks(
                    ns,
                    jurisdiction,
                    track.key,
                    inc,
                    _pair(change),
                    comp=comp,
                    watermark=watermark,
                    out=out,
                )


def declaration_due(
    ns: Namespace,
    jurisdiction: str,
    track: Track,
    *,
    comp: Compiled,
    watermark: int,
    out: list[Any],
) -> None:
    """``declaration_overdue`` for each gap longer than the limit whose deadline the
    watermark has passed (retracted when a late event closes it in time); sets
    ``track.decl_due`` to the next deadline ahead."""
    late, ahead = (
        ([], None) if comp.auto_declare else overdue_gaps(track, comp.declare_within, watermark)
    )
    track.decl_due = NEVER if ahead is None else ahead
    inc = incident_id(ns.status, jurisdiction, track)
    wanted = tuple((g.start, g.recommended, g.declared, inc) for g in late)
    if not wanted and "d:" + track.key not in ns.shown:
        return
    hours = comp.declare_within / HOUR

    def build(params: tuple[Any, ...], gone: bool) -> Alert:
        start, rec, dec, inc_id = params
        return alert(
            ns,
            jurisdiction,
            "declaration_overdue",
            "orange",
            about=(inc_id, track.key, start, rec, dec),
            at=start + comp.declare_within,
            message=(
                f"rules recommend {TIER_BY_RANK[rec]} since {from_us(start):%Y-%m-%d %H:%M}Z, "
                f"declared {TIER_BY_RANK[dec] or 'none'}: not declared within {hours:g} h"
            ),
            details={
                "recommended_tier": TIER_BY_RANK[rec],
                "declared_tier": TIER_BY_RANK[dec],
                "since": from_us(start).isoformat(),
                "limit_hours": hours,
            },
            subject=inc_id,
            incident=inc_id,
            gone=gone,
        )

    show(ns, "d:" + track.key, wanted, build, out)


class DeclaredEntry(NamedTuple):
    """One declared tier change of one incident (``tier`` None: stood down)."""

    incident_id: str
    declared_at: datetime
    tier: Tier | None
    previous_tier: Tier | None
    declared_by: str
    reason: str
    decision_lag: timedelta | None  # from the recommendation of that tier (None: none)


def declared_timeline(state: CoreState, status: Status = "Actual") -> tuple[DeclaredEntry, ...]:
    """Every declared tier change of every incident of ``status``, sorted by (time,
    incident): the second timeline beside :func:`streams.core.engine.tier_timeline`."""
    ns = state.namespaces.get(status)
    if ns is None:
        return ()
    rows = sorted(
        (
            c.at,
            incident_id(status, state.jurisdiction, track),
            key,
            c,
            decision_lag(track.timeline, c),
        )
        for key, track in ns.tracks.items()
        for c in declared_changes(track.decls)
    )
    return tuple(
        DeclaredEntry(
            inc,
            from_us(t),
            TIER_BY_RANK[c.rank],
            TIER_BY_RANK[c.previous],
            c.agency_id,
            c.reason,
            None if lag is None else timedelta(microseconds=lag),
        )
        for t, inc, _, c, lag in rows
    )


def assessment_task_id(
    status: str,
    inc: str,
    *,
    tier: Tier | None,
    previous: Tier | None,
    at: datetime,
    rulebook: Rulebook,
) -> str:
    """The id of the joint-assessment task a recommendation of ``tier`` (None: stand
    down) after ``previous`` at ``at`` gives the command agency: what it acks (a
    scenario's acks name it)."""
    pair: Pair = (
        TIER_RANK[previous] if previous else 0,
        (to_us(at), TIER_RANK[tier] if tier else 0, (), {}),
    )
    ((task_id, _, _),) = task_specs(status, inc, pair, compile_rulebook(rulebook), assess=True)
    return task_id


def warning_incident_id(status: str, jurisdiction: str, disease: str) -> str:
    """The id of the incident the multi-point warning opens for ``disease`` in
    ``jurisdiction`` (what ``tierflow board --ids`` shows): the id a declaration names to
    declare on that incident without renaming it."""
    return name_of(status, jurisdiction, disease_key(disease), None)


def verification_id(status: str, inc: str, *, opened_at: datetime, rulebook: Rulebook) -> str:
    """The id of the verification task of the warning of incident ``inc`` opened at
    ``opened_at``: what the checking agency acks (a scenario's acks name it)."""
    return verification_task_id(status, inc, to_us(opened_at), compile_rulebook(rulebook))
