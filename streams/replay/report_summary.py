"""The first thing a chief reads in an after-action report: what the review covers and
how the response went, in a few figures, then one line per incident.

Pure functions of the assembled report's sections (no I/O). Figures:

- **range**: the first and last event time in the review's record;
- **incidents**: how many, how many reached a tier, the **peak tier** and where;
- **tasks**: issued, acked late, never acked past their due time;
- **decision latency** of the live run (``decided_at − effective_at``), median and
  worst, only where meaningful (:func:`streams.replay.diff.latency_meaningful`);
- **decision lag** (recommendation → declaration), median and worst over the declarations;
- **diff**: how many tier changes differ from the reference and how many are the same.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from streams.core.rulebook import TIER_RANK
from streams.replay.diff import (
    TierChange,
    TierChangeDiff,
    decision_latency,
    latency_meaningful,
)
from streams.replay.report_decisions import DecisionLags


@dataclass(frozen=True)
class IncidentLine:
    """One incident in the summary table."""

    name: str
    incident_id: str
    peak: str | None  # highest tier reached in the review (None: never had one)
    first_at: datetime | None  # its first tier
    latest: tuple[datetime, str | None] | None  # its last tier change (None tier: stood down)
    tasks: int
    late: int  # acked after their due time
    unacked: int  # past due, never acked


@dataclass(frozen=True)
class Latency:
    """The live run's decision latency, or why it is not shown."""

    median: timedelta | None = None  # the upper median
    worst: timedelta | None = None
    decisions: int = 0
    why_not: str = ""


@dataclass(frozen=True)
class Summary:
    start: datetime | None
    end: datetime | None
    incidents: list[IncidentLine]
    peak: str | None
    latency: Latency
    differ: int | None = None  # None: no diff asked for
    same: int | None = None
    decision: DecisionLags = field(default_factory=DecisionLags)  # recommended -> declared

    @property
    def late(self) -> int:
        return sum(line.late for line in self.incidents)

    @property
    def unacked(self) -> int:
        return sum(line.unacked for line in self.incidents)

    @property
    def tasks(self) -> int:
        return sum(line.tasks for line in self.incidents)

    @property
    def tiered(self) -> int:
        return sum(1 for line in self.incidents if line.peak is not None)

    @property
    def peak_incidents(self) -> list[str]:
        return [line.name for line in self.incidents if self.peak and line.peak == self.peak]


def peak_tier(tiers: Sequence[str | None]) -> str | None:
    """The highest of ``tiers`` (I above IV), None when there is none."""
    ranked = [t for t in tiers if t in TIER_RANK]
    return max(ranked, key=lambda t: TIER_RANK[t]) if ranked else None


def live_latency(
    reference: Sequence[TierChange] | None, against: str | None, limit: timedelta
) -> Latency:
    """Median and worst decision latency of the live reference run, or why not."""
    if reference is None or against != "live":
        return Latency(why_not="measured only against the live run (review report --against live)")
    latencies = [lat for c in reference if (lat := decision_latency(c)) is not None]
    if not latencies:
        return Latency(why_not="the live run recorded no decision times")
    if not latency_meaningful(reference, limit):
        return Latency(
            why_not=f"not meaningful here: even the fastest live decision came "
            f"{_hours(min(latencies))} after its event time (more than the {_hours(limit)} "
            "reporting limit), so these events were published after the fact and a latency "
            "would measure that delay, not the decision"
        )
    ordered = sorted(latencies)
    return Latency(ordered[len(ordered) // 2], ordered[-1], len(ordered))


def _hours(delta: timedelta) -> str:
    hours = delta.total_seconds() / 3600
    return f"{hours:,.0f} h" if hours >= 10 else f"{hours:.1f} h"


def diff_counts(rows: Sequence[TierChangeDiff] | None) -> tuple[int | None, int | None]:
    """(differ, same) of a diff; (None, None) without one."""
    if rows is None:
        return None, None
    same = sum(1 for d in rows if d.verdict == "same")
    return len(rows) - same, same
