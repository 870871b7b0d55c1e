"""Start a worker: topics, metrics endpoint, the Faust app, until SIGINT/SIGTERM."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from collections.abc import Coroutine
from typing import Any

import faust
from prometheus_client import start_http_server

from streams.config.settings import Settings
from streams.core import load_rules
from streams.live.app import build_app, landing_stage
from streams.live.health import Heartbeat
from streams.ops.kafka import create_topics
from streams.ops.runtime import tune_gc_for_core_state
from streams.stages.topology import LIVE_TOPICS, TopicNames
from topics.registry import ALL_TOPICS

log = logging.getLogger("tierflow")


def configure_logging(level: int = logging.INFO) -> None:
    """Log tierflow's own loggers to stderr; other libraries' loggers are left alone
    (Python's last-resort handler still shows their warnings)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    log.handlers[:] = [handler]
    log.setLevel(level)
    log.propagate = False


def run_worker(settings: Settings) -> None:
    """Run one worker in this process until it is told to stop. Creates the registry's
    and the live shell's topics that `tierflow topics create` has not (idempotent), as the
    worker principal: a worker needs no admin login; the landing task waits until the live
    and exercise databases are migrated (`tierflow db migrate`: the worker's ClickHouse
    user runs no DDL)."""
    configure_logging()
    tune_gc_for_core_state()
    rulebook = load_rules(settings.rulebook_path, settings.registry_path)
    asyncio.run(create_topics(settings, (*ALL_TOPICS, *LIVE_TOPICS), principal="worker"))
    start_http_server(settings.metrics_port, addr=settings.metrics_host)
    log.info(
        "worker (%s): prefix %s, database %s, ticks %s every %gs, metrics on %s:%d",
        settings.worker_stages,
        settings.topic_prefix,
        settings.clickhouse_database,
        settings.tick_clock,
        settings.tick_interval_s,
        settings.metrics_host,
        settings.metrics_port,
    )
    if settings.worker_stages == "land":
        # No Faust: the landing is a plain consumer group; SIGTERM ends the process, and
        # offsets are only ever committed after the rows are durable.
        if settings.worker_landing_niceness:
            niceness = os.nice(settings.worker_landing_niceness)
            log.info("landing: CPU priority lowered to niceness %d", niceness)
        heartbeat = Heartbeat(settings)
        land = landing_stage(settings, TopicNames(settings.topic_prefix), heartbeat)
        asyncio.run(_together(land(), heartbeat.run()))
        return
    asyncio.set_event_loop(asyncio.new_event_loop())
    app = build_app(settings, rulebook)
    worker = faust.Worker(app, quiet=True, override_logging=False, redirect_stdouts=False)
    worker.execute_from_commandline()


async def _together(*work: Coroutine[Any, Any, None]) -> None:
    await asyncio.gather(*work)
