"""The landing's routing, without a consumer or a sink: which topic lands in which table,
which models a table takes, which namespace a row belongs to, under which deduplication
token.

Shared by both shells: the live landing stage (:class:`streams.live.landing.Landing`)
turns consumed batches into writes with :meth:`LandingPlan.plan`; the replay shell turns
models that never were records (a review's decisions, handed over by the decide stage)
into the same writes with :meth:`LandingPlan.writes`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, TypeAlias

from pydantic import BaseModel, ValidationError

from sinks.namespaces import Namespace, namespace_of
from sinks.writer import dedup_token
from streams.stages.topology import DECIDED, INCIDENT_STATES, STOCK_LEVELS
from topics.codec import decode_input
from topics.models import CaseEvent, TransferEvent
from topics.outputs import Alert, Escalation, IncidentState, Rejection, StockLevel, Task
from topics.registry import ALERTS, CASES, DLQ, ESCALATIONS, TASKS, TRANSFERS, TopicSpec
from topics.vocabulary import Status

if TYPE_CHECKING:  # the types of what a consumer hands over; no Kafka client at run time
    from aiokafka import ConsumerRecord, TopicPartition

# A record's bytes to its model; raises ValidationError when they are not one
Decoder = Callable[[bytes], BaseModel]


class Origin(Protocol):
    """Where a row came from, as its DLQ record names it: a consumed record
    (``ConsumerRecord``), or a row a review decided (no partition or offset: it never was
    a record)."""

    @property
    def topic(self) -> str: ...

    @property
    def partition(self) -> int | None: ...

    @property
    def offset(self) -> int | None: ...

    @property
    def key(self) -> bytes | None: ...

    @property
    def value(self) -> bytes | None: ...


Batch: TypeAlias = "dict[TopicPartition, list[ConsumerRecord[Any, Any]]]"


@dataclass(frozen=True)
class Route:
    """Where a topic's models land: ``table``, which holds ``model`` rows."""

    table: str
    model: type[BaseModel]


@dataclass(frozen=True)
class Write:
    """One sink write: where, which rows, under which deduplication token; ``origins``:
    the record each row came from (None: models that never were records)."""

    namespace: Namespace
    table: str
    rows: list[BaseModel]
    token: str
    origins: list[Origin] | None = None

    def halves(self) -> tuple[Write, Write]:
        """The first and the second half, each under a token of its own derived from this
        write's (the same on every attempt, so a retried half is deduplicated)."""
        half = len(self.rows) // 2
        origins = self.origins or []
        return (
            Write(self.namespace, self.table, self.rows[:half], f"{self.token}/a", origins[:half]),
            Write(self.namespace, self.table, self.rows[half:], f"{self.token}/b", origins[half:]),
        )


def _by_namespace(
    table: str, models: Sequence[BaseModel], token: str, origins: Sequence[Origin] | None = None
) -> list[Write]:
    """One write per namespace the models' statuses fall in, all under ``token`` (each
    namespace is its own database: a re-sent range must be recognised in both)."""
    split: dict[Namespace, tuple[list[BaseModel], list[Origin]]] = {}
    for at, model in enumerate(models):
        status: Status = getattr(model, "status", "Actual")
        rows, froms = split.setdefault(namespace_of(status), ([], []))
        rows.append(model)
        if origins is not None:
            froms.append(origins[at])
    return [
        Write(namespace, table, rows, token, None if origins is None else froms)
        for namespace, (rows, froms) in split.items()
    ]


class LandingPlan:
    """The routes of the topics of ``prefix``.

    The cases and transfers tables are landed from the decided log, not from the agencies'
    topics: it holds every input the decide stage accepted (its signature verified, its
    event time checked, pseudonymised), so a record the decide stage refused (unsigned,
    another agency's, dated ahead) never lands beside its DLQ entry, and the rows are
    those a review lands from the same decisions (:meth:`writes`). Its records are decoded
    as written: pseudonymising them again would hash their pseudonyms again."""

    def __init__(self, *, prefix: str) -> None:
        routes: list[tuple[TopicSpec, Route]] = [
            (ESCALATIONS, Route("tier_timeline", Escalation)),
            (TASKS, Route("tasks", Task)),
            (ALERTS, Route("alerts", Alert)),
            (INCIDENT_STATES, Route("incidents", IncidentState)),
            (STOCK_LEVELS, Route("stock_levels", StockLevel)),
            (DLQ, Route("rejected_events", Rejection)),
            (CASES, Route("cases", CaseEvent)),
            (TRANSFERS, Route("transfers", TransferEvent)),
        ]
        # by topic: where a review's models of that topic land (writes)
        self.routes = {spec.name(prefix): route for spec, route in routes}
        # by model: where a decoded record lands (plan); incident and stock events of the
        # decided log land nowhere (the decisions they caused do)
        self._by_model = {route.model: route for _, route in routes}
        self._decoders: dict[str, Decoder] = {
            spec.name(prefix): route.model.model_validate_json
            for spec, route in routes
            if spec not in (CASES, TRANSFERS)
        }
        self._decoders[DECIDED.name(prefix)] = decode_input

    # --- turning records into writes (no I/O) ------------------------------------------

    def plan(self, batch: Batch) -> list[Write]:
        """The sink writes one ``getmany`` batch becomes: per topic-partition, one write
        per table (and namespace) under a token of the table and the batch's offsets."""
        writes: list[Write] = []
        for tp, records in sorted(batch.items()):
            if not records:
                continue
            first, last = records[0].offset, records[-1].offset
            for route, kept in self._decoded(tp.topic, records).items():
                token = dedup_token(route.table, tp.topic, tp.partition, first, last)
                models = [model for _, model in kept]
                origins = [record for record, _ in kept]
                writes.extend(_by_namespace(route.table, models, token, origins))
        return writes

    def writes(
        self,
        topic: str,
        models: Sequence[BaseModel],
        token: str,
        origin: Callable[[str, BaseModel], Origin] | None = None,
    ) -> list[Write]:
        """The writes of models that would have been the records of ``topic`` (for an
        input topic, the decide stage's accepted, pseudonymised events), under ``token``; models
        the topic's table does not hold (an incident event on the cases topic) are left
        out, as :meth:`plan` leaves them.
        With ``origin`` (topic, model -> where the row came from) a refused row can be
        isolated (:mod:`streams.stages.landing_refusals`)."""
        route = self.routes.get(topic)
        if route is None:
            return []
        kept = [m for m in models if isinstance(m, route.model)]
        origins = None if origin is None else [origin(topic, m) for m in kept]
        return _by_namespace(route.table, kept, token, origins)

    def _decoded(
        self, topic: str, records: Sequence[Origin]
    ) -> dict[Route, list[tuple[Origin, BaseModel]]]:
        """The records of ``topic`` that land, each with its model, by where they land."""
        decoder = self._decoders[topic]
        found: dict[Route, list[tuple[Origin, BaseModel]]] = {}
        for record in records:
            value = record.value
            if not isinstance(value, bytes):
                continue
            try:
                model = decoder(value)
            except ValidationError as exc:
                self._undecodable(record, exc.errors(include_url=False)[0]["msg"])
                continue
            route = self._by_model.get(type(model))
            if route is not None:
                found.setdefault(route, []).append((record, model))
        return found

    def _undecodable(self, record: Origin, reason: str) -> None:
        """Told of a record that does not decode as its topic's model: on our own topics
        that means a foreign writer (the live landing logs and counts it)."""
