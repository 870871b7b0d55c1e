"""Test helpers for the province's cross-city redirect (streams.core.rollup_beds): ICU bed
reports and transfers of the example registry's hospitals, and the city stage's outputs
the decide stage forwards to the roll-up feed."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

from streams.core import fold, load_rules, output_feeds_rollup, shipped_registry
from topics.models import StockEvent, TransferEvent
from topics.outputs import Alert

RULES = load_rules(None, shipped_registry("sichuan-example.yaml"))
T0 = datetime(2026, 3, 2, 8, tzinfo=timezone(timedelta(hours=8)))
HOUR = timedelta(hours=1)
# the example registry's hospitals: Chengdu (5101) and Zigong (5103)
REGION = {
    "H-510104-01": "510104",
    "H-510105-01": "510105",
    "H-510302-01": "510302",
    "H-510303-01": "510303",
}


def icu(site: str, free: float, hour: float = 0, status: str = "Actual") -> StockEvent:
    """``site``'s free ICU beds (of 20) reported ``hour`` hours after T0."""
    at = T0 + hour * HOUR
    return StockEvent(
        event_id=f"{site}-{status}-{hour}",
        kind="stock",
        status=status,
        source={"agency_id": site, "agency_type": "health"},
        occurred_at=at,
        reported_at=at,
        region=REGION[site],
        site_id=site,
        site_type="hospital",
        item="bed.icu",
        unit="bed",
        on_hand=free,
        baseline=20,
    )


def transfer(
    transfer_id: str, dest: str, hour: float, state: str = "requested", status: str = "Actual"
) -> TransferEvent:
    """A report of ``transfer_id`` to ``dest`` needing an ICU bed, in 510104 (Chengdu)."""
    at = T0 + hour * HOUR
    return TransferEvent(
        event_id=f"{transfer_id}-{state}-{hour}",
        kind="transfer",
        status=status,
        source={"agency_id": "120-5101", "agency_type": "health"},
        occurred_at=at,
        reported_at=at,
        region="510104",
        transfer_id=transfer_id,
        patient_ref=f"P-{transfer_id}",
        from_facility="SCENE-1",
        to_facility=dest,
        required_bed="icu",
        transfer_status=state,
    )


def city_feed(events: Sequence[Any], rules: Any = RULES) -> tuple[list[Any], list[Any]]:
    """(the city stage's outputs over ``events``, those it forwards to the roll-up feed)."""
    _, outputs = fold(list(events), rules)
    return outputs, [o for o in outputs if output_feeds_rollup(o, rules)]


def standing(outputs: Iterable[Any], jurisdiction: str) -> dict[str, Alert]:
    """The standing ``capacity_redirect`` alerts of ``jurisdiction``: per id the copy with
    the highest revision, retractions left out."""
    last: dict[str, Alert] = {}
    for o in outputs:
        is_redirect = isinstance(o, Alert) and o.alert_kind == "capacity_redirect"
        if is_redirect and (o.alert_id not in last or o.revision > last[o.alert_id].revision):
            last[o.alert_id] = o
    return {k: a for k, a in last.items() if not a.retracted and a.jurisdiction == jurisdiction}
