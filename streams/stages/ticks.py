"""The clock the live shell writes into the log.

A timer turns this clock into :class:`topics.outputs.Tick` records, one per partition of the
ticks topic that the worker owns; the decide stage reads them back like any event, so a
replay of the topics sees exactly the time the live run saw.

Two modes (setting ``tick_clock``):

- ``wall`` — ticks carry the wall clock (production: agencies report in real time).
- ``event`` — ticks carry the highest ``occurred_at`` of the ``Actual`` events this worker
  has decoded, capped at the wall clock so one future-dated record cannot fast-forward
  every deadline; a partition gets a tick only when that watermark moved past the last
  tick it got from this clock (a partition gained in a rebalance gets the watermark at
  once: its events held ahead of its clock would otherwise wait for the next event, which
  at the end of a stream never comes). Demos and tests
  replay scenarios whose event times lie in the past: wall-clock ticks would make every
  task overdue at once, the watermark keeps scenario time.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Literal

from topics.outputs import Tick

TickMode = Literal["wall", "event"]


class TickClock:
    """Decides the ticks of each round: per partition, the clock's time when it is later
    than the last tick that partition got from this clock."""

    def __init__(self, mode: TickMode) -> None:
        self.mode = mode
        self._watermark: datetime | None = None
        self._last: dict[int, datetime] = {}

    def observe(self, occurred_at: datetime) -> None:
        """Note the event time of an Actual event (event mode's watermark)."""
        if self._watermark is None or occurred_at > self._watermark:
            self._watermark = occurred_at

    def next_ticks(self, now: datetime, partitions: Iterable[int]) -> list[tuple[int, Tick]]:
        """The ticks for this round to the ``partitions`` held now, none earlier than or
        equal to the last one a partition got."""
        if self.mode == "wall":
            at = now
        elif self._watermark is None:
            return []
        else:
            at = min(self._watermark, now)
        behind = [p for p in partitions if p not in self._last or self._last[p] < at]
        for partition in behind:
            self._last[partition] = at
        return ticks_for(at, behind)


def ticks_for(at: datetime, partitions: list[int]) -> list[tuple[int, Tick]]:
    """One tick per partition (jurisdiction None: every jurisdiction of that partition);
    the id names the partition and the time so a re-sent tick is recognisably the same."""
    stamp = at.isoformat()
    return [
        (partition, Tick(event_id=f"tick:{partition}:{stamp}", tick_at=at))
        for partition in sorted(partitions)
    ]
