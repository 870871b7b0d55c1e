"""Event time as integer microseconds since the Unix epoch.

The core never reads a clock: every instant comes from an event's ``occurred_at`` or a
tick's ``tick_at``. Integers keep window arithmetic exact (``last_case + quiet_period``
compares equal to a tick an operator computed with ``timedelta``), which floats do not.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)
SECOND = 1_000_000
MINUTE = 60 * SECOND
HOUR = 60 * MINUTE
DAY = 24 * HOUR
NEVER = 1 << 62  # later than any event; "this condition never stops holding by itself"


def to_us(instant: datetime) -> int:
    """Microseconds since the epoch of an aware datetime (exact)."""
    span = instant - EPOCH  # the fields of a timedelta are cheaper than dividing it
    return (span.days * 86_400 + span.seconds) * SECOND + span.microseconds


def from_us(us: int) -> datetime:
    """The aware UTC datetime of ``us`` microseconds since the epoch."""
    return EPOCH + MICROSECOND * us  # cheaper than timedelta(microseconds=us), as exact


def days_to_us(days: float) -> int:
    """A duration in days as whole microseconds."""
    return round(days * DAY)
