"""What each dashboard panel's query must return on the landed scenario
(:mod:`tests.integration.dashboard_seed`), worked out by hand from its story, in full
(``EXPECTED``; the panels under variable selections are in ``test_dashboards``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any


def utc(day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(2026, 3, day, hour, minute, tzinfo=UTC)


SHANGHAI_DAY = timedelta(hours=8)  # a day in Asia/Shanghai starts at 16:00 UTC the day before

# Rows that more than one expectation below contains.
TR3_IN_FLIGHT = (
    "tr3",
    "requested",
    "immediate",
    "general",
    "hosp-c",
    "hosp-d",
    "amb-7",
    utc(6, 8),
    None,
    0,
)
REDIRECT_ALERT = (
    utc(5, 10, 5),
    "orange",
    "capacity_redirect",
    "5101",
    "tr1",
    "inc-cholera-5101",
    "hosp-b has no free icu bed: redirect to hosp-c",
)

# title -> (columns, rows) with every variable at "All" over WINDOW.
EXPECTED: dict[str, tuple[tuple[str, ...], list[tuple[Any, ...]]]] = {
    "variable jurisdiction": (("jurisdiction",), [("5001",), ("5101",)]),
    "variable disease": (("disease",), [("cholera",), ("measles",), ("norovirus",)]),
    "Active incidents by tier (I 特别重大 · II 重大 · III 较大 · IV 一般)": (
        ("tier_I", "tier_II", "tier_III", "tier_IV", "no_tier"),
        [(0, 1, 0, 1, 1)],
    ),
    "Incident map": (
        ("incident_id", "lat", "lon", "tier", "tier_level", "category", "disease", "headline"),
        [
            ("inc-cholera-5101", 30.66, 104.07, "II", 3, "infectious_disease", "cholera", ""),
            ("inc-food-5001", 29.56, 106.55, "IV", 1, "food_poisoning", None, ""),
        ],
    ),
    "Active incidents": (
        (
            "tier",
            "declared_tier",
            "decision_lag_min",
            "incident_id",
            "jurisdiction",
            "region",
            "category",
            "disease",
            "phase",
            "warning",
            "headline",
            "opened_at",
            "updated_at",
        ),
        [
            (
                "II",
                "II",
                90.0,
                "inc-cholera-5101",
                "5101",
                "510104",
                "infectious_disease",
                "cholera",
                "confirmed",
                False,
                "",
                utc(2, 9),
                utc(5, 12),
            ),
            (
                "IV",
                None,
                None,
                "inc-food-5001",
                "5001",
                "500103",
                "food_poisoning",
                None,
                "reported",
                False,
                "",
                utc(3, 12),
                utc(3, 13),
            ),
            (
                None,
                None,
                None,
                "inc-warning-5101",
                "5101",
                "510105",
                "unknown_cluster",
                None,
                "reported",
                True,
                "",
                utc(6, 6),
                utc(6, 6),
            ),
        ],
    ),
    "Tier timeline (I 特别重大 · II 重大 · III 较大 · IV 一般)": (
        ("time", "incident_id", "basis", "tier_level"),
        [
            (utc(1, 2), "inc-measles-5101", "recommended", 1),
            (utc(2, 9), "inc-cholera-5101", "recommended", 1),
            (utc(3, 10), "inc-cholera-5101", "recommended", 2),
            (utc(3, 13), "inc-food-5001", "recommended", 1),
            (utc(5, 12), "inc-cholera-5101", "recommended", 3),
            (utc(5, 13, 30), "inc-cholera-5101", "declared", 3),
            (utc(6), "inc-measles-5101", "recommended", 0),
        ],
    ),
    "Confirmed cases per day per county": (
        ("time", "county", "confirmed"),
        [
            (utc(3) - SHANGHAI_DAY, "500103", 1),
            (utc(3) - SHANGHAI_DAY, "510104", 2),
            (utc(4) - SHANGHAI_DAY, "510105", 1),
            (utc(5) - SHANGHAI_DAY, "510105", 1),
        ],
    ),
    "Overdue tasks by agency": (
        ("agency", "overdue_tasks"),
        [("health", 3), ("public_security", 1)],
    ),
    "Overdue tasks": (
        (
            "task_id",
            "incident_id",
            "jurisdiction",
            "tier",
            "agency_type",
            "action",
            "issued_at",
            "due_at",
            "overdue_minutes",
        ),
        [
            (
                "t-b-health",
                "inc-food-5001",
                "5001",
                "IV",
                "health",
                "trace_food_source",
                utc(3, 13),
                utc(3, 20),
                (4 * 24 + 4) * 60,
            ),
            (
                "t-a-ps",
                "inc-cholera-5101",
                "5101",
                "II",
                "public_security",
                "secure_perimeter",
                utc(5, 12),
                utc(5, 14),
                (2 * 24 + 10) * 60,
            ),
            (
                "t-a-health",
                "inc-cholera-5101",
                "5101",
                "II",
                "health",
                "designate_hospitals",
                utc(5, 12),
                utc(5, 18),
                (2 * 24 + 6) * 60,
            ),
            (
                "t-stock",
                "stockpile/5101/ppe.n95",
                "5101",
                "IV",
                "health",
                "replenish ppe.n95 to 30 days at full load",
                utc(6, 8),
                utc(7, 8),
                16 * 60,
            ),
        ],
    ),
    "Transfers in flight": (
        (
            "transfer_id",
            "transfer_status",
            "triage",
            "required_bed",
            "from_facility",
            "to_facility",
            "transport_unit",
            "since",
            "eta",
            "delayed",
        ),
        [
            (
                "tr1",
                "en_route",
                "immediate",
                "icu",
                "hosp-a",
                "hosp-b",
                "amb-7",
                utc(5, 10, 20),
                utc(5, 11),
                1,
            ),
            TR3_IN_FLIGHT,
        ],
    ),
    "Capacity redirects": (
        ("at", "jurisdiction", "transfer_id", "level", "message", "details"),
        [
            (
                utc(5, 10, 5),
                "5101",
                "tr1",
                "orange",
                "hosp-b has no free icu bed: redirect to hosp-c",
                '{"to_facility":"hosp-b","suggested_facility":"hosp-c"}',
            ),
        ],
    ),
    "Free ICU beds by hospital": (
        ("hospital", "free_icu_beds", "icu_beds", "convertible_icu_beds", "converted_icu_beds"),
        # hosp-a's convertible count comes from its earlier report (argMax skips NULLs);
        # hosp-b's 3 converted beds from its beds_converted alert (hosp-a's: retracted, or
        # after the window)
        [
            ("hosp-c", 0.0, 8.0, None, 0.0),
            ("hosp-a", 2.0, 20.0, 1.0, 0.0),
            ("hosp-b", 7.0, 10.0, 4.0, 3.0),
        ],
    ),
    "Stock days of cover by item (target 30 days)": (
        ("item", "days_of_cover", "worst_site_days", "target_days"),
        # n95: (9000 + 3000) on hand / (1000 + 100) a day over both depots.
        [("ppe.n95", 10.9, 9.0, 30), ("ppe.gown", 80.0, 80.0, 30)],
    ),
    "Staff and teams by jurisdiction": (
        ("jurisdiction", "item", "available", "sites", "as_of"),
        # 5101's nurses: hosp-a's latest 24 + hosp-b's 18 (the Exercise 99 is a drill's)
        [
            ("5001", "staff.icu_nurse", 12.0, 1, utc(6, 9)),
            ("5101", "staff.icu_nurse", 42.0, 2, utc(6, 8)),
            ("5101", "team.military_medical", 2.0, 1, utc(6, 9)),
        ],
    ),
    "Days of cover at full load by jurisdiction (target 30 days)": (
        (
            "jurisdiction",
            "item",
            "on_hand",
            "full_load_per_day",
            "days_at_full_load",
            "days_of_cover",
            "target_days",
        ),
        # on hand over the use a day at full load, beside on hand over the burn seen;
        # beds and staff carry no full-load figure
        [
            ("5101", "ppe.gown", 4000.0, 500.0, 8.0, 80.0, 30),
            ("5101", "ppe.n95", 9000.0, 1000.0, 9.0, 9.0, 30),
            ("5001", "ppe.n95", 3000.0, 200.0, 15.0, 30.0, 30),
        ],
    ),
    "Forecasts by incident": (
        (
            "incident_id",
            "jurisdiction",
            "disease",
            "week_before",
            "week",
            "doubling_days",
            "critical",
            "icu_capacity",
            "icu_full_in_days",
            "updated_at",
        ),
        # the food poisoning has no confirmed cases (no forecast); the warning no growth
        [
            ("inc-cholera-5101", "5101", "cholera", 5.0, 10.0, 7.0, 2.0, 11.0, 17.2, utc(5, 12)),
            ("inc-warning-5101", "5101", None, 0.0, 1.0, None, 0.0, None, None, utc(6, 6)),
        ],
    ),
    "Reporting timeliness: case reports within 2 h": (
        ("time", "agency", "on_time_pct"),
        [
            (utc(2), "health", 100.0),
            (utc(3), "emergency", 0.0),
            (utc(3), "health", 100.0),
            (utc(4), "health", 66.7),  # c3 reported 3 h late, c4 and c5 on time
            (utc(6), "health", 100.0),
        ],
    ),
    "Late reports by jurisdiction (all kinds)": (
        ("jurisdiction", "late_reports"),
        [("5001", 1), ("5101", 1)],
    ),
    "Alerts": (
        ("at", "level", "alert_kind", "jurisdiction", "subject_id", "incident_id", "message"),
        [
            (
                utc(6, 10),
                "info",
                "beds_converted",
                "5101",
                "hosp-b/bed.icu",
                None,
                "beds_converted hosp-b/bed.icu",
            ),
            (
                utc(6, 8),
                "orange",
                "stock_low",
                "5101",
                "depot-1/ppe.n95",
                None,
                "stock_low depot-1/ppe.n95",
            ),
            (
                utc(6, 6),
                "yellow",
                "warning_opened",
                "5101",
                "inc-warning-5101",
                "inc-warning-5101",
                "warning_opened inc-warning-5101",
            ),
            REDIRECT_ALERT,
            (utc(4, 11), "yellow", "reporting_late", "5101", "e-c3", None, "reporting_late e-c3"),
            (utc(3, 19), "yellow", "reporting_late", "5001", "e-c7", None, "reporting_late e-c7"),
        ],
    ),
}
