"""The codec round-trips every kind, and unknown extra fields survive decoding."""

from __future__ import annotations

from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from tests.wire_strategies import (
    any_event,
    case_events,
    incident_events,
    stock_events,
    transfer_events,
)
from topics.codec import decode, encode
from topics.outputs import Rejection


def _decoded(raw: bytes) -> BaseModel:
    event = decode(raw)
    assert not isinstance(event, Rejection), event.reason
    return event


@settings(max_examples=60)
@given(st.one_of(incident_events, case_events, transfer_events, stock_events))
def test_every_kind_round_trips(event: dict[str, Any]) -> None:
    first = _decoded(orjson.dumps(event))
    again = _decoded(encode(first))
    assert again == first
    assert encode(again) == encode(first)
    # The fields the sender wrote come back with the sender's values.
    assert first.event_id == event["event_id"]  # type: ignore[attr-defined]
    assert first.region == event["region"]  # type: ignore[attr-defined]


@settings(max_examples=30)
@given(
    any_event,
    st.dictionaries(st.sampled_from(["x_note", "vendor_ref"]), st.integers(-(2**53), 2**53)),
)
def test_unknown_fields_are_kept(event: dict[str, Any], extra: dict[str, int]) -> None:
    decoded = _decoded(orjson.dumps({**event, **extra}))
    assert decoded.model_extra == extra
    assert orjson.loads(encode(decoded)).items() >= extra.items()
