"""The tier timeline of one track, computed from event time, never from arrival.

Definitions (the contract the shells and the rulebook rely on):

* ``R(t)``: the highest tier among the rules that hold at ``t``, evaluated on the cases
  and reports with time ``<= t``. It can only rise at a *point* (a confirmation time or a
  report time); between points windows only lose cases, so it never rises.
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
from collections.abc import Iterator, Sequence
from math import ceil

from streams.core.compiled import Cond, CRule
from streams.core.eventtime import DAY, NEVER
from streams.core.state import NO_TIME, Entry, Track

Pair = tuple[int, Entry]  # (the rank the entry leaves, the entry): what an escalation says


def _report_at(track: Track, t: int) -> int:
    """Index of the latest report at or before ``t`` (-1: none)."""
    return bisect_right(track.report_t, t) - 1


def _window_count(times: Sequence[int], t: int, window: int | None) -> int:
    hi = bisect_right(times, t)
    return hi if window is None else hi - bisect_right(times, t - window)


def metric_value(track: Track, cond: Cond, t: int) -> float:
    """The value of ``cond``'s metric for ``track`` at event time ``t``."""
    metric = cond.metric
    if metric == "confirmed":
        if not cond.county:
            return _window_count(track.times, t, cond.window)
        return max(
            (_window_count(ts, t, cond.window) for ts in track.by_county.values()), default=0
        )
    if metric == "counties":
        lo = NO_TIME if cond.window is None else t - cond.window
        return sum(
            1 for ts in track.by_county.values() if (i := bisect_right(ts, t)) and ts[i - 1] > lo
        )
    if metric == "baseline_ratio":
        return max(
            (_window_count(ts, t, cond.window) / base for ts, base in _with_baseline(track, cond)),
            default=0,
        )
    if metric == "baseline_counties":
        ratio = cond.ratio or 0.0
        return sum(
            1
            for ts, base in _with_baseline(track, cond)
            if _window_count(ts, t, cond.window) >= ratio * base
        )
    i = _report_at(track, t)
    if metric == "declared":
        return 1 if i >= 0 else 0
    figures = casualties(track, i)
    if figures is None:
        return 0
    total, dead, critical = figures
    if metric == "casualties":
        return total
    if metric == "dead":
        return dead
    if metric == "critical":
        return critical
    return dead + critical  # dead_or_critical


def _with_baseline(track: Track, cond: Cond) -> Iterator[tuple[Sequence[int], float]]:
    """(confirmation times, weekly baseline) of each of the track's counties that has one."""
    baselines = cond.baselines or {}
    for county, ts in track.by_county.items():
        base = baselines.get(county)
        if base is not None:
            yield ts, base


def _drops_below(ts: Sequence[int], t: int, need: int, window: int | None) -> int | None:
    """With no new points after ``t``: when the count in the window ending at the instant
    falls below ``need`` (None: it is below already; NEVER: it never falls)."""
    hi = bisect_right(ts, t)
    if _window_count(ts, t, window) < need:
        return None
    return NEVER if window is None else ts[hi - need] + window


def casualties(track: Track, i: int) -> tuple[int, int, int] | None:
    """The figures of the latest report at or before index ``i`` that carries any."""
    while i >= 0:
        _, _, _, total, dead, critical, _, _, _ = track.reports[i]
        if total is not None and dead is not None and critical is not None:
            return total, dead, critical
        i -= 1
    return None


def _stop_time(track: Track, cond: Cond, t: int) -> int:
    """With no new points after ``t``: the first instant >= t at which ``cond`` fails."""
    need = int(-(-cond.threshold // 1))  # thresholds on counts: ceil
    if cond.metric == "confirmed":
        lists = track.by_county.values() if cond.county else (track.times,)
        stop = t
        for ts in lists:
            hi = bisect_right(ts, t)
            if _window_count(ts, t, cond.window) >= need:
                if cond.window is None:
                    return NEVER
                stop = max(stop, ts[hi - need] + cond.window)
        return stop
    if cond.metric == "counties":
        lo = NO_TIME if cond.window is None else t - cond.window
        lasts = sorted(
            (
                ts[i - 1]
                for ts in track.by_county.values()
                if (i := bisect_right(ts, t)) and ts[i - 1] > lo
            ),
            reverse=True,
        )
        if len(lasts) < need:
            return t
        return NEVER if cond.window is None else lasts[need - 1] + cond.window
    if cond.metric == "baseline_ratio":
        drops = [
            _drops_below(ts, t, max(ceil(cond.threshold * base), 1), cond.window)
            for ts, base in _with_baseline(track, cond)
        ]
        return max((d for d in drops if d is not None), default=t)
    if cond.metric == "baseline_counties":
        ends = sorted(
            (
                d
                for ts, base in _with_baseline(track, cond)
                if (d := _drops_below(ts, t, max(ceil((cond.ratio or 0) * base), 1), cond.window))
                is not None
            ),
            reverse=True,
        )
        return ends[need - 1] if len(ends) >= need else t
    return NEVER if metric_value(track, cond, t) >= cond.threshold else t


def _closed(track: Track, t: int) -> bool:
    """An agency closed the incident at or before ``t`` and no case was confirmed since."""
    i = _report_at(track, t)
    if i < 0 or not track.reports[i][6]:
        return False
    return bisect_right(track.times, t) == bisect_right(track.times, track.reports[i][0])


def _holds(track: Track, rule: CRule, t: int) -> bool:
    # a loop, not all() over a generator (which costs more than the 1-2 conditions a rule has)
    for cond in rule.conds:  # noqa: SIM110
        if metric_value(track, cond, t) < cond.threshold:
            return False
    return True


def tier_at(track: Track, rules: tuple[CRule, ...], t: int) -> tuple[int, tuple[str, ...]]:
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
                value = values[cond.label] = metric_value(track, cond, t)
            if value < cond.threshold:
                break
        else:
            best = rule.rank
            ids.append(rule.rule_id)
    return best, tuple(sorted(ids)) if len(ids) > 1 else tuple(ids)


def _evidence(
    track: Track, rules: tuple[CRule, ...], t: int, rule_ids: tuple[str, ...]
) -> dict[str, float]:
    """Metric values at ``t`` of the rules that hold (of every rule when none does)."""
    out: dict[str, float] = {}
    for rule in rules:
        if not rule_ids or rule.rule_id in rule_ids:
            for cond in rule.conds:
                out[cond.label] = float(metric_value(track, cond, t))
    return out


def _newest_point(track: Track, t0: int) -> bool:
    """A confirmation at ``t0`` is the track's newest point, alone at its instant, after
    every entry, with no de-escalation due before it."""
    line, times = track.timeline, track.times
    return not (
        not times
        or times[-1] != t0
        or (line and line[-1][0] >= t0)
        or (track.report_t and track.report_t[-1] >= t0)
        or track.pending <= t0
        or (len(times) > 1 and times[-2] == t0)
    )


def same_tier_newest_case(
    track: Track, rules: tuple[CRule, ...], quiet: int, watermark: int, t0: int
) -> bool:
    """The most common event, without building a :class:`Timeline`: a confirmation at
    ``t0`` that is the newest point and leaves the tier as it is. Then only the time to
    look at de-escalation again moves; returns True. Returns False, having changed
    nothing, when the timeline must be worked out (:meth:`Timeline.newest_case`)."""
    if not _newest_point(track, t0):
        return False
    line = track.timeline
    current = line[-1][1] if line else 0
    if tier_at(track, rules, t0)[0] != current:
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

    __slots__ = ("added", "dropped", "quiet", "rules", "track", "watermark")

    def __init__(self, track: Track, rules: tuple[CRule, ...], quiet: int, watermark: int):
        self.track, self.rules, self.quiet, self.watermark = track, rules, quiet, watermark
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
        return newest == t0 > NO_TIME

    def newest_case(self, t0: int) -> bool:
        """Fast path for the common event: a confirmation at ``t0`` that is the newest
        point, after every entry, with no de-escalation due before it. Returns False
        (having changed nothing) when the general :meth:`recompute_from` is needed."""
        track = self.track
        if not _newest_point(track, t0):
            return False
        line = track.timeline
        current = line[-1][1] if line else 0
        rank, ids = tier_at(track, self.rules, t0)
        if rank < current:
            return False
        if rank > current:
            self._append(t0, rank, ids, _evidence(track, self.rules, t0, ids))
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
        if (not times or times[-1] <= t0) and (not report_t or report_t[-1] <= t0):
            # the common case: the change is the newest point
            return [t0] if (times and times[-1] == t0) or (report_t and report_t[-1] == t0) else []
        pts = set(times[bisect_left(times, t0) :])
        pts.update(report_t[bisect_left(report_t, t0) :])
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
        rank, ids = tier_at(track, self.rules, t)
        if rank > current:
            self._append(t, rank, ids, _evidence(track, self.rules, t, ids))
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
        evidence = _evidence(self.track, self.rules, t, ids)
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
                    min(_stop_time(track, c, due) for c in rule.conds)
                    for rule in self.rules
                    if rule.rank >= current and _holds(track, rule, due)
                ]
            )
            if due >= hi:
                return
            if due > self.watermark:
                track.pending = due
                return
            rank, ids = tier_at(track, self.rules, due)
            self._append(due, rank, ids, self._stand_down_evidence(due, ids, last))
            lo = due
