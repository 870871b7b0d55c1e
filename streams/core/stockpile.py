"""The stockpile catalogue: ``stockpile_short`` and replenishment tasks.

For a catalogue entry (rulebook ``resources.stockpile``) and the jurisdiction, at an
instant T: the ``item`` on hand (each site's latest snapshot at or before T, summed)
against the need at full load, ``target_days`` × ``per_bed_day`` × the ``beds`` capacity
(the baselines of each hospital's latest ``beds`` snapshot that carries one: every bed
occupied). The jurisdiction is short when some capacity and some count of the item are
known and on hand < need. At each instant where it falls short (the instant before was
not) the core raises ``stockpile_short`` and issues a replenishment task to the entry's
agency through the task ledger (:func:`streams.core.tasks.claim`: acked and overdue like
every task), due ``due_hours`` later, filed under tier IV (it follows no tier, as a
warning's verification) and the pseudo-incident ``stockpile/<jurisdiction>/<item>``.
Instants are evaluated as ``icu_capacity_low``'s: a late snapshot re-evaluates those up
to its series' next snapshot, and a fall that no longer holds takes back its alert and
its task (``retracted``).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from typing import Any, NamedTuple

from streams.core.alerts import alert, show
from streams.core.compiled import Compiled, PlanItem
from streams.core.eventtime import HOUR
from streams.core.ids import content_id
from streams.core.rulebook_resources import StockpileItem
from streams.core.series import instants_in
from streams.core.state import Namespace
from streams.core.stock import bed_capacity, next_snapshot, stock_level
from streams.core.tasks import VERIFICATION_TIER, claim, unclaim
from streams.core.totals import totals_of
from topics.outputs import Alert


class Level(NamedTuple):
    on_hand: float
    beds: float  # capacity of the entry's bed item: the beds occupied at full load


def stockpile_changed(
    ns: Namespace,
    jurisdiction: str,
    changed: tuple[str, str],
    t: int,
    *,
    comp: Compiled,
    watermark: int,
    out: list[Any],
) -> None:
    """A new snapshot of series ``changed`` (site, item) at ``t``: re-evaluate the instants
    of every catalogue entry that reads the item whose alert and task it can change."""
    for entry in comp.stockpile.get(changed[1], ()):
        # every instant a site reported the item or its beds: the instants of their totals
        end = next_snapshot(ns, *changed, t)
        lines = (totals_of(ns, entry.item), totals_of(ns, entry.beds))
        before, instants = instants_in(line.span(t, end) for line in lines)
        was_short = before >= 0 and _short(level(ns, entry, before), entry)
        inc = f"stockpile/{jurisdiction}/{entry.item}"
        owner, task = "stockpile:" + entry.item, _task(entry)
        if changed[1] == entry.beds:  # the item's rows its full-load figure changed at
            sites = tuple(s for s, i in ns.stock if i == entry.item)
            _full_load_changed(ns, jurisdiction, entry, sites, instants, comp=comp, out=out)
        for at in instants:
            now = level(ns, entry, at)
            wanted = (
                ((at, *now),) if now is not None and _short(now, entry) and not was_short else ()
            )
            _show(ns, jurisdiction, (entry, at), wanted, out)
            task_id = content_id("task", ns.status, inc, "replenish", *task, at)
            if wanted:
                spec = (at, task, VERIFICATION_TIER, inc)
                claim(ns, jurisdiction, owner, task_id, spec=spec, comp=comp,
                      watermark=watermark, out=out)  # fmt: skip
            else:
                unclaim(ns, jurisdiction, owner, task_id, out)
            was_short = _short(now, entry)


def level(ns: Namespace, entry: StockpileItem, at: int) -> Level | None:
    """The jurisdiction's ``entry.item`` on hand and ``entry.beds`` capacity as of ``at``
    (None: no site has reported the item, or no capacity is known)."""
    stock = totals_of(ns, entry.item).at(at)
    beds = bed_capacity(ns, entry.beds, at)
    return Level(stock.on_hand, beds) if stock.counted and beds > 0 else None


def _full_load_changed(
    ns: Namespace,
    jurisdiction: str,
    entry: StockpileItem,
    sites: tuple[str, ...],
    instants: list[int],
    *,
    comp: Compiled,
    out: list[Any],
) -> None:
    """A bed snapshot changed the capacity from the first of ``instants`` to the last:
    the item's rows at those instants again, with their new full-load figures."""
    if not instants:
        return
    for site in sites:
        series = ns.stock[(site, entry.item)]
        lo = bisect_left(series.times, instants[0], 0, series.n)
        hi = bisect_right(series.times, instants[-1], 0, series.n)
        out.extend(
            stock_level(ns, jurisdiction, (site, entry.item), j, comp=comp) for j in range(lo, hi)
        )


def need(entry: StockpileItem, beds: float) -> float:
    """What ``target_days`` at full load of ``beds`` beds take."""
    return entry.target_days * entry.per_bed_day * beds


def _short(now: Level | None, entry: StockpileItem) -> bool:
    return now is not None and now.on_hand < need(entry, now.beds)


def _task(entry: StockpileItem) -> PlanItem:
    action = f"replenish {entry.item} to {entry.target_days:g} days at full load"
    return PlanItem(entry.agency, action, round(entry.due_hours * HOUR))


def _show(
    ns: Namespace,
    jurisdiction: str,
    instant: tuple[StockpileItem, int],
    wanted: tuple[tuple[Any, ...], ...],
    out: list[Any],
) -> None:
    """The (entry, time) instant's alert: ``wanted`` (one or none)."""
    entry, at = instant
    subject = f"stockpile:{entry.item}/{at}"
    if not wanted and subject not in ns.shown:
        return

    def build(params: tuple[Any, ...], gone: bool) -> Alert:
        t, on_hand, beds = params
        needed = need(entry, beds)
        days = on_hand / (entry.per_bed_day * beds)
        return alert(
            ns,
            jurisdiction,
            "stockpile_short",
            "orange",
            about=(entry.item, t, on_hand, beds, entry.target_days, entry.per_bed_day),
            at=t,
            message=(
                f"{entry.item} in {jurisdiction}: {on_hand:g} on hand, {days:.1f} days at full "
                f"load of {beds:g} {entry.beds} (target {entry.target_days:g}: {needed:g}); "
                f"replenishment task to {entry.agency}"
            ),
            details={
                "item": entry.item,
                "on_hand": on_hand,
                "needed": needed,
                "beds": beds,
                "bed_item": entry.beds,
                "per_bed_day": entry.per_bed_day,
                "target_days": entry.target_days,
                "days_at_full_load": days,
                "agency_type": entry.agency,
            },
            subject=f"{jurisdiction}/{entry.item}",
            gone=gone,
        )

    show(ns, subject, wanted, build, out)
