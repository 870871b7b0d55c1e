"""`tierflow replay` and `tierflow review diff|report`: after-action reviews."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, tzinfo
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from streams.commands import term
from topics.errors import TierflowError
from topics.settings import load_settings

review_app = typer.Typer(help="After-action reviews: compare and report.", no_args_is_help=True)
console = term.console()
errors = term.console(stderr=True)


def _instant(text: str | None, option: str) -> datetime | None:
    if text is None:
        return None
    try:
        at = datetime.fromisoformat(text)
    except ValueError as exc:
        raise typer.BadParameter(f"{text!r} is not RFC 3339", param_hint=option) from exc
    if at.tzinfo is None:
        raise typer.BadParameter(f"{text!r} needs an offset (e.g. +08:00)", param_hint=option)
    return at


def replay(
    name: Annotated[str, typer.Option("--name", help="review name: lands in review_NAME")],
    from_at: Annotated[
        str | None, typer.Option("--from", help="start (RFC 3339), inclusive")
    ] = None,
    to_at: Annotated[str | None, typer.Option("--to", help="end (RFC 3339), exclusive")] = None,
    rules: Annotated[Path | None, typer.Option(help="alternate rulebook (what-if)")] = None,
    jurisdiction: Annotated[str | None, typer.Option(help="only regions with this prefix")] = None,
    from_file: Annotated[Path | None, typer.Option(help="replay a JSONL file, not Kafka")] = None,
    lateness_h: Annotated[float, typer.Option(help="how late records may sit in the log")] = 24,
) -> None:
    """Replay an event-time range of the topics (or a JSONL file) through the core into
    the review database review_NAME; never touches the live database or consumer group.
    Ctrl-C leaves a consistent review; the same command again resumes it."""
    from streams.core import default_rulebook, load_rulebook
    from streams.ops.runtime import tune_gc_for_core_state
    from streams.replay.session import ReviewRequest, replay_file, replay_kafka

    tune_gc_for_core_state()
    start, end = _instant(from_at, "--from"), _instant(to_at, "--to")
    if from_file is None and (start is None or end is None):
        raise typer.BadParameter("give --from and --to, or --from-file")
    if start and end and end <= start:
        raise typer.BadParameter("--to must be after --from")
    settings = load_settings()
    try:
        rulebook = load_rulebook(rules) if rules else default_rulebook()
        request = ReviewRequest(
            name, rulebook, jurisdiction, start, end, from_file, timedelta(hours=lateness_h)
        )
        columns = (
            TextColumn("replaying"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]:,.0f} events/s"),
            TimeElapsedColumn(),
        )
        with Progress(*columns, console=errors) as bar:
            task = bar.add_task("replay", total=None, rate=0.0)

            def advance(done: int, total: int) -> None:
                bar.update(task, advance=done, total=total)
                elapsed = bar.tasks[0].elapsed or 0
                bar.update(task, rate=bar.tasks[0].completed / elapsed if elapsed else 0.0)

            if from_file is not None:
                summary = replay_file(settings, request, advance)
            else:
                summary = asyncio.run(replay_kafka(settings, request, advance))
    except KeyboardInterrupt:
        errors.print(
            term.labelled(
                "interrupted:",
                "yellow",
                "the review is consistent; run the same command again to resume it",
            )
        )
        raise typer.Exit(130) from None
    except TierflowError as exc:
        errors.print(term.error(exc))
        raise typer.Exit(1) from exc
    resumed = " (resumed)" if summary.resumed else ""
    console.print(
        f"review {summary.database}: {summary.records} records in "
        f"{summary.seconds:.1f} s ({summary.rate:,.0f}/s){resumed}"
    )


@review_app.command("diff")
def diff(
    name: Annotated[str, typer.Argument(help="the review to compare")],
    against: Annotated[str, typer.Option(help="'live' or another review's name")] = "live",
) -> None:
    """Per incident: tier changes the review reached earlier, later, not at all (missing)
    or that the reference never reached (extra), with their rules; and the live run's
    decision latency (decided_at - effective_at)."""
    from sinks.client import connect
    from sinks.command_view import read_tier_changes
    from streams.core import default_rulebook
    from streams.replay.diff import (
        TierChange,
        decision_latency,
        diff_timelines,
        format_shift,
        latency_meaningful,
    )
    from streams.replay.runner import review_database

    settings = load_settings()
    reference_db = settings.clickhouse_database if against == "live" else review_database(against)

    def changes(database: str) -> list[TierChange]:
        rows = read_tier_changes(connect(settings, database, reader=True))
        return [
            TierChange(
                r["incident_id"],
                r["effective_at"],
                r["tier"],
                tuple(r["rule_ids"]),
                r["decided_at"],
            )
            for r in rows
        ]

    try:
        result = diff_timelines(changes(review_database(name)), changes(reference_db))
    except Exception as exc:  # a missing database or server: say which
        errors.print(term.error(f"cannot read the timelines: {exc}"))
        raise typer.Exit(1) from exc
    table = Table(
        "incident",
        "tier",
        "verdict",
        "shift",
        f"review {name}",
        f"{against}",
        "rules (review / reference)",
        "live latency",
        title=f"review {name} against {against}",
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
) -> None:
    """Write the after-action report of review NAME: one self-contained HTML file (inline
    CSS and SVG, opens offline): a summary first (range, incidents, peak tier, tasks
    overdue, live decision latency where meaningful), then each incident by name with its
    tier timeline, evidence, tasks and their acks, transfers and redirects, days of cover,
    and the tier changes that differ from --against."""
    from sinks.client import connect
    from sinks.command_view import database_exists
    from streams.core import default_rulebook, load_rulebook
    from streams.replay.report import read_report
    from streams.replay.report_html import render_report
    from streams.replay.runner import review_database

    settings = load_settings()
    try:
        rulebook = load_rulebook(rules) if rules else default_rulebook()
        database = review_database(name)
        reference = None
        if not no_diff:
            ref_db = settings.clickhouse_database if against == "live" else review_database(against)
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
            read_report(settings, name, database, rulebook=rulebook, tz=zone, reference=reference)
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
