"""Where the live shell's records go: topic names for a prefix and the partition of a
jurisdiction.

The internal topics below are the live shell's own (DESIGN.md section 2 leaves them to
it); everything agencies publish or read is in :mod:`topics.registry`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from aiokafka.partitioner import murmur2
from pydantic import Discriminator, RootModel, Tag

from topics.models import Envelope, IncidentEvent
from topics.outputs import Alert, IncidentState, StockLevel, Tick
from topics.registry import (
    ALERTS,
    DAY_MS,
    DLQ,
    ESCALATIONS,
    INPUT_TOPICS,
    KEEP,
    TASKS,
    TICKS,
    TopicSpec,
)

PARTITIONS = TICKS.partitions
if any(spec.partitions != PARTITIONS for spec in INPUT_TOPICS):  # pragma: no cover
    raise RuntimeError("input topics and ticks must be co-partitioned (same partition count)")

# Records whose producer keyed them by something other than their jurisdiction are
# forwarded here once, keyed by jurisdiction; the decide stage reads it beside the inputs.
REKEYED = TopicSpec("rekeyed", PARTITIONS, "jurisdiction", 7 * DAY_MS, Envelope, "internal")
# Current incident pictures and stock snapshots: read only by the landing stage.
INCIDENT_STATES = TopicSpec(
    "incident-states", PARTITIONS, "jurisdiction", 30 * DAY_MS, IncidentState, "internal"
)
STOCK_LEVELS = TopicSpec(
    "stock-levels", PARTITIONS, "jurisdiction", 30 * DAY_MS, StockLevel, "internal"
)


def _feed_tag(value: Any) -> str:
    """Which model a roll-up feed record holds: acks and ticks carry their ``kind``, a bed
    level its ``site_id``, a redirect its ``alert_id``, a city snapshot none of them."""
    if isinstance(value, dict):
        kind, fields = value.get("kind"), value
    else:
        kind, fields = getattr(value, "kind", None), getattr(value, "__dict__", {})
    if kind in ("incident", "tick"):
        return str(kind)
    return "level" if "site_id" in fields else "alert" if "alert_id" in fields else "snapshot"


class RollupFeedItem(
    RootModel[
        Annotated[
            Annotated[IncidentState, Tag("snapshot")]
            | Annotated[IncidentEvent, Tag("incident")]
            | Annotated[Tick, Tag("tick")]
            | Annotated[StockLevel, Tag("level")]
            | Annotated[Alert, Tag("alert")],
            Discriminator(_feed_tag),
        ]
    ]
):
    """One record of the roll-up feed (:mod:`streams.core.rollup_feed`): a city snapshot,
    an ack of a roll-up task, the newest tick of a decided batch, a hospital's bed level
    or a redirect that found no free bed in the city (records written before the last two
    existed decode as before)."""


def decode_feed(value: bytes) -> IncidentState | IncidentEvent | Tick | StockLevel | Alert:
    """The item a roll-up feed record holds (the decide stage wrote it: never malformed)."""
    return RollupFeedItem.model_validate_json(value).root


# What the roll-up stages fold (streams.stages.rollup_stage): city incident pictures (keyed
# by incident), acks of roll-up tasks (keyed by incident), each decided batch's newest
# tick (key ``tick``) and, with a facility registry, hospitals' bed levels (keyed by site)
# and redirects that found no free bed in the city (keyed by transfer). One partition: the
# national stage needs every city, and these are few (one per incident of a roll-up
# disease per decided batch, one tick per batch, one per hospital's bed report).
ROLLUP_FEED = TopicSpec("rollup-feed", 1, "incident", 30 * DAY_MS, RollupFeedItem, "internal")


# Every input event the decide stage accepted, as it decided on it: verified, decoded and
# pseudonymised (no raw national id, no name), keyed by jurisdiction on its state's
# partition. Kept without limit: what an after-action review replays once the raw inputs
# (the cases topic: days) are gone (`tierflow replay --source decided`).
DECIDED = TopicSpec("decided", PARTITIONS, "jurisdiction", KEEP, Envelope, "internal")


# Which records each decided batch held, per partition (streams.live.journal): a redo
# decides the same batches. Read only when a worker takes partitions over.
class JournalEntry(RootModel[list[tuple[str, int, int]]]):
    """One batch's ranges of one partition: ``[[topic, first, end], ...]``."""


DECIDE_JOURNAL = TopicSpec(
    "decide-journal", PARTITIONS, "partition", 7 * DAY_MS, JournalEntry, "internal"
)
LIVE_TOPICS: tuple[TopicSpec, ...] = (
    REKEYED,
    INCIDENT_STATES,
    STOCK_LEVELS,
    ROLLUP_FEED,
    DECIDE_JOURNAL,
    DECIDED,
)


def partition_for(jurisdiction: str, partitions: int = PARTITIONS) -> int:
    """The partition Kafka's default partitioner (murmur2, as the Java client and aiokafka)
    gives a record keyed by ``jurisdiction``; the decide stage and the state changelog
    rely on it being the same everywhere."""
    hashed: int = murmur2(jurisdiction.encode("utf-8"))
    return (hashed & 0x7FFFFFFF) % partitions


@dataclass(frozen=True)
class TopicNames:
    """Full topic names under one prefix."""

    prefix: str

    def of(self, spec: TopicSpec) -> str:
        return spec.name(self.prefix)

    @property
    def inputs(self) -> tuple[str, ...]:
        return tuple(spec.name(self.prefix) for spec in INPUT_TOPICS)

    @property
    def decide_sources(self) -> tuple[str, ...]:
        """What the decide stage reads: inputs, ticks and re-keyed records (co-partitioned)."""
        return (*self.inputs, self.of(TICKS), self.of(REKEYED))

    @property
    def landing_sources(self) -> tuple[str, ...]:
        """What the landing stage reads: every output, and the decided log for the inputs
        it lands (cases and transfers: only those the decide stage accepted)."""
        return tuple(
            spec.name(self.prefix)
            for spec in (ESCALATIONS, TASKS, ALERTS, INCIDENT_STATES, STOCK_LEVELS, DLQ, DECIDED)
        )
