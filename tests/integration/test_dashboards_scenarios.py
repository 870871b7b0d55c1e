"""Every panel of the joint command view on the three simulated scenarios as the pipeline
lands them (the JSONL replayed through the live decide stage and landing by
``tierflow replay --from-file``), read as the read-only ``grafana`` user.

``test_dashboards.py`` checks exact contents on hand-made rows; this one checks that the
queries run on what the pipeline really writes and that the panels the scenarios' stories
feed are not empty.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from sinks.client import connect
from streams.config.settings import Settings
from tests.grafana_sql import ALL, QueryWindow, SqlTarget, expand, sql_targets
from tests.integration.kafka_helpers import run_cli

# The scenarios start on 2026-03-02 08:00 +08:00 and run about three weeks.
WINDOW = QueryWindow(
    datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 3, 31, tzinfo=UTC), timedelta(days=1)
)
COMMAND_VIEW = [t for t in sql_targets() if t.dashboard == "command-view.json"]

# What each story puts on the board: cholera's cases and tier changes, road-mci's ICU beds,
# transfers, redirect and unacknowledged tasks, supply-squeeze's PPE, late reports in all.
MUST_SHOW = {
    "Confirmed cases per day per county",
    "Tier timeline (I 特别重大 · II 重大 · III 较大 · IV 一般)",
    "Overdue tasks by agency",
    "Overdue tasks",
    "Capacity redirects",
    "Free ICU beds by hospital",
    "Stock days of cover by item (target 30 days)",
    "Reporting timeliness: case reports within 2 h",
    "Late reports by jurisdiction (all kinds)",
    "Alerts",
}


@pytest.fixture(scope="module")
def landed(scenarios_db: str) -> str:
    """The three scenarios landed by the pipeline (the session's ``scenarios_db``)."""
    return scenarios_db


def test_the_panels_the_stories_feed_exist() -> None:
    titles = {t.title for t in COMMAND_VIEW}
    assert titles >= MUST_SHOW, MUST_SHOW - titles


@pytest.mark.parametrize("target", COMMAND_VIEW, ids=[t.title for t in COMMAND_VIEW])
def test_panel_runs_on_the_landed_scenarios(
    stack: Settings, landed: str, target: SqlTarget
) -> None:
    reader = connect(stack, "", reader=True)
    variables = {
        "database": landed,
        "jurisdiction": ALL,
        "disease": ALL,
        "tier": ALL,
        "status": "Actual",
    }
    result = reader.query(expand(target.raw_sql, WINDOW, variables))  # raises on bad SQL
    if target.title in MUST_SHOW:
        assert result.result_rows, f"{target.title}: empty on the landed scenarios"


def test_board_shows_the_scenarios(stack: Settings, landed: str) -> None:
    """`tierflow board` on the same database: road-mci's accident at Tier II with its
    escalation path (52 casualties, 6 critical: Tier II by the mass-casualty plan), named
    by category and city, the redirect away from the full ICU and that ICU at 0 of its 12
    beds, supply-squeeze's depot below 7 days of cover, and the malformed lines the
    scenarios' truth files list (7 each) in the DLQ count; and cholera's city incident,
    over by the end of the story, among the stood-down ones with its whole path (it
    reached Tier II, then stood down). Times are Asia/Shanghai's: the accident reached
    Tier II at 01:52 UTC, 09:52 local."""
    board = run_cli(["board", "--database", landed], stack).stdout
    assert "Asia/Shanghai (UTC+08:00)" in board.splitlines()[0]
    stood_down = board[board.index("Stood down") : board.index("Overdue tasks")]
    cholera = next(line for line in stood_down.splitlines() if "cholera · Chengdu" in line)
    assert "warning" not in cholera
    assert "II" in stood_down, stood_down
    assert "stood down" in " ".join(stood_down.split()), stood_down
    assert "cholera" not in board[: board.index("Stood down")]
    mci = next(line for line in board.splitlines() if "mass casualty · Chengdu" in line)
    assert "II 重大" in mci and "→ II 09:52" in mci
    assert "INC-MCI" not in board  # ids only with --ids
    assert "INC-MCI-" in run_cli(["board", "--database", landed, "--ids"], stack).stdout
    assert "redirect to" in board
    icu = next(line for line in board.splitlines() if line.startswith("H-510112-01"))
    assert "0/12" in icu
    depot = [line for line in board.splitlines() if "DEPOT-5101" in line and "ppe.n95" in line]
    assert depot and float(depot[0].split(" d ")[0].split()[-1]) < 7
    assert "21 records in the DLQ" in board and "dlq list" in board
