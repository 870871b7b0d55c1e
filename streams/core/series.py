"""The snapshots of one stock series (site, item), in columns that versions share: see
:class:`Series` and the copy-on-write of :mod:`streams.core.state`; and the instants a
snapshot changes across several such time columns (:func:`span`, :func:`instants_in`)."""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Sequence
from typing import NamedTuple

from streams.core.eventtime import NEVER
from topics.vocabulary import SiteType

# A snapshot's (site type, unit, baseline, convertible)
Meta = tuple[SiteType, str, float | None, float | None]


class Span(NamedTuple):
    """A time column's instants in a range, and its latest one before the range (-1:
    none)."""

    before: int
    instants: Sequence[int]


class Series:
    """Snapshots of one (site, item), sorted by (occurred_at, event_id), with the
    cumulative consumption ``prev_on_hand + received - on_hand`` up to each one, and what
    each snapshot derives: burn rate per day and days of cover (both None: unknown).

    Versions share their columns: a version sees the first ``n`` rows, and a snapshot
    newer than all of them (the common one) is appended in place, so a batch neither
    copies a long history nor hands the collector a fresh copy of it to scan. A version
    writes only rows from ``own`` on (those it appended itself); anything else, or
    columns another version has appended to since, are copied first (:meth:`insert`)."""

    __slots__ = (
        "burn",
        "cons",
        "cover",
        "eids",
        "meta",
        "n",
        "on_hand",
        "own",
        "received",
        "times",
    )

    def __init__(self) -> None:
        self.times: list[int] = []
        self.eids: list[str] = []
        self.on_hand: list[float] = []
        self.received: list[float] = []
        self.meta: list[Meta] = []  # site type, unit, baseline, convertible
        self.cons: list[float] = []
        self.burn: list[float | None] = []
        self.cover: list[float | None] = []
        self.n = 0
        self.own = 0

    def clone(self) -> Series:
        """A new version over the same columns, owning none of their rows yet."""
        new = Series.__new__(Series)
        new.times, new.eids = self.times, self.eids
        new.on_hand, new.received = self.on_hand, self.received
        new.meta, new.cons = self.meta, self.cons
        new.burn, new.cover = self.burn, self.cover
        new.n = new.own = self.n
        return new

    def insert(
        self,
        i: int,
        t: int,
        eid: str,
        *,
        on_hand: float,
        received: float,
        meta: Meta,
    ) -> None:
        """Put a snapshot at row ``i`` (its consumption, burn and cover still to work
        out); rows from ``i`` on are this version's own to write afterwards."""
        n = self.n
        if i < self.own or len(self.times) != n:
            self.times, self.eids = self.times[:n], self.eids[:n]
            self.on_hand, self.received = self.on_hand[:n], self.received[:n]
            self.meta, self.cons = self.meta[:n], self.cons[:n]
            self.burn, self.cover = self.burn[:n], self.cover[:n]
            self.own = 0
        if i == n:
            self.times.append(t)
            self.eids.append(eid)
            self.on_hand.append(on_hand)
            self.received.append(received)
            self.meta.append(meta)
            self.cons.append(0.0)
            self.burn.append(None)
            self.cover.append(None)
        else:
            self.times.insert(i, t)
            self.eids.insert(i, eid)
            self.on_hand.insert(i, on_hand)
            self.received.insert(i, received)
            self.meta.insert(i, meta)
            self.cons.insert(i, 0.0)
            self.burn.insert(i, None)
            self.cover.insert(i, None)
        self.n = n + 1


def span(times: Sequence[int], n: int, t: int, end: int) -> Span:
    """Of a time column's first ``n`` sorted instants, those from ``t`` to ``end``
    (inclusive; NEVER: no end), and the latest one before ``t`` (-1: none)."""
    lo = bisect_left(times, t, 0, n)
    hi = n if end == NEVER else bisect_right(times, end, lo, n)
    return Span(times[lo - 1] if lo else -1, times[lo:hi])


def instants_in(spans: Iterable[Span]) -> tuple[int, list[int]]:
    """Of several columns' spans (:func:`span`) from one ``t`` to one end, their instants
    together, sorted, and the latest instant before ``t`` (-1: none): what a snapshot at
    ``t`` of a series whose next snapshot is at the end changes, and what the first of
    them is compared with."""
    found: set[int] = set()
    before = -1
    for of in spans:
        found.update(of.instants)
        before = max(before, of.before)
    return before, sorted(found)
