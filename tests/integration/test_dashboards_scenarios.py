"""Every panel of the joint command view on the three simulated scenarios as the pipeline
lands them (the JSONL replayed through the live decide stage and landing by
``tierflow replay --from-file``), read as the read-only ``grafana`` user.

``test_dashboards.py`` checks exact contents on hand-made rows; this one checks that the
queries run on what the pipeline really writes and that the panels the scenarios' stories
feed are not empty.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from clickhouse_connect.driver.client import Client

from sinks.client import connect
from tests.grafana_sql import ALL, QueryWindow, SqlTarget, expand, sql_targets
from tests.integration.kafka_helpers import run_cli
from topics.settings import Settings

SCENARIOS = ("cholera", "road-mci", "supply-squeeze")
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
def landed(
    stack: Settings, ch_admin: Client, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """One review database holding all three scenarios, landed by the pipeline's code."""
    folder: Path = tmp_path_factory.mktemp("scenarios")
    lines = b""
    for name in SCENARIOS:
        out = folder / f"{name}.jsonl"
        run_cli(["simulate", "--scenario", name, "--seed", "1", "--out", str(out)], stack)
        lines += out.read_bytes()
    merged = folder / "all.jsonl"
    merged.write_bytes(lines)
    review = f"dash{uuid.uuid4().hex[:10]}"
    run_cli(["replay", "--name", review, "--from-file", str(merged)], stack)
    try:
        yield f"review_{review}"
    finally:
        for database in (f"review_{review}", f"review_{review}_exercise"):
            ch_admin.command(f"DROP DATABASE IF EXISTS {database}")


def test_the_panels_the_stories_feed_exist() -> None:
    titles = {t.title for t in COMMAND_VIEW}
    assert titles >= MUST_SHOW, MUST_SHOW - titles


@pytest.mark.parametrize("target", COMMAND_VIEW, ids=[t.title for t in COMMAND_VIEW])
def test_panel_runs_on_the_landed_scenarios(
    stack: Settings, landed: str, target: SqlTarget
) -> None:
    reader = connect(stack, "", reader=True)
    variables = {"database": landed, "jurisdiction": ALL, "disease": ALL, "tier": ALL}
    result = reader.query(expand(target.raw_sql, WINDOW, variables))  # raises on bad SQL
    if target.title in MUST_SHOW:
        assert result.result_rows, f"{target.title}: empty on the landed scenarios"


def test_board_shows_the_scenarios(stack: Settings, landed: str) -> None:
    """`tierflow board` on the same database: road-mci's accident at Tier II with its
    escalation path (52 casualties, 6 critical: Tier II by the mass-casualty plan), the
    redirect away from the full ICU, supply-squeeze's depot below 7 days of cover, and
    the malformed lines the scenarios' truth files list (7 each) in the DLQ count; and
    cholera's city incident, over by the end of the story, among the stood-down ones
    with its whole path (it reached Tier II, then stood down)."""
    board = run_cli(["board", "--database", landed], stack).stdout
    stood_down = board[board.index("Stood down") : board.index("Overdue tasks")]
    cholera = next(line for line in stood_down.splitlines() if "cholera" in line)
    assert "cholera (" in cholera and "warning" not in cholera
    assert "II" in stood_down, stood_down
    assert "stood down" in " ".join(stood_down.split()), stood_down
    assert "cholera" not in board[: board.index("Stood down")]
    mci = next(line for line in board.splitlines() if "INC-MCI" in line)
    assert "II 重大" in mci and "→ II" in mci
    assert "redirect to" in board
    depot = [line for line in board.splitlines() if "DEPOT-5101" in line and "ppe.n95" in line]
    assert depot and float(depot[0].split(" d ")[0].split()[-1]) < 7
    assert board.rstrip().endswith("rejected records (DLQ): 21")
