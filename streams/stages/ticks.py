"""The clock the live shell writes into the log.

A timer turns this clock into :class:`topics.outputs.Tick` records, one per partition of the
ticks topic that the worker owns; the decide stage reads them back like any event, so a
replay of the topics sees exactly the time the live run saw.

Two modes (setting ``tick_clock``):

- ``wall`` — ticks carry the wall clock (production: agencies report in real time).
- ``event`` — ticks carry the highest ``occurred_at`` of the ``Actual`` events this worker
  has decoded, capped at the wall clock so one future-dated record cannot fast-forward
  every deadline; a tick is written only when that watermark moved. Demos and tests
  replay scenarios whose event times lie in the past: wall-clock ticks would make every
  task overdue at once, the watermark keeps scenario time.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from topics.outputs import Tick

TickMode = Literal["wall", "event"]


class TickClock:
    """Decides the time of the next tick (None: no tick this round)."""

    def __init__(self, mode: TickMode) -> None:
        self.mode = mode
        self._watermark: datetime | None = None
        self._last: datetime | None = None

    def observe(self, occurred_at: datetime) -> None:
        """Note the event time of an Actual event (event mode's watermark)."""
        if self._watermark is None or occurred_at > self._watermark:
            self._watermark = occurred_at

    def next_tick(self, now: datetime) -> datetime | None:
        """The tick time for this round, never earlier than the last one."""
        if self.mode == "wall":
            at = now
        elif self._watermark is None:
            return None
        else:
            at = min(self._watermark, now)
        if self._last is not None and at <= self._last:
            return None
        self._last = at
        return at


def ticks_for(at: datetime, partitions: list[int]) -> list[tuple[int, Tick]]:
    """One tick per partition (jurisdiction None: every jurisdiction of that partition);
    the id names the partition and the time so a re-sent tick is recognisably the same."""
    stamp = at.isoformat()
    return [
        (partition, Tick(event_id=f"tick:{partition}:{stamp}", tick_at=at))
        for partition in sorted(partitions)
    ]
