"""Pseudonymisation at ingestion: national ids become keyed HMACs, names are dropped.

Applied by the shells right after decoding, before anything reaches the core, a table
or an output topic: to the fields we know and to the extra fields an agency adds (kept,
unread, on the decided log), at any depth.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from typing import Any

import orjson
from pydantic import BaseModel, ValidationError

from topics.codec import rejection_from
from topics.models import CaseEvent
from topics.outputs import Rejection


def pseudonym(national_id: str, key: bytes) -> str:
    """A stable, keyed pseudonym of ``national_id`` (HMAC-SHA256, hex, prefixed ``p:``)."""
    digest = hmac.new(key, national_id.encode("utf-8"), hashlib.sha256).hexdigest()
    return f"p:{digest[:32]}"


# A PRC resident identity number (GB 11643): 17 digits and a check digit or X.
_RESIDENT_ID = re.compile(r"(?<![0-9])[0-9]{17}[0-9Xx](?![0-9A-Za-z])")


# Every digit, and a point, reads as "0": a run of digits is a run of "0", and an id sent as a
# float (5.1010419900101126e+17) is one run. "E" reads as "e", so that one search finds an
# exponent of either case. Every other byte reads as itself, so the keys and the escape, which
# hold no digit, point or "E", are found just as in the bytes.
_DIGITS_AS_ZERO = bytes(
    0x30 if 0x30 <= b <= 0x39 or b == 0x2E else 0x65 if b == 0x45 else b for b in range(256)
)
_DIGIT_RUN = "0" * 17  # what every resident id has: 17 digits before its check character
# A JSON number with an exponent, as translated: it may hold an id in few digits
# (5.10104199001011e+17 is 510104199001011000). Looked for only where "0e" is: hex strings
# hold it, but rarely after a colon, a comma or a bracket.
_EXPONENT = re.compile(r"[:,\[]\s*-?0+e")


def _may_identify(raw: bytes) -> bool:
    """Whether the JSON ``raw`` may hold a name, a national id or a resident id: a key
    ``name`` or ``national_id``, 17 digits in a row (a point among them too), a number
    with an exponent, or an escape that may spell either. A superset (a long decimal
    fraction is enough, and so is a key ``namE``), cheap enough for every record."""
    # As text (latin-1: a character a byte): `in` on bytes first tries its operand as an
    # integer (a TypeError raised and cleared), which costs more than most of these searches.
    text = raw.translate(_DIGITS_AS_ZERO).decode("latin-1")
    return (
        '"name"' in text
        or '"national_id"' in text
        or ("\\" in text and "\\u" in text)  # one character is found much faster than two
        or _DIGIT_RUN in text
        or ("0e" in text and _EXPONENT.search(text) is not None)
    )


# One member of a JSON object with a plain string value (no escape in it).
_NATIONAL_ID_MEMBER = re.compile(rb'"national_id"\s*:\s*"([^"\\]*)"')
_NAME_MEMBER = re.compile(rb'"name"\s*:\s*"([^"\\]*)"')


def _without_own_members(raw: bytes, case: CaseEvent) -> bytes | None:
    """``raw`` without the members that hold the case's own ``national_id`` and ``name``
    (the first of each, when it is exactly the value decoded), or None when they are not
    found so: whatever is left is what :func:`_may_identify` must still look at."""
    national_id, name = case.national_id, case.name
    if national_id is None and name is None:  # neither: skip building the loop (0.1 µs a case)
        return raw
    for member, value in ((_NATIONAL_ID_MEMBER, national_id), (_NAME_MEMBER, name)):
        if value is None:
            continue
        found = member.search(raw)
        if found is None or found.group(1) != value.encode():
            return None
        raw = raw[: found.start()] + raw[found.end() :]
    return raw


def _scrub_id(text: str, key: bytes) -> str:
    return _RESIDENT_ID.sub(lambda m: pseudonym(m.group(0), key), text)


def _scrub(value: Any, key: bytes) -> Any:
    """``value`` with every ``name`` key dropped, every ``national_id`` pseudonymised, and
    anything shaped like a resident id (in a string, a key, or an 18-digit number, integer
    or float) pseudonymised, at any depth."""
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
                out[_scrub_id(field, key) if isinstance(field, str) else field] = _scrub(item, key)
        return out
    if isinstance(value, list):
        return [_scrub(item, key) for item in value]
    if isinstance(value, str):
        return _scrub_id(value, key)
    if type(value) is int and 10**17 <= value < 10**18:
        return pseudonym(str(value), key)
    if type(value) is float and 1e17 <= value < 1e18 and value.is_integer():
        return pseudonym(str(int(value)), key)  # (5.1010419900101126e+17: 16 of 18 digits)
    return value


def _pseudonymise_own(case: CaseEvent, key: bytes) -> CaseEvent:
    """The case with its own ``national_id`` pseudonymised and ``name`` removed."""
    national_id, name = case.national_id, case.name
    if national_id is None and name is None:
        return case
    update: dict[str, str | None] = {"name": None}
    if national_id is not None:
        update["national_id"] = pseudonym(national_id, key)
    return case.model_copy(update=update)


def scrub_input(event: BaseModel, key: bytes, raw: bytes | None = None) -> BaseModel | Rejection:
    """``event`` (an input just decoded from ``raw``) with its personal data made
    pseudonymous, in every field we know and every extra field an agency added, at any
    depth: as :func:`redact_raw` does for a rejected record. ``event`` itself when ``raw``
    cannot hold any (checked on the bytes); pass no ``raw`` to always check the fields.

    Always: a value that already looks like a pseudonym (``p:…``) is hashed again, or a
    sender could pass a raw id through by prefixing it. So apply it once, to what an agency
    sent (the decide stage does not re-apply it to the records it forwarded itself). A
    Rejection when a pseudonym no longer fits its field (an 18-digit count, an id grown
    past its length): such a record is refused, not stored."""
    if raw is not None:
        if not isinstance(event, CaseEvent):
            if not _may_identify(raw):
                return event
        else:  # a case's own national id and name are the usual personal data: cheaper
            rest = _without_own_members(raw, event)
            if rest is not None and not _may_identify(rest):
                return _pseudonymise_own(event, key)
    scrubbed = _scrub(event.model_dump(mode="json"), key)
    try:
        return type(event).model_validate(scrubbed)
    except ValidationError as exc:
        rejection = rejection_from(exc, b"")
        reason = "its resident ids, pseudonymised, no longer fit: " + rejection.reason
        return rejection.model_copy(update={"reason": reason})


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
