"""Pseudonymisation at ingestion: national ids become keyed HMACs, names are dropped.

Applied by the shells right after decoding, before anything reaches the core, a table
or an output topic.
"""

from __future__ import annotations

import hashlib
import hmac

import orjson

from topics.models import CaseEvent


def pseudonym(national_id: str, key: bytes) -> str:
    """A stable, keyed pseudonym of ``national_id`` (HMAC-SHA256, hex, prefixed ``p:``)."""
    digest = hmac.new(key, national_id.encode("utf-8"), hashlib.sha256).hexdigest()
    return f"p:{digest[:32]}"


def pseudonymise_case(event: CaseEvent, key: bytes) -> CaseEvent:
    """The case with ``national_id`` replaced by its pseudonym and ``name`` removed,
    including any unknown extra fields named ``name``/``national_id``."""
    if event.national_id is None and event.name is None:
        return event
    update: dict[str, str | None] = {"name": None}
    if event.national_id is not None and not event.national_id.startswith("p:"):
        update["national_id"] = pseudonym(event.national_id, key)
    return event.model_copy(update=update)


def redact_raw(raw: bytes, key: bytes) -> bytes:
    """The bytes of a rejected record with PII made safe, for the DLQ: when ``raw`` is a
    JSON object, a ``national_id`` is replaced by its pseudonym and a ``name`` is removed
    (everything else is kept byte-for-byte in meaning, so the record can still be repaired
    and re-published). Bytes that are not a JSON object are returned unchanged: nothing
    in them can be told to be an identifier."""
    try:
        parsed = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return raw
    if not isinstance(parsed, dict) or not ({"name", "national_id"} & parsed.keys()):
        return raw
    parsed.pop("name", None)
    national_id = parsed.get("national_id")
    if isinstance(national_id, str) and not national_id.startswith("p:"):
        parsed["national_id"] = pseudonym(national_id, key)
    elif national_id is not None and not isinstance(national_id, str):
        parsed.pop("national_id")
    return orjson.dumps(parsed)
