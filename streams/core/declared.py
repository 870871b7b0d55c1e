"""The declared tier beside the recommended one: pure functions of a track's two timelines.

The rules *recommend* (``Track.timeline``); an authorised agency *declares*
(``Track.decls``, every declaration seen, sorted by (event time, event_id)). Both are
joins of the events, so everything below is the same for any arrival order.

* The declared timeline: the declarations that change the declared tier, in order (a
  repeated declaration of the tier in force changes nothing; ``none`` stands down).
* Decision lag of a declared change to tier T at ``d``: ``d`` minus the effective time of
  the latest recommended change to T at or before ``d`` (None: T was never recommended
  by then, i.e. the leading group declared ahead of the rules).
* A *gap*: a maximal stretch in which the declared tier is lower than the recommended one
  (stand-down counts as lowest). One longer than the rulebook's limit is
  ``declaration_overdue`` at ``start + limit``.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from typing import NamedTuple

from streams.core.alerts import alert
from streams.core.state import Declaration, Namespace, Track
from streams.core.tasks import TIER_BY_RANK
from streams.core.tiers import Pair
from topics.outputs import Alert


class DeclaredChange(NamedTuple):
    previous: int  # rank before (0: none)
    at: int  # event time of the declaration
    rank: int  # rank declared (0: stood down)
    agency_id: str
    reason: str


class Gap(NamedTuple):
    start: int
    end: int | None  # None: still open
    recommended: int  # the recommended rank at its start
    declared: int  # the declared rank at its start


def declared_changes(decls: Sequence[Declaration]) -> list[DeclaredChange]:
    """The declarations that changed the declared tier, in event-time order."""
    changes: list[DeclaredChange] = []
    current = 0
    for t, _, rank, agency_id, reason in decls:
        if rank != current:
            changes.append(DeclaredChange(current, t, rank, agency_id, reason))
            current = rank
    return changes


def decision_lag(
    timeline: Sequence[tuple[int, int, object, object]], change: DeclaredChange
) -> int | None:
    """Microseconds from the recommendation of ``change``'s tier to the declaration."""
    for entry in reversed(timeline[: bisect_right([e[0] for e in timeline], change.at)]):
        if entry[1] == change.rank:
            return change.at - entry[0]
    return None


def gaps(track: Track) -> list[Gap]:
    """The stretches in which the declared tier is below the recommended one."""
    points = sorted(
        [(e[0], 0, e[1]) for e in track.timeline]
        + [(c.at, 1, c.rank) for c in declared_changes(track.decls)]
    )
    found: list[Gap] = []
    rec = dec = 0
    start: tuple[int, int, int] | None = None
    i = 0
    while i < len(points):
        t = points[i][0]
        while i < len(points) and points[i][0] == t:  # every change at one instant at once
            _, which, rank = points[i]
            rec, dec = (rank, dec) if which == 0 else (rec, rank)
            i += 1
        if dec < rec and start is None:
            start = (t, rec, dec)
        elif dec >= rec and start is not None:
            found.append(Gap(start[0], t, start[1], start[2]))
            start = None
    if start is not None:
        found.append(Gap(start[0], None, start[1], start[2]))
    return found


def overdue_gaps(track: Track, limit: int, watermark: int) -> tuple[list[Gap], int | None]:
    """The gaps longer than ``limit`` whose deadline (start + limit) the watermark has
    passed, with the ranks recommended and declared at the deadline, and the next deadline
    still ahead (None: none)."""
    late: list[Gap] = []
    ahead: int | None = None
    changes = declared_changes(track.decls)
    for gap in gaps(track):
        due = gap.start + limit
        if gap.end is not None and gap.end <= due:
            continue
        if due < watermark:
            rec = next((e[1] for e in reversed(track.timeline) if e[0] <= due), 0)
            dec = next((c.rank for c in reversed(changes) if c.at <= due), 0)
            late.append(Gap(gap.start, gap.end, rec, dec))
        elif ahead is None or due < ahead:
            ahead = due
    return late, ahead


def recommended_alert(
    ns: Namespace, jurisdiction: str, inc: str, pair: Pair, *, gone: bool
) -> Alert:
    """``tier_recommended``: the rules recommend a new tier; the leading group assesses it."""
    prev, (t, rank, rule_ids, evidence) = pair
    tier, previous = TIER_BY_RANK[rank], TIER_BY_RANK[prev]
    shown = tier or "stand down"
    return alert(
        ns,
        jurisdiction,
        "tier_recommended",
        "orange" if rank > prev else "blue",
        about=(inc, t, rank, prev, *rule_ids),
        at=t,
        message=f"rules recommend {shown} (was {previous or 'none'}): {', '.join(rule_ids)}",
        details={
            "tier": tier,
            "previous_tier": previous,
            "rule_ids": list(rule_ids),
            "evidence": evidence,
        },
        subject=inc,
        incident=inc,
        gone=gone,
    )


def declared_now(track: Track, auto: bool) -> tuple[int, int | None, str | None, int | None]:
    """(rank, declared at, by, decision lag) of the declared tier in force; with
    ``auto`` the recommendation is the declaration (no one, no lag)."""
    if auto:
        line = track.timeline
        return (line[-1][1], line[-1][0], None, None) if line else (0, None, None, None)
    changes = declared_changes(track.decls)
    if not changes:
        return 0, None, None, None
    last = changes[-1]
    return last.rank, last.at, last.agency_id, decision_lag(track.timeline, last)
