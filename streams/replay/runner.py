"""The replay shell: fold the core over recorded input and land it in a review database.

A review sees exactly what the live worker saw, by construction: records go through the
live shell's own decide stage (:class:`streams.live.decide.Decider`: the same decoding,
pseudonymisation, jurisdiction routing and distribution of ticks to the jurisdictions of
a partition) with a state store of its own, and its outputs through the live landing's
table routing (:meth:`streams.live.landing.Landing.plan`). Only the transport differs: no
Faust, no consumer group, no produced records — a forward to the re-keyed topic is fed
straight back, as the live worker would read it.

Sources: a Kafka event-time range (:mod:`streams.replay.kafka_range`), or a JSONL file
routed exactly as ``tierflow publish`` would have keyed it.

Results land in ``review_<NAME>`` (drills in ``review_<NAME>_exercise``), migrated on the
fly, never in the live database. After every landed batch a checkpoint (positions and
encoded states) is written beside the stack's data, so an interrupted review is
consistent — every row in it comes from a fully processed batch — and a second run with the
same name and range resumes from the checkpoint.
"""

from __future__ import annotations

import base64
import hashlib
import logging
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from aiokafka import TopicPartition
from aiokafka.structs import ConsumerRecord
from pydantic import BaseModel

from sinks.client import check_identifier
from sinks.namespaces import Namespace, migrate_namespaces, namespace_sinks
from sinks.writer import Sink
from streams.core import Rulebook
from streams.live.decide import Decider, Outgoing, Record
from streams.live.landing import Landing, Write
from streams.live.ticks import TickClock
from streams.live.topology import REKEYED, TopicNames, partition_for
from streams.ops.publisher import route_line
from topics.codec import b64
from topics.errors import TierflowError
from topics.models import Rejection
from topics.privacy import redact_raw
from topics.registry import CASES, TICKS, TRANSFERS
from topics.settings import Settings

log = logging.getLogger("tierflow.replay")


class ReplayError(TierflowError):
    """A review cannot run as asked."""


def review_database(name: str) -> str:
    """The database of review ``name``."""
    return check_identifier(f"review_{name}", "review name")


class DictStore:
    """Encoded core states per jurisdiction, in memory (the replay's state store)."""

    def __init__(self, blobs: dict[str, bytes] | None = None) -> None:
        self.blobs = dict(blobs or {})

    def get(self, jurisdiction: str) -> bytes | None:
        return self.blobs.get(jurisdiction)

    def put(self, jurisdiction: str, blob: bytes) -> None:
        self.blobs[jurisdiction] = blob

    def jurisdictions(self) -> Iterable[str]:
        return self.blobs.keys()


@dataclass
class Checkpoint:
    """Where a review stopped: next offset per ``topic:partition``, and the states."""

    identity: str
    positions: dict[str, int] = field(default_factory=dict)
    states: dict[str, bytes] = field(default_factory=dict)
    events: int = 0

    def to_bytes(self) -> bytes:
        return orjson.dumps(
            {
                "identity": self.identity,
                "positions": self.positions,
                "events": self.events,
                "states": {k: base64.b64encode(v).decode() for k, v in self.states.items()},
            }
        )

    @classmethod
    def from_bytes(cls, raw: bytes) -> Checkpoint:
        data = orjson.loads(raw)
        states = {k: base64.b64decode(v) for k, v in data["states"].items()}
        return cls(data["identity"], data["positions"], states, data["events"])


class CheckpointFile:
    """A checkpoint on disk, replaced atomically."""

    def __init__(self, path: Path, identity: str) -> None:
        self.path = path
        self.identity = identity

    def load(self) -> Checkpoint:
        """The saved checkpoint when it belongs to the same review; else a fresh one."""
        if self.path.exists():
            saved = Checkpoint.from_bytes(self.path.read_bytes())
            if saved.identity == self.identity:
                return saved
            log.warning("ignoring checkpoint of another range or rulebook: %s", self.path)
        return Checkpoint(self.identity)

    def save(self, checkpoint: Checkpoint) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_bytes(checkpoint.to_bytes())
        tmp.replace(self.path)

    def done(self) -> None:
        self.path.unlink(missing_ok=True)


class Review:
    """Decides and lands batches of records for one review database."""

    def __init__(
        self,
        settings: Settings,
        name: str,
        rulebook: Rulebook,
        *,
        jurisdiction: str | None = None,
        states: dict[str, bytes] | None = None,
        sinks: dict[Namespace, Sink] | None = None,
    ) -> None:
        self.database = review_database(name)
        self.jurisdiction = jurisdiction
        self.names = TopicNames(settings.topic_prefix)
        key = self._key = settings.pseudonym_key.get_secret_value().encode()
        self.store = DictStore(states)
        started = datetime.now(UTC)  # decided_at of a review: when it was run
        self.decider = Decider(
            prefix=settings.topic_prefix,
            digits=settings.jurisdiction_digits,
            pseudonym_key=key,
            rulebook=rulebook,
            store=self.store,
            clock=TickClock("event"),  # ticks come from the log, this clock writes none
            now=lambda: started,
        )
        self.landing = Landing(
            bootstrap=settings.kafka_bootstrap,
            prefix=settings.topic_prefix,
            sinks={},
            pseudonym_key=key,
        )
        if sinks is None:
            migrate_namespaces(settings, self.database)
            sinks = namespace_sinks(settings, self.database)
        self.sinks = sinks
        self._landed_inputs = {self.names.of(CASES), self.names.of(TRANSFERS)}
        self._rekeyed = self.names.of(REKEYED)
        self._ticks = self.names.of(TICKS)

    def process(self, records: Sequence[Record]) -> int:
        """Decide and land one batch; returns how many input records it held. Durable on
        return (the sinks are flushed)."""
        kept = [r for r in records if self._wanted(r)]
        outgoing = self.decider.process(kept)
        forwards = [o for o in outgoing if o.topic == self._rekeyed]
        if forwards:  # what the live worker would read back from the re-keyed topic
            outgoing = [o for o in outgoing if o.topic != self._rekeyed]
            outgoing += self.decider.process([_as_record(o, -1) for o in forwards])
        landed = [r for r in kept if r.topic in self._landed_inputs]
        self._land([*_consumer_records(outgoing), *_from_records(landed)])
        return len(kept)

    def _wanted(self, record: Record) -> bool:
        """Inside ``--jurisdiction`` (by region prefix); ticks and records that do not
        parse always pass (the decide stage times the former and dead-letters the latter)."""
        if self.jurisdiction is None or record.topic == self._ticks:
            return True
        try:
            region = orjson.loads(record.value).get("region")
        except (orjson.JSONDecodeError, AttributeError):
            return True
        return not isinstance(region, str) or region.startswith(self.jurisdiction)

    def land_rejections(self, rejections: Sequence[Rejection]) -> None:
        """Land lines of a file that were not events (they never reach a topic)."""
        if rejections:
            rows = [  # repairable bytes, but never a raw national id or name
                r.model_copy(
                    update={"value_b64": b64(redact_raw(base64.b64decode(r.value_b64), self._key))}
                )
                for r in rejections
            ]
            self.sinks["live"].write("rejected_events", rows, _token("rejected_events", rows))
            self.sinks["live"].flush()

    def _land(self, records: list[ConsumerRecord[bytes, bytes]]) -> None:
        batch: dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]] = {}
        for record in records:
            batch.setdefault(TopicPartition(record.topic, record.partition), []).append(record)
        writes = [_content_token(w) for w in self.landing.plan(batch)]
        for write in writes:
            self.sinks[write.namespace].write(write.table, write.rows, write.token)
        for sink in self.sinks.values():
            sink.flush()


def _token(table: str, rows: Sequence[BaseModel]) -> str:
    """A token from the rows themselves: a batch landed again after a resume is the same
    insert (a review's outputs have no offsets of their own)."""
    digest = hashlib.sha256()
    for row in rows:
        digest.update(row.__pydantic_serializer__.to_json(row))
    return f"review:{table}:{digest.hexdigest()[:32]}"


def _content_token(write: Write) -> Write:
    return Write(write.namespace, write.table, write.rows, _token(write.table, write.rows))


def _as_record(outgoing: Outgoing, offset: int) -> Record:
    partition = outgoing.partition
    if partition is None:
        partition = partition_for((outgoing.key or b"").decode())
    return Record(outgoing.topic, partition, offset, outgoing.key, outgoing.value)


def _consumer_record(topic: str, partition: int, offset: int, key: Any, value: bytes) -> Any:
    return ConsumerRecord(
        topic=topic,
        partition=partition,
        offset=offset,
        timestamp=0,
        timestamp_type=0,
        key=key,
        value=value,
        checksum=None,
        serialized_key_size=0,
        serialized_value_size=len(value),
        headers=(),
    )


def _consumer_records(outgoing: Sequence[Outgoing]) -> Iterator[ConsumerRecord[bytes, bytes]]:
    for offset, out in enumerate(outgoing):
        yield _consumer_record(out.topic, out.partition or 0, offset, out.key, out.value)


def _from_records(records: Sequence[Record]) -> Iterator[ConsumerRecord[bytes, bytes]]:
    for r in records:
        yield _consumer_record(r.topic, r.partition, max(r.offset, 0), r.key, r.value)


def file_records(
    lines: Iterable[bytes], settings: Settings, source: str
) -> tuple[list[Record], list[Rejection]]:
    """The records a JSONL file would have become if published with ``tierflow publish``
    (same topics, keys and partitions); lines that are not events are returned as
    rejections naming the file and line."""
    names = TopicNames(settings.topic_prefix)
    records: list[Record] = []
    rejected: list[Rejection] = []
    for number, line in enumerate(lines, start=1):
        raw = line.rstrip(b"\r\n")
        if not raw.strip():
            continue
        routed = route_line(raw, settings.jurisdiction_digits)
        if isinstance(routed, Rejection):
            rejected.append(routed.model_copy(update={"topic": source, "offset": number}))
            continue
        for out in routed:
            topic = f"{names.prefix}.{out.topic_stem}.v1"
            partition = out.partition
            if partition is None:
                partition = partition_for((out.key or b"").decode())
            records.append(Record(topic, partition, number, out.key, out.value))
    return records, rejected
