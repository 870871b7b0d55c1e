"""Stock and beds: burn rate, days of cover, ``stock_low``.

Each (site_id, item) keeps its snapshots in event-time order. Between successive
snapshots the consumption is ``prev_on_hand + received - on_hand``; the burn rate at a
snapshot is the consumption of the snapshots in the trailing window (rulebook
``stock.burn_window_days``) over the time they span, per day; ``days_of_cover = on_hand /
burn_rate_per_day`` (None when the burn is not positive). Every snapshot yields a
StockLevel; a late snapshot re-emits those of the later snapshots whose burn it changed.

``stock_low`` (watched items only) is raised at every snapshot whose level (yellow /
orange / red by days of cover) differs from the level of the snapshot before it in event
time, so the alerts of a series depend on its snapshots, not on their arrival; a late
snapshot that changes them retracts the old ones. ``bed.*`` items at hospitals are free
beds (EDXL-HAVE AvailableCount); :func:`on_hand_at` reads them as of an instant.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable
from typing import Any, NamedTuple

from streams.core.alerts import alert, show
from streams.core.compiled import Compiled
from streams.core.eventtime import DAY, NEVER, from_us
from streams.core.series import Series, instants_in, span
from streams.core.state import Namespace, Work
from streams.core.totals import snapshot_added, totals_of
from topics.models import StockEvent
from topics.outputs import Alert, StockLevel


def apply_stock(
    work: Work,
    ns: Namespace,
    jurisdiction: str,
    ev: StockEvent,
    t: int,
    *,
    comp: Compiled,
    out: list[Any],
) -> bool:
    """Fold one snapshot in; emit its StockLevel, those it changed, and the stock alerts.
    Returns False for a snapshot already seen."""
    key = (ev.site_id, ev.item)
    found = ns.stock.get(key)
    i = 0
    if found is not None:
        i, seen = _position(found, t, ev.event_id)
        if seen:
            return False
    series = work.series(ns, key)  # ``found`` or a version over its rows: same position
    meta = (ev.site_type, ev.unit, ev.baseline, ev.convertible)
    if i and series.meta[i - 1] == meta:
        meta = series.meta[i - 1]  # one object fewer a snapshot to keep (and to collect)
    series.insert(i, t, ev.event_id, on_hand=ev.on_hand, received=ev.received or 0.0, meta=meta)
    snapshot_added(work, ns, key, i)
    times, cons, on_hand, n = series.times, series.cons, series.on_hand, series.n
    for j in range(max(i, 1), n):
        cons[j] = cons[j - 1] + on_hand[j - 1] + series.received[j] - on_hand[j]
    if ev.item.startswith("bed.") and ev.site_id not in ns.beds.get(ev.item, ()):
        ns.beds[ev.item] = tuple(sorted((*ns.beds.get(ev.item, ()), ev.site_id)))
    # the snapshots whose trailing window now starts at or before the new one
    end = n if i + 1 == n else bisect_left(times, times[i + 1] + comp.burn_window, 0, n)
    end = max(end, i + 1)
    for j in range(i, end):
        burn = burn_rate(series, j, comp.burn_window)
        cover = on_hand[j] / burn if burn is not None and burn > 0 else None
        if j == i or (burn, cover) != (series.burn[j], series.cover[j]):
            series.burn[j], series.cover[j] = burn, cover
            out.append(stock_level(ns, jurisdiction, key, j, comp=comp))
    if comp.watches_stock(ev.item):
        for j in range(i, min(end + 1, n)):
            _stock_alert(ns, jurisdiction, key, series, j, comp=comp, out=out)
    return True


def stock_level(
    ns: Namespace, jurisdiction: str, key: tuple[str, str], j: int, *, comp: Compiled
) -> StockLevel:
    """Row ``j`` of the series ``key`` with what the core derived from it; for an item of the
    stockpile catalogue, also its use a day at full load as of the row's time."""
    series = ns.stock[key]
    site_type, unit, baseline, convertible = series.meta[j]
    per_day = cover_full = None
    entry = next((e for e in comp.stockpile.get(key[1], ()) if e.item == key[1]), None)
    if entry is not None:
        beds = bed_capacity(ns, entry.beds, series.times[j])
        if beds > 0:
            per_day = entry.per_bed_day * beds
            cover_full = series.on_hand[j] / per_day
    return StockLevel(
        site_id=key[0],
        site_type=site_type,
        jurisdiction=jurisdiction,
        status=ns.status,
        item=key[1],
        unit=unit,
        at=from_us(series.times[j]),
        on_hand=series.on_hand[j],
        baseline=baseline,
        convertible=convertible,
        burn_rate_per_day=series.burn[j],
        days_of_cover=series.cover[j],
        full_load_per_day=per_day,
        days_at_full_load=cover_full,
    )


def bed_capacity(ns: Namespace, item: str, at: int) -> float:
    """The baselines of each hospital's latest ``item`` snapshot at or before ``at`` that
    carries one: the beds occupied at full load."""
    return totals_of(ns, item).at(at).baseline if item in ns.beds else 0.0


def _position(series: Series, t: int, eid: str) -> tuple[int, bool]:
    """Where (t, eid) goes in the series, and whether it is already there."""
    times, eids, n = series.times, series.eids, series.n
    i = bisect_left(times, t, 0, n)
    while i < n and times[i] == t and eids[i] < eid:
        i += 1
    return i, i < n and times[i] == t and eids[i] == eid


def burn_rate(series: Series, i: int, window: int) -> float | None:
    """Consumption per day at snapshot ``i`` over the trailing window (None: no history)."""
    times = series.times
    first = max(bisect_right(times, times[i] - window, 0, series.n), 1)
    if first > i:
        return None
    elapsed = times[i] - times[first - 1]
    if elapsed <= 0:
        return None
    return (series.cons[i] - series.cons[first - 1]) * DAY / elapsed


def _level_name(cover: float | None, comp: Compiled) -> str | None:
    if cover is not None:
        for days, name in comp.stock_levels:  # a loop: a generator costs more than 3 steps
            if cover < days:
                return name
    return None


def _stock_alert(
    ns: Namespace,
    jurisdiction: str,
    key: tuple[str, str],
    series: Series,
    j: int,
    *,
    comp: Compiled,
    out: list[Any],
) -> None:
    """Snapshot ``j``'s alert: its level, when that differs from the level before it."""
    cover = series.cover[j]
    level = _level_name(cover, comp)
    wanted: tuple[tuple[Any, ...], ...] = ()
    if level is not None and (j == 0 or level != _level_name(series.cover[j - 1], comp)):
        wanted = ((series.times[j], series.eids[j], level, cover, series.on_hand[j]),)
    site, item = key
    subject = f"s:{site}/{item}/{series.times[j]}/{series.eids[j]}"
    if not wanted and subject not in ns.shown:
        return  # the common snapshot: no alert, none to take back

    def build(params: tuple[Any, ...], gone: bool) -> Alert:
        t, eid, level, cover, on_hand = params
        return alert(
            ns,
            jurisdiction,
            "stock_low",
            level,
            about=(site, item, t, eid, level, cover, on_hand),
            at=t,
            message=f"{item} at {site}: {cover:.1f} days of cover",
            details={"site_id": site, "item": item, "days_of_cover": cover, "on_hand": on_hand},
            subject=f"{site}/{item}",
            gone=gone,
        )

    show(ns, subject, wanted, build, out)


class Snapshot(NamedTuple):
    on_hand: float
    baseline: float | None
    convertible: float | None


def snapshot_at(ns: Namespace, site: str, item: str, t: int) -> Snapshot | None:
    """The site's latest ``item`` snapshot at or before ``t`` (None: none)."""
    series = ns.stock.get((site, item))
    if series is None:
        return None
    i = bisect_right(series.times, t, 0, series.n)
    if not i:
        return None
    meta = series.meta[i - 1]
    return Snapshot(series.on_hand[i - 1], meta[2], meta[3])


def on_hand_at(ns: Namespace, site: str, item: str, t: int) -> float | None:
    """The site's ``item`` on hand in its latest snapshot at or before ``t`` (None: none)."""
    snap = snapshot_at(ns, site, item, t)
    return snap.on_hand if snap is not None else None


def next_snapshot(ns: Namespace, site: str, item: str, t: int) -> int:
    """The time of the site's first ``item`` snapshot after ``t`` (NEVER: none)."""
    series = ns.stock[(site, item)]
    i = bisect_right(series.times, t, 0, series.n)
    return series.times[i] if i < series.n else NEVER


def instants_from(
    ns: Namespace, keys: Iterable[tuple[str, str]], changed: tuple[str, str], t: int
) -> tuple[int, list[int]]:
    """A new snapshot of series ``changed`` at ``t`` changes what the series ``keys`` say
    together at the instants from ``t`` to ``changed``'s next snapshot (inclusive): those
    instants (the times any of them reported), sorted, and the latest instant before ``t``
    (-1: none), whose state the first of them is compared with."""
    found = (ns.stock.get(key) for key in keys)
    end = next_snapshot(ns, *changed, t)
    return instants_in(span(s.times, s.n, t, end) for s in found if s is not None)
