"""What each metric of a tier rule is for one track at event time ``t``, and, with no new
point after ``t``, when a condition stops holding (DESIGN.md section 3; the rulebook's
:class:`streams.core.rulebook.Condition` defines the metrics).

Case metrics count confirmation times in windows; report metrics read the latest incident
report; ``icu_occupancy`` reads the jurisdiction's ICU beds (:mod:`streams.core.icu_line`),
passed as ``icu`` (None: the track's rules do not read it, and it counts as 0).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterator, Sequence
from math import ceil

from streams.core.compiled import Cond
from streams.core.eventtime import NEVER
from streams.core.icu_line import IcuLine
from streams.core.rulebook_checks import ICU_OCCUPANCY
from streams.core.state import NO_TIME, Track

# evidence keys beside the condition's own (its occupancy) when a rule reads the ICU
ICU_EVIDENCE = ("icu_free", "icu_baseline")


def report_at(track: Track, t: int) -> int:
    """Index of the latest report at or before ``t`` (-1: none)."""
    return bisect_right(track.report_t, t) - 1


def _window_count(times: Sequence[int], t: int, window: int | None) -> int:
    hi = bisect_right(times, t)
    return hi if window is None else hi - bisect_right(times, t - window)


def metric_value(track: Track, cond: Cond, t: int, icu: IcuLine | None = None) -> float:
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
    if metric == ICU_OCCUPANCY:
        return icu.occupancy(t) if icu is not None else 0.0
    i = report_at(track, t)
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


def stop_time(track: Track, cond: Cond, t: int, icu: IcuLine | None) -> int:
    """With no new points after ``t``: the first instant >= t at which ``cond`` fails
    (report metrics stay as they are until the next point; the ICU's may fall where a
    conversion opens)."""
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
    if cond.metric == ICU_OCCUPANCY:
        if icu is None or icu.occupancy(t) < cond.threshold:
            return t
        return icu.drop_after(t, cond.threshold)
    return NEVER if metric_value(track, cond, t, icu) >= cond.threshold else t


def icu_evidence(icu: IcuLine | None, t: int) -> dict[str, float]:
    """The ICU figures behind an occupancy at ``t`` (:data:`ICU_EVIDENCE`), for evidence."""
    figures = icu.figures(t) if icu is not None else None
    if figures is None:
        return {}
    return dict(zip(ICU_EVIDENCE, figures, strict=True))
