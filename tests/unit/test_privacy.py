"""Pseudonymisation and DLQ redaction against hand-built records."""

import hashlib
import hmac
import re
from typing import Any

import orjson
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from tests.wire_strategies import case_events
from topics.codec import decode, encode
from topics.models import CaseEvent
from topics.outputs import Rejection
from topics.privacy import _may_identify, pseudonym, redact_raw, scrub_input, withheld_note

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


ID_AS_FLOAT = RAW[0] + "." + RAW[1:15] + "e+17"  # 15 digits kept of 18: no run of 17


@pytest.mark.parametrize(
    "refs",
    [
        orjson.dumps([int(RAW)]),
        orjson.dumps([float(RAW)]),
        # as other writers put it: few digits and an exponent, any case, any spacing
        f"[{ID_AS_FLOAT}]".encode(),
        f"[ {ID_AS_FLOAT.upper()}]".encode(),
        f"[0, {RAW[:15]}e3]".encode(),
        f'{{"at": {ID_AS_FLOAT}}}'.encode(),
    ],
)
def test_an_id_sent_as_a_number_keeps_none_of_its_digits(refs: bytes) -> None:
    """A float keeps 15 to 17 of the 18 digits: written back as 5.1010419900101123e+17, the
    region, birth date and sequence would all be there."""
    raw = orjson.dumps(CLEAN)[:-1] + b',"refs":' + refs + b"}"
    written = encode(_accepted(raw)).replace(b".", b"")
    assert RAW[:15].encode() not in written
    assert RAW[:15].encode() not in redact_raw(raw, KEY).replace(b".", b"")


def test_an_id_sent_as_a_count_is_refused() -> None:
    """A count is an int: an id written as a float with an exponent is one to pydantic, and
    pseudonymised it no longer fits."""
    incident = {**CLEAN, "kind": "incident", "incident_id": "i-1", "category": "other"}
    raw = orjson.dumps(incident)[:-1] + f',"casualties":{{"total":{ID_AS_FLOAT}}}}}'.encode()
    refused = _accepted(raw)
    assert isinstance(refused, Rejection) and "no longer fit" in refused.reason


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


# The check on the bytes as first written (three searches and a translated copy), and numbers
# with an exponent, found in the bytes: what the faster one must answer, byte for byte.
_OLD_DIGITS_AS_ZERO = bytes(0x30 if 0x30 <= b <= 0x39 or b == 0x2E else 0x20 for b in range(256))


def _may_identify_in_the_bytes(raw: bytes) -> bool:
    return (
        b'"name"' in raw
        or b'"namE"' in raw  # the check folds E into e for exponents: a harmless superset
        or b'"national_id"' in raw
        or b"\\u" in raw
        or b"0" * 17 in raw.translate(_OLD_DIGITS_AS_ZERO)
        or re.search(rb"[:,[]\s*-?[0-9.]+[eE]", raw) is not None
    )


# Bytes near every edge of the check: what it looks for, whole and cut anywhere, runs of
# digits and points around 17 long, and any other byte (non-ASCII too).
_LOOKED_FOR = (b'"name"', b'"national_id"', b"\\u", b":", b",", b"[", b" ", b"-", b"e", b"E")
_CUT = tuple(
    part for whole in _LOOKED_FOR for i in range(1, len(whole)) for part in (whole[:i], whole[i:])
)
near_the_edges = st.lists(
    st.one_of(
        st.sampled_from(_LOOKED_FOR + _CUT),
        st.one_of(st.integers(15, 18), st.integers(1, 20))
        .flatmap(lambda n: st.text(alphabet="0123456789.", min_size=n, max_size=n))
        .map(str.encode),
        st.binary(max_size=3),
    ),
    max_size=6,
).map(b"".join)


@settings(max_examples=300)
@given(near_the_edges)
@example(b"1234567890123456.")  # 17 with the point
@example(b"1234567890123456")  # 16: not a run
@example(b"5.1010419900101126e+17")
@example(b":5.1e+17")
@example(b"[ -1E3")
@example(b"a3e5")  # hex, not a number
@example(b'{"name":1}')
@example(b'"name "nationa')
@example(b'"namE"')
@example(b"\\u0061")
@example(b"\\n\\")  # backslashes without an escape that may spell a letter
@example("张三".encode() + b"\xff")
def test_the_check_on_the_bytes_answers_as_its_reference(raw: bytes) -> None:
    assert _may_identify(raw) == _may_identify_in_the_bytes(raw)
