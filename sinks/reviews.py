"""What a review covered: one row in its database's ``review_runs`` (migration 0004),
written when the review completes and read by ``tierflow review diff`` to compare that
range only."""

from __future__ import annotations

from dataclasses import astuple, dataclass, fields
from datetime import UTC, datetime

from clickhouse_connect.driver.client import Client


@dataclass(frozen=True)
class ReviewRun:
    """A review's source (``kafka`` or ``file``), event-time range ``[from_at, to_at)``
    and what its plan counted: records decided, records outside the range, events whose
    Kafka timestamp was not their event time, records with no event time."""

    review: str
    source: str
    from_at: datetime
    to_at: datetime
    records: int
    outside: int = 0
    restamped: int = 0
    undated: int = 0


_COLUMNS = [f.name for f in fields(ReviewRun)]


def record_review_run(client: Client, run: ReviewRun) -> None:
    """Note ``run`` in the client's database (the review's); a later run replaces it."""
    client.insert(
        "review_runs", [[*astuple(run), datetime.now(UTC)]], column_names=[*_COLUMNS, "ran_at"]
    )


def read_review_run(client: Client) -> ReviewRun | None:
    """The latest run noted in the client's database (None: none, e.g. the live one, or a
    review made before runs were noted)."""
    noted = client.query(
        "SELECT count() FROM system.tables"
        " WHERE database = currentDatabase() AND name = 'review_runs'"
    ).result_rows[0][0]
    if not noted:
        return None
    rows = client.query(
        f"SELECT {', '.join(_COLUMNS)} FROM review_runs FINAL ORDER BY ran_at DESC LIMIT 1"
    ).result_rows
    return ReviewRun(*rows[0]) if rows else None
