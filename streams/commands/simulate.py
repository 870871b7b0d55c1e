"""`tierflow simulate`: a deterministic scenario to a JSONL file (plus its truth file) or
straight into Kafka."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from streams.commands import term
from streams.config.settings import load_settings
from topics.errors import TierflowError

console = term.console()
errors = term.console(stderr=True)
DEFAULT_RATE = 100.0  # events/s when publishing without --rate or --as-fast-as-possible


def _fail(message: str, code: int) -> typer.Exit:
    errors.print(term.error(message))
    return typer.Exit(code)


def _parse_start(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError as exc:
        raise _fail(f"--start {text!r}: not RFC 3339 (e.g. 2026-03-02T08:00:00+08:00)", 2) from exc


def truth_path(out: Path) -> Path:
    """``c.jsonl`` -> ``c.truth.json`` (the sidecar truth file)."""
    return out.with_suffix(".truth.json")


def _summary(truth: dict[str, Any]) -> Table:
    table = Table("topic", "records", "malformed", "duplicates", "distinct valid events")
    for stem, counts in truth["topics"].items():
        table.add_row(
            stem,
            str(counts["records"]),
            str(counts["malformed"]),
            str(counts["duplicates"]),
            str(counts["distinct_valid_events"]),
        )
    return table


def simulate(
    *,
    scenario: Annotated[
        str, typer.Option(help="cholera, road-mci, supply-squeeze or chemical-poisoning")
    ],
    seed: Annotated[int, typer.Option(help="same seed, same bytes")],
    rate: Annotated[
        float | None,
        typer.Option(help=f"events/s when publishing (default {DEFAULT_RATE:g})", min=0.001),
    ] = None,
    as_fast_as_possible: Annotated[
        bool, typer.Option("--as-fast-as-possible", help="publish without pacing")
    ] = False,
    out: Annotated[
        Path | None,
        typer.Option(help="write FILE.jsonl and FILE.truth.json instead of publishing"),
    ] = None,
    start: Annotated[
        str | None, typer.Option(help="RFC 3339 start (default 2026-03-02T08:00:00+08:00)")
    ] = None,
    status: Annotated[str, typer.Option(help="Actual or Exercise (a drill)")] = "Actual",
    scale: Annotated[int, typer.Option(help="multiply the scenario's size (benchmarks)")] = 1,
) -> None:
    """Generate a multi-agency scenario with duplicates, late and malformed records.

    With --out: one record per line in publish order, and a truth file next to it
    (intended tiers and alerts, counts, which lines are duplicates, late or malformed).
    Without: publish to Kafka keyed by jurisdiction, paced at --rate."""
    from streams.simulate import DEFAULT_START, SimulateError, generate

    if rate is not None and as_fast_as_possible:
        raise _fail("give --rate or --as-fast-as-possible, not both", 2)
    try:
        generated = generate(
            scenario, seed, start=_parse_start(start) or DEFAULT_START, status=status, scale=scale
        )
    except SimulateError as exc:
        raise _fail(str(exc), 2) from exc
    truth = generated.truth
    if out is not None:
        try:
            out.write_bytes(generated.jsonl())
            truth_path(out).write_bytes(generated.truth_json())
        except OSError as exc:
            raise _fail(f"cannot write {exc.filename}: {exc.strerror}", 1) from exc
        console.print(_summary(truth))
        console.print(f"{truth['lines']} lines -> {out}, truth -> {truth_path(out)}")
        return
    from streams.ops.publisher import publish_records
    from streams.ops.record_signer import register_senders
    from streams.simulate import outgoing_records

    settings = load_settings()
    pace = None if as_fast_as_possible else (rate or DEFAULT_RATE)
    records = list(outgoing_records(generated.records, settings.jurisdiction_digits))
    try:
        # The scenario's agencies get signing keys (once): each record is signed by its own.
        register_senders(settings, records)
        counts = publish_records(records, settings, rate=pace)
    except TierflowError as exc:
        raise _fail(str(exc), 1) from exc
    console.print(_summary(truth))
    sent = Table("topic", "records sent")
    for topic, count in sorted(counts.items()):
        sent.add_row(topic, str(count))
    console.print(sent)
