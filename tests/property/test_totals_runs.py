"""An item's totals kept in runs with lifts (streams.core.totals) answer as one flat list of
sums changed in place (written here, the plain way): every instant, its sums and every span,
after any changes, splits and copies; and a version copied from another never changes what
the other answers."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from fractions import Fraction
from typing import Any
from unittest.mock import patch

from hypothesis import given, settings
from hypothesis import strategies as st

from streams.core import totals
from streams.core.eventtime import NEVER
from streams.core.totals import ItemTotals


class Flat:
    def __init__(self) -> None:
        self.rows: list[list[Any]] = []  # [t, on hand, baseline, sites], sorted by t

    def change(self, t: int, until: int, row: tuple[Any, Any, int]) -> None:
        at = [r[0] for r in self.rows]
        if t not in at:
            before = [r for r in self.rows if r[0] < t]
            carried = before[-1][1:] if before else [0, 0, 0]
            self.rows.append([t, *carried])
            self.rows.sort(key=lambda r: r[0])
        for r in self.rows:
            if t <= r[0] and (until == NEVER or r[0] < until):
                r[1], r[2], r[3] = r[1] + row[0], r[2] + row[1], r[3] + row[2]

    def at(self, t: int) -> tuple[float, float, int]:
        before = [r for r in self.rows if r[0] <= t]
        last = before[-1] if before else [None, 0, 0, 0]
        return float(last[1]), float(last[2]), last[3]

    def span(self, t: int, end: int) -> tuple[int, list[int]]:
        times = [r[0] for r in self.rows]
        inside = [x for x in times if t <= x and (end == NEVER or x <= end)]
        return max((x for x in times if x < t), default=-1), inside


@contextmanager
def runs_of(size: int) -> Iterator[None]:
    with patch.object(totals, "RUN", size):
        yield


instants = st.integers(0, 40)
amounts = st.sampled_from([0, 1, -2, 7, Fraction(1, 3), Fraction(-5, 2)])
changes = st.tuples(
    instants,
    st.one_of(st.just(NEVER), instants),
    st.tuples(amounts, amounts, st.integers(-1, 1)),
    st.booleans(),  # copy before it
)


PROBES = range(-1, 43)
ENDS = [(t, end) for t in PROBES[::3] for end in (NEVER, t, t + 5)]


def answers(kept: ItemTotals) -> list[Any]:
    return [tuple(kept.at(t)) for t in PROBES] + [
        (s.before, list(s.instants)) for s in (kept.span(t, end) for t, end in ENDS)
    ]


def flat_answers(flat: Flat) -> list[Any]:
    return [flat.at(t) for t in PROBES] + [flat.span(t, end) for t, end in ENDS]


@settings(max_examples=400, deadline=None)
@given(st.lists(changes, max_size=60), st.integers(1, 4), st.lists(instants, max_size=12))
def test_runs_answer_as_one_flat_list(steps: list[Any], run: int, start: list[int]) -> None:
    with runs_of(run):
        flat = Flat()
        for t in sorted(set(start)):  # a built start: instants with their sums
            flat.change(t, NEVER, (0, 0, 0))
        kept = ItemTotals.of(
            [r[0] for r in flat.rows], [r[1] for r in flat.rows], [r[2] for r in flat.rows],
            [r[3] for r in flat.rows],
        )  # fmt: skip
        versions: list[tuple[ItemTotals, list[Any]]] = []
        for t, until, row, copy in steps:
            if copy:
                versions.append((kept, answers(kept)))
                kept = kept.copy()
            kept.change(t, until, row)
            flat.change(t, until, row)
        assert answers(kept) == flat_answers(flat)
        for version, then in versions:
            assert answers(version) == then  # the copies' changes left it as it was
