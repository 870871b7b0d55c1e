"""The roll-up stages' task ledger: acks and ``task_overdue`` for provincial and national
tasks, decided by the very code that decides the city stage's (:mod:`streams.core.tasks`).

An area's ledger is a :class:`~streams.core.state.CoreState` of its own (``jurisdiction``:
the area) that never holds an incident: per CAP status only the task ledger (tasks and
their claims, acks, what each task last showed, overdue alerts, the due-time heap) and a
watermark. The roll-up stage is the one claimant (:data:`OWNER`): a tier change of the area
issues its tasks under that claim, a dropped one withdraws them.

**Time** is the area's watermark: the newest tick the stage has seen (every area sees every
tick the decide stage forwards) or, per status, the newest event time of an ack routed to
the area. City snapshots do not move it: their ``updated_at`` may be a time a retracted
decision once had, and the snapshots a live run coalesces per batch are not those of a
replay, so the watermark would depend on batching. Ticks are in the log, so a replay sees
the time the live run saw. Every input is a join (max, min, set union), so the ledger's
state after any order, batching or repetition of the same inputs is the same; only what
it already emitted (``shown``, alert ids) depends on arrival, as in the city stage.

**Acks** reach an area when their ``incident_id`` names the area's roll-up incident
(:func:`ack_area`): an agency acks a roll-up task with the ``incident_id`` the task
carries, as any ack names the incident it is about. That test is a function of the ack
alone, so an ack that comes before its task (a late snapshot issues it later) is kept in
the area's ledger and shows the task acked when it is issued, whatever the order; and the
ledger keeps only acks of the few roll-up incidents (statuses x areas x roll-up diseases),
never the acks of every city task of the country.
"""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from typing import Any, get_args

from streams.core.compiled import Compiled, compile_rulebook
from streams.core.eventtime import NEVER, to_us
from streams.core.ids import content_id
from streams.core.rulebook import TIER_RANK, Rulebook
from streams.core.state import NO_TIME, CoreState, Namespace, Work, initial_state
from streams.core.tasks import apply_ack, issue_tasks, overdue, task_specs, withdraw_tasks
from streams.core.tiers import Pair
from topics.models import IncidentEvent
from topics.vocabulary import Status, Tier

NATION = "nation"  # the area of the national stage
OWNER = "rollup"  # the claim a roll-up task is held by (the city's are track keys)
# Every status and province (GB/T 2260: first digit 1-8) a roll-up incident id can name.
_STATUSES: tuple[Status, ...] = get_args(Status)
_PROVINCES = tuple(f"{n:02d}" for n in range(10, 90))


def rollup_incident_id(status: str, area: str, disease: str) -> str:
    """The incident id of an area's roll-up of ``disease``: its escalations, tasks and
    picture carry it, and an ack of one of its tasks names it."""
    return content_id("rollup", status, area, disease)


def ack_area(ack: IncidentEvent, rulebook: Rulebook) -> str | None:
    """The area whose roll-up incident ``ack`` names, for an Ack (``msg_type: Ack`` with
    an ``ack_task_id``); None for any other event and for acks of city tasks."""
    if ack.msg_type != "Ack" or ack.ack_task_id is None:
        return None
    levels = tuple(sorted({(r.level, d) for r in rulebook.rollup for d in r.diseases}))
    return _areas_by_incident(levels).get(ack.incident_id)


@lru_cache(maxsize=16)
def _areas_by_incident(levels: tuple[tuple[str, str], ...]) -> dict[str, str]:
    """Roll-up incident id -> area, for every (level, disease) of a rulebook's roll-up
    rules (a few hundred uuid5s, once per rulebook)."""
    return {
        rollup_incident_id(status, area, disease): area
        for level, disease in levels
        for area in ((NATION,) if level == "nation" else _PROVINCES)
        for status in _STATUSES
    }


def rollup_task_ids(
    status: str, area: str, disease: str, *, tier: Tier, at: datetime, rulebook: Rulebook
) -> dict[tuple[str, str], str]:
    """(agency, action) -> task id of the tasks an area's escalation to ``tier`` at ``at``
    issues: what an agency acks (a scenario's acks name them)."""
    inc = rollup_incident_id(status, area, disease)
    pair: Pair = (0, (to_us(at), TIER_RANK[tier], (), {}))
    specs = task_specs(status, inc, pair, compile_rulebook(rulebook))
    return {(item.agency, item.action): task_id for task_id, item, _ in specs}


def initial_ledger(area: str, clock: int) -> CoreState:
    """The empty ledger of an area the stage meets for the first time, its watermark the
    newest tick the stage saw before (``clock``): the area missed no time."""
    ledger = initial_state(area)
    ledger.tick_wm = clock
    return ledger


def follow_line(
    ledger: CoreState,
    status: Status,
    inc: str,
    lines: tuple[list[Pair], list[Pair]],
    *,
    comp: Compiled,
    out: list[Any],
) -> CoreState:
    """The area's timeline of ``inc`` went from the old to the new of ``lines``: withdraw
    the tasks of dropped tier changes (but those an added one issues again), issue those
    of added ones (shown ``acked`` at once when an ack came first, ``overdue`` when the
    watermark is past their due time, and then alerted)."""
    old, new = lines
    work = Work(ledger)
    ns = work.namespace(status)
    area, watermark = ledger.jurisdiction, _watermark(work.state, ns)
    _adopt(ns, area, inc, old, comp=comp, out=out)
    kept = {spec[0] for pair in new for spec in task_specs(status, inc, pair, comp)}
    for pair in old:
        if pair not in new:
            withdraw_tasks(ns, area, OWNER, inc, pair, comp=comp, kept=kept, out=out)
    for pair in new:
        if pair not in old:
            issue_tasks(ns, area, OWNER, inc, pair, comp=comp, watermark=watermark, out=out)
    _advance(ns, area, watermark, out)
    return work.seal()


def _adopt(
    ns: Namespace, area: str, inc: str, line: list[Pair], *, comp: Compiled, out: list[Any]
) -> None:
    """Take into the ledger the tasks of a state written before roll-up tasks were
    followed (issued then, shown ``open``, never in a ledger), so they are withdrawn and
    go overdue from now on; what is already known about them (an ack) is shown."""
    for pair in line:
        if any(spec[0] not in ns.tasks for spec in task_specs(ns.status, inc, pair, comp)):
            shown: list[Any] = []
            issue_tasks(ns, area, OWNER, inc, pair, comp=comp, watermark=NO_TIME, out=shown)
            out += [task for task in shown if task.state != "open"]


def follow_ack(
    ledger: CoreState, ack: IncidentEvent, *, comp: Compiled, out: list[Any]
) -> CoreState:
    """An agency acked ``ack.ack_task_id`` at ``ack.occurred_at``; the very ledger when
    that changes nothing (a repeat, or an ack later than one already kept)."""
    task_id, t = ack.ack_task_id, to_us(ack.occurred_at)
    if task_id is None:
        return ledger
    before = ledger.namespaces.get(ack.status)
    if before is not None and before.event_wm >= t and _known_ack(before, task_id, ack, t):
        return ledger
    work = Work(ledger)
    ns = work.namespace(ack.status)
    ns.event_wm = max(ns.event_wm, t)
    area, watermark = ledger.jurisdiction, _watermark(work.state, ns)
    apply_ack(ns, area, ack, t, comp=comp, watermark=watermark, out=out)
    _advance(ns, area, watermark, out)
    return work.seal()


def _known_ack(ns: Namespace, task_id: str, ack: IncidentEvent, t: int) -> bool:
    """Whether ``ack`` changes nothing: an ack as early is counted, or it is kept already."""
    if ns.acks.get(task_id, t + 1) <= t:
        return True
    speaker = (t, to_us(ack.reported_at), ack.source.agency_type, ack.source.agency_id)
    return speaker in ns.early_acks.get(task_id, ())


def follow_tick(ledger: CoreState, at: int, out: list[Any]) -> CoreState:
    """Time has reached ``at``: every task it leaves past due unacked goes overdue. The
    very ledger when ``at`` is not newer than the watermark."""
    if at <= ledger.tick_wm:
        return ledger
    work = Work(ledger)
    work.state.tick_wm = at
    for status in sorted(ledger.namespaces):
        if max(ledger.namespaces[status].event_wm, at) >= ledger.namespaces[status].next_due:
            ns = work.namespace(status)
            _advance(ns, ledger.jurisdiction, _watermark(work.state, ns), out)
    return work.seal()


def _watermark(state: CoreState, ns: Namespace) -> int:
    return max(ns.event_wm, state.tick_wm)


def _advance(ns: Namespace, area: str, watermark: int, out: list[Any]) -> None:
    """Raise ``task_overdue`` for what the watermark has passed; note the next due time."""
    if watermark >= ns.next_due:
        overdue(ns, area, watermark, out)
        ns.next_due = ns.due_heap[0][0] if ns.due_heap else NEVER
