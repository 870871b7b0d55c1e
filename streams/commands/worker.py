"""`tierflow worker`: run the live pipeline (decide + land) in this process."""

from __future__ import annotations

from typing import Annotated

import typer

from topics.settings import load_settings


def worker(
    tick_clock: Annotated[
        str | None,
        typer.Option(
            "--tick-clock",
            help="'wall' (default) or 'event': ticks follow the newest event time "
            "(scenario replays). Same as TIERFLOW_TICK_CLOCK.",
        ),
    ] = None,
) -> None:
    """Consume the input topics, decide tiers, tasks and alerts, emit them and land them in
    ClickHouse; metrics on TIERFLOW_METRICS_PORT. Settings come from TIERFLOW_* variables.
    Stop with Ctrl-C or SIGTERM (offsets of landed rows are committed, nothing is lost)."""
    # Imported here so `tierflow --help` does not load faust.
    from streams.live.runner import run_worker

    settings = load_settings()
    if tick_clock is not None:
        if tick_clock not in ("wall", "event"):
            raise typer.BadParameter("use 'wall' or 'event'", param_hint="--tick-clock")
        settings = settings.model_copy(update={"tick_clock": tick_clock})
    run_worker(settings)
