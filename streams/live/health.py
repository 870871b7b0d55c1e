"""The worker's heartbeat: every ``worker_heartbeat_s`` one row in the live database's
``worker_heartbeats`` table (sinks/migrations/0004), replaced at each beat, saying who
the worker is (host, pid, stages), as of when, how far behind it is (records waiting for
the decide stage and for the landing, the longest wait), and when it last decided a batch,
committed and landed. ``tierflow board`` turns the newest rows into its freshness line
(:func:`sinks.command_view.worker_health`).

Written by the worker itself over HTTP, not through Kafka: a heartbeat must not wait
behind the very backlog it reports. A beat that cannot be written (ClickHouse down, the
table not migrated yet) is logged once per failure streak and retried at the next beat;
it never stops the worker — the board shows the row going stale, which is the signal.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from collections.abc import Callable, Collection
from datetime import UTC, datetime, timedelta
from typing import Any

from clickhouse_connect.driver.client import Client

from sinks.client import connect
from streams.config.settings import Settings
from streams.live.metrics import CommitTracker

log = logging.getLogger("tierflow.live.health")

COLUMNS = (
    "worker_id",
    "host",
    "pid",
    "stages",
    "topic_prefix",
    "started_at",
    "at",
    "interval_s",
    "decide_lag",
    "waiting_s",
    "last_decision_at",
    "last_commit_at",
    "land_lag",
    "last_landed_at",
)


class Heartbeat:
    """One worker process's heartbeat. The decide stage calls :meth:`decided` after each
    batch; the stages hand over their :class:`CommitTracker` (``decide``, ``land``)."""

    def __init__(
        self,
        settings: Settings,
        *,
        decide: CommitTracker | None = None,
        decide_topics: Collection[str] = (),
        wall: Callable[[], datetime] = lambda: datetime.now(UTC),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.decide = decide
        self.decide_topics = decide_topics
        self.land: CommitTracker | None = None
        self.wall = wall
        self.clock = clock
        self.host = socket.gethostname()
        self.pid = os.getpid()
        self.started_at = wall()
        self._last_decision: float | None = None
        self._client: Client | None = None
        self._failing = False

    def decided(self) -> None:
        """The decide stage has decided a batch (and its outputs are durable)."""
        self._last_decision = self.clock()

    def row(self) -> list[Any]:
        """The beat as it lands, in :data:`COLUMNS` order."""
        now, mono = self.wall(), self.clock()

        def at(age: float | None) -> datetime | None:
            return None if age is None else now - timedelta(seconds=age)

        decide, land = self.decide, self.land
        decision = None if self._last_decision is None else mono - self._last_decision
        return [
            f"{self.host}:{self.pid}",
            self.host,
            self.pid,
            self.settings.worker_stages,
            self.settings.topic_prefix,
            self.started_at,
            now,
            self.settings.worker_heartbeat_s,
            decide.lag(self.decide_topics) if decide else None,
            decide.longest_wait(self.decide_topics) if decide else None,
            at(decision),
            at(decide.last_commit_age()) if decide else None,
            land.lag() if land else None,
            at(land.last_commit_age()) if land else None,
        ]

    async def beat(self) -> None:
        """Land one beat (in a thread: the insert blocks); never raises."""
        row = self.row()
        try:
            await asyncio.to_thread(self._write, row)
        except Exception as exc:  # any failure: a missed beat shows as stale, by design
            self._client = None
            if not self._failing:
                log.warning("heartbeat not landed (retrying every beat): %s", _one_line(exc))
            self._failing = True
            return
        if self._failing:
            log.info("heartbeat landed again")
        self._failing = False

    async def run(self) -> None:
        """Beat forever (a worker without Faust's timers: the landing alone)."""
        while True:
            await self.beat()
            await asyncio.sleep(self.settings.worker_heartbeat_s)

    def _write(self, row: list[Any]) -> None:
        if self._client is None:
            self._client = connect(self.settings)
        self._client.insert("worker_heartbeats", [row], column_names=list(COLUMNS))


def _one_line(exc: Exception) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= 200 else text[:197] + "..."
