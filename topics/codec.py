"""Bytes on the wire to models and back.

``decode`` never raises on bad input: it returns a :class:`Rejection` whose ``reason`` a
person can act on and whose ``field`` names the offending path (``casualties.total``).
``encode`` writes compact UTF-8 JSON with orjson semantics (no NaN, no spaces).
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import Any, get_args

from pydantic import BaseModel, TypeAdapter, ValidationError

from topics.errors import CodecError
from topics.models import InputEvent
from topics.outputs import Rejection, Tick
from topics.vocabulary import INSTANT_OUT_OF_RANGE, Kind

MAX_RECORD_BYTES = 256 * 1024
KINDS: tuple[str, ...] = get_args(Kind)

_INPUT: TypeAdapter[Any] = TypeAdapter(InputEvent)
_TICK: TypeAdapter[Tick] = TypeAdapter(Tick)

_TIMESTAMP_ERRORS = frozenset(
    {
        "datetime_parsing",
        "datetime_from_date_parsing",
        "datetime_type",
        "timezone_aware",
        "datetime_object_invalid",
    }
)


def error_path(loc: Sequence[int | str], drop_tag: bool = False) -> str:
    """A validation error's location as a path: ``('rules', 3, 'threshold')`` →
    ``rules[3].threshold``; ``drop_tag`` leaves out a leading union tag (``case``)."""
    parts = list(loc[1:] if drop_tag and loc and loc[0] in KINDS else loc)
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _reason(error: Any, field: str) -> str:
    kind = error["type"]
    given = error.get("input")
    if kind == "json_invalid":
        return f"not JSON: {error['ctx'].get('error', 'invalid JSON')}"
    if kind in ("model_attributes_type", "model_type", "dict_type") and not field:
        return f"not a JSON object (got {type(given).__name__})"
    if kind == "union_tag_not_found":
        return "missing field: kind (one of " + ", ".join(KINDS) + ")"
    if kind == "union_tag_invalid":
        tag = error.get("ctx", {}).get("tag")
        return f"unknown kind {tag!r} (expected one of " + ", ".join(KINDS) + ")"
    if kind == "value_error":  # our own validators: their message says it all
        text = str(error.get("ctx", {}).get("error", error["msg"]))
        return f"{field}: {text}" if field else text
    if kind == "missing":
        return f"missing required field: {field}"
    bounds = error.get("ctx", {})
    if kind in ("greater_than_equal", "less_than") and isinstance(
        bounds.get("ge", bounds.get("lt")), str
    ):  # an Instant's range: only a datetime's bounds come as text
        return f"{field}: {INSTANT_OUT_OF_RANGE}"
    if kind in _TIMESTAMP_ERRORS:
        return (
            f"bad timestamp in {field}: {given!r} "
            "(RFC 3339 with an offset, e.g. 2026-03-01T08:00:00+08:00)"
        )
    if field == "region" or field.endswith(".region"):
        return f"bad region code {given!r} (6-digit GB/T 2260 code, e.g. 510104)"
    return f"wrong value for {field}: {error['msg']} (got {given!r})"


def rejection_from(error: ValidationError, raw: bytes, drop_tag: bool = True) -> Rejection:
    """The first validation error of ``raw`` as a Rejection (further errors in the text)."""
    errors = error.errors(include_url=False)
    first = errors[0]
    field = error_path(first["loc"], drop_tag)
    missing = [error_path(e["loc"], drop_tag) for e in errors if e["type"] == "missing"]
    if len(missing) == len(errors) > 1:
        return Rejection(
            reason="missing required fields: " + ", ".join(missing),
            field=field,
            value_b64=b64(raw),
        )
    reason = _reason(first, field)
    if len(errors) > 1:
        reason += f" (and {len(errors) - 1} more)"
    return Rejection(reason=reason, field=field or None, value_b64=b64(raw))


def all_problems(raw: bytes, *, tick: bool = False) -> list[tuple[str | None, str]]:
    """Every reason ``raw`` is not a valid event (or tick), as ``(field path, reason)``;
    the field is None where no field is to blame (not JSON, not an object, too big). A
    missing or unknown ``kind`` is blamed on ``kind``. Empty for a valid record."""
    if len(raw) > MAX_RECORD_BYTES:
        return [(None, f"oversized record: {len(raw)} bytes > limit {MAX_RECORD_BYTES}")]
    try:
        (_TICK if tick else _INPUT).validate_json(raw)
    except ValidationError as exc:
        found: list[tuple[str | None, str]] = []
        for error in exc.errors(include_url=False):
            field = error_path(error["loc"], drop_tag=not tick)
            if error["type"].startswith("union_tag"):
                field = "kind"
            found.append((field or None, _reason(error, field)))
        return found
    return []


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def decode(raw: bytes) -> BaseModel | Rejection:
    """An input event (incident, case, transfer or stock) from one record's value, or a
    Rejection that says why not. Never raises on bad input."""
    if len(raw) > MAX_RECORD_BYTES:
        return Rejection(
            reason=f"oversized record: {len(raw)} bytes > limit {MAX_RECORD_BYTES}",
            value_b64=b64(raw),
        )
    try:
        return decode_input(raw)
    except ValidationError as exc:
        return rejection_from(exc, raw)


def decode_input(raw: bytes) -> BaseModel:
    """An input event from bytes tierflow wrote itself (the decided log); raises
    ValidationError when they are not one. Agencies' bytes go through :func:`decode`."""
    event: BaseModel = _INPUT.validate_json(raw)
    return event


def decode_tick(raw: bytes) -> Tick | Rejection:
    """A clock tick from a record of the ticks topic, or a Rejection."""
    try:
        return _TICK.validate_json(raw)
    except ValidationError as exc:
        return rejection_from(exc, raw, drop_tag=False)


def encode(model: BaseModel) -> bytes:
    """Compact JSON bytes of a model (unset optional fields left out)."""
    try:
        return model.__pydantic_serializer__.to_json(model, exclude_none=True)
    except Exception as exc:  # pydantic raises its own serialization errors
        raise CodecError(f"cannot encode {type(model).__name__}: {exc}") from exc
