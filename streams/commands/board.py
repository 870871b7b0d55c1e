"""`tierflow board [--watch]`: the command view in a terminal, read from ClickHouse."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from streams.commands import term
from topics.settings import load_settings

if TYPE_CHECKING:
    from clickhouse_connect.driver.client import Client

    from sinks.command_view import Board, WorkerHealth

TIER_STYLE = {
    "I": "bold white on red",
    "II": "bold black on dark_orange",
    "III": "bold black on yellow",
    "IV": "bold white on blue",
}
TIER_NAME = {"I": "I 特别重大", "II": "II 重大", "III": "III 较大", "IV": "IV 一般"}
console = term.console()


def _tier(tier: str | None, warning: bool = False) -> Text:
    if tier is None:
        return Text("warning" if warning else "-", style="bold magenta" if warning else "")
    return Text(f" {TIER_NAME.get(tier, tier)} ", style=TIER_STYLE.get(tier, ""))


def _at(value: datetime | None) -> str:
    return value.strftime("%m-%d %H:%M") if value else "-"


def _cover(days: Any) -> Text:
    if days is None:
        return Text("-")
    style = (
        "red" if days < 7 else "dark_orange" if days < 14 else "yellow" if days < 30 else "green"
    )
    return Text(f"{days:.1f} d", style=style)


def render(board: Board, database: str) -> Group:
    """The board as rich renderables (no I/O)."""
    incidents = _incidents(board, "Active incidents by tier", board.incidents, active=True)
    stood_down = _incidents(board, "Stood down (latest 10)", board.stood_down, active=False)
    overdue = Table("agency", "incident", "tier", "action", "due", title="Overdue tasks")
    for row in board.overdue_tasks:
        overdue.add_row(
            row["agency_type"], row["incident_id"], row["tier"], row["action"], _at(row["due_at"])
        )
    transfers = Table(
        "transfer", "triage", "from → to", "bed", "state", "eta", title="Transfers in flight"
    )
    for row in board.transfers:
        transfers.add_row(
            row["transfer_id"],
            row["triage"] or "-",
            f"{row['from_facility']} → {row['to_facility']}",
            row["required_bed"],
            row["transfer_status"],
            _at(row["eta"]),
        )
    redirects = Table("transfer", "at", "redirect", title="Capacity redirects")
    for row in board.redirects:
        redirects.add_row(row["subject_id"], _at(row["at"]), row["message"])
    stock = Table(
        "site",
        "item",
        "on hand",
        "days of cover",
        "as of",
        title="Stock days of cover (target 30 d)",
    )
    for row in board.stock:
        stock.add_row(
            row["site_id"],
            row["item"],
            f"{row['latest_on_hand']:.0f}",
            _cover(row["latest_days_of_cover"]),
            _at(row["latest_at"]),
        )
    footer = Text(f"database {database} · rejected records (DLQ): {board.dlq_count}")
    return Group(Panel(incidents), stood_down, overdue, transfers, redirects, stock, footer)


def freshness(health: WorkerHealth, database: str) -> Text:
    """The board's first line: as of when, whether a worker is up, its lag and when it last
    decided (from the workers' heartbeats), so stale data never passes for live."""
    now = health.as_of
    line = Text(f"as of {now.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC · ")
    if health.up:
        count = len(health.up)
        line.append(f"worker up ({count} process{'es' if count > 1 else ''})", "bold green")
        lags = [(health.decide_lag, "to decide"), (health.land_lag, "to land")]
        line.append(" · lag " + ", ".join(f"{n:,} {what}" for n, what in lags if n is not None))
        wait = max((w["waiting_s"] or 0.0 for w in health.up), default=0.0)
        if wait >= 60:
            line.append(f" (oldest waiting {_ago(wait)})", "bold red")
    elif health.stale:
        last = health.stale[0]
        line.append(f"worker stale: last heartbeat {_ago(last['age_s'])} ago", "bold red")
        line.append(f" ({last['worker_id']}); is it running? tierflow stack status")
    else:
        line.append(f"no worker heartbeat in {database}", "bold yellow")
        line.append(" (start one: tierflow worker, or tierflow demo)")
    decided = health.latest("last_decision_at")
    if decided is not None:
        line.append(f" · last decision {_ago((now - decided).total_seconds())} ago")
    return line


def _ago(seconds: float) -> str:
    seconds = max(seconds, 0.0)
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.0f} h" if seconds < 172_800 else f"{seconds / 86400:.0f} d"


def _view(client: Client, database: str) -> Group:
    """The freshness line over the board, read now."""
    from sinks.command_view import read_board, worker_health

    return Group(freshness(worker_health(client), database), render(read_board(client), database))


def _incidents(board: Board, title: str, rows: list[dict[str, Any]], *, active: bool) -> Table:
    """Incidents with their tier and their timeline of tier changes (a warning the
    multi-point trigger opened is one only while it is ``active``)."""
    # Narrow terminals (the demo's 80 columns) must still show the tier and the whole id:
    # those never shrink, the id folds, and the timeline takes what is left.
    table = Table(title=title, expand=True)
    table.add_column("tier", no_wrap=True, min_width=9)
    table.add_column("incident", overflow="fold", ratio=3)
    table.add_column("area", no_wrap=True)
    table.add_column("what", ratio=2)
    table.add_column("timeline (event time)", ratio=4)
    for row in rows:
        steps = " → ".join(
            f"{c['tier'] or 'stood down'} {_at(c['effective_at'])}"
            for c in board.timeline.get(row["incident_id"], [])
        )
        what = row["disease"] or row["category"].replace("_", " ")
        table.add_row(
            _tier(row["tier"], row["warning"] and active),
            row["incident_id"],
            row["jurisdiction"],
            f"{what} ({row['phase']})",
            steps or "-",
        )
    return table


def board(
    watch: Annotated[bool, typer.Option("--watch", help="refresh every --every seconds")] = False,
    every: Annotated[float, typer.Option(help="refresh period for --watch")] = 5.0,
    database: Annotated[str | None, typer.Option(help="default: the live database")] = None,
) -> None:
    """The joint command view: incidents by tier, overdue tasks, transfers, stock, DLQ."""
    from rich.live import Live

    from sinks.client import connect

    settings = load_settings()
    name = database or settings.clickhouse_database
    # a server or database that is missing fails as one line (streams.commands.failures)
    client = connect(settings, name, reader=True)
    snapshot = _view(client, name)
    if not watch:
        console.print(snapshot)
        return
    with Live(snapshot, console=console, screen=False, refresh_per_second=1) as live:
        while True:
            time.sleep(every)
            live.update(_view(client, name))
