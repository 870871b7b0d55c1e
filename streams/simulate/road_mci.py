"""``road-mci``: a multi-vehicle collision on the G76 expressway in Longquanyi (510112).

The expressway authority reports it, traffic police, emergency management and 120
dispatch send casualty updates (one of them arrives late), hospitals report free ICU and
general beds, and 120 moves 16 patients. The nearest hospital has no free ICU bed, so the
first critical transfer to it must be redirected to the hospital with the most free ICU
beds; one transfer arrives well past its eta. Intended tiers (mass-casualty medical
rescue): IV at 12 casualties with 3 dead or critical, III at 34 with 6, II at 52 with 8.
Emergency management declares each of them 15 minutes later (and acks the joint
assessment each recommendation asked of it): the plan's tasks follow the declarations.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from streams.simulate.errors import SimulateError
from streams.simulate.params import FaultPlan, Params, Scenario, rfc3339
from streams.simulate.places import (
    CHENGDU,
    DISPATCH_120,
    EMERGENCY_MGMT,
    EXPRESSWAY,
    LONGQUANYI,
    TRAFFIC_POLICE,
    County,
    hospital,
)
from streams.simulate.script import Script

CRASH = timedelta(hours=1, minutes=12)  # after the scenario's start
SCENE = LONGQUANYI
SCENE_ID = "scene:G76-K12"
# (minutes after the crash, sender, (total, dead, critical), published late?)
# Critical alone already exceeds each tier's "dead or critical" floor, so reading the
# plan as dead + critical or as either count gives the same tiers.
CASUALTY_REPORTS = (
    (6, TRAFFIC_POLICE, (12, 1, 2), False),
    (15, EMERGENCY_MGMT, (27, 2, 3), True),
    (25, DISPATCH_120, (34, 2, 4), False),
    (40, DISPATCH_120, (52, 2, 6), False),
    (90, EMERGENCY_MGMT, (52, 3, 6), False),
)
LATE_BY = timedelta(minutes=18)  # the late report lands after the 25-minute one
# Mass-casualty medical rescue: (min total, max total, dead or critical must exceed, tier).
MCI_TIERS = ((100, None, -1, "I"), (50, 99, 5, "II"), (30, 49, 3, "III"), (10, 29, 1, "IV"))


@dataclass(frozen=True)
class _Hospital:
    county: County
    icu_free: int
    icu_total: int
    general_free: int
    general_total: int
    minutes_away: int

    @property
    def facility_id(self) -> str:
        return hospital(self.county.code).agency_id


NEAREST = _Hospital(LONGQUANYI, 0, 12, 15, 300, 15)  # ICU full
HOSPITALS = (
    NEAREST,
    _Hospital(CHENGDU[3], 9, 120, 40, 4000, 40),  # most free ICU beds
    _Hospital(CHENGDU[1], 5, 80, 30, 2500, 38),
    _Hospital(CHENGDU[0], 3, 30, 20, 800, 35),
)
MOST_FREE_ICU = max(HOSPITALS, key=lambda h: h.icu_free)
# Destinations in request order: 6 critical (ICU), then 10 delayed (general).
CRITICAL_TO = (NEAREST, HOSPITALS[1], HOSPITALS[2], HOSPITALS[2], HOSPITALS[3], HOSPITALS[1])
DELAYED_TO = (
    NEAREST,
    NEAREST,
    HOSPITALS[2],
    NEAREST,
    HOSPITALS[3],
    NEAREST,
    HOSPITALS[1],
    HOSPITALS[3],
    NEAREST,
    HOSPITALS[2],
)
OVERDUE = 11  # index of the transfer stuck in traffic
OVERDUE_BY = timedelta(minutes=25)
# The city's leading group (emergency management, the command agency) declares each
# recommended tier 15 minutes after the figures that made the rule hold: a decision lag
# of 15 min per step (a mass-casualty call is made on the phone, not in a meeting).
DECLARE_AFTER = timedelta(minutes=15)
TICK_EVERY = timedelta(minutes=10)
TICKS_FOR = timedelta(hours=5)


def mass_casualty_tier(total: int, dead: int, critical: int) -> str | None:
    """The tier of the national mass-casualty plan for these figures."""
    for low, high, floor, tier in MCI_TIERS:
        if total >= low and (high is None or total <= high) and dead + critical > floor:
            return tier
    return None


def build(params: Params) -> Scenario:
    if params.scale != 1:
        raise SimulateError("road-mci is one accident: --scale must be 1")
    script = Script(params, "mci", report_delay=timedelta(minutes=2))
    script.semantics = {
        "tier": "mass casualty from the latest casualty figures by occurred_at: "
        "I >=100; II 50-99 with >5 dead or critical; III 30-49 with >3; IV 10-29 with >1",
        "casualties": "an incident update without `casualties` (the green-corridor notice) "
        "leaves the figures as they were",
        "effective_at": "occurred_at of the update whose figures make the rule hold",
        "capacity_redirect": "destination with 0 free beds of the required type -> the "
        "facility of the jurisdiction with the most free beds of that type",
        "transfer_delayed": "not arrived by its eta",
    }
    crash = script.at(CRASH)
    incident_id = f"INC-MCI-{params.tag}"
    _incident_reports(script, crash, incident_id)
    for each in HOSPITALS:
        beds = (
            ("bed.icu", 20, each.icu_free, each.icu_total),
            ("bed.general", 21, each.general_free, each.general_total),
        )
        for item, minutes, free, total in beds:
            script.event(
                "stock",
                agency=hospital(each.county.code),
                county=each.county,
                occurred_at=crash + timedelta(minutes=minutes),
                site_id=each.facility_id,
                site_type="hospital",
                item=item,
                unit="bed",
                on_hand=free,
                baseline=total,
                steady=True,
            )
    patients = [(d, "icu", "immediate") for d in CRITICAL_TO]
    patients += [(d, "general", "delayed") for d in DELAYED_TO]
    for n, (destination, bed, triage) in enumerate(patients):
        _transfer(
            script,
            n,
            requested_at=crash + timedelta(minutes=30 + 2 * n),
            destination=destination,
            bed=bed,
            triage=triage,
            incident_id=incident_id,
        )
    script.ticks(crash, crash + TICKS_FOR, TICK_EVERY)
    return script.finish(FaultPlan())


def _incident_reports(script: Script, crash: datetime, incident_id: str) -> None:
    common: dict[str, Any] = {
        "incident_id": incident_id,
        "category": "mass_casualty",
        "severity": "Severe",
        "urgency": "Immediate",
        "certainty": "Observed",
    }
    script.event(
        "incident",
        agency=EXPRESSWAY,
        occurred_at=crash,
        county=SCENE,
        headline="G76 K12 多车相撞 multi-vehicle collision, both carriageways closed",
        phase="reported",
        **common,
    )
    tier: str | None = None
    for minutes, sender, (total, dead, critical), late in CASUALTY_REPORTS:
        at = crash + timedelta(minutes=minutes)
        script.event(
            "incident",
            agency=sender,
            occurred_at=at,
            county=SCENE,
            msg_type="Update",
            phase="confirmed",
            headline=f"casualties {total}: {dead} dead, {critical} critical",
            casualties={"total": total, "dead": dead, "critical": critical},
            delay=LATE_BY if late else None,
            **common,
        )
        now = mass_casualty_tier(total, dead, critical)
        if now != tier:
            script.intend_tier(
                incident_id=incident_id,
                jurisdiction=SCENE.city,
                tier=now,
                effective_at=at,
                rule="mass_casualty",
                why=f"{total} casualties, {dead} dead, {critical} critical",
            )
            script.declare(
                agency=EMERGENCY_MGMT,
                county=SCENE,
                incident_id=incident_id,
                tier=now,
                previous=tier,
                recommended_at=at,
                lag=DECLARE_AFTER,
                category="mass_casualty",
                phase="confirmed",
            )
            tier = now
    script.event(
        "incident",
        agency=EXPRESSWAY,
        occurred_at=crash + timedelta(minutes=35),
        county=SCENE,
        msg_type="Update",
        phase="confirmed",
        headline="green corridor open G76 -> 3rd ring road",
        **common,
    )
    script.event(
        "incident",
        agency=TRAFFIC_POLICE,
        occurred_at=crash + timedelta(hours=4),
        county=SCENE,
        msg_type="Update",
        phase="contained",
        headline="scene cleared, one carriageway reopened",
        casualties={"total": 52, "dead": 3, "critical": 6},
        **common,
    )


def _transfer(
    script: Script,
    n: int,
    *,
    requested_at: datetime,
    destination: _Hospital,
    bed: str,
    triage: str,
    incident_id: str,
) -> None:
    """One patient's transfer through its states (120 dispatch sends them)."""
    transfer_id = f"T-{script.params.tag}-{n + 1:02d}"
    redirected = bed == "icu" and destination.icu_free == 0
    common: dict[str, Any] = {
        "transfer_id": transfer_id,
        "patient_ref": f"MCI-{n + 1:03d}",
        "triage": triage,
        "from_facility": SCENE_ID,
        "required_bed": bed,
        "incident_id": incident_id,
    }
    script.event(
        "transfer",
        agency=DISPATCH_120,
        occurred_at=requested_at,
        county=SCENE,
        to_facility=destination.facility_id,
        transfer_status="requested",
        steady=redirected,
        **common,
    )
    if redirected:
        script.intend_alert(
            "capacity_redirect",
            transfer_id,
            jurisdiction=SCENE.city,
            requested=destination.facility_id,
            suggested=MOST_FREE_ICU.facility_id,
        )
        destination = MOST_FREE_ICU  # dispatch follows the suggestion
    dispatched_at = requested_at + timedelta(minutes=4)
    eta = dispatched_at + timedelta(minutes=destination.minutes_away)
    moving = {
        **common,
        "to_facility": destination.facility_id,
        "transport_unit": f"AMB-5101-{n + 1:02d}",
        "eta": rfc3339(eta),
    }
    script.event(
        "transfer",
        agency=DISPATCH_120,
        occurred_at=dispatched_at,
        county=SCENE,
        msg_type="Update",
        transfer_status="dispatched",
        **moving,
    )
    script.event(
        "transfer",
        agency=DISPATCH_120,
        occurred_at=dispatched_at + timedelta(minutes=3),
        county=SCENE,
        msg_type="Update",
        transfer_status="en_route",
        **moving,
    )
    arrived_at = eta - timedelta(minutes=script.rng.randint(2, 8))
    if n == OVERDUE:
        arrived_at = eta + OVERDUE_BY
        script.intend_alert(
            "transfer_delayed", transfer_id, jurisdiction=SCENE.city, eta=rfc3339(eta)
        )
    script.event(
        "transfer",
        agency=hospital(destination.county.code),
        occurred_at=arrived_at,
        county=destination.county,
        msg_type="Update",
        # Reported on time: a late arrival report would rightly look like a delay.
        steady=True,
        transfer_status="arrived",
        **moving,
    )
