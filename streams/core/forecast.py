"""Forecasts, deterministic and explained (issue 15 item 5): an incident's case growth and
its projected ICU demand against the jurisdiction's ICU capacity, ``capacity_forecast``.

Every figure is a function of the state, as of the incident's newest confirmation T (its
track's last confirmation time), never of a clock or of arrival order:

* **Growth** — ``current``: confirmed cases with a confirmation time in (T − w, T];
  ``previous``: those in (T − 2w, T − w], w = ``resources.forecast.window_days`` (7).
  While current > previous > 0 the daily growth rate is r = ln(current / previous) / w
  and the doubling time ln 2 / r = w · ln 2 / ln(current / previous) days; otherwise
  (no earlier window to compare with, or no growth) it is undefined. Example: 10 cases in
  the week before and 20 in the trailing week double in 7 days; 5 then 20, in 3.5.
* **ICU demand** — the incident's cases critical now (latest severity ``critical``, alive;
  critical illness is the ICU's case mix, severe cases are left out) grow at the cases'
  rate: c · 2^(t / doubling). The capacity open to the incident is its own c beds plus the
  jurisdiction's free ICU beds F (each site's latest ``icu.item`` snapshot, plus the beds
  acked conversions opened by T, :mod:`streams.core.surge`) plus the convertible ones V
  (each site's latest ``convertible`` figure, less what its conversion opened: beds it can
  still open, whether or not a conversion was ordered yet). A site that keeps reporting
  its convertible beds after converting them is not counted twice, nor one that reports
  none left. Demand exceeds it after
  doubling · log2((c + F + V) / c) days. Example: c = 10, F = 30, doubling 7 days →
  7 · log2(4) = 14 days. Undefined without a critical case or without growth.
* **capacity_forecast** — one alert per incident while that day count is at most
  ``horizon_days`` (14), replaced when its inputs change (the growth's doubling time to a
  tenth of a day, c, F, V, the day of T) and retracted when it no longer holds.

The functions read sorted confirmation times by bisection and the ICU sites' latest
snapshots: the cost of an event does not grow with the incident.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Sequence
from typing import Any, NamedTuple

from streams.core.alerts import alert, show
from streams.core.compiled import Compiled
from streams.core.eventtime import DAY, days_to_us
from streams.core.icu_line import converted_by
from streams.core.state import Namespace, Track
from topics.outputs import Alert


class Growth(NamedTuple):
    current: int  # confirmed in the trailing window
    previous: int  # confirmed in the window before it
    doubling_days: float | None  # None: no earlier cases to compare with, or no growth


class IcuBeds(NamedTuple):
    free: float  # free ICU beds, each site's latest snapshot, and the converted ones
    baseline: float  # capacity of the sites whose latest snapshot carries a baseline
    convertible: float  # beds that can still be opened, each site's latest snapshot


class IcuOutlook(NamedTuple):
    critical: int  # the incident's ICU demand now
    capacity: float  # critical + free + convertible: what its demand may grow into
    days_to_exceed: float | None  # None: no critical case, or no growth
    demand_at_horizon: float | None  # projected critical cases at the horizon


def growth(times: Sequence[int], at: int, window_days: float) -> Growth:
    """Week-on-week growth of the confirmation ``times`` (sorted) as of ``at``."""
    w = days_to_us(window_days)
    end = bisect_right(times, at)
    mid = bisect_right(times, at - w)
    start = bisect_right(times, at - 2 * w)
    current, previous = end - mid, mid - start
    if previous <= 0 or current <= previous:
        return Growth(current, previous, None)
    return Growth(current, previous, window_days * math.log(2) / math.log(current / previous))


def icu_outlook(
    critical: int, beds: IcuBeds, doubling_days: float | None, horizon: float
) -> IcuOutlook:
    """When ``critical`` cases doubling every ``doubling_days`` outgrow their own beds plus
    the free and convertible ones, and how many they are at ``horizon`` days."""
    capacity = critical + beds.free + beds.convertible
    if critical <= 0 or doubling_days is None:
        return IcuOutlook(critical, capacity, None, None)
    return IcuOutlook(
        critical,
        capacity,
        doubling_days * math.log2(capacity / critical),
        critical * 2 ** (horizon / doubling_days),
    )


def full_load_days(on_hand: float, per_bed_day: float, beds: float) -> float | None:
    """Days ``on_hand`` lasts with ``beds`` beds all occupied, each using ``per_bed_day``
    (None: no beds)."""
    return on_hand / (per_bed_day * beds) if beds > 0 else None


def icu_beds(ns: Namespace, item: str, converted: dict[str, float]) -> IcuBeds | None:
    """The jurisdiction's ICU beds now, with the beds ``converted`` by site (None: no site
    reported ``item``)."""
    sites = ns.beds.get(item, ())
    if not sites:
        return None
    free = base = convertible = 0.0
    for site in sites:
        series = ns.stock[(site, item)]
        _, _, baseline, can_open = series.meta[series.n - 1]
        opened = converted.get(site, 0.0)
        free += series.on_hand[series.n - 1] + opened
        base += (baseline or 0.0) + opened
        convertible += max((can_open or 0.0) - opened, 0.0)
    return IcuBeds(free, base, convertible)


def metrics(ns: Namespace, track: Track, comp: Compiled) -> dict[str, float]:
    """The forecast's figures for the incident picture (only the defined ones)."""
    if not track.times:
        return {}
    settings = comp.forecast
    g = growth(track.times, track.times[-1], settings.window_days)
    figures: dict[str, float] = {
        "confirmed_window": float(g.current),
        "confirmed_window_before": float(g.previous),
    }
    if g.doubling_days is not None:
        figures["doubling_days"] = g.doubling_days
    beds = icu_beds(ns, comp.icu_item, converted_by(ns, comp.icu_item, track.times[-1]))
    if beds is not None:
        outlook = icu_outlook(
            track.counters["critical"], beds, g.doubling_days, settings.horizon_days
        )
        figures["icu_capacity"] = outlook.capacity
        if outlook.days_to_exceed is not None and outlook.demand_at_horizon is not None:
            figures["icu_days_to_exceed"] = outlook.days_to_exceed
            figures["icu_demand_at_horizon"] = outlook.demand_at_horizon
    return figures


def forecast_changed(
    ns: Namespace,
    jurisdiction: str,
    track: Track,
    incident: str | None,
    *,
    comp: Compiled,
    out: list[Any],
) -> None:
    """Make the ``capacity_forecast`` of the track's ``incident`` (None: the command view
    does not show it) what the state says now."""
    wanted = _wanted(ns, track, incident, comp) if incident is not None else ()
    _show(ns, jurisdiction, track, wanted, comp=comp, out=out)


def _wanted(
    ns: Namespace, track: Track, incident: str, comp: Compiled
) -> tuple[tuple[Any, ...], ...]:
    critical = track.counters["critical"]
    if critical <= 0 or not track.times:
        return ()
    settings = comp.forecast
    at = track.times[-1]
    g = growth(track.times, at, settings.window_days)
    beds = icu_beds(ns, comp.icu_item, converted_by(ns, comp.icu_item, at))
    if g.doubling_days is None or beds is None:
        return ()
    # to a tenth of a day: the alert changes when the forecast does, not with every case
    doubling = round(g.doubling_days, 1) or 0.1
    outlook = icu_outlook(critical, beds, doubling, settings.horizon_days)
    if outlook.days_to_exceed is None or outlook.days_to_exceed > settings.horizon_days:
        return ()
    day = at - at % DAY
    return ((day, incident, critical, *beds, doubling),)


def _show(
    ns: Namespace,
    jurisdiction: str,
    track: Track,
    wanted: tuple[tuple[Any, ...], ...],
    *,
    comp: Compiled,
    out: list[Any],
) -> None:
    subject = f"forecast:{track.key}"
    if not wanted and subject not in ns.shown:
        return
    horizon = comp.forecast.horizon_days

    def build(params: tuple[Any, ...], gone: bool) -> Alert:
        day, incident, critical, free, baseline, convertible, doubling = params
        beds = IcuBeds(free, baseline, convertible)
        outlook = icu_outlook(critical, beds, doubling, horizon)
        days = outlook.days_to_exceed or 0.0
        return alert(
            ns,
            jurisdiction,
            "capacity_forecast",
            "red" if days <= horizon / 2 else "orange",
            about=params,
            at=day,
            message=(
                f"ICU demand exceeds capacity in about {math.ceil(days)} days: {critical} "
                f"critical now, doubling every {doubling:g} days, {free:g} free and "
                f"{convertible:g} convertible ICU beds in {jurisdiction}"
            ),
            details={
                "days_to_exceed": days,
                "critical": critical,
                "doubling_days": doubling,
                "icu_free": free,
                "icu_baseline": baseline,
                "icu_convertible": convertible,
                "icu_capacity": outlook.capacity,
                "horizon_days": horizon,
                "demand_at_horizon": outlook.demand_at_horizon,
            },
            subject=f"{jurisdiction}/{incident}",
            incident=incident,
            gone=gone,
        )

    show(ns, subject, wanted, build, out)
