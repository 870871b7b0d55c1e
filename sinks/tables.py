"""The command view's tables as data: which model lands where, the replacing key (the
table's ORDER BY) and how the row version is made. The DDL lives in the SQL migrations;
``tests/integration/test_migrate.py`` checks that they agree with this registry."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from sinks.columns import RowMapper, VersionRule, columns_of
from sinks.errors import SinkError
from topics.models import CaseEvent, TransferEvent
from topics.outputs import Alert, Escalation, IncidentState, Rejection, StockLevel, Task

# Fields every input event carries that say nothing once it sits in its own table.
_WIRE_ONLY = frozenset({"kind", "schema_version"})


@dataclass(frozen=True)
class TableSpec:
    """One table: the model its rows come from, its replacing key (ORDER BY, in order)
    and its version rule. Rows with equal key collapse to the highest version under
    ``FINAL``."""

    name: str
    model: type[BaseModel]
    key: tuple[str, ...]
    version: VersionRule = field(default_factory=VersionRule)
    exclude: frozenset[str] = frozenset()
    mapper: RowMapper = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        mapper = RowMapper(columns_of(self.model, self.exclude), self.version)
        missing = set(self.key) - set(mapper.column_names)
        if missing:
            raise SinkError(f"{self.name}: key columns {sorted(missing)} are not columns")
        object.__setattr__(self, "mapper", mapper)

    @property
    def column_names(self) -> tuple[str, ...]:
        return self.mapper.column_names

    def columns(self, models: Sequence[BaseModel]) -> list[list[Any]]:
        """``models`` (instances of ``self.model``) as one list per column."""
        return self.mapper.columnar(models)

    def rows(self, models: Sequence[BaseModel]) -> list[tuple[Any, ...]]:
        """``models`` as row tuples in column order."""
        return list(zip(*self.columns(models), strict=True))


TRANSFER_STATE_RANK = {
    "requested": 0,
    "dispatched": 1,
    "en_route": 2,
    "arrived": 3,
    "cancelled": 3,
}
# The core's contract is "the last copy per id wins", and it numbers the copies of an id
# (``revision``): a retraction, a reinstatement or a task's new state has a higher revision
# and replaces the row whenever it arrives. An output re-emitted after a crash repeats its
# revision with a later decided_at: keep the first decision (and its latency).
_LAST_REVISION_FIRST_DECISION = VersionRule(
    rank_field="revision", time_field="decided_at", prefer="earliest"
)

TABLES: dict[str, TableSpec] = {
    spec.name: spec
    for spec in (
        TableSpec(
            "incidents",
            IncidentState,
            key=("status", "jurisdiction", "incident_id"),
            version=VersionRule(from_field="version"),
            exclude=frozenset({"version", "tier_periods"}),  # tier_timeline holds them
        ),
        TableSpec(
            "tier_timeline",
            Escalation,
            key=("status", "effective_at", "decision_id"),
            version=_LAST_REVISION_FIRST_DECISION,
        ),
        TableSpec(
            "tasks",
            Task,
            key=("status", "issued_at", "task_id"),
            version=_LAST_REVISION_FIRST_DECISION,
        ),
        TableSpec(
            "alerts",
            Alert,
            key=("status", "at", "alert_id"),
            version=_LAST_REVISION_FIRST_DECISION,
        ),
        TableSpec(
            "cases",
            CaseEvent,
            key=("status", "occurred_at", "event_id"),
            exclude=_WIRE_ONLY | {"name"},
        ),
        TableSpec(
            "transfers",
            TransferEvent,
            key=("status", "transfer_id"),
            version=VersionRule(
                rank_field="transfer_status",
                ranks=TRANSFER_STATE_RANK,
                time_field="occurred_at",
            ),
            exclude=_WIRE_ONLY,
        ),
        TableSpec("stock_levels", StockLevel, key=("status", "at", "site_id", "item")),
        TableSpec("rejected_events", Rejection, key=("topic", "partition", "offset")),
    )
}


def table(name: str) -> TableSpec:
    """The spec of table ``name``; SinkError naming the known tables otherwise."""
    try:
        return TABLES[name]
    except KeyError:
        raise SinkError(f"unknown table {name!r} (known: {', '.join(TABLES)})") from None
