"""Pseudonymisation at ingestion: national ids become keyed HMACs, names are dropped.

Applied by the shells right after decoding, before anything reaches the core, a table
or an output topic.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from typing import Any

import orjson

from topics.models import CaseEvent


def pseudonym(national_id: str, key: bytes) -> str:
    """A stable, keyed pseudonym of ``national_id`` (HMAC-SHA256, hex, prefixed ``p:``)."""
    digest = hmac.new(key, national_id.encode("utf-8"), hashlib.sha256).hexdigest()
    return f"p:{digest[:32]}"


def pseudonymise_case(event: CaseEvent, key: bytes) -> CaseEvent:
    """The case with ``national_id`` replaced by its pseudonym and ``name`` removed.

    Always: a value that already looks like a pseudonym (``p:…``) is hashed again, or a
    sender could pass a raw id through by prefixing it. So apply it once, to what an agency
    sent (the decide stage does not re-apply it to the records it forwarded itself)."""
    if event.national_id is None and event.name is None:
        return event
    update: dict[str, str | None] = {"name": None}
    if event.national_id is not None:
        update["national_id"] = pseudonym(event.national_id, key)
    return event.model_copy(update=update)


# A PRC resident identity number (GB 11643): 17 digits and a check digit or X.
_RESIDENT_ID = re.compile(r"(?<![0-9])[0-9]{17}[0-9Xx](?![0-9A-Za-z])")


def _scrub(value: Any, key: bytes) -> Any:
    """``value`` with every ``name`` key dropped, every ``national_id`` pseudonymised, and
    anything shaped like a resident id pseudonymised, at any depth."""
    if isinstance(value, dict):
        out = {}
        for field, item in value.items():
            if field == "name":
                continue
            if field == "national_id" and item is not None:
                out[field] = pseudonym(
                    item if isinstance(item, str) else orjson.dumps(item).decode(), key
                )
            else:
                out[field] = _scrub(item, key)
        return out
    if isinstance(value, list):
        return [_scrub(item, key) for item in value]
    if isinstance(value, str):
        return _RESIDENT_ID.sub(lambda m: pseudonym(m.group(0), key), value)
    return value


def redact_raw(raw: bytes, key: bytes) -> bytes:
    """The bytes of a rejected record made safe for the DLQ, or ``b""`` (withheld).

    JSON of any shape (object, array, nested) is written back with every ``name`` removed,
    every ``national_id`` (and anything shaped like a resident id) pseudonymised, at any
    depth; it stays repairable. Duplicate keys collapse to the last, as every JSON reader
    takes them. Bytes that are not JSON (truncated, invalid UTF-8, binary) or JSON nested
    too deep to write back cannot be told apart from an identifier, so none of them is
    kept: the record stays on its input topic (see :func:`withheld_note`)."""
    try:
        return orjson.dumps(_scrub(orjson.loads(raw), key))
    except (orjson.JSONDecodeError, TypeError, RecursionError):  # nested deeper than we write
        return b""


def withheld_note(raw: bytes) -> str:
    """What a DLQ reason adds when :func:`redact_raw` withheld the bytes."""
    digest = hashlib.sha256(raw).hexdigest()[:16]
    return (
        f" [the {len(raw)} bytes are withheld: not JSON we can redact, they may hold personal "
        "data; "
        f"sha256 {digest}…; read them where they came from (topic and offset, or file and line)]"
    )
