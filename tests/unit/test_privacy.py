"""Pseudonymisation and DLQ redaction against hand-built records."""

import hashlib
import hmac

import orjson

from topics.codec import decode
from topics.models import CaseEvent
from topics.privacy import pseudonym, pseudonymise_case, redact_raw

KEY = b"test-key"
CASE = {
    "event_id": "e1",
    "kind": "case",
    "source": {"agency_id": "h1", "agency_type": "health"},
    "occurred_at": "2026-03-02T08:00:00+08:00",
    "reported_at": "2026-03-02T08:10:00+08:00",
    "region": "510104",
    "case_id": "c1",
    "patient_ref": "p1",
    "disease": "cholera",
    "classification": "confirmed",
    "facility_id": "h1",
    "national_id": "510104199001011234",
    "name": "张三",
}


def test_pseudonym_is_the_keyed_hmac() -> None:
    expected = hmac.new(KEY, b"510104199001011234", hashlib.sha256).hexdigest()[:32]
    assert pseudonym("510104199001011234", KEY) == f"p:{expected}"
    assert pseudonym("510104199001011234", b"other") != pseudonym("510104199001011234", KEY)


def test_case_loses_name_and_raw_id() -> None:
    event = decode(orjson.dumps(CASE))
    assert isinstance(event, CaseEvent)
    safe = pseudonymise_case(event, KEY)
    assert safe.name is None
    assert safe.national_id == pseudonym("510104199001011234", KEY)
    assert pseudonymise_case(safe, KEY) == safe  # applying twice changes nothing


def test_rejected_bytes_are_redacted_but_repairable() -> None:
    broken = {**CASE, "region": "bad"}
    redacted = redact_raw(orjson.dumps(broken), KEY)
    assert b"510104199001011234" not in redacted and "张三".encode() not in redacted
    assert orjson.loads(redacted) == {
        **{k: v for k, v in broken.items() if k != "name"},
        "national_id": pseudonym("510104199001011234", KEY),
    }
    assert redact_raw(b"not json 510104199001011234", KEY) == b"not json 510104199001011234"
