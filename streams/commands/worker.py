"""`tierflow worker`: run the live pipeline (decide + land) in this process."""

from __future__ import annotations

from typing import Annotated

import typer

from streams.config.settings import load_settings


def worker(
    tick_clock: Annotated[
        str | None,
        typer.Option(
            "--tick-clock",
            help="'wall' (default) or 'event': ticks follow the newest event time "
            "(scenario replays). Same as TIERFLOW_TICK_CLOCK.",
        ),
    ] = None,
    stages: Annotated[
        str | None,
        typer.Option(
            "--stages",
            help="'all' (default), 'decide' or 'land': run the landing in a second process "
            "beside a 'decide' one. Same as TIERFLOW_WORKER_STAGES.",
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
    if stages is not None:
        if stages not in ("all", "decide", "land"):
            raise typer.BadParameter("use 'all', 'decide' or 'land'", param_hint="--stages")
        settings = settings.model_copy(update={"worker_stages": stages})
    run_worker(settings)
