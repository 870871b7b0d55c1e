"""The clock the live shell writes into the log.

A timer turns this clock into :class:`topics.outputs.Tick` records, one per partition of the
ticks topic that the worker owns; the decide stage reads them back like any event, so a
replay of the topics sees exactly the time the live run saw.

Two modes (setting ``tick_clock``):

- ``wall`` — ticks carry the wall clock (production: agencies report in real time).
- ``event`` — ticks carry the highest ``occurred_at`` of the ``Actual`` events this worker
  has decided, capped at the wall clock so one future-dated record cannot fast-forward
  every deadline; a partition gets a tick only when that watermark moved past the last
  tick it got from this clock (a partition gained in a rebalance gets the watermark at
  once: its events held ahead of its clock would otherwise wait for the next event, which
  at the end of a stream never comes). Demos and tests
  replay scenarios whose event times lie in the past: wall-clock ticks would make every
  task overdue at once, the watermark keeps scenario time.

In both modes a partition with records **waiting** (read or at the broker, not decided
yet: a catch-up; the reader tells :meth:`TickClock.next_ticks`) gets no tick later than
its own progress: with the event clock, the newest Actual event time decided on that
partition; with the wall clock, the newest broker arrival time (LogAppendTime) decided on
it, so after an outage its clock moves as it did for the records when they came, and a
worker behind a busy stream ticks at what it has decided, not at agencies' event times
(the event time where the topics carry no arrival time). Why: ticks are decided as soon
as they are read, and in a catch-up one partition falls behind the others (its fetches
come later). A tick carrying the others' time, or the wall clock after an outage, reached
it ahead of its own records: its tiers settled at that time for want of cases not read
yet, stood down, and rose again when the cases came — every 5–10 records over a long
backlog (BENCHMARKS.md, sixteenth session). Held to its own progress, a partition sees
what a worker that had kept up would have; caught up, it gets the clock again.
"""

from __future__ import annotations

from collections.abc import Iterable, Set
from datetime import datetime
from typing import Literal, TypeVar

from topics.outputs import Tick

TickMode = Literal["wall", "event"]
K = TypeVar("K")


class TickClock:
    """Decides the ticks of each round: per partition, the clock's time (its own progress
    while records wait for it) when it is later than the last tick that partition got."""

    def __init__(self, mode: TickMode) -> None:
        self.mode = mode
        self._decided: dict[int, datetime] = {}  # per partition: newest Actual event time
        self._arrived: dict[int, datetime] = {}  # per partition: newest arrival decided
        self._last: dict[int, datetime] = {}

    def observe(self, partition: int, occurred_at: datetime) -> None:
        """Note the event time of an Actual event decided on ``partition``."""
        keep_newest(self._decided, partition, occurred_at)

    def arrived(self, partition: int, received_at: datetime) -> None:
        """Note the broker's arrival time of a record decided on ``partition``."""
        keep_newest(self._arrived, partition, received_at)

    def _progress(self, partition: int) -> datetime | None:
        """How far ``partition`` is decided, in this clock's time."""
        if self.mode == "wall" and partition in self._arrived:
            return self._arrived[partition]
        return self._decided.get(partition)

    def next_ticks(
        self, now: datetime, partitions: Iterable[int], waiting: Set[int] = frozenset()
    ) -> list[tuple[int, Tick]]:
        """The ticks for this round to the ``partitions`` held now, none earlier than or
        equal to the last one a partition got; those in ``waiting`` (records not decided
        yet) no later than their own progress, and none before they have some."""
        # the event clock's watermark: the newest over every partition
        clock = now if self.mode == "wall" else max(self._decided.values(), default=None)
        ticks: list[tuple[int, Tick]] = []
        for partition in sorted(partitions):
            at = self._progress(partition) if partition in waiting else clock
            if at is None:
                continue
            at = min(at, now)
            last = self._last.get(partition)
            if last is None or last < at:
                self._last[partition] = at
                ticks.extend(ticks_for(at, [partition]))
        return ticks


def keep_newest(newest: dict[K, datetime], key: K, at: datetime) -> None:
    """Note ``at`` under ``key`` unless a later time is there."""
    if key not in newest or at > newest[key]:
        newest[key] = at


def ticks_for(at: datetime, partitions: list[int]) -> list[tuple[int, Tick]]:
    """One tick per partition (jurisdiction None: every jurisdiction of that partition);
    the id names the partition and the time so a re-sent tick is recognisably the same."""
    stamp = at.isoformat()
    return [
        (partition, Tick(event_id=f"tick:{partition}:{stamp}", tick_at=at))
        for partition in sorted(partitions)
    ]
