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
from streams.stages.topology import INCIDENT_STATES, STOCK_LEVELS
from topics.codec import decode
from topics.models import CaseEvent, TransferEvent
from topics.outputs import Alert, Escalation, IncidentState, Rejection, StockLevel, Task
from topics.privacy import scrub_input
from topics.registry import ALERTS, CASES, DLQ, ESCALATIONS, TASKS, TRANSFERS, TopicSpec
from topics.vocabulary import Status

if TYPE_CHECKING:  # the types of what a consumer hands over; no Kafka client at run time
    from aiokafka import ConsumerRecord, TopicPartition

Decoder = Callable[[bytes], BaseModel | None]


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
    """Where a topic's records land: ``table``, which holds ``model`` rows, and how a
    record's bytes become one (None: not a row of the table)."""

    table: str
    model: type[BaseModel]
    decoder: Decoder


def _output(table: str, model: type[BaseModel]) -> Route:
    return Route(table, model, model.model_validate_json)


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
    """The routes of the topics of ``prefix`` (cases pseudonymised with ``pseudonym_key``)."""

    def __init__(self, *, prefix: str, pseudonym_key: bytes) -> None:
        key = pseudonym_key

        def scrubbed(kind: type[BaseModel]) -> Decoder:
            # A record the decide stage refuses for its personal data lands nowhere either.
            def decoder(raw: bytes) -> BaseModel | None:
                event = decode(raw)
                if not isinstance(event, kind):
                    return None
                safe = scrub_input(event, key, raw)
                return None if isinstance(safe, Rejection) else safe

            return decoder

        routes: list[tuple[TopicSpec, Route]] = [
            (ESCALATIONS, _output("tier_timeline", Escalation)),
            (TASKS, _output("tasks", Task)),
            (ALERTS, _output("alerts", Alert)),
            (INCIDENT_STATES, _output("incidents", IncidentState)),
            (STOCK_LEVELS, _output("stock_levels", StockLevel)),
            (DLQ, _output("rejected_events", Rejection)),
            (CASES, Route("cases", CaseEvent, scrubbed(CaseEvent))),
            (TRANSFERS, Route("transfers", TransferEvent, scrubbed(TransferEvent))),
        ]
        self.routes = {spec.name(prefix): route for spec, route in routes}

    # --- turning records into writes (no I/O) ------------------------------------------

    def plan(self, batch: Batch) -> list[Write]:
        """The sink writes one ``getmany`` batch becomes."""
        writes: list[Write] = []
        for tp, records in sorted(batch.items()):
            if not records:
                continue
            route = self.routes[tp.topic]
            first, last = records[0].offset, records[-1].offset
            token = dedup_token(route.table, tp.topic, tp.partition, first, last)
            decoded = [(record, self._decoded(route.decoder, record)) for record in records]
            kept = [(record, model) for record, model in decoded if model is not None]
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
        """The writes of models that would have been the records of ``topic`` (decoded,
        cases pseudonymised), under ``token``; models the topic's table does not hold (an
        incident event on the cases topic) are left out, as :meth:`plan` leaves them.
        With ``origin`` (topic, model -> where the row came from) a refused row can be
        isolated (:mod:`streams.stages.landing_refusals`)."""
        route = self.routes.get(topic)
        if route is None:
            return []
        kept = [m for m in models if isinstance(m, route.model)]
        origins = None if origin is None else [origin(topic, m) for m in kept]
        return _by_namespace(route.table, kept, token, origins)

    def _decoded(self, decoder: Decoder, record: Origin) -> BaseModel | None:
        value = record.value
        if not isinstance(value, bytes):
            return None
        try:
            return decoder(value)
        except ValidationError as exc:
            self._undecodable(record, exc)
            return None

    def _undecodable(self, record: Origin, exc: ValidationError) -> None:
        """Told of a record that does not decode as its topic's model: on our own output
        topics that means a foreign writer (the live landing logs and counts it)."""
