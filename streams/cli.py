"""The ``tierflow`` command: one typer app, each command group in its own module under
``streams/commands`` (heavy imports stay inside the commands so ``--help`` is quick)."""

from __future__ import annotations

import sys

import typer

from streams.commands import term
from streams.commands.agency import agency_app
from streams.commands.board import board
from streams.commands.db import db_app
from streams.commands.demo import demo
from streams.commands.dlq import dlq_app
from streams.commands.drill import drill
from streams.commands.failures import EXIT_FAILED, explain, quiet_client_logs
from streams.commands.registry import registry_app
from streams.commands.replay import replay
from streams.commands.review import review_app
from streams.commands.rules import rules_app
from streams.commands.simulate import simulate
from streams.commands.stack import stack_app
from streams.commands.topics import publish, topics_app
from streams.commands.worker import worker
from streams.config.settings import (
    DEV_SECRETS,
    EXIT_DEV_SECRET,
    WORKER_SECRETS,
    DevSecretError,
    load_settings,
    refuse_dev_secrets,
)

app = typer.Typer(
    name="tierflow",
    help="Multi-agency incident coordination: Kafka in, response tiers out, ClickHouse view.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


app.add_typer(stack_app, name="stack")
app.add_typer(topics_app, name="topics")
app.add_typer(db_app, name="db")
app.add_typer(rules_app, name="rules")
app.add_typer(registry_app, name="registry")
app.command("publish")(publish)
app.command("simulate")(simulate)
app.command("board")(board)
app.command("demo")(demo)
app.command("worker")(worker)
app.command("replay")(replay)
review_app.command("drill")(drill)
app.add_typer(review_app, name="review")
app.add_typer(dlq_app, name="dlq")
app.add_typer(agency_app, name="agency")


@app.callback()
def _every_command(ctx: typer.Context) -> None:
    """Multi-agency incident coordination: Kafka in, response tiers out, ClickHouse view."""
    # Before any command: development secrets never meet a server off this machine.
    try:
        used = WORKER_SECRETS if ctx.invoked_subcommand == "worker" else DEV_SECRETS
        refuse_dev_secrets(load_settings(), used)
    except DevSecretError as exc:
        typer.echo(f"tierflow: {exc}", err=True)
        raise typer.Exit(EXIT_DEV_SECRET) from None
    if ctx.invoked_subcommand != "worker":  # a worker's log keeps the clients' lines
        quiet_client_logs()


def main() -> None:
    """Console entry point: a failure we can explain is one line and exit 1 (see
    :mod:`streams.commands.failures`), never a traceback."""
    try:
        app()
    except Exception as exc:
        message = explain(exc)
        if message is None:
            raise
        term.console(stderr=True).print(term.error(message))
        sys.exit(EXIT_FAILED)


if __name__ == "__main__":
    main()
