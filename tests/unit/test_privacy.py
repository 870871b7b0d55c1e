"""Pseudonymisation and DLQ redaction against hand-built records."""

import hashlib
import hmac
from typing import Any

import orjson
import pytest

from topics.codec import decode
from topics.models import CaseEvent
from topics.privacy import pseudonym, pseudonymise_case, redact_raw, withheld_note

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


def test_a_value_that_looks_like_a_pseudonym_is_pseudonymised_too() -> None:
    """Else a sender could pass a raw id through by prefixing it with ``p:``."""
    event = decode(orjson.dumps({**CASE, "national_id": "p:510104199001011234"}))
    assert isinstance(event, CaseEvent)
    assert pseudonymise_case(event, KEY).national_id == pseudonym("p:510104199001011234", KEY)
    raw = orjson.dumps({**CASE, "region": "bad", "national_id": "p:510104199001011234"})
    assert b"510104199001011234" not in redact_raw(raw, KEY)


def test_rejected_bytes_are_redacted_but_repairable() -> None:
    broken = {**CASE, "region": "bad"}
    redacted = redact_raw(orjson.dumps(broken), KEY)
    assert b"510104199001011234" not in redacted and "张三".encode() not in redacted
    assert orjson.loads(redacted) == {
        **{k: v for k, v in broken.items() if k != "name"},
        "national_id": pseudonym("510104199001011234", KEY),
    }


RAW = "510104199001011234"


@pytest.mark.parametrize(
    "value",
    [
        [CASE, {"national_id": RAW}],  # an array
        {"wrapper": {"patient": {"national_id": RAW, "name": "张三"}}},  # nested
        {"patient_ref": f"id {RAW}"},  # an id in another field
        {"national_id": int(RAW)},  # not a string
        {"list": [[{"national_id": RAW}]]},
    ],
)
def test_any_json_shape_is_redacted(value: Any) -> None:
    redacted = redact_raw(orjson.dumps(value), KEY)
    assert RAW.encode() not in redacted and "张三".encode() not in redacted
    assert redacted  # still JSON, still repairable
    orjson.loads(redacted)


def test_duplicated_keys_cannot_smuggle_a_raw_id() -> None:
    raw = b'{"national_id": "p:0", "national_id": "' + RAW.encode() + b'", "kind": "case"}'
    assert RAW.encode() not in redact_raw(raw, KEY)


@pytest.mark.parametrize(
    "raw",
    [
        b"not json " + RAW.encode(),
        orjson.dumps(CASE)[:-40],  # truncated
        b'{"national_id": "' + RAW.encode() + b'\xff"}',  # invalid UTF-8
        b"\x00\x01" + RAW.encode(),
    ],
)
def test_bytes_that_are_not_json_are_withheld_with_a_reason(raw: bytes) -> None:
    assert redact_raw(raw, KEY) == b""
    note = withheld_note(raw)
    assert f"{len(raw)} bytes are withheld" in note and RAW not in note


def test_json_nested_deeper_than_it_can_be_written_back_is_withheld() -> None:
    """Found by the fuzz test: orjson reads 1024 levels but writes 255; the decide stage
    raised on such a record before."""
    raw = b'{"national_id": "' + RAW.encode() + b'", "deep": ' + b"[" * 300 + b"]" * 300 + b"}"
    assert redact_raw(raw, KEY) == b""
