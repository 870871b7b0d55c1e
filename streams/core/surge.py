"""Peacetime/wartime conversion (平战转换, issue 15 item 2; rulebook ``resources.surge``).

* The order: the first declared change of an incident to a tier at or above the surge
  ``level`` (default II), at its event time ``t``. It issues one task to each designated
  and reserve hospital of the jurisdiction in the facility registry (sorted by id): "open
  the convertible beds", to the surge ``agency``, due ``due_hours`` after ``t``, through
  the task ledger (acked and overdue like every task). The tasks follow the declared
  timeline: a late declaration that moves the order, or the incident's new id, retracts
  them and issues the new ones.
* A conversion: a hospital's earliest acked order task, acked at ``a``, opens at
  ``a + lead_hours`` the ``convertible`` beds of its latest ``item`` snapshot at or before
  ``a`` (none, or none given: nothing). From then on the jurisdiction's ICU line
  (:mod:`streams.core.icu_line`) counts them as free and as capacity.

Everything here is a function of the declarations, the acks and the snapshots, so the
same for any arrival order.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from streams.core.alerts import alert, show
from streams.core.compiled import Compiled, PlanItem
from streams.core.declared import DeclaredChange, declared_changes
from streams.core.eventtime import from_us
from streams.core.facilities import Facility
from streams.core.icu_line import CONVERTED, Conversion, IcuLine
from streams.core.ids import content_id
from streams.core.plan import incident_id
from streams.core.rulebook import TIER_RANK
from streams.core.state import Namespace, Track
from streams.core.stock import snapshot_at
from streams.core.tasks import claim, unclaim
from topics.outputs import Alert

SURGE_ACTION = "平战转换"  # what every conversion task's action starts with
Order = tuple[str, int | None]  # (incident id, order time; None: not ordered)


def hospitals(comp: Compiled, jurisdiction: str) -> tuple[Facility, ...]:
    """The designated and reserve hospitals of the jurisdiction, by id."""
    return tuple(
        f
        for fid, f in sorted(comp.facilities.by_id.items())
        if f.designation != "none"
        and f.type == "hospital"
        and (f.jurisdiction.startswith(jurisdiction) or jurisdiction.startswith(f.jurisdiction))
    )


def order_time(changes: Sequence[DeclaredChange], comp: Compiled) -> int | None:
    """When the declared tier first reached the surge level (None: never, or no surge)."""
    surge = comp.surge
    if surge is None:
        return None
    level = TIER_RANK[surge.level]
    return next((c.at for c in changes if c.rank >= level), None)


def conversion_task_id(status: str, incident: str, site: str, item: str, ordered_at: int) -> str:
    """The id of the task ordering ``site`` to open its ``item`` beds for ``incident``,
    ordered at ``ordered_at`` (what the hospital's ack names)."""
    return content_id("task", status, incident, "convert", site, item, ordered_at)


def _tasks(
    status: str, jurisdiction: str, order: Order, comp: Compiled
) -> list[tuple[str, PlanItem]]:
    inc, t = order
    surge = comp.surge
    if t is None or surge is None:
        return []
    return [
        (
            conversion_task_id(status, inc, f.id, surge.item, t),
            PlanItem(
                surge.agency,
                f"{SURGE_ACTION}: open the convertible {surge.item} beds of {f.id} "
                f"({f.name}) within {surge.lead_hours:g} h",
                round(surge.due_hours * 3_600_000_000),
            ),
        )
        for f in hospitals(comp, jurisdiction)
    ]


def sync_surge(
    ns: Namespace,
    jurisdiction: str,
    track: Track,
    before: Order | None,
    *,
    comp: Compiled,
    watermark: int,
    out: list[Any],
) -> int | None:
    """Issue and retract the track's conversion tasks after its declarations (or its
    incident id) changed from ``before``. Returns the earliest instant the jurisdiction's
    conversions may have changed from (None: they did not)."""
    if comp.surge is None:
        return None
    now = (
        incident_id(ns.status, jurisdiction, track),
        order_time(declared_changes(track.decls), comp),
    )
    old = before if before is not None else (now[0], None)
    if old == now:
        return None
    lead = round(comp.surge.lead_hours * 3_600_000_000)
    moved: list[int] = []
    new = _tasks(ns.status, jurisdiction, now, comp)
    kept = {task_id for task_id, _ in new}
    for task_id, _ in _tasks(ns.status, jurisdiction, old, comp):
        if task_id not in kept:
            if task_id in ns.acks:
                moved.append(ns.acks[task_id] + lead)
            unclaim(ns, jurisdiction, track.key, task_id, out)
    level = comp.surge.level
    for task_id, item in new:
        spec = (now[1] or 0, item, level, now[0])
        claim(
            ns, jurisdiction, track.key, task_id, spec=spec, comp=comp, watermark=watermark,
            out=out,
        )  # fmt: skip
        if task_id in ns.acks:  # an ack that came before its task
            moved.append(ns.acks[task_id] + lead)
    return min(moved, default=None)


def conversion_opens(ns: Namespace, task_id: str, comp: Compiled) -> int | None:
    """When the conversion an acked task ordered opens (None: not an acked conversion)."""
    task = ns.tasks.get(task_id)
    if comp.surge is None or task is None or not task[3].startswith(SURGE_ACTION):
        return None
    acked = ns.acks.get(task_id)
    return None if acked is None else acked + round(comp.surge.lead_hours * 3_600_000_000)


def conversions(ns: Namespace, jurisdiction: str, comp: Compiled) -> tuple[Conversion, ...]:
    """Each hospital's conversion (its earliest acked order), by opening time."""
    surge = comp.surge
    if surge is None or not ns.acks or not hospitals(comp, jurisdiction):
        return ()  # the common case (no registry, or nothing acked): no track to look at
    lead = round(surge.lead_hours * 3_600_000_000)
    acked: dict[str, int] = {}
    for track in ns.tracks.values():
        if not track.decls:
            continue
        order = (
            incident_id(ns.status, jurisdiction, track),
            order_time(declared_changes(track.decls), comp),
        )
        if order[1] is None:
            continue
        for f, (task_id, _) in zip(
            hospitals(comp, jurisdiction), _tasks(ns.status, jurisdiction, order, comp), strict=True
        ):
            a = ns.acks.get(task_id)
            if a is not None and a < acked.get(f.id, a + 1):
                acked[f.id] = a
    found = []
    for site, a in sorted(acked.items()):
        snap = snapshot_at(ns, site, surge.item, a)
        beds = snap.convertible if snap is not None else None
        if beds:
            found.append(Conversion(site, a + lead, beds))
    return tuple(sorted(found, key=lambda c: (c.opens_at, c.site)))


def conversions_changed(
    ns: Namespace, jurisdiction: str, *, comp: Compiled, out: list[Any]
) -> int | None:
    """Make the ``beds_converted`` alerts what the state says now; returns the earliest
    opening of a conversion that came, went or changed (None: none did)."""
    surge = comp.surge
    if surge is None:
        return None
    subject = CONVERTED + surge.item
    before: tuple[tuple[Any, ...], ...] = ns.shown.get(subject, ())
    wanted: tuple[tuple[Any, ...], ...] = tuple(map(tuple, conversions(ns, jurisdiction, comp)))
    if before == wanted:
        return None
    lead = round(surge.lead_hours * 3_600_000_000)
    item = surge.item

    def build(params: tuple[Any, ...], gone: bool) -> Alert:
        site, opens_at, beds = params
        return alert(
            ns,
            jurisdiction,
            "beds_converted",
            "info",
            about=(item, *params),
            at=opens_at,
            message=(
                f"{SURGE_ACTION}: {beds:g} {item} beds of {site} open at "
                f"{from_us(opens_at).isoformat()}"
            ),
            details={
                "item": item,
                "beds": beds,
                "acked_at": from_us(opens_at - lead).isoformat(),
                "opens_at": from_us(opens_at).isoformat(),
            },
            subject=f"{site}/{item}",
            gone=gone,
        )

    show(ns, subject, wanted, build, out)
    changed: int = min(p[1] for p in set(before) ^ set(wanted))
    return changed


def jurisdiction_line(ns: Namespace, jurisdiction: str, comp: Compiled) -> IcuLine:
    """The jurisdiction's line of the ICU item, with its conversions of that item (worked
    out when first needed)."""
    item = comp.icu_item
    if comp.surge is None or comp.surge.item != item:
        return IcuLine(ns, item)
    return IcuLine(ns, item, lambda: conversions(ns, jurisdiction, comp))


def icu_line_for(ns: Namespace, jurisdiction: str, comp: Compiled, track: Track) -> IcuLine | None:
    """The ICU line ``track``'s rules read (None: they read no ICU occupancy)."""
    if not comp.reads_icu(track.disease, track.category):
        return None
    return jurisdiction_line(ns, jurisdiction, comp)
