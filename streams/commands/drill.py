"""`tierflow review drill NAME`: how the agencies did in a drill (issue 13 item 5)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from streams.commands import term
from streams.commands.review import StatusOption, review_db
from streams.config.settings import load_settings
from topics.errors import TierflowError

console = term.console()
errors = term.console(stderr=True)


def drill(
    name: Annotated[str, typer.Argument(help="a review's name, or 'live'")],
    status: StatusOption = "Exercise",
) -> None:
    """Evaluate a drill: per agency type, tasks issued, acked on time and late, overdue
    (never acked), median and worst time to ack; then each declaration with its decision
    lag. Reads the ``status`` rows (default Exercise: the exercise database of review NAME,
    or of the live database for NAME 'live')."""
    from sinks.client import connect
    from sinks.command_view import database_exists, read_review_record
    from streams.replay.diff import format_shift
    from streams.replay.drill import score_drill

    settings = load_settings()
    database = review_db(settings, name, status)
    try:
        if not database_exists(connect(settings, "", reader=True), database):
            raise TierflowError(
                f"no database {database}: no {status} rows of {name!r} landed "
                "(run the drill, or `tierflow replay --name NAME` over it, first)"
            )
        client = connect(settings, database, reader=True)
        try:
            score = score_drill(read_review_record(client, status))  # type: ignore[arg-type]
        finally:
            client.close()
    except TierflowError as exc:
        errors.print(term.error(exc))
        raise typer.Exit(1) from exc
    tasks = Table(
        "agency",
        "issued",
        "acked on time",
        "acked late",
        "overdue",
        "median to ack",
        "worst to ack",
        title=f"drill {name} ({database}): tasks",
    )
    for a in score.agencies:
        tasks.add_row(
            a.agency_type,
            str(a.issued),
            str(a.on_time),
            str(a.late),
            str(a.overdue),
            format_shift(a.median_ack),
            format_shift(a.worst_ack),
        )
    console.print(tasks)
    decided = Table(
        "incident", "declared (UTC)", "tier", "by", "decision lag", title="declarations"
    )
    for incident, d in score.declarations:
        decided.add_row(
            incident,
            d.declared_at.strftime("%Y-%m-%d %H:%M:%S"),
            d.tier or "none",
            d.declared_by or "-",
            format_shift(d.lag),
        )
    console.print(decided)
