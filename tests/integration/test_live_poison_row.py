"""A row ClickHouse refuses never stalls the landing (issue 11 item 5): one poison record
among good ones on the alerts topic (a revision beyond the UInt32 column: a valid model
the store refuses) is dead-lettered with the reason (``stage = landing``), every good one
lands, and the landing's lag returns to 0. The landing runs alone (``--stages land``)."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from aiokafka import AIOKafkaProducer
from clickhouse_connect.driver.client import Client

from streams.config.settings import Settings
from topics.codec import encode
from topics.outputs import Alert
from topics.registry import ALERTS, DLQ

from .kafka_helpers import admin_options, uncommitted
from .live_support import live_settings, prepare, running_worker

GOOD = 40
POISON_AT = 17  # its offset: between good records of the same partition


def alert(n: int, revision: int = 0) -> Alert:
    return Alert(
        alert_id=f"A-{n:03d}",
        alert_kind="task_overdue",
        level="yellow",
        jurisdiction="5101",
        subject_id=f"T-{n:03d}",
        at=datetime(2026, 3, 2, 8, tzinfo=UTC) + timedelta(minutes=n),
        message=f"task {n} overdue",
        revision=revision,
    )


async def _publish(settings: Settings, alerts: list[Alert]) -> None:
    producer = AIOKafkaProducer(**admin_options(settings.kafka_bootstrap), acks="all")
    await producer.start()
    try:
        topic = ALERTS.name(settings.topic_prefix)
        for item in alerts:
            await producer.send_and_wait(topic, encode(item), b"5101", partition=0)
    finally:
        await producer.stop()


def test_a_poison_row_goes_to_the_dlq_and_the_rest_lands(
    stack: Settings, ch_admin: Client, unique_name, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    settings = live_settings(stack, unique_name("poison"), worker_stages="land")
    prepare(settings)
    alerts = [alert(n) for n in range(GOOD + 1)]
    alerts[POISON_AT] = alert(POISON_AT, revision=2**33)  # UInt32 revision column
    asyncio.run(_publish(settings, alerts))
    db, topic = settings.clickhouse_database, ALERTS.name(settings.topic_prefix)
    group, sources = f"{settings.topic_prefix}.landing", (topic, DLQ.name(settings.topic_prefix))
    with running_worker(settings, tmp_path / "worker.log") as proc:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            assert proc.poll() is None, (tmp_path / "worker.log").read_text()[-3000:]
            rejected = ch_admin.query(
                f"SELECT topic, `partition`, `offset`, stage, reason"
                f" FROM {db}.rejected_events FINAL"
            ).result_rows
            if rejected and not uncommitted(settings.kafka_bootstrap, group, sources):
                break
            time.sleep(1)
        else:
            behind = uncommitted(settings.kafka_bootstrap, group, sources)
            log = (tmp_path / "worker.log").read_text()[-3000:]
            raise AssertionError(f"no dead letter, or lag left: {behind}\n{log}")
    landed = ch_admin.query(f"SELECT alert_id FROM {db}.alerts FINAL ORDER BY alert_id")
    assert [r[0] for r in landed.result_rows] == [
        f"A-{n:03d}" for n in range(GOOD + 1) if n != POISON_AT
    ]
    ((r_topic, r_partition, r_offset, stage, reason),) = rejected
    assert (r_topic, r_partition, r_offset, stage) == (topic, 0, POISON_AT, "landing")
    assert "alerts" in reason and "revision" in reason, reason
