"""The topic registry: the only place topic names, partition counts and keys live.

Names are ``<prefix>.<stem>.v1``; the prefix is a setting so that a review or a drill can
run in its own namespace.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel

from topics.models import CaseEvent, IncidentEvent, StockEvent, TransferEvent
from topics.outputs import Alert, Escalation, Rejection, Task, Tick

DAY_MS = 24 * 3600 * 1000


@dataclass(frozen=True)
class TopicSpec:
    """One topic: its stem (name without prefix), partitions, what keys it, how long it
    is kept, and the model of its values."""

    stem: str
    partitions: int
    key: str
    retention_ms: int
    model: type[BaseModel]
    role: str  # "input", "output" or "internal"

    def name(self, prefix: str = "tierflow") -> str:
        return f"{prefix}.{self.stem}.v1"


# Inputs are the record an after-action review replays: they are kept without a time
# limit (KEEP); operators archive or prune them by size. (The raw cases expire: see
# streams.ops.kafka.topic_configs.)
KEEP = -1
INCIDENTS = TopicSpec("incidents", 6, "jurisdiction", KEEP, IncidentEvent, "input")
CASES = TopicSpec("cases", 6, "jurisdiction", KEEP, CaseEvent, "input")
TRANSFERS = TopicSpec("transfers", 6, "jurisdiction", KEEP, TransferEvent, "input")
STOCK = TopicSpec("stock", 6, "jurisdiction", KEEP, StockEvent, "input")
ESCALATIONS = TopicSpec("escalations", 6, "jurisdiction", 90 * DAY_MS, Escalation, "output")
TASKS = TopicSpec("tasks", 6, "jurisdiction", 90 * DAY_MS, Task, "output")
ALERTS = TopicSpec("alerts", 6, "jurisdiction", 90 * DAY_MS, Alert, "output")
DLQ = TopicSpec("dlq", 1, "source topic", 90 * DAY_MS, Rejection, "output")
# Clock ticks written by the live shell's timer, one per partition, replayed as they are.
TICKS = TopicSpec("ticks", 6, "jurisdiction", KEEP, Tick, "internal")

INPUT_TOPICS: tuple[TopicSpec, ...] = (INCIDENTS, CASES, TRANSFERS, STOCK)
ALL_TOPICS: tuple[TopicSpec, ...] = (*INPUT_TOPICS, ESCALATIONS, TASKS, ALERTS, DLQ, TICKS)

TOPIC_FOR_KIND: dict[str, TopicSpec] = {
    "incident": INCIDENTS,
    "case": CASES,
    "transfer": TRANSFERS,
    "stock": STOCK,
}


def jurisdiction_of(region: str, digits: int = 4) -> str:
    """The partition key of a region code: its first ``digits`` digits (4 = city)."""
    return region[:digits]
