"""Generated streams of one city for the core's Hypothesis properties: cases, incidents,
declarations, verifications, stock, beds, staff, transfers, ticks and drills with
duplicates and late events; the rulebook they run under; the shared settings."""

from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from streams.core import (
    declared_timeline,
    initial_state,
    parse_rulebook,
    state_fingerprint,
    step_many,
    tier_timeline,
)
from topics.models import CaseEvent, IncidentEvent, StockEvent, TransferEvent
from topics.outputs import Tick

# The default rulebook with measles baselines low enough for the generated streams to
# cross them, so the baseline rules are held to the same invariants as the others; and
# without holding events ahead of the ticks, which depends on arrival by design
# (streams/core/held.py: tested in tests/unit/test_input_checks.py); and with a rule on
# the city's ICU occupancy for the generated diseases, which the ICU snapshots with a
# baseline below make hold and stop holding.
RULES = parse_rulebook(
    (Path(__file__).resolve().parents[2] / "streams" / "rulebooks" / "default.yaml")
    .read_text(encoding="utf-8")
    .replace("baselines: {}", 'baselines: {measles: {"510104": 0.5, "510105": 1.0}}')
    # a designated hospital: declared Tier II and above order its conversion (surge.py)
    .replace(
        "\nresources:\n",
        "\nresources:\n  facilities: {version: p, facilities: [{id: H1, name: h,"
        " designation: designated, jurisdiction: '5101'}]}\n",
    )
    .replace(
        "\nrules:\n",
        "\nrules:\n  - {id: prop-icu-II, tier: II, diseases: [measles, cholera], metric: confirmed,"
        " threshold: 2, and: [{metric: icu_occupancy, threshold: 0.6}]}\n",
    )
    .replace("ahead_of_clock_minutes: 60 ", "ahead_of_clock_minutes: null ")
)
T0 = datetime(2026, 3, 1, tzinfo=timezone(timedelta(hours=8)))
SOURCE = {"agency_id": "a1", "agency_type": "health"}
hours = st.integers(0, 24 * 12)
regions = st.sampled_from(["510104", "510105", "510106"])
statuses = st.sampled_from(["Actual", "Actual", "Actual", "Exercise"])

cases = st.fixed_dictionaries(
    {
        "kind": st.just("case"),
        "case_id": st.sampled_from([f"c{i}" for i in range(12)]),
        "patient_ref": st.just("p"),
        "disease": st.sampled_from(["cholera", "plague_pneumonic", "measles"]),
        "classification": st.sampled_from(["suspected", "confirmed", "confirmed", "discarded"]),
        "severity": st.sampled_from(["mild", "critical"]),
        "outcome": st.sampled_from(["none", "died"]),
        "facility_id": st.sampled_from(["H1", "H2", "H3"]),
        "setting": st.sampled_from([None, "school"]),
        "institution_id": st.sampled_from([None, None, "SCH-1", "SCH-2"]),
        "incident_id": st.sampled_from([None, None, "INC-A", "INC-B"]),
    }
)
incidents = st.fixed_dictionaries(
    {
        "kind": st.just("incident"),
        "incident_id": st.sampled_from(["INC-A", "INC-B", "MC-1"]),
        "category": st.sampled_from(["mass_casualty", "food_poisoning", "infectious_disease"]),
        "disease": st.sampled_from([None, None, "cholera"]),
        "phase": st.sampled_from(["reported", "confirmed", "closed"]),
        "casualties": st.fixed_dictionaries(
            {
                "total": st.integers(0, 120),
                "dead": st.integers(0, 12),
                "critical": st.integers(0, 12),
            }
        ).filter(lambda c: max(c["dead"], c["critical"]) <= c["total"]),
    }
)
# Declarations by the command agency (and some by an agency without authority: rejected)
declarations = st.fixed_dictionaries(
    {
        "kind": st.just("incident"),
        "msg_type": st.just("Update"),
        "incident_id": st.sampled_from(["INC-A", "MC-1"]),
        "category": st.sampled_from(["mass_casualty", "infectious_disease"]),
        "disease": st.sampled_from([None, "cholera"]),
        "declared_tier": st.sampled_from(["I", "II", "III", "IV", "none"]),
        "reason": st.sampled_from(["", "joint assessment"]),
        "source": st.sampled_from(
            [
                {"agency_id": "em1", "agency_type": "emergency"},
                {"agency_id": "em1", "agency_type": "emergency"},
                {"agency_id": "ps1", "agency_type": "public_security"},
            ]
        ),
    }
)
# A warning's verification: an Ack that is also a report (confirmed / discarded)
verifications = st.fixed_dictionaries(
    {
        "kind": st.just("incident"),
        "msg_type": st.just("Ack"),
        "incident_id": st.sampled_from(["INC-A", "MC-1"]),
        "category": st.just("infectious_disease"),
        "disease": st.sampled_from([None, "cholera", "measles"]),
        "ack_task_id": st.sampled_from(["task-x", "task-y"]),
        "verification": st.sampled_from(["confirmed", "discarded"]),
    }
)
stocks = st.fixed_dictionaries(
    {
        "kind": st.just("stock"),
        "site_id": st.sampled_from(["H1", "H2"]),
        "site_type": st.just("hospital"),
        "item": st.sampled_from(["ppe.gown", "bed.icu"]),
        "on_hand": st.one_of(
            st.sampled_from([0.0, 0.0, 4.0, 40.0]), st.integers(0, 300).map(float)
        ),
        "received": st.sampled_from([None, 50.0]),
    }
)
beds = st.fixed_dictionaries(
    {
        "kind": st.just("stock"),
        "site_id": st.sampled_from(["H1", "H2", "H3"]),
        "site_type": st.just("hospital"),
        # isolation beds: the capacity the stockpile catalogue's ppe.gown need follows
        "item": st.sampled_from(["bed.icu", "bed.icu", "bed.isolation"]),
        "on_hand": st.sampled_from([0.0, 0.0, 2.0, 9.0]),
        # with a baseline the jurisdiction's ICU ratio can fall below 15 %: icu_capacity_low
        "baseline": st.sampled_from([None, 10.0, 20.0]),
    }
)
# ICU beds with a baseline: the jurisdiction's occupancy (prop-icu-II) moves with them
icu_beds = beds.filter(lambda b: b["item"] == "bed.icu" and b["baseline"] is not None)
transfers = st.fixed_dictionaries(
    {
        "kind": st.just("transfer"),
        "transfer_id": st.sampled_from(["T1", "T2"]),
        "patient_ref": st.just("p"),
        "from_facility": st.just("F"),
        "to_facility": st.sampled_from(["H1", "H2"]),
        "required_bed": st.just("icu"),
        "transfer_status": st.sampled_from(["requested", "en_route", "arrived", "cancelled"]),
        "eta_h": st.sampled_from([None, 1, 30]),
    }
)
payloads = st.one_of(
    cases,
    cases,
    cases,
    incidents,
    declarations,
    verifications,
    stocks,
    icu_beds,
    transfers,
    st.fixed_dictionaries({"kind": st.just("tick")}),
)


def build(i: int, row: tuple[dict[str, Any], int, str, str, int]) -> Any:
    payload, hour, region, status, late_h = row
    at = T0 + timedelta(hours=hour)
    if payload["kind"] == "tick":
        return Tick(event_id=f"tick{i}", tick_at=at)
    fields = dict(payload)
    source = fields.pop("source", SOURCE)
    eta_h = fields.pop("eta_h", None)
    if eta_h is not None:
        fields["eta"] = at + timedelta(hours=eta_h)
    model = {
        "case": CaseEvent,
        "incident": IncidentEvent,
        "stock": StockEvent,
        "transfer": TransferEvent,
    }[fields["kind"]]
    return model.model_validate(
        {
            **fields,
            "event_id": f"e{i}",
            "source": source,
            "occurred_at": at,
            "reported_at": at + timedelta(hours=late_h),
            "region": region,
            "status": status,
        }
    )


streams = st.lists(
    st.tuples(payloads, hours, regions, statuses, st.sampled_from([0, 0, 3])),
    max_size=45,
).map(lambda rows: [build(i, row) for i, row in enumerate(rows)])

# ICU nurses against the beds above (2.5 per occupied bed): staff_ratio_low
nurses = st.fixed_dictionaries(
    {
        "kind": st.just("stock"),
        "site_id": st.sampled_from(["H1", "H2"]),
        "site_type": st.just("hospital"),
        "item": st.just("staff.icu_nurse"),
        "on_hand": st.sampled_from([0.0, 10.0, 25.0, 60.0]),
    }
)
# Denser in beds and transfers, over two days: redirects, delays, stock and staff alerts.
logistics_streams = st.lists(
    st.tuples(
        st.one_of(beds, stocks, nurses, transfers, transfers, cases, st.just({"kind": "tick"})),
        st.integers(0, 48),
        regions,
        st.sampled_from(["Actual", "Actual", "Actual", "Exercise"]),
        st.sampled_from([0, 0, 3]),
    ),
    max_size=45,
).map(lambda rows: [build(i, row) for i, row in enumerate(rows)])

# TIERFLOW_EXAMPLES=2000 for a thorough run; CI keeps the suite quick.
FAST = settings(
    max_examples=int(os.environ.get("TIERFLOW_EXAMPLES", "60")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def run(events: list[Any]) -> tuple[Any, list[Any]]:
    return step_many(initial_state("5101"), events, RULES)


def facts(state: Any) -> tuple[bytes, Any, Any, Any, Any]:
    return (
        state_fingerprint(state),
        tier_timeline(state),
        tier_timeline(state, "Exercise"),
        declared_timeline(state),
        declared_timeline(state, "Exercise"),
    )
