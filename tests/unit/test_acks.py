"""Acks judged fairly (issue 11 item 3, issue 12 item 4): only the agency type a task was
issued to (or one the rulebook's ``authority.ack_by`` adds for its action) may ack it; an
ack reported after the log's clock raised the overdue alert does not retract it; acks of
unknown tasks are kept for ``unknown_ack_keep_hours`` only. By hand from the default
rulebook: 12 confirmed Hangzhou cholera cases make Tier III, whose plan issues "convene city
joint command" to emergency (due 2 h), "designate hospitals" to health and "secure
perimeter" to public_security (due 4 h)."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from streams.core import (
    CoreState,
    RulebookError,
    auto_declared,
    decode_state,
    default_rulebook,
    encode_state,
    initial_state,
    parse_rulebook,
    step_many,
)
from tests.unit.test_input_checks import HANGZHOU, hz_case
from topics.codec import decode
from topics.outputs import Alert, Task, Tick

BOOK = auto_declared(default_rulebook())  # tasks on the recommendation, as before declarations


def _tier_iii() -> tuple[CoreState, dict[str, Task], datetime]:
    """The state after the outbreak, its Tier III tasks by action, and their issue time."""
    events = [decode(orjson.dumps(hz_case(n, n * 120))) for n in range(12)]
    state, out = step_many(initial_state(HANGZHOU), events, BOOK)
    tasks = {o.action: o for o in out if isinstance(o, Task) and o.tier == "III"}
    assert set(tasks) == {"convene city joint command", "designate hospitals", "secure perimeter"}
    return state, tasks, tasks["secure perimeter"].issued_at


def _ack(task: Task, agency_type: str, occurred: datetime, reported: datetime, n: int = 0) -> Any:
    body = {
        "kind": "incident",
        "msg_type": "Ack",
        "event_id": f"ack-{task.task_id}-{agency_type}-{n}",
        "source": {"agency_id": f"{agency_type}-3301", "agency_type": agency_type},
        "occurred_at": occurred.isoformat(),
        "reported_at": reported.isoformat(),
        "region": "330106",
        "incident_id": task.incident_id,
        "category": "infectious_disease",
        "ack_task_id": task.task_id,
    }
    return decode(orjson.dumps(body))


def _tick(at: datetime) -> Tick:
    return Tick(event_id=f"tick-{at.isoformat()}", tick_at=at)


def _alerts(out: list[Any], kind: str) -> list[Alert]:
    return [o for o in out if isinstance(o, Alert) and o.alert_kind == kind]


def test_an_ack_from_another_agency_type_is_rejected_and_the_task_goes_overdue() -> None:
    state, tasks, issued = _tier_iii()
    perimeter = tasks["secure perimeter"]  # public_security's
    state, out = step_many(state, [_ack(perimeter, "transport", issued, issued)], BOOK)
    [rejected] = _alerts(out, "ack_rejected")
    assert rejected.subject_id == perimeter.task_id
    assert "transport-3301 (transport) may not ack 'secure perimeter'" in rejected.message
    assert not [o for o in out if isinstance(o, Task) and o.state == "acked"]
    _, out = step_many(state, [_tick(issued + timedelta(hours=5))], BOOK)
    overdue = {a.subject_id for a in _alerts(out, "task_overdue")}
    assert perimeter.task_id in overdue


def test_its_own_agency_type_and_the_rulebooks_widening_may_ack() -> None:
    state, tasks, issued = _tier_iii()
    at = issued + timedelta(minutes=30)
    own = _ack(tasks["secure perimeter"], "public_security", at, at)
    widened = _ack(tasks["convene city joint command"], "health", at, at)  # authority.ack_by
    state, out = step_many(state, [own, widened], BOOK)
    assert not _alerts(out, "ack_rejected")
    acked = {o.action for o in out if isinstance(o, Task) and o.state == "acked"}
    assert acked == {"secure perimeter", "convene city joint command"}


def test_an_ack_reported_after_the_overdue_alert_does_not_retract_it() -> None:
    state, tasks, issued = _tier_iii()
    perimeter = tasks["secure perimeter"]
    state, out = step_many(state, [_tick(issued + timedelta(hours=5))], BOOK)
    assert perimeter.task_id in {a.subject_id for a in _alerts(out, "task_overdue")}
    # Backdated: "we did it at +1 h", reported at +6 h, after the clock raised the alert.
    late = _ack(
        perimeter, "public_security", issued + timedelta(hours=1), issued + timedelta(hours=6)
    )
    _, out = step_many(state, [late], BOOK)
    assert not [a for a in _alerts(out, "task_overdue") if a.retracted]
    assert [o.state for o in out if isinstance(o, Task)] == ["acked"]
    # Reported in time (+1.5 h) but delivered late: the alert was raised wrongly, retracted.
    fair = _ack(
        perimeter, "public_security", issued + timedelta(hours=1), issued + timedelta(hours=1.5)
    )
    _, out = step_many(state, [fair], BOOK)
    [retraction] = [a for a in _alerts(out, "task_overdue") if a.retracted]
    assert retraction.subject_id == perimeter.task_id


def test_acks_of_unknown_tasks_are_kept_then_forgotten() -> None:
    state, tasks, issued = _tier_iii()
    ghost = tasks["secure perimeter"].model_copy(update={"task_id": "no-such-task"})
    state, out = step_many(state, [_ack(ghost, "public_security", issued, issued)], BOOK)
    assert not _alerts(out, "ack_rejected")  # not judged: nobody knows the task
    ns = state.namespaces["Actual"]
    assert list(ns.early_acks) == ["no-such-task"]
    assert decode_state(encode_state(state)).namespaces["Actual"].early_acks == ns.early_acks
    state, _ = step_many(state, [_tick(issued + timedelta(hours=719))], BOOK)
    assert list(state.namespaces["Actual"].early_acks) == ["no-such-task"]
    state, _ = step_many(state, [_tick(issued + timedelta(hours=721))], BOOK)
    assert state.namespaces["Actual"].early_acks == {}
    assert "no-such-task" not in state.namespaces["Actual"].acks


def test_an_ack_that_came_before_its_task_is_judged_when_the_task_is_issued() -> None:
    _, tasks, issued = _tier_iii()
    events = [decode(orjson.dumps(hz_case(n, n * 120))) for n in range(12)]
    early = [
        _ack(tasks["secure perimeter"], "public_security", issued, issued),
        _ack(tasks["designate hospitals"], "transport", issued, issued),
    ]
    state, out = step_many(initial_state(HANGZHOU), [*early, *events], BOOK)
    states = {o.action: o.state for o in out if isinstance(o, Task) and o.tier == "III"}
    assert states["secure perimeter"] == "acked"
    assert states["designate hospitals"] == "open"
    [rejected] = _alerts(out, "ack_rejected")
    assert rejected.subject_id == tasks["designate hospitals"].task_id
    assert state.namespaces["Actual"].early_acks == {}


def test_the_rulebook_names_a_widening_of_an_action_no_task_does() -> None:
    text = (Path(__file__).resolve().parents[2] / "streams/rulebooks/default.yaml").read_text()
    bad = text.replace("convene city joint command: [health]", "convene the moon: [health]")
    with pytest.raises(RulebookError, match=r"authority\.ack_by\.convene the moon"):
        parse_rulebook(bad)
    wrong_type = text.replace("transport: [mass_casualty, other]", "transport: [meteor]")
    with pytest.raises(RulebookError, match=r"authority\.categories\.transport"):
        parse_rulebook(wrong_type)
