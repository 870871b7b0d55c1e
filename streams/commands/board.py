"""`tierflow board [--watch] [--ids]`: the command view in a terminal, read from ClickHouse
as the read-only user (what it shows: ``streams.commands.board_view``)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated

import typer

from streams.commands import term
from topics.settings import Settings, load_settings

if TYPE_CHECKING:
    from streams.commands.board_view import View

console = term.console()


def reader(settings: Settings, database: str, *, ids: bool = False) -> Callable[[], View]:
    """A function that reads one snapshot of ``database``'s command view."""
    from sinks.client import connect
    from sinks.command_view import read_board
    from sinks.display import LocalTime
    from streams.commands.board_view import View

    client = connect(settings, database, reader=True)
    clock = LocalTime(settings.display_zone())
    program = term.program()

    def read() -> View:
        return View(
            read_board(client), database, clock, datetime.now(UTC), ids=ids, program=program
        )

    return read


def board(
    watch: Annotated[
        bool, typer.Option("--watch", help="full screen, paged, refreshed every --every s")
    ] = False,
    every: Annotated[float, typer.Option(help="refresh period for --watch (s)")] = 5.0,
    database: Annotated[str | None, typer.Option(help="default: the live database")] = None,
    ids: Annotated[bool, typer.Option("--ids", help="show incident and task ids")] = False,
) -> None:
    """The joint command view: incidents by tier, overdue tasks of live tiers, beds,
    transfers, redirects, stock, the DLQ, and what to do next. Times are in the display
    zone (TIERFLOW_DISPLAY_TZ). --watch keys: n next page, p previous, q quit."""
    from streams.commands.board_view import render
    from streams.commands.board_watch import watch as watch_board

    settings = load_settings()
    name = database or settings.clickhouse_database
    try:
        read = reader(settings, name, ids=ids)
        if watch:
            watch_board(read, every, console)
        else:
            console.print(render(read(), console.width))
    except Exception as exc:  # the server or the database may be missing: say so plainly
        term.console(stderr=True).print(term.error(f"cannot read the command view: {exc}"))
        raise typer.Exit(1) from exc
