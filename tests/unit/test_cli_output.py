"""What the CLI prints is other people's text: a file's line numbers, agencies' ids. Rich
must print it verbatim, never as markup or emoji codes (``FILE:100:`` once came out as
``FILE💯``, and a ``[/x]`` in an id raised MarkupError in the board)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from typer.testing import CliRunner

from sinks.command_view import Board, named_rows
from sinks.display import LocalTime, printable
from streams.cli import app
from streams.commands import term
from streams.commands.board_layout import View
from streams.commands.board_view import render

VALID = (
    b'{"kind":"tick","event_id":"t1","tick_at":"2026-03-02T08:00:00+08:00","jurisdiction":"5101"}'
)


def test_publish_names_line_100_verbatim_on_one_line(tmp_path: Path) -> None:
    source = tmp_path / "events.jsonl"
    lines = [VALID] * 99 + [b"[1, 2]"] + [VALID] * 1134 + [b'{"kind": "nope"}']
    source.write_bytes(b"\n".join(lines) + b"\n")
    result = CliRunner().invoke(app, ["publish", str(source)], env={"COLUMNS": "40"})
    assert result.exit_code == 1
    errors = [ln for ln in result.stderr.splitlines() if ln.startswith(str(source))]
    assert errors == [
        f"{source}:100: not a JSON object (got list)",
        f"{source}:1235: kind: unknown kind 'nope' "
        "(expected one of incident, case, transfer, stock)",
    ]


def test_board_prints_agency_text_verbatim() -> None:
    odd = "INC-[/x]-[bold]:100:"
    at = datetime(2026, 3, 2, 8, tzinfo=UTC)
    incident = {
        "incident_id": odd,
        "jurisdiction": "5101",
        "category": "mass_casualty",
        "disease": None,
        "tier": "II",
        "warning": False,
        "phase": "reported",
        "updated_at": at,
    }
    board = Board(
        incidents=[incident],
        stood_down=[],
        timeline={odd: [{"tier": "II", "effective_at": at}]},
        overdue_tasks=[],
        transfers=[],
        redirects=[
            {
                "subject_id": "T-1",
                "jurisdiction": "5101",
                "at": at,
                "message": "to [red]H-2[/red] :fire:",
            }
        ],
        stock=[],
        dlq_count=0,
    )
    out = term.console()
    out.width = 300
    view = View(board, "tierflow", LocalTime(ZoneInfo("Asia/Shanghai")), at, ids=True)
    with out.capture() as captured:
        out.print(render(view, out.width))
    text = captured.get()
    assert odd in text
    assert "to [red]H-2[/red] :fire:" in text


class _Result:
    def __init__(self, rows: list[dict[str, object]]) -> None:
        self.rows = rows

    def named_results(self) -> list[dict[str, object]]:
        return self.rows


class _Client:
    """Answers every query with the same rows (a shell test of the read, not of SQL)."""

    def __init__(self, rows: list[dict[str, object]]) -> None:
        self.rows = rows

    def query(self, sql: str, parameters: object = None) -> _Result:
        return _Result(self.rows)


def test_control_characters_an_agency_sent_are_shown_not_obeyed() -> None:
    """ESC [2J clears the command room's screen; U+202E shows what follows reversed. Read
    from the store, each is shown as its escape; text around it and other values stay."""
    hostile = "INC-\x1b[2J\x1b[31mTIER I\u202ex\nnext"
    rows = named_rows(_Client([{"incident_id": hostile, "tier": "II", "n": 3}]), "SELECT")  # type: ignore[arg-type]
    assert rows == [
        {"incident_id": "INC-\\x1b[2J\\x1b[31mTIER I\\u202ex\\nnext", "tier": "II", "n": 3}
    ]
    assert printable(["a\x07", ("b\x9b",)]) == ["a\\x07", ("b\\x9b",)]
    assert printable("霍乱 cholera · 成都市") == "霍乱 cholera · 成都市"
