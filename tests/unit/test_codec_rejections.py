"""Each class of bad input is rejected with a reason a person can act on."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from topics.codec import MAX_RECORD_BYTES, decode, decode_tick
from topics.models import CaseEvent, TransferEvent
from topics.outputs import Rejection

GOOD: dict[str, Any] = {
    "event_id": "cdc-510104-000001",
    "kind": "case",
    "msg_type": "Alert",
    "status": "Actual",
    "source": {"agency_id": "cdc-5101", "agency_type": "health"},
    "occurred_at": "2026-03-02T08:00:00+08:00",
    "reported_at": "2026-03-02T09:00:00+08:00",
    "region": "510104",
    "case_id": "c1",
    "patient_ref": "h1-0001",
    "disease": "cholera",
    "classification": "confirmed",
    "facility_id": "h1",
}


_TYPO = "a time before 2000 or from 2100 on is a typo: check the year"


def _with(**changes: Any) -> bytes:
    return orjson.dumps({**GOOD, **changes})


def _without(field: str) -> bytes:
    return orjson.dumps({k: v for k, v in GOOD.items() if k != field})


def test_the_good_record_decodes() -> None:
    event = decode(orjson.dumps(GOOD))
    assert isinstance(event, CaseEvent)
    assert event.region == "510104"


@pytest.mark.parametrize(
    ("raw", "field", "reason_start"),
    [
        (b"{not json", None, "not JSON:"),
        (b"[1, 2, 3]", None, "not a JSON object (got list)"),
        (b'"a string"', None, "not a JSON object (got str)"),
        (_with(kind="weather"), None, "unknown kind 'weather'"),
        (_without("kind"), None, "missing field: kind"),
        (_without("case_id"), "case_id", "missing required field: case_id"),
        (_with(on_hand="x", classification=3), "classification", "wrong value for classification"),
        (_with(occurred_at="2026-03-02T08:00:00"), "occurred_at", "bad timestamp in occurred_at"),
        (_with(reported_at="yesterday"), "reported_at", "bad timestamp in reported_at"),
        (_with(onset_date="2026-02-30"), "onset_date", "onset_date: not a date: '2026-02-30'"),
        (_with(onset_date="2026-W09-1"), "onset_date", "onset_date: not a date"),
        (_with(onset_date="1926-03-01"), "onset_date", "onset_date: a date before 2000"),
        # an instant's range is checked at its offset: 2000-01-01T00:30+01:00 is 1999 in UTC
        (_with(occurred_at="2000-01-01T00:30:00+01:00"), "occurred_at", "occurred_at: " + _TYPO),
        (_with(reported_at="2099-12-31T23:00:00-05:00"), "reported_at", "reported_at: " + _TYPO),
        (_with(reported_at="3026-03-02T09:00:00+08:00"), "reported_at", "reported_at: " + _TYPO),
        (_with(region="5101"), "region", "bad region code '5101'"),
        (_with(region="910104"), "region", "bad region code '910104'"),
        (
            _with(source={"agency_id": "x", "agency_type": "army"}),
            "source.agency_type",
            "wrong value",
        ),
    ],
)
def test_rejections_name_field_and_reason(raw: bytes, field: str | None, reason_start: str) -> None:
    rejected = decode(raw)
    assert isinstance(rejected, Rejection)
    assert rejected.field == field
    assert rejected.reason.startswith(reason_start), rejected.reason
    assert rejected.value_b64  # the original bytes travel with the rejection


@pytest.mark.parametrize(
    "instant", ["1999-12-31T23:30:00-01:00", "2099-12-31T23:30:00+08:00", "2000-01-01T00:00:00Z"]
)
def test_an_instant_inside_the_range_at_its_offset_decodes(instant: str) -> None:
    """The range holds for the instant, not its wall-clock text (2100-01-01T07:30+08:00
    is 2099 in UTC)."""
    event = decode(_with(occurred_at=instant, reported_at=instant))
    assert isinstance(event, CaseEvent), event


def test_all_missing_fields_are_listed() -> None:
    rejected = decode(b'{"kind": "stock"}')
    assert isinstance(rejected, Rejection)
    assert rejected.reason.startswith("missing required fields: ")
    for name in ("event_id", "source", "occurred_at", "region", "site_id", "on_hand"):
        assert name in rejected.reason


def test_oversized_record_is_rejected_before_parsing() -> None:
    raw = _with(headline="x" * MAX_RECORD_BYTES)
    rejected = decode(raw)
    assert isinstance(rejected, Rejection)
    assert rejected.reason.startswith(f"oversized record: {len(raw)} bytes")


def test_transfer_state_may_arrive_in_status() -> None:
    """DESIGN.md spells the transfer's state ``status``; that spelling is understood."""
    raw = orjson.dumps(
        {
            **{k: v for k, v in GOOD.items() if k not in ("case_id", "disease", "classification")},
            "kind": "transfer",
            "transfer_id": "t1",
            "from_facility": "h1",
            "to_facility": "h2",
            "required_bed": "icu",
            "status": "en_route",
        }
    )
    event = decode(raw)
    assert isinstance(event, TransferEvent)
    assert (event.transfer_status, event.status) == ("en_route", "Actual")


def test_tick_decodes_and_bad_tick_is_rejected() -> None:
    tick = decode_tick(b'{"kind":"tick","event_id":"t1","tick_at":"2026-03-02T10:00:00+08:00"}')
    assert not isinstance(tick, Rejection)
    bad = decode_tick(b'{"kind":"tick","event_id":"t1","tick_at":"soon"}')
    assert isinstance(bad, Rejection)
    assert bad.field == "tick_at"
