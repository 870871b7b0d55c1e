"""A partition left behind in a catch-up: its ticks wait for its own records
(:mod:`streams.stages.ticks`, the live worker's tick writer). Worked by hand on the default
rulebook: one confirmed cholera case in the 7 days up to a time is tier IV there
(``cholera-week-IV``), none is no tier."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

import orjson

from streams.live.app import _tick_writer
from streams.stages.batch import Outgoing, Record
from streams.stages.ticks import TickClock
from tests.unit.test_live_decide import (
    OTHER,
    SAME_A,
    T0,
    DictStore,
    P,
    case,
    decider,
    on,
    raw,
    rec,
)
from topics.codec import decode_tick, encode
from topics.outputs import Tick

WALL = T0 + timedelta(days=30)  # the wall clock: a catch-up, long after the events


def confirmed(event_id: str, city: str, day: float) -> bytes:
    """A confirmed cholera case in ``city`` on ``day`` after T0."""
    body = orjson.loads(case(event_id, city))
    at = (T0 + timedelta(days=day)).isoformat()
    body.update(classification="confirmed", occurred_at=at, reported_at=at)
    return raw(body)


def tiers(out: list[Outgoing], city: str) -> list[str | None]:
    """The tier of each escalation ``city`` got (None: stood down)."""
    changes = [orjson.loads(o.value) for o in on("escalations", out) if o.key == city.encode()]
    return [change.get("tier") for change in changes]


def test_a_tick_does_not_run_ahead_of_a_partition_left_behind() -> None:
    """Partition 5 was read to day 8 while partition 4, its cases topic not fetched yet,
    still has a case of day 6.5 at the broker. A tick of day 8 would stand partition 4's
    city down (its day-0 case left the week) and a record later raise it again."""
    d = decider(DictStore())
    first = d.process(
        [rec("cases", confirmed("a", SAME_A, 0), 4), rec("cases", confirmed("o", OTHER, 0), 5)]
    )
    assert (tiers(first, SAME_A), tiers(first, OTHER)) == (["IV"], ["IV"])
    d.process([rec("cases", confirmed("o2", OTHER, 8), 5, offset=1)])

    ticks = d.clock.next_ticks(WALL, [4, 5], waiting={4})
    assert [(p, t.tick_at) for p, t in ticks] == [(4, T0), (5, T0 + timedelta(days=8))]
    out = d.process([rec("ticks", encode(t), p, offset=1) for p, t in ticks])
    assert tiers(out, SAME_A) == []  # not stood down for want of a record not read yet
    assert tiers(out, OTHER) == []  # its day-8 case holds it

    # read on, caught up: partition 4 gets the clock, and its day-6.5 case holds it
    d.process([rec("cases", confirmed("a2", SAME_A, 6.5), 4, offset=2)])
    ticks = d.clock.next_ticks(WALL, [4, 5])
    assert [(p, t.tick_at) for p, t in ticks] == [(4, T0 + timedelta(days=8))]
    assert tiers(d.process([rec("ticks", encode(t), p, offset=3) for p, t in ticks]), SAME_A) == []
    # ... until its own week is over
    d.process([rec("cases", confirmed("o3", OTHER, 15), 5, offset=3)])
    ticks = d.clock.next_ticks(WALL, [4, 5])
    out = d.process([rec("ticks", encode(t), p, offset=4) for p, t in ticks])
    assert tiers(out, SAME_A) == [None]


def arrived(value: bytes, offset: int, day: float) -> Record:
    """A record of partition 4's cases topic that reached the broker on ``day`` after T0."""
    received = T0 + timedelta(days=day, minutes=1)
    return Record(f"{P}.cases.v1", 4, offset, None, value, (), received)


def test_after_an_outage_the_wall_clock_moves_as_the_records_arrived() -> None:
    """The worker was down for the month after day 0; its city's cases of days 0 and 6.5
    wait at the broker. Ticks carry each decided record's arrival, not the month later:
    the city stays at IV through its backlog, and stands down once caught up."""
    d = decider(DictStore(), mode="wall")
    assert tiers(d.process([arrived(confirmed("a", SAME_A, 0), 0, 0)]), SAME_A) == ["IV"]
    ticks = d.clock.next_ticks(WALL, [4], waiting={4})
    assert [(p, t.tick_at) for p, t in ticks] == [(4, T0 + timedelta(minutes=1))]
    assert tiers(d.process([rec("ticks", encode(t), p, offset=1) for p, t in ticks]), SAME_A) == []
    d.process([arrived(confirmed("a2", SAME_A, 6.5), 1, 6.5)])
    ticks = d.clock.next_ticks(WALL, [4], waiting={4})
    assert tiers(d.process([rec("ticks", encode(t), p, offset=2) for p, t in ticks]), SAME_A) == []
    ticks = d.clock.next_ticks(WALL, [4])  # caught up: the wall clock
    assert [(p, t.tick_at) for p, t in ticks] == [(4, WALL)]
    out = d.process([rec("ticks", encode(t), p, offset=3) for p, t in ticks])
    assert tiers(out, SAME_A) == [None]


class _Producer:
    """What the tick writer sends, by partition."""

    def __init__(self) -> None:
        self.sent: list[tuple[int, datetime]] = []

    async def send(self, topic: str, key: Any, value: bytes, partition: int, *_: Any) -> Any:
        tick = decode_tick(value)
        assert isinstance(tick, Tick)
        self.sent.append((partition, tick.tick_at))
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done


def test_the_tick_writer_holds_the_partitions_the_intake_is_waiting_for() -> None:
    clock = TickClock("wall")
    clock.arrived(4, T0)
    app = type("App", (), {"producer": _Producer()})()
    write = _tick_writer(
        app, clock, "ticks", lambda: frozenset({3, 4, 5}), lambda: frozenset({4, 5})
    )
    asyncio.run(write())
    sent = app.producer.sent
    assert [p for p, _ in sent] == [3, 4]  # 5 waits and has no time of its own yet
    assert sent[0][1] > WALL  # 3 is caught up: the wall clock
    assert sent[1] == (4, T0)  # 4 waits: its own time
