"""Record signatures (topics/signing.py) and the decide stage's checks: every refusal
reason, revocation by offsets, and a record claiming another agency dead-lettered."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pytest
from pydantic import SecretStr

from streams.core import default_rulebook
from streams.stages.batch import Record
from streams.stages.decide import Decider
from streams.stages.ticks import TickClock
from topics.outputs import Rejection
from topics.signing import HEADER, KeyRing, Signer, SigningKey, signature, source_mismatch

HEX = "a" * 64
SECRET = bytes.fromhex(HEX)
T = "unit.cases.v1"
AT = datetime(2026, 3, 2, tzinfo=UTC)


def key(kid: str = "cdc.k1", revoked: dict[str, dict[int, int]] | None = None) -> SigningKey:
    return SigningKey(
        kid=kid, agency_id="cdc", agency_type="health", secret=SecretStr(HEX), created_at=AT,
        revoked_at_offsets=revoked,
    )  # fmt: skip


def test_the_mac_is_openssls_hmac_sha256_in_lowercase_hex() -> None:
    # printf hello | openssl dgst -sha256 -mac HMAC -macopt hexkey:<64 x a>
    expected = "b6e8136a040e71266e360e23c7d48eac29362d4cff102207565d5b3072f1453b"
    assert signature("cdc.k1", SECRET, b"hello") == f"v1;kid=cdc.k1;hmac-sha256={expected}".encode()


def check(ring: KeyRing, headers: list[tuple[str, bytes]], value: bytes = b"hello",
          topic: str = T, offset: int = 5) -> Signer | str:  # fmt: skip
    return ring.check(headers, value, topic, 0, offset)


def test_a_good_signature_names_the_keys_agency() -> None:
    ring = KeyRing([key()])
    signed = [(HEADER, signature("cdc.k1", SECRET, b"hello"))]
    assert check(ring, signed) == Signer("cdc.k1", "cdc", "health")


@pytest.mark.parametrize(
    ("headers", "value", "reason"),
    [
        ([], b"hello", "unsigned record"),
        ([("other", b"x")], b"hello", "unsigned record"),
        ([(HEADER, b"v2;kid=cdc.k1;hmac-sha256=" + b"0" * 64)], b"hello", "malformed"),
        ([(HEADER, b"v1;kid=cdc.k1;hmac-sha256=abc")], b"hello", "malformed"),
        ([(HEADER, b"\xff\xfe")], b"hello", "malformed"),
        ([(HEADER, signature("cdc.k1", SECRET, b"hello"))] * 2, b"hello", "malformed"),
        ([(HEADER, signature("nobody.k1", SECRET, b"hello"))], b"hello", "unknown signing key"),
        ([(HEADER, signature("cdc.k1", SECRET, b"hello"))], b"hellO", "wrong MAC"),
        ([(HEADER, signature("cdc.k1", b"\x00" * 32, b"hello"))], b"hello", "wrong MAC"),
    ],
)
def test_every_refusal_says_why(
    headers: list[tuple[str, bytes]], value: bytes, reason: str
) -> None:
    outcome = check(KeyRing([key()]), headers, value)
    assert (isinstance(outcome, str) and outcome.startswith(reason)) or reason in str(outcome)


def test_a_revoked_key_covers_only_records_before_its_revocation() -> None:
    ring = KeyRing([key(revoked={T: {0: 10}})])
    signed = [(HEADER, signature("cdc.k1", SECRET, b"hello"))]
    assert isinstance(check(ring, signed, offset=9), Signer)  # in the log before: accepted
    assert "revoked" in str(check(ring, signed, offset=10))
    assert "revoked" in str(check(ring, signed, topic="unit.stock.v1", offset=0))


def test_a_source_other_than_the_keys_agency_is_named() -> None:
    signer = Signer("cdc.k1", "cdc", "health")
    assert source_mismatch(signer, "cdc", "health") is None
    assert "an agency speaks only for itself" in str(source_mismatch(signer, "psb", "health"))
    assert "registered type 'health'" in str(source_mismatch(signer, "cdc", "transport"))


def _stock(agency_id: str, agency_type: str = "health") -> bytes:
    return orjson.dumps(
        {
            "kind": "stock", "event_id": f"s-{agency_id}", "site_id": "H-1",
            "source": {"agency_id": agency_id, "agency_type": agency_type},
            "occurred_at": "2026-03-02T08:00:00+00:00", "reported_at": "2026-03-02T08:00:00+00:00",
            "region": "510104", "site_type": "hospital", "item": "ppe.n95", "unit": "each",
            "on_hand": 10,
        }
    )  # fmt: skip


def test_the_decide_stage_dead_letters_forged_and_foreign_records_with_reasons() -> None:
    ring = KeyRing([key()])
    decider = Decider(
        prefix="unit", digits=4, pseudonym_key=b"k", rulebook=default_rulebook(), store=None,
        clock=TickClock("event"), now=lambda: AT, keys=lambda: ring,
    )  # fmt: skip
    own, foreign = _stock("cdc"), _stock("psb", "public_security")
    partition = 4  # city 5101's partition: nothing forwarded

    def signed(value: bytes) -> list[tuple[str, bytes]]:
        return [(HEADER, signature("cdc.k1", SECRET, value))]

    records = [
        Record("unit.stock.v1", partition, 0, b"5101", own, signed(own)),
        Record("unit.stock.v1", partition, 1, b"5101", foreign, signed(foreign)),
        Record("unit.stock.v1", partition, 2, b"5101", own),
    ]
    decided = decider.decide(records)
    rejected = [e.model for e in decided.out if isinstance(e.model, Rejection)]
    assert [(r.offset, r.field) for r in rejected] == [(1, "source"), (2, None)]
    assert (
        "source.agency_id 'psb' differs from the signing key's agency 'cdc'" in rejected[0].reason
    )
    assert rejected[1].reason.startswith("unsigned record")
    assert [event.event_id for _, event in decided.inputs] == ["s-cdc"]  # type: ignore[attr-defined]
