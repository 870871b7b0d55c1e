"""The faults every scenario carries: malformed records, one corruption per error class.

Each class is a kind of bad input a real sender produces; the codec must reject it with
a reason of that class (``tests/unit/test_simulate.py`` holds the expected wording).
"""

from __future__ import annotations

from typing import Any

import orjson

from streams.simulate.errors import SimulateError

# Order matters: a scenario with n malformed records carries the first n classes, cycling.
MALFORMED_CLASSES: tuple[str, ...] = (
    "not_json",
    "missing_field",
    "bad_region",
    "bad_timestamp",
    "unknown_kind",
    "wrong_type",
    "not_object",
)

# The field a sender forgets, per kind (required by the wire contract).
_REQUIRED_PAYLOAD_FIELD = {
    "incident": "category",
    "case": "case_id",
    "transfer": "transfer_id",
    "stock": "on_hand",
}
# A value of the wrong type, per kind.
_WRONG_TYPE = {
    "incident": ("casualties", {"total": "many", "dead": 0, "critical": 0}),
    "case": ("classification", 3),
    "transfer": ("required_bed", ["icu"]),
    "stock": ("on_hand", "about 300"),
}


def corrupt(body: dict[str, Any], error_class: str, event_id: str) -> bytes:
    """The bytes of ``body`` (a valid input event) broken in the way ``error_class`` names,
    re-identified as ``event_id`` so the bad record never shares an id with a good one."""
    kind = body["kind"]
    bad = {**body, "event_id": event_id}
    if error_class == "not_json":
        # A sender cut off mid-write: the first half of the object, no closing brace.
        whole = orjson.dumps(bad)
        return whole[: len(whole) // 2]
    if error_class == "not_object":
        return orjson.dumps([bad])
    if error_class == "missing_field":
        del bad[_REQUIRED_PAYLOAD_FIELD[kind]]
    elif error_class == "bad_region":
        bad["region"] = bad["region"][:4]  # a city code where a county code belongs
    elif error_class == "bad_timestamp":
        bad["occurred_at"] = bad["occurred_at"][:16].replace("T", " ")  # no offset
    elif error_class == "unknown_kind":
        bad["kind"] = "lab_result"
    elif error_class == "wrong_type":
        field, value = _WRONG_TYPE[kind]
        bad[field] = value
    else:
        raise SimulateError(f"unknown error class {error_class!r}")
    return orjson.dumps(bad)
