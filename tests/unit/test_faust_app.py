"""The worker's Faust consumer waits at most FETCH_WAIT_MS on a fetch (streams/live/
faust_app.py): Faust writes 1.5 s into its own, and each offset lookup of its table recovery
queued behind such a fetch, ~4 s added to every rebalance. A guard against a Faust upgrade
that builds its consumer another way: the consumers are built (not started) and compared."""

from __future__ import annotations

import asyncio
from pathlib import Path

import faust

from streams.config.settings import Settings
from streams.live.faust_app import FETCH_WAIT_MS, faust_app


async def _fetch_wait(app: faust.App) -> int:
    consumer = app.consumer
    client = consumer._thread._create_worker_consumer(consumer.transport)
    try:
        return int(client._fetch_max_wait_ms)
    finally:
        await client.stop()


def test_the_worker_consumer_waits_briefly_where_faust_waits_long(tmp_path: Path) -> None:
    ours = asyncio.run(_fetch_wait(faust_app(Settings(stack_home=tmp_path))))
    theirs = asyncio.run(_fetch_wait(faust.App("plain", broker="kafka://127.0.0.1:1")))
    assert (ours, theirs) == (FETCH_WAIT_MS, 1500)
    assert FETCH_WAIT_MS <= 200
