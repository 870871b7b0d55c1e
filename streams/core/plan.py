"""The response plan and what the command view is told about incidents.

Tasks: every tier change (an entry of the timeline) issues the plan's tasks of the new
tier (``stand_down`` when the tier is dropped) to each agency; ``task_id`` is the uuid5 of
incident, tier, agency, action and effective time, so a replay issues the same ids. An
agency acks with an incident event (``msg_type: Ack``, ``ack_task_id``); a task whose due
time the watermark passes with no ack at or before it raises ``task_overdue`` once.
Tasks follow the timeline: an entry retracted by a late event takes its tasks with it.
"""

from __future__ import annotations

import heapq
from functools import lru_cache
from typing import Any

from streams.core.compiled import Compiled
from streams.core.eventtime import SECOND, from_us
from streams.core.ids import content_id
from streams.core.rulebook import TIER_ORDER
from streams.core.state import Entry, Namespace, Track
from streams.core.tiers import casualties
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


def _previous_rank(track: Track, entry: Entry) -> int:
    line = track.timeline
    i = line.index(entry) if entry in line else len(line)
    return line[i - 1][1] if i > 0 else 0


def _task_ids(inc: str, entry: Entry, comp: Compiled) -> list[tuple[str, Any]]:
    t, rank = entry[0], entry[1]
    label = TIER_BY_RANK[rank] or "stand_down"
    return [
        (content_id("task", inc, label, item.agency, item.action, t), item)
        for item in comp.plan.get(rank, ())
    ]


def timeline_changed(
    ns: Namespace,
    jurisdiction: str,
    track: Track,
    added: list[Entry],
    *,
    dropped: list[Entry],
    comp: Compiled,
    out: list[Any],
) -> None:
    """Emit the escalations and tasks of new entries; retract the tasks of dropped ones."""
    inc = incident_id(ns.status, jurisdiction, track)
    for entry in dropped:
        _retract(ns, track.key, inc, entry, comp)
    for entry in added:
        t, rank, rule_ids, evidence = entry
        prev = _previous_rank(track, entry)
        tier, previous = TIER_BY_RANK[rank], TIER_BY_RANK[prev]
        out.append(
            Escalation(
                decision_id=content_id("decision", ns.status, inc, tier, t, *rule_ids),
                incident_id=inc,
                jurisdiction=jurisdiction,
                status=ns.status,
                tier=tier,
                previous_tier=previous,
                effective_at=from_us(t),
                rule_ids=rule_ids,
                evidence=evidence,
                rulebook_version=comp.version,
            )
        )
        task_tier = tier or previous
        if task_tier is None:
            continue
        for task_id, item in _task_ids(inc, entry, comp):
            due = t + item.due
            known = ns.tasks.get(task_id)
            owners = tuple(sorted({track.key, *(known[0] if known else ())}))
            ns.tasks[task_id] = (owners, t, rank, item.agency, item.action, due, task_tier)
            if known is not None:
                continue
            heapq.heappush(ns.due_heap, (due, task_id))
            ns.next_due = min(ns.next_due, due)
            out.append(_task(ns, jurisdiction, inc, task_id))


def reissue(
    ns: Namespace, jurisdiction: str, track: Track, old_inc: str, *, comp: Compiled, out: list[Any]
) -> None:
    """The track got its agency's incident id: re-issue its timeline and tasks under it."""
    for entry in track.timeline:
        _retract(ns, track.key, old_inc, entry, comp)
    timeline_changed(ns, jurisdiction, track, list(track.timeline), dropped=[], comp=comp, out=out)


def _retract(ns: Namespace, key: str, inc: str, entry: Entry, comp: Compiled) -> None:
    """Take the track's claim off the entry's tasks (two tracks an agency gave the same
    incident id may issue the very same task: it lives while either claims it)."""
    for task_id, _ in _task_ids(inc, entry, comp):
        known = ns.tasks.get(task_id)
        if known is None or key not in known[0]:
            continue
        owners = tuple(k for k in known[0] if k != key)
        if owners:
            ns.tasks[task_id] = (owners, *known[1:])
        else:
            del ns.tasks[task_id]


def _task(
    ns: Namespace, jurisdiction: str, inc: str, task_id: str, state: str | None = None
) -> Task:
    _, t, _, agency, action, due, tier = ns.tasks[task_id]
    acked = ns.acks.get(task_id)
    if state is None:
        state = "acked" if acked is not None else "open"
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


def apply_ack(ns: Namespace, jurisdiction: str, task_id: str, t: int, out: list[Any]) -> None:
    """An agency acknowledged ``task_id`` at ``t`` (kept even before the task exists)."""
    before = ns.acks.get(task_id)
    if before is not None and before <= t:
        return
    ns.acks[task_id] = t
    task = ns.tasks.get(task_id)
    if task is not None:
        track = ns.tracks[task[0][0]]
        out.append(_task(ns, jurisdiction, incident_id(ns.status, jurisdiction, track), task_id))


def overdue(ns: Namespace, jurisdiction: str, watermark: int, out: list[Any]) -> None:
    """``task_overdue`` for every task whose due time the watermark has passed unacked."""
    heap = ns.due_heap
    while heap and heap[0][0] < watermark:
        due, task_id = heapq.heappop(heap)
        task = ns.tasks.get(task_id)
        if task is None or task[5] != due:
            continue  # retracted
        acked = ns.acks.get(task_id)
        if acked is not None and acked <= due:
            continue
        alert_id = content_id("task_overdue", ns.status, task_id)
        if alert_id in ns.alerted:
            continue
        ns.alerted.add(alert_id)
        track = ns.tracks[task[0][0]]
        inc = incident_id(ns.status, jurisdiction, track)
        out.append(_task(ns, jurisdiction, inc, task_id, "overdue"))
        out.append(
            Alert(
                alert_id=alert_id,
                alert_kind="task_overdue",
                level="orange",
                jurisdiction=jurisdiction,
                status=ns.status,
                subject_id=task_id,
                incident_id=inc,
                at=from_us(due),
                message=f"{task[3]} has not acknowledged '{task[4]}' by its due time",
                details={"agency_type": task[3], "action": task[4], "tier": task[6]},
            )
        )


def warning_alert(ns: Namespace, jurisdiction: str, track: Track, out: list[Any]) -> None:
    """``warning_opened`` once, when early-warning signals precede any agency's report."""
    marker = "warned:" + track.key  # cheap ledger check before computing the alert id
    if marker in ns.alerted:
        return
    at = min(track.warning_at.values())
    if track.reports and track.report_t[0] <= at:
        return
    alert_id = _warning_alert_id(ns.status, jurisdiction, track.key)
    ns.alerted.add(marker)
    triggers = sorted(k for k, v in track.warning_at.items() if v == at)
    out.append(
        Alert(
            alert_id=alert_id,
            alert_kind="warning_opened",
            level="yellow",
            jurisdiction=jurisdiction,
            status=ns.status,
            subject_id=incident_id(ns.status, jurisdiction, track),
            incident_id=incident_id(ns.status, jurisdiction, track),
            at=from_us(at),
            message=f"early warning for {track.disease}: {', '.join(triggers)}",
            details={"triggers": triggers, "disease": track.disease},
        )
    )


@lru_cache(maxsize=65536)
def _warning_alert_id(status: str, jurisdiction: str, key: str) -> str:
    return content_id("warning_opened", status, jurisdiction, key)


def visible(track: Track) -> bool:
    """An incident the command view shows: declared, warned about, or ever tiered."""
    return bool(track.reports or track.warning_at or track.timeline)


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
    return IncidentState.model_construct(
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
        version=ns.seq,
    )
