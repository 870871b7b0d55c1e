"""`tierflow replay`: an after-action review of a range of the topics, or of a file."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from streams.commands import term
from streams.config.settings import Settings, load_settings
from topics.errors import TierflowError

if TYPE_CHECKING:
    from streams.replay.kafka_range import RangeCensus

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
    registry: Annotated[
        Path | None,
        typer.Option(
            help="facility registry in place of the rulebook's (as the worker's "
            "TIERFLOW_REGISTRY_PATH)"
        ),
    ] = None,
    jurisdiction: Annotated[str | None, typer.Option(help="only regions with this prefix")] = None,
    from_file: Annotated[Path | None, typer.Option(help="replay a JSONL file, not Kafka")] = None,
    source: Annotated[
        str,
        typer.Option(
            help="inputs: the agencies' signed records, verified again (raw cases: kept "
            "TIERFLOW_CASES_RETENTION_DAYS; a warning says how many expired); decided: what"
            " the live worker accepted, pseudonymised (kept without limit)"
        ),
    ] = "inputs",
    workers: Annotated[
        int | None,
        typer.Option(
            min=1,
            max=64,
            help="processes deciding the review, each a share of the partitions "
            "(default TIERFLOW_REVIEW_WORKERS, else one per core; 1: in this process)",
        ),
    ] = None,
) -> None:
    """Replay an event-time range of the topics (or a JSONL file) through the core into
    the review database review_NAME; never touches the live database or consumer group.
    The range is found by reading the topics' event times (occurred_at, tick_at), not
    their Kafka timestamps; what was left out is counted and said.
    Ctrl-C leaves a consistent review; the same command again resumes it."""
    from streams.core import load_rules
    from streams.ops.runtime import tune_gc_for_core_state
    from streams.replay.session import ReviewRequest, replay_file, replay_kafka

    tune_gc_for_core_state()
    start, end = _instant(from_at, "--from"), _instant(to_at, "--to")
    if from_file is None and (start is None or end is None):
        raise typer.BadParameter("give --from and --to, or --from-file")
    if start and end and end <= start:
        raise typer.BadParameter("--to must be after --from")
    if source not in ("inputs", "decided"):
        raise typer.BadParameter("--source is inputs or decided")
    if from_file is not None and not from_file.is_file():
        errors.print(term.error(f"cannot read {from_file}: no such file"))
        raise typer.Exit(2)
    settings = load_settings()
    if workers is not None:
        settings = settings.model_copy(update={"review_workers": workers})
    try:
        if from_file is None and source == "inputs" and start is not None:
            _warn_expired_cases(settings, start)
        rulebook = load_rules(rules, registry)
        request = ReviewRequest(
            name,
            rulebook,
            jurisdiction,
            start,
            end,
            from_file,
            source,  # type: ignore[arg-type]
        )
        columns = (
            TextColumn("replaying"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]:,.0f} events/s"),
            TimeElapsedColumn(),
        )
        with Progress(*columns, console=errors, transient=True) as bar:
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
    if summary.census is not None and start and end:
        _say_census(summary.census, start, end)
    resumed = " (resumed)" if summary.resumed else ""
    console.print(
        f"review {summary.database}: {summary.records} records in "
        f"{summary.seconds:.1f} s ({summary.rate:,.0f}/s, {_workers(summary.workers)}){resumed}"
    )


def _warn_expired_cases(settings: Settings, start: datetime) -> None:
    """Warn (with counts) when the range starts before the raw cases' retention horizon
    and retention has deleted case records: a replay of the inputs cannot see them."""
    from streams.replay.retention import before_horizon, expired_cases

    if not before_horizon(settings, start, datetime.now(UTC)):
        return
    gone = asyncio.run(expired_cases(settings))
    if gone.expired:
        errors.print(
            term.labelled(
                "warning:",
                "yellow",
                f"the range starts before the raw cases' retention "
                f"({settings.cases_retention_days:g} days): {gone.expired:,} case records "
                f"have expired from {gone.topic} ({gone.held:,} held) and this replay cannot "
                "see those of the range; --source decided replays what the live worker "
                "decided, pseudonymised, kept without limit",
            )
        )


def _say_census(census: RangeCensus, start: datetime, end: datetime) -> None:
    """What planning the range saw: a warning when records were left out, or carry a
    Kafka timestamp that is not their event time."""
    line = (
        f"{census.inside:,} of {census.scanned:,} records have their event time in "
        f"[{term.at_utc(start)}, {term.at_utc(end)})"
    )
    notes = []
    if census.outside:
        notes.append(
            f"{census.outside:,} outside it were skipped ({census.before:,} before, "
            f"{census.after:,} after)"
        )
    if census.restamped:
        notes.append(
            f"{census.restamped:,} carry a Kafka timestamp that is not their event time "
            "(their producer's clock; planned by event time, none lost)"
        )
    if census.undated:
        notes.append(f"{census.undated:,} have no event time (judged by their Kafka timestamp)")
    if notes:
        errors.print(term.labelled("warning:", "yellow", f"{line}; {'; '.join(notes)}"))
    else:
        errors.print(line)


def _workers(count: int) -> str:
    return "decided in this process" if count == 1 else f"decided by {count} workers"
