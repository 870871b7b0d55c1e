"""The replay shell: fold the core over recorded input and land it in a review database.

A review sees exactly what the live worker saw, by construction: records go through the
live shell's own decide stage (:class:`streams.stages.decide.Decider`: the same decoding,
pseudonymisation, jurisdiction routing and distribution of ticks to the jurisdictions of
a partition) and its decisions through the live landing's table routing
(:meth:`streams.stages.landing_plan.LandingPlan.writes`). Only the transport differs: no
Faust, no consumer group, no produced records — a forward to the re-keyed topic is fed
straight back, as the live worker would read it.

What a review does differently, for speed (the decisions and rows are the same):

- The roll-up stages run right after the decide stage, on what the live worker would have
  put on its roll-up feed: city snapshots, acks of roll-up tasks, each batch's newest tick
  (:mod:`streams.stages.rollup_stage`).
- States stay decoded in memory (the decider has no state store); they are encoded only
  for a checkpoint (:mod:`streams.replay.checkpoint`), and then only those that changed.
- With ``review_workers`` above 1 a batch's two passes (:meth:`Review.decide_records`:
  the records, then their forwards) run in worker processes, each the jurisdictions of
  its share of the partitions, and the roll-up in the review's process
  (:mod:`streams.replay.workers`).
- Decisions reach the landing as models (:meth:`Decider.decide`): nothing is encoded to
  JSON only to be decoded again, and the case and transfer inputs land as the decide stage
  decoded and pseudonymised them.
- One batch is large (the session gathers fetches up to ``batch_records``) and lands as
  one insert per table and namespace, under a token naming the run and the batch's input
  offsets, so a retried insert is kept once. Rows have deterministic ids and versions, so
  a batch landed again after a resume collapses under ``FINAL`` like any re-sent batch.

Sources: a Kafka event-time range (:mod:`streams.replay.kafka_range`), or a JSONL file
routed exactly as ``tierflow publish`` would have keyed it.

Results land in ``review_<NAME>`` (drills in ``review_<NAME>_exercise``), migrated on the
fly, never in the live database. After every landed batch the session notes the consistent
point (positions and states after it) and saves it as a checkpoint from time to time and
when interrupted (:mod:`streams.replay.session`), so an interrupted review is consistent —
every row in it comes from a fully processed batch — and a second run with the same name
and range resumes from the checkpoint.
"""

from __future__ import annotations

import base64
import hashlib
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import NamedTuple

import orjson
from pydantic import BaseModel

from sinks.client import check_identifier
from sinks.namespaces import Namespace, migrate_namespaces, namespace_sinks
from sinks.writer import Sink, SinkPolicy
from streams.config.settings import Settings
from streams.core import CoreState, FeedItem, RollupState, Rulebook
from streams.stages.batch import Emitted, Record
from streams.stages.decide import Decider
from streams.stages.landing_plan import LandingPlan, Write
from streams.stages.landing_refusals import land_isolating
from streams.stages.observer import QUIET
from streams.stages.rollup_stage import RollupStage
from streams.stages.ticks import TickClock
from streams.stages.topology import REKEYED, TopicNames, partition_for
from topics.codec import b64, encode
from topics.errors import TierflowError
from topics.outputs import Rejection
from topics.privacy import redact_raw, withheld_note
from topics.registry import CASES, TICKS, TRANSFERS
from topics.routing import route_line
from topics.signing import KeyRing

log = logging.getLogger("tierflow.replay")


class ReplayError(TierflowError):
    """A review cannot run as asked."""


def review_database(name: str) -> str:
    """The database of review ``name``."""
    return check_identifier(f"review_{name}", "review name")


# A review flushes after every batch and a batch lands as one write per table: the buffer
# must hold the largest batch, and nothing is sent early in pieces.
REVIEW_SINK_POLICY = SinkPolicy(batch_rows=5_000_000, max_buffered_rows=5_000_000)


class Review:
    """Decides and lands batches of records for one review database; the decoded state of
    every jurisdiction is :attr:`states` (a snapshot when copied: states are immutable)."""

    def __init__(
        self,
        settings: Settings,
        name: str,
        rulebook: Rulebook,
        *,
        jurisdiction: str | None = None,
        states: Mapping[str, CoreState] | None = None,
        rollups: Mapping[str, RollupState] | None = None,
        sinks: dict[Namespace, Sink] | None = None,
        keys: KeyRing | None = None,
        started: datetime | None = None,
    ) -> None:
        """``keys``: the agencies' keys the records are verified with, as live did (a
        replay of Kafka topics); None for records that carry no signature (a JSONL file).
        ``started``: when the review was run (its decisions' ``decided_at``; default now),
        given to each worker of one review (:mod:`streams.replay.workers`)."""
        self.database = review_database(name)
        self.jurisdiction = jurisdiction
        self.names = TopicNames(settings.topic_prefix)
        key = self._key = settings.pseudonym_key.get_secret_value().encode()
        self.started = started = started or datetime.now(UTC)
        # Rows of this run carry its decided_at: its tokens must never match another run's.
        self._run = f"{name}@{started.isoformat()}"
        self.decider = Decider(
            prefix=settings.topic_prefix,
            digits=settings.jurisdiction_digits,
            pseudonym_key=key,
            rulebook=rulebook,
            store=None,  # states stay decoded in memory; the session checkpoints them
            observer=QUIET,  # nothing serves Prometheus metrics in a review
            clock=TickClock("event"),  # ticks come from the log, this clock writes none
            now=lambda: started,
            states=states,
            keys=None if keys is None else (lambda: keys),
        )
        self.rollup = RollupStage(
            prefix=settings.topic_prefix,
            rulebook=rulebook,
            now=lambda: started,
            states=rollups,
            observer=QUIET,
        )
        self.landing = LandingPlan(prefix=settings.topic_prefix)
        if sinks is None:
            migrate_namespaces(settings, self.database)
            sinks = namespace_sinks(settings, self.database, REVIEW_SINK_POLICY)
        self.sinks = sinks
        self._landed_inputs = {self.names.of(CASES), self.names.of(TRANSFERS)}
        self._rekeyed = self.names.of(REKEYED)
        self._ticks = self.names.of(TICKS)

    @property
    def states(self) -> Mapping[str, CoreState]:
        return self.decider.states

    @property
    def rollups(self) -> Mapping[str, RollupState]:
        """The roll-up state of every area (a snapshot when copied, as :attr:`states`)."""
        return self.rollup.states

    def decide(self, records: Sequence[Record]) -> DecidedBatch:
        """Decide one batch and build its rows; nothing is landed yet (:meth:`land`)."""
        kept = self.wanted(records)
        decisions = self.decide_records(kept)
        if decisions.forwards:  # what the live worker would read back from the re-keyed topic
            forwards, decisions.forwards = decisions.forwards, []
            self.decide_records(forwards, decisions)
        self.roll_up(decisions)
        token = self.token(records)
        return DecidedBatch(self.rows(decisions.by_topic, token), token, len(kept))

    def wanted(self, records: Sequence[Record]) -> list[Record]:
        """The ``records`` inside ``--jurisdiction`` (by region prefix); ticks and records
        that do not parse always pass (the decide stage times the former and dead-letters
        the latter)."""
        prefix = self.jurisdiction
        if prefix is None:
            return list(records)
        return [r for r in records if self._wanted(r, prefix)]

    def decide_records(self, records: Sequence[Record], into: Decisions | None = None) -> Decisions:
        """Decide ``records`` (added to ``into``): what the live worker would produce, the
        forwards it would read back from the re-keyed topic, the items of its roll-up feed."""
        decided = self.decider.decide(records)
        decisions = Decisions() if into is None else into
        by_topic, feed = decisions.by_topic, self.decider.rollup_feed
        for emitted in decided.out:
            if emitted.topic == self._rekeyed:
                decisions.forwards.append(_as_record(emitted))
            elif emitted.topic == feed:
                if isinstance(emitted.model, FeedItem):
                    decisions.feed.append(emitted.model)
            else:
                by_topic.setdefault(emitted.topic, []).append(emitted.model)
        for topic, event in decided.inputs:  # what the live landing reads from the inputs
            if topic in self._landed_inputs:
                by_topic.setdefault(topic, []).append(event)
        return decisions

    def roll_up(self, decisions: Decisions) -> None:
        """Fold the roll-up feed's items of ``decisions`` (what the live worker's roll-up
        agent would read) into the roll-up states; their decisions join ``by_topic``."""
        for emitted in self.rollup.decide(decisions.feed):
            decisions.by_topic.setdefault(emitted.topic, []).append(emitted.model)
        decisions.feed = []

    def rows(self, by_topic: Mapping[str, list[BaseModel]], token: str) -> list[Write]:
        """The review's rows of the decided models ``by_topic``, under ``token``."""
        writes = self.landing.writes
        return [w for topic, rows in by_topic.items() for w in writes(topic, rows, token, _Row)]

    def land(self, batch: DecidedBatch) -> None:
        """Land a decided batch; durable on return (the sinks are flushed). It touches
        only the sinks, so it may run in another thread while the next batch is decided."""
        self._land_isolating(batch.writes, batch.token)

    def _wanted(self, record: Record, prefix: str) -> bool:
        if record.topic == self._ticks:
            return True
        try:
            region = orjson.loads(record.value).get("region")
        except (orjson.JSONDecodeError, AttributeError):
            return True
        return not isinstance(region, str) or region.startswith(prefix)

    def land_rejections(self, rejections: Sequence[Rejection]) -> None:
        """Land lines of a file that were not events (they never reach a topic)."""
        if rejections:
            rows: list[BaseModel] = []  # repairable bytes, but never a raw national id or name
            for r in rejections:
                raw = base64.b64decode(r.value_b64)
                safe = redact_raw(raw, self._key)
                note = withheld_note(raw) if raw and not safe else ""
                rows.append(
                    r.model_copy(update={"value_b64": b64(safe), "reason": r.reason + note})
                )
            self._land([Write("live", "rejected_events", rows, f"review:{self._run}:lines")])

    def token(self, records: Sequence[Record]) -> str:
        """The insert_deduplication_token of a batch's rows: this run and the offset range
        of each partition the batch read (a retried insert is then kept once)."""
        offsets: dict[tuple[str, int], list[int]] = {}
        for r in records:
            offsets.setdefault((r.topic, r.partition), []).append(r.offset)
        ranges = sorted((part, (min(o), max(o))) for part, o in offsets.items())
        digest = hashlib.sha256(orjson.dumps([self._run, ranges]))
        return f"review:{digest.hexdigest()[:32]}"

    def _land_isolating(self, writes: Sequence[Write], token: str) -> None:
        """Land ``writes``; a row ClickHouse refuses for what it holds (a value out of its
        column's range, a constraint, the privacy guard) does not stop the review: it is
        isolated (:func:`~streams.stages.landing_refusals.land_isolating`), every other
        row lands, and it goes to the review's ``rejected_events`` with the reason
        (``stage = landing``), as the live landing dead-letters it."""
        refused = land_isolating(self.sinks, writes)
        for item in refused:
            log.error(
                "review %s: ClickHouse refused a row of %s: %s",
                self.database,
                item.table,
                item.reason,
            )
        if refused:
            at = datetime.now(UTC)
            rows: list[BaseModel] = [item.rejection(self._key, at) for item in refused]
            self._land([Write("live", "rejected_events", rows, f"{token}:refused")])

    def _land(self, writes: Iterable[Write]) -> None:
        for write in writes:
            self.sinks[write.namespace].write(write.table, write.rows, write.token)
        for sink in self.sinks.values():
            sink.flush()


@dataclass
class Decisions:
    """Records decided, before the roll-up: the models to land by topic (in order), the
    forwards still to decide and the roll-up feed's items."""

    by_topic: dict[str, list[BaseModel]] = field(default_factory=dict)
    forwards: list[Record] = field(default_factory=list)
    feed: list[FeedItem] = field(default_factory=list)


@dataclass(frozen=True)
class DecidedBatch:
    """A batch decided by :meth:`Review.decide`: its rows by table, their token, and how
    many input records it held."""

    writes: list[Write]
    token: str
    events: int


class _Row(NamedTuple):
    """A row a review decided (never a record): where a refused one came from, its bytes
    encoded only when it is refused. (A named tuple: one is made per row.)"""

    topic: str
    model: BaseModel
    partition: int | None = None
    offset: int | None = None
    key: bytes | None = None

    @property
    def value(self) -> bytes:
        return encode(self.model)


def _as_record(forward: Emitted) -> Record:
    """A forward as the decide stage reads it back from the re-keyed topic."""
    partition = forward.partition
    if partition is None:
        partition = partition_for((forward.key or b"").decode())
    return Record(forward.topic, partition, -1, forward.key, forward.encoded().value)


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
