"""The after-action report's check of the forecasts (issue 15 item 5): each
``capacity_forecast`` the run made against what then happened (pure: plain rows in,
plain rows out).

A forecast made at A said the incident's ICU demand would exceed the beds open to it in
about N days, at A + N. What happened is read from the same record: the jurisdiction's
free ICU beds (each hospital's latest ``bed.icu`` snapshot, summed) from A on; the first
instant at or after A where none is free is when demand did exceed what was free. The
check says how far the forecast was from it, or that the beds never ran out before the
end of the review (which proves the forecast wrong only when A + N is before that end).
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson

DAY = timedelta(days=1)


@dataclass(frozen=True)
class ForecastCheck:
    """One forecast and what happened."""

    incident_id: str
    jurisdiction: str
    made_at: datetime
    days_to_exceed: float
    critical: float
    doubling_days: float
    icu_free: float
    full_at: datetime | None  # the first instant at or after made_at with no free ICU bed
    verdict: str

    @property
    def projected_at(self) -> datetime:
        return self.made_at + self.days_to_exceed * DAY


def check_forecasts(
    forecasts: Iterable[dict[str, Any]], icu: Iterable[dict[str, Any]], end: datetime | None
) -> list[ForecastCheck]:
    """``forecasts``: capacity_forecast alerts (incident_id, jurisdiction, at, details);
    ``icu``: ``bed.icu`` stock rows (site_id, jurisdiction, at, on_hand); ``end``: the
    last event time of the review (the last ICU report, if later)."""
    icu = list(icu)
    ends = [at for at in (end, *(r["at"] for r in icu)) if at is not None]
    end = max(ends, default=None)
    free = _free_over_time(icu)
    out = []
    for row in forecasts:
        details = row["details"]
        if isinstance(details, str | bytes):
            details = orjson.loads(details)
        made_at, days = row["at"], float(details["days_to_exceed"])
        full_at = _first_full(free.get(row["jurisdiction"], ([], [])), made_at)
        out.append(
            ForecastCheck(
                incident_id=row["incident_id"],
                jurisdiction=row["jurisdiction"],
                made_at=made_at,
                days_to_exceed=days,
                critical=float(details["critical"]),
                doubling_days=float(details["doubling_days"]),
                icu_free=float(details["icu_free"]),
                full_at=full_at,
                verdict=_verdict(made_at, days, full_at, end),
            )
        )
    return out


def _free_over_time(
    icu: Iterable[dict[str, Any]],
) -> dict[str, tuple[list[datetime], list[float]]]:
    """Per jurisdiction: the instants some hospital reported and the free beds summed over
    each hospital's latest report as of each."""
    latest: dict[str, dict[str, float]] = {}
    series: dict[str, tuple[list[datetime], list[float]]] = {}
    for row in sorted(icu, key=lambda r: (r["at"], r["site_id"])):
        sites = latest.setdefault(row["jurisdiction"], {})
        sites[row["site_id"]] = float(row["on_hand"])
        times, totals = series.setdefault(row["jurisdiction"], ([], []))
        if times and times[-1] == row["at"]:
            totals[-1] = sum(sites.values())
        else:
            times.append(row["at"])
            totals.append(sum(sites.values()))
    return series


def _first_full(series: tuple[list[datetime], list[float]], since: datetime) -> datetime | None:
    times, totals = series
    i = bisect_left(times, since)
    if i and (i == len(times) or times[i] > since) and totals[i - 1] <= 0:
        return since  # already full when the forecast was made
    return next((times[j] for j in range(i, len(times)) if totals[j] <= 0), None)


def _verdict(made_at: datetime, days: float, full_at: datetime | None, end: datetime | None) -> str:
    if full_at is not None:
        actual = (full_at - made_at) / DAY
        return (
            f"ICU beds ran out after {actual:.1f} days "
            f"(forecast {days:.1f}: off by {actual - days:+.1f})"
        )
    if end is not None and made_at + days * DAY <= end:
        return f"ICU beds never ran out by the end of the review (forecast {days:.1f} days: wrong)"
    return f"not known: the review ends before the forecast's {days:.1f} days"
