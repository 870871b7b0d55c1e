"""The pipeline as the command room sees it: the DLQ grouped by kind of problem, and the
workers' heartbeats (how fresh the command view is). Read as the read-only user."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from clickhouse_connect.driver.client import Client

from sinks.command_view import named_rows

# The DLQ by kind of problem, as the read-only user: the reason up to its detail
# (``bad timestamp in occurred_at: '…'`` → ``bad timestamp in occurred_at``), the field,
# how many, and the latest few with where they came from. Never the record's bytes
# (value_b64): those are for the people who repair records, not for the room.
DLQ_KIND = r"replaceRegexpOne(reason, '(: | \\().*$', '')"

DLQ_SUMMARY = f"""
SELECT {DLQ_KIND} AS kind, field, count() AS records, max(rejected_at) AS latest_at
FROM rejected_events FINAL
GROUP BY kind, field
ORDER BY records DESC, kind, field
"""

DLQ_EXAMPLES = f"""
SELECT {DLQ_KIND} AS kind, field, reason, topic, `partition`, `offset`, rejected_at
FROM rejected_events FINAL
ORDER BY rejected_at DESC NULLS LAST, topic, `partition`, `offset` DESC
LIMIT {{examples:UInt32}} BY kind, field
"""


@dataclass(frozen=True)
class DlqKind:
    """One kind of rejection: how many records, the latest ``examples`` of them."""

    kind: str
    field: str | None
    records: int
    latest_at: Any
    examples: list[dict[str, Any]]


def read_dlq(client: Client, examples: int = 3) -> list[DlqKind]:
    """The DLQ of the client's database grouped by kind, most frequent first."""
    found: dict[tuple[str, str | None], list[dict[str, Any]]] = {}
    for row in named_rows(client, DLQ_EXAMPLES, {"examples": examples}):
        found.setdefault((row["kind"], row["field"]), []).append(row)
    return [
        DlqKind(
            r["kind"],
            r["field"],
            int(r["records"]),
            r["latest_at"],
            found.get((r["kind"], r["field"]), []),
        )
        for r in named_rows(client, DLQ_SUMMARY)
    ]


# Workers that beat within the last day, newest first; the server's clock says how old
# each beat is (the board's machine may not share the worker's clock).
WORKER_HEARTBEATS = """
SELECT worker_id, stages, topic_prefix, at, interval_s, decide_lag, waiting_s,
       last_decision_at, last_commit_at, land_lag, last_landed_at,
       dateDiff('millisecond', at, now64(3)) / 1000 AS age_s
FROM worker_heartbeats FINAL
WHERE at > now64(3) - INTERVAL 1 DAY
ORDER BY at DESC
"""
# A worker is "up" while it missed fewer than this many beats (plus a little slack).
MISSED_BEATS = 3


@dataclass(frozen=True)
class WorkerHealth:
    """The workers' heartbeats as of the server's ``as_of``: ``up`` beat within
    :data:`MISSED_BEATS` of their interval, ``stale`` did not (stopped, or died); each a
    row of ``worker_heartbeats`` with ``age_s`` (seconds since its beat)."""

    as_of: datetime
    up: list[dict[str, Any]]
    stale: list[dict[str, Any]]

    @property
    def decide_lag(self) -> int | None:
        """Records waiting for the decide stage of the workers up (None: none decides)."""
        lags = [w["decide_lag"] for w in self.up if w["decide_lag"] is not None]
        return sum(lags) if lags else None

    @property
    def land_lag(self) -> int | None:
        """Records waiting for the landing of the workers up (None: none lands)."""
        lags = [w["land_lag"] for w in self.up if w["land_lag"] is not None]
        return sum(lags) if lags else None

    def latest(self, column: str) -> datetime | None:
        """The newest ``last_decision_at`` / ``last_commit_at`` / ``last_landed_at`` of
        any worker seen (up or stale)."""
        times = [w[column] for w in (*self.up, *self.stale) if w[column] is not None]
        return max(times, default=None)


def worker_health(client: Client) -> WorkerHealth:
    """The freshness of the client's database: which workers beat lately and how far
    behind they are (table ``worker_heartbeats``, landed by the workers themselves)."""
    as_of = client.query("SELECT now64(3)").result_rows[0][0]
    up: list[dict[str, Any]] = []
    stale: list[dict[str, Any]] = []
    for row in named_rows(client, WORKER_HEARTBEATS):
        alive = row["age_s"] <= MISSED_BEATS * row["interval_s"] + 2
        (up if alive else stale).append(row)
    return WorkerHealth(as_of, up, stale)
