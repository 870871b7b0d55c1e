"""Hand-computed examples of the roll-up stages over the cities' decisions: a province
sees a disease spread to a second city, the nation a second province."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from streams.core import (
    NATION,
    fold,
    initial_rollup,
    rollup_step,
    rollup_timeline,
)
from streams.core.ids import TIERFLOW_NS
from tests.core_events import (
    RULES,
    T0,
    case,
    of,
)
from topics.outputs import Escalation, IncidentState, Task


def test_fold_groups_by_city_and_rollup_sees_spread_to_two_cities() -> None:
    chengdu = [case(k, T0 + timedelta(hours=k)) for k in range(3)]
    mianyang = [case(k, T0 + timedelta(hours=k + 10), region="510703") for k in (10, 11)]
    states, outputs = fold([*chengdu, *mianyang], RULES)
    assert sorted(states) == ["5101", "5107"]
    province = initial_rollup("51")
    escalations = []
    for snapshot in of(IncidentState, outputs):
        province, out = rollup_step(province, snapshot, RULES)
        escalations += of(Escalation, out)
    (spread,) = escalations
    # II from the moment the second city (Mianyang, first case at T0 + 20 h) had a tier
    assert (spread.tier, spread.effective_at) == ("II", T0 + timedelta(hours=20))
    assert spread.rule_ids == ("cholera-cities-II",)
    assert [row[3] for row in rollup_timeline(province)] == ["II"]


def test_national_rollup_declares_tier_I_when_pneumonic_plague_reaches_a_second_province() -> None:
    # One confirmed pneumonic plague case is Tier III in its county (pneumonic-county-III):
    # Chengdu (Sichuan, 51) at T0, Kunming (Yunnan, 53) at T0 + 5 h. The national stage
    # counts provinces: two from T0 + 5 h, so Tier I (pneumonic-provinces-I) then.
    chengdu = case(1, T0, disease="plague_pneumonic")
    kunming = case(2, T0 + timedelta(hours=5), disease="plague_pneumonic", region="530102")
    _, outputs = fold([chengdu, kunming], RULES)
    nation, provinces = initial_rollup(NATION), {"51": initial_rollup("51")}
    decided: list[Any] = []
    for snapshot in of(IncidentState, outputs):
        nation, out = rollup_step(nation, snapshot, RULES)
        decided += out
        area = snapshot.jurisdiction[:2]
        provinces[area], out = rollup_step(
            provinces.get(area, initial_rollup(area)), snapshot, RULES
        )
        assert out == [], "no provincial rule for pneumonic plague: one city per province"
    (spread,) = of(Escalation, decided)
    inc = str(uuid.uuid5(TIERFLOW_NS, "rollup|Actual|nation|plague_pneumonic"))
    at = T0 + timedelta(hours=5)
    assert (spread.incident_id, spread.jurisdiction) == (inc, "nation")
    assert (spread.tier, spread.previous_tier, spread.effective_at) == ("I", None, at)
    assert spread.rule_ids == ("pneumonic-provinces-I",)
    assert spread.evidence == {"provinces": 2.0}
    assert [row[2:] for row in rollup_timeline(nation)] == [(at, "I")]
    # the plan's Tier I tasks, ids as the city stage derives them
    at_us = (at - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)
    tasks = of(Task, decided)
    assert len(tasks) == len(RULES.plan["I"]) > 0
    assert {(t.agency_type, t.action) for t in tasks} == {
        (item.agency, item.action) for item in RULES.plan["I"]
    }
    for task in tasks:
        name = f"task|Actual|{inc}|I|{task.agency_type}|{task.action}|{at_us}"
        assert task.task_id == str(uuid.uuid5(TIERFLOW_NS, name))
        assert (task.jurisdiction, task.tier, task.issued_at) == ("nation", "I", at)
