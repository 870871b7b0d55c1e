"""The task ledger the response plan writes, shared by the city stage (``streams.core.plan``)
and the roll-up stages (``streams.core.rollup_tasks``).

Every tier change issues the plan's tasks of the new tier (``stand_down`` when the tier is
dropped) to each agency; ``task_id`` is the uuid5 of incident, tier change, agency, action
and effective time, so a replay issues the same ids. A task lives while a claim holds it
(a track's key; the roll-up stages' own). Its state is a function of the events: ``acked``
once an agency acked it (incident event, ``msg_type: Ack``, ``ack_task_id``), else
``overdue`` once the watermark passed its due time, else ``open``; ``task_overdue`` is
raised when the due time passed with no ack at or before it, and retracted when such an
ack comes late. An ack is kept even before its task exists. A withdrawn task (its tier
change was dropped) is shown ``retracted``, its overdue alert with it.
"""

from __future__ import annotations

import heapq
from collections.abc import Collection
from typing import Any

from streams.core.alerts import alert, retracted
from streams.core.compiled import Compiled, PlanItem
from streams.core.eventtime import NEVER, from_us, to_us
from streams.core.ids import content_id
from streams.core.rulebook import TIER_ORDER
from streams.core.state import Namespace, edited
from streams.core.tiers import Pair
from topics.models import IncidentEvent
from topics.outputs import Alert, Task
from topics.vocabulary import Tier

TIER_BY_RANK: dict[int, Tier | None] = {0: None, **dict(enumerate(TIER_ORDER, start=1))}


def task_specs(
    status: str, inc: str, pair: Pair, comp: Compiled, *, assess: bool = False
) -> list[tuple[str, PlanItem, Tier]]:
    """(task_id, plan item, task tier) of the tasks a tier change issues (the city stage's
    and the roll-up stages' alike): the plan's tasks of a declared change, or with
    ``assess`` the command agency's joint assessment of a recommended one."""
    prev, (t, rank, _, _) = pair
    tier, previous = TIER_BY_RANK[rank], TIER_BY_RANK[prev]
    task_tier = tier or previous
    if task_tier is None:
        return []
    label = tier or f"stand_down:{previous}"
    items = comp.assessment if assess else comp.plan.get(rank, ())
    if assess:
        label = "assess:" + label
    return [
        (content_id("task", status, inc, label, item.agency, item.action, t), item, task_tier)
        for item in items
    ]


def issue_tasks(
    ns: Namespace,
    jurisdiction: str,
    owner: str,
    inc: str,
    pair: Pair,
    *,
    comp: Compiled,
    watermark: int,
    out: list[Any],
    assess: bool = False,
) -> None:
    """Issue the tasks of tier change ``pair`` of incident ``inc`` under ``owner``'s claim
    (a track key; the roll-up stages' own): a task not issued yet is put on the due-time
    heap and shown; one issued already only gets the claim."""
    t = pair[1][0]
    for task_id, item, task_tier in task_specs(ns.status, inc, pair, comp, assess=assess):
        claim(
            ns,
            jurisdiction,
            owner,
            task_id,
            spec=(t, item, task_tier, inc),
            comp=comp,
            watermark=watermark,
            out=out,
        )


def claim(
    ns: Namespace,
    jurisdiction: str,
    owner: str,
    task_id: str,
    *,
    spec: tuple[int, PlanItem, Tier, str],
    comp: Compiled,
    watermark: int,
    out: list[Any],
) -> None:
    """Put ``owner``'s claim on a task (issued at ``t``, from plan item ``item``): a task
    not issued yet is put on the due-time heap and shown."""
    t, item, task_tier, inc = spec
    known = ns.tasks.get(task_id)
    owners = tuple(sorted({owner, *(known[0] if known else ())}))
    due = t + item.due
    ns.tasks[task_id] = (owners, t, item.agency, item.action, due, task_tier, inc)
    if known is None:
        heapq.heappush(ns.due_heap, (due, task_id))
        ns.next_due = min(ns.next_due, due)
        if task_id in ns.early_acks:
            judge_early_acks(ns, jurisdiction, task_id, comp=comp, watermark=watermark, out=out)
        _show_task(ns, jurisdiction, task_id, watermark, out)


# A warning has no tier yet: its verification task is filed under the lowest one.
VERIFICATION_TIER: Tier = "IV"


def verification_task_id(status: str, inc: str, at: int, comp: Compiled) -> str:
    """The id of the verification task of the warning of incident ``inc`` opened at ``at``."""
    item = comp.verification
    return content_id("task", status, inc, "verify", item.agency, item.action, at)


def verify_warning(
    ns: Namespace,
    jurisdiction: str,
    owner: str,
    warning: tuple[str, int] | None,
    *,
    gone: tuple[str, int] | None,
    comp: Compiled,
    watermark: int,
    out: list[Any],
) -> None:
    """The verification task follows the warning: ``gone`` (incident, opened at) withdrawn,
    ``warning`` issued (the rulebook's ``verification``: default health, due in 2 h)."""
    if gone is not None:
        unclaim(ns, jurisdiction, owner, verification_task_id(ns.status, *gone, comp), out)
    if warning is not None:
        inc, at = warning
        spec = (at, comp.verification, VERIFICATION_TIER, inc)
        task_id = verification_task_id(ns.status, inc, at, comp)
        claim(ns, jurisdiction, owner, task_id, spec=spec, comp=comp, watermark=watermark, out=out)


def withdraw_tasks(
    ns: Namespace,
    jurisdiction: str,
    owner: str,
    inc: str,
    pair: Pair,
    *,
    comp: Compiled,
    kept: Collection[str],
    out: list[Any],
    assess: bool = False,
) -> None:
    """Take ``owner``'s claim off the tasks of a dropped tier change (but those in
    ``kept``: a change that replaces it issues them again); a task left without a claim
    is retracted, its overdue alert with it."""
    for task_id, _, _ in task_specs(ns.status, inc, pair, comp, assess=assess):
        if task_id not in kept:
            unclaim(ns, jurisdiction, owner, task_id, out)


def unclaim(ns: Namespace, jurisdiction: str, key: str, task_id: str, out: list[Any]) -> None:
    """Take the track's claim off a task (two tracks an agency gave the same incident id
    may issue the very same task: it lives while either claims it); retract it when
    no claim is left."""
    known = ns.tasks.get(task_id)
    if known is None or key not in known[0]:
        return
    owners = tuple(k for k in known[0] if k != key)
    if owners:
        ns.tasks[task_id] = (owners, *known[1:])
        return
    ns.touched["w"].update(("o:" + task_id, "t:" + task_id))
    edited(ns.shown).pop("o:" + task_id, None)
    shown = edited(ns.shown).pop("t:" + task_id, None)
    if shown is not None:
        out.append(_task(ns, jurisdiction, task_id, "retracted", shown[1]))
    alert_id = _overdue_id(ns.status, task_id)
    if alert_id in ns.alerted:
        ns.alerted.discard(alert_id)
        out.append(retracted(_overdue_alert(ns, jurisdiction, task_id)))
    del ns.tasks[task_id]


def _task(ns: Namespace, jurisdiction: str, task_id: str, state: str, acked: int | None) -> Task:
    _, t, agency, action, due, tier, inc = ns.tasks[task_id]
    return Task(
        task_id=task_id,
        incident_id=inc,
        jurisdiction=jurisdiction,
        status=ns.status,
        tier=tier,
        agency_type=agency,
        action=action,
        issued_at=from_us(t),
        due_at=from_us(due),
        state=state,
        acked_at=from_us(acked) if acked is not None else None,
    )


def _show_task(
    ns: Namespace, jurisdiction: str, task_id: str, watermark: int, out: list[Any]
) -> None:
    """Emit the task if its state (acked / overdue / open) differs from the last shown."""
    acked = ns.acks.get(task_id)
    due = ns.tasks[task_id][4]
    state = "acked" if acked is not None else "overdue" if due < watermark else "open"
    key = "t:" + task_id
    if ns.shown.get(key) == (state, acked):
        return
    ns.touched["w"].add(key)
    edited(ns.shown)[key] = (state, acked)
    out.append(_task(ns, jurisdiction, task_id, state, acked))


def apply_ack(
    ns: Namespace,
    jurisdiction: str,
    ack: IncidentEvent,
    t: int,
    *,
    comp: Compiled,
    watermark: int,
    out: list[Any],
) -> None:
    """An agency acknowledged ``ack.ack_task_id`` at ``t`` (its event time). Of a task not
    known yet it is kept, with who sent it, until the task is issued (then judged) or
    ``input_checks.unknown_ack_keep_hours`` have passed (then forgotten)."""
    task_id = ack.ack_task_id
    if task_id is None:
        return
    speaker = (t, to_us(ack.reported_at), ack.source.agency_type, ack.source.agency_id)
    if task_id not in ns.tasks:
        kept = ns.early_acks.get(task_id, ())
        if speaker not in kept:
            ns.early_acks[task_id] = tuple(sorted((*kept, speaker)))
            ns.next_due = min(ns.next_due, t + comp.unknown_ack_keep)
        return
    _judge_ack(ns, jurisdiction, task_id, speaker, comp=comp, watermark=watermark, out=out)


def _judge_ack(
    ns: Namespace,
    jurisdiction: str,
    task_id: str,
    speaker: tuple[int, int, str, str],
    *,
    comp: Compiled,
    watermark: int,
    out: list[Any],
) -> None:
    """Count an ack of a known task if its sender may ack it (else ``ack_rejected``). An
    ack in time retracts the task's overdue alert, unless it was reported after the log's
    clock had raised that alert: an agency cannot backdate its way out of being late."""
    t, reported, agency_type, agency_id = speaker
    _, _, agency, action, due, _, _ = ns.tasks[task_id]
    allowed = comp.ack_by.get(action, frozenset())
    if agency_type != agency and agency_type not in allowed and agency_id not in allowed:
        _reject_ack(ns, jurisdiction, task_id, speaker, allowed=allowed, out=out)
        return
    before = ns.acks.get(task_id)
    if before is not None and before <= t:
        return
    ns.acks[task_id] = t
    _show_task(ns, jurisdiction, task_id, watermark, out)
    alert_id = _overdue_id(ns.status, task_id)
    raised_at = ns.shown.get("o:" + task_id, watermark)
    if t <= due and alert_id in ns.alerted and reported < raised_at:  # acked in time after all
        ns.alerted.discard(alert_id)
        out.append(retracted(_overdue_alert(ns, jurisdiction, task_id)))


def _reject_ack(
    ns: Namespace,
    jurisdiction: str,
    task_id: str,
    speaker: tuple[int, int, str, str],
    *,
    allowed: frozenset[str],
    out: list[Any],
) -> None:
    t, _, agency_type, agency_id = speaker
    _, _, agency, action, _, _, inc = ns.tasks[task_id]
    alert_id = content_id("ack_rejected", ns.status, task_id, agency_id, t)
    if alert_id in ns.alerted:
        return
    ns.alerted.add(alert_id)
    who = ", ".join(sorted({agency, *allowed}))
    out.append(
        alert(
            ns,
            jurisdiction,
            "ack_rejected",
            "yellow",
            about=(task_id, agency_id, t),
            at=t,
            message=(
                f"{agency_id} ({agency_type}) may not ack '{action}': only {who} may "
                "(rulebook authority.ack_by); the task is still open"
            ),
            details={"agency_id": agency_id, "agency_type": agency_type, "action": action},
            subject=task_id,
            incident=inc,
        )
    )


def judge_early_acks(
    ns: Namespace,
    jurisdiction: str,
    task_id: str,
    *,
    comp: Compiled,
    watermark: int,
    out: list[Any],
) -> None:
    """Judge the acks kept for ``task_id`` before it was issued (it just was)."""
    for speaker in ns.early_acks.pop(task_id, ()):
        _judge_ack(ns, jurisdiction, task_id, speaker, comp=comp, watermark=watermark, out=out)


def forget_early_acks(ns: Namespace, watermark: int, keep: int) -> int:
    """Forget acks of unknown tasks older than ``keep`` before ``watermark``; returns when
    the next one is due to be forgotten (NEVER: none left)."""
    soonest = NEVER
    for task_id, speakers in list(ns.early_acks.items()):
        left = tuple(s for s in speakers if s[0] + keep > watermark)
        if not left:
            del ns.early_acks[task_id]
            continue
        if left != speakers:
            ns.early_acks[task_id] = left
        soonest = min(soonest, left[0][0] + keep)
    return soonest


def overdue(ns: Namespace, jurisdiction: str, watermark: int, out: list[Any]) -> None:
    """``task_overdue`` for every task whose due time the watermark has passed unacked."""
    heap = ns.due_heap
    while heap and heap[0][0] < watermark:
        due, task_id = heapq.heappop(heap)
        if task_id not in ns.tasks:
            continue  # retracted
        _show_task(ns, jurisdiction, task_id, watermark, out)
        acked = ns.acks.get(task_id)
        if acked is not None and acked <= due:
            continue
        alert_id = _overdue_id(ns.status, task_id)
        if alert_id in ns.alerted:
            continue
        ns.alerted.add(alert_id)
        ns.touched["w"].add("o:" + task_id)
        edited(ns.shown)["o:" + task_id] = watermark  # when the log's clock raised it
        out.append(_overdue_alert(ns, jurisdiction, task_id))


def _overdue_id(status: str, task_id: str) -> str:
    return content_id("task_overdue", status, task_id)


def _overdue_alert(ns: Namespace, jurisdiction: str, task_id: str) -> Alert:
    _, _, agency, action, due, tier, inc = ns.tasks[task_id]
    return alert(
        ns,
        jurisdiction,
        "task_overdue",
        "orange",
        about=(task_id,),
        at=due,
        message=f"{agency} has not acknowledged '{action}' by its due time",
        details={"agency_type": agency, "action": action, "tier": tier},
        subject=task_id,
        incident=inc,
    )
