"""`tierflow topics create` and `tierflow publish FILE.jsonl`."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from streams.commands import term
from streams.config.settings import load_settings
from topics.errors import TierflowError

topics_app = typer.Typer(help="Kafka topics from the registry.", no_args_is_help=True)
console = term.console()
errors = term.console(stderr=True)


@topics_app.command("create")
def create() -> None:
    """Create every topic of the registry and of the live shell (its internal topics)
    that does not exist yet, and grant the worker its ACLs (both idempotent; as the admin).
    Workers then need no admin login."""
    from streams.ops.kafka import STAMP_CONFIG, create_topics, producer_stamped
    from streams.ops.kafka_acl import grant_worker
    from streams.stages.topology import LIVE_TOPICS
    from topics.registry import ALL_TOPICS, INPUT_TOPICS

    settings = load_settings()
    inputs = [spec.name(settings.topic_prefix) for spec in INPUT_TOPICS]
    try:
        outcomes = asyncio.run(create_topics(settings, (*ALL_TOPICS, *LIVE_TOPICS)))
        asyncio.run(grant_worker(settings))
        stamped = asyncio.run(producer_stamped(settings, inputs))
    except TierflowError as exc:
        errors.print(term.error(exc))
        raise typer.Exit(1) from exc
    table = Table("topic", "partitions", "state")
    for outcome in outcomes:
        table.add_row(
            outcome.name, str(outcome.partitions), "created" if outcome.created else "exists"
        )
    console.print(table)
    for name in sorted(stamped):  # created before the input topics were LogAppendTime
        errors.print(
            term.labelled(
                "warning:",
                "yellow",
                f"{name} keeps its producers' timestamps, so records reported after they "
                "arrived cannot be refused (README, Input checks): kafka-configs "
                f"--alter --entity-type topics --entity-name {name} "
                f"--add-config {STAMP_CONFIG}=LogAppendTime",
            )
        )


def _read(source: str) -> bytes:
    if source == "-":
        return sys.stdin.buffer.read()
    path = Path(source)
    try:
        return path.read_bytes()
    except OSError as exc:
        errors.print(term.error(f"cannot read {source}: {exc.strerror}"))
        raise typer.Exit(2) from exc


def publish(
    source: Annotated[str, typer.Argument(help="JSONL file, one event per line; - for stdin")],
    skip_invalid: Annotated[
        bool, typer.Option("--skip-invalid", help="publish the valid lines, report the rest")
    ] = False,
    rate: Annotated[
        float | None, typer.Option(help="records per second (default: as fast as possible)")
    ] = None,
    as_agency: Annotated[
        str | None,
        typer.Option(
            "--as",
            metavar="ID",
            help="publish as agency ID: its Kafka login (DIR/ID.properties) and key (DIR/ID.key)",
        ),
    ] = None,
    credentials: Annotated[
        Path | None,
        typer.Option(
            metavar="DIR",
            help="with --as: the --out folder of `agency add` "
            "(default: TIERFLOW_AGENCY_CREDENTIALS_DIR)",
        ),
    ] = None,
    key_file: Annotated[
        Path | None, typer.Option(help="sign with this key file (ID.key of `agency add`)")
    ] = None,
) -> None:
    """Validate every line, then publish them keyed by jurisdiction (acks=all, idempotent).

    As the admin, each event signed (header tierflow-sig) with its own agency's key from
    the registry, or with --key-file's key. With --as ID: as agency ID's own Kafka
    principal, every record signed with its key (both from the credentials folder); the
    broker lets it write the input topics only, and the worker refuses records that
    claim another agency.

    On any invalid line prints FILE:LINE: field: reason for every problem of it and
    publishes nothing, unless --skip-invalid. A file with no event (empty, or blank lines
    only) is an error too (exit 1): publishing nothing is never what was meant."""
    from streams.config.kafka_security import Principal, read_login
    from streams.ops.publisher import PublishTally, layout_hint, plan_lines, publish_records
    from streams.ops.record_signer import RecordSigner

    settings = load_settings()
    principal: Principal = "admin"
    try:
        if as_agency is not None:
            folder = credentials or settings.agency_credentials_dir
            if folder is None:
                raise TierflowError(
                    f"--as {as_agency} publishes with the agency's own Kafka login: pass "
                    "--credentials DIR (the --out folder of `tierflow agency add`) or set "
                    "TIERFLOW_AGENCY_CREDENTIALS_DIR"
                )
            principal = read_login(folder / f"{as_agency}.properties")
            key_file = key_file or folder / f"{as_agency}.key"
        signer = (
            RecordSigner.from_key_file(key_file)
            if key_file is not None
            else RecordSigner.from_registry(settings)
        )
    except TierflowError as exc:
        errors.print(term.error(exc))
        raise typer.Exit(1) from exc
    name = "<stdin>" if source == "-" else source
    content = _read(source)
    records, bad = plan_lines(content.splitlines(), settings.jurisdiction_digits)
    if not records and not bad:
        errors.print(
            term.labelled(
                "warning:", "yellow", f"{name} holds no event (empty or blank): nothing published"
            )
        )
        raise typer.Exit(1)
    hint = layout_hint(content) if bad else None
    # A pretty-printed file fails on every line: its first error and the hint say it all.
    for line_error in bad[:1] if hint else bad:
        typer.echo(line_error.render(name), err=True)  # plain: one error per line
    if hint:
        errors.print(term.labelled("hint:", "yellow", hint))
    invalid = len({e.line for e in bad})
    if bad and not skip_invalid:
        errors.print(
            term.labelled(
                f"{invalid} invalid line(s); nothing published",
                "red",
                "(fix them, or pass --skip-invalid)",
            )
        )
        raise typer.Exit(1)
    columns = (TextColumn("publishing"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    tally = PublishTally()
    try:
        with Progress(*columns, console=errors, transient=True) as progress:
            task = progress.add_task("publish", total=len(records))
            counts = publish_records(
                records,
                settings,
                rate=rate,
                on_sent=lambda n: progress.advance(task, n),
                tally=tally,
                signer=signer,
                principal=principal,
            )
    except KeyboardInterrupt:
        errors.print(
            term.labelled(
                "interrupted:",
                "yellow",
                f"{tally.acked:,} of {len(records):,} records reached Kafka (acknowledged); "
                "publishing the same file again is safe: event ids deduplicate",
            )
        )
        raise typer.Exit(130) from None
    except TierflowError as exc:
        errors.print(term.error(exc))
        raise typer.Exit(1) from exc
    table = Table("topic", "records")
    for topic, count in sorted(counts.items()):
        table.add_row(topic, str(count))
    table.add_row("skipped (invalid lines)", str(len({e.line for e in bad})))
    console.print(table)
