"""`tierflow board [--watch] [--ids]`: the command view in a terminal, read from ClickHouse
as the read-only user (what it shows: ``streams.commands.board_view``)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, get_args

import typer
from rich.text import Text

from streams.commands import term
from streams.config.settings import Settings, load_settings
from topics.vocabulary import Status

if TYPE_CHECKING:
    from sinks.display import LocalTime
    from sinks.pipeline_view import WorkerHealth
    from streams.commands.board_layout import View

console = term.console()


def reader(
    settings: Settings, database: str, *, ids: bool = False, status: Status = "Actual"
) -> Callable[[], View]:
    """A function that reads one snapshot of ``database``'s command view."""
    from sinks.client import connect
    from sinks.command_view import read_board
    from sinks.display import LocalTime
    from sinks.pipeline_view import worker_health
    from streams.commands.board_layout import View

    client = connect(settings, database, reader=True)
    clock = LocalTime(settings.display_zone())
    program = term.program()

    def read() -> View:
        health = freshness(worker_health(client), database, clock)
        board = read_board(client, status)
        now = datetime.now(UTC)
        return View(board, database, clock, now, ids=ids, program=program, health=health)

    return read


def freshness(health: WorkerHealth, database: str, clock: LocalTime) -> Text:
    """The board's first line: as of when, whether a worker is up, its lag and when it last
    decided (from the workers' heartbeats), so stale data never passes for live."""
    now = health.as_of
    line = Text(f"as of {clock.full(now)} · ")
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
        ago = (clock.local(now) - clock.local(decided)).total_seconds()
        line.append(f" · last decision {_ago(ago)} ago")
    return line


def _ago(seconds: float) -> str:
    seconds = max(seconds, 0.0)
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.0f} h" if seconds < 172_800 else f"{seconds / 86400:.0f} d"


def board(
    watch: Annotated[
        bool, typer.Option("--watch", help="full screen, paged, refreshed every --every s")
    ] = False,
    every: Annotated[float, typer.Option(help="refresh period for --watch (s)")] = 5.0,
    database: Annotated[str | None, typer.Option(help="default: the live database")] = None,
    ids: Annotated[bool, typer.Option("--ids", help="show incident and task ids")] = False,
    status: Annotated[
        str,
        typer.Option(
            help="Actual (the live view), or Exercise / Test: a drill's view, read from "
            "<database>_exercise unless --database names one"
        ),
    ] = "Actual",
) -> None:
    """The joint command view: the workers' freshness, incidents by tier, overdue tasks of
    live tiers, beds, transfers, redirects, stock, the DLQ, and what to do next. Times are
    in the display zone (TIERFLOW_DISPLAY_TZ). --watch keys: n next page, p previous,
    q quit."""
    from streams.commands.board_view import render
    from streams.commands.board_watch import watch as watch_board

    if status not in get_args(Status):
        term.console(stderr=True).print(
            term.error(f"--status {status!r}: use Actual (live), Exercise or Test (drills)")
        )
        raise typer.Exit(2)
    settings = load_settings()
    default = settings.clickhouse_database
    if status != "Actual":  # a drill's rows land in <database>_exercise
        from sinks.namespaces import exercise_database

        default = exercise_database(default)
    # a server or database that is missing fails as one line (streams.commands.failures)
    read = reader(settings, database or default, ids=ids, status=status)  # type: ignore[arg-type]
    if watch:
        watch_board(read, every, console)
    else:
        console.print(render(read(), console.width))
