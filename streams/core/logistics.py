"""Stock, beds and patient transfers.

Stock: each (site_id, item) keeps its snapshots in event-time order. Between successive
snapshots the consumption is ``prev_on_hand + received - on_hand``; the burn rate at a
snapshot is the consumption of the snapshots in the trailing window (rulebook
``stock.burn_window_days``) over the time they span, per day; ``days_of_cover = on_hand /
burn_rate_per_day`` (None when the burn is not positive). Every stock event yields a
StockLevel for its own snapshot; the newest snapshot of a watched item raises
``stock_low`` when its level (yellow/orange/red by days of cover) changes to a new one.
``bed.*`` items at hospitals are free beds (EDXL-HAVE AvailableCount).

Transfers: requested → dispatched → en_route → arrived | cancelled. The state is the
furthest one reported; the first terminal report (by event time) wins. Skipped steps are
accepted (a missing report is not an error) and reports that go backwards are kept but do
not move the state back — order-insensitive, and nothing is lost.
``transfer_delayed`` once the watermark passes ``eta`` with no arrival at or before it;
``capacity_redirect`` when the destination's latest free ``bed.<required_bed>`` is 0:
the suggestion is the facility in the jurisdiction with the most free beds of that type
(ties: smallest id).
"""

from __future__ import annotations

import heapq
from bisect import bisect_left, bisect_right
from typing import Any

from streams.core.compiled import Compiled
from streams.core.eventtime import DAY, from_us, to_us
from streams.core.ids import content_id
from streams.core.state import Namespace, Series, Work
from topics.models import Alert, StockEvent, StockLevel, TransferEvent

TRANSFER_STATES = ("requested", "dispatched", "en_route", "arrived", "cancelled")
_STATE_INDEX = {s: i for i, s in enumerate(TRANSFER_STATES)}
ARRIVED, CANCELLED = 3, 4


def apply_stock(
    work: Work,
    ns: Namespace,
    jurisdiction: str,
    ev: StockEvent,
    t: int,
    *,
    comp: Compiled,
    out: list[Any],
) -> None:
    """Fold one stock snapshot in and emit its StockLevel (and a stock alert)."""
    key = (ev.site_id, ev.item)
    found = ns.stock.get(key)
    if found is not None and _position(found, t, ev.event_id)[1]:
        return  # seen
    series = work.series(ns, key)
    i, _ = _position(series, t, ev.event_id)
    series.times.insert(i, t)
    series.eids.insert(i, ev.event_id)
    series.on_hand.insert(i, ev.on_hand)
    series.received.insert(i, ev.received or 0.0)
    series.cons.insert(i, 0.0)
    for j in range(max(i, 1), len(series.times)):
        series.cons[j] = (
            series.cons[j - 1] + series.on_hand[j - 1] + series.received[j] - series.on_hand[j]
        )
    newest = i == len(series.times) - 1
    if newest:
        series.meta = (ev.site_type, ev.unit, ev.baseline)
    if ev.item.startswith("bed.") and ev.site_id not in ns.beds.get(ev.item, ()):
        ns.beds[ev.item] = tuple(sorted((*ns.beds.get(ev.item, ()), ev.site_id)))
    burn = burn_rate(series, i, comp.burn_window)
    cover = ev.on_hand / burn if burn is not None and burn > 0 else None
    out.append(
        StockLevel.model_construct(
            site_id=ev.site_id,
            site_type=ev.site_type,
            jurisdiction=jurisdiction,
            status=ns.status,
            item=ev.item,
            unit=ev.unit,
            at=ev.occurred_at,
            on_hand=ev.on_hand,
            baseline=ev.baseline,
            burn_rate_per_day=burn,
            days_of_cover=cover,
        )
    )
    if newest and comp.watches_stock(ev.item):
        _stock_alert(ns, jurisdiction, ev, t, cover=cover, comp=comp, out=out)


def _position(series: Series, t: int, eid: str) -> tuple[int, bool]:
    """Where (t, eid) goes in the series, and whether it is already there."""
    times, eids = series.times, series.eids
    i = bisect_left(times, t)
    while i < len(times) and times[i] == t and eids[i] < eid:
        i += 1
    return i, i < len(times) and times[i] == t and eids[i] == eid


def burn_rate(series: Series, i: int, window: int) -> float | None:
    """Consumption per day at snapshot ``i`` over the trailing window (None: no history)."""
    times = series.times
    first = max(bisect_right(times, times[i] - window), 1)
    if first > i:
        return None
    elapsed = times[i] - times[first - 1]
    if elapsed <= 0:
        return None
    return (series.cons[i] - series.cons[first - 1]) * DAY / elapsed


def _stock_alert(
    ns: Namespace,
    jurisdiction: str,
    ev: StockEvent,
    t: int,
    *,
    cover: float | None,
    comp: Compiled,
    out: list[Any],
) -> None:
    level = None
    if cover is not None:
        level = next((name for days, name in comp.stock_levels if cover < days), None)
    key = (ev.site_id, ev.item)
    if ns.stock_level.get(key) == level:
        return
    if level is None:
        del ns.stock_level[key]
        return
    ns.stock_level[key] = level
    out.append(
        Alert(
            alert_id=content_id("stock_low", ns.status, ev.site_id, ev.item, level, t),
            alert_kind="stock_low",
            level=level,
            jurisdiction=jurisdiction,
            status=ns.status,
            subject_id=f"{ev.site_id}/{ev.item}",
            at=ev.occurred_at,
            message=f"{ev.item} at {ev.site_id}: {cover:.1f} days of cover",
            details={
                "site_id": ev.site_id,
                "item": ev.item,
                "days_of_cover": cover,
                "on_hand": ev.on_hand,
            },
        )
    )


def _latest_on_hand(ns: Namespace, site: str, item: str) -> float | None:
    series = ns.stock.get((site, item))
    return series.on_hand[-1] if series is not None and series.times else None


def best_facility(ns: Namespace, item: str, exclude: str) -> tuple[str, float] | None:
    """The site with the most free ``item`` (ties: smallest id), other than ``exclude``."""
    best: tuple[str, float] | None = None
    for site in ns.beds.get(item, ()):
        free = _latest_on_hand(ns, site, item)
        if site != exclude and free is not None and free > 0 and (best is None or free > best[1]):
            best = (site, free)
    return best


def apply_transfer(
    ns: Namespace, jurisdiction: str, ev: TransferEvent, t: int, out: list[Any]
) -> None:
    """Fold one transfer report in; may raise ``capacity_redirect``."""
    key = (t, ev.event_id)
    state = _STATE_INDEX[ev.transfer_status]
    eta = to_us(ev.eta) if ev.eta is not None else None
    fields = (ev.from_facility, ev.to_facility, ev.required_bed, eta, ev.case_id)
    old = ns.transfers.get(ev.transfer_id)
    if old is None:
        reached: list[Any] = [None] * len(TRANSFER_STATES)
        latest_key, latest = key, fields
    else:
        reached, latest_key, latest = list(old[0]), old[1], old[2]
        if key > latest_key:
            latest_key, latest = key, fields
    if reached[state] is None or key < reached[state]:
        reached[state] = key
    new = (tuple(reached), latest_key, latest)
    if new == old:
        return
    ns.transfers[ev.transfer_id] = new
    if latest[3] is not None:
        heapq.heappush(ns.eta_heap, (latest[3], ev.transfer_id))
        ns.next_due = min(ns.next_due, latest[3])
    if current_state(new) < ARRIVED:
        _redirect(ns, jurisdiction, latest, ev, out)


def current_state(rec: tuple[Any, ...]) -> int:
    reached = rec[0]
    terminal = [(reached[s], s) for s in (ARRIVED, CANCELLED) if reached[s] is not None]
    if terminal:
        return min(terminal)[1]
    return max(s for s in range(ARRIVED) if reached[s] is not None)


def _redirect(
    ns: Namespace, jurisdiction: str, latest: tuple[Any, ...], ev: TransferEvent, out: list[Any]
) -> None:
    transfer_id = ev.transfer_id
    dest, bed = latest[1], latest[2]
    item = "bed." + bed
    if _latest_on_hand(ns, dest, item) != 0:
        return
    alert_id = content_id("capacity_redirect", ns.status, transfer_id, dest, item)
    if alert_id in ns.alerted:
        return
    ns.alerted.add(alert_id)
    best = best_facility(ns, item, dest)
    suggestion = (
        f"redirect to {best[0]} ({best[1]:g} free)" if best else "no free bed in the jurisdiction"
    )
    out.append(
        Alert(
            alert_id=alert_id,
            alert_kind="capacity_redirect",
            level="orange",
            jurisdiction=jurisdiction,
            status=ns.status,
            subject_id=transfer_id,
            incident_id=ev.incident_id,
            at=ev.occurred_at,
            message=f"{dest} has no free {bed} bed: {suggestion}",
            details={
                "to_facility": dest,
                "required_bed": bed,
                "suggested_facility": best[0] if best else None,
                "suggested_free": best[1] if best else None,
            },
        )
    )


def delayed(ns: Namespace, jurisdiction: str, watermark: int, out: list[Any]) -> None:
    """``transfer_delayed`` for transfers whose eta the watermark has passed unarrived."""
    heap = ns.eta_heap
    while heap and heap[0][0] < watermark:
        eta, transfer_id = heapq.heappop(heap)
        rec = ns.transfers[transfer_id]
        reached = rec[0]
        if rec[2][3] != eta or reached[CANCELLED] is not None:
            continue
        if reached[ARRIVED] is not None and reached[ARRIVED][0] <= eta:
            continue
        alert_id = content_id("transfer_delayed", ns.status, transfer_id, eta)
        if alert_id in ns.alerted:
            continue
        ns.alerted.add(alert_id)
        out.append(
            Alert(
                alert_id=alert_id,
                alert_kind="transfer_delayed",
                level="yellow",
                jurisdiction=jurisdiction,
                status=ns.status,
                subject_id=transfer_id,
                at=from_us(eta),
                message=f"transfer {transfer_id} to {rec[2][1]} not arrived by its eta",
                details={
                    "to_facility": rec[2][1],
                    "eta": from_us(eta).isoformat(),
                    "state": TRANSFER_STATES[current_state(rec)],
                },
            )
        )
