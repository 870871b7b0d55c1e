"""``ili-school``: an influenza-like illness outbreak in a primary school of Wuhou (510107)
that the lab confirms as influenza.

The school's hospital reports 12 pupils with ILI (suspected ``ili``, setting ``school``,
the school's ``institution_id``) about 5 hours apart: the 10th opens the ILI institution
warning (national influenza surveillance plan: >= 10 in one institution within a week);
the city CDC checks it and acks its verification ``confirmed`` 90 minutes later. Three days
after the first case the lab confirms influenza in 4 pupils, seen at two hospitals: the
multi-facility warning opens an influenza incident, which the CDC verifies ``confirmed``
too. Influenza's tiers count against 5-year baselines, which the default rulebook leaves
to each deployment, so no tier is intended: the incident is the warning, confirmed.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from streams.core import default_rulebook, verification_id, warning_incident_id
from streams.simulate.errors import SimulateError
from streams.simulate.params import FaultPlan, Params, Scenario, rfc3339
from streams.simulate.places import CHENGDU, Agency, County, hospital
from streams.simulate.script import Script

SCHOOL_COUNTY = CHENGDU[3]  # 武侯区
OTHER_COUNTY = CHENGDU[0]  # 锦江区: a pupil's family takes her to its hospital
SCHOOL = "SCH-510107-0003"
ILI_CASES = 12
ILI_EVERY = timedelta(hours=5)
WARNING_AT = 10  # the ili-institution warning's min
CONFIRMED_AFTER = timedelta(days=3)  # the lab's influenza results, after the first case
FLU_CASES = ((SCHOOL_COUNTY, 0), (SCHOOL_COUNTY, 2), (OTHER_COUNTY, 3), (SCHOOL_COUNTY, 5))
VERIFY_AFTER = timedelta(minutes=90)
CDC = Agency("CDC-5101", "health")
TICK_EVERY = timedelta(hours=1)


def build(params: Params) -> Scenario:
    if params.scale != 1:
        raise SimulateError("ili-school is one school: --scale must be 1")
    script = Script(params, "ili", report_delay=timedelta(hours=1))
    script.semantics = {
        "ili-institution": "the 10th ILI case of one school within 7 days opens the warning",
        "multi-facility": "influenza cases at 2 hospitals open an influenza warning",
        "verification": "the CDC acks each warning's verification task confirmed 90 min later",
    }
    start = script.at(timedelta(hours=1))
    rng = script.rng
    ili_times = [
        start + ILI_EVERY * n + timedelta(seconds=rng.randint(0, 3599)) for n in range(ILI_CASES)
    ]
    for n, at in enumerate(ili_times):
        _case(script, f"ILI-{n:02d}", SCHOOL_COUNTY, at, disease="ili", cls="suspected")
    opened = ili_times[WARNING_AT - 1]
    _verify(script, "ili", opened, "on-site check: ILI outbreak at the school confirmed")
    script.intend_alert("warning_opened", None, jurisdiction=SCHOOL_COUNTY.city, at=rfc3339(opened))
    flu_times = []
    for county, hours in FLU_CASES:
        at = start + CONFIRMED_AFTER + timedelta(hours=hours)
        flu_times.append((at, county))
        _case(script, f"FLU-{hours:02d}", county, at, disease="influenza", cls="confirmed")
    # the first case at a second hospital opens the multi-facility warning
    second = min(at for at, county in flu_times if county != SCHOOL_COUNTY)
    _verify(script, "influenza", second, "on-site check: influenza A confirmed at the school")
    script.intend_alert("warning_opened", None, jurisdiction=SCHOOL_COUNTY.city, at=rfc3339(second))
    # ticks past every event: none is held as ahead of the clock
    script.ticks(start, start + CONFIRMED_AFTER + timedelta(hours=12), TICK_EVERY)
    return script.finish(FaultPlan())


def _case(
    script: Script, number: str, county: County, at: datetime, *, disease: str, cls: str
) -> None:
    sender = hospital(county.code)
    script.event(
        "case",
        agency=sender,
        occurred_at=at,
        county=county,
        case_id=f"{number}-{script.params.tag}",
        patient_ref=f"{sender.agency_id}-{number}",
        disease=disease,
        classification=cls,
        severity="mild",
        facility_id=sender.agency_id,
        setting="school",
        institution_id=SCHOOL,
        onset_date=(at - timedelta(days=1)).date().isoformat(),
    )


def _verify(script: Script, disease: str, opened: datetime, headline: str) -> None:
    status = script.params.status
    incident = warning_incident_id(status, SCHOOL_COUNTY.city, disease)
    script.event(
        "incident",
        agency=CDC,
        occurred_at=opened + VERIFY_AFTER,
        county=SCHOOL_COUNTY,
        msg_type="Ack",
        incident_id=incident,
        category="infectious_disease",
        disease=disease,
        headline=headline,
        ack_task_id=verification_id(
            status, incident, opened_at=opened, rulebook=default_rulebook()
        ),
        verification="confirmed",
        steady=True,
    )
