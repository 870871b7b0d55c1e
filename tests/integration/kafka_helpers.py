"""Plain-client helpers for integration tests: run the CLI, read topics back."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError

from streams.config.kafka_security import Principal, aiokafka_options
from streams.config.settings import Settings

TIERFLOW = [sys.executable, "-m", "streams.cli"]


def run_cli(
    args: list[str],
    settings: Settings,
    *,
    stdin: bytes | None = None,
    check: bool = True,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``tierflow ARGS`` in a subprocess with the test's settings (and ``env``) in its
    environment."""
    env = {**os.environ, **settings_env(settings), "COLUMNS": "200", **(env or {})}
    proc = subprocess.run(
        [*TIERFLOW, *args],
        input=stdin.decode() if stdin is not None else None,
        capture_output=True,
        text=True,
        env=env,
        cwd=Path(__file__).resolve().parents[2],
        timeout=300,
        check=False,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"tierflow {args} exited {proc.returncode}:\n{proc.stderr}")
    return proc


def changelog_topic(settings: Settings, name: str, partitions: int) -> NewTopic:
    """A compacted topic like a worker's table changelog."""
    return NewTopic(
        name,
        num_partitions=partitions,
        replication_factor=settings.replication_factor,
        topic_configs={"cleanup.policy": "compact"},
    )


def admin_options(bootstrap: str) -> dict[str, Any]:
    """aiokafka options for the broker at ``bootstrap`` as the admin principal (a super
    user: tests read and write any topic), with the credentials of the environment's
    settings."""
    return {**aiokafka_options(Settings(), "admin"), "bootstrap_servers": bootstrap}


async def logs_in(settings: Settings, principal: Principal) -> bool:
    """Whether the broker lets ``principal`` log in (a producer that starts)."""
    producer = AIOKafkaProducer(**aiokafka_options(settings, principal))
    try:
        await producer.start()
        return True
    except KafkaError:
        return False
    finally:
        await producer.stop()


def signatures(settings: Settings, values: list[bytes]) -> list[list[tuple[str, bytes]] | None]:
    """Each value's ``tierflow-sig`` headers, signed by its own agency as ``tierflow publish``
    signs (the agencies get keys in the test stack's registry if they have none); None for
    a value that is not an event (a tick, a malformed line): nobody signs those."""
    from streams.ops.record_signer import RecordSigner, register_senders
    from topics.routing import route_line

    routed = [route_line(v, settings.jurisdiction_digits) for v in values]
    records = [r[0] if isinstance(r, list) and r[0].agency_id else None for r in routed]
    register_senders(settings, [r for r in records if r is not None])
    signer = RecordSigner.from_registry(settings)
    return [None if r is None else signer.headers(r) for r in records]


def settings_env(settings: Settings) -> dict[str, str]:
    return {
        "TIERFLOW_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
        "TIERFLOW_TOPIC_PREFIX": settings.topic_prefix,
        "TIERFLOW_CLICKHOUSE_URL": settings.clickhouse_url,
        "TIERFLOW_CLICKHOUSE_DATABASE": settings.clickhouse_database,
    }


async def _read_all(bootstrap: str, topic: str) -> list[tuple[bytes | None, bytes, int]]:
    consumer = AIOKafkaConsumer(
        **admin_options(bootstrap), enable_auto_commit=False, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        partitions = consumer.partitions_for_topic(topic)
        if partitions is None:
            await consumer._client.force_metadata_update()
            partitions = consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        out: list[tuple[bytes | None, bytes, int]] = []
        remaining = {tp for tp in tps if ends[tp] > 0}
        while remaining:
            batch = await consumer.getmany(timeout_ms=2000)
            for tp, records in batch.items():
                out.extend((r.key, r.value, tp.partition) for r in records)
            for tp in list(remaining):
                # the position, not the last record: a transaction's commit marker can end
                # a partition (the state changelog) and is never delivered
                if await consumer.position(tp) >= ends[tp]:
                    remaining.discard(tp)
        return out
    finally:
        await consumer.stop()


def read_topic(bootstrap: str, topic: str) -> list[tuple[bytes | None, bytes, int]]:
    """Every record of ``topic`` as (key, value, partition), read with a plain consumer."""
    return asyncio.run(_read_all(bootstrap, topic))


async def _behind(bootstrap: str, group: str, topics: tuple[str, ...]) -> dict[str, int]:
    consumer = AIOKafkaConsumer(**admin_options(bootstrap), group_id=group)
    await consumer.start()
    try:
        await consumer._client.force_metadata_update()
        tps = [
            TopicPartition(t, p)
            for t in topics
            for p in sorted(consumer.partitions_for_topic(t) or ())
        ]
        ends = await consumer.end_offsets(tps)
        behind: dict[str, int] = {}
        for tp in tps:
            committed = await consumer.committed(tp) or 0
            if committed < ends[tp]:
                behind[f"{tp.topic}[{tp.partition}]"] = ends[tp] - committed
        return behind
    finally:
        await consumer.stop()


def uncommitted(bootstrap: str, group: str, topics: tuple[str, ...]) -> dict[str, int]:
    """Records of ``topics`` that ``group`` has not committed yet, per partition that has
    any (empty: the group has committed everything there is)."""
    return asyncio.run(_behind(bootstrap, group, topics))


async def committed_offsets(bootstrap: str, group: str) -> dict[str, int]:
    """``topic[partition]`` -> offset committed by ``group`` (as the broker has it)."""
    admin = AIOKafkaAdminClient(**admin_options(bootstrap))
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(group)
    finally:
        await admin.close()
    return {f"{tp.topic}[{tp.partition}]": meta.offset for tp, meta in offsets.items()}
