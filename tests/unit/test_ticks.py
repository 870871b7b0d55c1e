"""The clock the live shell writes into the log (:mod:`streams.stages.ticks`)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from streams.stages.ticks import TickClock, ticks_for
from topics.outputs import Tick

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
WALL = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def _times(ticks: list[tuple[int, Tick]]) -> list[tuple[int, datetime]]:
    return [(p, t.tick_at) for p, t in ticks]


def test_wall_ticks_follow_the_wall_clock_and_never_go_back() -> None:
    clock = TickClock("wall")
    clock.observe(0, at(5))  # event time does not matter in wall mode
    assert _times(clock.next_ticks(WALL, [0])) == [(0, WALL)]
    assert clock.next_ticks(WALL, [0]) == []  # same instant: nothing new to say
    assert clock.next_ticks(WALL - timedelta(seconds=1), [0]) == []  # wall clock stepped back
    later = WALL + timedelta(seconds=5)
    assert _times(clock.next_ticks(later, [0])) == [(0, later)]


def test_event_ticks_follow_the_newest_event_time_capped_at_the_wall_clock() -> None:
    clock = TickClock("event")
    assert clock.next_ticks(WALL, [0]) == []  # nothing seen yet: no tick
    clock.observe(0, at(10))
    clock.observe(0, at(3))  # a late event does not move the watermark back
    assert _times(clock.next_ticks(WALL, [0])) == [(0, at(10))]
    assert clock.next_ticks(WALL, [0]) == []  # watermark unchanged: no tick
    clock.observe(0, at(25))
    assert _times(clock.next_ticks(WALL, [0])) == [(0, at(25))]
    # A record dated in the future cannot fast-forward every deadline past the wall clock.
    clock.observe(0, WALL + timedelta(days=30))
    assert _times(clock.next_ticks(WALL, [0])) == [(0, WALL)]
    hour = WALL + timedelta(hours=1)
    assert _times(clock.next_ticks(hour, [0])) == [(0, hour)]


def test_a_partition_gained_later_gets_the_watermark_at_once() -> None:
    """Its events held ahead of its clock wait for a tick; the watermark that reaches them
    was already written to the partitions held before, and at the end of a stream it does
    not move again (issue 16: held events of a taken-over partition never applied)."""
    clock = TickClock("event")
    clock.observe(0, at(10))
    assert _times(clock.next_ticks(WALL, [1, 3])) == [(1, at(10)), (3, at(10))]
    assert clock.next_ticks(WALL, []) == []  # between a revoke and the next assignment
    assert _times(clock.next_ticks(WALL, [0, 1, 3])) == [(0, at(10))]
    clock.observe(0, at(12))
    assert [p for p, _ in clock.next_ticks(WALL, [0, 1, 3])] == [0, 1, 3]


def test_a_partition_with_records_waiting_gets_its_own_event_time_in_either_mode() -> None:
    """A catch-up: partition 2 was read to minute 30, partition 1 to minute 10 and has more
    at the broker; 0 has records waiting and none decided yet. Caught up, the clock again."""
    for mode, clock_at in (("event", at(30)), ("wall", WALL)):
        clock = TickClock(mode)  # type: ignore[arg-type]
        clock.observe(1, at(10))
        clock.observe(2, at(30))
        ticks = clock.next_ticks(WALL, [0, 1, 2], waiting={0, 1})
        assert _times(ticks) == [(1, at(10)), (2, clock_at)], mode
        assert clock.next_ticks(WALL, [0, 1, 2], waiting={0, 1}) == []
        clock.observe(1, at(12))
        assert _times(clock.next_ticks(WALL, [0, 1, 2], waiting={0, 1})) == [(1, at(12))]
        clock.observe(0, at(11))
        ticks = clock.next_ticks(WALL, [0, 1, 2])
        assert _times(ticks) == [(0, clock_at), (1, clock_at)], mode


def test_a_waiting_partition_gets_its_records_arrival_with_the_wall_clock() -> None:
    """Agencies' event times say when things happened, arrivals when the worker would have
    decided them had it kept up: the wall clock's progress is the newest arrival."""
    wall, event = TickClock("wall"), TickClock("event")
    for clock in (wall, event):
        clock.observe(1, at(10))
        clock.arrived(1, WALL - timedelta(hours=1))
    assert _times(wall.next_ticks(WALL, [1], waiting={1})) == [(1, WALL - timedelta(hours=1))]
    assert _times(event.next_ticks(WALL, [1], waiting={1})) == [(1, at(10))]


def test_one_tick_per_owned_partition_with_an_id_that_names_both() -> None:
    ticks = ticks_for(at(0), [5, 0, 3])
    assert [p for p, _ in ticks] == [0, 3, 5]
    assert ticks[0][1] == Tick(event_id="tick:0:2026-03-02T08:00:00+00:00", tick_at=at(0))
    assert all(t.jurisdiction is None and t.tick_at == at(0) for _, t in ticks)
    assert ticks_for(at(0), [3]) == [(3, ticks[1][1])]  # re-sent: the same tick
    assert ticks_for(at(0), []) == []
