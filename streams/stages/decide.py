"""The decide stage without Faust: a batch of raw records in, what it decided out.

For each record of a batch (inputs, ticks, re-keyed): decode it (a bad one becomes a
Rejection for the DLQ, never an exception), pseudonymise cases, find its jurisdiction and
check that it sits on that jurisdiction's partition — if not (the producer keyed it by
something else) forward it once, keyed by jurisdiction, to the re-keyed topic and go on.
Then, per jurisdiction, run ``streams.core.step_many`` over the batch's events and the
partition's ticks, store the new state, and stamp ``decided_at`` on the outputs. The
roll-up feed gets what the roll-up stages fold: every city snapshot a roll-up rule may
count, every ack of a roll-up task, with a facility registry hospitals' bed levels and the
redirects that found no free bed in the city, and the batch's newest tick (their clock). The core
keeps Exercise/Test apart from Actual inside a jurisdiction's state (one namespace per CAP
status); outputs carry the status and the landing stage routes them by it.

Two views of one batch: :meth:`Decider.decide` returns the decided models (what each
output record will hold, with its topic, key and partition) and the decoded inputs;
:meth:`Decider.process` is the same decisions encoded as records to produce (the live
worker). The replay shell lands the models directly, so nothing it decides is encoded
only to be decoded again by the landing.

State lives in a :class:`CoreStateStore` (per-key records in the Faust table, or in a
dict in tests); decoded states are cached between batches and the cache is dropped on
every rebalance. The store is told what each batch changed; it writes those records after
each batch, or, with ``deferred_puts``, only on
:meth:`Decider.flush_states` (the live worker: right before offsets are committed). With no
store at all (``store=None``: the replay) states live only in memory: the caller seeds them
(``states``), reads them back (:attr:`Decider.states`) and persists them as it sees fit.
States are never changed in place (``step_many`` returns a new one), so a copy of
:attr:`Decider.states` is a snapshot that later batches do not alter.
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel

from streams.core import (
    CoreState,
    Output,
    compile_rulebook,
    feeds_rollup,
    initial_state,
    input_problem,
    output_feeds_rollup,
    received_problem,
    step_many,
)
from streams.core.checks import Problem
from streams.core.compiled import Compiled
from streams.stages.batch import CoreStateStore, Decided, Emitted, Outgoing, Record
from streams.stages.observer import QUIET, StageObserver, reason_class
from streams.stages.ticks import TickClock, keep_newest
from streams.stages.topology import (
    DECIDED,
    INCIDENT_STATES,
    PARTITIONS,
    REKEYED,
    ROLLUP_FEED,
    STOCK_LEVELS,
    TopicNames,
    partition_for,
)
from topics.codec import b64, decode, decode_tick
from topics.models import IncidentEvent
from topics.outputs import Alert, Escalation, IncidentState, Rejection, StockLevel, Task, Tick
from topics.privacy import redact_raw, scrub_input, withheld_note
from topics.registry import (
    ALERTS,
    DLQ,
    ESCALATIONS,
    TASKS,
    TICKS,
    TOPIC_FOR_KIND,
    jurisdiction_of,
)
from topics.signing import KeyRing, declaring_outside, source_mismatch

_STAMPED = (Escalation, Task, Alert)


def _feed_key(output: Output) -> bytes:
    """A roll-up feed record's key: the site of a bed level, the transfer of a redirect,
    else the incident (one partition: the key only names what it is about)."""
    if isinstance(output, StockLevel):
        return output.site_id.encode()
    if isinstance(output, Alert):
        return output.subject_id.encode()
    return output.incident_id.encode()


# murmur2 in Python, asked once per record: remembered per jurisdiction (a few hundred).
_partition_of = functools.cache(partition_for)


@dataclass
class _Batch:
    """What one batch gathers before the core runs."""

    events: dict[str, list[Any]] = field(default_factory=dict)
    ticks: dict[int, list[Tick]] = field(default_factory=dict)
    out: list[Emitted] = field(default_factory=list)
    inputs: list[tuple[str, BaseModel]] = field(default_factory=list)
    consumed: Counter[tuple[str, str, str, str]] = field(default_factory=Counter)
    rejected: Counter[tuple[str, str]] = field(default_factory=Counter)
    newest: dict[str, datetime] = field(default_factory=dict)  # by topic, first sight
    decided_time: dict[int, datetime] = field(default_factory=dict)  # by partition
    arrived: dict[int, datetime] = field(default_factory=dict)  # by partition read
    newest_tick: datetime | None = None


class Decider:
    """Runs the core over batches of records; see the module docstring."""

    def __init__(
        self,
        *,
        prefix: str,
        digits: int,
        pseudonym_key: bytes,
        rulebook: Any,
        store: CoreStateStore | None,
        clock: TickClock,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        deferred_puts: bool = False,
        states: Mapping[str, CoreState] | None = None,
        keys: Callable[[], KeyRing] | None = None,
        decided_log: bool = False,
        observer: StageObserver = QUIET,
    ) -> None:
        self.names = TopicNames(prefix)
        self.observer = observer
        # The agencies' keys, asked once per batch (the worker's registry file changes
        # while it runs): every input record read for the first time is verified
        # (topics/signing.py). None only where records carry no signatures by design: a
        # replay of a JSONL file, unit tests of the decisions.
        self.key_source = keys
        self.keys: KeyRing | None = None
        # The live worker writes each accepted input event, pseudonymised, to the decided
        # topic (``decided_log``); a replay of that topic reads them back as the input
        # topic of their kind, already verified (only the worker writes it).
        self.decided_log = decided_log
        self._decided_topic = self.names.of(DECIDED)
        self._kind_topic = {kind: spec.name(prefix) for kind, spec in TOPIC_FOR_KIND.items()}
        self.digits = digits
        self.pseudonym_key = pseudonym_key
        self.rulebook = rulebook
        self.store = store
        self.clock = clock
        self.now = now
        self._ticks_topic = self.names.of(TICKS)
        self._rekeyed_topic = self.names.of(REKEYED)
        self._dlq_topic = self.names.of(DLQ)
        self.rollup_feed = self.names.of(ROLLUP_FEED)
        self._output_topic: dict[type[BaseModel], str] = {
            Escalation: self.names.of(ESCALATIONS),
            Task: self.names.of(TASKS),
            Alert: self.names.of(ALERTS),
            IncidentState: self.names.of(INCIDENT_STATES),
            StockLevel: self.names.of(STOCK_LEVELS),
        }
        self.deferred_puts = deferred_puts
        self._states: dict[str, CoreState] = dict(states or {})
        self._by_partition: dict[int, set[str]] | None = None

    @property
    def states(self) -> Mapping[str, CoreState]:
        """The decoded state of every jurisdiction decided or loaded so far (read-only)."""
        return self._states

    def forget(self) -> None:
        """Drop cached states, changed ones too (after a rebalance the store is the truth
        again; records behind a change not yet put must not have been committed)."""
        self._states.clear()
        if self.store is not None:
            self.store.forget()
        self._by_partition = None

    def flush_states(self) -> int:
        """Put every state changed since the last call in the store; returns how many.
        With ``deferred_puts`` this is the only place states are encoded: the live worker
        calls it right before input offsets are committed, so a state is encoded once per
        commit instead of once per batch (the store writes what changed since)."""
        return 0 if self.store is None else self.store.flush()

    def process(self, records: Sequence[Record]) -> list[Outgoing]:
        """Everything one batch causes, as records to produce: :meth:`decide`, encoded."""
        return [emitted.encoded() for emitted in self.decide(records).out]

    def decide(self, records: Sequence[Record]) -> Decided:
        """Everything one batch causes: DLQ records, forwards, outputs as models, and the
        decoded inputs (changed states are put in the store as a side effect, or marked
        for :meth:`flush_states`). Never raises on bad input."""
        now = self.now()
        batch = _Batch()
        if self.key_source is not None:
            self.keys = self.key_source()
        for record in records:
            if record.topic == self._ticks_topic:
                self._take_tick(record, batch, now)
            else:
                self._take_event(record, batch, now)
                if record.received_at is not None:
                    keep_newest(batch.arrived, record.partition, record.received_at)
        for partition, ticks in batch.ticks.items():
            for jurisdiction in self._jurisdictions_of(partition):
                batch.events.setdefault(jurisdiction, []).extend(ticks)
        for jurisdiction, events in batch.events.items():
            self._decide(jurisdiction, events, batch.out, now)
        if batch.newest_tick is not None and self.rulebook.rollup:
            # the roll-up stages' time: one tick a batch (they keep the newest)
            at = batch.newest_tick
            tick = Tick(event_id=f"rollup-tick:{at.isoformat()}", tick_at=at)
            batch.out.append(Emitted(self.rollup_feed, b"tick", tick, partition=0))
        self.observer.count_outputs(o.topic for o in batch.out)
        self.observer.count_consumed(batch.consumed)
        self.observer.count_rejected(batch.rejected)
        for partition, newest in batch.decided_time.items():
            self.clock.observe(partition, newest)  # the event time decided there
        for partition, newest in batch.arrived.items():
            self.clock.arrived(partition, newest)
        for topic, newest in batch.newest.items():
            self.observer.set_event_time_lag(topic, (now - newest).total_seconds())
        return Decided(batch.out, batch.inputs)

    # --- decoding -------------------------------------------------------------------

    def _reject(self, rejection: Rejection, record: Record, batch: _Batch, now: datetime) -> None:
        # The bytes stay repairable, but never carry a raw national id or name.
        safe = redact_raw(record.value, self.pseudonym_key)
        reason = rejection.reason + (
            withheld_note(record.value) if record.value and not safe else ""
        )
        located = rejection.model_copy(
            update={
                "reason": reason,
                "value_b64": b64(safe),
                "topic": record.topic,
                "partition": record.partition,
                "offset": record.offset,
                "key_b64": None if record.key is None else b64(record.key),
                "rejected_at": now,
            }
        )
        batch.out.append(Emitted(self._dlq_topic, record.topic.encode(), located))
        batch.rejected[(record.topic, reason_class(rejection))] += 1

    def _compiled(self) -> Compiled:
        return compile_rulebook(self.rulebook)

    def _refused(
        self, problem: Problem | None, record: Record, batch: _Batch, now: datetime
    ) -> bool:
        """Send the record to the DLQ when the rulebook's input checks found a ``problem``."""
        if problem is None:
            return False
        field_path, reason = problem
        self._reject(Rejection(reason=reason, field=field_path, value_b64=""), record, batch, now)
        return True

    def _take_tick(self, record: Record, batch: _Batch, now: datetime) -> None:
        tick = decode_tick(record.value)
        if isinstance(tick, Rejection):
            self._reject(tick, record, batch, now)
            return
        if tick.jurisdiction is not None and not self._owns(tick.jurisdiction, record):
            return
        if batch.newest_tick is None or tick.tick_at > batch.newest_tick:
            batch.newest_tick = tick.tick_at
        if tick.jurisdiction is None:
            batch.ticks.setdefault(record.partition, []).append(tick)
        else:
            batch.events.setdefault(tick.jurisdiction, []).append(tick)

    def _take_event(self, record: Record, batch: _Batch, now: datetime) -> None:
        event: Any = decode(record.value)
        if isinstance(event, Rejection):
            self._reject(event, record, batch, now)
            return
        topic = record.topic
        if topic == self._decided_topic:  # a review of the decided log: checked, pseudonymous
            topic = self._kind_topic[event.kind]
        elif topic != self._rekeyed_topic:  # a forward was checked on its first sight
            if self.keys is not None:
                refused = self._unauthentic(record, event)
                if refused is not None:
                    self._reject(refused, record, batch, now)
                    return
            if record.received_at is not None and self._refused(
                received_problem(event, record.received_at, self._compiled()), record, batch, now
            ):
                return
            event = scrub_input(event, self.pseudonym_key, record.value)
            if isinstance(event, Rejection):
                self._reject(event, record, batch, now)
                return
        if self._refused(input_problem(event, self._compiled()), record, batch, now):
            return
        jurisdiction = jurisdiction_of(event.region, self.digits)
        target = _partition_of(jurisdiction)
        if topic != self._rekeyed_topic:  # first sight of this record
            batch.inputs.append((topic, event))
            source = event.source
            batch.consumed[(topic, event.kind, source.agency_type, source.agency_id)] += 1
            if event.status == "Actual":
                keep_newest(batch.newest, topic, event.occurred_at)
            if self.decided_log:
                key = jurisdiction.encode()
                batch.out.append(Emitted(self._decided_topic, key, event, target))
        if target != record.partition:
            batch.out.append(Emitted(self._rekeyed_topic, jurisdiction.encode(), event, target))
            return
        batch.events.setdefault(jurisdiction, []).append(event)
        if event.status == "Actual":
            keep_newest(batch.decided_time, target, event.occurred_at)
        # the exact type: a failing isinstance on a pydantic model is slow (every event)
        if type(event) is IncidentEvent and feeds_rollup(event, self.rulebook):
            feed_key = event.incident_id.encode()
            batch.out.append(Emitted(self.rollup_feed, feed_key, event, partition=0))
        # Known before the batch's ticks are handed out: a new jurisdiction gets them too.
        self._jurisdictions_of(target).add(jurisdiction)

    def _owns(self, jurisdiction: str, record: Record) -> bool:
        """A tick for one jurisdiction counts only on that jurisdiction's partition and in
        this worker's jurisdiction length: whoever owns another partition owns its state."""
        return len(jurisdiction) == self.digits and _partition_of(jurisdiction) == record.partition

    def _unauthentic(self, record: Record, event: Any) -> Rejection | None:
        """Why a decoded input record is not its source agency's, or declares a tier
        outside the agency's jurisdiction (topics/signing.py)."""
        assert self.keys is not None
        signer = self.keys.check(
            record.headers, record.value, record.topic, record.partition, record.offset
        )
        if isinstance(signer, str):
            return Rejection(reason=signer, value_b64="")
        source = event.source
        foreign = source_mismatch(signer, source.agency_id, source.agency_type)
        if foreign is not None:
            return Rejection(reason=foreign, field="source", value_b64="")
        if type(event) is IncidentEvent and event.declared_tier is not None:
            outside = declaring_outside(signer, event.region)
            if outside is not None:
                return Rejection(reason=outside, field="region", value_b64="")
        return None

    # --- state and outputs ----------------------------------------------------------

    def _jurisdictions_of(self, partition: int) -> set[str]:
        """The jurisdictions with state on ``partition`` (a tick without a jurisdiction
        goes to each of them)."""
        if self._by_partition is None:
            self._by_partition = {p: set() for p in range(PARTITIONS)}
            stored = self.store.jurisdictions() if self.store is not None else ()
            for jurisdiction in (*stored, *self._states):
                self._by_partition[_partition_of(jurisdiction)].add(jurisdiction)
        return self._by_partition[partition]

    def _state(self, jurisdiction: str) -> CoreState:
        state = self._states.get(jurisdiction)
        if state is None:
            stored = self.store.get(jurisdiction) if self.store is not None else None
            state = initial_state(jurisdiction) if stored is None else stored
            self._jurisdictions_of(_partition_of(jurisdiction)).add(jurisdiction)
        return state

    def _decide(
        self, jurisdiction: str, events: list[Any], out: list[Emitted], now: datetime
    ) -> None:
        state = self._state(jurisdiction)
        new_state, outputs = step_many(state, events, self.rulebook)
        self._states[jurisdiction] = new_state
        if new_state is not state and self.store is not None:
            self.store.changed(jurisdiction, state, new_state)
            if not self.deferred_puts:
                self.store.flush()
        key = jurisdiction.encode()
        for output in outputs:
            if isinstance(output, Escalation):
                self.observer.count_escalation(output.tier or "none", output.status)
            stamped = (
                output.model_copy(update={"decided_at": now})
                if isinstance(output, _STAMPED)
                else output
            )
            out.append(Emitted(self._output_topic[type(output)], key, stamped))
            if output_feeds_rollup(output, self.rulebook):
                out.append(Emitted(self.rollup_feed, _feed_key(output), output, partition=0))
