"""`tierflow board --watch` in a real terminal (tmux) on the three scenarios as the
pipeline lands them: at 80×24 every section is reachable by paging and nothing scrolls
off; at 200×50 it is one page; `q` quits with status 0."""

from __future__ import annotations

import re
import sys
from collections import Counter
from collections.abc import Iterator

import pytest
from clickhouse_connect.driver.client import Client
from rich.cells import cell_len

from streams.config.settings import Settings
from streams.core import default_rulebook
from streams.simulate import generate

from .kafka_helpers import run_cli, settings_env
from .live_support import ROOT
from .tmux_pane import Pane

# A task row of the overdue section: indented action, agency, due time.
TASK_ROW = re.compile(r"^  \S.*\s(\w+)\s+\d\d-\d\d \d\d:\d\d$", re.MULTILINE)
SCENARIOS = ("cholera", "road-mci", "supply-squeeze")
SECTIONS = (
    "Active incidents by tier",
    "Stood down (latest 10)",
    "Overdue tasks of live tiers (4)",
    "Beds free of capacity",
    "Transfers in flight",
    "Capacity redirects",
    "Stock days of cover",
    "Next steps",
)


def watch(stack: Settings, database: str, cols: int, rows: int) -> Pane:
    command = [sys.executable, "-m", "streams.cli", "board", "--watch", "--every", "2"]
    env = {**settings_env(stack), "TIERFLOW_DISPLAY_TZ": "Asia/Shanghai"}
    return Pane([*command, "--database", database], cols, rows, env=env, cwd=ROOT)


def footer(screen: list[str]) -> str:
    return [line for line in screen if line.strip()][-1]


def drawn(screen: list[str]) -> bool:
    """A whole frame: the title on top, the page footer at the bottom."""
    return screen[0].startswith("tierflow board") and footer(screen).startswith("page ")


@pytest.fixture
def small(stack: Settings, scenarios_db: str) -> Iterator[Pane]:
    with watch(stack, scenarios_db, 80, 24) as pane:
        yield pane


def test_at_80x24_every_section_is_a_page_away_and_q_quits(
    small: Pane, stack: Settings, scenarios_db: str, ch_admin: Client
) -> None:
    first = small.wait(drawn)
    pages = int(footer(first).split()[1].split("/")[1])
    assert pages > 1, "80×24 cannot hold the whole board on one page"
    assert "q quit" in footer(first) and "every 2 s" in footer(first)
    seen: list[list[str]] = []
    for page in range(1, pages + 1):
        screen = small.wait(lambda s, p=page: drawn(s) and footer(s).startswith(f"page {p}/"))
        assert len(screen) <= 24 and max(cell_len(line) for line in screen) <= 80
        seen.append(screen)
        small.keys("n")
    small.wait(lambda s: drawn(s) and footer(s).startswith("page 1/"))  # back to the first
    text = "\n".join("\n".join(screen) for screen in seen)
    for section in SECTIONS:
        assert section in text, (section, text)
    assert "II 重大" in text and "mass casualty · Chengdu" in text
    # both tiers in 80 columns (issue 13): what the rules say, and the declared tier with
    # its decision lag (the scenario's command agency declares 15 min after each change)
    assert re.search(r"rules say\s+declared\s+incident", text), text
    assert re.search(r"II 重大\s+II \+15m\s+mass casualty · Chengdu", text), text
    # Overdue: only the tasks the accident's Tier II issued, by the plan's agencies;
    # none of the cholera incidents (stood down) nor the accident's Tier IV/III tasks.
    (group,) = [line for line in text.splitlines() if " — 4" in line]
    assert group.startswith(" II 重大  mass casualty · Chengdu"), text
    tasks = TASK_ROW.findall(text)
    assert sorted(tasks) == sorted(t.agency for t in default_rulebook().plan["II"]), text
    everything = ch_admin.query(
        f"SELECT count() FROM {scenarios_db}.tasks FINAL "
        "WHERE status = 'Actual' AND state = 'overdue'"
    ).result_rows[0][0]
    assert f"{everything - 4} more of stood-down incidents or superseded tiers" in text
    small.keys("q")
    small.wait(lambda _: small.exit_status() is not None, timeout=30)
    assert small.exit_status() == 0


def test_at_200x50_the_board_is_one_page(stack: Settings, scenarios_db: str) -> None:
    with watch(stack, scenarios_db, 200, 50) as pane:
        screen = pane.wait(drawn)
        assert footer(screen).startswith("page 1/1"), "\n".join(screen)
        text = "\n".join(screen)
        for section in SECTIONS:
            assert section in text, (section, text)
        timeline = next(line for line in screen if "mass casualty · Chengdu" in line)
        assert "IV 03-02 09:18 → III 09:37 → II 09:52" in timeline


def test_dlq_list_counts_what_the_scenarios_planted_by_reason(
    stack: Settings, scenarios_db: str
) -> None:
    """As the read-only user: per reason the number of malformed lines the scenarios'
    truth says they planted (``not_object`` lines → "not a JSON object"), the latest two
    of each with where they came from, and never a record's bytes."""
    planted = Counter(
        m["error"] for name in SCENARIOS for m in generate(name, 1).truth["malformed"]
    )
    out = run_cli(["dlq", "list", "--database", scenarios_db, "--examples", "2"], stack).stdout
    assert f"Rejected records in {scenarios_db}: {sum(planted.values())}" in out
    summary, examples = out.split("Latest 2 of each")
    counts = [int(line.split()[0]) for line in summary.splitlines() if line.strip()[:1].isdigit()]
    assert sum(counts) == sum(planted.values())
    row = next(line for line in summary.splitlines() if "not a JSON object" in line)
    assert row.split()[0] == str(planted["not_object"])
    shown = [line for line in examples.splitlines() if line.startswith("    ") and "@" in line]
    assert len(shown) == sum(min(2, n) for n in counts)
    assert "eyJ" not in out  # base64 of a JSON object: the bytes stay in the DLQ topic
