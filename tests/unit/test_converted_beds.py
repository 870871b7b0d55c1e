"""Converted beds counted (issue 15 item 2), worked out by hand: an acked conversion opens
its beds 24 h after the ack as free ICU beds and as capacity, for ``icu_capacity_low``
(15 %), the forecast's capacity and a ``beds_converted`` alert the command view lands;
the same for any arrival order."""

from __future__ import annotations

import random
from datetime import UTC
from typing import Any

import pytest

from streams.core import initial_state, step_many
from streams.core.eventtime import to_us
from streams.core.forecast import IcuBeds, icu_beds
from streams.core.icu_line import converted_by
from tests.unit.test_surge import RULES, ack, conversion_tasks, declare_ii, fold, h, icu
from topics.outputs import Alert

# H2 (designated): 2 free ICU beds of 20 (10 % < 15 %: low at hour 0) and 2 convertible.
# A Tier II declared at hour 1 orders H2 to convert; its ack at hour 2 opens the 2 beds at
# hour 26: 4 free of 22 (18 %), no longer low. At hour 30 H2 reports 0 free of 20: with the
# converted beds 2 of 22 (9 %), low again after an instant that was not: a second alert.
# Without the ack 0 of 20 at hour 30 follows a low instant: no second alert.
BEFORE = [icu(0, "H2", 2, 20, convertible=2), declare_ii(1)]
AFTER = [icu(30, "H2", 0, 20, convertible=2)]


def _events(*, acked: bool = True) -> list[Any]:
    _, out = fold(BEFORE)
    task = conversion_tasks(out)["H2"]
    return [*BEFORE, *([ack(task.task_id, 2, "H2")] if acked else []), *AFTER]


def standing(out: list[Any], kind: str) -> list[Alert]:
    """The alerts of ``kind`` not retracted by the end, by time."""
    last: dict[str, Alert] = {}
    for o in out:
        if isinstance(o, Alert) and o.alert_kind == kind:
            last[o.alert_id] = o
    return sorted((a for a in last.values() if not a.retracted), key=lambda a: a.at)


def test_an_acked_conversion_is_shown_at_its_opening() -> None:
    _, out = fold(_events())
    (converted,) = standing(out, "beds_converted")
    assert (converted.subject_id, converted.at, converted.level) == ("H2/bed.icu", h(26), "info")
    assert converted.details["beds"] == 2.0
    assert converted.details["acked_at"] == h(2).astimezone(UTC).isoformat()
    _, out = fold(_events(acked=False))
    assert standing(out, "beds_converted") == []


def test_icu_capacity_low_counts_the_converted_beds() -> None:
    _, out = fold(_events())
    low = standing(out, "icu_capacity_low")
    assert [(a.at, a.details["free"], a.details["baseline"]) for a in low] == [
        (h(0), 2.0, 20.0),
        (h(30), 2.0, 22.0),
    ]
    assert "converted" not in low[0].details
    assert low[1].details["converted"] == 2.0
    _, out = fold(_events(acked=False))
    assert [a.at for a in standing(out, "icu_capacity_low")] == [h(0)]


def _in_batches(events: list[Any], size: int) -> list[Any]:
    """The outputs of ``events`` stepped ``size`` at a time (a live worker's batches)."""
    state, out = initial_state("5101"), []
    for i in range(0, len(events), size):
        state, got = step_many(state, events[i : i + size], RULES)
        out += got
    return out


@pytest.mark.parametrize("seed", range(6))
def test_the_same_for_any_arrival_order_and_batching(seed: int) -> None:
    want = {k: standing(fold(_events())[1], k) for k in ("beds_converted", "icu_capacity_low")}
    events = _events()
    random.Random(seed).shuffle(events)
    out = _in_batches(events, 1 + seed % 3)
    got = {k: standing(out, k) for k in want}
    assert {k: [a.alert_id for a in v] for k, v in got.items()} == {
        k: [a.alert_id for a in v] for k, v in want.items()
    }


def test_a_late_snapshot_before_the_ack_changes_the_converted_beds() -> None:
    # H2 says at hour 1.5 it can open 5 beds: the ack at 2 opens those 5, not 2
    events = [*_events(), icu(1.5, "H2", 2, 20, convertible=5)]
    _, out = fold(events)
    (converted,) = standing(out, "beds_converted")
    assert converted.details["beds"] == 5.0
    # hour 30: 0 + 5 free of 25 (20 %): not low, so only hour 0's alert stands
    assert [a.at for a in standing(out, "icu_capacity_low")] == [h(0)]


@pytest.mark.parametrize("convertible_after", [2.0, 0.0])
def test_the_forecast_counts_converted_beds_once(convertible_after: float) -> None:
    # After converting, a hospital may keep reporting its convertible beds or report none
    # left: either way 2 beds free (converted) of 22, none still convertible.
    events = [*_events()[:-1], icu(30, "H2", 0, 20, convertible=convertible_after)]
    state, _ = fold(events)
    ns = state.namespaces["Actual"]
    assert icu_beds(ns, "bed.icu", converted_by(ns, "bed.icu", to_us(h(30)))) == IcuBeds(2, 22, 0)
    # before the opening the same beds are still convertible (as reported)
    assert icu_beds(ns, "bed.icu", converted_by(ns, "bed.icu", to_us(h(25)))) == IcuBeds(
        0, 20, convertible_after
    )
