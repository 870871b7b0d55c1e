"""The stockpile catalogue (issue 15 item 4): a jurisdiction holding less than 30 days of
a watched item at full load falls short; each fall raises ``stockpile_short`` and issues a
replenishment task to the responsible agency, acked and overdue like every task. Worked
out by hand on the default rulebook's ppe.n95 entry (1 respirator per isolation bed a day,
30 days, health, due in 24 h), then checked for arrival order."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from streams.core import default_rulebook, initial_state, step_many
from streams.core.rulebook import RulebookError, parse_rulebook
from tests.folding import fold_shuffled, snapshot
from topics.models import IncidentEvent
from topics.outputs import Alert, Task, Tick

CST = timezone(timedelta(hours=8))
T0 = datetime(2026, 3, 1, 8, 0, tzinfo=CST)
RULES = default_rulebook()


def hours(h: float) -> datetime:
    return T0 + timedelta(hours=h)


def snap(site: str, item: str, hour: int, on_hand: float, baseline: float | None = None) -> Any:
    return snapshot(hours(hour), site, item, on_hand, baseline)


# Two hospitals of 10 isolation beds each: 20 at full load, 30 x 1 x 20 = 600 respirators.
SNAPSHOTS = [
    snap("H1", "bed.isolation", 0, 4, 10),  # 10 beds known: 300 needed, no n95 count yet
    snap("D1", "ppe.n95", 1, 400),  # 400 >= 300
    snap("H2", "bed.isolation", 2, 10, 10),  # 20 beds: 600 needed > 400: SHORT (20 days)
    snap("D1", "ppe.n95", 3, 500),  # still short: nothing more
    snap("D1", "ppe.n95", 4, 700),  # 700 >= 600: enough
    snap("D1", "ppe.n95", 30, 550),  # short again (27.5 days): a second task
    snap("H3", "bed.isolation", 5, 0, None),  # no baseline: no capacity counted
]
TASK_ACTION = "replenish ppe.n95 to 30 days at full load"


def standing(out: list[Any], kind: str) -> dict[str, Alert]:
    """The ``kind`` alerts in force after ``out``: emitted and not retracted."""
    alive: dict[str, Alert] = {}
    for a in out:
        if isinstance(a, Alert) and a.alert_kind == kind:
            if a.retracted:
                del alive[a.alert_id]
            else:
                alive[a.alert_id] = a
    return alive


def shortfalls(out: list[Any]) -> dict[str, tuple[datetime, float, float, float]]:
    return {
        i: (a.at, a.details["on_hand"], a.details["needed"], a.details["days_at_full_load"])
        for i, a in standing(out, "stockpile_short").items()
    }


def tasks(out: list[Any]) -> dict[str, tuple[datetime, datetime, str, str]]:
    """The replenishment tasks after ``out``: the last copy of each, retracted left out."""
    last: dict[str, Task] = {}
    for o in out:
        if isinstance(o, Task) and o.action == TASK_ACTION:
            last[o.task_id] = o
    return {
        i: (t.issued_at, t.due_at, t.agency_type, t.state)
        for i, t in last.items()
        if t.state != "retracted"
    }


def test_each_fall_short_raises_an_alert_and_issues_a_task() -> None:
    _, out = step_many(initial_state("5101"), SNAPSHOTS, RULES)
    assert sorted(shortfalls(out).values()) == [
        (hours(2), 400.0, 600.0, 20.0),
        (hours(30), 550.0, 600.0, 27.5),
    ]
    # the 30 h snapshot moved the log's clock past the first task's due time
    assert sorted(tasks(out).values()) == [
        (hours(2), hours(26), "health", "overdue"),
        (hours(30), hours(54), "health", "open"),
    ]
    first = next(o for o in out if isinstance(o, Alert) and o.alert_kind == "stockpile_short")
    assert first.subject_id == "5101/ppe.n95"
    assert first.message == (
        "ppe.n95 in 5101: 400 on hand, 20.0 days at full load of 20 bed.isolation "
        "(target 30: 600); replenishment task to health"
    )
    task = next(o for o in out if isinstance(o, Task) and o.action == TASK_ACTION)
    assert (task.incident_id, task.tier) == ("stockpile/5101/ppe.n95", "IV")


def _ack(task_id: str, hour: float) -> IncidentEvent:
    return IncidentEvent(
        event_id=f"ack-{hour}",
        kind="incident",
        msg_type="Ack",
        source={"agency_id": "hc-5101", "agency_type": "health"},
        occurred_at=hours(hour),
        reported_at=hours(hour),
        region="510104",
        incident_id="stockpile/5101/ppe.n95",
        category="other",
        ack_task_id=task_id,
    )


def _with_ack_and_tick() -> list[Any]:
    """The snapshots, an ack of the 2 h task at 10 h, and a tick at 60 h (the 30 h task
    went unacked past its 54 h due time)."""
    _, out = step_many(initial_state("5101"), SNAPSHOTS, RULES)
    first = min((o for o in out if isinstance(o, Task)), key=lambda t: t.issued_at)
    return [*SNAPSHOTS, _ack(first.task_id, 10), Tick(event_id="tick-60", tick_at=hours(60))]


def test_the_tasks_are_acked_and_go_overdue_like_every_task() -> None:
    _, out = step_many(initial_state("5101"), _with_ack_and_tick(), RULES)
    assert sorted(tasks(out).values()) == [
        (hours(2), hours(26), "health", "acked"),
        (hours(30), hours(54), "health", "overdue"),
    ]
    overdue = standing(out, "task_overdue").values()
    assert [(a.at, a.details["action"]) for a in overdue] == [(hours(54), TASK_ACTION)]


def test_a_late_snapshot_brings_the_shortfalls_back() -> None:
    # without H2's beds only 10 are known (300 needed): never short, no task
    late = SNAPSHOTS[2]
    state, out = step_many(initial_state("5101"), [e for e in SNAPSHOTS if e is not late], RULES)
    assert shortfalls(out) == {} and tasks(out) == {}
    _, more = step_many(state, [late], RULES)
    whole = step_many(initial_state("5101"), SNAPSHOTS, RULES)[1]
    assert shortfalls(out + more) == shortfalls(whole)
    assert tasks(out + more) == tasks(whole)


def test_an_early_snapshot_takes_a_shortfall_back_with_its_task() -> None:
    # a late 1.5 h report of 300 more respirators at a second depot: 700 >= 600 at 2 h, so
    # the 2 h fall never happened (its alert and task retracted); D1's own 3 h report of
    # 500 + D2's 300 = 800 is enough too, and the 30 h fall (550 + 300 = 850) goes as well
    state, out = step_many(initial_state("5101"), SNAPSHOTS, RULES)
    _, more = step_many(state, [snap("D2", "ppe.n95", 1, 300)], RULES)
    assert shortfalls(out + more) == {} and tasks(out + more) == {}
    retracted = [o for o in more if isinstance(o, Task) and o.state == "retracted"]
    assert len(retracted) == 2


@pytest.mark.parametrize("seed", range(8))
def test_alerts_and_tasks_do_not_depend_on_arrival_order(seed: int) -> None:
    events = _with_ack_and_tick()
    _, want = step_many(initial_state("5101"), events, RULES)
    got = fold_shuffled(events, RULES, seed)
    assert shortfalls(got) == shortfalls(want)
    assert tasks(got) == tasks(want)


@pytest.mark.parametrize(
    ("entries", "problems"),
    [
        (
            "  staffing:\n"
            "    - {id: a, staff: nurse, min_per_bed: 2}\n"
            "    - {id: a, staff: staff.x, min_per_bed: 0}\n",
            [
                "bad.yaml:7: resources.staffing[0].staff: String should match pattern",
                "resources.staffing[1].min_per_bed: Input should be greater than 0",
            ],
        ),
        (
            "  stockpile:\n"
            "    - {item: ppe.n95, per_bed_day: 1, agency: army}\n"
            "    - {item: ppe.gown, per_bed_day: 0, beds: icu, agency: health}\n",
            [
                "bad.yaml:7: resources.stockpile[0].agency: Input should be",
                "resources.stockpile[1].per_bed_day: Input should be greater than 0",
                "resources.stockpile[1].beds: String should match pattern",
            ],
        ),
        (
            "  stockpile:\n"
            "    - {item: ppe.n95, per_bed_day: 1, agency: health}\n"
            "    - {item: ppe.n95, per_bed_day: 2, agency: health}\n",
            ["resources.stockpile: Value error, [1].item: 'ppe.n95' appears twice"],
        ),
    ],
)
def test_a_bad_resources_entry_is_named_by_its_path(entries: str, problems: list[str]) -> None:
    text = 'version: "t"\ntiers: []\ndiseases: {}\nrules: []\nresources:\n' + entries
    with pytest.raises(RulebookError) as caught:
        parse_rulebook(text, "bad.yaml")
    for problem in problems:
        assert problem in str(caught.value)
