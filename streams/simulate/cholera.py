"""``cholera``: an outbreak grows over the counties of Chengdu (5101), then reaches Zigong
(5103) in the same province.

Cases are reported suspected by the hospitals and confirmed by the lab hours later (some
straight as confirmed); a few suspects are discarded. No agency declares the incident:
the first suspects come from two hospitals, which is the multi-point early warning that
opens it. Intended tiers (cholera, per city, rolling 7 days): Chengdu IV at the 1st
confirmation, III at the 10th, II at the 30th; Zigong IV at its first; the province
(roll-up, jurisdiction 51) Tier II while both cities have a tier. A city stands down
once one incubation period (5 days) has passed since its last confirmed case and the
rules of its tier have stopped holding, to the tier that still holds, and so on: Chengdu
goes II -> IV 5 days after its last case and stands down 7 days after it.

Each city's CDC verifies the warning on site and acks its verification task ``confirmed``
90 minutes after the warning opened. Each city's emergency management office declares
every recommended step of its city 3 h after it, naming the incident the warning opened by
its id (as ``tierflow board --ids`` shows it), and acks the joint assessment the
recommendation asked of it.

The provincial emergency office acks its province's first Tier II task (convene the
provincial joint command, due in 1 h) half an hour after the province escalates, naming
the roll-up incident: that task ends ``acked``, the province's other tasks go overdue.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from streams.core import default_rulebook, verification_id, warning_incident_id
from streams.core.rollup_tasks import rollup_incident_id, rollup_task_ids
from streams.simulate.places import CHENGDU, ZIGONG, Agency, County, hospital
from streams.simulate.script import (
    FaultPlan,
    Params,
    Scenario,
    Script,
    rfc3339,
    whole_seconds,
)
from topics.vocabulary import Tier

DISEASE = "cholera"
WINDOW = timedelta(days=7)  # "a week in one city" (national plan, Tier II/III)
MAX_INCUBATION = timedelta(days=5)  # the quiet period before standing down
CITY_TIERS = ((30, "II"), (10, "III"), (1, "IV"))  # confirmed in the window -> tier
SPREAD_TIER: Tier = "II"  # the provincial roll-up: cholera has a tier in >= 2 cities
SPREAD_CITIES = 2
PROVINCE = "51"
PROVINCIAL_EMERGENCY = Agency("EM-51", "emergency")
ACKED_ACTION = ("emergency", "convene provincial joint command")  # due 1 h after the tier
ACK_AFTER = timedelta(minutes=30)
# Each city's leading group (its emergency management office, the command agency) meets
# for joint assessment and declares every recommended step 3 hours after it (the 2-hour
# reporting duty, then the meeting): a decision lag of 3 h per step, stand-downs included.
DECLARE_AFTER = timedelta(hours=3)
VERIFY_AFTER = timedelta(minutes=90)  # the CDC's on-site check of a warning (due in 2 h)
CITY_COMMAND = {"5101": Agency("EM-5101", "emergency"), "5103": Agency("EM-5103", "emergency")}
_RANK = {None: 0, "IV": 1, "III": 2, "II": 3, "I": 4}

# Confirmed cases per day since the scenario's start (times --scale).
CHENGDU_DAILY = (2, 3, 4, 5, 6, 6, 5, 4, 2, 1)
ZIGONG_DAILY = (0, 0, 0, 0, 0, 0, 0, 2, 2, 1, 1)
DISCARDED = {"5101": 4, "5103": 1}  # suspects later discarded (times --scale)
LAB_DELAY_H = (6, 30)  # suspected report -> lab confirmation
FIRST_SUSPECTS = (timedelta(minutes=30), timedelta(hours=2))  # two hospitals, day one
DIRECT_CONFIRMED = 0.2  # share reported straight as confirmed
SEVERE = 0.15
TICK_EVERY = timedelta(hours=3)
_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何罗"
_GIVEN = ("伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "洋", "艳", "勇", "军", "杰", "娟")


@dataclass(frozen=True)
class _Case:
    case_id: str
    county: County
    confirmed_at: datetime
    suspected_at: datetime | None  # None: reported straight as confirmed


def build(params: Params) -> Scenario:
    script = Script(params, "chol", report_delay=timedelta(minutes=20))
    script.semantics = {
        "count": "a case counts once per case_id from its first confirmed event; "
        "discarded removes it",
        "tier": "per city, confirmed in (t-7d, t]: 1-9 IV, 10-29 III, >=30 II",
        "province": "jurisdiction 51: II while >= 2 cities have a cholera tier, from the "
        "instant the second city gets one to the instant one of them stands down",
        "effective_at": "occurred_at of the confirmation that makes the rule hold",
        "stand_down": "at d = max(last confirmation + 5 d (cholera's maximum incubation), "
        "the instant every rule of the current tier or above stops holding), to the tier "
        "that holds at d; seen once a tick at or after d arrives",
        "incident_id": "null: the core opens the incident from the multi-point warning; "
        "match steps by jurisdiction",
        "ack": "the province's Tier II emergency task is acked 30 min after the province's "
        "escalation (within its 1 h), by an Ack naming the roll-up incident",
    }
    cases: list[_Case] = []
    for cities, daily in ((CHENGDU, CHENGDU_DAILY), (ZIGONG, ZIGONG_DAILY)):
        cases += _city_outbreak(script, cities, daily)
    for case in sorted(cases, key=lambda c: c.confirmed_at):
        _report_case(script, case)
    for city in CITY_COMMAND:
        _verify_warning(script, city)
    last_step = _intend_tiers(script, cases)
    script.ticks(params.start, last_step + timedelta(days=1), TICK_EVERY)
    return script.finish(FaultPlan())


def _city_outbreak(
    script: Script, counties: tuple[County, ...], daily: tuple[int, ...]
) -> list[_Case]:
    """Plan the suspects and confirmations of one city; returns its confirmed cases."""
    rng, scale = script.rng, script.params.scale
    first_day = next(d for d, n in enumerate(daily) if n)
    opening = script.at(timedelta(days=first_day))
    confirmed: list[tuple[datetime, County]] = []
    for day, per_day in enumerate(daily):
        # The outbreak spreads: one more county of the city every other day.
        pool = counties[: min(len(counties), 2 + (day - first_day) // 2)]
        # Nothing is confirmed before the lab has had the first suspects for 6 hours.
        earliest = 8 * 3600 if day == first_day else 0
        for _ in range(per_day * scale):
            offset = timedelta(days=day, seconds=rng.randint(earliest, 24 * 3600 - 1))
            confirmed.append((script.at(offset), rng.choice(pool)))
    confirmed.sort(key=lambda pair: pair[0])
    cases = []
    for n, (confirmed_at, county) in enumerate(confirmed):
        if n < len(FIRST_SUSPECTS):
            # The multi-point signal: the first two suspects, at two hospitals.
            cases.append(
                _Case(script.new_id("C"), counties[n], confirmed_at, opening + FIRST_SUSPECTS[n])
            )
            continue
        suspected_at: datetime | None = None
        if rng.random() >= DIRECT_CONFIRMED:
            lab = timedelta(hours=rng.uniform(*LAB_DELAY_H))
            suspected_at = whole_seconds(max(confirmed_at - lab, opening + timedelta(hours=3)))
        cases.append(_Case(script.new_id("C"), county, confirmed_at, suspected_at))
    script.intend_alert(
        "warning_opened",
        None,
        jurisdiction=counties[0].city,
        at=rfc3339(opening + FIRST_SUSPECTS[1]),
        why="suspected cholera at two hospitals within hours",
    )
    last_day = len(daily) - 1
    for _ in range(DISCARDED[counties[0].city] * scale):
        _discarded_suspect(script, rng.choice(counties), first_day, last_day)
    return cases


def _case_payload(script: Script, case_id: str, county: County) -> dict[str, Any]:
    rng = script.rng
    birth = f"{rng.randint(1950, 2015)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}"
    return {
        "case_id": case_id,
        "patient_ref": f"{hospital(county.code).agency_id}-P{rng.randint(0, 99999):05d}",
        "national_id": f"{county.code}{birth}{rng.randint(0, 9999):04d}",
        "name": rng.choice(_SURNAMES) + rng.choice(_GIVEN) + rng.choice(("", *_GIVEN)),
        "disease": DISEASE,
        "facility_id": hospital(county.code).agency_id,
    }


def _report_case(script: Script, case: _Case) -> None:
    rng = script.rng
    payload = _case_payload(script, case.case_id, case.county)
    onset = (case.suspected_at or case.confirmed_at) - timedelta(days=rng.randint(0, 2))
    payload["onset_date"] = onset.date().isoformat()
    sender = hospital(case.county.code)
    msg_type = "Alert"
    if case.suspected_at is not None:
        script.event(
            "case",
            agency=sender,
            occurred_at=case.suspected_at,
            county=case.county,
            classification="suspected",
            severity="moderate",
            **payload,
        )
        msg_type = "Update"
    script.event(
        "case",
        agency=sender,
        occurred_at=case.confirmed_at,
        county=case.county,
        msg_type=msg_type,
        classification="confirmed",
        severity="moderate",
        **payload,
    )
    if rng.random() < SEVERE:
        worse = case.confirmed_at + timedelta(hours=rng.uniform(6, 48))
        script.event(
            "case",
            agency=sender,
            occurred_at=worse,
            county=case.county,
            msg_type="Update",
            classification="confirmed",
            severity="severe",
            **payload,
        )


def _discarded_suspect(script: Script, county: County, first_day: int, last_day: int) -> None:
    rng = script.rng
    day = rng.randint(first_day, last_day)
    suspected_at = script.at(timedelta(days=day, hours=rng.uniform(3, 20)))
    payload = _case_payload(script, script.new_id("C"), county)
    payload["onset_date"] = suspected_at.date().isoformat()
    sender = hospital(county.code)
    script.event(
        "case",
        agency=sender,
        occurred_at=suspected_at,
        county=county,
        classification="suspected",
        **payload,
    )
    script.event(
        "case",
        agency=sender,
        occurred_at=suspected_at + timedelta(hours=rng.uniform(20, 40)),
        county=county,
        msg_type="Update",
        classification="discarded",
        **payload,
    )


def _city_tier(count: int) -> str | None:
    return next((tier for floor, tier in CITY_TIERS if count >= floor), None)


def _in_window(times: list[datetime], upto: int, at: datetime) -> int:
    """Confirmations among ``times[:upto]`` in ``(at - 7d, at]`` (``at`` >= the last)."""
    return upto - bisect_right(times, at - WINDOW, 0, upto)


def city_steps(times: list[datetime]) -> list[tuple[str | None, datetime, str]]:
    """The tier steps of one city from its sorted confirmation times: (tier, effective_at,
    why). Escalation at the confirmation that lifts the count's tier; standing down at
    ``d = max(last + 5 d, the instant every rule of the current tier or above stops
    holding)`` to the tier that still holds at ``d``, and so on down to None."""
    steps: list[tuple[str | None, datetime, str]] = []
    current: str | None = None
    for n, at in enumerate(times):
        if n and current is not None:
            current = _stand_down(times, n, current, steps, before=at)
        count = _in_window(times, n + 1, at)
        tier = _city_tier(count)
        if _RANK[tier] > _RANK[current]:
            steps.append((tier, at, f"{count} confirmed within 7 days"))
            current = tier
    if current is not None:
        _stand_down(times, len(times), current, steps, before=None)
    return steps


def _stand_down(
    times: list[datetime],
    upto: int,
    current: str | None,
    steps: list[tuple[str | None, datetime, str]],
    before: datetime | None,
) -> str | None:
    """Append the stand-down steps due before ``before`` (None: ever) given only the
    first ``upto`` confirmations; returns the tier left."""
    last = times[upto - 1]
    while current is not None:
        due = last + MAX_INCUBATION
        for floor, tier in CITY_TIERS:
            if _RANK[tier] >= _RANK[current] and _in_window(times, upto, due) >= floor:
                due = max(due, times[upto - floor] + WINDOW)  # the rule's last instant
        if before is not None and due >= before:
            return current
        current = _city_tier(_in_window(times, upto, due))
        steps.append((current, due, f"quiet since {rfc3339(last)}"))
    return current


def _intend_tiers(script: Script, cases: list[_Case]) -> datetime:
    """Every city's steps from its own confirmations, then the province's: Tier II while
    at least two cities of it have a tier. Returns the time of the last step."""
    by_city: dict[str, list[datetime]] = {}
    for case in sorted(cases, key=lambda c: c.confirmed_at):
        by_city.setdefault(case.county.city, []).append(case.confirmed_at)
    changes: list[tuple[datetime, int, str]] = []  # (at, +1 tiered / -1 not, city)
    for city, times in by_city.items():
        tiered, rank = False, 0
        previous: str | None = None
        for tier, at, why in city_steps(times):
            rule = "cholera_city_week" if _RANK[tier] > rank else "quiet_period"
            rank = _RANK[tier]
            script.intend_tier(jurisdiction=city, tier=tier, effective_at=at, rule=rule, why=why)
            script.declare(
                agency=CITY_COMMAND[city],
                county=CHENGDU[0] if city == CHENGDU[0].city else ZIGONG[0],
                incident_id=warning_incident_id(script.params.status, city, DISEASE),
                tier=tier,
                previous=previous,
                recommended_at=at,
                lag=DECLARE_AFTER,
                category="infectious_disease",
                disease=DISEASE,
                phase="confirmed" if tier is not None else "contained",
            )
            previous = tier
            if tiered != (tier is not None):
                changes.append((at, 1 if tier is not None else -1, city))
                tiered = tier is not None
    cities = 0
    for at, delta, city in sorted(changes):
        before, cities = cities, cities + delta
        if (before >= SPREAD_CITIES) != (cities >= SPREAD_CITIES):
            script.intend_tier(
                jurisdiction=PROVINCE,
                tier=SPREAD_TIER if cities >= SPREAD_CITIES else None,
                effective_at=at,
                rule="cholera_spread",
                why=f"{cities} cities with a cholera tier after {city}",
            )
            if cities >= SPREAD_CITIES:
                _ack_provincial_command(script, at)
    return max(at for at, _, _ in changes)


def _verify_warning(script: Script, city: str) -> None:
    """The city's CDC checks the warning its first case opened (class A: one case) and
    acks the verification task ``confirmed`` 90 minutes later (due in 2 h)."""
    opened = script.first_signal(city, DISEASE)
    if opened is None:
        return
    status = script.params.status
    incident = warning_incident_id(status, city, DISEASE)
    script.event(
        "incident",
        agency=Agency(f"CDC-{city}", "health"),
        occurred_at=opened + VERIFY_AFTER,
        county=CHENGDU[0] if city == CHENGDU[0].city else ZIGONG[0],
        msg_type="Ack",
        incident_id=incident,
        category="infectious_disease",
        disease=DISEASE,
        headline="on-site check: cholera confirmed",
        ack_task_id=verification_id(
            status, incident, opened_at=opened, rulebook=default_rulebook()
        ),
        verification="confirmed",
        steady=True,
    )


def _ack_provincial_command(script: Script, escalated: datetime) -> None:
    """The provincial emergency office acks its Tier II task (naming the roll-up incident,
    as on the task) half an hour after the province's escalation."""
    status = script.params.status
    ids = rollup_task_ids(
        status, PROVINCE, DISEASE, tier=SPREAD_TIER, at=escalated, rulebook=default_rulebook()
    )
    script.event(
        "incident",
        agency=PROVINCIAL_EMERGENCY,
        occurred_at=escalated + ACK_AFTER,
        county=CHENGDU[0],
        msg_type="Ack",
        incident_id=rollup_incident_id(status, PROVINCE, DISEASE),
        category="infectious_disease",
        headline="provincial joint command convened",
        ack_task_id=ids[ACKED_ACTION],
    )
