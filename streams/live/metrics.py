"""The worker's Prometheus metrics (served on ``settings.metrics_port``).

Counters are incremented once per batch and label set, never per record. Consumer lag,
the age of the last commit and how long records have waited are per consumer group and
partition: a consumer that stalls silently shows as lag > 0 with a waiting time that keeps
growing (an idle partition's commit age grows too, with nothing waiting).
"""

from __future__ import annotations

import time
from collections import Counter as Tally
from collections.abc import Callable, Collection, Iterable
from contextlib import suppress
from dataclasses import dataclass

from prometheus_client import Counter, Gauge, Histogram

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
JOURNAL_WRITE_SECONDS = Histogram(
    "tierflow_decide_journal_seconds",
    "Time to write one batch's decide-journal entries, each committed in its partition's "
    "own transaction; the decide stage decides the batch only after it",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0),
)
STATE_FLUSH_SECONDS = Histogram(
    "tierflow_state_flush_seconds",
    "Time to encode the changed jurisdiction states into the state table before a commit",
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
COMMIT_SECONDS = Histogram(
    "tierflow_decide_commit_seconds",
    "Time of one decide commit: the changed states flushed, and every partition's "
    "transaction (states and offsets) committed, sent while the next batches are decided",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
MEMORY_TRIM_SECONDS = Histogram(
    "tierflow_memory_trim_seconds",
    "Time to give the C allocator's free pages back to the system after a decide commit",
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25),
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
WAITING = Gauge(
    "tierflow_records_waiting_seconds",
    "How long the records waiting on this partition have waited with no commit (0: none"
    " waiting); the decide stage's watchdog exits past TIERFLOW_WORKER_STALL_EXIT_S",
    ["group", "topic", "partition"],
)


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


def count_escalation(tier: str, status: str) -> None:
    ESCALATIONS.labels(tier, status).inc()


def set_event_time_lag(topic: str, seconds: float) -> None:
    EVENT_TIME_LAG.labels(topic).set(seconds)


@dataclass
class _Partition:
    """What a :class:`CommitTracker` knows of one partition."""

    committed: int | None
    lag: int
    committed_at: float  # when the committed offset last moved (or tracking began)
    # When the records now waiting began to wait: the later of the last commit and the
    # first refresh that saw records waiting after none were.
    waiting_since: float


class CommitTracker:
    """Lag, commit age and waiting time of one consumer group's partitions. A commit is
    noticed as a change of the committed offset between two refreshes (a few seconds
    apart), records waiting as lag > 0 (high watermark beyond the committed offset).

    A partition that sat idle has an old commit but nothing waiting; its first new record
    starts a fresh wait. So :meth:`stalled` measures how long records have waited without
    a commit, never how long a partition was quiet (a worker must survive a quiet night).
    """

    def __init__(self, group: str, clock: Callable[[], float] = time.monotonic) -> None:
        self.group = group
        self.clock = clock
        self._seen: dict[tuple[str, int], _Partition] = {}
        self._last_commit: float | None = None  # when a committed offset last moved

    def refresh(self, offsets: Iterable[tuple[tuple[str, int], int | None, int | None]]) -> None:
        """Set the gauges from ``((topic, partition), high watermark, committed offset)``
        for the partitions the group holds now (None: not known yet); partitions it no
        longer holds are forgotten (their records are another worker's to wait for)."""
        now = self.clock()
        held: set[tuple[str, int]] = set()
        for tp, highwater, committed in offsets:
            held.add(tp)
            labels = (self.group, tp[0], str(tp[1]))
            seen = self._seen.get(tp) or _Partition(None, 0, now, now)
            if committed is not None and committed != seen.committed:
                seen.committed_at = now
                if tp in self._seen:  # a move we saw, not an offset found at the start
                    self._last_commit = now
            lag = seen.lag if highwater is None else max(highwater - (committed or 0), 0)
            if seen.lag == 0 or seen.committed_at == now:
                # nothing waited at the last refresh, or a commit moved on since: what
                # waits now has waited since this refresh at most
                seen.waiting_since = now
            seen.committed, seen.lag = committed, lag
            self._seen[tp] = seen
            if highwater is not None:
                CONSUMER_LAG.labels(*labels).set(lag)
            COMMIT_AGE.labels(*labels).set(now - seen.committed_at)
            WAITING.labels(*labels).set(now - seen.waiting_since if lag > 0 else 0)
        for tp in self._seen.keys() - held:  # moved to another worker by a rebalance
            del self._seen[tp]
            for gauge in (CONSUMER_LAG, COMMIT_AGE, WAITING):
                with suppress(KeyError):
                    gauge.remove(self.group, tp[0], str(tp[1]))

    def stalled(self, topics: Collection[str], older_than: float) -> list[tuple[str, int]]:
        """Partitions of ``topics`` whose records have waited more than ``older_than``
        seconds with no commit: a consumer that stopped without a word."""
        now = self.clock()
        return sorted(
            tp
            for tp, seen in self._seen.items()
            if tp[0] in topics and seen.lag > 0 and now - seen.waiting_since > older_than
        )

    def longest_wait(self, topics: Collection[str] | None = None) -> float:
        """Seconds the longest-waiting records (of ``topics``) have waited with no commit
        (0: nothing waits)."""
        now = self.clock()
        waits = [
            now - s.waiting_since
            for tp, s in self._seen.items()
            if s.lag > 0 and (topics is None or tp[0] in topics)
        ]
        return max(waits, default=0.0)

    def lag(self, topics: Collection[str] | None = None) -> int:
        """Records waiting on the partitions (of ``topics``) at the last refresh."""
        return sum(s.lag for tp, s in self._seen.items() if topics is None or tp[0] in topics)

    def last_commit_age(self) -> float | None:
        """Seconds since a committed offset of the group last moved (None: none moved
        since tracking began)."""
        return None if self._last_commit is None else self.clock() - self._last_commit
