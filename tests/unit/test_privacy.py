"""Pseudonymisation and DLQ redaction against hand-built records."""

import hashlib
import hmac
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.wire_strategies import case_events
from topics.codec import decode, encode
from topics.models import CaseEvent
from topics.outputs import Rejection
from topics.privacy import pseudonym, redact_raw, scrub_input, withheld_note

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
    safe = scrub_input(event, KEY)
    assert safe.name is None
    assert safe.national_id == pseudonym("510104199001011234", KEY)


def test_a_value_that_looks_like_a_pseudonym_is_pseudonymised_too() -> None:
    """Else a sender could pass a raw id through by prefixing it with ``p:``."""
    event = decode(orjson.dumps({**CASE, "national_id": "p:510104199001011234"}))
    assert isinstance(event, CaseEvent)
    assert scrub_input(event, KEY).national_id == pseudonym("p:510104199001011234", KEY)
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


# --- accepted inputs: extra fields are kept, but never with personal data ----------------

CLEAN = {k: v for k, v in CASE.items() if k not in ("national_id", "name")}


def _accepted(raw: bytes) -> Any:
    event = decode(raw)
    assert not isinstance(event, Rejection), event
    return scrub_input(event, KEY, raw)


@pytest.mark.parametrize(
    "raw",
    [
        orjson.dumps({**CLEAN, "contact": {"national_id": RAW, "name": "张三"}}),
        orjson.dumps({**CLEAN, "notes": [f"身份证 {RAW}", {"deep": [{"x": RAW}]}]}),
        orjson.dumps({**CLEAN, "refs": [int(RAW)]}),  # an 18-digit number
        orjson.dumps({**CLEAN, "by_id": {RAW: "seen"}}),  # a key
        orjson.dumps({**CLEAN, "patient_ref": RAW}),  # a field we know
        orjson.dumps({**CLEAN, "source": {**CASE["source"], "contact": {"name": "张三"}}}),
        # escapes a reader turns back into the id and the key
        orjson.dumps(CLEAN)[:-1] + b',"note":"\\u0035' + RAW[1:].encode() + b'"}',
        orjson.dumps(CLEAN)[:-1] + b',"c":{"n\\u0061me":"\\u5f20\\u4e09"}}',
    ],
)
def test_an_accepted_event_keeps_no_personal_data_in_any_field(raw: bytes) -> None:
    safe = _accepted(raw)
    assert isinstance(safe, CaseEvent)
    written = encode(safe)
    assert RAW.encode() not in written and "张三".encode() not in written
    assert "张三" not in str(safe.model_dump())


@pytest.mark.parametrize("number", [int(RAW), float(RAW)])
def test_an_id_sent_as_a_number_keeps_none_of_its_digits(number: float) -> None:
    """A float keeps 16 or 17 of the 18 digits: written back as 5.1010419900101123e+17, the
    region, birth date and sequence would all be there."""
    raw = orjson.dumps({**CLEAN, "refs": [number]})
    written = encode(_accepted(raw)).replace(b".", b"")
    assert RAW[:15].encode() not in written
    assert RAW[:15].encode() not in redact_raw(raw, KEY).replace(b".", b"")


def test_extra_fields_without_personal_data_are_kept_and_the_event_is_not_copied() -> None:
    raw = orjson.dumps({**CLEAN, "ward": "3B", "beds": [1, 2]})
    event = decode(raw)
    assert scrub_input(event, KEY, raw) is event  # nothing could identify: as decoded
    scrubbed = _accepted(orjson.dumps({**CLEAN, "ward": "3B", "contact": {"name": "张三"}}))
    assert isinstance(scrubbed, CaseEvent)
    assert scrubbed.model_extra == {"ward": "3B", "contact": {}}


def test_a_pseudonym_that_no_longer_fits_its_field_refuses_the_record() -> None:
    long_id = "x" * 100 + RAW  # 118 characters, 134 pseudonymised: over the 128 allowed
    refused = _accepted(orjson.dumps({**CLEAN, "case_id": long_id}))
    assert isinstance(refused, Rejection)
    assert refused.field == "case_id" and "no longer fit" in refused.reason
    assert RAW not in refused.reason


# What an extra field may hold: harmless values, and resident ids in each shape.
extras = st.recursive(
    st.one_of(
        st.text(max_size=30),
        st.from_regex(r"\A[^0-9]{0,5}[1-8][0-9]{16}[0-9X][^0-9]{0,5}\Z"),
        st.integers(0, 10**18),
        st.floats(0, 1e18, allow_nan=False),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.sampled_from(["name", "national_id", "note", "x"]), inner, max_size=3),
    ),
    max_leaves=6,
)


own = st.fixed_dictionaries(
    {},
    optional={
        "national_id": st.one_of(st.from_regex(r"\A[1-8][0-9]{16}[0-9X]\Z"), st.text(max_size=20)),
        "name": st.one_of(st.text(max_size=10), st.just("张三")),
    },
)


@given(case_events, own, extras)
def test_the_check_on_the_bytes_misses_nothing_the_fields_would_change(
    event: Any, personal: Any, extra: Any
) -> None:
    """Whatever the bytes look like, the event scrubbed after the cheap check on them is
    the event scrubbed field by field: the check never lets personal data through."""
    raw = orjson.dumps({**event, **personal, "extra": extra})
    decoded = decode(raw)
    assert not isinstance(decoded, Rejection)
    assert scrub_input(decoded, KEY, raw) == scrub_input(decoded, KEY)
