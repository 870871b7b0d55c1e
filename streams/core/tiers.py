"""The tier timeline of one track, computed from event time, never from arrival.

Definitions (the contract the shells and the rulebook rely on):

* ``R(t)``: the highest tier among the rules that hold at ``t``, evaluated on the cases
  and reports with time ``<= t``. It can only rise at a *point* (a confirmation time, a
  report time, or, for a track whose rules read ``icu_occupancy``, an instant some site
  reported its ICU beds); between points windows only lose cases, so it never rises.
* Escalation is immediate: at a point where ``R(t)`` exceeds the current tier, the tier
  becomes ``R(t)`` effective at ``t``.
* De-escalation needs the quiet period ``Q`` (the disease's max incubation, 0 for
  incidents without a disease): with ``L`` the last confirmation time, the tier drops to
  ``R(d)`` at ``d = max(L + Q, the instant every rule of the current tier stops
  holding)`` — and only once the watermark (latest event or tick time seen) reaches
  ``d``; a new case at or before ``d`` cancels it. An agency's ``closed`` report (or a
  CAP ``Cancel``) stands the incident down at once, until a later confirmed case.
* A change at time ``t`` (a late case, a removal, a report) drops the entries at or after
  ``t`` and recomputes forward from ``t`` only.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right

from streams.core.compiled import CRule
from streams.core.eventtime import DAY, NEVER
from streams.core.icu_line import IcuLine
from streams.core.rulebook_checks import ICU_OCCUPANCY
from streams.core.state import NO_TIME, Entry, Track
from streams.core.tier_metrics import icu_evidence, metric_value, report_at, stop_time

Pair = tuple[int, Entry]  # (the rank the entry leaves, the entry): what an escalation says


def _closed(track: Track, t: int) -> bool:
    """An agency closed the incident at or before ``t`` and no case was confirmed since."""
    i = report_at(track, t)
    if i < 0 or not track.reports[i][6]:
        return False
    return bisect_right(track.times, t) == bisect_right(track.times, track.reports[i][0])


def _holds(track: Track, rule: CRule, t: int, icu: IcuLine | None) -> bool:
    # a loop, not all() over a generator (which costs more than the 1-2 conditions a rule has)
    for cond in rule.conds:  # noqa: SIM110
        if metric_value(track, cond, t, icu) < cond.threshold:
            return False
    return True


def tier_at(
    track: Track, rules: tuple[CRule, ...], t: int, icu: IcuLine | None = None
) -> tuple[int, tuple[str, ...]]:
    """``R(t)`` and the ids of the rules of that tier that hold (rules sorted by tier)."""
    if track.reports and _closed(track, t):
        return 0, ()
    best, ids = 0, []
    values: dict[str, float] = {}  # rules of one disease share metrics: evaluate each once
    for rule in rules:
        if rule.rank < best:
            break
        for cond in rule.conds:
            value = values.get(cond.label)
            if value is None:
                value = values[cond.label] = metric_value(track, cond, t, icu)
            if value < cond.threshold:
                break
        else:
            best = rule.rank
            ids.append(rule.rule_id)
    return best, tuple(sorted(ids)) if len(ids) > 1 else tuple(ids)


def _evidence(
    track: Track,
    rules: tuple[CRule, ...],
    t: int,
    rule_ids: tuple[str, ...],
    icu: IcuLine | None,
) -> dict[str, float]:
    """Metric values at ``t`` of the rules that hold (of every rule when none does), and
    the ICU's free and baseline beds when one of them reads its occupancy."""
    out: dict[str, float] = {}
    for rule in rules:
        if not rule_ids or rule.rule_id in rule_ids:
            for cond in rule.conds:
                out[cond.label] = float(metric_value(track, cond, t, icu))
                if cond.metric == ICU_OCCUPANCY:
                    out.update(icu_evidence(icu, t))
    return out


def _newest_point(track: Track, t0: int, icu: IcuLine | None) -> bool:
    """A confirmation at ``t0`` is the track's newest point, alone at its instant, after
    every entry, with no de-escalation due before it (and no ICU instant after it)."""
    line, times = track.timeline, track.times
    return not (
        not times
        or (icu is not None and icu.newest() > t0)
        or times[-1] != t0
        or (line and line[-1][0] >= t0)
        or (track.report_t and track.report_t[-1] >= t0)
        or track.pending <= t0
        or (len(times) > 1 and times[-2] == t0)
    )


def same_tier_newest_case(
    track: Track,
    rules: tuple[CRule, ...],
    quiet: int,
    watermark: int,
    t0: int,
    *,
    icu: IcuLine | None = None,
) -> bool:
    """The most common event, without building a :class:`Timeline`: a confirmation at
    ``t0`` that is the newest point and leaves the tier as it is. Then only the time to
    look at de-escalation again moves; returns True. Returns False, having changed
    nothing, when the timeline must be worked out (:meth:`Timeline.newest_case`)."""
    if not _newest_point(track, t0, icu):
        return False
    line = track.timeline
    current = line[-1][1] if line else 0
    if tier_at(track, rules, t0, icu)[0] != current:
        return False
    if current:
        due = t0 + quiet
        if due <= watermark:
            return False  # a de-escalation may be due already: settle it
        track.pending = due
    return True


class Timeline:
    """Recomputes a track's timeline; ``added`` and ``dropped`` report the difference as
    (rank before, entry) pairs: an entry counts as unchanged only if the tier it leaves
    is unchanged too."""

    __slots__ = ("added", "dropped", "icu", "quiet", "rules", "track", "watermark")

    def __init__(
        self,
        track: Track,
        rules: tuple[CRule, ...],
        quiet: int,
        watermark: int,
        icu: IcuLine | None = None,
    ) -> None:
        self.track, self.rules, self.quiet, self.watermark = track, rules, quiet, watermark
        self.icu = icu  # the jurisdiction's ICU beds, when the rules read their occupancy
        self.added: list[Pair] = []
        self.dropped: list[Pair] = []

    def recompute_from(self, t0: int) -> None:
        """Drop entries at or after ``t0`` and recompute from ``t0`` to the watermark."""
        track = self.track
        line = track.timeline
        if self._newest_point_only(t0):
            # what the general path below comes to when nothing lies at or after t0 but
            # the point itself (a new report, mostly): no entry to drop, nothing to settle
            # before t0, one point
            self._at_point(t0)
            self._settle(t0, NEVER)
            return
        cut = bisect_left(line, (t0,))
        before = line[cut - 1][1] if cut else 0
        old = list(zip([before] + [e[1] for e in line[cut:]], line[cut:], strict=False))
        del line[cut:]
        # de-escalations due before t0 that the watermark had not reached yet
        times, report_t = track.times, track.report_t
        i, j = bisect_left(times, t0), bisect_left(report_t, t0)
        lo = max(
            times[i - 1] if i else NO_TIME,
            report_t[j - 1] if j else NO_TIME,
            line[-1][0] if line else NO_TIME,
            self.icu.last_before(t0) if self.icu is not None else NO_TIME,
        )
        # Every de-escalation before the newest point is settled (points never pass the
        # watermark) and ``pending`` is a lower bound of the next one: none can be due
        # before t0 unless pending is.
        if lo > NO_TIME and track.pending < t0:
            self._settle(lo, t0)
        lo = t0
        for point in self._points(t0):
            self._settle(lo, point)
            self._at_point(point)
            lo = point
        self._settle(lo, NEVER)
        new = self.added
        self.added = [pair for pair in new if pair not in old]
        self.dropped = [pair for pair in old if pair not in new]

    def _newest_point_only(self, t0: int) -> bool:
        """Every entry is before ``t0``, ``t0`` is the latest point (a case or a report,
        or both) and no de-escalation is due before it."""
        track = self.track
        line, times, report_t = track.timeline, track.times, track.report_t
        if (line and line[-1][0] >= t0) or track.pending < t0:
            return False
        newest = max(times[-1] if times else NO_TIME, report_t[-1] if report_t else NO_TIME)
        if self.icu is not None:
            newest = max(newest, self.icu.newest())
        return newest == t0 > NO_TIME

    def newest_case(self, t0: int) -> bool:
        """Fast path for the common event: a confirmation at ``t0`` that is the newest
        point, after every entry, with no de-escalation due before it. Returns False
        (having changed nothing) when the general :meth:`recompute_from` is needed."""
        track = self.track
        if not _newest_point(track, t0, self.icu):
            return False
        line = track.timeline
        current = line[-1][1] if line else 0
        rank, ids = tier_at(track, self.rules, t0, self.icu)
        if rank < current:
            return False
        if rank > current:
            self._append(t0, rank, ids, _evidence(track, self.rules, t0, ids, self.icu))
        if rank:
            due = t0 + self.quiet
            track.pending = due if due > self.watermark else min(track.pending, due)
            if due <= self.watermark:
                self._settle(t0, NEVER)
        return True

    def advance(self) -> None:
        """The watermark moved past ``track.pending``: settle from there."""
        line = self.track.timeline
        self._settle(max(self.track.pending, line[-1][0] if line else NO_TIME), NEVER)

    def _points(self, t0: int) -> list[int]:
        track = self.track
        times, report_t = track.times, track.report_t
        if (
            self.icu is None
            and (not times or times[-1] <= t0)
            and (not report_t or report_t[-1] <= t0)
        ):
            # the common case: the change is the newest point
            return [t0] if (times and times[-1] == t0) or (report_t and report_t[-1] == t0) else []
        pts = set(times[bisect_left(times, t0) :])
        pts.update(report_t[bisect_left(report_t, t0) :])
        if self.icu is not None:
            pts |= self.icu.points_from(t0)
        return sorted(pts)

    def _append(self, t: int, rank: int, ids: tuple[str, ...], evidence: dict[str, float]) -> None:
        entry: Entry = (t, rank, ids, evidence)
        self.added.append((self.track.tier_rank, entry))
        self.track.timeline.append(entry)

    def _last_case(self, t: int) -> int | None:
        i = bisect_right(self.track.times, t)
        return self.track.times[i - 1] if i else None

    def _at_point(self, t: int) -> None:
        track = self.track
        current = track.tier_rank
        rank, ids = tier_at(track, self.rules, t, self.icu)
        if rank > current:
            self._append(t, rank, ids, _evidence(track, self.rules, t, ids, self.icu))
        elif rank < current:
            last = self._last_case(t)
            if _closed(track, t) or last is None or t - last >= self.quiet:
                self._append(t, rank, ids, self._stand_down_evidence(t, ids, last))

    def _stand_down_evidence(
        self,
        t: int,
        ids: tuple[str, ...],
        last: int | None,
    ) -> dict[str, float]:
        evidence = _evidence(self.track, self.rules, t, ids, self.icu)
        if last is not None:
            evidence["quiet_days"] = (t - last) / DAY
        return evidence

    def _settle(self, lo: int, hi: int) -> None:
        """De-escalations with effective time in ``[lo, hi)`` and at most the watermark;
        no point lies strictly between ``lo`` and ``hi``."""
        track = self.track
        track.pending = NEVER
        while (current := track.tier_rank) > 0:
            last = self._last_case(lo)
            due = lo if last is None else max(lo, last + self.quiet)
            if due >= hi:
                return
            if due > self.watermark:
                track.pending = due  # look again when time gets there
                return
            # a rule stops with its first condition; the tier drops once all have stopped
            due = max(
                [due]
                + [
                    min(stop_time(track, c, due, self.icu) for c in rule.conds)
                    for rule in self.rules
                    if rule.rank >= current and _holds(track, rule, due, self.icu)
                ]
            )
            if due >= hi:
                return
            if due > self.watermark:
                track.pending = due
                return
            rank, ids = tier_at(track, self.rules, due, self.icu)
            self._append(due, rank, ids, self._stand_down_evidence(due, ids, last))
            lo = due
