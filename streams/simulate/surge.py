"""``surge``: an influenza outbreak in Chengdu fills the city's ICUs; the leading group
declares Tier II and a reserve designated hospital converts wards (平战转换).

Decided with the default rulebook and the facility registry
``streams/registries/sichuan-example.yaml`` (:data:`REGISTRY`; a worker reads it from
``TIERFLOW_REGISTRY_PATH``, a replay from ``--registry``), which designates
H-510104-01 (定点) and reserves H-510105-01 and H-510107-01 (后备定点).

The city CDC reports the incident; hospitals confirm influenza cases every day, more
each day. Every morning at 08:00 three hospitals report their ICU beds (40 together;
H-510105-01 can open 12 more), H-510104-01 its ICU nurses, isolation beds, gowns and
respirators. On day 3 the ICU is 87.5 % occupied (5 free of 40): ``icu_capacity_low``
and, with 10 confirmed cases by then, ``respiratory-icu-III`` recommends Tier III. 90
minutes later the emergency-management bureau, after the joint assessment, declares
Tier II, ahead of the rules: the designated and reserve hospitals are ordered to convert,
and each acks an hour later. H-510105-01's 12 beds open 24 h after its ack: 14 free of
52 (73 % occupied), so the ICU rule stops holding (the tier stays: cases keep coming).
Day 4: H-510104-01's 46 ICU nurses fall below 2.5 per occupied ICU bed (19 occupied:
47.5) and its gowns below 30 days at full load (7 000 < 30 x 25 x 10 isolation beds):
``staff_ratio_low``, ``stockpile_short`` and a replenishment task to health.
Day 6, 10:00: every Chengdu ICU bed is taken (the 08:00 reports: 0 free) when 120 asks
for one at H-510104-01: the city has no free bed, and the province redirects the transfer
to Zigong's designated H-510302-01 (3 free; H-510303-01's 6 free rank after it, not
designated), where it arrives.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from streams.core.eventtime import to_us
from streams.core.surge import conversion_task_id
from streams.simulate.errors import SimulateError
from streams.simulate.params import FaultPlan, Params, Scenario, rfc3339
from streams.simulate.places import (
    CHENGDU,
    DISPATCH_120,
    EMERGENCY_MGMT,
    ZIGONG,
    Agency,
    hospital,
)
from streams.simulate.script import Script

REGISTRY = "sichuan-example.yaml"  # streams/registries/
DISEASE = "influenza"
CDC = Agency("CDC-5101", "health")
DAYS = 8  # reports on days 0..7
CASES_PER_DAY = (2, 3, 5, 6, 8, 10, 12, 14)
CRITICAL_EVERY = 3  # every third case is critical
# ICU beds: (county, baseline, convertible), and each hospital's free beds by day
ICU = ((CHENGDU[0], 20, None), (CHENGDU[1], 10, 12), (CHENGDU[2], 10, None))
ICU_FREE = ((8, 4, 4), (6, 3, 3), (4, 2, 2), (2, 1, 2), (1, 0, 1), (0, 0, 1), (0, 0, 0), (0, 0, 0))
ICU_LOW = 0.15  # the default rulebook's icu.threshold: free / baseline below it
ICU_FULL = 0.85  # respiratory-icu-III's occupancy
TIER_CASES = 10  # respiratory-icu-III's confirmed cases
# The designated and reserve hospitals of 5101 in the registry, ordered to convert
CONVERTING = (CHENGDU[0], CHENGDU[1], CHENGDU[3])
DECLARE_AFTER = timedelta(minutes=90)  # within the joint assessment's 2 h
ACK_AFTER = timedelta(hours=1)  # within the conversion task's 2 h
LEAD = timedelta(hours=24)  # resources.surge.lead_hours
# H-510104-01's ICU nurses (2.5 per occupied ICU bed), isolation beds, gowns (30 days x 25
# a bed a day at full load), respirators: every morning
NURSES, NURSES_PER_BED = 46, 2.5
ISOLATION_BEDS, ISOLATION_FREE = 10, 3
GOWNS, GOWNS_A_DAY, GOWN_TARGET = 9000, 500, 30 * 25 * ISOLATION_BEDS
RESPIRATORS, RESPIRATORS_A_DAY = 2000, 50
# Zigong's ICU beds every morning: (county, baseline, free); the designated one first
ZIGONG_ICU = ((ZIGONG[0], 8, 3), (ZIGONG[1], 10, 6))
CROSSING_AT = timedelta(days=6, hours=10)  # Chengdu's ICUs all full since 08:00


def build(params: Params) -> Scenario:
    if params.scale != 1:
        raise SimulateError("surge is one city's ICUs: --scale must be 1")
    script = Script(params, "srg", report_delay=timedelta(minutes=20))
    script.semantics = {
        "rulebook": "the default rulebook with the facility registry "
        f"streams/registries/{REGISTRY} (TIERFLOW_REGISTRY_PATH; replay --registry)",
        "icu_capacity_low": "the city's free ICU beds below 15 % of its ICU beds, converted "
        "ones counted from their opening; listed: the first report of each fall",
        "respiratory-icu-III": ">= 10 confirmed and the ICU >= 85 % occupied",
        "conversion": "Tier II declared: the designated and reserve hospitals are ordered "
        "to convert; an acked order opens the hospital's convertible ICU beds 24 h later",
        "staff_ratio_low": "ICU nurses below 2.5 per occupied ICU bed at a hospital",
        "stockpile_short": "gowns below 30 days x 25 per isolation bed a day at full load",
        "capacity_redirect": "a transfer to a hospital with 0 free beds of its type: the "
        "city suggests its best other site; with none free in the city, the province "
        "suggests the best hospital of another of its cities (designated first, then "
        "most free beds, then nearest)",
    }
    incident = f"INC-FLU-{params.tag}"
    start = script.at(timedelta(0))
    county = CHENGDU[0]
    script.event(
        "incident", agency=CDC, occurred_at=start + timedelta(hours=1), county=county,
        incident_id=incident, category="infectious_disease", disease=DISEASE,
        headline="influenza outbreak, severe cases rising", phase="confirmed",
        severity="Severe", urgency="Immediate", certainty="Observed", steady=True,
    )  # fmt: skip
    confirmed = _cases(script, incident)
    full_at = _icu(script)
    tier_at = max(full_at, confirmed[TIER_CASES - 1])
    script.intend_tier(
        jurisdiction=county.city, tier="III", effective_at=tier_at, rule="respiratory-icu-III",
        why=f"{TIER_CASES} confirmed and the ICU >= {ICU_FULL:.0%} occupied",
        incident_id=incident,
    )  # fmt: skip
    script.intend_alert(
        "icu_capacity_low", f"{county.city}/bed.icu", jurisdiction=county.city,
        at=rfc3339(full_at),
    )  # fmt: skip
    declared_at = _declare_and_convert(script, incident, tier_at)
    opens = declared_at + ACK_AFTER + LEAD
    script.intend_alert(
        "beds_converted", "H-510105-01/bed.icu", jurisdiction=county.city, at=rfc3339(opens),
        beds=12,
    )  # fmt: skip
    _resources(script)
    _cross_city(script, incident)
    script.ticks(start, start + timedelta(days=DAYS), timedelta(hours=1))
    return script.finish(FaultPlan())


def _cases(script: Script, incident: str) -> list[datetime]:
    """The confirmed cases, more each day; returns their times in order."""
    times: list[datetime] = []
    for day, count in enumerate(CASES_PER_DAY):
        for i in range(count):
            minutes = script.rng.randint(0, 29)
            at = script.at(timedelta(days=day, hours=1, minutes=i * 720 // count + minutes))
            n = len(times)
            county = CHENGDU[n % 3]
            sender = hospital(county.code)
            script.event(
                "case", agency=sender, occurred_at=at, county=county, incident_id=incident,
                case_id=f"FLU-{n:03d}-{script.params.tag}",
                patient_ref=f"{sender.agency_id}-{n:03d}", disease=DISEASE,
                classification="confirmed",
                severity="critical" if n % CRITICAL_EVERY == 0 else "moderate",
                facility_id=sender.agency_id,
                onset_date=(at - timedelta(days=2)).date().isoformat(),
            )  # fmt: skip
            times.append(at)
    return sorted(times)


def _icu(script: Script) -> datetime:
    """The daily ICU reports; returns the first morning the ICU is below 15 % free
    (85 % occupied or more: the day both hold, as no bed was converted yet)."""
    first_low: datetime | None = None
    for day, free in enumerate(ICU_FREE):
        at = script.at(timedelta(days=day))
        for (county, baseline, convertible), beds in zip(ICU, free, strict=True):
            extra: dict[str, Any] = {} if convertible is None else {"convertible": convertible}
            script.event(
                "stock", agency=hospital(county.code), occurred_at=at, county=county,
                site_id=hospital(county.code).agency_id, site_type="hospital",
                item="bed.icu", unit="bed", on_hand=beds, baseline=baseline, **extra,
            )  # fmt: skip
        ratio = sum(free) / sum(b for _, b, _ in ICU)
        if first_low is None and ratio < ICU_LOW and 1 - ratio >= ICU_FULL:
            first_low = at
    if first_low is None:
        raise SimulateError("surge: the ICU never fills")
    return first_low


def _declare_and_convert(script: Script, incident: str, recommended_at: datetime) -> datetime:
    """The Tier II declaration and each ordered hospital's ack; returns when declared."""
    county = CHENGDU[0]
    status = script.params.status
    script.declare(
        agency=EMERGENCY_MGMT, county=county, incident_id=incident, tier="II", previous=None,
        recommended_at=recommended_at, lag=DECLARE_AFTER, ahead_of="III",
        category="infectious_disease", disease=DISEASE, phase="confirmed",
    )  # fmt: skip
    declared_at = recommended_at + DECLARE_AFTER
    for place in CONVERTING:
        site = hospital(place.code)
        script.event(
            "incident", agency=site, occurred_at=declared_at + ACK_AFTER, county=place,
            msg_type="Ack", incident_id=incident, category="infectious_disease",
            headline=f"平战转换 under way at {site.agency_id}",
            ack_task_id=conversion_task_id(
                status, incident, site.agency_id, "bed.icu", to_us(declared_at)
            ),
            steady=True,
        )  # fmt: skip
    return declared_at


def _resources(script: Script) -> None:
    """H-510104-01's nurses, isolation beds, gowns and respirators every morning, and the
    alerts the day they fall short."""
    county = CHENGDU[0]
    site = hospital(county.code)
    city = county.city
    staff_low = stock_short = False
    for day, free in enumerate(ICU_FREE):
        at = script.at(timedelta(days=day))
        counts = (
            ("staff.icu_nurse", "person", NURSES, None),
            ("bed.isolation", "bed", ISOLATION_FREE, ISOLATION_BEDS),
            ("ppe.gown", "each", GOWNS - GOWNS_A_DAY * day, None),
            ("ppe.n95", "each", RESPIRATORS - RESPIRATORS_A_DAY * day, None),
        )
        for item, unit, on_hand, baseline in counts:
            extra: dict[str, Any] = {} if baseline is None else {"baseline": baseline}
            script.event(
                "stock", agency=site, occurred_at=at, county=county, site_id=site.agency_id,
                site_type="hospital", item=item, unit=unit, on_hand=on_hand, **extra,
            )  # fmt: skip
        occupied = ICU[0][1] - free[0]
        if not staff_low and NURSES_PER_BED * occupied > NURSES:
            staff_low = True
            script.intend_alert(
                "staff_ratio_low", f"{site.agency_id}/staff.icu_nurse", jurisdiction=city,
                at=rfc3339(at),
            )  # fmt: skip
        if not stock_short and GOWNS - GOWNS_A_DAY * day < GOWN_TARGET:
            stock_short = True
            script.intend_alert(
                "stockpile_short", f"{city}/ppe.gown", jurisdiction=city, at=rfc3339(at)
            )


def _cross_city(script: Script, incident: str) -> None:
    """Zigong's ICU reports, and the transfer Chengdu cannot take that crosses into Zigong."""
    for day in range(DAYS):
        at = script.at(timedelta(days=day))
        for county, baseline, free in ZIGONG_ICU:
            site = hospital(county.code)
            script.event(
                "stock", agency=site, occurred_at=at, county=county, site_id=site.agency_id,
                site_type="hospital", item="bed.icu", unit="bed", on_hand=free,
                baseline=baseline, steady=True,
            )  # fmt: skip
    if any(ICU_FREE[CROSSING_AT.days]):
        raise SimulateError("surge: Chengdu has a free ICU bed on the crossing day")
    transfer_id = f"T-SRG-{script.params.tag}"
    requested_at = script.at(CROSSING_AT)
    full, into = hospital(CHENGDU[0].code).agency_id, hospital(ZIGONG_ICU[0][0].code).agency_id
    common: dict[str, Any] = {
        "transfer_id": transfer_id, "patient_ref": f"{full}-ICU-1", "triage": "immediate",
        "from_facility": hospital(CHENGDU[2].code).agency_id, "required_bed": "icu",
        "incident_id": incident,
    }  # fmt: skip
    script.event(
        "transfer", agency=DISPATCH_120, occurred_at=requested_at, county=CHENGDU[0],
        to_facility=full, transfer_status="requested", steady=True, **common,
    )  # fmt: skip
    city = CHENGDU[0].city
    script.intend_alert(
        "capacity_redirect", transfer_id, jurisdiction=city, requested=full, suggested=None
    )
    script.intend_alert(
        "capacity_redirect", transfer_id, jurisdiction=city[:2], requested=full, suggested=into
    )
    for minutes, state in ((5, "dispatched"), (80, "arrived")):
        script.event(
            "transfer", agency=DISPATCH_120, occurred_at=requested_at + timedelta(minutes=minutes),
            county=CHENGDU[0], msg_type="Update", to_facility=into, transfer_status=state,
            transport_unit="AMB-5101-SRG", steady=True, **common,
        )  # fmt: skip
