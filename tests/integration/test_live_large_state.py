"""A city with a large state (issue 14 item 1): the worker checkpoints it as per-key
records (a hospital's stock series among them, long enough to span several segments), is
SIGKILLed with half of the records decided, restarts, recovers the state from the
changelog and decides the rest. The state in the changelog then equals the pure core's
over the same records (``streams.core.fold``, offline: an independent answer), the whole
of it (the fingerprint) — nothing lost at the kill, nothing folded twice."""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from aiokafka import AIOKafkaProducer

from streams.config.settings import Settings
from streams.core import default_rulebook, fold, state_fingerprint
from streams.simulate import DEFAULT_START
from tests.core_events import case, stock
from tests.integration.kafka_helpers import admin_options, signatures, uncommitted
from topics.codec import decode_input, encode
from topics.privacy import scrub_input
from topics.registry import CASES, STOCK

from .live_support import (
    live_settings,
    prepare,
    running_worker,
    start_worker,
    stop_worker,
    topic_of,
    wait_decided,
)
from .offline_answer import state_fingerprints

CASES_IN_CITY = 20_000  # CI-sized; bench/state.py measures 1 M
STOCK_EVERY = 20  # a stock report of one hospital after every 20th case: 1 000 snapshots


def _lines() -> list[bytes]:
    lines = []
    for n in range(CASES_IN_CITY):
        at = DEFAULT_START + timedelta(seconds=20 * n)
        cls = ("suspected", "confirmed")[n % 2]
        lines.append(encode(case(n, at, cls=cls, facility=f"H{n % 9}", region=f"51010{n % 5}")))
        if n % STOCK_EVERY == 0:
            lines.append(encode(stock(f"n95-{n}", at, "H1", "ppe.n95", 5000.0 - n % 4000)))
    return lines


async def _send(settings: Settings, lines: list[bytes]) -> None:
    """Every line to its topic keyed by its city, signed, acknowledged."""
    producer = AIOKafkaProducer(**admin_options(settings.kafka_bootstrap), acks="all")
    await producer.start()
    try:
        prefix = settings.topic_prefix
        sent = [
            await producer.send(topic_of(line, prefix), line, key=b"5101", headers=headers)
            for line, headers in zip(lines, signatures(settings, lines), strict=True)
        ]
        await asyncio.gather(*sent)
    finally:
        await producer.stop()


def _until_committed_some(settings: Settings, published: int) -> None:
    group = f"{settings.topic_prefix}.decide-intake"
    topics = (CASES.name(settings.topic_prefix), STOCK.name(settings.topic_prefix))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        behind = uncommitted(settings.kafka_bootstrap, group, topics)
        if 0 < published - sum(behind.values()) < published:
            return
        time.sleep(0.2)
    raise AssertionError("the first worker committed nothing within 60 s")


def test_a_large_city_survives_sigkill_and_recovers_its_state(
    stack: Settings, unique_name: Callable[..., str], tmp_path: Path
) -> None:
    # Small batches, a commit after each: the first worker must be killed with part of the
    # first half committed (a worker that decides all of it before its first commit, as a
    # fast one does with the default 5 000-record batches, would leave nothing to test).
    settings = live_settings(
        stack, unique_name("big"), tick_clock="wall", tick_interval_s=3600,
        worker_stages="decide", worker_batch_max=1000, worker_commit_interval_s=0,
    )  # fmt: skip
    prepare(settings, migrate=False)
    lines = _lines()
    half = len(lines) // 2
    asyncio.run(_send(settings, lines[:half]))
    first = start_worker(settings, tmp_path / "first.log")
    try:
        _until_committed_some(settings, half)
        asyncio.run(_send(settings, lines[half:]))
    finally:
        stop_worker(first, signal.SIGKILL)
    with running_worker(settings, tmp_path / "second.log") as proc:
        wait_decided(settings, proc)
    key = settings.pseudonym_key.get_secret_value().encode()
    events = [scrub_input(decode_input(line), key) for line in lines]
    states, _ = fold(events, default_rulebook())
    assert state_fingerprints(settings) == {j: state_fingerprint(s) for j, s in states.items()}
