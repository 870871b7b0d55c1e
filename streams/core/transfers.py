"""Patient transfers: the state machine, ``transfer_delayed`` and ``capacity_redirect``.

requested → dispatched → en_route → arrived | cancelled. The state is the furthest one
reported; the first terminal report (by event time) wins. Skipped steps are accepted (a
missing report is not an error) and reports that go backwards are kept but do not move
the state back — order-insensitive, and nothing is lost.

Both alerts are functions of the events, whatever order they arrive in:

* ``capacity_redirect``: a non-terminal report at ``t`` (no arrival or cancellation at or
  before it) sending the patient to facility F with required bed B, where F's latest
  ``bed.B`` snapshot with occurred_at <= t has 0 on hand. One alert per (transfer, F, B),
  at the earliest such report; the suggestion is the facility of the jurisdiction
  :func:`streams.core.ranking.best_facility` ranks first as of that instant (with a
  facility registry: designated, reserve, then the rest; then most free B beds; then
  nearest), with the reason. A bed snapshot that arrives
  late re-evaluates the requests it can change (those from its time to the site's next
  snapshot).
* ``transfer_delayed``: the eta of the latest report has passed (watermark) with no
  arrival at or before it and no cancellation.
"""

from __future__ import annotations

import heapq
from bisect import bisect_left, insort
from typing import Any

from streams.core.alerts import alert, show
from streams.core.eventtime import HOUR, from_us, to_us
from streams.core.facilities import FacilityIndex
from streams.core.ranking import best_facility
from streams.core.state import Namespace, edited, pack, transfer_record, unpack
from streams.core.stock import next_snapshot, on_hand_at
from topics.models import TransferEvent
from topics.outputs import Alert

TRANSFER_STATES = ("requested", "dispatched", "en_route", "arrived", "cancelled")
_STATE_INDEX = {s: i for i, s in enumerate(TRANSFER_STATES)}
ARRIVED, CANCELLED = 3, 4

# Transfer record: (reached, latest_key, latest, asks)
#   reached: per state, the earliest (t, event_id) that reported it, or None
#   latest: (from_facility, to_facility, required_bed, eta, case_id) of the latest report
#   asks: the non-terminal reports, sorted: (t, event_id, to_facility, bed item, incident_id)
Transfer = tuple[Any, ...]


def apply_transfer(
    ns: Namespace,
    jurisdiction: str,
    ev: TransferEvent,
    t: int,
    *,
    facilities: FacilityIndex,
    watermark: int,
    out: list[Any],
) -> None:
    """Fold one transfer report in; may raise or retract its alerts."""
    transfer_id = ev.transfer_id
    key = (t, ev.event_id)
    state = _STATE_INDEX[ev.transfer_status]
    eta = to_us(ev.eta) if ev.eta is not None else None
    fields = (ev.from_facility, ev.to_facility, ev.required_bed, eta, ev.case_id)
    old = transfer_record(ns, transfer_id)
    asks: tuple[tuple[Any, ...], ...]
    if old is None:
        reached: list[Any] = [None] * len(TRANSFER_STATES)
        latest_key, latest, asks = key, fields, ()
    else:
        reached, latest_key, latest, asks = list(old[0]), old[1], old[2], old[3]
        if key > latest_key:
            latest_key, latest = key, fields
    if reached[state] is None or key < reached[state]:
        reached[state] = key
    if state < ARRIVED:
        ask = (t, ev.event_id, ev.to_facility, "bed." + ev.required_bed, ev.incident_id)
        if ask not in asks:
            asks = tuple(sorted((*asks, ask)))
            index_ask(ns, ask[3], t, transfer_id)
    new = (tuple(reached), latest_key, latest, asks)
    if new == old:
        return
    ns.touched["x"].add(transfer_id)
    edited(ns.transfers)[transfer_id] = pack(new)
    if latest[3] is not None and (old is None or old[2][3] != latest[3]):
        heapq.heappush(ns.eta_heap, (latest[3], transfer_id))
        ns.next_due = min(ns.next_due, latest[3])
    _redirects(ns, jurisdiction, transfer_id, new, facilities, out)
    _delay(ns, jurisdiction, transfer_id, new, watermark=watermark, out=out)


def index_ask(ns: Namespace, item: str, t: int, transfer_id: str) -> None:
    """Index a request by (bed item, hour) so a late bed snapshot finds what it changes."""
    bucket = (item, t // HOUR)
    found = ns.asks.get(bucket, ())
    if (t, transfer_id) not in found:
        entries = list(found)
        insort(entries, (t, transfer_id))
        edited(ns.asks)[bucket] = tuple(entries)
    ns.ask_last[item] = max(ns.ask_last.get(item, t), t)


def beds_changed(
    ns: Namespace,
    jurisdiction: str,
    changed: tuple[str, str],
    t: int,
    *,
    facilities: FacilityIndex,
    out: list[Any],
) -> None:
    """A ``bed.*`` snapshot of ``site`` at ``t`` arrived: re-evaluate the redirects of the
    requests for that bed type between ``t`` and the site's next snapshot that it can
    change: those with a redirect shown (its suggestion ranks every site), and, when
    ``site`` has no free bed from ``t`` on, those with a request to ``site``. Any other
    one wants no redirect and still wants none: its destinations' beds are not ``site``'s,
    or ``site`` has beds free at its request (as it had: no redirect is shown for it).

    Why the last condition: a late snapshot re-evaluates every request after it, until
    the site's next snapshot, so a backfill of bed reports costs O(requests after each
    report); re-evaluating only what it can change keeps that cost to a scan."""
    site, item = changed
    last = ns.ask_last.get(item)
    if last is None or last < t:
        return  # the common case: no request since
    until = next_snapshot(ns, site, item, t)
    full = on_hand_at(ns, site, item, t) == 0  # what the site says until ``until``
    seen: set[str] = set()
    for h in range(t // HOUR, min(last, until) // HOUR + 1):
        entries = ns.asks.get((item, h), ())
        for at, transfer_id in entries[bisect_left(entries, (t,)) :]:
            if at >= until:
                break
            if transfer_id not in seen:
                seen.add(transfer_id)
                shown = "r:" + transfer_id in ns.shown
                if not (shown or full):
                    continue  # (unpacked only when it may be re-evaluated: a backfill scans)
                rec = unpack(ns.transfers[transfer_id])
                if shown or any(ask[2] == site for ask in rec[3]):
                    _redirects(ns, jurisdiction, transfer_id, rec, facilities, out)


def _terminal(reached: tuple[Any, ...]) -> tuple[int, str] | None:
    arrived: tuple[int, str] | None = reached[ARRIVED]
    cancelled: tuple[int, str] | None = reached[CANCELLED]
    if arrived is None or cancelled is None:
        return arrived if cancelled is None else cancelled
    return min(arrived, cancelled)


def _redirects(  # noqa: PLR0917 - the two callers pass the same six
    ns: Namespace,
    jurisdiction: str,
    transfer_id: str,
    rec: Transfer,
    facilities: FacilityIndex,
    out: list[Any],
) -> None:
    reached, _, _, asks = rec
    end = _terminal(reached)
    wanted: dict[tuple[str, str], tuple[Any, ...]] = {}
    for t, eid, dest, item, inc in asks:
        if end is not None and end <= (t, eid):
            break
        if (dest, item) not in wanted and on_hand_at(ns, dest, item, t) == 0:
            wanted[(dest, item)] = (
                dest,
                item,
                t,
                inc,
                best_facility(ns, item, dest, t, facilities.by_id),
            )
    if not wanted and "r:" + transfer_id not in ns.shown:
        return

    def build(params: tuple[Any, ...], gone: bool) -> Alert:
        dest, item, t, inc, best = params
        bed = item.removeprefix("bed.")
        version = facilities.version
        shown = (best[:2] if best else None,) if version is None else (best, version)
        suggestion = (
            f"redirect to {best[0]} ({best[2]})" if best else "no free bed in the jurisdiction"
        )
        return alert(
            ns,
            jurisdiction,
            "capacity_redirect",
            "orange",
            # the reason and the registry's version add to the id only when there is a
            # registry (ids as before without)
            about=(transfer_id, dest, item, t, inc, *shown),
            at=t,
            message=f"{dest} has no free {bed} bed: {suggestion}",
            details={
                "to_facility": dest,
                "required_bed": bed,
                "suggested_facility": best[0] if best else None,
                "suggested_free": best[1] if best else None,
                "reason": best[2] if best else None,
                "registry_version": version,
            },
            subject=transfer_id,
            incident=inc,
            gone=gone,
        )

    show(ns, "r:" + transfer_id, tuple(wanted[k] for k in sorted(wanted)), build, out)


def _state_at(reached: tuple[Any, ...], t: int) -> str:
    """The furthest non-terminal state reported at or before ``t``."""
    found = [s for s in range(ARRIVED) if reached[s] is not None and reached[s][0] <= t]
    return TRANSFER_STATES[max(found)] if found else "requested"


def _delay(
    ns: Namespace,
    jurisdiction: str,
    transfer_id: str,
    rec: Transfer,
    *,
    watermark: int,
    out: list[Any],
) -> None:
    reached, _, latest, _ = rec
    eta = latest[3]
    wanted: tuple[tuple[Any, ...], ...] = ()
    arrived = reached[ARRIVED]
    if (
        eta is not None
        and eta < watermark
        and reached[CANCELLED] is None
        and not (arrived is not None and arrived[0] <= eta)
    ):
        wanted = ((eta, latest[1], _state_at(reached, eta)),)
    elif "d:" + transfer_id not in ns.shown:
        return

    def build(params: tuple[Any, ...], gone: bool) -> Alert:
        eta, dest, state = params
        return alert(
            ns,
            jurisdiction,
            "transfer_delayed",
            "yellow",
            about=(transfer_id, eta, dest, state),
            at=eta,
            message=f"transfer {transfer_id} to {dest} not arrived by its eta",
            details={"to_facility": dest, "eta": from_us(eta).isoformat(), "state": state},
            subject=transfer_id,
            gone=gone,
        )

    show(ns, "d:" + transfer_id, wanted, build, out)


def delayed(ns: Namespace, jurisdiction: str, watermark: int, out: list[Any]) -> None:
    """The watermark moved: ``transfer_delayed`` for transfers whose eta it passed."""
    heap = ns.eta_heap
    while heap and heap[0][0] < watermark:
        eta, transfer_id = heapq.heappop(heap)
        rec = unpack(ns.transfers[transfer_id])
        if rec[2][3] == eta:
            _delay(ns, jurisdiction, transfer_id, rec, watermark=watermark, out=out)
