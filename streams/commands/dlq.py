"""`tierflow dlq list`: the rejected records by reason, read as the read-only user."""

from __future__ import annotations

from typing import Annotated

import typer
from rich import box
from rich.table import Table
from rich.text import Text

from streams.commands import term
from streams.config.settings import load_settings

dlq_app = typer.Typer(help="Rejected records (the DLQ).", no_args_is_help=True)
console = term.console()


@dlq_app.command("list")
def list_rejections(
    database: Annotated[str | None, typer.Option(help="default: the live database")] = None,
    examples: Annotated[int, typer.Option(min=0, help="latest records shown per reason")] = 3,
) -> None:
    """Rejected records grouped by reason and field, most frequent first, with the
    latest few of each and where they came from (topic, partition, offset). The records'
    bytes are not shown: they stay in the DLQ topic for the people who repair them."""
    from sinks.client import connect
    from sinks.display import LocalTime
    from sinks.pipeline_view import read_dlq

    settings = load_settings()
    name = database or settings.clickhouse_database
    try:
        kinds = read_dlq(connect(settings, name, reader=True), examples)
    except Exception as exc:  # the server or the database may be missing: say so plainly
        term.console(stderr=True).print(term.error(f"cannot read the DLQ of {name}: {exc}"))
        raise typer.Exit(1) from exc
    clock = LocalTime(settings.display_zone())
    total = sum(k.records for k in kinds)
    if not kinds:
        console.print(f"{name}: no rejected records")
        return
    table = Table("records", "reason", "field", "latest", box=box.SIMPLE_HEAD)
    table.columns[0].justify = "right"
    for kind in kinds:
        table.add_row(str(kind.records), kind.kind, kind.field or "-", clock.short(kind.latest_at))
    console.print(Text(f"Rejected records in {name}: {total}", style="bold"))
    console.print(table)
    console.print(Text(f"Latest {examples} of each: where (topic:partition@offset) and why"))
    for kind in kinds:
        console.print(Text(f"  {kind.kind} · {kind.field or '-'}", style="bold"))
        for e in kind.examples:
            where = f"{e['topic'] or '-'}:{_opt(e['partition'])}@{_opt(e['offset'])}"
            console.print(f"    {where}  {clock.short(e['rejected_at'])}  {e['reason']}")
    console.print(
        Text.assemble(
            f"Times in {clock.zone}. The records' bytes are on {settings.topic_prefix}.dlq.v1, "
            "not here: repair them, then ",
            (f"{term.program()} publish FILE", "bold"),
            " (event ids deduplicate).",
        )
    )


def _opt(value: object) -> str:
    return "-" if value is None else str(value)
