"""What the transport-free stages read and emit, and the state stores they write to: a
consumed record, a record to produce, a decided model before encoding, one batch's
decisions. Both shells build and take these (the live worker from and to Kafka, the
replay from Kafka or a file and to the review's landing)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple, Protocol

from pydantic import BaseModel

from streams.core import CoreState
from topics.codec import encode


class Record(NamedTuple):
    """One consumed Kafka record, as the decide stage needs it. (A named tuple: one is
    made per record consumed, in a third of a frozen dataclass's time.)"""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    headers: Sequence[tuple[str, bytes]] = ()
    # when the broker received it: its LogAppendTime stamp (None: the producer stamped it)
    received_at: datetime | None = None


LOG_APPEND_TIME = 1  # a Kafka record's timestamp_type when the broker stamped it


def consumed(m: Any) -> Record:
    """The :class:`Record` of a consumed Kafka record (aiokafka's ``ConsumerRecord``)."""
    received = None
    if m.timestamp_type == LOG_APPEND_TIME:
        received = datetime.fromtimestamp(m.timestamp / 1000, UTC)
    return Record(m.topic, m.partition, m.offset, m.key, m.value, m.headers, received)


@dataclass(frozen=True)
class Outgoing:
    """One record to produce (``partition`` None: by key)."""

    topic: str
    key: bytes | None
    value: bytes
    partition: int | None = None


@dataclass(frozen=True)
class Emitted:
    """One decided record before encoding: ``model`` is what its value will hold."""

    topic: str
    key: bytes | None
    model: BaseModel
    partition: int | None = None

    def encoded(self) -> Outgoing:
        return Outgoing(self.topic, self.key, encode(self.model), self.partition)


@dataclass(frozen=True)
class Decided:
    """What one batch caused: ``out`` (DLQ records, forwards, outputs, in order) and
    ``inputs``: each input event seen for the first time (not a forward read back), as
    decoded and pseudonymised, with the topic it was read from."""

    out: list[Emitted]
    inputs: list[tuple[str, BaseModel]]


class StateStore(Protocol):
    """Encoded state per key (the roll-up stage's, changelog-backed in the worker)."""

    def get(self, jurisdiction: str) -> bytes | None: ...

    def put(self, jurisdiction: str, blob: bytes) -> None: ...

    def jurisdictions(self) -> Iterable[str]: ...


class CoreStateStore(Protocol):
    """Core states per jurisdiction, written by what changed
    (:class:`streams.stages.state_records.RecordStore`)."""

    def get(self, jurisdiction: str) -> CoreState | None: ...

    def changed(self, jurisdiction: str, before: CoreState, after: CoreState) -> None: ...

    def flush(self) -> int: ...

    def forget(self) -> None: ...

    def jurisdictions(self) -> Iterable[str]: ...
