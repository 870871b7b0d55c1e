"""The worker's Prometheus metrics (served on ``settings.metrics_port``).

Counters are incremented once per batch and label set, never per record. Consumer lag and
the age of the last commit are per consumer group and partition: a consumer that stalls
silently shows as lag > 0 with a commit age that keeps growing.
"""

from __future__ import annotations

import time
from collections import Counter as Tally
from collections.abc import Callable, Collection, Iterable

from prometheus_client import Counter, Gauge, Histogram

from topics.models import Rejection

LAG_REFRESH_S = 2.0  # how often the lag and commit-age gauges are recomputed

RECORDS_CONSUMED = Counter(
    "tierflow_records_consumed",
    "Input records decoded by the decide stage",
    ["topic", "kind", "agency_type", "agency"],
)
RECORDS_REJECTED = Counter(
    "tierflow_records_rejected",
    "Input records sent to the DLQ, by reason class",
    ["topic", "reason"],
)
ESCALATIONS = Counter(
    "tierflow_escalations",
    "Tier changes decided (tier 'none' = stood down), by CAP status",
    ["tier", "status"],
)
OUTPUTS = Counter("tierflow_outputs", "Records the decide stage emitted", ["topic"])
SINK_BATCH_ROWS = Histogram(
    "tierflow_sink_batch_rows",
    "Rows per ClickHouse batch",
    ["table"],
    buckets=(1, 10, 50, 100, 500, 1_000, 5_000, 10_000, 50_000, 100_000),
)
SINK_BATCH_SECONDS = Histogram(
    "tierflow_sink_batch_seconds",
    "Time of one ClickHouse insert",
    ["table"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
SINK_RETRIES = Counter(
    "tierflow_sink_retries", "Landing batches retried because ClickHouse refused", ["error"]
)
SINK_PAUSED = Gauge("tierflow_sink_paused", "1 while landing is paused on a ClickHouse outage")
EVENT_TIME_LAG = Gauge(
    "tierflow_event_time_lag_seconds",
    "Processing time minus the newest occurred_at in the last batch, per input topic",
    ["topic"],
)
DECIDE_BATCH_SECONDS = Histogram(
    "tierflow_decide_batch_seconds",
    "Time the decide stage spent on one batch (decode, core, encode)",
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)
STATE_FLUSH_SECONDS = Histogram(
    "tierflow_state_flush_seconds",
    "Time to encode the changed jurisdiction states into the state table before a commit",
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
DECIDE_BATCH_RECORDS = Histogram(
    "tierflow_decide_batch_records",
    "Records per decide batch (small batches under load: per-batch costs dominate)",
    buckets=(1, 10, 100, 500, 1_000, 2_500, 5_000, 10_000, 20_000, 50_000),
)
CONSUMER_LAG = Gauge(
    "tierflow_consumer_lag_records",
    "High watermark minus committed offset",
    ["group", "topic", "partition"],
)
COMMIT_AGE = Gauge(
    "tierflow_last_commit_age_seconds",
    "Seconds since the group last committed this partition",
    ["group", "topic", "partition"],
)


def reason_class(rejection: Rejection) -> str:
    """A bounded label for a rejection: its reason up to the first value it quotes
    (``missing required field``, ``bad region code``, ``not JSON`` …)."""
    text = rejection.reason
    for stop in (":", "(", "'", '"'):
        cut = text.find(stop)
        if cut > 0:
            text = text[:cut]
    return text.strip()


def count_consumed(tally: Tally[tuple[str, str, str, str]]) -> None:
    for labels, n in tally.items():
        RECORDS_CONSUMED.labels(*labels).inc(n)


def count_outputs(topics: Iterable[str]) -> None:
    for topic, n in Tally(topics).items():
        OUTPUTS.labels(topic).inc(n)


def observe_sink_batch(table: str, rows: int, seconds: float) -> None:
    """The sink's per-insert observer."""
    SINK_BATCH_ROWS.labels(table).observe(rows)
    SINK_BATCH_SECONDS.labels(table).observe(seconds)


def count_rejected(tally: Tally[tuple[str, str]]) -> None:
    for labels, n in tally.items():
        RECORDS_REJECTED.labels(*labels).inc(n)


class CommitTracker:
    """Lag and commit age of one consumer group's partitions. A commit is noticed as a
    change of the committed offset between two refreshes (a few seconds apart)."""

    def __init__(self, group: str, clock: Callable[[], float] = time.monotonic) -> None:
        self.group = group
        self.clock = clock
        # (topic, partition) → (committed offset, when it last changed, lag)
        self._seen: dict[tuple[str, int], tuple[int | None, float, int]] = {}
        self._started = clock()

    def refresh(self, offsets: Iterable[tuple[tuple[str, int], int | None, int | None]]) -> None:
        """Set the gauges from ``((topic, partition), high watermark, committed offset)``
        for the partitions the group holds now (None: not known yet)."""
        now = self.clock()
        for tp, highwater, committed in offsets:
            labels = (self.group, tp[0], str(tp[1]))
            last, at, lag = self._seen.get(tp, (None, self._started, 0))
            if committed is not None and committed != last:
                at = now
            if highwater is not None:
                lag = max(highwater - (committed or 0), 0)
                CONSUMER_LAG.labels(*labels).set(lag)
            self._seen[tp] = (committed, at, lag)
            COMMIT_AGE.labels(*labels).set(now - at)

    def stalled(self, topics: Collection[str], older_than: float) -> list[tuple[str, int]]:
        """Partitions of ``topics`` with records waiting whose committed offset has not
        moved for ``older_than`` seconds: a consumer that stopped without a word."""
        now = self.clock()
        return sorted(
            tp
            for tp, (_, at, lag) in self._seen.items()
            if tp[0] in topics and lag > 0 and now - at > older_than
        )
