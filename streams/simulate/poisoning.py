"""``chemical-poisoning``: a chlorine leak at a worksite in Chenghua (510108).

Emergency management reports the leak, 120 dispatch and the receiving hospital send
casualty updates, the hospital reports its free ICU beds (falling to 1 of 8:
icu_capacity_low). Intended tiers by the 2011 national plan for sudden poisoning events
§1.5 (the default rulebook's bands): IV at 14 poisoned without deaths, III at 3 dead.
Emergency management declares IV 20 minutes and III 30 minutes after the rules recommend
them (and acks each joint assessment).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from streams.simulate.errors import SimulateError
from streams.simulate.params import FaultPlan, Params, Scenario, rfc3339
from streams.simulate.places import CHENGDU, DISPATCH_120, EMERGENCY_MGMT, hospital, hospital_id
from streams.simulate.script import Script

SCENE = CHENGDU[4]  # 成华区
LEAK = timedelta(hours=2)  # after the scenario's start
WORKSITE = "WS-510108-0007"  # the plant (an institution id, as cases carry)
# (minutes after the leak, sender is the hospital?, (poisoned, dead), tier it makes, lag)
UPDATES = (
    (20, False, (8, 0), None, None),
    (40, False, (14, 0), "IV", timedelta(minutes=20)),
    (60, True, (18, 0), None, None),
    (90, True, (23, 1), None, None),  # 1-2 dead: still IV
    (150, True, (25, 3), "III", timedelta(minutes=30)),  # 3-9 dead: III
    (240, True, (25, 3), None, None),
)
# (minutes after the leak, free of its 8 ICU beds): 1 of 8 (12.5 %) is below the
# rulebook's 15 %: one icu_capacity_low at 110 min
ICU = ((30, 6), (70, 3), (110, 1), (200, 4))
TICK_EVERY = timedelta(minutes=10)
TICKS_FOR = timedelta(hours=5)


def poisoning_tier(poisoned: int, dead: int) -> str | None:
    """The 2011 plan's band (§1.5) for these figures: as the default rulebook reads it."""
    if dead >= 30 or (poisoned >= 100 and dead >= 10):
        return "I"
    if dead >= 10 or (poisoned >= 100 and dead >= 2):
        return "II"
    if dead >= 3 or (poisoned >= 100 and dead >= 1):
        return "III"
    if dead >= 1 or poisoned >= 10:
        return "IV"
    return None


def build(params: Params) -> Scenario:
    if params.scale != 1:
        raise SimulateError("chemical-poisoning is one leak: --scale must be 1")
    script = Script(params, "poi", report_delay=timedelta(minutes=3))
    script.semantics = {
        "tier": "2011 plan §1.5 bands from the latest casualty figures by occurred_at: "
        "IV >=10 poisoned or 1-2 dead; III 3-9 dead or >=100 poisoned with 1 dead",
        "effective_at": "occurred_at of the update whose figures make the band hold",
    }
    leak = script.at(LEAK)
    incident_id = f"INC-POI-{params.tag}"
    common: dict[str, Any] = {"incident_id": incident_id, "category": "chemical_poisoning"}
    script.event(
        "incident",
        agency=EMERGENCY_MGMT,
        occurred_at=leak,
        county=SCENE,
        headline=f"chlorine leak at worksite {WORKSITE}, workers evacuated",
        phase="reported",
        **common,
    )
    tier: str | None = None
    hospital_agency = hospital(SCENE.code)
    for minutes, from_hospital, (poisoned, dead), now, lag in UPDATES:
        at = leak + timedelta(minutes=minutes)
        script.event(
            "incident",
            agency=hospital_agency if from_hospital else DISPATCH_120,
            occurred_at=at,
            county=SCENE,
            msg_type="Update",
            phase="confirmed",
            headline=f"{poisoned} poisoned, {dead} dead",
            casualties={"total": poisoned, "dead": dead, "critical": 0},
            steady=now is not None,  # the intended decision lag hinges on it
            **common,
        )
        if now is not None and lag is not None:
            script.intend_tier(
                incident_id=incident_id,
                jurisdiction=SCENE.city,
                tier=now,
                effective_at=at,
                rule="poisoning",
                why=f"{poisoned} poisoned, {dead} dead",
            )
            script.declare(
                agency=EMERGENCY_MGMT,
                county=SCENE,
                incident_id=incident_id,
                tier=now,
                previous=tier,
                recommended_at=at,
                lag=lag,
                category="chemical_poisoning",
                phase="confirmed",
            )
            tier = now
    for minutes, free in ICU:
        script.event(
            "stock",
            agency=hospital_agency,
            county=SCENE,
            occurred_at=leak + timedelta(minutes=minutes),
            site_id=hospital_id(SCENE.code),
            site_type="hospital",
            item="bed.icu",
            unit="bed",
            on_hand=free,
            baseline=8,
        )
    script.intend_alert(
        "icu_capacity_low",
        f"{SCENE.city}/bed.icu",
        jurisdiction=SCENE.city,
        at=rfc3339(leak + timedelta(minutes=110)),
    )
    script.ticks(leak, leak + TICKS_FOR, TICK_EVERY)
    return script.finish(FaultPlan())
