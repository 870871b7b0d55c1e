"""The latency phase of bench/e2e.py: decision latency at half capacity (see its
docstring, phase 3)."""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition

from bench.live_bench import (
    PROBE_EVERY,
    Layout,
    Workers,
    decide_time,
    mixed,
    publish,
    wait_drained,
)
from bench.namespaces import drop, fresh
from streams.config.kafka_security import aiokafka_options
from streams.config.settings import Settings
from topics.registry import ALERTS


async def alerts_of(settings: Settings) -> Iterator[tuple[dict[str, Any], int]]:
    """(alert, Kafka timestamp ms) of every record of the alerts topic."""
    consumer = AIOKafkaConsumer(**aiokafka_options(settings, "admin"), auto_offset_reset="earliest")
    await consumer.start()
    try:
        topic = ALERTS.name(settings.topic_prefix)
        await consumer._client.force_metadata_update()
        tps = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        out: list[tuple[dict[str, Any], int]] = []
        while [tp for tp in tps if await consumer.position(tp) < ends[tp]]:
            for got in (await consumer.getmany(timeout_ms=1000)).values():
                out.extend((orjson.loads(r.value), r.timestamp) for r in got)
        return iter(out)
    finally:
        await consumer.stop()


@dataclass(frozen=True)
class _Probe:
    """One probe: when it was offered (seconds after the first record) and its latencies."""

    sent_s: float
    decided_s: float
    produced_s: float


def _quantiles(values: list[float]) -> str:
    q = statistics.quantiles(values, n=100)
    return (
        f"p50 {q[49] * 1000:,.0f} ms, p99 {q[98] * 1000:,.0f} ms, max {max(values) * 1000:,.0f} ms"
        f" ({len(values):,} probes)"
    )


def latency(
    base: Settings, rate: float, why: str, seconds: float, log: Path, *, keep: bool, layout: Layout,
    env: dict[str, str], warmup: float,
) -> None:  # fmt: skip
    settings = fresh(base, "lat")
    count = int(rate * (warmup + seconds))
    records = mixed(settings, count, probes=True)
    worker = Workers.start(settings, log, layout, **env)
    try:
        worker.ready()
        print(
            f"latency: {count:,} events offered at {rate:,.0f}/s ({why}), every "
            f"{PROBE_EVERY}th a probe; the first {warmup:g} s a warm-up, reported apart"
        )
        first, sent_at = asyncio.run(publish(aiokafka_options(settings, "admin"), records, rate))
        offered = count / (time.time() - first)
        if asyncio.run(wait_drained(settings, timeout=600)).landed is None:
            print("  not drained within 600 s: latencies below are of the probes decided")
        for name, decider in worker.deciders():
            print(f"  {name}: " + decide_time(decider.metrics(), time.time() - first))
    finally:
        worker.stop()
    probes = [
        _Probe(
            at - first,
            datetime.fromisoformat(alert["decided_at"]).timestamp() - at,
            timestamp_ms / 1000 - at,
        )
        for alert, timestamp_ms in asyncio.run(alerts_of(settings))
        if alert["alert_kind"] == "reporting_late"
        and (at := sent_at.get(alert["subject_id"])) is not None
    ]
    print(f"  achieved offered rate {offered:,.0f}/s; {len(probes):,} of {len(sent_at):,} probes")
    measured = [p for p in probes if p.sent_s >= warmup]
    for label, values in (
        ("decided_at", [p.decided_s for p in measured]),
        ("alert produced", [p.produced_s for p in measured]),
    ):
        print(f"  {label} − publish wall time: {_quantiles(values)}")
    slowest = max(measured, key=lambda p: p.decided_s)
    print(f"  slowest decided at +{slowest.sent_s:.1f} s of the offer")
    warming = [p.decided_s for p in probes if p.sent_s < warmup]
    if len(warming) > 1:
        print(
            f"  warm-up (the first {warmup:g} s after the worker's start): decided_at − "
            f"publish {_quantiles(warming)}"
        )
    if not keep:
        drop(settings)
