"""Every ClickHouse query of the provisioned dashboards, expanded the way Grafana and the
ClickHouse plugin expand it, runs as the read-only ``grafana`` user on the real server
against a landed scenario (``dashboard_seed``) and returns the columns and rows its panel
expects. The expected contents are worked out by hand from the scenario's story.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator, Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from clickhouse_connect.driver.client import Client

from sinks.client import connect
from sinks.command_view import read_board
from streams.config.settings import Settings
from tests.grafana_sql import (
    ALL,
    QueryWindow,
    SqlTarget,
    VariableValue,
    expand,
    load_dashboards,
    panels,
    sql_targets,
)
from tests.integration.dashboard_expected import (
    EXPECTED,
    REDIRECT_ALERT,
    SHANGHAI_DAY,
    TR3_IN_FLIGHT,
    utc,
)
from tests.integration.dashboard_seed import WINDOW_END, WINDOW_START, land_scenario
from tests.integration.kafka_helpers import run_cli

# Grafana's interval for a 7-day range on a wide panel is minutes; one day keeps the
# expected buckets readable and exercises the same macro.
WINDOW = QueryWindow(WINDOW_START, WINDOW_END, timedelta(days=1))
TARGETS = sql_targets()


@pytest.fixture(scope="module")
def board_db(stack: Settings, ch_admin: Client) -> Iterator[str]:
    """A database migrated by `tierflow db migrate` and holding the landed scenario.
    Module-scoped (the ~20 panel checks share it), so it names itself the way the
    ``unique_name`` fixture does."""
    name = f"tierflow_board_{uuid.uuid4().hex[:12]}"
    run_cli(["db", "migrate", "--database", name], stack)
    try:
        land_scenario(stack, name)
        yield name
    finally:
        ch_admin.command(f"DROP DATABASE IF EXISTS {name}")


@pytest.fixture(scope="module")
def reader(stack: Settings) -> Iterator[Client]:
    """The read-only user Grafana's datasource is provisioned with."""
    client = connect(stack, "", reader=True)
    yield client
    client.close()


def _normal(value: Any) -> Any:
    if isinstance(value, datetime):
        # Naive values come from DateTime64(3, 'UTC') columns.
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if isinstance(value, float):
        return round(value, 6)
    if isinstance(value, date):
        return value.isoformat()
    return value


def run_panel(
    reader: Client, target: SqlTarget, database: str, **selected: VariableValue
) -> tuple[tuple[str, ...], list[tuple[Any, ...]]]:
    variables: dict[str, VariableValue] = {
        "database": database,
        "jurisdiction": ALL,
        "disease": ALL,
        "tier": ALL,
        "status": "Actual",
        **selected,
    }
    result = reader.query(expand(target.raw_sql, WINDOW, variables))
    rows = [tuple(_normal(v) for v in row) for row in result.result_rows]
    return tuple(result.column_names), rows


def target(title: str) -> SqlTarget:
    return next(t for t in TARGETS if t.title == title)


@pytest.mark.parametrize("target", TARGETS, ids=[t.title for t in TARGETS])
def test_panel_query_returns_the_landed_scenario(
    reader: Client, board_db: str, target: SqlTarget
) -> None:
    if target.title == "variable database":
        columns, rows = run_panel(reader, target, board_db)
        assert columns == ("database",)
        assert (board_db,) in rows
        return
    assert target.title in EXPECTED, f"panel {target.title!r} has no expected result here"
    expected_columns, expected_rows = EXPECTED[target.title]
    columns, rows = run_panel(reader, target, board_db)
    assert columns == expected_columns
    assert rows == [tuple(_normal(v) for v in row) for row in expected_rows]


# (panel, variable selection, expected rows): each selection removes rows by hand.
FILTERED = [
    (
        "Active incidents by tier (I 特别重大 · II 重大 · III 较大 · IV 一般)",
        {"jurisdiction": ["5101"]},
        [(0, 1, 0, 0, 1)],
    ),
    (
        "Active incidents by tier (I 特别重大 · II 重大 · III 较大 · IV 一般)",
        {"disease": ["cholera"]},
        [(0, 1, 0, 0, 0)],
    ),
    (
        "Active incidents by tier (I 特别重大 · II 重大 · III 较大 · IV 一般)",
        {"tier": ["IV", "I"]},
        [(0, 0, 0, 1, 0)],
    ),
    (
        "Tier timeline (I 特别重大 · II 重大 · III 较大 · IV 一般)",
        {"tier": ["IV"]},
        [(utc(3, 13), "inc-food-5001", "recommended", 1)],
    ),
    (
        "Tier timeline (I 特别重大 · II 重大 · III 较大 · IV 一般)",
        {"disease": ["cholera"], "jurisdiction": ["5101", "5001"]},
        [
            (utc(2, 9), "inc-cholera-5101", "recommended", 1),
            (utc(3, 10), "inc-cholera-5101", "recommended", 2),
            (utc(5, 12), "inc-cholera-5101", "recommended", 3),
            (utc(5, 13, 30), "inc-cholera-5101", "declared", 3),
        ],
    ),
    (
        "Confirmed cases per day per county",
        {"jurisdiction": ["5101"], "disease": ["cholera"]},
        [
            (utc(3) - SHANGHAI_DAY, "510104", 2),
            (utc(4) - SHANGHAI_DAY, "510105", 1),
            (utc(5) - SHANGHAI_DAY, "510105", 1),
        ],
    ),
    (
        "Confirmed cases per day per county",
        {"disease": ["norovirus"]},
        [(utc(3) - SHANGHAI_DAY, "500103", 1)],
    ),
    (
        "Overdue tasks by agency",
        {"jurisdiction": ["5101"]},
        [("health", 2), ("public_security", 1)],
    ),
    ("Overdue tasks by agency", {"tier": ["IV"]}, [("health", 1)]),
    (
        "Transfers in flight",
        {"jurisdiction": ["5001"]},
        [
            TR3_IN_FLIGHT,
        ],
    ),
    (
        "Free ICU beds by hospital",
        {"jurisdiction": ["5101"]},
        [
            ("hosp-a", 2.0, 20.0, 1.0, 0.0),
            ("hosp-b", 7.0, 10.0, 4.0, 3.0),
        ],
    ),
    (
        "Stock days of cover by item (target 30 days)",
        {"jurisdiction": ["5101"]},
        [("ppe.n95", 9.0, 9.0, 30), ("ppe.gown", 80.0, 80.0, 30)],
    ),
    (
        "Days of cover at full load by jurisdiction (target 30 days)",
        {"jurisdiction": ["5001"]},
        [("5001", "ppe.n95", 3000.0, 200.0, 15.0, 30.0, 30)],
    ),
    (
        "Forecasts by incident",
        {"disease": ["cholera"]},
        [("inc-cholera-5101", "5101", "cholera", 5.0, 10.0, 7.0, 2.0, 11.0, 17.2, utc(5, 12))],
    ),
    (
        "Staff and teams by jurisdiction",
        {"jurisdiction": ["5001"]},
        [("5001", "staff.icu_nurse", 12.0, 1, utc(6, 9))],
    ),
    (
        "Alerts",
        {"disease": ["cholera"]},
        [REDIRECT_ALERT],
    ),
    # A value with a quote is escaped, not spliced: no match, and no SQL error.
    ("Overdue tasks by agency", {"jurisdiction": ["51'01"]}, []),
]


@pytest.mark.parametrize(
    ("title", "selected", "expected"),
    FILTERED,
    ids=[f"{t}-{sorted(s.items())}" for t, s, _ in FILTERED],
)
def test_variables_narrow_the_panel(
    reader: Client,
    board_db: str,
    title: str,
    selected: Mapping[str, VariableValue],
    expected: list[tuple[Any, ...]],
) -> None:
    _, rows = run_panel(reader, target(title), board_db, **selected)
    assert rows == [tuple(_normal(v) for v in row) for row in expected]


def _fields_named(panel: Mapping[str, Any]) -> set[str]:
    """Result fields a panel's display options name (they break silently in Grafana)."""
    text = str(panel.get("fieldConfig", {})) + str(panel.get("options", {}))
    names = set(re.findall(r"\$\{__data\.fields\.(\w+)\}", text))
    names |= set(re.findall(r"'fields': '/\^(\w+)\$/'", text))
    for override in panel.get("fieldConfig", {}).get("overrides", []):
        if override["matcher"]["id"] == "byName":
            names.add(override["matcher"]["options"])
    for layer in panel.get("options", {}).get("layers", []):
        location = layer.get("location", {})
        names |= {location[k] for k in ("latitude", "longitude") if k in location}
        style = layer.get("config", {}).get("style", {})
        names |= {v["field"] for v in style.values() if isinstance(v, dict) and v.get("field")}
    return names


def test_panel_options_name_only_columns_their_query_returns() -> None:
    for dashboard in load_dashboards().values():
        for panel in panels(dashboard):
            if panel["title"] not in EXPECTED:
                continue
            columns = set(EXPECTED[panel["title"]][0])
            assert _fields_named(panel) <= columns, panel["title"]


def test_the_reader_cannot_write(reader: Client, board_db: str) -> None:
    with pytest.raises(Exception, match=r"readonly|READONLY|ACCESS_DENIED"):
        reader.command(f"TRUNCATE TABLE {board_db}.incidents")


def test_the_board_reads_staff_teams_and_replenishment_tasks(
    stack: Settings, board_db: str
) -> None:
    """``tierflow board``'s own queries on the same landed scenario (issue 15 items 1, 2,
    4, 5)."""
    client = connect(stack, board_db, reader=True)
    try:
        board = read_board(client)
    finally:
        client.close()
    assert [(r["jurisdiction"], r["item"], r["available"], r["sites"]) for r in board.staff] == [
        ("5001", "staff.icu_nurse", 12.0, 1),
        ("5101", "staff.icu_nurse", 42.0, 2),
        ("5101", "team.military_medical", 2.0, 1),
    ]
    assert sorted({r["item"] for r in board.stock}) == ["ppe.gown", "ppe.n95"]
    full_load = {(r["site_id"], r["item"]): r["latest_days_at_full_load"] for r in board.stock}
    assert full_load == {
        ("depot-1", "ppe.gown"): 8.0,
        ("depot-1", "ppe.n95"): 9.0,
        ("depot-2", "ppe.n95"): 15.0,
    }
    # issue 15 item 5: the incidents' forecasts, the ICU outlook first
    assert [(r["incident_id"], r["doubling_days"]) for r in board.forecasts] == [
        ("inc-cholera-5101", 7.0),
        ("inc-warning-5101", None),
    ]
    # converted ICU beds: hosp-b's 3 and hosp-a's 5 (its standing conversion, opened by
    # now; the retracted one is not counted), none at hosp-c
    icu = {r["site_id"]: r["converted"] for r in board.beds if r["item"] == "bed.icu"}
    assert icu == {"hosp-a": 5.0, "hosp-b": 3.0, "hosp-c": 0.0}
    # a replenishment task follows no tier: the room sees it overdue all the same
    stockpile = [t for t in board.overdue_tasks if t["incident_id"].startswith("stockpile/")]
    assert [(t["task_id"], t["tier"]) for t in stockpile] == [("t-stock", "IV")]
