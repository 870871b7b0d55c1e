"""The board from hand-written rows: names instead of ids, local time with its zone,
overdue tasks grouped by incident, and pages that fit the screen (the tmux test checks
the same on a real terminal and a real database)."""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

import pytest
from rich.console import Console, RenderableType

from sinks.command_view import Board
from sinks.display import LocalTime
from streams.commands import term
from streams.commands.board_cells import lag_text
from streams.commands.board_layout import View
from streams.commands.board_view import board_pages, render
from streams.simulate.places import COUNTIES
from topics.regions import RegionTableError, parse_regions, place_name, regions

T0 = datetime(2026, 3, 2, 1, 52, tzinfo=UTC)  # 09:52 in Asia/Shanghai
SHANGHAI = LocalTime(ZoneInfo("Asia/Shanghai"))
CHOLERA_ID = "141e1fc5-098e-5af4-a127-afea8e694579"


def incident(incident_id: str, tier: str | None, **fields: Any) -> dict[str, Any]:
    return {
        "incident_id": incident_id,
        "jurisdiction": "5101",
        "category": "infectious_disease",
        "disease": "cholera",
        "tier": tier,
        "warning": False,
        "phase": "confirmed",
        "updated_at": T0,
        **fields,
    }


def task(incident_id: str, n: int, tier: str = "II") -> dict[str, Any]:
    return {
        "task_id": f"task-{incident_id}-{n}",
        "incident_id": incident_id,
        "tier": tier,
        "agency_type": ("emergency", "health", "public_security", "transport")[n % 4],
        "action": f"action number {n} of a long response plan",
        "due_at": T0 + timedelta(hours=n),
    }


def board(**fields: Any) -> Board:
    base: dict[str, Any] = {
        "incidents": [
            incident(CHOLERA_ID, "II"),
            incident("INC-MCI-1", "III", category="mass_casualty", disease=None, jurisdiction="5103"),  # noqa: E501
        ],
        "stood_down": [],
        "timeline": {CHOLERA_ID: [{"tier": "IV", "effective_at": T0 - timedelta(hours=1)},
                                  {"tier": "II", "effective_at": T0}]},
        "overdue_tasks": [task(CHOLERA_ID, 1), task(CHOLERA_ID, 2), task("INC-MCI-1", 3, "III")],
        "transfers": [],
        "redirects": [],
        "stock": [],
        "dlq_count": 7,
        "overdue_elsewhere": 23,
        "beds": [
            {"site_id": "H-1", "item": "bed.icu", "free": 0.0, "baseline": 12.0, "latest_at": T0},
            {"site_id": "H-2", "item": "bed.icu", "free": 9.0, "baseline": 120.0,
             "convertible": 5.0, "converted": 4.0, "latest_at": T0},
        ],
        "staff": [
            {"jurisdiction": "5101", "item": "staff.icu_nurse", "available": 42.0, "sites": 2,
             "latest_at": T0},
            {"jurisdiction": "5101", "item": "team.military_medical", "available": 3.0,
             "sites": 1, "latest_at": T0},
        ],
    }  # fmt: skip
    return Board(**{**base, **fields})


def text_of(renderable: RenderableType, width: int = 200) -> str:
    console = term.console()
    console.width = width
    with console.capture() as captured:
        console.print(renderable)
    return captured.get()


def view(clock: LocalTime = SHANGHAI, **fields: Any) -> View:
    return View(board(**fields), "tierflow", clock, T0, **({"program": "tierflow"}))


def test_incidents_are_named_by_disease_or_category_and_city_ids_on_demand() -> None:
    shown = text_of(render(view(), 200))
    assert "cholera · Chengdu" in shown and "mass casualty · Zigong" in shown
    assert CHOLERA_ID not in shown and "INC-MCI-1" not in shown
    with_ids = View(board(), "tierflow", SHANGHAI, T0, ids=True)
    shown = text_of(render(with_ids, 250), 250)
    assert CHOLERA_ID in shown and "task-INC-MCI-1-3" in shown


def test_times_are_local_and_the_zone_is_named() -> None:
    shown = text_of(render(view(), 200))
    assert "Asia/Shanghai (UTC+08:00)" in shown.splitlines()[0]
    assert "IV 03-02 08:52 → II 09:52" in shown  # 00:52 and 01:52 UTC
    in_utc = text_of(render(view(LocalTime(UTC)), 200))
    assert "IV 03-02 00:52 → II 01:52" in in_utc and "UTC+00:00" in in_utc


def test_overdue_tasks_are_grouped_by_incident_with_what_is_left_out_counted() -> None:
    lines = [line.rstrip() for line in text_of(render(view(), 200)).splitlines()]
    start = next(i for i, line in enumerate(lines) if line.startswith("Overdue tasks"))
    assert lines[start] == "Overdue tasks of live tiers (3)"
    body = lines[start + 3 : start + 9]
    assert body[0] == " II 重大  cholera · Chengdu — 2"
    assert body[1].startswith("  action number 1") and body[2].startswith("  action number 2")
    assert body[3] == " III 较大  mass casualty · Zigong — 1"
    assert body[5].startswith("23 more of stood-down incidents or superseded tiers")


def test_beds_show_free_of_capacity_the_fullest_first() -> None:
    lines = text_of(render(view(), 200)).splitlines()
    beds = [line.split() for line in lines if line.startswith("H-")]
    assert [(b[0], b[1]) for b in beds] == [("H-1", "0/12"), ("H-2", "9/120")]
    assert beds[1][2] == "+5"  # H-2 can open 5 more ICU beds (convertible)
    assert beds[1][3] == "4"  # and an acked conversion opened 4 (converted)
    assert beds[0][2] != "+0"  # H-1 reported none: nothing shown
    assert "converted" in next(line for line in lines if "ICU free/beds" in line)


def test_staff_and_teams_show_by_jurisdiction() -> None:
    lines = text_of(render(view(), 200)).splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("Staff and teams"))
    rows = [line.split() for line in lines[start:] if line.startswith("5101")]
    assert [r[:4] for r in rows] == [
        ["5101", "staff.icu_nurse", "42", "2"],
        ["5101", "team.military_medical", "3", "1"],
    ]


def test_forecasts_show_growth_and_when_icu_beds_run_out() -> None:
    def forecast(
        incident: str, before: float, week: float, doubling: float | None, days: float | None
    ) -> dict[str, Any]:
        return {"incident_id": incident, "jurisdiction": "5101", "category": "infectious_disease",
                "disease": "cholera", "confirmed_window_before": before, "confirmed_window": week,
                "doubling_days": doubling, "critical": 4.0, "icu_capacity": 16.0,
                "icu_days_to_exceed": days}  # fmt: skip

    rows = [forecast(CHOLERA_ID, 5, 10, 7.0, 14.0), forecast("c2" * 18, 10, 8, None, None)]
    stock = [
        {
            "site_id": "D-1",
            "item": "ppe.gown",
            "latest_on_hand": 900.0,
            "latest_days_of_cover": 18.0,
            "latest_days_at_full_load": 3.0,
            "latest_at": T0,
        }
    ]
    lines = text_of(render(view(forecasts=rows, stock=stock), 200)).splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("Forecasts"))
    shown = [" ".join(line.split()) for line in lines[start + 3 : start + 5]]
    assert "5 → 10 7.0 d 4 / 16 in 14 d" in shown[0]
    assert "10 → 8 no growth 4 / 16 -" in shown[1]
    gowns = next(line.split() for line in lines if line.startswith("D-1"))
    assert gowns[1:7] == ["ppe.gown", "900", "18.0", "d", "3.0", "d"]


def _pages(width: int, height: int, **fields: Any) -> tuple[list[RenderableType], Console]:
    console = term.console()
    console.width = width

    def measure(renderable: RenderableType, at: int) -> int:
        return len(console.render_lines(renderable, console.options.update(width=at), pad=False))

    return board_pages(view(**fields), width, height, measure), console


@pytest.mark.parametrize(("width", "height"), [(80, 17), (80, 10), (200, 30)])
def test_pages_fit_the_screen_and_lose_no_row(width: int, height: int) -> None:
    tasks = [task(CHOLERA_ID, n) for n in range(1, 31)]
    stock = [
        {"site_id": f"S-{n}", "item": "ppe.n95", "latest_on_hand": 5.0,
         "latest_days_of_cover": float(n), "latest_days_at_full_load": None, "latest_at": T0}
        for n in range(20)
    ]  # fmt: skip
    pages, console = _pages(width, height, overdue_tasks=tasks, stock=stock)
    seen = ""
    for page in pages:
        lines = console.render_lines(page, console.options.update(width=width), pad=False)
        assert len(lines) <= height
        seen += text_of(page, width)
    for n in range(1, 31):
        assert f"action number {n} " in seen or f"action number {n}…" in seen, n
    assert all(f"S-{n} " in seen for n in range(20))
    assert "Next steps" in seen


def test_region_table_names_every_place_the_scenarios_use() -> None:
    table = regions()
    for code in COUNTIES:
        assert {code, code[:4], code[:2]} <= table.keys(), code
    assert place_name("5101") == "Chengdu" and place_name("5101", chinese=True) == "成都市 Chengdu"
    assert place_name("4401") == "4401"  # not in the table: the code itself
    assert place_name("nation") == "national"


def test_region_table_errors_name_the_key() -> None:
    with pytest.raises(RegionTableError) as bad:
        parse_regions('"5101": {name: 成都市, name_en: Chengdu}\n5102: {name: x}\n"51": {name: y}')
    message = str(bad.value)
    assert "5102: not a quoted 2-, 4- or 6-digit GB/T 2260 code" in message
    assert "51.name_en: Field required" in message
    with pytest.raises(RegionTableError, match="5101: its parent division 51 is not"):
        parse_regions('"5101": {name: 成都市, name_en: Chengdu}')


def test_commands_are_printed_as_they_can_be_run(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    script = tmp_path / ".venv" / "bin" / "tierflow"
    script.parent.mkdir(parents=True)
    script.write_text("")
    script.chmod(0o755)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    monkeypatch.setattr(sys, "argv", [str(script), "board"])
    assert term.program() == ".venv/bin/tierflow"
    monkeypatch.setenv("PATH", f"{script.parent}:/usr/bin")
    assert term.program() == "tierflow"
    monkeypatch.setattr(sys, "argv", ["/x/streams/cli.py", "board"])
    assert term.program() == "tierflow"


def test_both_tiers_and_the_decision_lag_fit_in_80_columns() -> None:
    incidents = [
        # recommended II, declared II 3 h 05 min after the recommendation of II
        incident(CHOLERA_ID, "II", declared_tier="II", decision_lag_s=3 * 3600 + 300),
        # recommended III, nobody has declared yet; its name is whole at 80 columns
        incident("INC-MCI-1", "III", category="mass_casualty", disease=None, jurisdiction="5103"),
    ]
    pages, _ = _pages(80, 24, incidents=incidents)
    shown = "".join(text_of(page, 80) for page in pages)
    assert all(len(line) <= 80 for line in shown.splitlines())
    (cholera,) = [line for line in shown.splitlines() if "+3h05" in line]
    assert cholera.startswith(" II 重大 ") and " II +3h05" in cholera
    (mci,) = [line for line in shown.splitlines() if "undeclared" in line]
    assert mci.startswith(" III 较大 ") and "mass casualty · Zigong " in mci
    assert "rules say" in shown and "declared" in shown


@pytest.mark.parametrize(
    ("seconds", "text"), [(900, "15m"), (3 * 3600 + 300, "3h05"), (2 * 86400 + 3 * 3600, "2d03h")]
)
def test_decision_lags_are_short(seconds: float, text: str) -> None:
    assert lag_text(seconds) == text


def test_the_board_of_a_drill_reads_its_exercise_rows_only() -> None:
    from sinks.command_view import read_board

    class Client:  # records the SQL; answers every query with no row (counts: 0)
        def __init__(self) -> None:
            self.sql: list[str] = []

        def query(self, sql: str, parameters: Any = None) -> Any:
            self.sql.append(sql)

            class Result:
                result_rows: ClassVar[list[list[int]]] = [[0]]

                @staticmethod
                def named_results() -> list[dict[str, Any]]:
                    return [{"count()": 0}] if sql.lstrip().startswith("SELECT count()") else []

            return Result()

    client = Client()
    board = read_board(client, "Exercise")  # type: ignore[arg-type]
    assert board.incidents == [] and board.overdue_elsewhere == 0
    with_status = [sql for sql in client.sql if "status" in sql]
    assert len(with_status) == len(client.sql) - 1  # all but the DLQ count
    assert all("status = 'Exercise'" in sql and "'Actual'" not in sql for sql in with_status)
    with pytest.raises(ValueError, match="status 'Drill'"):
        read_board(client, "Drill")  # type: ignore[arg-type]


def test_a_redirect_says_whether_the_city_or_its_province_made_it() -> None:
    redirects = [
        {"subject_id": "T-1", "jurisdiction": "51", "at": T0,
         "message": "H-510104-01 has no free icu bed in 5101: redirect to H-510302-01 "
                    "自流井区第一医院 in 5103 (designated, 3 free, 161.3 km from H-510104-01)"},
        {"subject_id": "T-1", "jurisdiction": "5101", "at": T0,
         "message": "H-510104-01 has no free icu bed: no free bed in the jurisdiction"},
    ]  # fmt: skip
    lines = text_of(render(view(redirects=redirects), 200)).splitlines()
    rows = [line.split(maxsplit=4) for line in lines if line.startswith("T-1")]
    assert [r[:2] for r in rows] == [["T-1", "Sichuan"], ["T-1", "Chengdu"]]
    assert "redirect to H-510302-01 自流井区第一医院 in 5103" in rows[0][4]
    assert rows[1][4].rstrip().endswith("no free bed in the jurisdiction")
