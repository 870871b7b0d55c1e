"""The clock the live shell writes into the log (:mod:`streams.stages.ticks`)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from streams.stages.ticks import TickClock, ticks_for
from topics.outputs import Tick

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
WALL = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def test_wall_ticks_follow_the_wall_clock_and_never_go_back() -> None:
    clock = TickClock("wall")
    clock.observe(at(5))  # event time does not matter in wall mode
    assert clock.next_tick(WALL) == WALL
    assert clock.next_tick(WALL) is None  # same instant: nothing new to say
    assert clock.next_tick(WALL - timedelta(seconds=1)) is None  # wall clock stepped back
    assert clock.next_tick(WALL + timedelta(seconds=5)) == WALL + timedelta(seconds=5)


def test_event_ticks_follow_the_newest_event_time_capped_at_the_wall_clock() -> None:
    clock = TickClock("event")
    assert clock.next_tick(WALL) is None  # nothing seen yet: no tick
    clock.observe(at(10))
    clock.observe(at(3))  # a late event does not move the watermark back
    assert clock.next_tick(WALL) == at(10)
    assert clock.next_tick(WALL) is None  # watermark unchanged: no tick
    clock.observe(at(25))
    assert clock.next_tick(WALL) == at(25)
    # A record dated in the future cannot fast-forward every deadline past the wall clock.
    clock.observe(WALL + timedelta(days=30))
    assert clock.next_tick(WALL) == WALL
    assert clock.next_tick(WALL + timedelta(hours=1)) == WALL + timedelta(hours=1)


def test_one_tick_per_owned_partition_with_an_id_that_names_both() -> None:
    ticks = ticks_for(at(0), [5, 0, 3])
    assert [p for p, _ in ticks] == [0, 3, 5]
    assert ticks[0][1] == Tick(event_id="tick:0:2026-03-02T08:00:00+00:00", tick_at=at(0))
    assert all(t.jurisdiction is None and t.tick_at == at(0) for _, t in ticks)
    assert ticks_for(at(0), [3]) == [(3, ticks[1][1])]  # re-sent: the same tick
    assert ticks_for(at(0), []) == []
