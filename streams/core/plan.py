"""The response plan and what the command view is told about incidents.

Escalations: one per timeline entry, ``decision_id`` the uuid5 of its whole content
(incident, tier, effective time, rules, the tier it leaves, evidence). An entry a late
event drops or changes is re-emitted with ``retracted=True`` beside the recomputed one.

Tasks (the ledger is :mod:`streams.core.tasks`, shared with the roll-up stages): every
tier change issues the plan's tasks of the new tier, each under its track's claim. Tasks
follow the timeline: an entry a late event drops takes its tasks (state ``retracted``)
and their overdue alerts (``retracted``) with it.
"""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from typing import Any

from streams.core.alerts import alert, show
from streams.core.compiled import Compiled
from streams.core.declared import declared_now, recommended_alert
from streams.core.eventtime import SECOND, from_us
from streams.core.forecast import metrics as forecast_metrics
from streams.core.ids import content_id
from streams.core.state import Namespace, Track
from streams.core.tasks import (
    TIER_BY_RANK,
    apply_ack,
    forget_early_acks,
    issue_tasks,
    overdue,
    task_specs,
    verify_warning,
    withdraw_tasks,
)
from streams.core.tier_metrics import casualties
from streams.core.tiers import Pair
from topics.outputs import Alert, Escalation, IncidentState
from topics.vocabulary import Status

# The city stage's entry points (streams.core.engine), the task ledger's among them.
__all__ = [
    "TIER_BY_RANK",
    "apply_ack",
    "forget_early_acks",
    "incident_id",
    "incident_state",
    "merged_state",
    "name_of",
    "overdue",
    "pairs",
    "reissue",
    "tier_periods",
    "timeline_changed",
    "visible",
    "warning_alert",
]


def incident_id(status: str, jurisdiction: str, track: Track) -> str:
    """The track's incident id: the earliest id an event gave it, else the warning id."""
    return name_of(status, jurisdiction, track.key, track.name_key)


def name_of(
    status: str,
    jurisdiction: str,
    key: str,
    name_key: tuple[int, str, str] | None,
) -> str:
    """The incident id a track of ``key`` has with naming candidate ``name_key``."""
    return name_key[2] if name_key is not None else _warning_id(status, jurisdiction, key)


@lru_cache(maxsize=65536)
def _warning_id(status: str, jurisdiction: str, key: str) -> str:
    return content_id("warning", status, jurisdiction, key)


def pairs(track: Track) -> list[Pair]:
    """The track's timeline as (rank before, entry): what its escalations say."""
    ranks = [0] + [e[1] for e in track.timeline]
    return list(zip(ranks, track.timeline, strict=False))


def escalation(
    status: Status,
    inc: str,
    jurisdiction: str,
    pair: Pair,
    *,
    version: str,
    scope: tuple[str, ...] = (),
    gone: bool = False,
) -> Escalation:
    """The Escalation of tier change ``pair`` of incident ``inc`` (the city stage's and the
    roll-up stages' alike); its id is the uuid5 of its content, ``scope`` included."""
    prev, (t, rank, rule_ids, evidence) = pair
    tier, previous = TIER_BY_RANK[rank], TIER_BY_RANK[prev]
    shown = ";".join(f"{k}={v!r}" for k, v in sorted(evidence.items()))
    return Escalation(
        decision_id=content_id(
            "decision", status, inc, *scope, tier, t, previous, shown, *rule_ids
        ),
        incident_id=inc,
        jurisdiction=jurisdiction,
        status=status,
        tier=tier,
        previous_tier=previous,
        effective_at=from_us(t),
        rule_ids=rule_ids,
        evidence=evidence,
        rulebook_version=version,
        retracted=gone,
    )


def _escalation(
    ns: Namespace,
    jurisdiction: str,
    track: Track,
    inc: str,
    pair: Pair,
    *,
    comp: Compiled,
    gone: bool,
) -> Escalation:
    # the track key in the id: two tracks an agency gave one incident id decide apart
    return escalation(
        ns.status, inc, jurisdiction, pair, version=comp.version, scope=(track.key,), gone=gone
    )


def timeline_changed(
    ns: Namespace,
    jurisdiction: str,
    track: Track,
    added: list[Pair],
    *,
    dropped: list[Pair],
    comp: Compiled,
    watermark: int,
    out: list[Any],
) -> None:
    """Retract the escalations and tasks of dropped entries, emit those of added ones.
    The tasks: the plan's (``auto_declare``: the recommendation is the declaration), or
    else the command agency's joint assessment, with a ``tier_recommended`` alert."""
    inc = incident_id(ns.status, jurisdiction, track)
    assess = not comp.auto_declare
    kept = {
        spec[0] for pair in added for spec in task_specs(ns.status, inc, pair, comp, assess=assess)
    }
    for pair in dropped:
        out.append(_escalation(ns, jurisdiction, track, inc, pair, comp=comp, gone=True))
        if assess:
            out.append(recommended_alert(ns, jurisdiction, inc, pair, gone=True))
        withdraw_tasks(
            ns, jurisdiction, track.key, inc, pair, comp=comp, kept=kept, out=out, assess=assess
        )
    for pair in added:
        out.append(_escalation(ns, jurisdiction, track, inc, pair, comp=comp, gone=False))
        if assess:
            out.append(recommended_alert(ns, jurisdiction, inc, pair, gone=False))
        issue_tasks(
            ns,
            jurisdiction,
            track.key,
            inc,
            pair,
            comp=comp,
            watermark=watermark,
            out=out,
            assess=assess,
        )


def reissue(
    ns: Namespace,
    jurisdiction: str,
    track: Track,
    old_inc: str,
    *,
    comp: Compiled,
    watermark: int,
    out: list[Any],
) -> None:
    """The track got its agency's incident id: retract its escalations and tasks under the
    old id and re-issue them under the new one."""
    line = pairs(track)
    assess = not comp.auto_declare
    for pair in line:
        out.append(_escalation(ns, jurisdiction, track, old_inc, pair, comp=comp, gone=True))
        if assess:
            out.append(recommended_alert(ns, jurisdiction, old_inc, pair, gone=True))
        withdraw_tasks(
            ns, jurisdiction, track.key, old_inc, pair, comp=comp, kept=(), out=out, assess=assess
        )
    timeline_changed(
        ns, jurisdiction, track, line, dropped=[], comp=comp, watermark=watermark, out=out
    )


def warning_alert(
    ns: Namespace,
    jurisdiction: str,
    track: Track,
    out: list[Any],
    *,
    comp: Compiled,
    watermark: int,
) -> None:
    """``warning_opened`` when early-warning signals precede every agency's report: at the
    earliest instant a trigger held, naming the triggers that held then; with it the
    rulebook's verification task (withdrawn with the warning)."""
    subject = "w:" + track.key
    wanted: tuple[tuple[Any, ...], ...] = ()
    if track.warning_at:
        at = min(track.warning_at.values())
        if not (track.reports and track.report_t[0] <= at):
            triggers = tuple(sorted(k for k, v in track.warning_at.items() if v == at))
            inc = incident_id(ns.status, jurisdiction, track)
            wanted = ((at, triggers, inc, track.disease),)
    elif subject not in ns.shown:
        return

    def build(params: tuple[Any, ...], gone: bool) -> Alert:
        at, triggers, inc, disease = params
        return alert(
            ns,
            jurisdiction,
            "warning_opened",
            "yellow",
            about=(jurisdiction, inc, disease, at, *triggers),
            at=at,
            message=f"early warning for {disease}: {', '.join(triggers)}",
            details={"triggers": list(triggers), "disease": disease},
            subject=inc,
            incident=inc,
            gone=gone,
        )

    before = ns.shown.get(subject, ())
    if before != wanted:
        verify_warning(
            ns,
            jurisdiction,
            track.key,
            (wanted[0][2], wanted[0][0]) if wanted else None,
            gone=(before[0][2], before[0][0]) if before else None,
            comp=comp,
            watermark=watermark,
            out=out,
        )
    show(ns, subject, wanted, build, out)


def visible(track: Track) -> bool:
    """An incident the command view shows: declared, warned about, or ever tiered."""
    return bool(track.reports or track.warning_at or track.timeline)


def merged_state(
    ns: Namespace, jurisdiction: str, track: Track, old_inc: str, comp: Compiled
) -> IncidentState | None:
    """The last snapshot of incident ``old_inc``, which the track's incident took over:
    ``closed``, ``merged_into`` its successor, with a new version so it replaces the old
    row. None while another track still goes by ``old_inc`` (an agency's id two tracks
    share)."""
    if any(
        other is not track
        and visible(other)
        and incident_id(ns.status, jurisdiction, other) == old_inc
        for other in ns.tracks.values()
    ):
        return None
    now = incident_state(ns, jurisdiction, track, comp)
    return now.model_copy(
        update={"incident_id": old_inc, "phase": "closed", "merged_into": now.incident_id}
    )


def incident_state(ns: Namespace, jurisdiction: str, track: Track, comp: Compiled) -> IncidentState:
    """The current picture of the track's incident (``version`` from the namespace ledger)."""
    ns.seq += 1
    rank = track.tier_rank
    metrics: dict[str, float] = {
        "confirmed_total": float(len(track.times)),
        "cases_dead": float(track.counters["dead"]),
        "cases_critical": float(track.counters["critical"]),
        **forecast_metrics(ns, track, comp),
    }
    figures = casualties(track, len(track.reports) - 1)
    if figures is not None:
        total, dead, critical = figures
        metrics.update(casualties=float(total), dead=float(dead), critical=float(critical))
    since = next((e[0] for e in reversed(track.timeline) if e[1] == 0), None)
    starts = [e[0] for e in track.timeline if e[1] > 0 and (since is None or e[0] > since)]
    if rank and starts:
        metrics["tier_since"] = starts[0] / SECOND
    if track.warning_at:
        metrics["warning_at"] = min(track.warning_at.values()) / SECOND
    report = track.reports[-1] if track.reports else None
    declared, declared_at, declared_by, lag = declared_now(track, comp.auto_declare)
    latest = track.latest
    updated = max(track.updated_at, track.timeline[-1][0] if track.timeline else track.updated_at)
    return IncidentState(
        incident_id=incident_id(ns.status, jurisdiction, track),
        jurisdiction=jurisdiction,
        status=ns.status,
        category=(
            "unknown_cluster"  # a disease the rulebook does not list, no agency report yet
            if not track.reports and track.disease is not None and not comp.knows(track.disease)
            else track.category
        ),
        disease=track.disease,
        headline=report[8] if report else "",
        phase=report[7] if report else "reported",
        warning=not track.reports and bool(track.warning_at),
        tier=TIER_BY_RANK[rank],
        declared_tier=TIER_BY_RANK[declared],
        declared_at=from_us(declared_at) if declared_at is not None else None,
        declared_by=declared_by,
        decision_lag_s=lag / SECOND if lag is not None else None,
        opened_at=from_us(track.opened_at),
        updated_at=from_us(updated),
        metrics=metrics,
        region=latest[2] if latest else None,
        lat=latest[3] if latest else None,
        lon=latest[4] if latest else None,
        rulebook_version=comp.version,
        tier_periods=tier_periods(track.timeline),
        version=ns.seq,
    )


def tier_periods(timeline: Any) -> tuple[tuple[datetime, datetime | None], ...]:
    """(since, until) of each stretch of ``timeline`` (entries ``(at, rank, ...)``) with
    a tier; ``until`` None for one still open."""
    periods: list[tuple[datetime, datetime | None]] = []
    since: int | None = None
    for entry in timeline:
        at, rank = entry[0], entry[1]
        if rank and since is None:
            since = at
        elif not rank and since is not None:
            periods.append((from_us(since), from_us(at)))
            since = None
    if since is not None:
        periods.append((from_us(since), None))
    return tuple(periods)
