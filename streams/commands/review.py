"""`tierflow review diff|report` (and `drill`, streams/commands/drill.py): compare reviews
and write the after-action report."""

from __future__ import annotations

from datetime import datetime, timedelta, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from streams.commands import term
from streams.config.settings import Settings, load_settings
from topics.errors import TierflowError

if TYPE_CHECKING:
    pass

review_app = typer.Typer(help="After-action reviews: compare and report.", no_args_is_help=True)
console = term.console()
errors = term.console(stderr=True)

StatusOption = Annotated[
    str, typer.Option("--status", help="Actual, or Exercise/Test: a drill's rows (<db>_exercise)")
]


def _namespace(database: str, status: str) -> str:
    """Where ``status`` rows of ``database`` land (drills: its exercise database)."""
    from sinks.namespaces import exercise_database

    if status not in ("Actual", "Exercise", "Test"):
        raise typer.BadParameter(f"{status!r}: use Actual, Exercise or Test", param_hint="--status")
    return database if status == "Actual" else exercise_database(database)


def review_db(settings: Settings, name: str, status: str) -> str:
    """The database of review ``name`` ('live': the live one) for ``status`` rows."""
    from streams.replay.runner import review_database

    base = settings.clickhouse_database if name == "live" else review_database(name)
    return _namespace(base, status)


@review_app.command("diff")
def diff(
    name: Annotated[str, typer.Argument(help="the review to compare")],
    against: Annotated[str, typer.Option(help="'live' or another review's name")] = "live",
    status: StatusOption = "Actual",
) -> None:
    """Per incident: tier changes the review reached earlier, later, not at all (missing)
    or that the reference never reached (extra), with their rules; and the live run's
    decision latency (decided_at - effective_at). Only tier changes effective in the
    review's event-time range are compared (a review of March knows nothing of December).
    --status Exercise compares drills (both sides' exercise databases)."""
    from sinks.client import connect
    from sinks.command_view import read_tier_changes
    from sinks.reviews import read_review_run
    from streams.core import default_rulebook
    from streams.replay.diff import (
        TierChange,
        decision_latency,
        diff_timelines,
        format_shift,
        latency_meaningful,
        within,
    )

    settings = load_settings()
    database, reference_db = review_db(settings, name, status), review_db(settings, against, status)
    try:
        _require_database(
            settings,
            database,
            f"no review {name!r} ({database} does not exist): run "
            f"`tierflow replay --name {name} --from T1 --to T2` first",
        )
        _require_database(
            settings,
            reference_db,
            f"no live database {reference_db} (a worker creates it; or `tierflow db migrate`)"
            if against == "live"
            else f"no review {against!r} ({reference_db} does not exist)",
        )
    except TierflowError as exc:
        errors.print(term.error(exc))
        raise typer.Exit(1) from exc

    def changes(db: str) -> tuple[list[TierChange], tuple[datetime, datetime] | None]:
        client = connect(settings, db, reader=True)
        try:
            rows, run = read_tier_changes(client, status), read_review_run(client)  # type: ignore[arg-type]
        finally:
            client.close()
        # both timelines, compared apart: a declaration under "<incident> (declared)"
        timeline = [
            TierChange(
                r["incident_id"] + (" (declared)" if r.get("basis") == "declared" else ""),
                r["effective_at"],
                r["tier"],
                tuple(r["rule_ids"]),
                r["decided_at"],
            )
            for r in rows
        ]
        return timeline, (run.from_at, run.to_at) if run else None

    ours, our_range = changes(database)
    theirs, their_range = changes(reference_db)
    span = _overlap(our_range, their_range)
    if span:
        ours, theirs = within(ours, *span), within(theirs, *span)
    result = diff_timelines(ours, theirs)
    over = f", event time {term.at_utc(span[0])} to {term.at_utc(span[1])}" if span else ""
    table = Table(
        "incident",
        "tier",
        "verdict",
        "shift",
        f"review {name}",
        f"{against}",
        "rules (review / reference)",
        "live latency",
        title=f"review {name} against {against}{over}",
    )
    limit = timedelta(hours=default_rulebook().reporting_limit_hours)
    live = [d.reference for d in result if d.reference and against == "live"]
    timely = latency_meaningful(live, limit)  # back-dated data: latency means nothing
    for d in result:
        latency = decision_latency(d.reference) if d.reference in live and timely else None
        table.add_row(
            d.incident_id,
            d.tier or "stood down",
            d.verdict,
            format_shift(d.shift),
            _at(d.review),
            _at(d.reference),
            f"{_rules(d.review)} / {_rules(d.reference)}",
            format_shift(latency),
        )
    console.print(table)
    moved = sum(1 for d in result if d.verdict != "same")
    console.print(f"{len(result)} tier changes, {moved} differ")
    if live and not timely:
        console.print(
            "live latency not shown: even the fastest live decision came more than the "
            f"reporting limit ({limit}) after its event time, so the events were published "
            "after the fact and latency would measure that delay"
        )
    if span is None:
        errors.print(
            term.labelled(
                "note:", "yellow", f"review {name} has no recorded range: compared everything"
            )
        )


def _require_database(settings: Settings, database: str, missing: str) -> None:
    """TierflowError(``missing``) unless ``database`` exists."""
    from sinks.client import connect
    from sinks.command_view import database_exists

    if not database_exists(connect(settings, "", reader=True), database):
        raise TierflowError(missing)


def _overlap(
    a: tuple[datetime, datetime] | None, b: tuple[datetime, datetime] | None
) -> tuple[datetime, datetime] | None:
    """The event-time range both runs cover (the one known, if only one is)."""
    if a is None or b is None:
        return a or b
    return max(a[0], b[0]), min(a[1], b[1])


def _at(change: object) -> str:
    at = getattr(change, "effective_at", None)
    return at.strftime("%Y-%m-%d %H:%M:%S") if at else "-"


def _rules(change: object) -> str:
    return ",".join(getattr(change, "rule_ids", ())) or "-"


@review_app.command("report")
def report(
    name: Annotated[str, typer.Argument(help="the review to report on")],
    out: Annotated[Path, typer.Option(help="HTML file to write")] = Path("aar.html"),
    against: Annotated[
        str, typer.Option(help="diff against 'live' or another review's name")
    ] = "live",
    no_diff: Annotated[bool, typer.Option("--no-diff", help="leave the diff out")] = False,
    rules: Annotated[
        Path | None, typer.Option(help="rulebook for tier names, colours, stock target")
    ] = None,
    tz: Annotated[
        str | None, typer.Option("--tz", help="time zone shown (default: TIERFLOW_DISPLAY_TZ)")
    ] = None,
    status: StatusOption = "Actual",
) -> None:
    """Write the after-action report of review NAME: one self-contained HTML file (inline
    CSS and SVG, opens offline): a summary first (range, incidents, peak tier, tasks
    overdue, live decision latency where meaningful), then each incident by name with its
    tier timeline, evidence, tasks and their acks, transfers and redirects, days of cover,
    and the tier changes that differ from --against. --status Exercise reports a drill
    (NAME 'live': the live exercise database)."""
    from sinks.client import connect
    from sinks.command_view import database_exists
    from streams.core import default_rulebook, load_rulebook
    from streams.replay.report import read_report
    from streams.replay.report_html import render_report

    settings = load_settings()
    try:
        rulebook = load_rulebook(rules) if rules else default_rulebook()
        database = review_db(settings, name, status)
        reference = None
        if not no_diff:
            ref_db = review_db(settings, against, status)
            if database_exists(connect(settings, "", reader=True), ref_db):
                reference = (against, ref_db)
            else:
                errors.print(
                    term.labelled(f"no database {ref_db}:", "yellow", "the diff is left out")
                )
        if not database_exists(connect(settings, "", reader=True), database):
            raise TierflowError(f"no review {name!r} (database {database} does not exist)")
        zone = _zone(tz) if tz else settings.display_zone()
        html = render_report(
            read_report(
                settings,
                name,
                database,
                rulebook=rulebook,
                tz=zone,
                reference=reference,
                status=status,  # type: ignore[arg-type]
            )
        )
    except TierflowError as exc:
        errors.print(term.error(exc))
        raise typer.Exit(1) from exc
    out.write_text(html, encoding="utf-8")
    console.print(f"report of {database} -> {out} ({len(html):,} bytes)")


def _zone(name: str) -> tzinfo:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise typer.BadParameter(f"unknown time zone {name!r}", param_hint="--tz") from exc
