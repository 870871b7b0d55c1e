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
from itertools import islice
from typing import NamedTuple

from streams.core.eventtime import NEVER
from streams.core.series import Series, Span, span
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


Row = tuple[Exact, Exact, int]  # on hand, baseline, sites
NONE: Row = (0, 0, 0)
RUN = 512  # instants a run is made with; one past twice as many is split in two


class _Run:
    """Consecutive instants and their sums, less the run's lift (:class:`ItemTotals`)."""

    __slots__ = ("baseline", "counted", "on_hand", "times")

    def __init__(
        self, times: list[int], on_hand: list[Exact], baseline: list[Exact], counted: list[int]
    ) -> None:
        self.times, self.on_hand, self.baseline, self.counted = times, on_hand, baseline, counted

    def copy(self) -> _Run:
        return _Run(
            self.times.copy(), self.on_hand.copy(), self.baseline.copy(), self.counted.copy()
        )

    def cut(self, lo: int, hi: int) -> _Run:
        return _Run(
            self.times[lo:hi], self.on_hand[lo:hi], self.baseline[lo:hi], self.counted[lo:hi]
        )

    def add(self, lo: int, hi: int, row: Row) -> None:
        d_on_hand, d_baseline, d_counted = row
        on_hand, baseline, counted = self.on_hand, self.baseline, self.counted
        for j in range(lo, hi):
            on_hand[j] += d_on_hand
            baseline[j] += d_baseline
            counted[j] += d_counted


class ItemTotals:
    """The item's sums by instant (see the module's docstring).

    Kept in runs of about :data:`RUN` instants, each with a lift added to all its rows, so
    that a batch's copy (:meth:`copy`) and its changes cost what they touch, not the item's
    whole history: a copy shares every run and copies one on its first change in place; a
    change that covers a whole run raises its lift instead."""

    __slots__ = ("firsts", "lifts", "own", "runs")

    def __init__(self) -> None:
        self.runs: list[_Run] = []
        self.firsts: list[int] = []  # each run's first instant
        self.lifts: list[Row] = []  # each run's lift
        self.own: set[int] = set()  # ids of the runs this version may change in place

    @classmethod
    def of(
        cls, times: list[int], on_hand: list[Exact], baseline: list[Exact], counted: list[int]
    ) -> ItemTotals:
        """Totals with these sums at these sorted instants."""
        new = cls()
        whole = _Run(times, on_hand, baseline, counted)
        new.runs = [whole.cut(lo, lo + RUN) for lo in range(0, len(times), RUN)]
        new.firsts = [run.times[0] for run in new.runs]
        new.lifts = [NONE] * len(new.runs)
        new.own = {id(run) for run in new.runs}
        return new

    def copy(self) -> ItemTotals:
        """A version sharing this one's runs, owning none of them."""
        new = ItemTotals()
        new.runs, new.firsts, new.lifts = self.runs.copy(), self.firsts.copy(), self.lifts.copy()
        return new

    def at(self, t: int) -> Summed:
        """The sums as of ``t`` (nothing counted before the first instant)."""
        c = bisect_right(self.firsts, t) - 1
        if c < 0:
            return Summed(0.0, 0.0, 0)
        run, lift = self.runs[c], self.lifts[c]
        k = bisect_right(run.times, t) - 1
        return Summed(
            float(run.on_hand[k] + lift[0]),
            float(run.baseline[k] + lift[1]),
            run.counted[k] + lift[2],
        )

    def span(self, t: int, end: int) -> Span:
        """The instants from ``t`` to ``end`` (inclusive; NEVER: no end) and the latest one
        before ``t`` (-1: none)."""
        # from the run with the latest instant before t, if any
        c = max(bisect_left(self.firsts, t) - 1, 0)
        before, found = -1, list[int]()
        for run in islice(self.runs, c, None):  # no copy of the runs after c
            of = span(run.times, len(run.times), t, end)
            before = max(before, of.before)
            found.extend(of.instants)
            if end != NEVER and run.times[-1] >= end:
                break
        return Span(before, found)

    def change(self, t: int, until: int, row: Row) -> None:
        """A site's latest snapshot differs by ``row`` (on hand, baseline, sites) at the
        instants from ``t`` (made one if it is not) to before ``until``."""
        c, k = self._instant(t)
        run = self.runs[c]
        hi = len(run.times) if until == NEVER else bisect_left(run.times, until, k)
        run.add(k, hi, row)
        if hi < len(run.times):
            return
        for n in range(c + 1, len(self.runs)):
            run = self.runs[n]
            if until != NEVER and run.times[-1] >= until:  # the last run it reaches
                hi = bisect_left(run.times, until)
                if hi:
                    self._owned(n).add(0, hi, row)
                return
            lift = self.lifts[n]
            self.lifts[n] = (lift[0] + row[0], lift[1] + row[1], lift[2] + row[2])

    def _instant(self, t: int) -> tuple[int, int]:
        """Where instant ``t`` is (run, index), made (with the sums before it) if it is not;
        that run owned."""
        if not self.runs:
            self.runs, self.firsts, self.lifts = [_Run([], [], [], [])], [t], [NONE]
            self.own.add(id(self.runs[0]))
        c = max(bisect_right(self.firsts, t) - 1, 0)
        run = self._owned(c)
        k = bisect_left(run.times, t)
        if k < len(run.times) and run.times[k] == t:
            return c, k
        # k = 0 only before the first instant (a run starts at an instant), where nothing
        # is counted: the first run is never lifted
        carried = (run.on_hand[k - 1], run.baseline[k - 1], run.counted[k - 1]) if k else NONE
        run.times.insert(k, t)
        run.on_hand.insert(k, carried[0])
        run.baseline.insert(k, carried[1])
        run.counted.insert(k, carried[2])
        if not k:
            self.firsts[c] = t
        if len(run.times) > 2 * RUN:
            self._split(c)
            if k >= RUN:
                return c + 1, k - RUN
        return c, k

    def _owned(self, c: int) -> _Run:
        run = self.runs[c]
        if id(run) not in self.own:
            run = self.runs[c] = run.copy()
            self.own.add(id(run))
        return run

    def _split(self, c: int) -> None:
        run = self.runs[c]
        low, high = run.cut(0, RUN), run.cut(RUN, len(run.times))
        self.own.discard(id(run))
        self.own.update((id(low), id(high)))
        self.runs[c : c + 1] = [low, high]
        self.firsts.insert(c + 1, high.times[0])
        self.lifts.insert(c + 1, self.lifts[c])


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
    sites = [series for (_, of), series in ns.stock.items() if of == item]
    instants = sorted({t for series in sites for t in series.times[: series.n]})
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
    return ItemTotals.of(instants, on_hand, baseline, counted)


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
