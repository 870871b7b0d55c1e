"""`tierflow demo`: the local stack, a worker and all three scenarios, then the board."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text

from streams.commands import term
from streams.config.settings import load_settings
from topics.errors import TierflowError

console = term.console()


def demo(
    stop: Annotated[bool, typer.Option("--stop", help="stop the demo worker")] = False,
) -> None:
    """Stack up, migrate, create topics, start a worker, publish the cholera, road-mci and
    supply-squeeze scenarios, wait until they have landed, and show the command board.
    The worker and the stack keep running: `tierflow board --watch` to watch,
    `tierflow demo --stop` and `tierflow stack down` to stop."""
    from streams.commands.board import board
    from streams.ops.demo import run_demo, stop_worker

    settings = load_settings()
    if stop:
        report = stop_worker(settings)
        if not report.stopped_anything:
            console.print("no demo worker was running")
            return
        parts = [f"supervisor pid {report.supervisor_pid}"] if report.supervisor_pid else []
        parts += [f"worker pid {report.worker_pid}"] if report.worker_pid else []
        restarts = f"; it had been restarted {report.restarts} time(s)" if report.restarts else ""
        console.print(f"demo worker stopped ({', '.join(parts)}){restarts}")
        return
    try:
        pid = run_demo(settings, lambda line: console.print(term.labelled("✓", "green", line)))
    except TierflowError as exc:
        term.console(stderr=True).print(term.error(exc))
        raise typer.Exit(1) from exc
    board()
    run = term.program()  # `.venv/bin/tierflow` after `make demo`: the venv is not on PATH
    console.print(
        Text.assemble(
            f"\nThe worker (supervisor pid {pid}: it restarts the worker on exit) and the stack "
            "keep running. Watch: ",
            (f"{run} board --watch", "bold"),
            ". Stop: ",
            (f"{run} demo --stop", "bold"),
            " then ",
            (f"{run} stack down", "bold"),
            " (or make stack-down).",
            *(
                ("\nTo type just `tierflow`: ", (f"source {Path(run).parent}/activate", "bold"))
                if run != "tierflow"
                else ()
            ),
        )
    )
