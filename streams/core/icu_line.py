"""A jurisdiction's ICU beds as a function of event time, read from its stock series.

At an instant T: ``free`` and ``baseline`` are the sums, over the sites whose latest
``icu.item`` snapshot at or before T carries a baseline, of that snapshot's on_hand (free
beds, EDXL-HAVE AvailableCount) and baseline; a site whose latest snapshot has no baseline
counts in neither. ``occupancy = 1 - free / baseline`` (0 while no site counts). The
figures change only at the *instants* some site reported, so a tier rule on occupancy can
start or stop holding only there: :mod:`streams.core.tiers` takes them as points.

Beds opened by conversions (:mod:`streams.core.surge`) count from their opening instant
as free and as capacity of the line (the tier rules' occupancy and ``icu_capacity_low``).
An opening can only lower the occupancy, so it is not a point: the tier can only fall
there, which :meth:`IcuLine.drop_after` tells de-escalation.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Callable
from typing import NamedTuple

from streams.core.eventtime import NEVER
from streams.core.state import NO_TIME, Namespace

# The ledger subject (+ item) under which streams.core.surge shows the conversions: the
# forecast reads them there rather than work them out again.
CONVERTED = "converted:"


class Conversion(NamedTuple):
    site: str
    opens_at: int
    beds: float


def converted_by(ns: Namespace, item: str, t: int) -> dict[str, float]:
    """Beds by site that the conversions last shown for ``item`` opened at or before ``t``."""
    opened: dict[str, float] = {}
    for site, opens_at, beds in ns.shown.get(CONVERTED + item, ()):
        if opens_at <= t:
            opened[site] = beds
    return opened


class IcuFigures(NamedTuple):
    free: float
    baseline: float

    @property
    def occupancy(self) -> float:
        return 1.0 - self.free / self.baseline


def icu_figures(ns: Namespace, sites: tuple[str, ...], item: str, at: int) -> IcuFigures | None:
    """The jurisdiction's figures as of ``at`` (None: no site with a baseline)."""
    free = base = 0.0
    counted = False
    for s in sites:
        series = ns.stock[(s, item)]
        i = bisect_right(series.times, at, 0, series.n)
        baseline = series.meta[i - 1][2] if i else None
        if baseline:
            free += series.on_hand[i - 1]
            base += baseline
            counted = True
    return IcuFigures(free, base) if counted else None


class IcuLine:
    """The figures of one namespace's ``item`` beds at any instant, over the namespace a
    batch works on (build one per use: it reads the sites that have reported so far)."""

    __slots__ = ("_conversions", "_find", "item", "ns", "sites")

    def __init__(
        self,
        ns: Namespace,
        item: str,
        conversions: Callable[[], tuple[Conversion, ...]] | None = None,
    ) -> None:
        self.ns, self.item = ns, item
        self.sites = ns.beds.get(item, ())
        self._find = conversions
        self._conversions: tuple[Conversion, ...] | None = None if conversions else ()

    def conversions(self) -> tuple[Conversion, ...]:
        """The conversions of the item, by opening time (found on first use)."""
        if self._conversions is None and self._find is not None:
            self._conversions = self._find()
        return self._conversions or ()

    def opened(self, t: int) -> float:
        """The beds conversions opened at or before ``t``."""
        return sum(c.beds for c in self.conversions() if c.opens_at <= t)

    def figures(self, t: int) -> IcuFigures | None:
        found = icu_figures(self.ns, self.sites, self.item, t)
        opened = self.opened(t)
        if not opened:
            return found
        free, base = found if found is not None else (0.0, 0.0)
        return IcuFigures(free + opened, base + opened)

    def drop_after(self, t: int, threshold: float) -> int:
        """With the occupancy at or above ``threshold`` at ``t``: the first instant after
        ``t`` that may take it below, up to the next snapshot instant (an opening that
        does, else that instant; NEVER: none comes)."""
        nxt = NEVER
        for s in self.sites:
            series = self.ns.stock[(s, self.item)]
            i = bisect_right(series.times, t, 0, series.n)
            if i < series.n and series.times[i] < nxt:
                nxt = series.times[i]
        for c in self.conversions():
            if t < c.opens_at <= nxt and self.occupancy(c.opens_at) < threshold:
                return c.opens_at
        return nxt

    def occupancy(self, t: int) -> float:
        figures = self.figures(t)
        return figures.occupancy if figures is not None else 0.0

    def points_from(self, t0: int) -> set[int]:
        """The instants at or after ``t0`` some site reported."""
        found: set[int] = set()
        for s in self.sites:
            series = self.ns.stock[(s, self.item)]
            found.update(series.times[bisect_left(series.times, t0, 0, series.n) : series.n])
        return found

    def last_before(self, t0: int) -> int:
        """The latest instant before ``t0`` (NO_TIME: none)."""
        last = NO_TIME
        for s in self.sites:
            series = self.ns.stock[(s, self.item)]
            i = bisect_left(series.times, t0, 0, series.n)
            if i and series.times[i - 1] > last:
                last = series.times[i - 1]
        return last

    def newest(self) -> int:
        """The latest instant (NO_TIME: none)."""
        last = NO_TIME
        for s in self.sites:
            series = self.ns.stock[(s, self.item)]
            if series.n and series.times[series.n - 1] > last:
                last = series.times[series.n - 1]
        return last
