"""Record signatures: every input record is signed by the agency that sends it.

The recipe, which any producer in any language can follow (README, "Signing records"):
the Kafka header ``tierflow-sig`` holds ``v1;kid=<key id>;hmac-sha256=<hex>``, where
``<hex>`` is the lowercase hex HMAC-SHA256 of the record's value bytes, exactly as sent,
keyed by the agency's 32 key bytes (the 64 hex characters of its key file, decoded).

This module is pure: :class:`KeyRing` is the registry's keys as data; :meth:`KeyRing.check`
says who signed a record or why it is refused. Verification depends only on the ring and
the record (its bytes, header and position), so a replay verifies again and decides the
same. A revoked key stays valid for the records its agency sent before the revocation:
the revocation notes the input topics' end offsets at that moment (per topic and
partition), and only records at or past them are refused — never a wall-clock test.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, SecretStr, field_validator

from topics.vocabulary import AgencyType, AreaCode

HEADER = "tierflow-sig"
_BLOCK = 64  # SHA-256's block size
_HEADER_BYTES = HEADER.encode()
VERSION = "v1"
KEY_BYTES = 32


def mac(secret: bytes, value: bytes) -> str:
    """The lowercase hex HMAC-SHA256 of ``value`` keyed by ``secret``."""
    return hmac.new(secret, value, hashlib.sha256).hexdigest()


def signature(kid: str, secret: bytes, value: bytes) -> bytes:
    """The ``tierflow-sig`` header value for ``value`` signed with key ``kid``."""
    return f"{VERSION};kid={kid};hmac-sha256={mac(secret, value)}".encode()


def sign_headers(kid: str, secret: bytes, value: bytes) -> list[tuple[str, bytes]]:
    """Kafka headers (aiokafka's form) carrying the signature of ``value``."""
    return [(HEADER, signature(kid, secret, value))]


class SigningKey(BaseModel):
    """One agency key of the registry."""

    model_config = ConfigDict(extra="forbid")

    kid: str = Field(min_length=1, pattern=r"^[A-Za-z0-9._-]+$")
    agency_id: str
    agency_type: AgencyType
    secret: SecretStr = Field(description="64 lowercase hex characters: the 32 key bytes.")
    created_at: AwareDatetime
    # the agency's area (None: anywhere): a declaration of a tier outside it is refused
    jurisdiction: AreaCode | None = None
    # None: in force. Else the input topics' end offsets when it was revoked; a record of
    # a topic or partition not listed there is refused.
    revoked_at_offsets: dict[str, dict[int, int]] | None = None

    @field_validator("secret")
    @classmethod
    def _hex_key(cls, value: SecretStr) -> SecretStr:
        text = value.get_secret_value()
        if len(text) != 2 * KEY_BYTES or text.strip("0123456789abcdef"):
            raise ValueError(f"a key is {2 * KEY_BYTES} lowercase hex characters")
        return value

    def secret_bytes(self) -> bytes:
        return bytes.fromhex(self.secret.get_secret_value())


@dataclass(frozen=True)
class Signer:
    """Who signed a record: the key's agency."""

    kid: str
    agency_id: str
    agency_type: str
    jurisdiction: str | None = None  # where it may declare a tier (None: anywhere)


@dataclass(frozen=True)
class _Entry:
    signer: Signer
    # HMAC's inner and outer hashes with the key already absorbed (RFC 2104): a record
    # costs two copies and two updates instead of a key schedule (half the time).
    inner: Any
    outer: Any
    revoked_at_offsets: Mapping[str, Mapping[int, int]] | None

    @classmethod
    def of(cls, key: SigningKey) -> _Entry:
        block = key.secret_bytes().ljust(_BLOCK, b"\0")
        return cls(
            Signer(key.kid, key.agency_id, key.agency_type, key.jurisdiction),
            hashlib.sha256(bytes(b ^ 0x36 for b in block)),
            hashlib.sha256(bytes(b ^ 0x5C for b in block)),
            key.revoked_at_offsets,
        )

    def digest(self, value: bytes) -> bytes:
        inner = self.inner.copy()
        inner.update(value)
        outer = self.outer.copy()
        outer.update(inner.digest())
        return outer.digest()  # type: ignore[no-any-return]


class KeyRing:
    """The keys a decide stage verifies with (built from the registry's keys)."""

    def __init__(self, keys: Iterable[SigningKey]) -> None:
        self._entries = {key.kid: _Entry.of(key) for key in keys}

    def __len__(self) -> int:
        return len(self._entries)

    def check(
        self,
        headers: Sequence[tuple[str, bytes]],
        value: bytes,
        topic: str,
        partition: int,
        offset: int,
    ) -> Signer | str:
        """The signer of the record, or the reason (a sentence a person can act on) it is
        refused: unsigned, malformed header, unknown key, key revoked before this record,
        wrong MAC."""
        header = _signature_header(headers)
        if header is None:
            return (
                f"unsigned record: no {HEADER} header; sign the value with your agency's key"
                " (README: Signing records)"
            )
        parsed = _parse(header)
        if parsed is None:
            return (
                f"malformed {HEADER} header: expected"
                f" {VERSION};kid=<key id>;hmac-sha256=<64 lowercase hex>"
            )
        kid, given = parsed
        entry = self._entries.get(kid)
        if entry is None:
            return f"unknown signing key {kid!r}: sign with the key `tierflow agency add` wrote"
        if _revoked_for(entry.revoked_at_offsets, topic, partition, offset):
            return (
                f"signing key {kid!r} of agency {entry.signer.agency_id!r} is revoked: sign"
                " with a current key (`tierflow agency rotate`)"
            )
        if not hmac.compare_digest(entry.digest(value), given):
            return (
                f"wrong MAC for key {kid!r}: HMAC-SHA256 the value bytes exactly as sent,"
                " keyed by the 32 bytes of the key file's hex, lowercase hex"
            )
        return entry.signer


def source_mismatch(signer: Signer, agency_id: str, agency_type: str) -> str | None:
    """Why an event whose ``source`` is (``agency_id``, ``agency_type``) may not be signed by
    ``signer``, or None when the key is the source's own."""
    if agency_id != signer.agency_id:
        return (
            f"source.agency_id {agency_id!r} differs from the signing key's agency"
            f" {signer.agency_id!r}: an agency speaks only for itself"
        )
    if agency_type != signer.agency_type:
        return (
            f"source.agency_type {agency_type!r} differs from agency {signer.agency_id!r}'s"
            f" registered type {signer.agency_type!r}"
        )
    return None


def declaring_outside(signer: Signer, region: str) -> str | None:
    """Why ``signer`` may not declare a tier for an incident in ``region``, or None when it
    may: an agency registered for an area declares for that area (and what lies in it)."""
    area = signer.jurisdiction
    if area is None or region.startswith(area):
        return None
    return (
        f"declaration outside the agency's jurisdiction: {signer.agency_id!r} is registered"
        f" for {area}, the incident's region is {region}: only the leading group of the"
        " incident's jurisdiction (or one above it) declares its tier"
    )


def _signature_header(headers: Sequence[tuple[str, bytes]]) -> bytes | None:
    found = None
    for name, value in headers:
        if name == HEADER or (isinstance(name, bytes) and name == _HEADER_BYTES):
            if found is not None:
                return b""  # two signatures: malformed, never "the first one wins"
            found = value
    return found


_PREFIX = f"{VERSION};kid=".encode()
_MAC_FIELD = b";hmac-sha256="


def _parse(header: bytes) -> tuple[str, bytes] | None:
    """``(key id, MAC bytes)`` of a well-formed header value, else None."""
    if not isinstance(header, bytes) or not header.startswith(_PREFIX):
        return None
    kid, found, hex_mac = header[len(_PREFIX) :].partition(_MAC_FIELD)
    if not found or not kid or len(hex_mac) != 64:
        return None
    try:  # (upper-case hex is accepted too: the MAC is what counts)
        return kid.decode("ascii"), bytes.fromhex(hex_mac.decode("ascii"))
    except ValueError:  # not ASCII, not hex
        return None


def _revoked_for(
    revoked: Mapping[str, Mapping[int, int]] | None, topic: str, partition: int, offset: int
) -> bool:
    if revoked is None:
        return False
    ends = revoked.get(topic)
    if ends is None:
        return True
    return offset >= ends.get(partition, 0)
