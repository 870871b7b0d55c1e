"""The agencies' reports of the dashboard tests' landed scenario (see
:mod:`tests.integration.dashboard_seed`): cases, transfers and stock levels (with staff and
teams), and the instants they are dated with."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from topics.models import CaseEvent, Source, TransferEvent
from topics.outputs import StockLevel


def at(day: int, hour: int = 0, minute: int = 0, month: int = 3) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


HOSPITAL = Source(agency_id="hosp-a", agency_type="health")
DISPATCH_120 = Source(agency_id="120-5001", agency_type="emergency")


def _case(
    event_id: str,
    case_id: str,
    region: str,
    classification: Any,
    occurred: datetime,
    *,
    reported_after: timedelta,
    **kw: Any,
) -> CaseEvent:
    fields: dict[str, Any] = {"disease": "cholera", "source": HOSPITAL, "facility_id": "hosp-a"}
    fields.update(kw)
    return CaseEvent(
        kind="case",
        event_id=event_id,
        case_id=case_id,
        patient_ref=f"p-{case_id}",
        region=region,
        classification=classification,
        occurred_at=occurred,
        reported_at=occurred + reported_after,
        **fields,
    )


def cases() -> list[CaseEvent]:
    m = timedelta(minutes=1)
    return [
        _case("e-c1-1", "c1", "510104", "suspected", at(2, 10), reported_after=30 * m),
        _case("e-c1-2", "c1", "510104", "confirmed", at(3, 9), reported_after=20 * m),
        _case(
            "e-c1-3", "c1", "510104", "confirmed", at(6, 9), reported_after=30 * m,
            outcome="recovered",
        ),
        _case("e-c2", "c2", "510104", "confirmed", at(3, 15), reported_after=45 * m),
        _case("e-c3", "c3", "510105", "confirmed", at(4, 8), reported_after=180 * m),  # late
        _case("e-c4", "c4", "510105", "probable", at(4, 9), reported_after=10 * m),
        # 20:00 UTC is 04:00 the next day in Asia/Shanghai.
        _case("e-c5", "c5", "510105", "confirmed", at(4, 20), reported_after=30 * m),
        _case(
            "e-c6", "c6", "510104", "confirmed", at(3, 12), reported_after=10 * m,
            status="Exercise",
        ),
        _case(
            "e-c7", "c7", "500103", "confirmed", at(3, 14), reported_after=300 * m,  # late
            disease="norovirus", source=DISPATCH_120, facility_id="hosp-c",
        ),
        _case(
            "e-c8", "c8", "510104", "confirmed", at(27, 10, month=2), reported_after=10 * m
        ),
    ]  # fmt: skip


def _transfer(
    event_id: str, transfer_id: str, region: str, state: Any, occurred: datetime, **kw: Any
) -> TransferEvent:
    fields: dict[str, Any] = {
        "source": HOSPITAL,
        "from_facility": "hosp-a",
        "to_facility": "hosp-b",
        "required_bed": "icu",
        "triage": "immediate",
        "transport_unit": "amb-7",
    }
    fields.update(kw)
    return TransferEvent(
        kind="transfer",
        event_id=event_id,
        transfer_id=transfer_id,
        patient_ref=f"p-{transfer_id}",
        region=region,
        transfer_status=state,
        occurred_at=occurred,
        reported_at=occurred + timedelta(minutes=1),
        **fields,
    )


def transfers() -> list[TransferEvent]:
    return [
        _transfer("e-tr1-1", "tr1", "510104", "requested", at(5, 10)),
        _transfer("e-tr1-2", "tr1", "510104", "dispatched", at(5, 10, 10)),
        _transfer("e-tr1-3", "tr1", "510104", "en_route", at(5, 10, 20), eta=at(5, 11)),
        _transfer("e-tr2-1", "tr2", "510105", "requested", at(5, 11)),
        _transfer("e-tr2-2", "tr2", "510105", "arrived", at(5, 12)),
        _transfer(
            "e-tr3-1",
            "tr3",
            "500103",
            "requested",
            at(6, 8),
            from_facility="hosp-c",
            to_facility="hosp-d",
            required_bed="general",
        ),
        _transfer("e-tr4-1", "tr4", "510104", "en_route", at(5, 9), status="Exercise"),
        _transfer("e-tr5-1", "tr5", "510104", "requested", at(9)),
    ]


def _stock(site: str, item: str, when: datetime, on_hand: float, **kw: Any) -> StockLevel:
    fields: dict[str, Any] = {"site_type": "hospital", "jurisdiction": "5101", "unit": "each"}
    fields.update(kw)
    return StockLevel(site_id=site, item=item, at=when, on_hand=on_hand, **fields)


def stock_levels() -> list[StockLevel]:
    depot = {"site_type": "depot"}
    return [
        _stock("hosp-a", "bed.icu", at(5, 8), 4, baseline=20, convertible=1),
        _stock("hosp-a", "bed.icu", at(6, 8), 2, baseline=20),
        _stock("hosp-b", "bed.icu", at(6, 8), 7, baseline=10, convertible=4),
        _stock("hosp-c", "bed.icu", at(6, 9), 0, baseline=8, jurisdiction="5001"),
        _stock("hosp-a", "bed.icu", at(7), 99, baseline=99, status="Exercise"),
        _stock("hosp-a", "bed.icu", at(9), 15, baseline=20),
        _stock("depot-1", "ppe.n95", at(5, 8), 10_000, **depot),
        _stock(
            "depot-1",
            "ppe.n95",
            at(6, 8),
            9_000,
            burn_rate_per_day=1_000,
            days_of_cover=9.0,
            full_load_per_day=1_000,  # at full load: 9 days
            days_at_full_load=9.0,
            **depot,
        ),
        _stock(
            "depot-2",
            "ppe.n95",
            at(6, 8),
            3_000,
            burn_rate_per_day=100,
            days_of_cover=30.0,
            full_load_per_day=200,  # at full load: 15 days
            days_at_full_load=15.0,
            jurisdiction="5001",
            **depot,
        ),
        _stock(
            "depot-1",
            "ppe.gown",
            at(6, 8),
            4_000,
            burn_rate_per_day=50,
            days_of_cover=80.0,
            full_load_per_day=500,  # 80 days at the rate seen, 8 at full load
            days_at_full_load=8.0,
            **depot,
        ),
        # Staff and teams (issue 15): counts, never stock with days of cover, though a
        # falling count has a "burn rate" (hosp-a's 30 -> 24 nurses: 6 a day, 4 days).
        _stock("hosp-a", "staff.icu_nurse", at(5, 8), 30),
        _stock("hosp-a", "staff.icu_nurse", at(6, 8), 24, burn_rate_per_day=6, days_of_cover=4.0),
        _stock("hosp-b", "staff.icu_nurse", at(6, 8), 18),
        _stock("hosp-a", "staff.icu_nurse", at(7), 99, status="Exercise"),
        _stock("hosp-c", "staff.icu_nurse", at(6, 9), 12, jurisdiction="5001"),
        _stock("PLA-MT-1", "team.military_medical", at(6, 9), 2, site_type="other"),
    ]
