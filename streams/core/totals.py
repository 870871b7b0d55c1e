"""One item summed over a jurisdiction's sites, as of each instant any of them reported it:
what the stockpile catalogue reads (:mod:`streams.core.stockpile`), kept as snapshots
arrive so that a snapshot costs what it changes, not a walk over every site.

At instant ``times[k]``, over the sites with a snapshot of the item at or before it (each
site's latest, by (occurred_at, event_id)): ``on_hand[k]`` their on-hand counts summed,
``baseline[k]`` their baselines (a snapshot without one counts none), ``counted[k]`` how many
sites. Sums are exact (integers, or fractions where a count is not whole) and read as the
nearest float, so they do not depend on the order snapshots arrived in.

Derived from the namespace's series alone: never persisted, built on first use after a
state is decoded (:func:`totals_of`), then updated by :func:`add_snapshot`.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from fractions import Fraction
from typing import NamedTuple

from streams.core.eventtime import NEVER
from streams.core.series import Series
from streams.core.state import Namespace, Work

Exact = int | Fraction


def exact(x: float | None) -> Exact:
    """``x`` as an exact number (None: 0)."""
    if x is None:
        return 0
    return int(x) if x.is_integer() else Fraction(x)


class Summed(NamedTuple):
    on_hand: float
    baseline: float
    counted: int


class ItemTotals:
    """The item's sums by instant (see the module's docstring)."""

    __slots__ = ("baseline", "counted", "on_hand", "times")

    def __init__(self) -> None:
        self.times: list[int] = []
        self.on_hand: list[Exact] = []
        self.baseline: list[Exact] = []
        self.counted: list[int] = []

    def copy(self) -> ItemTotals:
        new = ItemTotals()
        new.times, new.on_hand = self.times.copy(), self.on_hand.copy()
        new.baseline, new.counted = self.baseline.copy(), self.counted.copy()
        return new

    def at(self, t: int) -> Summed:
        """The sums as of ``t`` (nothing counted before the first instant)."""
        k = bisect_right(self.times, t) - 1
        if k < 0:
            return Summed(0.0, 0.0, 0)
        return Summed(float(self.on_hand[k]), float(self.baseline[k]), self.counted[k])

    def change(self, t: int, until: int, row: tuple[Exact, Exact, int]) -> None:
        """A site's latest snapshot differs by ``row`` (on hand, baseline, sites) at the
        instants from ``t`` (made one if it is not) to before ``until``."""
        times = self.times
        k = bisect_left(times, t)
        if k == len(times) or times[k] != t:
            times.insert(k, t)
            carried = (
                (self.on_hand[k - 1], self.baseline[k - 1], self.counted[k - 1]) if k else (0, 0, 0)
            )
            self.on_hand.insert(k, carried[0])
            self.baseline.insert(k, carried[1])
            self.counted.insert(k, carried[2])
        d_on_hand, d_baseline, d_counted = row
        end = len(times) if until == NEVER else bisect_left(times, until, k)
        for j in range(k, end):
            self.on_hand[j] += d_on_hand
            self.baseline[j] += d_baseline
            self.counted[j] += d_counted


def _row(series: Series, i: int) -> tuple[Exact, Exact]:
    return exact(series.on_hand[i]), exact(series.meta[i][2])


def add_snapshot(totals: ItemTotals, series: Series, i: int) -> None:
    """Row ``i`` of ``series`` was just inserted: count it from its instant until the
    site's next snapshot (none, if one at the same instant sorts after it)."""
    t = series.times[i]
    until = series.times[i + 1] if i + 1 < series.n else NEVER
    on_hand, baseline = _row(series, i)
    if i:
        was_on_hand, was_baseline = _row(series, i - 1)
        totals.change(t, until, (on_hand - was_on_hand, baseline - was_baseline, 0))
    else:
        totals.change(t, until, (on_hand, baseline, 1))


def build(ns: Namespace, item: str) -> ItemTotals:
    """The item's totals from the namespace's series of it."""
    totals = ItemTotals()
    sites = [series for (_, of), series in ns.stock.items() if of == item]
    instants = totals.times = sorted({t for series in sites for t in series.times[: series.n]})
    on_hand: list[Exact] = [0] * len(instants)
    baseline: list[Exact] = [0] * len(instants)
    counted = [0] * len(instants)
    for series in sites:
        times, n = series.times, series.n
        for i in range(n):  # each snapshot holds from its instant to the site's next one
            lo = bisect_left(instants, times[i])
            hi = bisect_left(instants, times[i + 1], lo) if i + 1 < n else len(instants)
            row_on_hand, row_baseline = _row(series, i)
            for k in range(lo, hi):
                on_hand[k] += row_on_hand
                baseline[k] += row_baseline
                counted[k] += 1
    totals.on_hand, totals.baseline, totals.counted = on_hand, baseline, counted
    return totals


def totals_of(ns: Namespace, item: str) -> ItemTotals:
    """The item's totals in ``ns`` (built from its series when not yet)."""
    found = ns.totals.get(item)
    if found is None:
        found = ns.totals[item] = build(ns, item)
    return found


def snapshot_added(work: Work, ns: Namespace, key: tuple[str, str], i: int) -> None:
    """Row ``i`` was just inserted in series ``key``: its item's totals (if built) count it;
    the batch's own copy of them, made on its first change."""
    found = ns.totals.get(key[1])
    if found is None:
        return  # built when first read, from the series as they are then
    if id(found) not in work.fresh:
        found = ns.totals[key[1]] = found.copy()
        work.fresh.add(id(found))
    add_snapshot(found, ns.stock[key], i)
