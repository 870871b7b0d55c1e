"""Events held until the log's clock reaches them (DESIGN.md section 6, issue 11 item 1).

An event whose ``occurred_at`` lies more than ``input_checks.ahead_of_clock_minutes``
(default 60) ahead of its jurisdiction's newest tick is not applied: applying it would
move its namespace's watermark to its time, and with it de-escalate incidents and raise
overdue alerts hours or years early, on the word of one record. It is *held* in the core's
state instead (an ``event_held`` alert says so, once) and applied, in event-time order,
by the first tick that comes within the allowance of it (the alert is then retracted:
what stands is the events still waiting). Holding, not rejecting, because
an agency's clock running ahead of ours by an hour is not wrong data: nothing is lost, it
only waits. (An event ahead of its own ``reported_at`` is wrong data, and is rejected by
:mod:`streams.core.checks`.)

Before a jurisdiction has seen any tick nothing is held: there is no clock to be ahead
of. So an offline replay of a file without ticks applies only the other checks, and one
with ticks holds exactly as the live run did. The held queue is core state (persisted,
replayed), so a replay holds and releases what live did.
"""

from __future__ import annotations

from bisect import bisect_right, insort
from operator import itemgetter
from typing import Any

from streams.core.alerts import alert, retracted
from streams.core.eventtime import NEVER
from streams.core.ids import content_id
from streams.core.state import Namespace, Work
from topics.outputs import Alert

_ORDER = itemgetter(0, 1)
_TIME = itemgetter(0)


def hold(work: Work, ns: Namespace, ev: Any, t: int, out: list[Any]) -> None:
    """Put ``ev`` (event time ``t``) in the batch's held queue, raising ``event_held``
    once; an event already held is not held twice (at-least-once delivery)."""
    queue = work.held()
    if ev.event_id in queue.ids:
        return
    insort(queue.events, (t, ev.event_id, ev), key=_ORDER)
    queue.ids.add(ev.event_id)
    alert_id = content_id("event_held", ns.status, ev.event_id)
    if alert_id not in ns.alerted:
        ns.alerted.add(alert_id)
        out.append(_held_alert(ns, work.state.jurisdiction, ev, t))


def unhold(ns: Namespace, jurisdiction: str, ev: Any, t: int, out: list[Any]) -> None:
    """``ev`` leaves the held queue to be applied: its ``event_held`` alert is retracted,
    so what stands is the same for any interleaving of ticks and events (a replay reads
    the topics in other batches than the live run did)."""
    alert_id = content_id("event_held", ns.status, ev.event_id)
    if alert_id in ns.alerted:
        ns.alerted.discard(alert_id)
        out.append(retracted(_held_alert(ns, jurisdiction, ev, t)))


def _held_alert(ns: Namespace, jurisdiction: str, ev: Any, t: int) -> Alert:
    """The ``event_held`` alert of ``ev``: a function of the event alone."""
    return alert(
        ns,
        jurisdiction,
        "event_held",
        "yellow",
        about=(ev.event_id,),
        at=t,
        message=(
            f"{ev.source.agency_id}'s {ev.kind} {ev.event_id} (occurred_at "
            f"{ev.occurred_at.isoformat()}) is ahead of the log's clock: held until the clock "
            "reaches it; check its occurred_at"
        ),
        details={
            "agency_id": ev.source.agency_id,
            "kind": ev.kind,
            "occurred_at": ev.occurred_at.isoformat(),
        },
        subject=ev.event_id,
        incident=ev.incident_id,
    )


def take_ready(work: Work, limit: int | None) -> list[tuple[int, Any]]:
    """Take out of the batch's held queue, oldest first, the events the tick watermark
    has come within ``limit`` of (every one when holding is off)."""
    horizon = NEVER if limit is None else work.state.tick_wm + limit
    queue = work.held()
    end = bisect_right(queue.events, horizon, key=_TIME)
    ready = [(t, ev) for t, _, ev in queue.events[:end]]
    for _, event_id, _ in queue.events[:end]:
        queue.ids.discard(event_id)
    del queue.events[:end]
    return ready
