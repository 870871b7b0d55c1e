"""Builders of core input events for hand-computed tests: one case, incident, stock
report, transfer or tick with everything but what a test varies filled in, in Chengdu
(510104), on 2026-03-01 08:00 +08:00 (``T0``) unless told otherwise."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from streams.core import auto_declared, default_rulebook
from topics.models import CaseEvent, IncidentEvent, StockEvent, TransferEvent
from topics.outputs import Tick

CST = timezone(timedelta(hours=8))
T0 = datetime(2026, 3, 1, 8, 0, tzinfo=CST)
# auto_declare: the plan's tasks on the recommendation, so these examples pin the rules and
# the plan together (declarations by people: tests/unit/test_core_declarations.py)
RULES = auto_declared(default_rulebook())
HEALTH = {"agency_id": "cdc-510104", "agency_type": "health"}
EMERGENCY = {"agency_id": "em-5101", "agency_type": "emergency"}


def case(
    n: int,
    at: datetime,
    *,
    disease: str = "cholera",
    cls: str = "confirmed",
    facility: str = "H1",
    region: str = "510104",
    status: str = "Actual",
    **extra: Any,
) -> CaseEvent:
    return CaseEvent(
        event_id=extra.pop("event_id", f"case-{disease}-{n}-{cls}-{status}"),
        kind="case",
        status=status,
        source=HEALTH,
        occurred_at=at,
        reported_at=extra.pop("reported_at", at),
        region=region,
        case_id=f"{disease}-{n}",
        patient_ref=f"p{n}",
        disease=disease,
        classification=cls,
        facility_id=facility,
        **extra,
    )


def incident(
    event_id: str,
    at: datetime,
    incident_id: str = "INC-1",
    **extra: Any,
) -> IncidentEvent:
    fields: dict[str, Any] = {
        "category": "mass_casualty",
        "region": "510104",
        "source": EMERGENCY,
        **extra,
    }
    return IncidentEvent(
        event_id=event_id,
        kind="incident",
        occurred_at=at,
        reported_at=at,
        incident_id=incident_id,
        **fields,
    )


def stock(
    event_id: str,
    at: datetime,
    site: str,
    item: str,
    on_hand: float,
    *,
    received: float | None = None,
    region: str = "510104",
) -> StockEvent:
    return StockEvent(
        event_id=event_id,
        kind="stock",
        source=HEALTH,
        occurred_at=at,
        reported_at=at,
        region=region,
        site_id=site,
        site_type="hospital",
        item=item,
        on_hand=on_hand,
        received=received,
    )


def transfer(
    event_id: str,
    at: datetime,
    state: str,
    *,
    to: str = "H-A",
    bed: str = "icu",
    eta: datetime | None = None,
) -> TransferEvent:
    return TransferEvent(
        event_id=event_id,
        kind="transfer",
        source=HEALTH,
        occurred_at=at,
        reported_at=at,
        region="510104",
        transfer_id="TR-1",
        patient_ref="p1",
        from_facility="H-field",
        to_facility=to,
        required_bed=bed,
        transfer_status=state,
        eta=eta,
    )  # type: ignore[arg-type]


def tick(at: datetime, n: int = 0) -> Tick:
    return Tick(event_id=f"tick-{at.isoformat()}-{n}", tick_at=at)


def of(kind: type, outputs: list[Any]) -> list[Any]:
    return [o for o in outputs if isinstance(o, kind)]
