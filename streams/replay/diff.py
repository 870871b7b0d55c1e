"""Compare two tier timelines: what a review run decided against a reference run.

A tier change is matched across runs by (incident, tier reached, occurrence): the first
time an incident reached Tier II in one run is compared with the first time it reached
Tier II in the other, the second with the second, and so on. The comparison says whether
the review reached it earlier, later, at the same instant, or not at all ("missing"),
or reached a tier the reference never did ("extra").
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

Verdict = Literal["same", "earlier", "later", "missing", "extra"]


@dataclass(frozen=True)
class TierChange:
    """One row of a tier timeline as landed (``tier`` None: stood down)."""

    incident_id: str
    effective_at: datetime
    tier: str | None
    rule_ids: tuple[str, ...]
    decided_at: datetime | None = None


@dataclass(frozen=True)
class TierChangeDiff:
    incident_id: str
    tier: str | None
    occurrence: int  # 1 for the first time this tier was reached, 2 for the second …
    verdict: Verdict
    review: TierChange | None
    reference: TierChange | None

    @property
    def shift(self) -> timedelta | None:
        """review − reference effective time (negative: the review decided earlier)."""
        if self.review is None or self.reference is None:
            return None
        return self.review.effective_at - self.reference.effective_at


def _numbered(changes: Iterable[TierChange]) -> dict[tuple[str, str | None, int], TierChange]:
    seen: dict[tuple[str, str | None], int] = defaultdict(int)
    out = {}
    for change in sorted(changes, key=lambda c: (c.incident_id, c.effective_at)):
        seen[(change.incident_id, change.tier)] += 1
        out[(change.incident_id, change.tier, seen[(change.incident_id, change.tier)])] = change
    return out


def _verdict(review: TierChange | None, reference: TierChange | None) -> Verdict:
    if review is None:
        return "missing"
    if reference is None:
        return "extra"
    if review.effective_at < reference.effective_at:
        return "earlier"
    if review.effective_at > reference.effective_at:
        return "later"
    return "same"


def diff_timelines(
    review: Iterable[TierChange], reference: Iterable[TierChange]
) -> list[TierChangeDiff]:
    """Every tier change of either run with its verdict, ordered by incident then time."""
    ours, theirs = _numbered(review), _numbered(reference)
    diffs = [
        TierChangeDiff(
            key[0],
            key[1],
            key[2],
            _verdict(ours.get(key), theirs.get(key)),
            ours.get(key),
            theirs.get(key),
        )
        for key in ours.keys() | theirs.keys()
    ]

    def at(d: TierChangeDiff) -> datetime:
        change = d.reference or d.review
        assert change is not None
        return change.effective_at

    return sorted(diffs, key=lambda d: (d.incident_id, at(d), str(d.tier)))


def within(changes: Iterable[TierChange], start: datetime, end: datetime) -> list[TierChange]:
    """The changes effective in ``[start, end)``: a review of a range is compared with the
    reference over that range only."""
    return [c for c in changes if start <= c.effective_at < end]


def decision_latency(change: TierChange) -> timedelta | None:
    """How long after the condition held the live run decided (``decided_at − effective_at``)."""
    if change.decided_at is None:
        return None
    return change.decided_at - change.effective_at


def format_shift(delta: timedelta | None) -> str:
    """A signed duration as ``+3h05m00s`` / ``-0h20m00s`` (``-`` when there is none)."""
    if delta is None:
        return "-"
    seconds = int(delta.total_seconds())
    sign = "-" if seconds < 0 else "+"
    hours, rest = divmod(abs(seconds), 3600)
    return f"{sign}{hours}h{rest // 60:02d}m{rest % 60:02d}s"


def latency_meaningful(changes: Iterable[TierChange], limit: timedelta) -> bool:
    """Whether the decision latencies of a live run mean something.

    ``decided_at − effective_at`` measures how fast the pipeline decided only when the
    events reached it as they happened. Events published after the fact (back-dated data
    such as the scenarios, a backfill of old files) are decided when they arrive, so every
    latency then measures the publication delay instead ("+6622h"). The rule: a run whose
    *fastest* decision came within ``limit`` (the rulebook's reporting limit: an agency may
    take that long to report) ran live, and all its latencies are shown, slow ones
    included (a stalled worker is a real lag); a run whose fastest decision took longer
    was fed after the fact, and none is shown."""
    latencies = [lat for c in changes if (lat := decision_latency(c)) is not None]
    return bool(latencies) and min(latencies) <= limit
