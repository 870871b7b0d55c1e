"""``supply-squeeze``: N95 respirators and gowns run down in Chengdu as use keeps rising.

Three hospitals and the municipal reserve depot report stock every morning at 08:00; use
grows a few percent a day, the depot ships a top-up to two hospitals, and days of cover
fall through the alert levels (yellow < 30 days, orange < 14, red < 7; the plan's target
is 30 days at full load). There is no incident, so no tier: the intent is the stock
alerts, worked out from the snapshots by the definition below.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from streams.simulate.params import FaultPlan, Params, Scenario, rfc3339
from streams.simulate.places import (
    CHENGDU,
    EMERGENCY_MGMT,
    Agency,
    County,
    hospital,
    hospital_id,
)
from streams.simulate.script import Script

DAYS = 21  # snapshots on days 0..20, every day at the scenario's start time
STOCK_LEVELS = ((7.0, "red"), (14.0, "orange"), (30.0, "yellow"))  # days of cover below
_LEVEL_RANK = {None: 0, "yellow": 1, "orange": 2, "red": 3}
NOISE = (0.94, 1.06)  # day-to-day variation of use
BURN_WINDOW = timedelta(days=7)  # the default rulebook's stock.burn_window_days


@dataclass(frozen=True)
class _Line:
    """One item at one site: stock at day 0, use on day 1, daily growth of use."""

    item: str
    on_hand: int
    use: float
    growth: float


@dataclass(frozen=True)
class _Site:
    site_id: str
    site_type: str
    agency: Agency
    county: County
    lines: tuple[_Line, ...]


_HOSPITALS = (
    (CHENGDU[3], (_Line("ppe.n95", 36000, 900, 1.14), _Line("ppe.gown", 20000, 520, 1.12))),
    (CHENGDU[1], (_Line("ppe.n95", 24000, 600, 1.13), _Line("ppe.gown", 15000, 380, 1.11))),
    (CHENGDU[0], (_Line("ppe.n95", 9000, 240, 1.12), _Line("ppe.gown", 7000, 160, 1.10))),
)
DEPOT = _Site(
    "DEPOT-5101",
    "depot",
    EMERGENCY_MGMT,
    CHENGDU[2],
    (_Line("ppe.n95", 120000, 2500, 1.06), _Line("ppe.gown", 90000, 1800, 1.05)),
)
# (day, hospital site, item, quantity) shipped from the depot, received that morning.
SHIPMENTS = (
    (8, 0, "ppe.n95", 8000),
    (11, 1, "ppe.n95", 5000),
    (11, 1, "ppe.gown", 3000),
    (14, 0, "ppe.gown", 4000),
)


def stock_level(days_of_cover: float) -> str | None:
    return next((level for limit, level in STOCK_LEVELS if days_of_cover < limit), None)


def _sites(scale: int) -> list[_Site]:
    """The depot and 3 x scale hospitals (--scale adds hospitals numbered 02, 03 …)."""
    sites = [
        _Site(hospital_id(county.code, n), "hospital", hospital(county.code, n), county, lines)
        for n in range(1, scale + 1)
        for county, lines in _HOSPITALS
    ]
    return [*sites, DEPOT]


def build(params: Params) -> Scenario:
    script = Script(params, "ppe", report_delay=timedelta(minutes=10))
    script.semantics = {
        "burn_rate": "consumption (previous on_hand + received - on_hand, summed over "
        "successive snapshots by occurred_at) since the latest snapshot at least 7 days "
        "older (else the first), per day between the two",
        "days_of_cover": "on_hand / burn_rate (undefined when burn_rate <= 0)",
        "stock_low": "yellow < 30 days, orange < 14, red < 7; listed: the first snapshot "
        "at which each (site, item) reaches a higher level than before",
    }
    receipts = {
        (day, _sites(params.scale)[site].site_id, item): qty for day, site, item, qty in SHIPMENTS
    }
    for site in _sites(params.scale):
        for line in site.lines:
            _run_down(script, site, line, receipts)
    return script.finish(FaultPlan())


def _run_down(
    script: Script, site: _Site, line: _Line, receipts: dict[tuple[int, str, str], int]
) -> None:
    """Daily snapshots of one item at one site, and the alerts its cover should raise."""
    on_hand, use, level = line.on_hand, line.use, None
    history: list[tuple[datetime, float]] = []  # (at, consumption since the first snapshot)
    for day in range(DAYS):
        at = script.at(timedelta(days=day))
        received = receipts.get((day, site.site_id, line.item), 0)
        consumed = 0.0
        if day:
            before = on_hand
            on_hand = max(0, on_hand + received - round(use * script.rng.uniform(*NOISE)))
            use *= line.growth
            consumed = history[-1][1] + before + received - on_hand
        history.append((at, consumed))
        cover = days_of_cover(history, on_hand)
        now = stock_level(cover) if cover is not None else None
        crossing = _LEVEL_RANK[now] > _LEVEL_RANK[level]
        extra: dict[str, Any] = {"received": received} if received else {}
        script.event(
            "stock",
            agency=site.agency,
            occurred_at=at,
            county=site.county,
            # The alert is decided on the newest snapshot: the crossing one arrives in order.
            steady=crossing,
            site_id=site.site_id,
            site_type=site.site_type,
            item=line.item,
            unit="each",
            on_hand=on_hand,
            baseline=line.on_hand,
            **extra,
        )
        if crossing:
            script.intend_alert(
                "stock_low",
                f"{site.site_id}/{line.item}",
                jurisdiction=site.county.city,
                site_id=site.site_id,
                item=line.item,
                level=now,
                at=rfc3339(at),
                days_of_cover=round(cover or 0.0, 2),
            )
            level = now


def days_of_cover(history: list[tuple[datetime, float]], on_hand: float) -> float | None:
    """``on_hand`` over the burn rate at the newest snapshot of ``history``: the
    consumption since the latest snapshot at least 7 days older (else the first one), per
    day between the two; None while the burn is not positive."""
    at, consumed = history[-1]
    base_at, base_consumed = history[0]
    for then, total in history[:-1]:
        if then <= at - BURN_WINDOW:
            base_at, base_consumed = then, total
    if base_at == at:
        return None
    burn = (consumed - base_consumed) / ((at - base_at) / timedelta(days=1))
    return on_hand / burn if burn > 0 else None
