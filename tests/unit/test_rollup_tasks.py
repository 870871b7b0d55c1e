"""Roll-up tasks followed like the city's: hand-computed examples.

The story: cholera has a tier in Chengdu (5101) from T0 and in Mianyang (5107) from
T0 + 3 h, so province 51 is Tier II (cholera-cities-II) from T0 + 3 h. The default
rulebook's Tier II plan then issues four tasks at T0 + 3 h: emergency due in 1 h
(T0 + 4 h), health and public_security in 2 h (T0 + 5 h), transport in 4 h (T0 + 7 h).
Every expected id and time below is worked out from that, not by re-running the code."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import orjson

from streams.core import (
    NATION,
    decode_rollup,
    default_rulebook,
    encode_rollup,
    feeds_rollup,
    rollup_many,
)
from streams.core.ids import TIERFLOW_NS
from topics.models import IncidentEvent
from topics.outputs import Alert, IncidentState, Task, Tick

RULES = default_rulebook()
CST = timezone(timedelta(hours=8))
T0 = datetime(2026, 3, 1, 8, 0, tzinfo=CST)
H = timedelta(hours=1)
ISSUED = T0 + 3 * H
INC = str(uuid.uuid5(TIERFLOW_NS, "rollup|Actual|51|cholera"))
ACTIONS = {
    "emergency": ("convene provincial joint command", ISSUED + H),
    "health": ("designate hospitals and dispatch provincial expert teams", ISSUED + 2 * H),
    "public_security": ("secure perimeter", ISSUED + 2 * H),
    "transport": ("open green corridor", ISSUED + 4 * H),
}


def _us(at: datetime) -> int:
    return (at - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)


def task_id(agency: str) -> str:
    action = ACTIONS[agency][0]
    name = f"task|Actual|{INC}|II|{agency}|{action}|{_us(ISSUED)}"
    return str(uuid.uuid5(TIERFLOW_NS, name))


def city(code: str, since: datetime, *, version: int = 1, tiered: bool = True) -> IncidentState:
    return IncidentState(
        incident_id=f"inc-{code}",
        jurisdiction=code,
        category="infectious_disease",
        disease="cholera",
        tier="III" if tiered else None,
        opened_at=since,
        updated_at=since,
        rulebook_version=RULES.version,
        tier_periods=((since, None),) if tiered else (),
        version=version,
    )


SPREAD = [city("5101", T0), city("5107", ISSUED)]


def ack(agency: str, at: datetime, *, incident_id: str = INC, n: int = 1) -> IncidentEvent:
    return IncidentEvent(
        event_id=f"ack-{agency}-{n}",
        kind="incident",
        msg_type="Ack",
        source={"agency_id": f"{agency}-51", "agency_type": agency},
        occurred_at=at,
        reported_at=at,
        region="510100",
        incident_id=incident_id,
        category="infectious_disease",
        ack_task_id=task_id(agency),
    )


def tick(at: datetime) -> Tick:
    return Tick(event_id=f"tick-{at.isoformat()}", tick_at=at)


def fold(items: list[Any], areas: dict[str, Any] | None = None) -> tuple[dict[str, Any], list[Any]]:
    return rollup_many(areas or {}, items, RULES)


def tasks(out: list[Any]) -> dict[str, tuple[str, datetime | None]]:
    """agency -> (state, acked_at) of the last copy of each task in ``out``."""
    return {t.agency_type: (t.state, t.acked_at) for t in out if isinstance(t, Task)}


def alerts(out: list[Any]) -> list[Alert]:
    return [a for a in out if isinstance(a, Alert)]


def test_tier_ii_issues_the_plan_open_with_hand_computed_ids_and_due_times() -> None:
    areas, out = fold(SPREAD)
    issued = [t for t in out if isinstance(t, Task)]
    assert {(t.agency_type, t.task_id, t.due_at, t.state) for t in issued} == {
        (agency, task_id(agency), due, "open") for agency, (_, due) in ACTIONS.items()
    }
    assert {(t.incident_id, t.jurisdiction, t.issued_at) for t in issued} == {(INC, "51", ISSUED)}
    assert alerts(out) == []
    assert set(areas) == {"51"}  # cholera has no national rule


def test_a_tick_past_the_first_due_time_raises_one_overdue_alert_at_the_due_time() -> None:
    areas, _ = fold(SPREAD)
    areas, out = fold([tick(ISSUED + H)], areas)  # at the due time is not past it
    assert out == []
    areas, out = fold([tick(ISSUED + H + timedelta(minutes=1))], areas)
    (late,) = alerts(out)
    assert (late.alert_kind, late.subject_id, late.at) == (
        "task_overdue",
        task_id("emergency"),
        ISSUED + H,
    )
    assert (late.jurisdiction, late.incident_id, late.retracted) == ("51", INC, False)
    assert tasks(out) == {"emergency": ("overdue", None)}
    _, out = fold([tick(ISSUED + H + timedelta(minutes=2))], areas)
    assert out == []  # not twice
    assert "nation" in areas  # the nation's ledger keeps the stage's clock


def test_an_ack_before_the_due_time_acks_the_task_and_no_alert_follows() -> None:
    in_time = ISSUED + 30 * timedelta(minutes=1)
    areas, out = fold([*SPREAD, ack("emergency", in_time)])
    assert tasks(out)["emergency"] == ("acked", in_time)
    _, out = fold([tick(ISSUED + 5 * H)], areas)
    # past T0 + 8 h: health, public_security (due T0 + 5 h) and transport (T0 + 7 h) overdue
    assert sorted(a.details["agency_type"] for a in alerts(out)) == [
        "health",
        "public_security",
        "transport",
    ]
    assert "emergency" not in tasks(out)


def test_an_ack_within_the_due_time_arriving_after_the_alert_retracts_it() -> None:
    areas, out = fold([*SPREAD, tick(ISSUED + 2 * H)])
    (raised,) = alerts(out)
    in_time = ISSUED + 50 * timedelta(minutes=1)
    _, out = fold([ack("emergency", in_time)], areas)
    assert tasks(out) == {"emergency": ("acked", in_time)}
    assert [a.model_dump() for a in alerts(out)] == [
        {**raised.model_dump(), "retracted": True, "revision": 1}
    ]


def test_a_late_ack_after_the_due_time_keeps_the_alert() -> None:
    areas, _ = fold([*SPREAD, tick(ISSUED + 2 * H)])
    too_late = ISSUED + H + timedelta(minutes=5)
    _, out = fold([ack("emergency", too_late)], areas)
    assert tasks(out) == {"emergency": ("acked", too_late)}
    assert alerts(out) == []


def test_an_ack_before_the_task_exists_shows_it_acked_when_issued() -> None:
    early = ISSUED + 10 * timedelta(minutes=1)
    areas, out = fold([ack("emergency", early), tick(ISSUED + 2 * H)])
    assert [o for o in out if not isinstance(o, IncidentState)] == []  # nothing to show yet
    _, out = fold(SPREAD, areas)
    assert tasks(out)["emergency"] == ("acked", early)
    # the tick (T0 + 5 h) came before the task: health is due then, not past due
    assert tasks(out)["health"] == ("open", None)
    assert [a.subject_id for a in alerts(out)] == []


def test_an_area_met_after_the_ticks_starts_from_the_stage_clock() -> None:
    areas, _ = fold([tick(ISSUED + 6 * H)])
    assert set(areas) == {NATION}
    _, out = fold(SPREAD, areas)
    # T0 + 9 h: emergency, health, public_security due before it; transport (T0 + 7 h) too
    assert {a: s for a, (s, _) in tasks(out).items()} == dict.fromkeys(ACTIONS, "overdue")
    assert sorted(a.at for a in alerts(out)) == sorted(due for _, due in ACTIONS.values())


def test_a_retracted_task_retracts_its_overdue_alert() -> None:
    areas, out = fold([*SPREAD, tick(ISSUED + H + timedelta(minutes=1))])
    (raised,) = alerts(out)
    # Mianyang's tier is retracted by a late event: one city, the province stands down
    _, out = fold([city("5107", ISSUED, version=2, tiered=False)], areas)
    assert {a: s for a, (s, _) in tasks(out).items()} == dict.fromkeys(ACTIONS, "retracted")
    assert [(a.alert_id, a.retracted) for a in alerts(out)] == [(raised.alert_id, True)]


def test_acks_of_city_tasks_and_other_events_do_not_reach_the_rollup() -> None:
    city_ack = ack("emergency", ISSUED, incident_id="INC-1")
    assert not feeds_rollup(city_ack, RULES)
    assert feeds_rollup(ack("emergency", ISSUED), RULES)
    areas, out = fold([city_ack])
    assert (areas, out) == ({}, [])


def test_the_ledger_survives_encode_and_decode_and_old_states_still_decode() -> None:
    areas, _ = fold([*SPREAD, ack("health", ISSUED), tick(ISSUED + 2 * H)])
    province = areas["51"]
    again = decode_rollup(encode_rollup(province))
    assert encode_rollup(again) == encode_rollup(province)
    _, direct = fold([tick(ISSUED + 5 * H)], {**areas, "51": province})
    _, via = fold([tick(ISSUED + 5 * H)], {**areas, "51": again})
    assert direct == via and alerts(direct)
    # a state written before tasks were followed: five fields, no ledger (an empty one)
    old = decode_rollup(orjson.dumps(["51", province.incidents, province.timeline, {}, 1]))
    assert (old.incidents, old.timeline, old.seq) == (province.incidents, province.timeline, 1)
    assert (old.ledger.jurisdiction, old.ledger.namespaces) == ("51", {})


def test_tasks_of_a_state_from_before_tasks_were_followed_are_taken_over() -> None:
    areas, out = fold(SPREAD)
    issued = {t.task_id: t for t in out if isinstance(t, Task)}
    # what an older version wrote: the same fields, no ledger (its tasks shown open)
    older = orjson.loads(encode_rollup(areas["51"]))[:5]
    province = decode_rollup(orjson.dumps(older))
    assert province.ledger.namespaces == {}
    # Mianyang's tier is retracted: the province stands down, and the old tasks go with it
    _, out = fold([city("5107", ISSUED, version=2, tiered=False)], {"51": province})
    gone = [t for t in out if isinstance(t, Task)]
    assert {(t.task_id, t.state, t.revision) for t in gone} == {
        (task_id, "retracted", 1) for task_id in issued
    }
