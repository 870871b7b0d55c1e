"""The response plan and what the command view is told about incidents.

Escalations: one per timeline entry, ``decision_id`` the uuid5 of its whole content
(incident, tier, effective time, rules, the tier it leaves, evidence). An entry a late
event drops or changes is re-emitted with ``retracted=True`` beside the recomputed one.

Tasks: every tier change issues the plan's tasks of the new tier (``stand_down`` when
the tier is dropped) to each agency; ``task_id`` is the uuid5 of incident, tier change,
agency, action and effective time, so a replay issues the same ids. A task's state is a
function of the events: ``acked`` once an agency acked it (incident event, ``msg_type:
Ack``, ``ack_task_id``), else ``overdue`` once the watermark passed its due time, else
``open``; ``task_overdue`` is raised when the due time passed with no ack at or before
it. Tasks follow the timeline: an entry a late event drops takes its tasks (state
``retracted``) and their overdue alerts (``retracted``) with it.
"""

from __future__ import annotations

import heapq
from datetime import datetime
from functools import lru_cache
from typing import Any

from streams.core.alerts import alert, retracted, show
from streams.core.compiled import Compiled, PlanItem
from streams.core.eventtime import SECOND, from_us
from streams.core.ids import content_id
from streams.core.rulebook import TIER_ORDER
from streams.core.state import Namespace, Track, edited
from streams.core.tiers import Pair, casualties
from topics.models import Alert, Escalation, IncidentState, Task, Tier

TIER_BY_RANK: dict[int, Tier | None] = {0: None, **dict(enumerate(TIER_ORDER, start=1))}


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
    prev, (t, rank, rule_ids, evidence) = pair
    tier, previous = TIER_BY_RANK[rank], TIER_BY_RANK[prev]
    shown = ";".join(f"{k}={v!r}" for k, v in sorted(evidence.items()))
    # the track key too: two tracks an agency gave one incident id decide apart
    parts = (ns.status, inc, track.key, tier, t, previous, shown, *rule_ids)
    return Escalation(
        decision_id=content_id("decision", *parts),
        incident_id=inc,
        jurisdiction=jurisdiction,
        status=ns.status,
        tier=tier,
        previous_tier=previous,
        effective_at=from_us(t),
        rule_ids=rule_ids,
        evidence=evidence,
        rulebook_version=comp.version,
        retracted=gone,
    )


def task_specs(
    status: str, inc: str, pair: Pair, comp: Compiled
) -> list[tuple[str, PlanItem, Tier]]:
    """(task_id, plan item, task tier) of the tasks a tier change issues (the city stage's
    and the roll-up stages' alike)."""
    prev, (t, rank, _, _) = pair
    tier, previous = TIER_BY_RANK[rank], TIER_BY_RANK[prev]
    task_tier = tier or previous
    if task_tier is None:
        return []
    label = tier or f"stand_down:{previous}"
    return [
        (content_id("task", status, inc, label, item.agency, item.action, t), item, task_tier)
        for item in comp.plan.get(rank, ())
    ]


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
    """Retract the escalations and tasks of dropped entries, emit those of added ones."""
    inc = incident_id(ns.status, jurisdiction, track)
    kept = {spec[0] for pair in added for spec in task_specs(ns.status, inc, pair, comp)}
    for pair in dropped:
        out.append(_escalation(ns, jurisdiction, track, inc, pair, comp=comp, gone=True))
        for task_id, _, _ in task_specs(ns.status, inc, pair, comp):
            if task_id not in kept:
                _unclaim(ns, jurisdiction, track.key, task_id, out)
    for pair in added:
        out.append(_escalation(ns, jurisdiction, track, inc, pair, comp=comp, gone=False))
        t = pair[1][0]
        for task_id, item, task_tier in task_specs(ns.status, inc, pair, comp):
            known = ns.tasks.get(task_id)
            owners = tuple(sorted({track.key, *(known[0] if known else ())}))
            due = t + item.due
            ns.tasks[task_id] = (owners, t, item.agency, item.action, due, task_tier, inc)
            if known is None:
                heapq.heappush(ns.due_heap, (due, task_id))
                ns.next_due = min(ns.next_due, due)
                _show_task(ns, jurisdiction, task_id, watermark, out)


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
    for pair in line:
        out.append(_escalation(ns, jurisdiction, track, old_inc, pair, comp=comp, gone=True))
        for task_id, _, _ in task_specs(ns.status, old_inc, pair, comp):
            _unclaim(ns, jurisdiction, track.key, task_id, out)
    timeline_changed(
        ns, jurisdiction, track, line, dropped=[], comp=comp, watermark=watermark, out=out
    )


def _unclaim(ns: Namespace, jurisdiction: str, key: str, task_id: str, out: list[Any]) -> None:
    """Take the track's claim off a task (two tracks an agency gave the same incident id
    may issue the very same task: it lives while either claims it); retract it when
    no claim is left."""
    known = ns.tasks.get(task_id)
    if known is None or key not in known[0]:
        return
    owners = tuple(k for k in known[0] if k != key)
    if owners:
        ns.tasks[task_id] = (owners, *known[1:])
        return
    shown = edited(ns.shown).pop("t:" + task_id, None)
    if shown is not None:
        out.append(_task(ns, jurisdiction, task_id, "retracted", shown[1]))
    alert_id = _overdue_id(ns.status, task_id)
    if alert_id in ns.alerted:
        ns.alerted.discard(alert_id)
        out.append(retracted(_overdue_alert(ns, jurisdiction, task_id)))
    del ns.tasks[task_id]


def _task(ns: Namespace, jurisdiction: str, task_id: str, state: str, acked: int | None) -> Task:
    _, t, agency, action, due, tier, inc = ns.tasks[task_id]
    return Task(
        task_id=task_id,
        incident_id=inc,
        jurisdiction=jurisdiction,
        status=ns.status,
        tier=tier,
        agency_type=agency,
        action=action,
        issued_at=from_us(t),
        due_at=from_us(due),
        state=state,
        acked_at=from_us(acked) if acked is not None else None,
    )


def _show_task(
    ns: Namespace, jurisdiction: str, task_id: str, watermark: int, out: list[Any]
) -> None:
    """Emit the task if its state (acked / overdue / open) differs from the last shown."""
    acked = ns.acks.get(task_id)
    due = ns.tasks[task_id][4]
    state = "acked" if acked is not None else "overdue" if due < watermark else "open"
    key = "t:" + task_id
    if ns.shown.get(key) == (state, acked):
        return
    edited(ns.shown)[key] = (state, acked)
    out.append(_task(ns, jurisdiction, task_id, state, acked))


def apply_ack(
    ns: Namespace, jurisdiction: str, task_id: str, t: int, *, watermark: int, out: list[Any]
) -> None:
    """An agency acknowledged ``task_id`` at ``t`` (kept even before the task exists)."""
    before = ns.acks.get(task_id)
    if before is not None and before <= t:
        return
    ns.acks[task_id] = t
    task = ns.tasks.get(task_id)
    if task is None:
        return
    _show_task(ns, jurisdiction, task_id, watermark, out)
    alert_id = _overdue_id(ns.status, task_id)
    if t <= task[4] and alert_id in ns.alerted:  # acked in time after all
        ns.alerted.discard(alert_id)
        out.append(retracted(_overdue_alert(ns, jurisdiction, task_id)))


def overdue(ns: Namespace, jurisdiction: str, watermark: int, out: list[Any]) -> None:
    """``task_overdue`` for every task whose due time the watermark has passed unacked."""
    heap = ns.due_heap
    while heap and heap[0][0] < watermark:
        due, task_id = heapq.heappop(heap)
        if task_id not in ns.tasks:
            continue  # retracted
        _show_task(ns, jurisdiction, task_id, watermark, out)
        acked = ns.acks.get(task_id)
        if acked is not None and acked <= due:
            continue
        alert_id = _overdue_id(ns.status, task_id)
        if alert_id in ns.alerted:
            continue
        ns.alerted.add(alert_id)
        out.append(_overdue_alert(ns, jurisdiction, task_id))


def _overdue_id(status: str, task_id: str) -> str:
    return content_id("task_overdue", status, task_id)


def _overdue_alert(ns: Namespace, jurisdiction: str, task_id: str) -> Alert:
    _, _, agency, action, due, tier, inc = ns.tasks[task_id]
    return alert(
        ns,
        jurisdiction,
        "task_overdue",
        "orange",
        about=(task_id,),
        at=due,
        message=f"{agency} has not acknowledged '{action}' by its due time",
        details={"agency_type": agency, "action": action, "tier": tier},
        subject=task_id,
        incident=inc,
    )


def warning_alert(ns: Namespace, jurisdiction: str, track: Track, out: list[Any]) -> None:
    """``warning_opened`` when early-warning signals precede every agency's report: at the
    earliest instant a trigger held, naming the triggers that held then."""
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
    latest = track.latest
    updated = max(track.updated_at, track.timeline[-1][0] if track.timeline else track.updated_at)
    return IncidentState(
        incident_id=incident_id(ns.status, jurisdiction, track),
        jurisdiction=jurisdiction,
        status=ns.status,
        category=track.category,
        disease=track.disease,
        headline=report[8] if report else "",
        phase=report[7] if report else "reported",
        warning=not track.reports and bool(track.warning_at),
        tier=TIER_BY_RANK[rank],
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
