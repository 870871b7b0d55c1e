"""The after-action report checks each capacity_forecast against what happened (issue 15
item 5): when the jurisdiction's free ICU beds ran out, worked out by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from streams.core import default_rulebook
from streams.replay.report import assemble_report
from streams.replay.report_forecasts import check_forecasts
from streams.replay.report_html import render_report
from tests.unit.test_replay_report import CST, change, record

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def day(d: float) -> datetime:
    return T0 + timedelta(days=d)


def forecast(made: float, days: float, jurisdiction: str = "5101") -> dict[str, Any]:
    details = {"days_to_exceed": days, "critical": 4, "doubling_days": 7, "icu_free": 12}
    return {
        "incident_id": "A",
        "jurisdiction": jurisdiction,
        "at": day(made),
        "details": orjson.dumps(details).decode(),
    }


def icu(site: str, d: float, free: float, jurisdiction: str = "5101") -> dict[str, Any]:
    return {"site_id": site, "jurisdiction": jurisdiction, "at": day(d), "on_hand": free}


# Two hospitals: 8 + 4 free on day 0; H1 down to 0 on day 5 (4 free still at H2); H2 down
# to 0 on day 10: the jurisdiction's beds run out on day 10. Zigong (5103) never runs out.
ICU = [
    icu("H1", 0, 8),
    icu("H2", 0, 4),
    icu("H1", 5, 0),
    icu("H2", 10, 0),
    icu("H1", 12, 3),
    icu("Z1", 0, 5, "5103"),
    icu("Z1", 11, 4, "5103"),
]


def test_each_forecast_is_checked_against_when_the_beds_ran_out() -> None:
    early, late, other, unknown = check_forecasts(
        [forecast(0, 14), forecast(11, 3), forecast(0, 7, "5103"), forecast(10, 5, "5103")],
        ICU,
        day(12),
    )
    # made on day 0 for day 14; the beds ran out on day 10: 4 days early
    assert early.full_at == day(10) and early.projected_at == day(14)
    assert early.verdict == "ICU beds ran out after 10.0 days (forecast 14.0: off by -4.0)"
    # made on day 11 while none was free: out at once
    assert late.full_at == day(11)
    assert late.verdict.startswith("ICU beds ran out after 0.0 days")
    # Zigong never ran out, and day 7 is before the review's end: the forecast was wrong
    assert other.full_at is None
    assert other.verdict == (
        "ICU beds never ran out by the end of the review (forecast 7.0 days: wrong)"
    )
    # day 15 is after the review's end (day 12): nothing to say yet
    assert unknown.verdict == "not known: the review ends before the forecast's 5.0 days"


def test_the_report_shows_the_check() -> None:
    rec = record([change("A", 0, "IV", None, confirmed=1)], forecasts=[forecast(0, 14)], icu=ICU)
    got = assemble_report("r", "db", rec, rulebook=default_rulebook(), tz=CST)
    html = render_report(got)
    assert "Forecasts against what happened" in html
    assert "4 critical, doubling 7 d, 12 free" in html
    assert "2026-03-11 08:00:00" in html  # day 10 in Asia/Shanghai: when the beds ran out
    quiet = render_report(
        assemble_report("r", "db", record([]), rulebook=default_rulebook(), tz=CST)
    )
    assert "no capacity_forecast in this review" in quiet
