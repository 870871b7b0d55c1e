"""Which topic, key and partition a line of JSONL becomes: the route ``tierflow publish``
gives it, which a replay of a file and a simulation follow too.

A valid line is sent byte for byte as it was read (the producer's copy is the agency's
copy), keyed by its jurisdiction. Clock ticks without a jurisdiction go to every partition
of the ticks topic, because each partition's state must see the same time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import orjson

from topics.codec import decode, decode_tick
from topics.outputs import Rejection, Tick
from topics.registry import TICKS, TOPIC_FOR_KIND, jurisdiction_of


@dataclass(frozen=True)
class OutgoingRecord:
    """One record to send: topic stem (registry), value bytes, key, optional partition and
    record timestamp. Events carry their ``occurred_at`` as the record timestamp; the input
    topics tierflow creates replace it with the broker's receipt time (LogAppendTime,
    ``streams.ops.kafka.topic_configs``), and a review plans by the event time in the
    value either way (``streams.replay.kafka_range``)."""

    topic_stem: str
    value: bytes
    key: bytes | None = None
    partition: int | None = None
    timestamp_ms: int | None = None
    # The agency that sends it (``source``): whose key signs it; None for ticks and for
    # lines that are not events.
    agency_id: str | None = None
    agency_type: str | None = None


def is_tick(raw: bytes) -> bool:
    # Cheap pre-check so that events never pay for a second parse.
    if b'"tick"' not in raw:
        return False
    try:
        parsed = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return False
    return isinstance(parsed, dict) and parsed.get("kind") == "tick"


def route_line(raw: bytes, digits: int) -> list[OutgoingRecord] | Rejection:
    """The record(s) one line becomes, or why it is rejected."""
    if is_tick(raw):
        tick = decode_tick(raw)
        if isinstance(tick, Rejection):
            return tick
        return _tick_records(tick, raw)
    event = decode(raw)
    if isinstance(event, Rejection):
        return event
    kind: str = event.kind  # type: ignore[attr-defined]
    region: str = event.region  # type: ignore[attr-defined]
    key = jurisdiction_of(region, digits).encode()
    at = _epoch_ms(event.occurred_at)  # type: ignore[attr-defined]
    source = event.source  # type: ignore[attr-defined]
    stem = TOPIC_FOR_KIND[kind].stem
    return [OutgoingRecord(stem, raw, key, None, at, source.agency_id, source.agency_type)]


def _epoch_ms(instant: datetime) -> int:
    return int(instant.timestamp() * 1000)


def _tick_records(tick: Tick, raw: bytes) -> list[OutgoingRecord]:
    at = _epoch_ms(tick.tick_at)
    if tick.jurisdiction is not None:
        return [OutgoingRecord(TICKS.stem, raw, tick.jurisdiction.encode(), timestamp_ms=at)]
    return [OutgoingRecord(TICKS.stem, raw, None, p, at) for p in range(TICKS.partitions)]
