"""Hypothesis strategies for wire-valid input events, as JSON-ready dicts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from hypothesis import strategies as st

ids = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-_", min_size=1, max_size=24)
regions = st.from_regex(r"\A[1-8][0-9]{5}\Z")
offsets = st.sampled_from([timezone(timedelta(hours=8)), UTC, timezone(timedelta(hours=-5))])
instants = st.builds(
    lambda seconds, tz: (
        (datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=seconds)).astimezone(tz).isoformat()
    ),
    st.integers(0, 365 * 24 * 3600),
    offsets,
)
texts = st.text(max_size=40)
counts = st.integers(0, 10_000)
amounts = st.floats(0, 1e6, allow_nan=False, allow_infinity=False)


def envelope(kind: str) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {
            "event_id": ids,
            "kind": st.just(kind),
            "schema_version": st.just(1),
            "msg_type": st.sampled_from(["Alert", "Update", "Cancel", "Ack"]),
            "status": st.sampled_from(["Actual", "Exercise", "Test"]),
            "source": st.fixed_dictionaries(
                {
                    "agency_id": ids,
                    "agency_type": st.sampled_from(
                        ["health", "emergency", "public_security", "transport"]
                    ),
                }
            ),
            "occurred_at": instants,
            "reported_at": instants,
            "region": regions,
        },
        optional={
            "location": st.fixed_dictionaries(
                {"lat": st.floats(-90, 90), "lon": st.floats(-180, 180)}
            ),
            "incident_id": ids,
        },
    )


def _eta_not_before_set(event: dict[str, Any]) -> dict[str, Any]:
    """The wire refuses an eta set (requested, dispatched) before the event itself."""
    eta = event.get("eta") and datetime.fromisoformat(event["eta"])
    setting = event["transfer_status"] in ("requested", "dispatched")
    if setting and eta is not None and eta < datetime.fromisoformat(event["occurred_at"]):
        return {**event, "eta": event["occurred_at"]}
    return event


def _with(kind: str, required: dict[str, Any], optional: dict[str, Any]) -> Any:
    payload = st.fixed_dictionaries(required, optional=optional)
    return st.tuples(envelope(kind), payload).map(lambda pair: {**pair[0], **pair[1]})


incident_events = _with(
    "incident",
    {
        "incident_id": ids,
        "category": st.sampled_from(
            ["infectious_disease", "food_poisoning", "mass_casualty", "unknown_cluster", "other"]
        ),
    },
    {
        "disease": st.sampled_from(["cholera", "plague_pneumonic", "anthrax"]),
        "headline": texts,
        "phase": st.sampled_from(["reported", "confirmed", "contained", "closed"]),
        "casualties": counts.flatmap(
            lambda total: st.fixed_dictionaries(
                {"total": st.just(total), "dead": st.integers(0, total), "critical": counts}
            ).map(lambda c: {**c, "critical": min(c["critical"], c["total"])})
        ),
        "ack_task_id": ids,
    },
)
case_events = _with(
    "case",
    {
        "case_id": ids,
        "patient_ref": ids,
        "disease": st.sampled_from(["cholera", "measles", "typhoid"]),
        "classification": st.sampled_from(["suspected", "probable", "confirmed", "discarded"]),
        "facility_id": ids,
    },
    {
        "severity": st.sampled_from(["mild", "moderate", "severe", "critical"]),
        "outcome": st.sampled_from(["none", "recovered", "died"]),
        "setting": st.sampled_from(["school", "worksite", "care_home"]),
        "triage": st.sampled_from(["immediate", "delayed", "minor", "expectant"]),
        "onset_date": st.just("2026-02-01"),
    },
)
transfer_events = _with(
    "transfer",
    {
        "transfer_id": ids,
        "patient_ref": ids,
        "from_facility": ids,
        "to_facility": ids,
        "required_bed": st.sampled_from(["icu", "isolation", "burn", "general"]),
        "transfer_status": st.sampled_from(
            ["requested", "dispatched", "en_route", "arrived", "cancelled"]
        ),
    },
    {"case_id": ids, "transport_unit": ids, "eta": instants},
).map(_eta_not_before_set)
stock_events = _with(
    "stock",
    {
        "site_id": ids,
        "site_type": st.sampled_from(["hospital", "depot", "cdc", "other"]),
        "item": st.sampled_from(["bed.icu", "bed.isolation", "ppe.n95", "ppe.gown", "ecmo"]),
        "on_hand": amounts,
    },
    {"unit": st.just("each"), "baseline": amounts, "received": amounts},
)
any_event = st.one_of(incident_events, case_events, transfer_events, stock_events)
