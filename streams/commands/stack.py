"""`tierflow stack up|down|status`: the local Kafka + ClickHouse stack (no Docker)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

import typer
from rich.table import Table

from streams.commands import term
from streams.config.settings import Settings, load_settings
from streams.ops import workers
from streams.ops.stack import StackError, StackStatus, stack_down, stack_status, stack_up

stack_app = typer.Typer(
    help="The local stack: one Kafka broker and one ClickHouse server on loopback, no Docker.",
    no_args_is_help=True,
)

_T = TypeVar("_T")


def _run(action: Callable[[Settings], _T]) -> _T:
    """Run a stack action with settings from the environment; a StackError becomes one
    line on stderr and exit code 1."""
    try:
        return action(load_settings())
    except StackError as exc:
        typer.echo(f"tierflow stack: {exc}", err=True)
        raise typer.Exit(1) from None


def _print(status: StackStatus) -> None:
    table = Table(title=f"stack home {status.home}", caption="logs: <stack home>/<component>.log")
    for column in ("component", "state", "pid", "ports"):
        table.add_column(column, no_wrap=True)
    table.add_column("data dir", overflow="fold")  # paths get copied: never truncate them
    for c in status.components:
        state = ("started" if c.started else "running") if c.running else "stopped"
        table.add_row(
            c.name,
            state,
            str(c.pid or "-"),
            ", ".join(map(str, c.ports)),
            str(c.data_dir),
        )
    term.console().print(table)


def _print_workers(found: list[workers.WorkerStatus]) -> None:
    """The workers the project started (``tierflow demo``), each under a supervisor."""
    if not found:
        typer.echo("workers: none started by tierflow (tierflow demo starts one)")
        return
    table = Table(title="workers (supervised: restarted on exit)")
    for column in ("worker", "state", "pid", "supervisor", "restarts"):
        table.add_column(column, no_wrap=True)
    table.add_column("last exit", overflow="fold")
    table.add_column("log", overflow="fold")
    for w in found:
        table.add_row(
            w.name,
            w.state,
            str(w.worker_pid or "-"),
            str(w.supervisor_pid or "-"),
            str(w.restarts),
            w.last_exit or "-",
            str(w.log),
        )
    term.console().print(table)


@stack_app.command("up")
def up() -> None:
    """Start Kafka and ClickHouse unless they already run; returns once both answer."""
    began = time.monotonic()
    status = _run(stack_up)
    _print(status)
    typer.echo(f"stack up in {time.monotonic() - began:.1f} s")


@stack_app.command("down")
def down() -> None:
    """Stop what `stack up` started; leaves no process and no listening port."""
    before = _run(stack_status)
    _run(stack_down)
    stopped = [f"{c.name} (pid {c.pid})" for c in before.components if c.running]
    typer.echo(f"stopped {', '.join(stopped)}" if stopped else "nothing was running")


@stack_app.command("status")
def status() -> None:
    """Print what runs: pids, ports, data dirs, logs, and the workers tierflow started."""
    _print(_run(stack_status))
    _print_workers(_run(workers.statuses))
