"""Forecasts (issue 15 item 5): week-on-week growth and doubling time, projected ICU
demand against capacity and ``capacity_forecast``, days of cover at full load; worked out
by hand, then checked for arrival order."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

import pytest

from streams.core import default_rulebook, initial_state, step_many
from streams.core.eventtime import to_us
from streams.core.forecast import IcuBeds, full_load_days, growth, icu_outlook
from tests.core_events import CST, case, incident
from tests.folding import fold_shuffled, snapshot
from topics.outputs import Alert, IncidentState, StockLevel

RULES = default_rulebook()
T0 = datetime(2026, 3, 1, 8, 0, tzinfo=CST)  # midnight UTC


def at(day: float) -> datetime:
    return T0 + timedelta(days=day, hours=4)


def test_doubling_time_compares_the_trailing_window_with_the_one_before() -> None:
    t = to_us(at(13))
    before = [to_us(at(d)) for d in (1, 2, 3, 4, 5)]  # in (T - 14 d, T - 7 d]
    # 10 in (T - 7 d, T]: 10 / 5 = 2x a week, doubling in 7 days
    week = [to_us(at(d)) for d in (7, 8, 8, 9, 10, 10, 11, 12, 13, 13)]
    assert growth([*before, *week], t, 7) == (10, 5, pytest.approx(7.0))
    # 20 after 5: 4x a week, 7 ln 2 / ln 4 = 3.5 days
    assert growth([*before, *week, *week], t, 7).doubling_days == pytest.approx(3.5)
    # the boundary T - 7 d belongs to the week before; T - 14 d to neither
    edge = [to_us(at(-1)), to_us(at(6)), to_us(at(13))]
    assert growth(edge, t, 7)[:2] == (1, 1)
    # undefined without growth, or without an earlier week
    assert growth(before + week[:5], t, 7).doubling_days is None
    assert growth(week, t, 7) == (10, 0, None)


def test_icu_demand_outgrows_its_own_free_and_convertible_beds() -> None:
    # 10 critical, 30 free: capacity 40 = 10 x 4, two doublings of 7 days = 14 days
    outlook = icu_outlook(10, IcuBeds(30, 50, 0), 7.0, 14.0)
    assert outlook.capacity == 40
    assert outlook.days_to_exceed == pytest.approx(14.0)
    assert outlook.demand_at_horizon == pytest.approx(40.0)
    # 10 convertible beds: 50 = 10 x 5, 7 log2 5 = 16.25 days
    assert icu_outlook(10, IcuBeds(30, 50, 10), 7.0, 14.0).days_to_exceed == pytest.approx(
        7 * math.log2(5)
    )
    assert icu_outlook(0, IcuBeds(30, 50, 0), 7.0, 14.0).days_to_exceed is None
    assert icu_outlook(10, IcuBeds(30, 50, 0), None, 14.0).days_to_exceed is None


def test_days_of_cover_at_full_load() -> None:
    # 900 gowns, 25 a bed a day, 12 beds: 900 / 300 = 3 days
    assert full_load_days(900, 25, 12) == 3.0
    assert full_load_days(900, 25, 0) is None


# Cholera in Chengdu: 5 confirmed on days 1-5, 10 on days 7-13 (doubling in 7 days), 4 of
# the 10 critical; H1 reports 12 free ICU beds of 20. Capacity 4 + 12 = 16 = 4 x 2^2:
# exceeded in 14 days, the default horizon.
def outbreak(free: float = 12) -> list[object]:
    days = (1, 2, 3, 4, 5, 7, 8, 8, 9, 10, 10, 11, 12, 13, 13)
    cases = [
        case(n, at(d), severity="critical" if n >= 11 else "moderate") for n, d in enumerate(days)
    ]
    return [*cases, snapshot(at(0), "H1", "bed.icu", free, 20)]


def forecasts(out: list[object]) -> dict[str, Alert]:
    alive: dict[str, Alert] = {}
    for a in out:
        if isinstance(a, Alert) and a.alert_kind == "capacity_forecast":
            if a.retracted:
                del alive[a.alert_id]
            else:
                alive[a.alert_id] = a
    return alive


def test_capacity_forecast_says_when_and_why() -> None:
    _, out = step_many(initial_state("5101"), outbreak(), RULES)
    (got,) = forecasts(out).values()
    assert got.message == (
        "ICU demand exceeds capacity in about 14 days: 4 critical now, doubling every 7 days, "
        "12 free and 0 convertible ICU beds in 5101"
    )
    assert got.level == "orange"
    assert got.at == T0 + timedelta(days=13)  # the start (UTC) of the newest case's day
    assert got.details["days_to_exceed"] == pytest.approx(14.0)
    assert got.details["demand_at_horizon"] == pytest.approx(16.0)
    assert got.details["icu_capacity"] == 16
    picture = [o for o in out if isinstance(o, IncidentState)][-1]
    assert picture.metrics["doubling_days"] == pytest.approx(7.0)
    assert picture.metrics["confirmed_window"] == 10
    assert picture.metrics["icu_days_to_exceed"] == pytest.approx(14.0)
    assert got.incident_id == picture.incident_id


def test_more_free_beds_take_the_forecast_back() -> None:
    # 13 free: 17 / 4 -> 7 log2 4.25 = 14.6 days, beyond the horizon
    more = snapshot(at(13.5), "H1", "bed.icu", 13, 20)
    _, out = step_many(initial_state("5101"), [*outbreak(), more], RULES)
    assert forecasts(out) == {}
    assert any(isinstance(a, Alert) and a.alert_kind == "capacity_forecast" for a in out)


def test_beds_a_hospital_can_open_count_in_the_capacity() -> None:
    # H1 12 free of 20, and 4 it can open; H2 reports 0 free of 8, and 4 it can open:
    # capacity 4 critical + 12 free + 8 convertible = 24 = 4 x 6 -> 7 log2 6 = 18.1 days,
    # past the 14-day horizon: no alert, the figure in the picture.
    beds = [
        snapshot(at(0), "H1", "bed.icu", 12, 20, convertible=4),
        snapshot(at(0), "H2", "bed.icu", 0, 8, convertible=4),
    ]
    _, out = step_many(initial_state("5101"), [*outbreak()[:-1], *beds], RULES)
    assert forecasts(out) == {}
    picture = [o for o in out if isinstance(o, IncidentState)][-1]
    assert picture.metrics["icu_capacity"] == 24
    assert picture.metrics["icu_days_to_exceed"] == pytest.approx(7 * math.log2(6))


def test_a_bed_report_shows_again_only_the_pictures_with_icu_figures() -> None:
    # The outbreak's picture reads the ICU beds; a road crash's (no confirmed case) does
    # not: a later bed report shows the first again with its new capacity, not the second.
    crash = incident("crash-1", at(2), "INC-CRASH", casualties={"total": 60, "dead": 6})
    state, out = step_many(initial_state("5101"), [*outbreak(), crash], RULES)
    shown = {o.category: o for o in out if isinstance(o, IncidentState)}
    assert shown["mass_casualty"].tier == "II"  # 50-99 casualties, more than 5 dead
    assert shown["infectious_disease"].metrics["icu_capacity"] == 4 + 12
    _, later = step_many(state, [snapshot(at(14), "H1", "bed.icu", 8, 20)], RULES)
    (again,) = [o for o in later if isinstance(o, IncidentState)]
    assert again.incident_id == shown["infectious_disease"].incident_id
    assert again.metrics["icu_capacity"] == 4 + 8


@pytest.mark.parametrize("seed", range(4))
def test_the_forecast_does_not_depend_on_arrival_order(seed: int) -> None:
    _, ordered = step_many(initial_state("5101"), outbreak(), RULES)
    shuffled = fold_shuffled(outbreak(), RULES, seed)
    assert forecasts(shuffled).keys() == forecasts(ordered).keys()


def latest_levels(out: list[object]) -> dict[tuple[str, datetime], tuple[float | None, ...]]:
    """The last StockLevel of each (site, item, time): what the table keeps."""
    rows: dict[tuple[str, datetime], tuple[float | None, ...]] = {}
    for o in out:
        if isinstance(o, StockLevel) and o.item == "ppe.gown":
            rows[(o.site_id, o.at)] = (o.on_hand, o.full_load_per_day, o.days_at_full_load)
    return rows


# 900 gowns at D1; isolation beds: H1 12, then H2 8. At full load 25 a bed a day:
# 12 beds use 300 a day (3 days), 20 beds use 500 (1.8 days).
GOWNS = [
    snapshot(at(0), "H1", "bed.isolation", 2, 12),
    snapshot(at(1), "D1", "ppe.gown", 900),
    snapshot(at(2), "H2", "bed.isolation", 8, 8),
    snapshot(at(3), "D1", "ppe.gown", 800),
]


def test_stock_levels_carry_days_at_full_load_beside_the_observed_rate() -> None:
    _, out = step_many(initial_state("5101"), GOWNS, RULES)
    rows = latest_levels(out)
    assert rows[("D1", at(1))] == (900, 300, 3.0)
    assert rows[("D1", at(3))] == (800, 500, 1.6)
    last = [o for o in out if isinstance(o, StockLevel) and o.item == "ppe.gown"][-1]
    assert last.days_of_cover == pytest.approx(800 / 50)  # 100 used in 2 days: 50 a day
    beds = [o for o in out if isinstance(o, StockLevel) and o.item == "bed.isolation"]
    assert all(o.full_load_per_day is None for o in beds)


@pytest.mark.parametrize("seed", range(6))
def test_a_late_bed_report_re_emits_the_rows_it_changes(seed: int) -> None:
    _, ordered = step_many(initial_state("5101"), GOWNS, RULES)
    assert latest_levels(fold_shuffled(GOWNS, RULES, seed)) == latest_levels(ordered)
