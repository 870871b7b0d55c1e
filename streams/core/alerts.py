"""Alerts as a function of event-time state, and their retraction.

Every alert kind is computed per *subject* (a transfer, a track, a stock series) from
the events seen, never from the order they arrived in. The namespace ledger ``shown``
keeps, per subject, the parameters of the alerts last emitted for it; when a late event
changes what the subject should say, :func:`show` emits the new alerts and, for each one
no longer wanted, a copy with ``retracted=True`` (same id). Alert ids are uuid5 of the
whole content, so a changed alert is a new id and the sinks never confuse two versions.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from streams.core.eventtime import from_us, to_us
from streams.core.ids import content_id
from streams.core.state import Namespace, edited
from topics.outputs import Alert, AlertKind, AlertLevel

Params = tuple[Any, ...]


def show(
    ns: Namespace,
    subject: str,
    wanted: tuple[Params, ...],
    build: Callable[[Params, bool], Alert],
    out: list[Any],
) -> None:
    """Make ``subject``'s emitted alerts those of ``wanted``: retract what is no longer
    wanted, emit what is new (``build(params, retracted)`` makes the alert)."""
    before = ns.shown.get(subject, ())
    if before == wanted:
        return
    out.extend(build(p, True) for p in before if p not in wanted)
    out.extend(build(p, False) for p in wanted if p not in before)
    ns.touched["w"].add(subject)
    if wanted:
        edited(ns.shown)[subject] = wanted
    else:
        del edited(ns.shown)[subject]


def retracted(alert: Alert) -> Alert:
    """The retraction of an alert emitted before: the same alert with ``retracted``."""
    return alert.model_copy(update={"retracted": True})


def alert(
    ns: Namespace,
    jurisdiction: str,
    kind: AlertKind,
    level: AlertLevel,
    *,
    about: tuple[Any, ...],
    at: int,
    message: str,
    details: dict[str, Any],
    subject: str,
    incident: str | None = None,
    gone: bool = False,
) -> Alert:
    """An alert of ``ns`` whose id is the uuid5 of its kind, status and ``about`` (every
    part of its content that can vary for its subject)."""
    return Alert(
        alert_id=content_id(kind, ns.status, *about),
        alert_kind=kind,
        level=level,
        jurisdiction=jurisdiction,
        status=ns.status,
        subject_id=subject,
        incident_id=incident,
        at=from_us(at),
        message=message,
        details=details,
        retracted=gone,
    )


def reporting_late(ns: Namespace, jurisdiction: str, ev: Any, late_us: int, out: list[Any]) -> None:
    """``reporting_late`` (blue) for input event ``ev``, reported ``late_us`` after it
    occurred: once per event."""
    alert_id = content_id("reporting_late", ns.status, ev.event_id)
    if alert_id in ns.alerted:
        return
    ns.alerted.add(alert_id)
    hours = late_us / 3_600_000_000
    out.append(
        alert(
            ns,
            jurisdiction,
            "reporting_late",
            "blue",
            about=(ev.event_id,),
            at=to_us(ev.reported_at),
            message=f"{ev.source.agency_id} reported {ev.kind} {hours:.1f} h after it occurred",
            details={
                "agency_id": ev.source.agency_id,
                "kind": ev.kind,
                "late_hours": hours,
                "occurred_at": ev.occurred_at.isoformat(),
            },
            subject=ev.event_id,
            incident=ev.incident_id,
        )
    )
